"""Taskplane's server package.

`create_app` lives in `app.factory`; it is imported on first use, so that importing a
light part of the package (the CLI's client commands, say) does not load Flask, Celery and
SQLAlchemy. `gunicorn 'app:create_app()'` and `from app import create_app` work as before.
"""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str):
    if name == "create_app":
        from app.factory import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
