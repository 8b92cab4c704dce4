"""What a tenant namespace contains, as plain Kubernetes object fields (pure).

The Tenant component turns these into Pulumi resources; keeping them here makes them
testable without Pulumi and readable in one place:

* namespace labels: ownership, the tenant, Pod Security Standard (enforce/audit/warn);
* ResourceQuota ``spec.hard`` from the tier; the LimitRange of containers;
* NetworkPolicies: deny all ingress and egress, then allow the tenant's own namespaces,
  cluster DNS and the namespaces named in ``network.allowIngressFrom``;
* Roles per level (``view`` < ``edit`` < ``admin``). They are written out here rather than
  binding Kubernetes' built-in ``edit``/``admin`` ClusterRoles, which let the holder
  delete NetworkPolicies — the tenant's isolation — in their namespace;
* a ValidatingAdmissionPolicy limiting PersistentVolumeClaims to the allowed storage
  classes (ResourceQuota can cap known classes, not allow-list them).
"""

from __future__ import annotations

from typing import Any

from helm_enterprise.config.tenant import RoleLevel, TenantConfig, TierConfig
from helm_enterprise.ownership import LABEL_TENANT, label_value

PSS_PREFIX = "pod-security.kubernetes.io"
ROLE_LEVELS: tuple[RoleLevel, ...] = ("view", "edit", "admin")

_READ = ["get", "list", "watch"]
_WRITE = ["create", "update", "patch", "delete", "deletecollection"]

# (apiGroup, resources) a tenant may read at every level. No Secrets: reading them is edit.
_VIEWABLE: list[tuple[str, list[str]]] = [
    (
        "",
        [
            "pods",
            "pods/log",
            "services",
            "endpoints",
            "configmaps",
            "persistentvolumeclaims",
            "events",
            "serviceaccounts",
            "replicationcontrollers",
            "resourcequotas",
            "limitranges",
        ],
    ),
    ("apps", ["deployments", "replicasets", "statefulsets", "daemonsets"]),
    ("batch", ["jobs", "cronjobs"]),
    ("autoscaling", ["horizontalpodautoscalers"]),
    ("networking.k8s.io", ["ingresses", "networkpolicies"]),
    ("policy", ["poddisruptionbudgets"]),
    ("discovery.k8s.io", ["endpointslices"]),
]
# What ``edit`` may change. Not ResourceQuotas, LimitRanges or NetworkPolicies: those are
# the tenant's boundary and belong to the platform.
_EDITABLE: list[tuple[str, list[str]]] = [
    (
        "",
        [
            "pods",
            "services",
            "configmaps",
            "secrets",
            "persistentvolumeclaims",
            "serviceaccounts",
            "replicationcontrollers",
        ],
    ),
    (
        "apps",
        [
            "deployments",
            "deployments/scale",
            "replicasets",
            "replicasets/scale",
            "statefulsets",
            "statefulsets/scale",
            "daemonsets",
        ],
    ),
    ("batch", ["jobs", "cronjobs"]),
    ("autoscaling", ["horizontalpodautoscalers"]),
    ("networking.k8s.io", ["ingresses"]),
    ("policy", ["poddisruptionbudgets"]),
]


def role_name(tenant: str, level: RoleLevel) -> str:
    return f"tenant-{tenant}-{level}"


def role_rules(level: RoleLevel) -> list[dict[str, Any]]:
    """PolicyRules of a tenant role; each level includes the ones below it."""
    rules: list[dict[str, Any]] = [
        {"apiGroups": [group], "resources": resources, "verbs": list(_READ)}
        for group, resources in _VIEWABLE
    ]
    if level in ("edit", "admin"):
        rules += [
            {"apiGroups": [group], "resources": resources, "verbs": [*_READ, *_WRITE]}
            for group, resources in _EDITABLE
        ]
        rules.append(
            {
                "apiGroups": [""],
                "resources": ["pods/exec", "pods/portforward", "pods/attach"],
                "verbs": ["create", "get"],
            }
        )
    if level == "admin":
        # RBAC's escalation check still applies: an admin can grant only what it holds.
        rules.append(
            {
                "apiGroups": ["rbac.authorization.k8s.io"],
                "resources": ["roles", "rolebindings"],
                "verbs": [*_READ, *_WRITE],
            }
        )
    return rules


def groups_by_level(tenant: TenantConfig) -> dict[RoleLevel, list[str]]:
    """Levels in use → their groups (sorted, so the objects do not churn)."""
    out: dict[RoleLevel, list[str]] = {}
    for level in ROLE_LEVELS:
        groups = sorted(g for g, lvl in tenant.groups.items() if lvl == level)
        if groups:
            out[level] = groups
    return out


def role_binding_subjects(groups: list[str]) -> list[dict[str, str]]:
    return [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": g} for g in groups]


def namespace_labels(tenant: TenantConfig, ownership: dict[str, str]) -> dict[str, str]:
    """Labels of a tenant namespace: the user's, then ownership and Pod Security (which the
    user's labels cannot override)."""
    level = tenant.pod_security
    return {
        **tenant.labels,
        **ownership,
        f"{PSS_PREFIX}/enforce": level,
        f"{PSS_PREFIX}/enforce-version": "latest",
        f"{PSS_PREFIX}/audit": level,
        f"{PSS_PREFIX}/warn": level,
    }


def quota_spec(tier: TierConfig) -> dict[str, Any]:
    return {"hard": dict(sorted(tier.quota.items()))}


def limit_range_spec(tier: TierConfig) -> dict[str, Any]:
    lr = tier.effective_limit_range()
    item: dict[str, Any] = {"type": "Container"}
    for key, values in (
        ("default", lr.default),
        ("defaultRequest", lr.default_request),
        ("max", lr.max),
        ("min", lr.min),
    ):
        if values:
            item[key] = dict(sorted(values.items()))
    return {"limits": [item]}


def _tenant_selector(tenant: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {LABEL_TENANT: label_value(tenant)}}}


def _namespace_selector(namespace: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}


def deny_all_spec() -> dict[str, Any]:
    """Selects every pod, allows nothing: the baseline of a tenant namespace."""
    return {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def allow_tenant_spec(tenant: TenantConfig) -> dict[str, Any]:
    """Traffic among the tenant's namespaces, to cluster DNS, and in from the namespaces the
    tenant names (policies are additive, so this opens exactly these paths)."""
    sources = [_tenant_selector(tenant.name)] + [
        _namespace_selector(ns) for ns in tenant.network.allow_ingress_from
    ]
    egress: list[dict[str, Any]] = [{"to": [_tenant_selector(tenant.name)]}]
    if tenant.network.allow_dns:
        egress.append(
            {
                "to": [_namespace_selector("kube-system")],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            }
        )
    return {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{"from": sources}],
        "egress": egress,
    }


def storage_policy_name(tenant: str) -> str:
    return f"helm-enterprise-tenant-{tenant}-storage"


def storage_policy_spec(tenant: TenantConfig) -> dict[str, Any]:
    """ValidatingAdmissionPolicy: PVCs created in the tenant's namespaces must name an
    allowed class (also those a StatefulSet creates; the default class is filled in by
    admission before this runs)."""
    allowed = tenant.allowed_storage_classes or []
    if allowed:
        # Class names are validated DNS subdomains: safe inside a CEL string literal.
        listed = ", ".join(f"'{sc}'" for sc in allowed)
        expression = (
            f"has(object.spec.storageClassName) && object.spec.storageClassName in [{listed}]"
        )
        message = f"tenant {tenant.name} may use storage classes: {', '.join(allowed)}"
    else:
        expression = "false"
        message = f"tenant {tenant.name} may not create PersistentVolumeClaims"
    return {
        "failurePolicy": "Fail",
        "matchConstraints": {
            "resourceRules": [
                {
                    "apiGroups": [""],
                    "apiVersions": ["v1"],
                    "operations": ["CREATE"],
                    "resources": ["persistentvolumeclaims"],
                }
            ]
        },
        "validations": [{"expression": expression, "message": message}],
    }


def storage_binding_spec(tenant: TenantConfig) -> dict[str, Any]:
    return {
        "policyName": storage_policy_name(tenant.name),
        "validationActions": ["Deny"],
        "matchResources": {
            "namespaceSelector": {"matchLabels": {LABEL_TENANT: label_value(tenant.name)}}
        },
    }
