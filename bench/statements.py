"""SQL statements and commits one no-op `echo` job costs: its submit and its worker side.

Runs in-process against a fresh SQLite file (or `--database`) and a private redis-server:
`POST /jobs` through the Flask test client (audit, quota, rate limit on), then the job's
Celery task body run in this process (`Task.apply`: claim, handler, finish; nothing is
mocked, only the broker hop is skipped). Statements are counted with SQLAlchemy's
`before_cursor_execute` and commits with the engine's `commit` event
(`tests.harness.counted_sql`).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import database_url, run_folder, run_main  # noqa: E402
from tests.harness import RedisServer, counted_sql  # noqa: E402


def summary(seen: dict) -> dict:
    """Total statements, by first keyword, and commits."""
    kinds = collections.Counter(sql.split()[0].upper() for sql in seen["sql"])
    return {"statements": len(seen["sql"]), "by_kind": dict(sorted(kinds.items())),
            "commits": seen["commits"]}


def main(argv=None) -> int:
    """Print the statements and commits of one submit and one no-op job's worker side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="PostgreSQL server URL: a scratch database is "
                        "created there and dropped after [default: a SQLite file in a temp "
                        "folder]")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        folder = run_folder(stack, "taskplane-statements-")
        redis_server = stack.enter_context(RedisServer(folder))
        url = database_url(stack, folder, args.database, "taskplane_statements")
        os.environ.update(TASKPLANE_VAR_DIR=str(folder), TASKPLANE_DATABASE_URL=url,
                          TASKPLANE_BROKER_URL=redis_server.url(0))
        from app import create_app
        from app.extensions import runtime_of

        app = create_app({"database_url": url, "broker_url": redis_server.url(0)})
        web = runtime_of(app)
        client = app.test_client()
        headers = {"X-Actor": "bench", "X-Roles": "viewer", "X-Tenant": "bench"}
        body = {"job_type": "echo", "payload": {"message": "m"}, "project": "p"}
        results = {}
        client.post("/jobs", json=body, headers=headers)  # first use: quota row, caches
        with counted_sql(web.db.engine) as seen:
            response = client.post("/jobs", json=body, headers=headers)
        assert response.status_code == 202, response.get_json()
        results["POST /jobs"] = summary(seen)
        job_id = response.get_json()["id"]
        import tasks.celery  # the worker entry point: its own app, with the job tasks

        worker = runtime_of(tasks.celery.flask_app)
        task = worker.celery.tasks[worker.catalog["echo"].task_name]
        with counted_sql(worker.db.engine) as seen:
            outcome = task.apply(args=[job_id], task_id=job_id).get()
        assert outcome["outcome"] == "completed", outcome
        results["worker: claim, run, finish"] = summary(seen)
        print(json.dumps(results, indent=2))
        web.close()  # before the scratch database is dropped
        worker.close()
    return 0


if __name__ == "__main__":
    run_main(main)
