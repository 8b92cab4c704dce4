"""``helm_enterprise.MultiClusterRelease``: one definition, several clusters (T4.1).

Construction order (validate first, decide, then build):

1. The arguments become a frozen :class:`MultiClusterReleaseConfig` (``ConfigError`` naming
   the field otherwise).
2. **Pre-flight**: every cluster's API is asked for ``/version`` and ``/readyz``, in
   parallel (:mod:`helm_enterprise.kube.clusters`).
3. **Plan** (:func:`~helm_enterprise.multicluster.plan.decide`, a pure function,
   table-tested): from the health of each cluster, the strategy, the ``unreachable``
   setting and which clusters already hold the release (read from this stack's state),
   one :class:`Action` per cluster — or a reason to fail the run before anything is
   registered.
4. **Act**: per cluster an explicit ``kubernetes.Provider`` and a :class:`Release` child
   (``<name>-<cluster>``) with that cluster's values merged over the definition's. Rolling
   order is a ``depends_on`` chain, so Pulumi stops at the first cluster that fails.

Every step — each cluster's health, the plan, every exclusion, a failover and each
cluster's deployment — is an audit event (``helm_enterprise.audit.emit``).

Why an excluded cluster is *kept* rather than left out: a resource missing from a Pulumi
program is deleted, and deleting a Helm release on an unreachable cluster fails (on a
reachable but unhealthy one it would uninstall it). So a cluster that already holds the
release stays registered, frozen: its provider has ``skipUpdateUnreachable`` and every
child ignores all changes, so its state is left exactly as it was until the cluster is
healthy again. A cluster that never held the release is simply not registered.
"""

import time
from collections.abc import Collection, Mapping, Sequence
from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from helm_enterprise.audit import emit
from helm_enterprise.components.context import Platform, default_platform
from helm_enterprise.components.release import TYPE_TOKEN as RELEASE_TYPE
from helm_enterprise.components.release import Release, ReleaseArgs
from helm_enterprise.config._base import component_config
from helm_enterprise.config.multicluster import (
    MultiClusterReleaseConfig,
    Role,
    Strategy,
    Unreachable,
    same_cluster_issue,
)
from helm_enterprise.config.release import ReleaseConfig
from helm_enterprise.config.stack import ClusterConfig
from helm_enterprise.errors import ClusterUnavailableError, ConfigError
from helm_enterprise.kube import clusters as kube_clusters
from helm_enterprise.kube.client import ClusterAccess
from helm_enterprise.kube.clusters import ClusterHealth, Probe, probe_all
from helm_enterprise.multicluster.plan import Action, ClusterStep, Plan, cluster_release, decide

TYPE_TOKEN = "helm-enterprise:index:MultiClusterRelease"  # noqa: S105 - a type token


class ClusterArgs(TypedDict, total=False):
    """One target cluster of :class:`MultiClusterRelease` (``name`` is required)."""

    name: str
    kubeconfig: str
    context: str
    role: Role
    values: dict[str, Any]
    secret_values: dict[str, Any]


class MultiClusterReleaseArgs(ReleaseArgs, total=False):
    """Arguments of :class:`MultiClusterRelease`: every :class:`ReleaseArgs` field (the
    shared definition) plus ``clusters`` (required, in rolling order), ``strategy``
    (``rolling`` | ``active-passive``), ``unreachable`` (``fail`` | ``exclude``) and
    ``health_timeout`` (seconds per cluster for the pre-flight check)."""

    clusters: list[ClusterArgs]
    strategy: Strategy  # type: ignore[misc]
    unreachable: Unreachable
    health_timeout: int | str


# Children of a Release that live in the cluster (reads of Secrets do not count: dropping
# them from state touches nothing).
_IN_CLUSTER = ("release", "chart", "namespace", "owner", "health")


def clusters_in_state(
    urns: Collection[str], resource_name: str, clusters: Collection[str]
) -> set[str]:
    """The clusters where this component has something in the stack's state (a Helm
    release or chart, a namespace, an ownership record...), from the state's URNs
    (``urn:pulumi:<stack>::<project>::<parent types>$<type>::<name>``). Leaving such a
    cluster out of the program would make Pulumi delete those objects."""
    wanted = {
        f"{resource_name}-{cluster}-{role}": cluster for cluster in clusters for role in _IN_CLUSTER
    }
    found: set[str] = set()
    for urn in urns:
        types, _, name = urn.rpartition("::")
        if f"{TYPE_TOKEN}${RELEASE_TYPE}$" in types and name in wanted:
            found.add(wanted[name])
    return found


# -- acting on the plan -------------------------------------------------------------------


_CHECKPOINT_RETRIES = 5


def _state_urns() -> list[str] | None:
    """URNs in this stack's saved state (``None`` when the engine gives no answer).

    ``pulumi:pulumi:readStackResourceOutputs`` is the engine's builtin read of a stack's
    snapshot (what ``StackReference`` reads, per resource); asked for the running stack it
    returns the state as of this run's start.
    """
    org = pulumi.get_organization()
    stack = f"{org}/{pulumi.get_project()}/{pulumi.get_stack()}" if org else pulumi.get_stack()
    # A failed invoke is an exception here; the one retried is the engine reading the
    # snapshot while it writes it (a new stack's first checkpoint, seen on the reference
    # machine: "failed to load checkpoint: EOF"). Anything else fails the run.
    for attempt in range(_CHECKPOINT_RETRIES):
        try:
            result = pulumi.runtime.invoke(
                "pulumi:pulumi:readStackResourceOutputs", {"stackName": stack}
            )
            break
        except Exception as err:
            if "failed to load checkpoint" not in str(err) or attempt == _CHECKPOINT_RETRIES - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    if not isinstance(result.value, Mapping):
        return None
    outputs = result.value.get("outputs")
    return list(outputs) if isinstance(outputs, Mapping) else []


def _freeze(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """Every custom child of a kept cluster ignores all changes: its state stays as is."""
    if not args.custom:
        return None
    return pulumi.ResourceTransformResult(
        props=args.props,
        opts=pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(ignore_changes=["*"])),
    )


def _frozen(cfg: ReleaseConfig) -> ReleaseConfig:
    """A kept cluster's release talks to nobody: no ownership or recovery checks."""
    return cfg.model_copy(
        update={
            "validation": cfg.validation.model_copy(update={"ownership": False}),
            "rollback": cfg.rollback.model_copy(
                update={
                    "recover_pending": False,
                    "recover_failed_install": False,
                    "restore_out_of_band": False,
                }
            ),
        }
    )


class MultiClusterRelease(pulumi.ComponentResource):
    """One release definition deployed to several clusters
    (``helm-enterprise:index:MultiClusterRelease``).

    Children: per deployed (or kept) cluster a ``kubernetes.Provider``
    (``<name>-<cluster>-provider``) and a :class:`Release` (``<name>-<cluster>``).

    Outputs:
        plan: cluster → ``deploy`` | ``keep`` | ``skip`` | ``idle`` (see :class:`Action`).
        deployed: the clusters deployed by this run, in order.
        statuses / revisions: cluster → Helm status / revision, for deployed clusters.
        failover: ``"<primary> -> <standby>"`` when active-passive failed over, else None.

    Raises:
        ConfigError: invalid arguments (before any resource is registered).
        ClusterUnavailableError: the pre-flight check leaves nothing to deploy, or a
            cluster is unhealthy and ``unreachable`` is ``fail`` (nothing is registered).
    """

    plan: pulumi.Output[dict[str, str]]
    deployed: pulumi.Output[list[str]]
    statuses: pulumi.Output[dict[str, str]]
    revisions: pulumi.Output[dict[str, int | None]]
    failover: pulumi.Output[str | None]

    def __init__(
        self,
        resource_name: str,
        args: MultiClusterReleaseArgs | MultiClusterReleaseConfig,
        opts: pulumi.ResourceOptions | None = None,
        *,
        platform: Platform | None = None,
        field: str = "",
        probe: Probe | None = None,
    ) -> None:
        cfg = component_config(MultiClusterReleaseConfig, resource_name, args, field)
        issue = same_cluster_issue(cfg)
        if issue:
            raise ConfigError(issue[1], path=f"{field}.{issue[0]}" if field else issue[0])
        platform = platform or default_platform()
        per_cluster = {c.name: cluster_release(cfg, c) for c in cfg.clusters}

        # Pre-flight and plan, before anything is registered.
        health = probe_all(
            {c.name: ClusterAccess(c.kubeconfig, c.context) for c in cfg.clusters},
            float(cfg.health_timeout),
            probe or kube_clusters.probe,
        )
        urns = _state_urns()
        had = (
            None
            if urns is None
            else clusters_in_state(urns, resource_name, [c.name for c in cfg.clusters])
        )
        plan = decide(
            [(c.name, c.role) for c in cfg.clusters],
            health,
            strategy=cfg.strategy,
            unreachable=cfg.unreachable,
            had=had,
        )
        self._record(resource_name, cfg, health, plan, had)
        if plan.failure:
            raise ClusterUnavailableError(f"{cfg.name}: {plan.failure}")

        super().__init__(TYPE_TOKEN, resource_name, None, opts)
        self.config = cfg
        self.plan_decision = plan
        self.health = health
        user_deps: list[pulumi.Resource] = list(
            (opts.depends_on if opts and isinstance(opts.depends_on, list) else []) or []
        )
        resolver = platform.resolver()
        if resolver is not None:
            from helm_enterprise.secrets.inject import vault_refs

            # One batched read for every cluster's secrets, as the root program does.
            resolver.prefetch(ref for c in per_cluster.values() for ref in vault_refs(c))

        self.releases: dict[str, Release] = {}
        previous: Release | None = None
        for cluster in cfg.clusters:
            action = plan.action(cluster.name)
            if action not in (Action.DEPLOY, Action.KEEP):
                continue
            keep = action is Action.KEEP
            provider = k8s.Provider(
                f"{resource_name}-{cluster.name}-provider",
                kubeconfig=cluster.kubeconfig,
                context=cluster.context,
                # Only for a kept cluster: the provider then leaves its resources as they
                # are in state instead of failing on the unreachable API.
                skip_update_unreachable=True if keep else None,
                opts=pulumi.ResourceOptions(parent=self),
            )
            scoped = platform.for_cluster(cluster.kubeconfig, cluster.context)
            deps = user_deps if keep or previous is None else [*user_deps, previous]
            release = Release(
                f"{resource_name}-{cluster.name}",
                _frozen(per_cluster[cluster.name]) if keep else per_cluster[cluster.name],
                pulumi.ResourceOptions(
                    parent=self,
                    provider=provider,
                    depends_on=deps,
                    transforms=[_freeze] if keep else None,
                ),
                platform=scoped,
                field=field,
            )
            self.releases[cluster.name] = release
            if not keep:
                previous = release
                self._record_deployed(cfg, cluster.name, plan, release)

        deployed = plan.clusters(Action.DEPLOY)
        self.plan = pulumi.Output.from_input(plan.as_dict())
        self.deployed = pulumi.Output.from_input(deployed)
        self.statuses = pulumi.Output.all(*[self.releases[c].status for c in deployed]).apply(
            lambda values: dict(zip(deployed, values, strict=True))
        )
        self.revisions = pulumi.Output.all(*[self.releases[c].revision for c in deployed]).apply(
            lambda values: dict(zip(deployed, values, strict=True))
        )
        self.failover = pulumi.Output.from_input(
            f"{plan.failover[0]} -> {plan.failover[1]}" if plan.failover else None
        )
        self.register_outputs(
            {
                "plan": self.plan,
                "deployed": self.deployed,
                "statuses": self.statuses,
                "revisions": self.revisions,
                "failover": self.failover,
            }
        )

    # -- reporting ------------------------------------------------------------------------

    def _record(
        self,
        resource_name: str,
        cfg: MultiClusterReleaseConfig,
        health: Mapping[str, ClusterHealth],
        plan: Plan,
        had: Collection[str] | None,
    ) -> None:
        """Warnings for the user and audit events for every cross-cluster decision."""
        common = {"release": cfg.name, "namespace": cfg.namespace, "strategy": cfg.strategy}
        for name, h in health.items():
            emit(
                "cluster-health",
                phase="before",
                result=h.state.value,
                cluster=name,
                server=h.server or None,
                detail=h.detail or None,
                **common,
            )
        if had is None:
            pulumi.log.warn(
                f"{cfg.name}: the stack's state could not be read; excluded clusters are "
                "assumed to hold the release already"
            )
        for step in plan.steps:
            if plan.failure is None and step.action in (Action.KEEP, Action.SKIP):
                pulumi.log.warn(f"{cfg.name}: cluster {step.cluster} {step.reason}")
                emit(
                    "cluster-excluded",
                    phase="before",
                    result="planned",
                    cluster=step.cluster,
                    action_taken=step.action.value,
                    why=step.reason,
                    unreachable=cfg.unreachable,
                    **common,
                )
        if plan.failover:
            primary, standby = plan.failover
            pulumi.log.warn(
                f"{cfg.name}: failover — primary {primary} is {health[primary].describe()}; "
                f"deploying to standby {standby}"
            )
            emit(
                "failover",
                phase="before",
                result="planned",
                primary=primary,
                standby=standby,
                why=health[primary].describe(),
                **common,
            )
        order = plan.clusters(Action.DEPLOY)
        emit(
            "multi-cluster-plan",
            phase="before",
            result="failed" if plan.failure else "planned",
            plan=plan.as_dict(),
            order=order,
            unreachable=cfg.unreachable,
            error=plan.failure,
            component=resource_name,
            **common,
        )
        if plan.failure is None:
            pulumi.log.info(
                f"{cfg.name}: {cfg.strategy} to {', '.join(order)}"
                + (" (one at a time, stopping at the first failure)" if len(order) > 1 else "")
            )

    def _record_deployed(
        self, cfg: MultiClusterReleaseConfig, cluster: str, plan: Plan, release: Release
    ) -> None:
        """An audit event once a cluster's release is deployed (not during preview)."""
        if pulumi.runtime.is_dry_run():
            return
        order = plan.clusters(Action.DEPLOY)

        def record(values: list[Any]) -> None:
            status, revision = values
            emit(
                "multi-cluster-deploy",
                phase="after",
                result="succeeded" if status == "deployed" else "failed",
                release=cfg.name,
                namespace=cfg.namespace,
                cluster=cluster,
                position=order.index(cluster) + 1,
                of=len(order),
                status=status,
                revision=revision,
                strategy=cfg.strategy,
            )

        pulumi.Output.all(release.status, release.revision).apply(record)


def from_stack_config(
    entries: Sequence[MultiClusterReleaseConfig],
    named: Mapping[str, ClusterConfig],
    platform: Platform,
) -> dict[str, MultiClusterRelease]:
    """The root program's ``helm-enterprise:multiClusterReleases``, with cluster names
    resolved against ``helm-enterprise:clusters``."""
    targets = {name: (c.kubeconfig, c.context) for name, c in named.items()}
    return {
        entry.name: MultiClusterRelease(
            entry.name,
            entry.with_named_clusters(targets),
            platform=platform,
            field=f"multiClusterReleases[{i}]",
        )
        for i, entry in enumerate(entries)
    }


__all__ = [
    "Action",
    "ClusterArgs",
    "ClusterStep",
    "MultiClusterRelease",
    "MultiClusterReleaseArgs",
    "Plan",
    "cluster_release",
    "clusters_in_state",
    "decide",
    "from_stack_config",
]
