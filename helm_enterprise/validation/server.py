"""Server-side dry run of a release's rendered objects (T1.5: RBAC, quota, admission).

Every object is sent to the API server as a server-side apply with ``dryRun=All``, under
the deploying identity: RBAC denials, admission webhooks, PodSecurity and validation
errors surface before anything changes. Objects that create Pods (Deployments,
StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs) are not subject to pod-level
admission themselves, so one Pod per pod template is dry-run created as well: that is
where PodSecurity enforcement and ResourceQuota requests/limits are checked. A quota
rejects a Pod only when that one Pod does not fit; ``replicas`` times requests beyond the
remaining quota is reported separately, from the quota's status.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from helm_enterprise.errors import DriftError, truncate
from helm_enterprise.kube.client import api_message
from helm_enterprise.kube.kinds import POD_SPEC_PATHS, object_path
from helm_enterprise.kube.live import KubeCluster
from helm_enterprise.validation import Finding

FIELD_MANAGER = "helm-enterprise-dryrun"
# Where the pod template sits in each kind that creates Pods (a Pod is admitted itself).
_POD_TEMPLATES = {
    kind: path[:-1] for kind, path in POD_SPEC_PATHS.items() if kind not in ("Pod", "PodTemplate")
}
_STATUS = re.compile(r"HTTP (\d{3})")


def _where(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return object_path(str(obj.get("kind")), ns, str(meta.get("name")))


def _classify(release: str, where: str, message: str) -> Finding:
    status = _STATUS.search(message)
    code = int(status.group(1)) if status else 0
    if "exceeded quota" in message:
        return Finding(
            "error",
            "quota",
            release,
            where,
            truncate(message, 400),
            "raise the namespace's ResourceQuota or lower the chart's requests",
        )
    if "PodSecurity" in message:
        return Finding(
            "error",
            "pod-security",
            release,
            where,
            truncate(message, 400),
            "make the pod spec meet the namespace's Pod Security level",
        )
    if code in (401, 403):
        return Finding(
            "error",
            "rbac",
            release,
            where,
            truncate(message, 400),
            "grant the deploying identity this permission, or change the chart",
        )
    return Finding("error", "admission", release, where, truncate(message, 400))


def _pod_from_template(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    path = _POD_TEMPLATES.get(str(obj.get("kind")))
    node: Any = obj
    for key in path or ():
        node = node.get(key) if isinstance(node, Mapping) else None
    if not path or not isinstance(node, Mapping) or not isinstance(node.get("spec"), Mapping):
        return None
    meta = obj.get("metadata") or {}
    tmeta = node.get("metadata") or {}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{meta.get('name', 'pod')}-dryrun"[:63],
            "namespace": meta.get("namespace"),
            "labels": dict(tmeta.get("labels") or {}),
            "annotations": dict(tmeta.get("annotations") or {}),
        },
        "spec": dict(node["spec"]),
    }


def _server_message(err: ApiException) -> str:
    return f"HTTP {err.status}: {api_message(err) or err.reason or ''}"


def _namespace_exists(core: k8s.CoreV1Api, name: str) -> bool:
    try:
        core.read_namespace(name, _request_timeout=30)
    except ApiException as err:
        # Anything but "not found" (say, no right to read namespaces): let the dry run tell.
        return bool(err.status != 404)
    return True


def server_dry_run(
    api: k8s.ApiClient, objects: Sequence[Mapping[str, Any]], release: str, namespace: str
) -> list[Finding]:
    """Findings for every object the API server would refuse (empty when all pass)."""
    cluster = KubeCluster(api, field_manager=FIELD_MANAGER)
    core = k8s.CoreV1Api(api)
    findings: list[Finding] = []
    exists: dict[str, bool] = {}
    for raw in objects:
        if not raw.get("kind") or not (raw.get("metadata") or {}).get("name"):
            continue
        try:
            obj = cluster.place(raw, namespace)
        except DriftError as err:
            findings.append(Finding("warning", "admission", release, _where(raw), str(err)))
            continue
        ns = (obj.get("metadata") or {}).get("namespace")
        if ns and not exists.setdefault(ns, _namespace_exists(core, ns)):
            if not any(f.field == f"Namespace/{ns}" for f in findings):
                findings.append(
                    Finding(
                        "warning",
                        "admission",
                        release,
                        f"Namespace/{ns}",
                        "does not exist yet (this update creates it): its objects were not "
                        "dry-run on the server",
                        "run `pulumi preview` again once the namespace exists",
                    )
                )
            continue
        try:
            cluster.dry_run(obj)
        except DriftError as err:
            # Secrets' messages never carry data (KubeCluster drops them).
            findings.append(_classify(release, _where(obj), str(err)))
            continue
        pod = _pod_from_template(obj)
        if pod is None:
            continue
        try:
            core.create_namespaced_pod(
                pod["metadata"]["namespace"] or namespace, pod, dry_run="All", _request_timeout=30
            )
        except ApiException as err:
            findings.append(
                _classify(release, f"{_where(obj)} (pod template)", _server_message(err))
            )
    return findings
