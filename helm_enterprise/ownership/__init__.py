"""Ownership (X.6): labels on everything helm_enterprise creates, and conflict checks.

A feature package of its own (on top of :mod:`helm_enterprise.kube`, which reads the
cluster): the Release component labels and checks with it, tenancy selects by its labels,
drift names the owner it restores for.

Who owns a release is read from the cluster before anything is applied:

* **release mode** — Helm stores every revision's rendered manifest; the post-renderer put
  the ``helm-enterprise.io/owner`` annotation on every object of it. The owners of the
  latest revision are the release's owners. A Helm release whose manifest carries no owner
  was installed outside helm_enterprise.
* **chart mode** — there is no Helm release; the component keeps an ownership record, the
  ConfigMap ``helm-enterprise-owner-<release>`` in the release namespace.

:func:`check_release` reports a release owned by another stack, or installed outside
helm_enterprise, instead of taking it over (unless the release says ``adopt: true``).
:func:`check_object` does the same for single live objects.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from helm_enterprise.findings import Finding
from helm_enterprise.kube import helm_storage
from helm_enterprise.kube.client import api_error
from helm_enterprise.kube.kinds import object_path

MANAGED_BY = "helm-enterprise"
LABEL_MANAGED_BY = "helm-enterprise.io/managed-by"
LABEL_PROJECT = "helm-enterprise.io/project"
LABEL_STACK = "helm-enterprise.io/stack"
LABEL_RELEASE = "helm-enterprise.io/release"
LABEL_TENANT = "helm-enterprise.io/tenant"
ANNOTATION_OWNER = "helm-enterprise.io/owner"

_LABEL_VALUE = re.compile(r"[^A-Za-z0-9_.-]")


def owner_id(project: str, stack: str, release: str) -> str:
    return f"{project}/{stack}/{release}"


def label_value(text: str) -> str:
    """A valid label value (≤63 chars, alnum at both ends) derived from ``text``."""
    value = _LABEL_VALUE.sub("-", text)[:63].strip("-_.")
    return value or "none"


def ownership_labels(
    project: str, stack: str, release: str, tenant: str | None = None
) -> dict[str, str]:
    labels = {
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_PROJECT: label_value(project),
        LABEL_STACK: label_value(stack),
        LABEL_RELEASE: label_value(release),
    }
    if tenant:
        labels[LABEL_TENANT] = label_value(tenant)
    return labels


def ownership_annotations(project: str, stack: str, release: str) -> dict[str, str]:
    return {ANNOTATION_OWNER: owner_id(project, stack, release)}


def record_name(release: str) -> str:
    return f"helm-enterprise-owner-{release}"


def read_record(api: k8s.ApiClient, namespace: str, release: str) -> dict[str, str] | None:
    try:
        cm = k8s.CoreV1Api(api).read_namespaced_config_map(
            record_name(release), namespace, _request_timeout=10
        )
    except ApiException as err:
        if err.status == 404:
            return None
        raise api_error(
            err, api, f"read the ownership record ConfigMap {namespace}/{record_name(release)}"
        ) from err
    return dict(cm.data or {})


def manifest_owners(manifest: str) -> set[str]:
    """Owner annotations of the objects in a rendered manifest (a YAML stream)."""
    owners: set[str] = set()
    try:
        docs = list(yaml.safe_load_all(manifest))
    except yaml.YAMLError:
        return owners
    for doc in docs:
        if isinstance(doc, dict):
            annotations = (doc.get("metadata") or {}).get("annotations") or {}
            if ANNOTATION_OWNER in annotations:
                owners.add(str(annotations[ANNOTATION_OWNER]))
    return owners


def release_owners(api: k8s.ApiClient, namespace: str, release: str) -> tuple[bool, set[str]]:
    """(whether the release exists, its owners): from Helm's latest revision, else from
    the chart-mode ownership record."""
    hist = helm_storage.history(api, namespace, release)
    if hist:
        return True, manifest_owners(hist[-1].manifest)
    record = read_record(api, namespace, release)
    if record is not None:
        return True, {record["owner"]} if record.get("owner") else set()
    return False, set()


def check_release(
    api: k8s.ApiClient, namespace: str, release: str, owner: str, adopt: bool
) -> list[Finding]:
    """Report a release that belongs to someone else (before anything is applied)."""
    exists, owners = release_owners(api, namespace, release)
    where = f"{namespace}/{release}"
    others = sorted(owners - {owner})
    if others:
        return [
            Finding(
                "error",
                "ownership",
                release,
                where,
                f"this release is owned by {', '.join(others)}, not by {owner}",
                "pick another release name or namespace, or remove it from the owning stack",
            )
        ]
    if exists and not owners and not adopt:
        return [
            Finding(
                "error",
                "ownership",
                release,
                where,
                "a release with this name already exists and was not created by helm-enterprise",
                "set adopt: true to manage it from this stack, or choose another name",
            )
        ]
    return []


def check_object(
    api: k8s.ApiClient, obj: dict[str, Any], owner: str, release: str, default_ns: str
) -> Finding | None:
    """Report a live object that exists and belongs to another owner."""
    from kubernetes.dynamic import DynamicClient
    from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError

    kind = obj.get("kind", "")
    meta = obj.get("metadata") or {}
    name = meta.get("name")
    if not kind or not name:
        return None
    try:
        resource = DynamicClient(api).resources.get(api_version=obj.get("apiVersion"), kind=kind)
        ns = (meta.get("namespace") or default_ns) if resource.namespaced else None
        live = resource.get(name=name, namespace=ns)
    except (NotFoundError, ResourceNotFoundError):
        return None
    except ApiException as err:
        if err.status == 404:
            return None
        # A 403 is not "absent": an object we may not read may well belong to someone.
        raise api_error(err, api, f"read {kind} {name} to check its owner") from err
    annotations = dict(live.metadata.annotations or {})
    theirs = annotations.get(ANNOTATION_OWNER)
    helm_owner = annotations.get("meta.helm.sh/release-name")
    where = object_path(kind, ns, name)
    if theirs and theirs != owner:
        return Finding(
            "error",
            "ownership",
            release,
            where,
            f"object is owned by {theirs}",
            "rename it in the chart values or remove it from the other stack",
        )
    if not theirs and helm_owner and helm_owner != release:
        return Finding(
            "error",
            "ownership",
            release,
            where,
            f"object belongs to Helm release {helm_owner}",
            "it would be taken over; resolve the overlap first",
        )
    if not theirs and not helm_owner:
        return Finding(
            "error",
            "ownership",
            release,
            where,
            "object already exists and is not managed by helm-enterprise or Helm",
            "delete it, or import it into the stack first",
        )
    return None
