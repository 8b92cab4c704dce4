"""The tenancy checks (T2.2): pure functions over config, rendered objects and observations.

Each returns :class:`~helm_enterprise.validation.Finding` objects (check ``tenancy``); the
callers decide what an error means (the Release component raises before any Helm work,
``helm-enterprise validate`` prints them). Messages name objects, fields and quota keys,
never a value of the release's values (which may be secret); quantities computed from
resource requests are not secret.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from helm_enterprise.config.release import ReleaseConfig
from helm_enterprise.config.tenant import (
    TenantConfig,
    release_issue,
)
from helm_enterprise.kube.kinds import CLUSTER_SCOPED, object_path
from helm_enterprise.ownership import (
    LABEL_MANAGED_BY,
    LABEL_PROJECT,
    LABEL_STACK,
    LABEL_TENANT,
    MANAGED_BY,
    label_value,
)
from helm_enterprise.validation import Finding

CHECK = "tenancy"
LABEL_TENANT_RESOURCE = "helm-enterprise.io/tenant-resource"
"""On tenant namespaces: the name of the Tenant component that created them. With the
project and stack labels it says which Tenant of which stack a namespace came from, which
is how a changed tenant identity is recognised (:func:`check_identity`)."""


def tenant_labels(project: str, stack: str, resource_name: str, tenant: str) -> dict[str, str]:
    """Ownership labels of every object a Tenant creates (no release: a tenant is not one)."""
    return {
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_PROJECT: label_value(project),
        LABEL_STACK: label_value(stack),
        LABEL_TENANT: label_value(tenant),
        LABEL_TENANT_RESOURCE: label_value(resource_name),
    }


def quota_name(tenant: str) -> str:
    """Name of the ResourceQuota (and LimitRange) in each tenant namespace."""
    return f"tenant-{tenant}"


def _at(field: str, sub: str) -> str:
    return f"{field}.{sub}" if field else sub


# -- release config -------------------------------------------------------------------------


def check_release_namespace(
    cfg: ReleaseConfig, tenants: Mapping[str, TenantConfig], field: str = ""
) -> list[Finding]:
    """A release declared for a tenant targets one of its namespaces (and a tenant's
    namespace is only targeted by releases declared for it)."""
    issue = release_issue(field, cfg.namespace, cfg.tenant, cfg.create_namespace, dict(tenants))
    if issue is None:
        return []
    path, message = issue
    return [Finding("error", CHECK, cfg.name, path, message)]


# -- live namespaces (tenant identity) -----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LiveNamespace:
    """A namespace as the cluster has it: name and labels."""

    name: str
    labels: Mapping[str, str]


def check_identity(
    tenant: TenantConfig,
    resource_name: str,
    project: str,
    stack: str,
    live: Iterable[LiveNamespace],
    field: str = "",
) -> list[Finding]:
    """Compare a Tenant's config with the namespaces in the cluster.

    * a namespace this stack created for another tenant name, that this Tenant created
      earlier (same component) or wants now: the identity changed (a rename, or a tenant's
      namespace handed to another) — an error at ``name``. Both would make Pulumi replace
      the namespace and everything in it;
    * one of the tenant's namespaces owned by a tenant of another stack, managed by
      another stack, or not created by a Tenant at all: an error at ``namespaces[i]``.
    """
    findings: list[Finding] = []
    this_stack = {
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_PROJECT: label_value(project),
        LABEL_STACK: label_value(stack),
    }
    wanted = {ns: i for i, ns in enumerate(tenant.namespaces)}
    me = label_value(tenant.name)
    renamed: dict[str, list[str]] = {}
    for ns in sorted(live, key=lambda n: n.name):
        labels = dict(ns.labels)
        theirs = labels.get(LABEL_TENANT)
        ours = all(labels.get(k) == v for k, v in this_stack.items())
        same_resource = ours and labels.get(LABEL_TENANT_RESOURCE) == label_value(resource_name)
        if ours and theirs is not None and theirs != me and (same_resource or ns.name in wanted):
            renamed.setdefault(theirs, []).append(ns.name)
            continue
        if ns.name not in wanted:
            continue
        where = _at(field, f"namespaces[{wanted[ns.name]}]")
        owner = f"{labels.get(LABEL_PROJECT, '?')}/{labels.get(LABEL_STACK, '?')}"
        if labels.get(LABEL_MANAGED_BY) != MANAGED_BY or theirs is None:
            findings.append(
                Finding(
                    "error",
                    CHECK,
                    tenant.name,
                    where,
                    f"namespace {ns.name!r} already exists and was not created by a "
                    "helm-enterprise Tenant",
                    "choose another namespace, or delete it (or the release that created it) first",
                )
            )
        elif theirs != me:
            findings.append(
                Finding(
                    "error",
                    CHECK,
                    tenant.name,
                    where,
                    f"namespace {ns.name!r} belongs to tenant {theirs!r} (stack {owner})",
                    "choose a namespace no other tenant owns",
                )
            )
        elif not ours:
            findings.append(
                Finding(
                    "error",
                    CHECK,
                    tenant.name,
                    where,
                    f"namespace {ns.name!r} of tenant {theirs!r} is managed by stack {owner}",
                    "declare each tenant in one stack only",
                )
            )
    for old, namespaces in sorted(renamed.items(), reverse=True):
        findings.insert(
            0,
            Finding(
                "error",
                CHECK,
                tenant.name,
                _at(field, "name"),
                f"a tenant's identity is immutable: {', '.join(namespaces)} was created by "
                f"this stack for tenant {old!r}; as tenant {tenant.name!r} every such "
                "namespace would be replaced and what runs there deleted",
                f"keep name: {old}, or declare a new tenant with new namespaces",
            ),
        )
    return findings


def check_untenanted_release(
    cfg: ReleaseConfig, live: LiveNamespace | None, field: str = ""
) -> Finding | None:
    """A release declared for no tenant, whose namespace the cluster labels as a tenant's
    (a Tenant of another stack created it): a warning, not an error — platform tooling may
    belong there — but never silent: none of the tenant's checks (namespaces, quota,
    objects) apply to such a release, and it runs next to the tenant's workloads."""
    if cfg.tenant is not None or live is None:
        return None
    labels = dict(live.labels)
    theirs = labels.get(LABEL_TENANT)
    if not theirs:
        return None
    owner = f"{labels.get(LABEL_PROJECT, '?')}/{labels.get(LABEL_STACK, '?')}"
    return Finding(
        "warning",
        CHECK,
        cfg.name,
        _at(field, "namespace"),
        f"namespace {live.name!r} belongs to tenant {theirs!r} (stack {owner}), but this "
        "release declares no tenant: the tenant's checks do not apply to it",
        f"declare it with tenant: {theirs} in the stack that declares the tenant, or "
        "choose another namespace",
    )


# -- rendered objects --------------------------------------------------------------------


def kind_of(obj: Mapping[str, Any]) -> str:
    """A rendered object's kind (empty when it has none)."""
    return str(obj.get("kind") or "")


def meta_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """A rendered object's metadata (empty when it has none)."""
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def describe(obj: Mapping[str, Any]) -> str:
    """``Kind/name`` (``Kind/namespace/name`` for namespaced objects)."""
    meta = meta_of(obj)
    ns = meta.get("namespace")
    return object_path(kind_of(obj), ns, str(meta.get("name", "?")))


def is_cluster_scoped(obj: Mapping[str, Any]) -> bool:
    """Cluster-scoped kind, or an object the provider left without a namespace (it sets
    the release namespace on every namespaced kind, including unknown custom resources)."""
    return kind_of(obj) in CLUSTER_SCOPED or not meta_of(obj).get("namespace")


def pvc_specs(obj: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any], int]]:
    """(where, PVC spec, how many) for a PVC or a StatefulSet's volumeClaimTemplates."""
    kind = kind_of(obj)
    spec = obj.get("spec") or {}
    if kind == "PersistentVolumeClaim":
        return [(describe(obj), spec, 1)]
    if kind == "StatefulSet":
        replicas = as_int(spec.get("replicas"), 1)
        return [
            (f"{describe(obj)} volumeClaimTemplates[{i}]", t.get("spec") or {}, replicas)
            for i, t in enumerate(spec.get("volumeClaimTemplates") or [])
            if isinstance(t, Mapping)
        ]
    return []


def as_int(value: object, default: int) -> int:
    """A whole number from a rendered object's field, ``default`` when it is none."""
    # Objects that crossed Pulumi's RPC (the provider's render, transforms) carry every
    # number as a float.
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return default


def check_object(
    obj: Mapping[str, Any], release: str, tenant: TenantConfig, field: str = "objects"
) -> list[Finding]:
    """One rendered object of a tenant's release: stays in the tenant's namespaces, is not
    cluster-scoped, and claims storage only from the tenant's allowed classes."""
    where = f"{field}[{describe(obj)}]"
    if is_cluster_scoped(obj):
        return [
            Finding(
                "error",
                CHECK,
                release,
                where,
                f"the chart renders a cluster-scoped {kind_of(obj) or 'object'}; a tenant's "
                "release may only create namespaced objects",
                "disable it in the chart's values or have the platform team install it",
            )
        ]
    ns = str(meta_of(obj).get("namespace"))
    if ns not in tenant.namespaces:
        return [
            Finding(
                "error",
                CHECK,
                release,
                where,
                f"namespace {ns!r} is outside tenant {tenant.name!r}; allowed: "
                f"{', '.join(tenant.namespaces)}",
                "check namespace overrides in the chart's values",
            )
        ]
    findings: list[Finding] = []
    allowed = tenant.allowed_storage_classes
    if allowed is not None:
        for what, spec, _ in pvc_specs(obj):
            sc = spec.get("storageClassName")
            if sc is None:
                findings.append(
                    Finding(
                        "warning",
                        CHECK,
                        release,
                        f"{field}[{what}]",
                        "no storageClassName: the cluster's default class is used; it must "
                        f"be one of {', '.join(allowed) or 'none'}",
                    )
                )
            elif sc not in allowed:
                findings.append(
                    Finding(
                        "error",
                        CHECK,
                        release,
                        f"{field}[{what}]",
                        f"storage class {sc!r} is not allowed for tenant {tenant.name!r}; "
                        f"allowed: {', '.join(allowed) or 'none'}",
                    )
                )
    return findings
