"""The tenancy checks, table-style: config + rendered objects + observations in, findings out."""

from __future__ import annotations

import pytest

from helm_enterprise.config import ReleaseConfig
from helm_enterprise.tenancy import (
    LiveNamespace,
    check_identity,
    check_object,
    check_release_namespace,
    tenant_labels,
)
from tests.unit.tenancy.helpers import ALPHA, BETA, messages, obj

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
