"""Tenant isolation (T2.2): the checks that keep a tenant's releases inside the tenant.

* :mod:`~helm_enterprise.tenancy.checks` — pure functions returning findings: a release's
  namespace belongs to its tenant; a rendered object is namespaced, inside the tenant and
  uses allowed storage classes; a Tenant's identity did not change.
* :mod:`~helm_enterprise.tenancy.quota` — pure functions returning findings: requests x
  replicas (and pods, claims, storage, services) fit the tier's quota and LimitRange;
  :func:`~helm_enterprise.tenancy.quota.check_rendered` runs every check of a rendered release.
* :mod:`~helm_enterprise.tenancy.objects` — the fields of what a Tenant creates (labels,
  quota, limit range, network policies, roles, the storage-class admission policy).
* :mod:`~helm_enterprise.tenancy.gate` — the release gate: tenant, rendered chart, then Helm.
* :mod:`~helm_enterprise.tenancy.live` — tenant namespaces as the cluster has them.
"""

from __future__ import annotations

from helm_enterprise.tenancy.checks import (
    CHECK,
    LABEL_TENANT_RESOURCE,
    LiveNamespace,
    check_identity,
    check_object,
    check_release_namespace,
    is_cluster_scoped,
    quota_name,
    tenant_labels,
)
from helm_enterprise.tenancy.quota import check_quota, check_rendered

__all__ = [
    "CHECK",
    "LABEL_TENANT_RESOURCE",
    "LiveNamespace",
    "check_identity",
    "check_object",
    "check_quota",
    "check_release_namespace",
    "check_rendered",
    "is_cluster_scoped",
    "quota_name",
    "tenant_labels",
]
