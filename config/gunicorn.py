"""gunicorn settings of the `web` process (`gunicorn -c config/gunicorn.py 'app:create_app()'`).

gunicorn reads this file as its configuration; every value can still be overridden on the
command line or with `GUNICORN_CMD_ARGS`. Environment variables are those the Procfile
documents (README, "Settings").
"""

from __future__ import annotations

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# A request may take this long in one worker, so a large upload or download is not cut off.
timeout = int(os.environ.get("WEB_TIMEOUT", "600"))
accesslog = "-"
