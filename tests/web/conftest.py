"""gunicorn started as the Procfile's `web` line starts it (`tests.harness.Gunicorn`)."""

from __future__ import annotations

import pytest

from tests.conftest import worker_env
from tests.harness import Gunicorn


@pytest.fixture
def web(settings, tmp_path):
    """Taskplane under gunicorn with config/gunicorn.py, one worker."""
    server = Gunicorn("app:create_app()", worker_env(settings), tmp_path / "gunicorn.log",
                      workers=1)
    yield server
    server.stop()
