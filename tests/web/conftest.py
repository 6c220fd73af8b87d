"""gunicorn started as the Procfile's `web` line starts it (its config file and worker class)."""

from __future__ import annotations

import pytest

from tests.conftest import worker_env
from tests.harness import Gunicorn

# The harness picks its own bind, worker count and class; these put the Procfile's back.
PROCFILE_WEB = ("--config", "config/gunicorn.py", "--worker-class", "app.web_workers.SyncWorker")


@pytest.fixture
def web(settings, tmp_path):
    """Taskplane under gunicorn with config/gunicorn.py, one worker."""
    server = Gunicorn("app:create_app()", worker_env(settings), tmp_path / "gunicorn.log",
                      workers=1, extra_args=PROCFILE_WEB)
    yield server
    server.stop()
