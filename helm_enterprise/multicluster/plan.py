"""The plan of a multi-cluster release (T4.1): which clusters a run deploys, in which order,
with which values, and which it excludes or fails over to — decided apart from acting.

:func:`decide` is a pure function from observed state (each cluster's pre-flight health,
the strategy, the ``unreachable`` setting, the clusters that already hold the release) to a
:class:`Plan`: one closed :class:`Action` per cluster, the failover it makes, or why the run
must stop. :func:`cluster_release` is one cluster's definition (its values over the shared
ones). :class:`~helm_enterprise.components.multicluster.MultiClusterRelease` acts on the
plan; like the recovery decision of a Release, nothing here registers a resource or talks
to a cluster, so every case is a row of a table test.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Collection, Mapping, Sequence

from helm_enterprise._values import merge
from helm_enterprise.config.multicluster import (
    ClusterTarget,
    MultiClusterReleaseConfig,
    Strategy,
    Unreachable,
)
from helm_enterprise.config.release import ReleaseConfig
from helm_enterprise.kube.clusters import ClusterHealth


class Action(enum.StrEnum):
    """What a run does with one cluster."""

    DEPLOY = "deploy"  # registered and deployed, in rolling order
    KEEP = "keep"  # excluded, holds the release: registered frozen (state untouched)
    SKIP = "skip"  # excluded, never held the release: not registered
    IDLE = "idle"  # a standby not needed now: not registered (a failover copy is removed)


@dataclasses.dataclass(frozen=True)
class ClusterStep:
    """The plan for one cluster and why."""

    cluster: str
    action: Action
    reason: str


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a run does: one step per cluster (in configured order), the failover it makes
    (``(primary, standby)``) and, when the run must not proceed, why (``failure``)."""

    steps: tuple[ClusterStep, ...]
    failover: tuple[str, str] | None = None
    failure: str | None = None

    def action(self, cluster: str) -> Action:
        return next(s.action for s in self.steps if s.cluster == cluster)

    def clusters(self, action: Action) -> list[str]:
        return [s.cluster for s in self.steps if s.action is action]

    def as_dict(self) -> dict[str, str]:
        return {s.cluster: s.action.value for s in self.steps}


def _excluded(cluster: str, health: ClusterHealth, had: Collection[str] | None) -> ClusterStep:
    why = f"excluded, {health.describe()}"
    if had is None or cluster in had:
        return ClusterStep(
            cluster, Action.KEEP, f"{why}; its release stays as last deployed until it is healthy"
        )
    return ClusterStep(cluster, Action.SKIP, f"{why}; it does not hold the release yet")


def decide(
    clusters: Sequence[tuple[str, str]],
    health: Mapping[str, ClusterHealth],
    *,
    strategy: Strategy,
    unreachable: Unreachable,
    had: Collection[str] | None,
) -> Plan:
    """The plan from observed state: ``clusters`` as ``(name, role)`` in configured order,
    each cluster's pre-flight ``health``, and ``had`` — the clusters whose release is in
    this stack's state (``None``: unknown, assume they all do)."""
    if strategy == "rolling":
        return _rolling(clusters, health, unreachable, had)
    return _active_passive(clusters, health, had)


def _rolling(
    clusters: Sequence[tuple[str, str]],
    health: Mapping[str, ClusterHealth],
    unreachable: Unreachable,
    had: Collection[str] | None,
) -> Plan:
    unhealthy = [(name, health[name]) for name, _ in clusters if not health[name].healthy]
    if unhealthy and unreachable == "fail":
        steps = tuple(
            ClusterStep(n, Action.DEPLOY if health[n].healthy else Action.SKIP, "")
            for n, _ in clusters
        )
        return Plan(
            steps,
            failure=f"{_listed(unhealthy)} (unreachable: fail — nothing was deployed; set "
            "unreachable: exclude to deploy to the healthy clusters)",
        )
    plan = Plan(
        tuple(
            ClusterStep(name, Action.DEPLOY, f"healthy, position {i + 1} of the rolling order")
            if health[name].healthy
            else _excluded(name, health[name], had)
            for i, (name, _) in enumerate(clusters)
        )
    )
    if not plan.clusters(Action.DEPLOY):
        return dataclasses.replace(plan, failure="no cluster is healthy: " + _listed(unhealthy))
    return plan


def _active_passive(
    clusters: Sequence[tuple[str, str]],
    health: Mapping[str, ClusterHealth],
    had: Collection[str] | None,
) -> Plan:
    """The primary if it is healthy, else the first healthy standby (failover)."""
    primary = next(name for name, role in clusters if role == "primary")
    failover: tuple[str, str] | None = None
    target: str | None = primary
    if not health[primary].healthy:
        target = next((n for n, role in clusters if role == "standby" and health[n].healthy), None)
        if target is None:
            unhealthy = [(n, health[n]) for n, _ in clusters]
            return Plan(
                tuple(_excluded(n, health[n], had) for n, _ in clusters),
                failure="no cluster can take the release: " + _listed(unhealthy),
            )
        failover = (primary, target)
    steps: list[ClusterStep] = []
    for name, role in clusters:
        holds = had is None or name in had
        if name == target:
            why = (
                "primary, healthy"
                if failover is None
                else f"failover: primary {primary} is {health[primary].state.value}"
            )
            steps.append(ClusterStep(name, Action.DEPLOY, why))
        elif role == "primary" or (not health[name].healthy and holds):
            # An unhealthy cluster that holds the release cannot have it removed: keep it.
            steps.append(_excluded(name, health[name], had))
        elif had is not None and name in had:
            steps.append(
                ClusterStep(
                    name,
                    Action.IDLE,
                    f"standby, not needed: its copy is removed once {target} is deployed",
                )
            )
        else:
            steps.append(ClusterStep(name, Action.IDLE, "standby, not needed"))
    return Plan(tuple(steps), failover=failover)


def _listed(unhealthy: Sequence[tuple[str, ClusterHealth]]) -> str:
    return "; ".join(f"{n} is {h.describe()}" for n, h in unhealthy)


def cluster_release(cfg: MultiClusterReleaseConfig, cluster: ClusterTarget) -> ReleaseConfig:
    """The definition for one cluster: its values merged over the shared ones (Helm's
    merge), its secretValues added."""
    base = cfg.release_config()
    return base.model_copy(
        update={
            "values": merge(base.values, cluster.values),
            "secret_values": {**base.secret_values, **cluster.secret_values},
        }
    )


__all__ = ["Action", "ClusterStep", "Plan", "cluster_release", "decide"]
