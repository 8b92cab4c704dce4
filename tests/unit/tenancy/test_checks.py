"""The tenancy checks, table-style: config + rendered objects + observations in, findings out."""

from __future__ import annotations

from typing import Any

import pytest

from helm_enterprise.config import ReleaseConfig, validate_model
from helm_enterprise.config.tenant import BUILTIN_TIERS, TenantConfig, TierConfig
from helm_enterprise.tenancy import (
    LiveNamespace,
    check_identity,
    check_object,
    check_quota,
    check_release_namespace,
    check_rendered,
    tenant_labels,
)
from helm_enterprise.validation import Finding, errors

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


# -- release config ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace", "tenant", "create", "field", "fragment"),
    [
        ("alpha-web", "alpha", False, None, None),
        ("alpha-jobs", "alpha", False, None, None),
        ("elsewhere", None, False, None, None),  # no tenant, no tenant namespace: fine
        ("beta-web", "alpha", False, "releases[2].namespace", "it belongs to tenant 'beta'"),
        ("elsewhere", "alpha", False, "releases[2].namespace", "allowed: alpha-web, alpha-jobs"),
        ("alpha-web", "gamma", False, "releases[2].tenant", "allowed: alpha, beta"),
        ("beta-web", None, False, "releases[2].tenant", "belongs to tenant 'beta'"),
        ("alpha-web", "alpha", True, "releases[2].createNamespace", "created by tenant"),
    ],
)
def test_release_namespace(
    namespace: str, tenant: str | None, create: bool, field: str | None, fragment: str | None
) -> None:
    cfg = ReleaseConfig(
        name="web",
        namespace=namespace,
        tenant=tenant,
        create_namespace=create,
        chart={"path": "charts/hello"},
    )
    found = check_release_namespace(cfg, {"alpha": ALPHA, "beta": BETA}, "releases[2]")
    if field is None:
        assert found == []
    else:
        assert [f.field for f in found] == [field]
        assert fragment in found[0].message and found[0].check == "tenancy"


# -- rendered objects -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("o", "severity", "fragment"),
    [
        (obj("ConfigMap"), None, None),
        (obj("ConfigMap", namespace="alpha-jobs"), None, None),
        (obj("ClusterRole", namespace=None), "error", "cluster-scoped ClusterRole"),
        # Listed as cluster-scoped even when a namespace was (wrongly) set.
        (obj("Namespace", namespace="alpha-web"), "error", "cluster-scoped Namespace"),
        # An unknown kind the provider left without a namespace is cluster-scoped.
        (obj("ClusterIssuer", namespace=None), "error", "cluster-scoped ClusterIssuer"),
        (obj("Secret", namespace="beta-web"), "error", "'beta-web' is outside tenant 'alpha'"),
        (obj("Secret", namespace="kube-system"), "error", "allowed: alpha-web, alpha-jobs"),
        (obj("PersistentVolumeClaim", storageClassName="fast"), None, None),
        (obj("PersistentVolumeClaim", storageClassName="slow"), "error", "'slow' is not allowed"),
        (obj("PersistentVolumeClaim"), "warning", "default class"),
        (
            obj(
                "StatefulSet",
                replicas=3,
                volumeClaimTemplates=[{"spec": {"storageClassName": "gold"}}],
            ),
            "error",
            "'gold' is not allowed",
        ),
    ],
)
def test_object(o: dict, severity: str | None, fragment: str | None) -> None:
    found = check_object(o, "web", ALPHA)
    if severity is None:
        assert found == []
    else:
        assert [f.severity for f in found] == [severity], messages(found)
        assert fragment in found[0].message


def test_storage_classes_unrestricted_when_not_listed() -> None:
    pvc = obj("PersistentVolumeClaim", namespace="beta-web", storageClassName="any")
    assert check_object(pvc, "web", BETA) == []


# -- quota -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("objects", "key", "fragment"),
    [
        # 3 x 500m = 1.5 CPU fits 2.
        ([deployment(3, container("500m", "256Mi"))], None, None),
        # 5 x 500m = 2.5 CPU does not.
        (
            [deployment(5, container("500m", "256Mi"))],
            "quota.requests.cpu",
            "needs requests.cpu 2.5, the quota allows 2",
        ),
        # No requests: the API server copies limits into requests (2 x 1.5 = 3 > 2).
        (
            [deployment(2, {"name": "c", "resources": {"limits": {"cpu": "1500m"}}})],
            "quota.requests.cpu",
            "needs requests.cpu 3",
        ),
        # Neither: the LimitRange's defaultRequest (100m, 128Mi) counts; 21 pods > 20.
        ([deployment(21, {"name": "c"})], "quota.pods", "needs pods 21, the quota allows 20"),
        # Memory in binary units, summed over two workloads.
        (
            [
                deployment(4, container("100m", "1Gi")),
                deployment(1, container("100m", "1Gi"), name="worker"),
            ],
            "quota.requests.memory",
            "needs requests.memory 5Gi, the quota allows 4Gi",
        ),
        # The pod's amount is the larger of its containers' sum and its biggest init container.
        (
            [
                obj(
                    "Job",
                    parallelism=2,
                    template={
                        "spec": {
                            "containers": [container("100m")],
                            "initContainers": [container("1200m", limits={"cpu": "1200m"})],
                        }
                    },
                )
            ],
            "quota.requests.cpu",
            "needs requests.cpu 2.4",
        ),
        # Claims: 3 replicas x 10Gi from a template plus a 1Gi PVC = 31Gi > 20Gi.
        (
            [
                obj(
                    "StatefulSet",
                    "db",
                    replicas=3,
                    template={"spec": {"containers": [container("100m", "64Mi")]}},
                    volumeClaimTemplates=[
                        {"spec": {"resources": {"requests": {"storage": "10Gi"}}}}
                    ],
                ),
                obj("PersistentVolumeClaim", resources={"requests": {"storage": "1Gi"}}),
            ],
            "quota.requests.storage",
            "needs requests.storage 31Gi, the quota allows 20Gi",
        ),
        # A LoadBalancer Service: the small tier allows none.
        (
            [obj("Service", type="LoadBalancer", ports=[{"port": 80}])],
            "quota.services.loadbalancers",
            "allows 0",
        ),
        # Per-container max of the LimitRange (4 CPUs).
        (
            [deployment(1, container("500m", limits={"cpu": "8"}))],
            "quota.limitRange.max.cpu",
            "above the per-container max 4",
        ),
    ],
)
def test_quota(objects: list[dict], key: str | None, fragment: str | None) -> None:
    found = errors(check_quota(objects, "web", ALPHA, SMALL))
    if key is None:
        assert found == [], messages(found)
    else:
        assert key in [f.field for f in found], messages(found)
        hit = next(f for f in found if f.field == key)
        assert fragment in hit.message, hit.message
        assert "tenant-alpha" in hit.message  # names the ResourceQuota / LimitRange


def test_quota_is_per_namespace() -> None:
    objects = [
        deployment(3, container("500m")),
        deployment(3, container("500m"), name="jobs", namespace="alpha-jobs"),
    ]
    assert errors(check_quota(objects, "web", ALPHA, SMALL)) == []  # 1.5 in each of two


def test_object_count_quotas() -> None:
    tier = TierConfig(quota={"configmaps": "1", "count/deployments.apps": "1", "pods": "99"})
    found = errors(
        check_quota(
            [obj("ConfigMap", "a"), obj("ConfigMap", "b"), deployment(1), deployment(1, name="b")],
            "web",
            ALPHA,
            tier,
        )
    )
    assert sorted(f.field for f in found) == ["quota.configmaps", "quota.count/deployments.apps"]


def test_storage_class_scoped_quota() -> None:
    tier = TierConfig(quota={"fast.storageclass.storage.k8s.io/requests.storage": "5Gi"})
    pvc = obj(
        "PersistentVolumeClaim",
        storageClassName="fast",
        resources={"requests": {"storage": "8Gi"}},
    )
    other = obj(
        "PersistentVolumeClaim",
        "y",
        storageClassName="slow",
        resources={"requests": {"storage": "80Gi"}},
    )
    found = errors(check_quota([pvc, other], "web", ALPHA, tier))
    assert [f.field for f in found] == ["quota.fast.storageclass.storage.k8s.io/requests.storage"]
    assert "needs fast.storageclass.storage.k8s.io/requests.storage 8Gi" in found[0].message


def test_daemonsets_are_not_computable_and_said_so() -> None:
    ds = obj("DaemonSet", template={"spec": {"containers": [container("3")]}})
    found = check_quota([ds], "web", ALPHA, SMALL)
    assert [f.severity for f in found] == ["info"]
    assert "DaemonSet/alpha-web/x" in found[0].message


def test_check_rendered_combines_object_and_quota_checks() -> None:
    found = check_rendered(
        [obj("ClusterRole", namespace=None), deployment(9, container("1", limits={"cpu": "1"}))],
        "web",
        ALPHA,
        SMALL,
    )
    assert [f.field for f in errors(found)] == [
        "objects[ClusterRole/x]",
        "quota.limits.cpu",
        "quota.requests.cpu",
    ]


# -- identity ------------------------------------------------------------------------------


def live(name: str, tenant: str | None = "alpha", **over: str) -> LiveNamespace:
    labels = tenant_labels("proj", "dev", "alpha", tenant or "")
    if tenant is None:
        labels = {}
    return LiveNamespace(name, {**labels, **over})


@pytest.mark.parametrize(
    ("tenant_name", "observed", "field", "fragment"),
    [
        ("alpha", [], None, None),  # first deployment
        ("alpha", [live("alpha-web")], None, None),  # ours, unchanged
        ("alpha", [live("alpha-old")], None, None),  # ours, namespace dropped: Pulumi deletes it
        # Same Tenant resource, other name: the identity changed.
        ("omega", [live("alpha-web")], "tenants[0].name", "identity is immutable"),
        # ... also when the namespaces changed with it.
        ("omega", [live("alpha-old")], "tenants[0].name", "for tenant 'alpha'"),
        # A renamed tenant of the root program (component named after the tenant): the
        # namespace was made by this stack for another tenant.
        (
            "omega",
            [live("alpha-web", **{"helm-enterprise.io/tenant-resource": "other"})],
            "tenants[0].name",
            "alpha-web was created by this stack for tenant 'alpha'",
        ),
        # A namespace this stack made for tenant beta, wanted by alpha: beta was renamed,
        # or its namespace is being handed over; either would replace the namespace.
        (
            "alpha",
            [live("alpha-web", "beta", **{"helm-enterprise.io/tenant-resource": "beta"})],
            "tenants[0].name",
            "identity is immutable",
        ),
        # A namespace of a tenant of another stack.
        (
            "alpha",
            [live("alpha-web", "beta", **{"helm-enterprise.io/stack": "prod"})],
            "tenants[0].namespaces[0]",
            "belongs to tenant 'beta' (stack proj/prod)",
        ),
        # The same tenant declared in a second stack.
        (
            "alpha",
            [live("alpha-jobs", **{"helm-enterprise.io/stack": "prod"})],
            "tenants[0].namespaces[1]",
            "managed by stack proj/prod",
        ),
        # A namespace created outside any Tenant (by hand, or by a release's createNamespace).
        ("alpha", [live("alpha-web", None)], "tenants[0].namespaces[0]", "not created by a"),
    ],
)
def test_identity(
    tenant_name: str, observed: list[LiveNamespace], field: str | None, fragment: str | None
) -> None:
    cfg = ALPHA.model_copy(update={"name": tenant_name})
    found = check_identity(cfg, "alpha", "proj", "dev", observed, "tenants[0]")
    if field is None:
        assert found == []
    else:
        assert found[0].field == field and found[0].severity == "error", messages(found)
        assert fragment in found[0].message
