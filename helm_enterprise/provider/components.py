"""The components as another Pulumi language sees them: typed arguments for schema inference.

Pulumi's ``pulumi.provider.experimental`` infers the package schema from these classes'
annotations. The rules it imposes (see docs/features/other-languages.md): no
``from __future__ import annotations`` in this module or the components', enums instead
of ``Literal``, one TypedDict as ``args``. Each class here *is* the Python component (a
subclass with the same name, so the same type token ``helm-enterprise:index:<Name>`` and
the same URNs whether a program constructs it in Python or through the plugin); it only
states the arguments' shape and passes them on as a dict, where the same pydantic models
as everywhere validate them, naming the field as the consumer wrote it (camelCase).

Nested settings that the models validate in depth (timeouts, rollback, health, strategy,
autoscaling...) are ``dict[str, Any]`` here: one source of truth for their fields, the
models; the schema's description says what they hold.
"""

import enum
from typing import Any, TypedDict

import pulumi

from helm_enterprise.components.multicluster import MultiClusterRelease as _MultiClusterRelease
from helm_enterprise.components.release import Release as _Release
from helm_enterprise.components.tenant import Tenant as _Tenant


class Mode(enum.StrEnum):
    """How the chart is applied."""

    RELEASE = "release"
    CHART = "chart"


class SloGate(enum.StrEnum):
    """Which burn-rate alerts of the release's SLOs stop an install or upgrade."""

    NONE = "none"
    PAGE = "page"
    TICKET = "ticket"


class PodSecurity(enum.StrEnum):
    """The Pod Security Standard a tenant's namespaces enforce."""

    PRIVILEGED = "privileged"
    BASELINE = "baseline"
    RESTRICTED = "restricted"


class ClusterRole(enum.StrEnum):
    """A cluster's role in an active-passive multi-cluster release."""

    PRIMARY = "primary"
    STANDBY = "standby"


class ClusterStrategy(enum.StrEnum):
    """How a multi-cluster release goes to its clusters."""

    ROLLING = "rolling"
    ACTIVE_PASSIVE = "active-passive"


class Unreachable(enum.StrEnum):
    """What a rolling multi-cluster release does with a cluster that fails its check."""

    FAIL = "fail"
    EXCLUDE = "exclude"


class Chart(TypedDict, total=False):
    name: str
    """Chart name in the repository, or an ``oci://`` reference."""
    version: str
    """Chart version (a pinned version; ranges are refused by the policy pack)."""
    repository: Any
    """A repository (``{url, auth, caFile}``) or the name of one declared under
    ``helm-enterprise:repositories``."""
    path: str
    """A chart directory, relative to the program."""
    git: dict[str, Any]
    """A chart in Git: ``{url, ref | commit, path, auth, interval}``."""


class ReleaseArgs(TypedDict, total=False):
    name: str
    namespace: pulumi.Input[str]
    create_namespace: bool
    mode: Mode
    chart_mode: dict[str, Any]
    chart: Chart
    values: pulumi.Input[dict[str, Any]]
    secret_values: pulumi.Input[dict[str, Any]]
    timeouts: dict[str, Any]
    rollback: dict[str, Any]
    validation: dict[str, Any]
    roll_on_secret_change: dict[str, Any]
    wait: bool
    wait_for_jobs: bool
    description: str
    labels: dict[str, str]
    depends_on: list[Any]
    adopt: bool
    tenant: str
    protect: bool
    retain_on_delete: bool
    health: dict[str, Any]
    slos: list[dict[str, Any]]
    slo_gate: SloGate
    autoscaling: dict[str, Any]
    vpa: dict[str, Any]
    strategy: dict[str, Any]


def plain(args: Any) -> dict[str, Any]:
    """The arguments as the models read them: enum members as their values (nested dicts
    of typed parts too)."""
    if isinstance(args, enum.Enum):
        return args.value  # type: ignore[no-any-return]
    if isinstance(args, dict):
        return {k: plain(v) for k, v in args.items()}
    if isinstance(args, list):
        return [plain(v) for v in args]  # type: ignore[return-value]
    return args  # type: ignore[no-any-return]


class Release(_Release):
    """A Helm release with what production needs: private repositories, Vault secrets,
    timeouts, rollback, dry-run validation, ownership, audit, health checks, SLOs,
    autoscaling and progressive delivery."""

    # Outputs beyond the component's annotated ones (properties of the component); the
    # schema's descriptions come from the component's docs (provider._describe).
    resolved_source: pulumi.Output[str]
    values_checksum: pulumi.Output[str | None]
    references: pulumi.Output[list[str]]
    commit: pulumi.Output[str | None]
    health: pulumi.Output[dict[str, Any] | None]
    strategy: pulumi.Output[dict[str, Any] | None]

    def __init__(
        self, name: str, args: ReleaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(name, plain(args), opts)  # type: ignore[arg-type]


class TenantArgs(TypedDict, total=False):
    name: str
    """The tenant's name (default: the resource name)."""
    namespaces: list[str]
    """The tenant's namespaces (at least one)."""
    tier: Any
    """A tier name (``small``, ``medium``, ``large`` or one of ``helm-enterprise:tiers``)
    or a tier: ``{quota, limits}``."""
    groups: dict[str, str]
    """Group → role level (``view``, ``edit``, ``admin``) in the tenant's namespaces."""
    pod_security: PodSecurity
    """The Pod Security Standard the namespaces enforce (default ``restricted``)."""
    allowed_storage_classes: list[str]
    """Storage classes the tenant's claims may use (default: any)."""
    labels: dict[str, str]
    """Extra labels on the tenant's namespaces."""
    network: dict[str, Any]
    """Network policies: ``{defaultDeny, allowFrom}``."""


class Tenant(_Tenant):
    """A tenant: namespaces with quota and limits from a tier, default-deny network
    policies, RBAC for the tenant's groups and Pod Security labels."""

    def __init__(
        self, name: str, args: TenantArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(name, plain(args), opts)  # type: ignore[arg-type]


class TargetCluster(TypedDict, total=False):
    name: str
    """The cluster's name (one of ``helm-enterprise:clusters``, or its own)."""
    kubeconfig: str
    """Path of the cluster's kubeconfig."""
    context: str
    """The kubeconfig context."""
    role: ClusterRole
    """``primary`` or ``standby`` (active-passive)."""
    values: dict[str, Any]
    """Values for this cluster, merged over the release's."""
    secret_values: dict[str, Any]
    """Secret values for this cluster, merged over the release's."""


class MultiClusterReleaseArgs(ReleaseArgs, total=False):
    clusters: list[TargetCluster]
    """The target clusters, in rolling order (at least one)."""
    cluster_strategy: ClusterStrategy
    """``rolling`` (every healthy cluster, one at a time) or ``active-passive``."""
    unreachable: Unreachable
    """What a rolling release does with a cluster that fails its check."""
    health_timeout: int
    """Seconds the pre-flight check waits for each cluster's API."""


class MultiClusterRelease(_MultiClusterRelease):
    """One release definition deployed to several clusters, with per-cluster overrides,
    a health check of every cluster first, rolling order or active-passive failover."""

    def __init__(
        self,
        name: str,
        args: MultiClusterReleaseArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        given = plain(args)
        # `strategy` of a multi-cluster release means how clusters are deployed to; the
        # schema names it clusterStrategy, next to the release's own strategy field.
        if "cluster_strategy" in given:
            given["strategy"] = given.pop("cluster_strategy")
        super().__init__(name, given, opts)  # type: ignore[arg-type]


COMPONENTS: list[type[pulumi.ComponentResource]] = [Release, Tenant, MultiClusterRelease]
