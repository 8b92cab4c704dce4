"""Tenants (T2.2): who owns which namespaces, how big they may get, who may work there.

::

    config:
      helm-enterprise:tiers:            # optional: user tiers (and overrides of built-ins)
        xl: {quota: {requests.cpu: "64", requests.memory: 128Gi, pods: "500"}}
      helm-enterprise:tenants:
        - name: alpha                   # the tenant's identity: immutable once created
          namespaces: [alpha-web, alpha-jobs]
          tier: medium                  # small | medium | large | a user tier | inline {quota: ...}
          groups: {alpha-devs: edit, alpha-leads: admin, auditors: view}
          podSecurity: restricted       # Pod Security Standard enforced on the namespaces
          allowedStorageClasses: [fast] # unset: any class; []: no PersistentVolumeClaims
          labels: {cost-center: "4711"}

A tier is a size: the ResourceQuota every namespace of the tenant gets (per namespace), and
optionally the per-container LimitRange. Built-in tiers share one LimitRange
(:data:`DEFAULT_LIMIT_RANGE`), so moving a tenant between them changes only its quota.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from helm_enterprise.config._base import DNS_LABEL, Model, first_duplicate, is_namespace_name
from helm_enterprise.errors import ConfigError

# A tenant name goes into object names such as `tenant-<name>-storage` and into label
# values; 40 characters keep every derived name within Kubernetes' 63.
TENANT_NAME_MAX = 40
# ResourceQuota keys: `requests.cpu`, `pods`, `count/deployments.apps`,
# `fast.storageclass.storage.k8s.io/requests.storage`, `requests.nvidia.com/gpu` ...
_QUOTA_KEY = re.compile(r"^[a-z0-9]([-a-z0-9./]*[a-z0-9])?$")
_RESOURCE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9./]*[a-z0-9])?$")

RoleLevel = Literal["admin", "edit", "view"]
PodSecurityLevel = Literal["restricted", "baseline", "privileged"]


def parse_quantity(value: object) -> Decimal:
    """A Kubernetes quantity (``500m``, ``4Gi``, ``2``) as a number; ValueError otherwise."""
    # Imported here: the kubernetes client package is heavy and only tenants need it.
    from kubernetes.utils.quantity import parse_quantity as _parse

    if isinstance(value, bool):
        raise ValueError("expected a quantity like '500m', '4Gi' or '2'")
    try:
        result: Decimal = _parse(value)
    except (ValueError, TypeError, ArithmeticError):
        raise ValueError(
            f"{value!r} is not a Kubernetes quantity (e.g. '500m', '4Gi', '2')"
        ) from None
    if result < 0:
        raise ValueError(f"{value!r} is negative")
    return result


def _quantity(value: object) -> str:
    parse_quantity(value)
    return str(value)


Quantity = Annotated[str, BeforeValidator(_quantity)]
"""A validated Kubernetes quantity, kept as written (``"500m"``)."""


def _check_keys(v: dict[str, str], pattern: re.Pattern[str], what: str) -> dict[str, str]:
    for key in v:
        if not pattern.match(key):
            raise ValueError(f"{key!r} is not a {what}")
    return v


class LimitRangeSpec(Model):
    """Per-container defaults and bounds (a LimitRange item of type ``Container``).

    ``default`` are the limits and ``default_request`` the requests a container gets when
    it sets none; ``max``/``min`` bound what a container may ask for.
    """

    default: dict[str, Quantity] = Field(default_factory=dict)
    default_request: dict[str, Quantity] = Field(default_factory=dict)
    max: dict[str, Quantity] = Field(default_factory=dict)
    min: dict[str, Quantity] = Field(default_factory=dict)

    @field_validator("default", "default_request", "max", "min")
    @classmethod
    def _names(cls, v: dict[str, str]) -> dict[str, str]:
        return _check_keys(v, _RESOURCE_NAME, "resource name like 'cpu' or 'memory'")


class TierConfig(Model):
    """A tenant size. ``quota`` is the ResourceQuota ``spec.hard`` of each namespace;
    ``limit_range`` the per-container LimitRange (default: :data:`DEFAULT_LIMIT_RANGE`)."""

    quota: dict[str, Quantity] = Field(min_length=1)
    limit_range: LimitRangeSpec | None = None

    @field_validator("quota")
    @classmethod
    def _keys(cls, v: dict[str, str]) -> dict[str, str]:
        return _check_keys(v, _QUOTA_KEY, "ResourceQuota key like 'requests.cpu' or 'pods'")

    @model_validator(mode="after")
    def _consistent(self) -> TierConfig:
        # The API server rejects a LimitRange whose defaults lie outside its bounds; say so
        # now, naming the field, instead of failing half-way through `pulumi up`.
        lr = self.effective_limit_range()
        for resource, request in lr.default_request.items():
            limit = lr.default.get(resource)
            if limit is not None and parse_quantity(request) > parse_quantity(limit):
                raise ValueError(
                    f"limitRange.defaultRequest.{resource}: {request} exceeds the default "
                    f"limit {limit}"
                )
        for name, values in (("default", lr.default), ("defaultRequest", lr.default_request)):
            for resource, value in values.items():
                high, low = lr.max.get(resource), lr.min.get(resource)
                if high is not None and parse_quantity(value) > parse_quantity(high):
                    raise ValueError(f"limitRange.{name}.{resource}: {value} exceeds max {high}")
                if low is not None and parse_quantity(value) < parse_quantity(low):
                    raise ValueError(f"limitRange.{name}.{resource}: {value} is below min {low}")
        return self

    def effective_limit_range(self) -> LimitRangeSpec:
        return self.limit_range or DEFAULT_LIMIT_RANGE


# Constants built without validation (which would import the kubernetes client when this
# module loads); tests validate them.
DEFAULT_LIMIT_RANGE = LimitRangeSpec.model_construct(
    default={"cpu": "500m", "memory": "512Mi"},
    default_request={"cpu": "100m", "memory": "128Mi"},
    max={"cpu": "4", "memory": "8Gi"},
)


# Per namespace. No load balancers or node ports by default: those reach outside the
# tenant's network boundary and are granted by a user tier when wanted.
BUILTIN_TIERS: dict[str, TierConfig] = {
    "small": TierConfig.model_construct(
        quota={
            "requests.cpu": "2",
            "requests.memory": "4Gi",
            "limits.cpu": "4",
            "limits.memory": "8Gi",
            "pods": "20",
            "persistentvolumeclaims": "5",
            "requests.storage": "20Gi",
            "services.loadbalancers": "0",
            "services.nodeports": "0",
        }
    ),
    "medium": TierConfig.model_construct(
        quota={
            "requests.cpu": "8",
            "requests.memory": "16Gi",
            "limits.cpu": "16",
            "limits.memory": "32Gi",
            "pods": "50",
            "persistentvolumeclaims": "10",
            "requests.storage": "100Gi",
            "services.loadbalancers": "0",
            "services.nodeports": "0",
        }
    ),
    "large": TierConfig.model_construct(
        quota={
            "requests.cpu": "32",
            "requests.memory": "64Gi",
            "limits.cpu": "64",
            "limits.memory": "128Gi",
            "pods": "200",
            "persistentvolumeclaims": "50",
            "requests.storage": "1Ti",
            "services.loadbalancers": "0",
            "services.nodeports": "0",
        }
    ),
}


class NetworkConfig(Model):
    """NetworkPolicies of every tenant namespace.

    ``default_deny`` adds a deny-all policy (ingress and egress) and one that allows
    traffic between the tenant's own namespaces; ``allow_dns`` lets pods reach the cluster
    DNS in ``kube-system``; ``allow_ingress_from`` names extra namespaces (an ingress
    controller, monitoring) whose pods may connect in.
    """

    default_deny: bool = True
    allow_dns: bool = True
    allow_ingress_from: list[str] = Field(default_factory=list)

    @field_validator("allow_ingress_from")
    @classmethod
    def _namespaces(cls, v: list[str]) -> list[str]:
        for ns in v:
            if not is_namespace_name(ns):
                raise ValueError(f"{ns!r} is not a valid namespace name")
        return v


def _namespace(value: str) -> str:
    if not is_namespace_name(value):
        raise ValueError(f"{value!r} is not a valid namespace name")
    if value.startswith("kube-") or value == "default":
        raise ValueError(f"{value!r} is a system namespace; a tenant cannot own it")
    return value


Namespace = Annotated[str, AfterValidator(_namespace)]


class TenantConfig(Model):
    """One tenant: its namespaces and everything that isolates them.

    ``name`` is the tenant's identity. It is part of every object's name and label; once
    created it cannot change (a change is a :class:`ConfigError`, not a silent replace of
    every namespace). ``groups`` maps identity-provider groups to a tenant role
    (``admin``, ``edit`` or ``view``) in each of the tenant's namespaces.
    """

    name: str
    namespaces: list[Namespace] = Field(min_length=1)
    tier: str | TierConfig = "small"
    groups: dict[str, RoleLevel] = Field(default_factory=dict)
    pod_security: PodSecurityLevel = "restricted"
    allowed_storage_classes: list[str] | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    network: NetworkConfig = Field(default_factory=NetworkConfig)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if len(v) > TENANT_NAME_MAX or not DNS_LABEL.match(v):
            raise ValueError(
                f"{v!r} is not a valid tenant name (lowercase letters, digits and '-', at "
                f"most {TENANT_NAME_MAX} characters)"
            )
        return v

    @field_validator("namespaces")
    @classmethod
    def _namespaces(cls, v: list[str]) -> list[str]:
        if (twice := first_duplicate(v)) is not None:
            raise ValueError(f"namespace {twice!r} is listed twice")
        return v

    @field_validator("groups")
    @classmethod
    def _groups(cls, v: dict[str, str]) -> dict[str, str]:
        for group in v:
            if not group.strip() or group.startswith("system:"):
                raise ValueError(f"{group!r} is not a tenant group (system: groups are reserved)")
        return v

    @field_validator("allowed_storage_classes")
    @classmethod
    def _classes(cls, v: list[str] | None) -> list[str] | None:
        for sc in v or []:
            if len(sc) > 253 or not _RESOURCE_NAME.match(sc):
                raise ValueError(f"{sc!r} is not a valid storage class name")
        return v

    @property
    def tier_name(self) -> str:
        """The tier's name; ``custom`` for an inline tier."""
        return self.tier if isinstance(self.tier, str) else "custom"


def known_tiers(user_tiers: dict[str, TierConfig] | None = None) -> dict[str, TierConfig]:
    """Built-in tiers with the user's (``helm-enterprise:tiers``) on top."""
    return {**BUILTIN_TIERS, **(user_tiers or {})}


def unknown_tier_message(name: str, user_tiers: dict[str, TierConfig] | None = None) -> str:
    allowed = ", ".join(sorted(known_tiers(user_tiers)))
    return f"unknown tier {name!r}; allowed: {allowed}, or an inline {{quota: ...}}"


def resolve_tier(
    tenant: TenantConfig, user_tiers: dict[str, TierConfig] | None = None, field: str = ""
) -> TierConfig:
    """The tenant's tier; :class:`ConfigError` at ``<field>.tier`` when the name is unknown."""
    if isinstance(tenant.tier, TierConfig):
        return tenant.tier
    tiers = known_tiers(user_tiers)
    if tenant.tier not in tiers:
        raise ConfigError(
            unknown_tier_message(tenant.tier, user_tiers),
            path=f"{field}.tier" if field else "tier",
        )
    return tiers[tenant.tier]


# -- cross checks (stack config) ----------------------------------------------------------

Issue = tuple[str, str]
"""(field path, message)"""


def tenant_issues(tenants: list[TenantConfig], user_tiers: dict[str, TierConfig]) -> list[Issue]:
    """Problems between tenants: unknown tiers, duplicate names, a namespace claimed twice."""
    issues: list[Issue] = []
    names: dict[str, int] = {}
    owners: dict[str, int] = {}
    tiers = known_tiers(user_tiers)
    for i, t in enumerate(tenants):
        if isinstance(t.tier, str) and t.tier not in tiers:
            issues.append((f"tenants[{i}].tier", unknown_tier_message(t.tier, user_tiers)))
        if t.name in names:
            issues.append(
                (
                    f"tenants[{i}].name",
                    f"tenant {t.name!r} is already declared at tenants[{names[t.name]}]",
                )
            )
        names.setdefault(t.name, i)
        for k, ns in enumerate(t.namespaces):
            if ns in owners and owners[ns] != i:
                j = owners[ns]
                issues.append(
                    (
                        f"tenants[{i}].namespaces[{k}]",
                        f"namespace {ns!r} already belongs to tenant {tenants[j].name!r} "
                        f"(tenants[{j}]); a namespace has one tenant",
                    )
                )
            owners.setdefault(ns, i)
    return issues


def release_issue(
    field: str,
    namespace: str,
    tenant: str | None,
    create_namespace: bool,
    tenants: dict[str, TenantConfig],
) -> Issue | None:
    """Whether a release may be declared for ``tenant`` in ``namespace`` (``field`` is the
    release's config path, ``""`` for Python arguments)."""

    def at(sub: str) -> str:
        return f"{field}.{sub}" if field else sub

    by_namespace = {ns: t for t in tenants.values() for ns in t.namespaces}
    owner = by_namespace.get(namespace)
    if tenant is None:
        if owner is not None:
            return (
                at("tenant"),
                f"namespace {namespace!r} belongs to tenant {owner.name!r}; declare the "
                f"release for it (tenant: {owner.name})",
            )
        return None
    if tenant not in tenants:
        known = ", ".join(sorted(tenants)) or "none declared"
        return (at("tenant"), f"unknown tenant {tenant!r}; allowed: {known}")
    own = tenants[tenant]
    if namespace not in own.namespaces:
        whose = f" (it belongs to tenant {owner.name!r})" if owner is not None else ""
        return (
            at("namespace"),
            f"namespace {namespace!r} is not a namespace of tenant {tenant!r}{whose}; "
            f"allowed: {', '.join(own.namespaces)}",
        )
    if create_namespace:
        return (
            at("createNamespace"),
            f"namespace {namespace!r} is created by tenant {tenant!r}; remove createNamespace",
        )
    return None


class TenancyConfig(Model):
    """``helm-enterprise:tenants`` and ``helm-enterprise:tiers`` with their cross checks
    (what :class:`~helm_enterprise.config.stack.StackConfig` checks, without releases)."""

    tenants: list[TenantConfig] = Field(default_factory=list)
    tiers: dict[str, TierConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _checks(self) -> TenancyConfig:
        issues = tenant_issues(self.tenants, self.tiers)
        if issues:
            path, message = issues[0]
            raise ValueError(f"{path}: {message}")
        return self


__all__ = [
    "BUILTIN_TIERS",
    "DEFAULT_LIMIT_RANGE",
    "LimitRangeSpec",
    "NetworkConfig",
    "PodSecurityLevel",
    "Quantity",
    "RoleLevel",
    "TenancyConfig",
    "TenantConfig",
    "TierConfig",
    "known_tiers",
    "parse_quantity",
    "release_issue",
    "resolve_tier",
    "tenant_issues",
    "unknown_tier_message",
]
