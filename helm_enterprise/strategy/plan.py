"""What a run of a progressive release deploys, decided from the rollout's state (pure).

A release with a strategy is two Helm releases, ``<release>-blue`` and ``<release>-green``
(the *colours*), of the same chart. The one that serves is *active* (stable); a change of
the release's declared state is installed as the other colour (the *target*, canary or
preview) and traffic moves to it only through the strategy's steps.

The rollout's state lives in the cluster (:mod:`helm_enterprise.strategy.state`), so it
survives a killed ``pulumi up`` and is shared by every machine that runs the stack:
which colour is active and with which declared state (a digest), the target being rolled
out, its phase and step. :func:`decide` turns it and this run's digest into a
:class:`Plan`:

* no state (first install): install ``blue`` and make it active at once (nothing to
  compare it with);
* the active colour already has this digest: steady, nothing to roll out;
* the last rollout of this very digest was aborted: keep serving stable and remove the
  aborted colour — until the release changes or ``helm-enterprise promote`` asks again;
* otherwise roll the digest out to the other colour, resuming at the recorded step when the
  same digest was in flight (a killed run).

The active colour's Helm release is always kept as it is (the component registers it with
its inputs ignored): a run never upgrades what serves.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from typing import Any

COLOURS = ("blue", "green")


class Phase(enum.StrEnum):
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    HEALTHY = "Healthy"
    ABORTED = "Aborted"


class Action(enum.StrEnum):
    INSTALL = "install"
    STEADY = "steady"
    ABORTED = "aborted"
    ROLLOUT = "rollout"


@dataclasses.dataclass(frozen=True)
class State:
    """The rollout state of one release, as stored in its ConfigMap."""

    active: str | None = None
    active_digest: str | None = None
    target: str | None = None
    target_digest: str | None = None
    phase: Phase = Phase.HEALTHY
    step: int = 0
    weights: Mapping[str, int] = dataclasses.field(default_factory=dict)
    message: str = ""
    switched: bool = False  # blue/green: the active Service already selects the target
    # `helm-enterprise promote` / `abort` requests, counted: the program passes the counts
    # to the rollout resource, so a new request is a change Pulumi acts on.
    promotions: int = 0
    aborts: int = 0
    promotions_used: int = 0
    last_analysis: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    # The strategy being rolled out (its config, camelCase), so that `helm-enterprise
    # abort` knows the Services to route without the stack's config.
    strategy: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["phase"] = self.phase.value
        out["weights"] = dict(self.weights)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> State:
        known = {f.name for f in dataclasses.fields(cls)}
        fields = {k: v for k, v in data.items() if k in known}
        fields["phase"] = Phase(fields.get("phase", Phase.HEALTHY.value))
        return cls(**fields)

    @property
    def promote_pending(self) -> bool:
        return self.promotions > self.promotions_used


@dataclasses.dataclass(frozen=True)
class Plan:
    action: Action
    stable: str | None  # the active colour, kept as it is
    target: str | None  # the colour this run installs or upgrades
    resume_step: int = 0


def other(colour: str) -> str:
    return COLOURS[1 - COLOURS.index(colour)]


def decide(state: State | None, digest: str) -> Plan:
    if state is None or state.active is None:
        target = state.target if state is not None and state.target else COLOURS[0]
        return Plan(Action.INSTALL, None, target)
    if state.active_digest == digest:
        return Plan(Action.STEADY, state.active, None)
    same = state.target_digest == digest and state.target == other(state.active)
    if same and state.phase is Phase.ABORTED and not state.promote_pending:
        return Plan(Action.ABORTED, state.active, None)
    resume = state.step if same and state.phase is not Phase.ABORTED else 0
    return Plan(Action.ROLLOUT, state.active, other(state.active), resume)


def canary_replicas(total: int, weight: int) -> tuple[int, int]:
    """(canary, stable) replicas for ``weight`` percent of ``total``: the canary rounds up
    (Argo's basic canary: 10 % of 10 is one Pod, of 5 also one), the stable gets the rest;
    weight 0 and 100 are exact."""
    if weight <= 0:
        return 0, total
    if weight >= 100:
        return total, 0
    canary = min(total, max(1, math.ceil(total * weight / 100)))
    return canary, total - canary


def actual_weight(canary: int, stable: int) -> int:
    """The share of Pods (so of requests, spread evenly over ready endpoints) the canary
    gets, in percent."""
    total = canary + stable
    return round(100 * canary / total) if total else 0
