"""`plan-build`: order a build graph into stages, find its critical path, simulate a schedule.

Payload: `{"targets": {name: {"deps": [...], "cost": seconds}}, "workers": N}`.
Result: the parallel stages (Kahn's algorithm), the critical path and its cost, and a
list schedule on `workers` builders (longest remaining path first) with its makespan.
A missing dependency or a cycle fails the job (not retried).
"""

from __future__ import annotations

import heapq

from marshmallow import fields, validate

from config.catalog import JobType, PayloadSchema
from tasks.errors import JobError


class PlanTarget(PayloadSchema):
    deps = fields.List(fields.String(), load_default=list)
    cost = fields.Float(load_default=1.0, validate=validate.Range(min=0))


class PlanBuildPayload(PayloadSchema):
    targets = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=200)),
        values=fields.Nested(PlanTarget),
        required=True,
        validate=validate.Length(min=1, max=5000),
    )
    workers = fields.Integer(load_default=2, validate=validate.Range(min=1, max=1024))


JOB_TYPE = JobType(
    name="plan-build",
    description="Orders a build graph into parallel stages, finds its critical path and "
    "simulates the schedule on `workers` builders; a dependency cycle fails the job.",
    payload_schema=PlanBuildPayload,
    handler=f"{__name__}:run",
)


def stages(targets: dict) -> list[list[str]]:
    """Targets grouped into stages; each stage depends only on earlier ones."""
    missing = sorted({d for t in targets.values() for d in t["deps"] if d not in targets})
    if missing:
        raise JobError(f"unknown dependencies: {', '.join(missing)}")
    indegree = {name: len(set(t["deps"])) for name, t in targets.items()}
    dependents = {name: [] for name in targets}
    for name, target in targets.items():
        for dep in set(target["deps"]):
            dependents[dep].append(name)
    layer = sorted(name for name, count in indegree.items() if count == 0)
    result, seen = [], 0
    while layer:
        result.append(layer)
        seen += len(layer)
        following = []
        for name in layer:
            for child in dependents[name]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    following.append(child)
        layer = sorted(following)
    if seen != len(targets):
        cyclic = sorted(name for name, count in indegree.items() if count > 0)
        raise JobError(f"dependency cycle among: {', '.join(cyclic)}")
    return result


def critical_path(targets: dict, order: list[list[str]]) -> tuple[list[str], float, dict]:
    """The most expensive dependency chain, its cost, and each target's remaining-path cost."""
    finish, via = {}, {}
    for layer in order:
        for name in layer:
            deps = set(targets[name]["deps"])
            best = max(deps, key=lambda d: finish[d], default=None)
            finish[name] = targets[name]["cost"] + (finish[best] if best else 0.0)
            via[name] = best
    tail = {}
    for layer in reversed(order):
        for name in layer:
            tail.setdefault(name, targets[name]["cost"])
            for dep in set(targets[name]["deps"]):
                tail[dep] = max(tail.get(dep, targets[dep]["cost"]),
                                targets[dep]["cost"] + tail[name])
    end = max(finish, key=finish.get)
    path = [end]
    while via[path[-1]]:
        path.append(via[path[-1]])
    return list(reversed(path)), finish[end], tail


def schedule(targets: dict, tail: dict, workers: int) -> tuple[list[dict], float]:
    """List scheduling on `workers` builders, most remaining work first."""
    remaining_deps = {name: set(t["deps"]) for name, t in targets.items()}
    dependents = {name: [] for name in targets}
    for name, target in targets.items():
        for dep in set(target["deps"]):
            dependents[dep].append(name)
    ready = [(-tail[n], n) for n, deps in remaining_deps.items() if not deps]
    heapq.heapify(ready)
    running, now, free, plan = [], 0.0, list(range(workers)), []
    while ready or running:
        while ready and free:
            _, name = heapq.heappop(ready)
            worker = free.pop(0)
            end = now + targets[name]["cost"]
            plan.append({"target": name, "worker": worker, "start": now, "end": end})
            heapq.heappush(running, (end, worker, name))
        now, worker, name = heapq.heappop(running)
        free.append(worker)
        free.sort()
        for child in dependents[name]:
            remaining_deps[child].discard(name)
            if not remaining_deps[child]:
                heapq.heappush(ready, (-tail[child], child))
    return plan, now


def run(ctx, payload: dict) -> dict:
    """Plan the build graph of `payload`."""
    targets, workers = payload["targets"], payload["workers"]
    ctx.log("planning", event="plan_started", targets=len(targets), workers=workers)
    order = stages(targets)
    ctx.progress(0.4, "stages")
    for index, layer in enumerate(order):
        ctx.log("stage", event="plan_stage", stage=index, targets=layer)
    path, cost, tail = critical_path(targets, order)
    ctx.progress(0.7, "critical path")
    ctx.log("critical path", event="plan_critical_path", path=path, cost=cost)
    plan, makespan = schedule(targets, tail, workers)
    total = sum(t["cost"] for t in targets.values())
    ctx.log("schedule", event="plan_schedule", makespan=makespan, serial_cost=total)
    return {"stages": order, "critical_path": path, "critical_path_cost": cost,
            "schedule": plan, "makespan": makespan, "serial_cost": total,
            "speedup": round(total / makespan, 3) if makespan else None}
