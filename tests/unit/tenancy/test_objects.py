"""What a Tenant creates, field by field (pure builders)."""

from __future__ import annotations

import pytest

from helm_enterprise.config import validate_model
from helm_enterprise.config.tenant import BUILTIN_TIERS, TenantConfig
from helm_enterprise.tenancy import objects

T = validate_model(
    TenantConfig,
    {
        "name": "alpha",
        "namespaces": ["alpha-web"],
        "groups": {"devs": "edit", "leads": "admin", "auditors": "view", "ops": "edit"},
        "labels": {"cost-center": "4711", "helm-enterprise.io/tenant": "spoofed"},
        "network": {"allowIngressFrom": ["ingress-nginx"]},
    },
)


def verbs(level: str, group: str, resource: str) -> set[str]:
    out: set[str] = set()
    for rule in objects.role_rules(level):  # type: ignore[arg-type]
        if group in rule["apiGroups"] and resource in rule["resources"]:
            out |= set(rule["verbs"])
    return out


@pytest.mark.parametrize(
    ("level", "group", "resource", "allowed"),
    [
        ("view", "apps", "deployments", {"get", "list", "watch"}),
        ("view", "", "secrets", set()),  # viewers do not read secrets
        ("edit", "", "secrets", {"get", "list", "watch", "create", "update", "patch", "delete"}),
        ("edit", "apps", "deployments", {"create", "delete", "patch"}),
        # The tenant's boundary is the platform's: read-only for every level.
        ("edit", "networking.k8s.io", "networkpolicies", {"get", "list", "watch"}),
        ("admin", "networking.k8s.io", "networkpolicies", {"get", "list", "watch"}),
        ("admin", "", "resourcequotas", {"get", "list", "watch"}),
        ("admin", "", "limitranges", {"get", "list", "watch"}),
        ("edit", "rbac.authorization.k8s.io", "rolebindings", set()),
        ("admin", "rbac.authorization.k8s.io", "rolebindings", {"create", "delete"}),
        ("admin", "", "namespaces", set()),
    ],
)
def test_role_rules(level: str, group: str, resource: str, allowed: set[str]) -> None:
    got = verbs(level, group, resource)
    if allowed:
        assert allowed <= got, got
    else:
        assert got == set()
    if resource in ("networkpolicies", "resourcequotas", "limitranges"):
        assert not got & {"create", "update", "patch", "delete", "deletecollection"}


def test_groups_by_level_are_sorted() -> None:
    assert objects.groups_by_level(T) == {
        "view": ["auditors"],
        "edit": ["devs", "ops"],
        "admin": ["leads"],
    }
    subjects = objects.role_binding_subjects(["devs"])
    assert subjects == [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"}]


def test_namespace_labels_pss_restricted_and_ownership_wins() -> None:
    labels = objects.namespace_labels(T, {"helm-enterprise.io/tenant": "alpha"})
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    assert labels["cost-center"] == "4711"
    assert labels["helm-enterprise.io/tenant"] == "alpha"  # a user label cannot spoof it
    baseline = T.model_copy(update={"pod_security": "baseline"})
    assert objects.namespace_labels(baseline, {})["pod-security.kubernetes.io/enforce"] == (
        "baseline"
    )


def test_quota_and_limit_range() -> None:
    tier = BUILTIN_TIERS["medium"]
    assert objects.quota_spec(tier)["hard"]["requests.cpu"] == "8"
    (item,) = objects.limit_range_spec(tier)["limits"]
    assert item["type"] == "Container"
    assert item["defaultRequest"] == {"cpu": "100m", "memory": "128Mi"}
    assert "min" not in item  # empty sections are left out


def test_network_policies() -> None:
    assert objects.deny_all_spec() == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    allow = objects.allow_tenant_spec(T)
    sources = allow["ingress"][0]["from"]
    assert {"namespaceSelector": {"matchLabels": {"helm-enterprise.io/tenant": "alpha"}}} in sources
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
    } in sources
    dns = allow["egress"][1]
    assert dns["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    no_dns = T.model_copy(update={"network": T.network.model_copy(update={"allow_dns": False})})
    assert len(objects.allow_tenant_spec(no_dns)["egress"]) == 1


def test_storage_policy() -> None:
    fast = T.model_copy(update={"allowed_storage_classes": ["fast", "standard"]})
    spec = objects.storage_policy_spec(fast)
    (validation,) = spec["validations"]
    assert validation["expression"] == (
        "has(object.spec.storageClassName) && object.spec.storageClassName in ['fast', 'standard']"
    )
    assert spec["matchConstraints"]["resourceRules"][0]["resources"] == ["persistentvolumeclaims"]
    none = T.model_copy(update={"allowed_storage_classes": []})
    assert objects.storage_policy_spec(none)["validations"][0]["expression"] == "false"
    binding = objects.storage_binding_spec(fast)
    assert binding["policyName"] == "helm-enterprise-tenant-alpha-storage"
    assert binding["matchResources"]["namespaceSelector"]["matchLabels"] == {
        "helm-enterprise.io/tenant": "alpha"
    }
