"""Health of Taskplane's dependencies, for `/healthz` and `/readyz`."""

from __future__ import annotations

import time

from sqlalchemy import text

from app.extensions import db, runtime
from app.services import artifacts, dispatch, job_streams


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        ok, detail = check()
    except Exception as exc:  # noqa: BLE001 - any failure is reported, not raised
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return {"status": "ok" if ok else "down", "detail": detail,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def _database():
    db.session.execute(text("SELECT 1"))
    db.session.rollback()
    return True, "ok"


def _object_store():
    return True, artifacts.store().check()


def _workers():
    names = dispatch.workers_online(runtime.settings.worker_ping_timeout)
    return bool(names), (f"{len(names)} online" if names else "no worker answered a ping")


def report() -> dict:
    """Every dependency's state, queue depth, and whether the service is ready."""
    checks = {"database": _timed(_database), "broker": _timed(dispatch.broker_reachable),
              "object_store": _timed(_object_store)}
    if checks["broker"]["status"] == "ok":
        checks["workers"] = _timed(_workers)
        try:
            depth = dispatch.queue_depths()
        except Exception:  # noqa: BLE001 - depth is informative only
            depth = {}
    else:
        checks["workers"] = {"status": "down", "detail": "broker unreachable", "latency_ms": 0}
        depth = {}
    down = sorted(name for name, check in checks.items() if check["status"] != "ok")
    return {"status": "ok" if not down else "degraded", "ready": not down,
            "reasons": [f"{name}: {checks[name]['detail']}" for name in down],
            "checks": checks, "queue_depth": depth,
            "streams": {"open": job_streams.slots.open,  # in the process that answered
                        "slots": runtime.settings.stream_slots}}
