"""What the cluster says about tenant namespaces (official ``kubernetes`` client).

Used before a Tenant registers anything, to recognise a changed tenant identity and
namespaces that belong to someone else (:func:`~helm_enterprise.tenancy.checks.check_identity`),
and before a Release without a tenant deploys into a tenant's namespace
(:func:`~helm_enterprise.tenancy.checks.check_untenanted_release`).
"""

from __future__ import annotations

from collections.abc import Iterable

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from helm_enterprise.kube.client import api_error
from helm_enterprise.ownership import LABEL_MANAGED_BY, LABEL_PROJECT, LABEL_STACK, MANAGED_BY
from helm_enterprise.ownership import label_value as _lv
from helm_enterprise.tenancy.checks import LABEL_TENANT_RESOURCE, LiveNamespace


def read_namespaces(
    api: k8s.ApiClient, project: str, stack: str, resource_name: str, names: Iterable[str]
) -> list[LiveNamespace]:
    """The namespaces a Tenant created earlier (by its labels) and those named ``names``
    that exist. Two kinds of request: one list by label, one read per name."""
    core = k8s.CoreV1Api(api)
    selector = ",".join(
        f"{k}={v}"
        for k, v in (
            (LABEL_MANAGED_BY, MANAGED_BY),
            (LABEL_PROJECT, _lv(project)),
            (LABEL_STACK, _lv(stack)),
            (LABEL_TENANT_RESOURCE, _lv(resource_name)),
        )
    )
    found: dict[str, LiveNamespace] = {}
    try:
        listed = core.list_namespace(label_selector=selector, _request_timeout=10).items
    except ApiException as err:  # a 403 names who may not list namespaces
        raise api_error(err, api, "list the namespaces of tenants") from err
    for ns in listed:
        found[ns.metadata.name] = LiveNamespace(ns.metadata.name, dict(ns.metadata.labels or {}))
    for name in names:
        if name not in found and (live := read_namespace(api, name)) is not None:
            found[name] = live
    return list(found.values())


def read_namespace(api: k8s.ApiClient, name: str) -> LiveNamespace | None:
    """One namespace and its labels; None when it does not exist."""
    try:
        ns = k8s.CoreV1Api(api).read_namespace(name, _request_timeout=10)
    except ApiException as err:
        if err.status == 404:
            return None
        raise api_error(err, api, f"read namespace {name} (whose is it?)") from err
    return LiveNamespace(name, dict(ns.metadata.labels or {}))
