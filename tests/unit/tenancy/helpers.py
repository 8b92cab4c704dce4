"""Tenants, tiers and rendered objects shared by the tenancy tests."""

from __future__ import annotations

from typing import Any

from helm_enterprise.config import validate_model
from helm_enterprise.config.tenant import BUILTIN_TIERS, TenantConfig
from helm_enterprise.validation import Finding

ALPHA = validate_model(
    TenantConfig,
    {
        "name": "alpha",
        "namespaces": ["alpha-web", "alpha-jobs"],
        "tier": "small",
        "allowedStorageClasses": ["fast"],
    },
)
BETA = validate_model(TenantConfig, {"name": "beta", "namespaces": ["beta-web"]})
SMALL = BUILTIN_TIERS["small"]  # requests.cpu 2, requests.memory 4Gi, pods 20, 5 PVCs, 20Gi


def obj(kind: str, name: str = "x", namespace: str | None = "alpha-web", **spec: Any) -> dict:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "v1", "kind": kind, "metadata": meta, "spec": spec}


def container(
    cpu: str | None = None, memory: str | None = None, limits: dict[str, str] | None = None
) -> dict:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    return {"name": "c", "resources": {"requests": requests, "limits": limits or {}}}


def deployment(replicas: int, *containers: dict, name: str = "web", **meta: Any) -> dict:
    return obj(
        "Deployment",
        name,
        replicas=replicas,
        template={"spec": {"containers": list(containers)}},
        **meta,
    )


def messages(findings: list[Finding]) -> list[str]:
    return [f"{f.severity} {f.field}: {f.message}" for f in findings]
