"""The tenancy quota check (T2.2): what a tenant's release needs against its tier.

Pure functions over rendered objects: requests x replicas, pods, claims, storage, services
and object counts per namespace against the tier's ResourceQuota, and each container
against the LimitRange's max, after the API server's defaulting. Apart from
:mod:`~helm_enterprise.tenancy.checks` because this half models Kubernetes' quota
accounting (aliases, object-count keys, storage-class scoped keys, init containers) while
that one checks where objects go; both return
:class:`~helm_enterprise.validation.Finding` objects of check ``tenancy``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from helm_enterprise.config.tenant import (
    LimitRangeSpec,
    TenantConfig,
    TierConfig,
    parse_quantity,
)
from helm_enterprise.tenancy.checks import (
    CHECK,
    as_int,
    check_object,
    describe,
    is_cluster_scoped,
    kind_of,
    meta_of,
    pvc_specs,
    quota_name,
)
from helm_enterprise.validation import Finding

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


def _pod_spec(obj: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, int | None]:
    """(pod spec, pods at once) of a pod-creating object; (None, None) for other kinds,
    (spec, None) when the count is not computable (DaemonSet: one per node)."""
    kind, spec = kind_of(obj), obj.get("spec") or {}
    if not isinstance(spec, Mapping):
        return None, None
    template = (spec.get("template") or {}).get("spec")
    if kind == "Pod":
        return spec, 1
    if kind in _REPLICATED:
        return template, as_int(spec.get("replicas"), 1)
    if kind == "Job":
        return template, as_int(spec.get("parallelism"), 1)
    if kind == "CronJob":
        job = (spec.get("jobTemplate") or {}).get("spec") or {}
        return (job.get("template") or {}).get("spec"), as_int(job.get("parallelism"), 1)
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
        ns = str(meta_of(obj).get("namespace") or "")
        if not ns:
            continue
        kind = kind_of(obj)
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
        for what, spec, n in pvc_specs(obj):
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
