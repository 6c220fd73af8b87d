"""`plan-build`'s pure logic: stages, critical path and list schedule of a build graph."""

from __future__ import annotations

import pytest

from tasks.builtin.plan_build import critical_path, schedule, stages
from tasks.errors import JobError

# compile ─▶ test ─▶ package ◀─ lint;  docs stands alone.
GRAPH = {
    "compile": {"deps": [], "cost": 3.0},
    "lint": {"deps": [], "cost": 1.0},
    "test": {"deps": ["compile"], "cost": 2.0},
    "docs": {"deps": [], "cost": 4.0},
    "package": {"deps": ["test", "lint"], "cost": 1.0},
}


def test_stages_group_targets_after_their_dependencies():
    assert stages(GRAPH) == [["compile", "docs", "lint"], ["test"], ["package"]]


def test_repeated_dependency_counts_once():
    graph = {"a": {"deps": [], "cost": 1.0}, "b": {"deps": ["a", "a"], "cost": 1.0}}
    assert stages(graph) == [["a"], ["b"]]


def test_cycle_is_a_job_error_naming_its_members():
    graph = {"a": {"deps": ["b"], "cost": 1.0}, "b": {"deps": ["a"], "cost": 1.0},
             "c": {"deps": [], "cost": 1.0}}
    with pytest.raises(JobError, match=r"dependency cycle among: a, b$"):
        stages(graph)


def test_missing_dependency_is_a_job_error_naming_it():
    graph = {"a": {"deps": ["ghost", "b"], "cost": 1.0}, "b": {"deps": ["void"], "cost": 1.0}}
    with pytest.raises(JobError, match=r"unknown dependencies: ghost, void$"):
        stages(graph)


def test_critical_path_is_the_most_expensive_chain():
    path, cost, tail = critical_path(GRAPH, stages(GRAPH))

    assert path == ["compile", "test", "package"]
    assert cost == 6.0  # 3 + 2 + 1
    # The cost from each target's start to the end of its longest chain.
    assert tail == {"compile": 6.0, "test": 3.0, "package": 1.0, "lint": 2.0, "docs": 4.0}


def test_schedule_on_one_worker_runs_everything_in_series():
    _, _, tail = critical_path(GRAPH, stages(GRAPH))

    plan, makespan = schedule(GRAPH, tail, workers=1)

    assert makespan == 11.0  # the sum of all costs
    assert [step["target"] for step in plan] == ["compile", "docs", "test", "lint", "package"]
    assert {step["worker"] for step in plan} == {0}


def test_schedule_on_two_workers_reaches_the_critical_path():
    _, _, tail = critical_path(GRAPH, stages(GRAPH))

    plan, makespan = schedule(GRAPH, tail, workers=2)

    assert makespan == 6.0
    assert [(s["target"], s["worker"], s["start"], s["end"]) for s in plan] == [
        ("compile", 0, 0.0, 3.0),
        ("docs", 1, 0.0, 4.0),
        ("test", 0, 3.0, 5.0),
        ("lint", 1, 4.0, 5.0),
        ("package", 0, 5.0, 6.0),
    ]
