"""gunicorn started as the Procfile's `web` line starts it (its config file and worker class)."""

from __future__ import annotations

import runpy

import pytest

from tests.conftest import ROOT, worker_env
from tests.harness import Gunicorn

CONFIG = ROOT / "config" / "gunicorn.py"
# The harness may pick its own worker class; these put the config file's back.
PROCFILE_WEB = ("--config", str(CONFIG),
                "--worker-class", runpy.run_path(str(CONFIG))["worker_class"])


@pytest.fixture
def web(settings, tmp_path):
    """Taskplane under gunicorn with config/gunicorn.py, one worker."""
    server = Gunicorn("app:create_app()", worker_env(settings), tmp_path / "gunicorn.log",
                      workers=1, extra_args=PROCFILE_WEB)
    yield server
    server.stop()
