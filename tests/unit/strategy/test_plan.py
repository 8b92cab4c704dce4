"""Which colours a run of a progressive release deploys (helm_enterprise.strategy.plan)."""

from __future__ import annotations

import dataclasses

import pytest

from helm_enterprise.strategy.plan import (
    Action,
    Phase,
    Plan,
    State,
    actual_weight,
    canary_replicas,
    decide,
)

ACTIVE = State(active="blue", active_digest="d1")


@pytest.mark.parametrize(
    ("state", "digest", "plan"),
    [
        (None, "d1", Plan(Action.INSTALL, None, "blue")),
        # a first install that was killed: the same colour again
        (State(target="green"), "d1", Plan(Action.INSTALL, None, "green")),
        (ACTIVE, "d1", Plan(Action.STEADY, "blue", None)),
        (ACTIVE, "d2", Plan(Action.ROLLOUT, "blue", "green")),
        (
            State(active="green", active_digest="d2"),
            "d3",
            Plan(Action.ROLLOUT, "green", "blue"),
        ),
        # in flight (a killed run, a pause): resume at the recorded step
        (
            dataclasses.replace(
                ACTIVE, target="green", target_digest="d2", phase=Phase.PAUSED, step=3
            ),
            "d2",
            Plan(Action.ROLLOUT, "blue", "green", 3),
        ),
        # the release changed while in flight: start the new state from the first step
        (
            dataclasses.replace(
                ACTIVE, target="green", target_digest="d2", phase=Phase.PROGRESSING, step=3
            ),
            "d3",
            Plan(Action.ROLLOUT, "blue", "green", 0),
        ),
        # aborted: keep serving stable, until promote asks again
        (
            dataclasses.replace(
                ACTIVE, target="green", target_digest="d2", phase=Phase.ABORTED, step=2
            ),
            "d2",
            Plan(Action.ABORTED, "blue", None),
        ),
        (
            dataclasses.replace(
                ACTIVE,
                target="green",
                target_digest="d2",
                phase=Phase.ABORTED,
                step=2,
                promotions=1,
            ),
            "d2",
            Plan(Action.ROLLOUT, "blue", "green", 0),
        ),
        # aborted, then changed: a new rollout
        (
            dataclasses.replace(ACTIVE, target="green", target_digest="d2", phase=Phase.ABORTED),
            "d3",
            Plan(Action.ROLLOUT, "blue", "green", 0),
        ),
        # back to what serves: steady (the target colour is removed)
        (
            dataclasses.replace(ACTIVE, target="green", target_digest="d2", phase=Phase.ABORTED),
            "d1",
            Plan(Action.STEADY, "blue", None),
        ),
    ],
)
def test_decide(state: State | None, digest: str, plan: Plan) -> None:
    assert decide(state, digest) == plan


@pytest.mark.parametrize(
    ("total", "weight", "split"),
    [
        (10, 10, (1, 9)),
        (10, 50, (5, 5)),
        (5, 10, (1, 4)),  # rounds up: a canary has at least one Pod
        (4, 33, (2, 2)),
        (10, 0, (0, 10)),
        (10, 100, (10, 0)),
        (1, 50, (1, 0)),
    ],
)
def test_canary_replicas(total: int, weight: int, split: tuple[int, int]) -> None:
    assert canary_replicas(total, weight) == split


def test_actual_weight_is_the_share_of_pods() -> None:
    assert actual_weight(1, 9) == 10
    assert actual_weight(1, 4) == 20
    assert actual_weight(0, 0) == 0


def test_state_round_trips_and_ignores_unknown_keys() -> None:
    s = dataclasses.replace(ACTIVE, phase=Phase.PAUSED, weights={"stable": 90, "canary": 10})
    data = s.to_dict()
    assert data["phase"] == "Paused"
    assert State.from_dict({**data, "future": 1}) == s
