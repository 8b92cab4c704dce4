"""The tenancy checks (T2.2): pure functions over config, rendered objects and observations.

Each returns :class:`~helm_enterprise.validation.Finding` objects (check ``tenancy``); the
callers decide what an error means (the Release component raises before any Helm work,
``helm-enterprise validate`` prints them). Messages name objects, fields and quota keys,
never a value of the release's values (which may be secret); quantities computed from
resource requests are not secret.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from helm_enterprise.config.release import ReleaseConfig
from helm_enterprise.config.tenant import (
    LimitRangeSpec,
    TenantConfig,
    TierConfig,
    parse_quantity,
    release_issue,
)
from helm_enterprise.kube.kinds import CLUSTER_SCOPED
from helm_enterprise.kube.ownership import (
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

_REPLICATED = frozenset({"Deployment", "ReplicaSet", "StatefulSet", "ReplicationController"})
# ResourceQuota keys that count objects of a kind (object-count quota).
_COUNTED = {
    "services": "Service",
    "configmaps": "ConfigMap",
    "secrets": "Secret",
    "persistentvolumeclaims": "PersistentVolumeClaim",
    "replicationcontrollers": "ReplicationController",
    "resourcequotas": "ResourceQuota",
}
# Bare `cpu`/`memory` quota keys mean requests (Kubernetes' own alias).
_REQUEST_ALIASES = {"cpu": "requests.cpu", "memory": "requests.memory"}
_STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"


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


def _kind(obj: Mapping[str, Any]) -> str:
    return str(obj.get("kind") or "")


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def describe(obj: Mapping[str, Any]) -> str:
    """``Kind/name`` (``Kind/namespace/name`` for namespaced objects)."""
    meta = _meta(obj)
    ns = meta.get("namespace")
    return f"{_kind(obj)}/{f'{ns}/' if ns else ''}{meta.get('name', '?')}"


def is_cluster_scoped(obj: Mapping[str, Any]) -> bool:
    """Cluster-scoped kind, or an object the provider left without a namespace (it sets
    the release namespace on every namespaced kind, including unknown custom resources)."""
    return _kind(obj) in CLUSTER_SCOPED or not _meta(obj).get("namespace")


def _pvc_specs(obj: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any], int]]:
    """(where, PVC spec, how many) for a PVC or a StatefulSet's volumeClaimTemplates."""
    kind = _kind(obj)
    spec = obj.get("spec") or {}
    if kind == "PersistentVolumeClaim":
        return [(describe(obj), spec, 1)]
    if kind == "StatefulSet":
        replicas = _int(spec.get("replicas"), 1)
        return [
            (f"{describe(obj)} volumeClaimTemplates[{i}]", t.get("spec") or {}, replicas)
            for i, t in enumerate(spec.get("volumeClaimTemplates") or [])
            if isinstance(t, Mapping)
        ]
    return []


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
                f"the chart renders a cluster-scoped {_kind(obj) or 'object'}; a tenant's "
                "release may only create namespaced objects",
                "disable it in the chart's values or have the platform team install it",
            )
        ]
    ns = str(_meta(obj).get("namespace"))
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
        for what, spec, _ in _pvc_specs(obj):
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


# -- requests x replicas against the tier ----------------------------------------------------


def _int(value: object, default: int) -> int:
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


def _pod_spec(obj: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, int | None]:
    """(pod spec, pods at once) of a pod-creating object; (None, None) for other kinds,
    (spec, None) when the count is not computable (DaemonSet: one per node)."""
    kind, spec = _kind(obj), obj.get("spec") or {}
    if not isinstance(spec, Mapping):
        return None, None
    template = (spec.get("template") or {}).get("spec")
    if kind == "Pod":
        return spec, 1
    if kind in _REPLICATED:
        return template, _int(spec.get("replicas"), 1)
    if kind == "Job":
        return template, _int(spec.get("parallelism"), 1)
    if kind == "CronJob":
        job = (spec.get("jobTemplate") or {}).get("spec") or {}
        return (job.get("template") or {}).get("spec"), _int(job.get("parallelism"), 1)
    if kind == "DaemonSet":
        return template, None
    return None, None


def _plural(kind: str) -> str:
    """The resource name of a kind, as ``count/<resource>`` quota keys spell it."""
    low = kind.lower()
    if low.endswith(("s", "x", "ch", "sh")):
        return f"{low}es"
    if low.endswith("y") and low[-2:-1] not in "aeiou":
        return f"{low[:-1]}ies"
    return f"{low}s"


def _container_amount(
    container: Mapping[str, Any], kind: str, resource: str, lr: LimitRangeSpec
) -> Decimal | None:
    """What one container requests (``kind='requests'``) or is limited to, after the API
    server's defaulting (request := limit) and the LimitRange defaults. Zero when nothing
    sets it (as for extended resources a container does not use); None when unparseable."""
    res = container.get("resources") or {}
    requests, limits = res.get("requests") or {}, res.get("limits") or {}
    try:
        if kind == "requests":
            if resource in requests:
                return parse_quantity(requests[resource])
            if resource in limits:
                return parse_quantity(limits[resource])
            default = lr.default_request.get(resource) or lr.default.get(resource)
        else:
            if resource in limits:
                return parse_quantity(limits[resource])
            default = lr.default.get(resource)
    except ValueError:
        return None
    return parse_quantity(default) if default is not None else Decimal(0)


def _pod_amount(
    pod: Mapping[str, Any], kind: str, resource: str, lr: LimitRangeSpec
) -> Decimal | None:
    """A pod's effective amount: the larger of its containers' sum and its largest init
    container (pod overhead and sidecar init containers are not modelled)."""
    containers = [c for c in pod.get("containers") or [] if isinstance(c, Mapping)]
    inits = [c for c in pod.get("initContainers") or [] if isinstance(c, Mapping)]
    total = Decimal(0)
    for c in containers:
        amount = _container_amount(c, kind, resource, lr)
        if amount is None:
            return None
        total += amount
    for c in inits:
        amount = _container_amount(c, kind, resource, lr)
        if amount is None:
            return None
        total = max(total, amount)
    return total


@dataclasses.dataclass
class Usage:
    """What a set of objects needs of one quota key, and which objects contribute."""

    total: Decimal = Decimal(0)
    parts: list[str] = dataclasses.field(default_factory=list)

    def add(self, amount: Decimal, what: str) -> None:
        self.total += amount
        self.parts.append(what)


def _fmt(value: Decimal, key: str) -> str:
    """A quantity for a message: bytes in Mi/Gi, CPU in cores or millicores."""
    if key.endswith(("memory", "storage", "ephemeral-storage")):
        for unit, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
            if value >= size:
                scaled = value / size
                return f"{scaled.normalize():f}{unit}"
        return f"{value.normalize():f}"
    if key.endswith("cpu") and value < 1 and value != 0:
        return f"{(value * 1000).normalize():f}m"
    return f"{value.normalize():f}"


def quota_usage(
    objects: Sequence[Mapping[str, Any]], tier: TierConfig
) -> tuple[dict[tuple[str, str], Usage], list[str]]:
    """What the objects need, per (namespace, quota key) of the tier's quota, and the
    objects whose needs are not computable (DaemonSets, unparseable amounts)."""
    lr = tier.effective_limit_range()
    usage: dict[tuple[str, str], Usage] = {}
    unknown: list[str] = []
    keys = list(tier.quota)

    def add(ns: str, key: str, amount: Decimal, what: str) -> None:
        usage.setdefault((ns, key), Usage()).add(amount, what)

    for obj in objects:
        ns = str(_meta(obj).get("namespace") or "")
        if not ns:
            continue
        kind = _kind(obj)
        pod, count = _pod_spec(obj)
        if pod is not None:
            if count is None:
                unknown.append(describe(obj))
            else:
                for key in keys:
                    real = _REQUEST_ALIASES.get(key, key)
                    if key == "pods":
                        add(ns, key, Decimal(count), f"{describe(obj)}: {count} pod(s)")
                        continue
                    head, _, resource = real.partition(".")
                    if head not in ("requests", "limits") or resource in ("storage", ""):
                        continue
                    per_pod = _pod_amount(pod, head, resource, lr)
                    if per_pod is None:
                        unknown.append(f"{describe(obj)} ({real})")
                        continue
                    if per_pod:
                        add(
                            ns,
                            key,
                            per_pod * count,
                            f"{describe(obj)}: {count} x {_fmt(per_pod, key)}",
                        )
        for key in keys:
            counted = _COUNTED.get(key) == kind or key.split(".", 1)[0] == f"count/{_plural(kind)}"
            if counted:
                add(ns, key, Decimal(1), describe(obj))
        if kind == "Service":
            svc_type = (obj.get("spec") or {}).get("type")
            if svc_type == "LoadBalancer" and "services.loadbalancers" in keys:
                add(ns, "services.loadbalancers", Decimal(1), describe(obj))
            if svc_type in ("LoadBalancer", "NodePort") and "services.nodeports" in keys:
                ports = len((obj.get("spec") or {}).get("ports") or []) or 1
                add(ns, "services.nodeports", Decimal(ports), describe(obj))
        for what, spec, n in _pvc_specs(obj):
            size = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
            try:
                amount = parse_quantity(size) if size is not None else Decimal(0)
            except ValueError:
                unknown.append(f"{what} (storage)")
                amount = None
            sc = spec.get("storageClassName")
            for key in keys:
                if _STORAGE_CLASS_SUFFIX in key:
                    cls, _, base = key.partition(_STORAGE_CLASS_SUFFIX)
                    if cls != sc:
                        continue
                elif key == "persistentvolumeclaims" and kind == "PersistentVolumeClaim":
                    continue  # counted as an object above
                else:
                    base = key
                if base == "persistentvolumeclaims":
                    add(ns, key, Decimal(n), f"{what}: {n} claim(s)")
                elif base == "requests.storage" and amount is not None:
                    add(ns, key, amount * n, f"{what}: {n} x {_fmt(amount, key)}")
    return usage, unknown


def check_quota(
    objects: Sequence[Mapping[str, Any]],
    release: str,
    tenant: TenantConfig,
    tier: TierConfig,
    field: str = "quota",
) -> list[Finding]:
    """What the release's objects need (requests x replicas, pods, claims, storage,
    services ...) against the tier's ResourceQuota of each namespace, and each container
    against the LimitRange's max. Counts this release only: other workloads in the
    namespace are the quota admission's business at apply time."""
    findings: list[Finding] = []
    usage, unknown = quota_usage(objects, tier)
    quota = quota_name(tenant.name)
    for (ns, key), used in sorted(usage.items()):
        hard = parse_quantity(tier.quota[key])
        if used.total > hard:
            parts = "; ".join(used.parts[:4]) + ("; ..." if len(used.parts) > 4 else "")
            findings.append(
                Finding(
                    "error",
                    CHECK,
                    release,
                    f"{field}.{key}",
                    f"exceeds ResourceQuota {ns}/{quota} (tier {tenant.tier_name}): the "
                    f"release needs {key} {_fmt(used.total, key)}, the quota allows "
                    f"{_fmt(hard, key)} ({parts})",
                    "lower replicas or requests, or move the tenant to a larger tier",
                )
            )
    findings += _check_container_max(objects, release, tenant, tier, field)
    if unknown:
        findings.append(
            Finding(
                "info",
                CHECK,
                release,
                field,
                f"not counted against the quota (not computable): {', '.join(unknown[:5])}"
                + (" ..." if len(unknown) > 5 else ""),
            )
        )
    return findings


def _check_container_max(
    objects: Sequence[Mapping[str, Any]],
    release: str,
    tenant: TenantConfig,
    tier: TierConfig,
    field: str,
) -> list[Finding]:
    lr = tier.effective_limit_range()
    findings: list[Finding] = []
    for obj in objects:
        pod, _ = _pod_spec(obj)
        if pod is None:
            continue
        for c in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
            if not isinstance(c, Mapping):
                continue
            for resource, high in lr.max.items():
                for kind in ("limits", "requests"):
                    amount = _container_amount(c, kind, resource, lr)
                    if amount is not None and amount > parse_quantity(high):
                        findings.append(
                            Finding(
                                "error",
                                CHECK,
                                release,
                                f"{field}.limitRange.max.{resource}",
                                f"container {c.get('name', '?')!r} of {describe(obj)} "
                                f"{'requests' if kind == 'requests' else 'is limited to'} "
                                f"{resource} {_fmt(amount, resource)}, above the per-container "
                                f"max {high} of LimitRange {quota_name(tenant.name)} (tier "
                                f"{tenant.tier_name})",
                                "lower the container's resources",
                            )
                        )
                        break
    return findings


def check_rendered(
    objects: Sequence[Mapping[str, Any]],
    release: str,
    tenant: TenantConfig,
    tier: TierConfig,
) -> list[Finding]:
    """Every check of a tenant's rendered release: each object, then the quota."""
    findings: list[Finding] = []
    for obj in objects:
        findings += check_object(obj, release, tenant)
    inside = [o for o in objects if not is_cluster_scoped(o)]
    return findings + check_quota(inside, release, tenant, tier)
