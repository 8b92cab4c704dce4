"""The plan of a multi-cluster release, table-style: health in, one action per cluster out."""

from __future__ import annotations

from typing import Any

import pytest

from helm_enterprise.kube.clusters import ClusterHealth, ClusterState
from helm_enterprise.multicluster.plan import Action, decide

OK = ClusterHealth(ClusterState.HEALTHY, server="https://eu")
DOWN = ClusterHealth(ClusterState.UNREACHABLE, "[Errno 111] Connection refused", "https://eu-1")
SICK = ClusterHealth(ClusterState.UNHEALTHY, "/readyz answered 500: etcd failed", "https://eu-2")

ROLLING = [("eu-1", "primary"), ("eu-2", "primary"), ("eu-3", "primary")]
AP = [("eu-1", "primary"), ("eu-2", "standby"), ("eu-3", "standby")]
D, K, S, N = Action.DEPLOY, Action.KEEP, Action.SKIP, Action.IDLE  # N: not needed (idle)


@pytest.mark.parametrize(
    ("health", "unreachable", "had", "expected", "fails"),
    [
        # all healthy: every cluster, in order
        ((OK, OK, OK), "fail", set(), (D, D, D), False),
        # one down, fail: the run stops before anything is registered
        ((DOWN, OK, OK), "fail", {"eu-1"}, None, True),
        # one down, exclude: kept when it holds the release, skipped when it never did
        ((DOWN, OK, OK), "exclude", {"eu-1", "eu-2"}, (K, D, D), False),
        ((DOWN, OK, OK), "exclude", set(), (S, D, D), False),
        # unhealthy (answers, not ready) is excluded the same way
        ((OK, SICK, OK), "exclude", {"eu-2"}, (D, K, D), False),
        # state unknown: assume it holds the release (removing it would fail)
        ((OK, DOWN, OK), "exclude", None, (D, K, D), False),
        # nothing healthy: fails even with exclude
        ((DOWN, SICK, DOWN), "exclude", set(), None, True),
    ],
)
def test_rolling_plan(
    health: tuple[ClusterHealth, ...],
    unreachable: Any,
    had: set[str] | None,
    expected: tuple[Action, ...] | None,
    fails: bool,
) -> None:
    names = [n for n, _ in ROLLING]
    plan = decide(
        ROLLING,
        dict(zip(names, health, strict=True)),
        strategy="rolling",
        unreachable=unreachable,
        had=had,
    )
    assert (plan.failure is not None) == fails, plan.failure
    if expected is not None:
        assert tuple(plan.action(n) for n in names) == expected
        assert plan.clusters(Action.DEPLOY) == [
            n for n, a in zip(names, expected, strict=True) if a is D
        ]
    assert plan.failover is None


@pytest.mark.parametrize(
    ("health", "had", "expected", "failover", "fails"),
    [
        # primary healthy: only the primary
        ((OK, OK, OK), set(), (D, N, N), None, False),
        # primary down: the first healthy standby takes it
        ((DOWN, OK, OK), {"eu-1"}, (K, D, N), ("eu-1", "eu-2"), False),
        ((DOWN, SICK, OK), set(), (S, N, D), ("eu-1", "eu-3"), False),
        # unhealthy standby that holds a failover copy: kept (cannot be removed now)
        ((OK, DOWN, OK), {"eu-1", "eu-2"}, (D, K, N), None, False),
        # primary back: fail back, the standby's copy goes (IDLE and not registered)
        ((OK, OK, OK), {"eu-1", "eu-2"}, (D, N, N), None, False),
        # nobody healthy
        ((DOWN, DOWN, SICK), {"eu-1"}, None, None, True),
    ],
)
def test_active_passive_plan(
    health: tuple[ClusterHealth, ...],
    had: set[str] | None,
    expected: tuple[Action, ...] | None,
    failover: tuple[str, str] | None,
    fails: bool,
) -> None:
    names = [n for n, _ in AP]
    plan = decide(
        AP,
        dict(zip(names, health, strict=True)),
        strategy="active-passive",
        unreachable="fail",  # not consulted: active-passive always fails over
        had=had,
    )
    assert (plan.failure is not None) == fails, plan.failure
    if expected is not None:
        assert tuple(plan.action(n) for n in names) == expected
    assert plan.failover == failover


def test_failure_message_names_cluster_and_fix() -> None:
    plan = decide(
        ROLLING[:2],
        {"eu-1": DOWN, "eu-2": OK},
        strategy="rolling",
        unreachable="fail",
        had=set(),
    )
    assert plan.failure is not None
    assert "eu-1 is unreachable (https://eu-1): [Errno 111] Connection refused" in plan.failure
    assert "unreachable: exclude" in plan.failure
