"""``helm_enterprise.Tenant``: a tenant's namespaces and everything that isolates them (T2.2).

Per namespace: the Namespace (ownership and Pod Security Standard labels), a
ResourceQuota and a LimitRange from the tier, a default-deny NetworkPolicy and one
allowing traffic within the tenant, and a Role + RoleBinding per role level its groups
hold. Per tenant, when storage classes are restricted: a ValidatingAdmissionPolicy and its
binding. Releases declared for the tenant (``tenant: <name>``) are checked against it
before any Helm work (see :mod:`helm_enterprise.tenancy`).

**Identity.** The tenant's ``name`` is part of every child's name and of the
``helm-enterprise.io/tenant`` label. Pulumi would treat a changed name as new resources
and delete the old ones: every namespace, and every workload in it, replaced. So a change
is refused before anything is registered: the constructor reads the namespaces this Tenant
created earlier (they carry project, stack and the component's name as labels) and those
it is about to create, and raises :class:`~helm_enterprise.errors.ConfigError` when one
was created under another tenant name, or belongs to another tenant or stack. The check
needs the cluster; when it is unreachable it is skipped with a warning, like the
Release's ownership checks (``pulumi up`` cannot proceed without the cluster anyway, so
the check has run before anything changes).

**A program's tenants are checked as one set.** A constructor can only check its own
tenant, and Pulumi acts on a child as soon as it is registered: with ``pulumi up
--skip-preview`` tenant A's new namespace would be created before tenant B's constructor,
further down the program, is refused. :func:`check_tenants` takes every tenant of the
program and checks them all — config, tiers, namespace claims, identities against the
cluster — before the first one registers anything; the root program calls it, Python
programs call it before constructing their Tenants (which then skip their own cluster
read).
"""

import dataclasses
from collections.abc import Sequence
from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from helm_enterprise.components.context import Platform, default_platform
from helm_enterprise.config._base import component_config
from helm_enterprise.config.tenant import PodSecurityLevel, TenantConfig, TierConfig, resolve_tier
from helm_enterprise.errors import ConfigError, HelmEnterpriseError
from helm_enterprise.ownership import ANNOTATION_OWNER
from helm_enterprise.tenancy import checks, objects
from helm_enterprise.tenancy.live import read_namespaces
from helm_enterprise.validation import Finding, errors, report

TYPE_TOKEN = "helm-enterprise:index:Tenant"  # noqa: S105 - a type token, not a secret


class TenantArgs(TypedDict, total=False):
    """Arguments of :class:`Tenant`: the fields of a ``helm-enterprise:tenants`` entry in
    snake_case. ``namespaces`` is required; ``name`` defaults to the resource name."""

    name: str
    namespaces: list[str]
    tier: str | dict[str, Any]
    groups: dict[str, str]
    pod_security: PodSecurityLevel
    allowed_storage_classes: list[str]
    labels: dict[str, str]
    network: dict[str, Any]


def _raise_config(findings: list[Finding]) -> None:
    bad = errors(findings)
    if bad:
        first = bad[0]
        raise ConfigError(
            first.message,
            path=first.field,
            hint=first.hint,
            issues=[(f.field, f.message) for f in bad],
        )


@dataclasses.dataclass(frozen=True)
class _Claim:
    """One Tenant of the program: its resource name, config and field path."""

    resource_name: str
    config: TenantConfig
    field: str


def _check_identities(platform: Platform, claims: Sequence[_Claim]) -> None:
    """Every claim's identity and namespaces against the cluster (one client for all);
    report every finding, raise :class:`ConfigError` for the first error with the others
    listed. Skipped with one warning when the cluster cannot be read."""
    if not claims:
        return
    project, stack = pulumi.get_project(), pulumi.get_stack()
    who = ", ".join(c.config.name for c in claims)
    what = f"tenant{'s' if len(claims) > 1 else ''} {who}"
    access = platform.cluster_access
    api = access.reachable_client()
    if api is None:
        pulumi.log.warn(
            f"{what}: cluster {access.describe()} not reachable; the tenant identity and "
            "namespace ownership checks are skipped"
        )
        return
    findings: list[Finding] = []
    try:
        for c in claims:
            cfg = c.config
            live = read_namespaces(api, project, stack, c.resource_name, cfg.namespaces)
            findings += checks.check_identity(cfg, c.resource_name, project, stack, live, c.field)
    except HelmEnterpriseError:
        raise
    except Exception as err:
        pulumi.log.warn(
            f"{what}: namespaces could not be read ({type(err).__name__}); the tenant "
            "identity and namespace ownership checks are skipped"
        )
        return
    finally:
        api.close()
    report(findings)
    _raise_config(findings)


def check_tenants(
    tenants: Sequence[tuple[str, TenantArgs | TenantConfig]],
    *,
    platform: Platform | None = None,
    field: str = "tenants",
) -> list[TenantConfig]:
    """Check every tenant of a program before any of them registers anything.

    A :class:`Tenant` checks itself in its constructor, which is too late for the next
    one: under ``pulumi up --skip-preview`` the first tenant's new namespaces are created
    while a later tenant is refused. Call this first, with every tenant the program will
    construct, then construct them::

        specs = [("shop", {"namespaces": ["shop-web"]}), ("data", {"namespaces": ["data"]})]
        check_tenants(specs)
        tenants = {name: Tenant(name, args) for name, args in specs}

    Args:
        tenants: (resource name, arguments) of each Tenant, in program order.
        platform: the program's platform (default: the one built from stack config).
        field: prefix of error paths; the i-th tenant's are ``<field>[i].<...>``.

    Returns:
        The validated configs, in order. The Tenants constructed afterwards with the same
        resource name and arguments do not read the cluster again.

    Raises:
        ConfigError: any tenant's invalid arguments or unknown tier, a namespace claimed
            twice, a tenant defined twice differently, a changed tenant identity or a
            namespace of another tenant or stack in the cluster (every problem listed).
    """
    platform = platform or default_platform()
    claims: list[_Claim] = []
    for i, (resource_name, args) in enumerate(tenants):
        at = f"{field}[{i}]" if field else ""
        cfg = component_config(TenantConfig, resource_name, args, at)
        resolve_tier(cfg, platform.tiers, at)
        if any(c.resource_name == resource_name for c in claims):
            raise ConfigError(
                f"two tenants use the resource name {resource_name!r}",
                path=at,
                hint="give each Tenant its own resource name",
            )
        claims.append(_Claim(resource_name, cfg, at))
    for c in claims:
        Tenant._claim(platform, c.config, c.field)
    _check_identities(platform, claims)
    for c in claims:
        platform.checked_tenants[c.resource_name] = c.config
    return [c.config for c in claims]


class Tenant(pulumi.ComponentResource):
    """A tenant (``helm-enterprise:index:Tenant``): namespaces with quota, limits, network
    isolation, RBAC for the tenant's groups and Pod Security labels.

    Outputs:
        tenant: the tenant's name (its immutable identity).
        namespaces: the tenant's namespaces.
        tier: the tier's name (``custom`` for an inline tier).
        quota: the ResourceQuota ``hard`` limits of each namespace.
        pod_security: the enforced Pod Security Standard level.
        roles: group → role level.

    Raises:
        ConfigError: invalid arguments, an unknown tier, a namespace of another tenant, or
            a changed tenant name (before any resource is registered). With several
            tenants, call :func:`check_tenants` first so that none registers anything
            when one is refused.
    """

    tenant: pulumi.Output[str]
    namespaces: pulumi.Output[list[str]]
    tier: pulumi.Output[str]
    quota: pulumi.Output[dict[str, str]]
    pod_security: pulumi.Output[str]
    roles: pulumi.Output[dict[str, str]]

    def __init__(
        self,
        resource_name: str,
        args: TenantArgs | TenantConfig,
        opts: pulumi.ResourceOptions | None = None,
        *,
        platform: Platform | None = None,
        field: str = "",
    ) -> None:
        # Validate before registering anything: a ConfigError leaves no trace in state.
        cfg = component_config(TenantConfig, resource_name, args, field)
        platform = platform or default_platform()
        tier = resolve_tier(cfg, platform.tiers, field)
        self._claim(platform, cfg, field)
        if platform.checked_tenants.get(resource_name) != cfg:
            _check_identities(platform, [_Claim(resource_name, cfg, field)])
        project, stack = pulumi.get_project(), pulumi.get_stack()
        super().__init__(TYPE_TOKEN, resource_name, None, opts)
        self.config = cfg
        # The tenant's name is in every child's name: a component named after its tenant
        # (the root program's way) does not repeat it.
        prefix = resource_name if resource_name == cfg.name else f"{resource_name}-{cfg.name}"
        labels = checks.tenant_labels(project, stack, resource_name, cfg.name)
        annotations = {ANNOTATION_OWNER: f"{project}/{stack}/tenant:{cfg.name}"}
        child = pulumi.ResourceOptions(parent=self)

        def meta(name: str, namespace: pulumi.Input[str] | None = None) -> dict[str, Any]:
            m: dict[str, Any] = {"name": name, "labels": labels, "annotations": annotations}
            if namespace is not None:
                m["namespace"] = namespace
            return m

        levels = objects.groups_by_level(cfg)
        for ns in cfg.namespaces:
            namespace = k8s.core.v1.Namespace(
                f"{prefix}-ns-{ns}",
                metadata={**meta(ns), "labels": objects.namespace_labels(cfg, labels)},
                opts=child,
            )
            # Every namespaced child names its namespace through the Namespace's output:
            # created after it, deleted before it.
            ns_name = namespace.metadata.apply(lambda m: str(m.name))
            self._namespaced(prefix, ns, ns_name, cfg, tier, levels, meta, child)
        if cfg.allowed_storage_classes is not None:
            policy_name = objects.storage_policy_name(cfg.name)
            policy = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
                f"{prefix}-storage-policy",
                metadata=meta(policy_name),
                spec=objects.storage_policy_spec(cfg),
                opts=child,
            )
            k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
                f"{prefix}-storage-binding",
                metadata=meta(policy_name),
                spec=objects.storage_binding_spec(cfg),
                opts=pulumi.ResourceOptions.merge(
                    child, pulumi.ResourceOptions(depends_on=[policy])
                ),
            )

        self.tenant = pulumi.Output.from_input(cfg.name)
        self.namespaces = pulumi.Output.from_input(list(cfg.namespaces))
        self.tier = pulumi.Output.from_input(cfg.tier_name)
        self.quota = pulumi.Output.from_input(dict(tier.quota))
        self.pod_security = pulumi.Output.from_input(str(cfg.pod_security))
        self.roles = pulumi.Output.from_input({g: str(lvl) for g, lvl in cfg.groups.items()})
        self.register_outputs(
            {
                "tenant": self.tenant,
                "namespaces": self.namespaces,
                "tier": self.tier,
                "quota": self.quota,
                "podSecurity": self.pod_security,
                "roles": self.roles,
            }
        )

    # -- children ---------------------------------------------------------------------

    def _namespaced(
        self,
        prefix: str,
        ns: str,
        ns_name: pulumi.Output[str],
        cfg: TenantConfig,
        tier: TierConfig,
        levels: dict[Any, list[str]],
        meta: Any,
        child: pulumi.ResourceOptions,
    ) -> None:
        quota = checks.quota_name(cfg.name)
        k8s.core.v1.ResourceQuota(
            f"{prefix}-quota-{ns}",
            metadata=meta(quota, ns_name),
            spec=objects.quota_spec(tier),
            opts=child,
        )
        k8s.core.v1.LimitRange(
            f"{prefix}-limits-{ns}",
            metadata=meta(quota, ns_name),
            spec=objects.limit_range_spec(tier),
            opts=child,
        )
        if cfg.network.default_deny:
            k8s.networking.v1.NetworkPolicy(
                f"{prefix}-deny-all-{ns}",
                metadata=meta(f"tenant-{cfg.name}-deny-all", ns_name),
                spec=objects.deny_all_spec(),
                opts=child,
            )
            k8s.networking.v1.NetworkPolicy(
                f"{prefix}-allow-tenant-{ns}",
                metadata=meta(f"tenant-{cfg.name}-allow-tenant", ns_name),
                spec=objects.allow_tenant_spec(cfg),
                opts=child,
            )
        for level, groups in levels.items():
            name = objects.role_name(cfg.name, level)
            role = k8s.rbac.v1.Role(
                f"{prefix}-role-{level}-{ns}",
                metadata=meta(name, ns_name),
                rules=objects.role_rules(level),
                opts=child,
            )
            k8s.rbac.v1.RoleBinding(
                f"{prefix}-binding-{level}-{ns}",
                metadata=meta(name, ns_name),
                role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                subjects=objects.role_binding_subjects(groups),
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[role])),
            )

    # -- checks -----------------------------------------------------------------------

    @staticmethod
    def _claim(platform: Platform, cfg: TenantConfig, field: str) -> None:
        """Make the tenant known to the program's releases; refuse a second, different
        definition of the same tenant and a namespace another tenant holds."""

        def at(sub: str) -> str:
            return f"{field}.{sub}" if field else sub

        known = platform.tenants.get(cfg.name)
        if known is not None and known != cfg:
            raise ConfigError(
                f"tenant {cfg.name!r} is already defined differently in this program "
                "(stack config helm-enterprise:tenants or another Tenant)",
                path=at("name"),
            )
        for i, ns in enumerate(cfg.namespaces):
            for other in platform.tenants.values():
                if other.name != cfg.name and ns in other.namespaces:
                    raise ConfigError(
                        f"namespace {ns!r} already belongs to tenant {other.name!r}; a "
                        "namespace has one tenant",
                        path=at(f"namespaces[{i}]"),
                    )
        platform.tenants[cfg.name] = cfg


__all__ = ["Tenant", "TenantArgs", "check_tenants"]
