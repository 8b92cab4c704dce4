"""The tenancy quota check, table-style: rendered objects and a tier in, findings out."""

from __future__ import annotations

import pytest

from helm_enterprise.config.tenant import TierConfig
from helm_enterprise.tenancy import check_quota, check_rendered
from helm_enterprise.validation import errors
from tests.unit.tenancy.helpers import ALPHA, SMALL, container, deployment, messages, obj


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
