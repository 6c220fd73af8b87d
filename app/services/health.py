"""Health of Taskplane's dependencies: checked now (`/healthz`) or in the background (`/readyz`)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from app.db import ping
from app.extensions import db, runtime
from app.services import artifacts, dispatch, job_streams, slots, slow_requests


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        ok, detail = check()
    except Exception as exc:  # noqa: BLE001 - any failure is reported, not raised
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return {"status": "ok" if ok else "down", "detail": detail,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            "checked_at": datetime.now(UTC).isoformat()}


def _database():
    ping(db.session)
    db.session.rollback()
    return True, "ok"


def _object_store():
    return True, artifacts.store().check()


def worker_hosts(names: list[str]) -> list[str]:
    """The distinct hosts of Celery worker names (`name@host`)."""
    return sorted({name.rpartition("@")[2] for name in names})


def _shared_object_store(names: list[str]):
    """Down when the store is a local folder and workers answer from more than one host."""
    hosts = worker_hosts(names)
    if runtime.settings.storage_url.startswith("file://") and len(hosts) > 1:
        return False, (f"local folder store, but workers run on {len(hosts)} hosts "
                       f"({', '.join(hosts)}): each host sees only its own artifacts; "
                       f"set TASKPLANE_STORAGE_URL to a shared store (s3://…)")
    return _object_store()


def _workers(names: list[str]):
    # A local folder store is only right on one host: hear every worker to count the hosts.
    every = runtime.settings.storage_url.startswith("file://")
    names.extend(dispatch.workers_online(runtime.settings.worker_ping_timeout, every))
    return bool(names), (f"{len(names)} online" if names else "no worker answered a ping")


def dependencies() -> tuple[dict, dict]:
    """Check every dependency now: each check's state, and the queue depth."""
    checks = {"database": _timed(_database), "broker": _timed(dispatch.broker_reachable)}
    names = []
    if checks["broker"]["status"] == "ok":
        checks["workers"] = _timed(lambda: _workers(names))
        try:
            depth = dispatch.queue_depths()
        except Exception:  # noqa: BLE001 - depth is informative only
            depth = {}
    else:
        checks["workers"] = {"status": "down", "detail": "broker unreachable", "latency_ms": 0,
                             "checked_at": checks["broker"]["checked_at"]}
        depth = {}
    checks["object_store"] = _timed(lambda: _shared_object_store(names))
    return checks, depth


def summary(checks: dict, depth: dict, slow: dict, reasons: tuple[str, ...] = ()) -> dict:
    """The report of `checks`: ready unless a check is down, slow requests pass the limit,
    or one of `reasons` holds."""
    down = sorted(name for name, check in checks.items() if check["status"] != "ok")
    reasons = [*reasons, *(f"{name}: {checks[name]['detail']}" for name in down)]
    limit = runtime.settings.slow_requests_ready_max
    if limit and (slow.get("last_5_minutes") or 0) > limit:
        reasons.append(f"slow_requests: {slow['last_5_minutes']} in the last 5 minutes "
                       f"(more than {limit})")
    return {"status": "ok" if not reasons else "degraded", "ready": not reasons,
            "reasons": reasons, "checks": checks, "queue_depth": depth,
            "streams": {"open": job_streams.slots().open,  # in the process that answered
                        "slots": runtime.settings.stream_slots},
            "transfers": {"open": slots.transfers().open,
                          "slots": runtime.settings.transfer_slots},
            "slow_requests": slow}


def report() -> dict:
    """Every dependency's state, queue depth, and whether the service is ready, checked now."""
    return summary(*dependencies(), slow_requests_seen())


def slow_requests_seen() -> dict:
    """Recent slow requests as `/healthz` shows them, or the error that hid them."""
    try:
        return slow_requests.recent(db.session)
    except Exception as exc:  # noqa: BLE001 - the database check reports the cause
        db.session.rollback()
        return {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        db.session.rollback()
