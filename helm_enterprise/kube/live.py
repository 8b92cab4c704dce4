"""Live objects of a cluster: read, dry-run apply and re-apply through the dynamic client.

:class:`KubeCluster` serves release-mode drift (``drift/release.py``, through its
``Cluster`` protocol) and the server-side dry run of ``validation/server.py``; it lives on
the shared floor so neither imports the other.

Applies are server-side applies with ``force`` under Helm's field manager (``helm``), as
Flux's helm-controller corrects drift: forcing takes the drifted fields back from whoever
changed them (``kubectl-edit``, ``kubectl (scale)``) without touching fields the manifest
does not set. Errors never carry a response body (for a Secret it could echo its data).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError
from urllib3.exceptions import HTTPError

from helm_enterprise.errors import DriftError, truncate
from helm_enterprise.kube import helm_storage
from helm_enterprise.kube.client import api_message

FIELD_MANAGER = "helm"


class DryRunNotAllowed(DriftError):
    """The credentials may read but not (dry-run) patch this object."""


@dataclasses.dataclass(frozen=True)
class ScaleTarget:
    """An object a HorizontalPodAutoscaler scales."""

    namespace: str
    kind: str
    name: str
    hpa: str


def _describe(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind')}/{ns + '/' if ns else ''}{meta.get('name')}"


def _error(action: str, obj: Mapping[str, Any], err: ApiException) -> DriftError:
    """An API error as a DriftError: status and reason, and the server's message except
    for Secrets (whose messages can quote data)."""
    detail = f"HTTP {err.status} {err.reason or ''}".strip()
    if obj.get("kind") != "Secret":
        message = api_message(err)
        if message:
            detail += f": {truncate(message, 300)}"
    cls = DryRunNotAllowed if err.status in (401, 403, 405) and action == "dry-run" else DriftError
    return cls(f"{action} of {_describe(obj)} failed: {detail}")


def _unreachable(action: str, obj: Mapping[str, Any], err: Exception) -> DriftError:
    return DriftError(
        f"{action} of {_describe(obj)} failed: {type(err).__name__} (cluster unreachable?)"
    )


class KubeCluster:
    """Live objects over an API client (from
    :class:`helm_enterprise.kube.client.ClusterAccess`); implements drift's ``Cluster``."""

    def __init__(self, api: k8s.ApiClient, field_manager: str = FIELD_MANAGER) -> None:
        self.api = api
        self.field_manager = field_manager
        self._dynamic: DynamicClient | None = None

    @property
    def dynamic(self) -> DynamicClient:
        if self._dynamic is None:
            self._dynamic = DynamicClient(self.api)
        return self._dynamic

    def _resource(self, obj: Mapping[str, Any]) -> Any:
        try:
            return self.dynamic.resources.get(
                api_version=obj.get("apiVersion"), kind=obj.get("kind")
            )
        except (ApiException, HTTPError, OSError) as err:
            raise _unreachable("discovery for", obj, err) from None
        except ResourceNotFoundError:
            raise DriftError(
                f"{_describe(obj)}: the cluster does not serve {obj.get('apiVersion')} "
                f"{obj.get('kind')}"
            ) from None

    @staticmethod
    def _where(resource: Any, obj: Mapping[str, Any]) -> tuple[str, str | None]:
        meta = obj.get("metadata") or {}
        return str(meta.get("name")), (meta.get("namespace") if resource.namespaced else None)

    def deployed_record(self, namespace: str, release: str) -> helm_storage.HelmRecord | None:
        deployed = [r for r in self.history(namespace, release) if r.status == "deployed"]
        return deployed[-1] if deployed else None

    def history(self, namespace: str, release: str) -> list[helm_storage.HelmRecord]:
        return helm_storage.history(self.api, namespace, release)

    def place(self, obj: Mapping[str, Any], namespace: str) -> dict[str, Any]:
        resource = self._resource(obj)
        body = dict(obj)
        meta = dict(body.get("metadata") or {})
        if resource.namespaced:
            meta.setdefault("namespace", namespace)
        else:
            meta.pop("namespace", None)
        body["metadata"] = meta
        return body

    def get(self, obj: Mapping[str, Any]) -> dict[str, Any] | None:
        resource = self._resource(obj)
        name, ns = self._where(resource, obj)
        try:
            live = resource.get(name=name, namespace=ns, _request_timeout=30)
        except ApiException as err:
            if err.status == 404:
                return None
            raise _error("read", obj, err) from None
        except (HTTPError, OSError) as err:
            raise _unreachable("read", obj, err) from None
        result: dict[str, Any] = live.to_dict()
        return result

    def _apply(self, obj: Mapping[str, Any], *, dry_run: bool) -> dict[str, Any]:
        resource = self._resource(obj)
        name, ns = self._where(resource, obj)
        body = dict(obj)
        extra = {"dry_run": "All"} if dry_run else {}
        try:
            out = self.dynamic.server_side_apply(
                resource,
                body=body,
                name=name,
                namespace=ns,
                field_manager=self.field_manager,
                force_conflicts=True,
                _request_timeout=30,
                **extra,
            )
        except ApiException as err:
            raise _error("dry-run" if dry_run else "apply", obj, err) from None
        except (HTTPError, OSError) as err:
            raise _unreachable("dry-run" if dry_run else "apply", obj, err) from None
        result: dict[str, Any] = out.to_dict()
        return result

    def dry_run(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return self._apply(obj, dry_run=True)

    def apply(self, obj: Mapping[str, Any]) -> None:
        self._apply(obj, dry_run=False)

    def scale_targets(self, namespace: str) -> list[ScaleTarget]:
        try:
            hpas = k8s.AutoscalingV2Api(self.api).list_namespaced_horizontal_pod_autoscaler(
                namespace, _request_timeout=15
            )
        except (ApiException, HTTPError, OSError):
            return []
        return [
            ScaleTarget(
                namespace,
                h.spec.scale_target_ref.kind,
                h.spec.scale_target_ref.name,
                h.metadata.name,
            )
            for h in hpas.items
            if h.spec and h.spec.scale_target_ref
        ]
