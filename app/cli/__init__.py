"""The `taskplane` command: the API's client commands, and `migrate` and `dev` for a server.

Importing this package loads `click` only: the bindings (`taskplane_client`, `requests`)
are imported when a command talks to the API, and the server's modules (settings,
Alembic, SQLAlchemy) inside the commands that need them (`app/cli/server.py`), so
`taskplane --help` and the client commands start at once.
"""

from app.cli import admin, artifacts, jobs, server  # noqa: F401  (each registers its commands)
from app.cli.base import main

__all__ = ["main"]

if __name__ == "__main__":
    main()
