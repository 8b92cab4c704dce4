"""The children of a release with a strategy (T3.1 blue/green, T3.2 canary).

Two colours of the chart, each a Helm release (``<release>-blue``, ``<release>-green``),
and the rollout resource that moves traffic between them (see
:mod:`helm_enterprise.strategy`). Which colours this run registers comes from the rollout's
state in the cluster (:func:`helm_enterprise.strategy.plan.decide`):

* the active colour, when there is one, with every input ignored: Pulumi keeps it exactly
  as it was installed, so no run ever upgrades what serves (and a failed or killed rollout
  never removes it);
* the target colour, when there is something to roll out, with the declared chart and
  values (a canary starts with no Pods, a blue/green preview at ``previewReplicaCount``);
* a colour of neither kind is left out, so ``pulumi up`` uninstalls it: the old colour
  (scaled to zero by the rollout) one run after its promotion, an aborted colour on the run
  after the abort.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from helm_enterprise.config.release import ReleaseConfig
from helm_enterprise.errors import ClusterUnavailableError
from helm_enterprise.kube.client import ClusterAccess
from helm_enterprise.sources import ResolvedChart
from helm_enterprise.strategy import state as store
from helm_enterprise.strategy.plan import Action, Plan, State, decide
from helm_enterprise.strategy.resource import RolloutResource
from helm_enterprise.strategy.traffic import LABEL_COLOUR, LABEL_ROLLOUT, colour_release

# Every input of helm.v3.Release: the active colour is registered with all of them ignored.
HELM_INPUTS = [
    "name",
    "namespace",
    "chart",
    "version",
    "repositoryOpts",
    "values",
    "atomic",
    "cleanupOnFail",
    "maxHistory",
    "timeout",
    "skipAwait",
    "waitForJobs",
    "description",
    "replace",
    "createNamespace",
    "postrender",
]

# Registers one colour's Helm release: (colour, post-renderer workload options, ignore).
RegisterColour = Callable[[str, Mapping[str, Any], list[str]], k8s.helm.v3.Release]


def digest(cfg: ReleaseConfig, chart: ResolvedChart, checksum: object) -> str:
    """What the release declares, as a digest: a new one is a new rollout. The chart (its
    resolved source, version and commit), the values and the secret references; the
    injected secrets' checksum when it is known at this point (it changes on rotation).
    Values that are Outputs of other resources are not known here and do not count."""
    declared = {
        "chart": cfg.chart.model_dump(mode="json", by_alias=True),
        "source": chart.source,
        "version": chart.version,
        "commit": chart.commit,
        "values": cfg.values,
        "secretValues": {k: v.describe() for k, v in sorted(cfg.secret_values.items())},
        "secrets": checksum if isinstance(checksum, str) else None,
    }
    # A pulumi.Output in the values (Python programs) has no value yet: it counts as a
    # placeholder, so a run is not a new rollout just because an Output object is new.
    text = json.dumps(declared, sort_keys=True, default=_placeholder)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _placeholder(value: object) -> str:
    return "<output>" if isinstance(value, pulumi.Output) else str(value)


def read_state(cfg: ReleaseConfig, access: ClusterAccess, owner: pulumi.Resource) -> State | None:
    """The rollout's state from the cluster. Unreachable: a preview plans as for a first
    install (with a warning); ``pulumi up`` stops, since it cannot know what serves."""
    api = access.reachable_client()
    if api is None:
        message = (
            f"{cfg.name}: the cluster ({access.describe()}) is not reachable, so which colour "
            "serves is unknown"
        )
        if pulumi.runtime.is_dry_run():
            pulumi.log.warn(message + "; the preview assumes a first install", resource=owner)
            return None
        raise ClusterUnavailableError(message + "; a release with a strategy needs it")
    try:
        return store.read(api, cfg.namespace, cfg.name)
    finally:
        api.close()


def workload_options(cfg: ReleaseConfig, plan: Plan, colour: str) -> dict[str, Any]:
    """The post-renderer's options for one colour: its Pod template labels, and the size a
    target starts at (a canary: none; a blue/green preview: ``previewReplicaCount``)."""
    options: dict[str, Any] = {
        "templateLabels": {LABEL_ROLLOUT: cfg.name, LABEL_COLOUR: colour},
        "replicas": None,
    }
    assert cfg.strategy is not None
    if plan.action is Action.ROLLOUT and colour == plan.target:
        if cfg.strategy.canary is not None:
            options["replicas"] = 0
        elif cfg.strategy.blue_green is not None:
            options["replicas"] = cfg.strategy.blue_green.preview_replica_count
    return options


def progressive_children(
    owner: pulumi.Resource,
    name: str,
    cfg: ReleaseConfig,
    plan: Plan,
    state: State | None,
    release_digest: str,
    register: RegisterColour,
    *,
    labels: Mapping[str, str],
    access: ClusterAccess,
    ready_timeout: int,
    prometheus: str | None,
) -> tuple[k8s.helm.v3.Release, RolloutResource]:
    """Register the colours this run keeps or rolls out, and the rollout resource after
    them; returns the Helm release that reports the release's status (the target's when
    there is one) and the rollout."""
    assert cfg.strategy is not None
    colours: dict[str, k8s.helm.v3.Release] = {}
    if plan.stable is not None:
        colours[plan.stable] = register(
            plan.stable, workload_options(cfg, plan, plan.stable), HELM_INPUTS
        )
    if plan.target is not None:
        colours[plan.target] = register(
            plan.target, workload_options(cfg, plan, plan.target), ["replace"]
        )
    reporting = colours[plan.target] if plan.target is not None else colours[plan.stable or ""]
    rollout = RolloutResource(
        f"{name}-rollout",
        release=cfg.name,
        namespace=cfg.namespace,
        strategy=cfg.strategy,
        plan=plan,
        digest=release_digest,
        requests=state,
        labels=labels,
        ready_timeout=ready_timeout,
        prometheus=prometheus,
        access=access,
        opts=pulumi.ResourceOptions(parent=owner, depends_on=list(colours.values())),
    )
    pulumi.log.info(
        f"strategy {cfg.strategy.kind}: {plan.action.value}"
        + (f", serving {colour_release(cfg.name, plan.stable)}" if plan.stable else "")
        + (f", rolling out {colour_release(cfg.name, plan.target)}" if plan.target else ""),
        resource=owner,
    )
    return reporting, rollout


__all__ = ["decide", "digest", "progressive_children", "read_state"]
