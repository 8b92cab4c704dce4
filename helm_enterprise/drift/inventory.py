"""What a stack deployed, read from its state (``pulumi stack export``).

* Helm releases (``kubernetes:helm.sh/v3:Release``, release mode): their name and
  namespace, compared through Helm's manifest (:mod:`helm_enterprise.drift.release`), and
  the revision and chart version the stack applied (``status``), compared with the
  deployed revision (:mod:`helm_enterprise.drift.revision`).
* Kubernetes objects that are Pulumi resources (chart mode's objects, namespaces,
  ownership records): compared through ``pulumi refresh --preview-only``.
* HorizontalPodAutoscalers in the stack: their targets' ``/spec/replicas`` is ignored.

Each object is attributed to the helm_enterprise release (the
``helm-enterprise:index:Release`` component) it was created under. Resources read with
``.get`` (``external``) are not ours and are skipped. Exported state holds decrypted
secrets: only the fields named here are read from it, and nothing of it is printed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from helm_enterprise.drift.findings import ObjectRef
from helm_enterprise.kube.live import ScaleTarget

COMPONENT_TYPE = "helm-enterprise:index:Release"
HELM_RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
RELEASE_LABEL = "helm-enterprise.io/release"
_HPA_TYPES = (
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    "kubernetes:autoscaling/v1:HorizontalPodAutoscaler",
)


@dataclasses.dataclass(frozen=True)
class HelmReleaseRef:
    """A release-mode Helm release of the stack. ``release`` is the helm_enterprise
    release (component) it belongs to; ``revision``/``chart_version`` are what the stack
    last applied (None when its state does not say)."""

    name: str
    namespace: str
    urn: str
    release: str
    revision: int | None = None
    chart_version: str | None = None


@dataclasses.dataclass
class Inventory:
    helm_releases: list[HelmReleaseRef] = dataclasses.field(default_factory=list)
    # URN of every Kubernetes object that is a Pulumi resource → its release (or None)
    objects: dict[str, str | None] = dataclasses.field(default_factory=dict)
    scale_targets: list[ScaleTarget] = dataclasses.field(default_factory=list)
    namespaces: set[str] = dataclasses.field(default_factory=set)

    def release_of(self, urn: str) -> str | None:
        return self.objects.get(urn)


def urn_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _is_object(res_type: str) -> bool:
    return res_type.startswith("kubernetes:") and not res_type.startswith("kubernetes:helm.sh/")


def from_state(resources: Iterable[Mapping[str, Any]]) -> Inventory:
    """The inventory of a deployment's ``resources`` (as in ``pulumi stack export``)."""
    items = [r for r in resources if isinstance(r, Mapping) and r.get("urn")]
    by_urn = {str(r["urn"]): r for r in items}

    def component_of(urn: str) -> str | None:
        seen: set[str] = set()
        current = by_urn.get(urn)
        while current is not None and current.get("parent") and current["urn"] not in seen:
            seen.add(current["urn"])
            parent = by_urn.get(str(current["parent"]))
            if parent is None:
                return None
            if parent.get("type") == COMPONENT_TYPE:
                return urn_name(str(parent["urn"]))
            current = parent
        return None

    inv = Inventory()
    for r in items:
        res_type, urn = str(r.get("type", "")), str(r["urn"])
        if r.get("delete") or r.get("external"):
            continue
        outputs = r.get("outputs") or {}
        if res_type == HELM_RELEASE_TYPE:
            name = str(outputs.get("name") or (r.get("inputs") or {}).get("name") or "")
            namespace = str(outputs.get("namespace") or "default")
            status = outputs.get("status")
            status = status if isinstance(status, Mapping) else {}
            revision = status.get("revision")
            if name:
                inv.helm_releases.append(
                    HelmReleaseRef(
                        name,
                        namespace,
                        urn,
                        component_of(urn) or name,
                        revision=revision if isinstance(revision, int) else None,
                        chart_version=str(status["version"]) if status.get("version") else None,
                    )
                )
                inv.namespaces.add(namespace)
        elif _is_object(res_type):
            meta = outputs.get("metadata") or {}
            labels = meta.get("labels") or {}
            inv.objects[urn] = labels.get(RELEASE_LABEL) or component_of(urn)
            if meta.get("namespace"):
                inv.namespaces.add(str(meta["namespace"]))
            if res_type in _HPA_TYPES:
                ref = (outputs.get("spec") or {}).get("scaleTargetRef") or {}
                if ref.get("kind") and ref.get("name"):
                    inv.scale_targets.append(
                        ScaleTarget(
                            str(meta.get("namespace") or "default"),
                            str(ref["kind"]),
                            str(ref["name"]),
                            str(meta.get("name", "")),
                        )
                    )
    return inv


def refresh_ref(
    urn: str, res_type: str, inputs: Mapping[str, Any] | None, release: str | None
) -> ObjectRef:
    """The object a refresh event is about, from its stored inputs (or its URN)."""
    inputs = inputs or {}
    meta = inputs.get("metadata") or {}
    labels = meta.get("labels") or {}
    # type token kubernetes:apps/v1:Deployment → apps/v1, Deployment; core/v1 → v1
    _, group_version, kind = [*res_type.split(":"), "", ""][:3]
    api_version = str(inputs.get("apiVersion") or group_version.removeprefix("core/"))
    return ObjectRef(
        api_version=api_version,
        kind=str(inputs.get("kind") or kind),
        name=str(meta.get("name") or urn_name(urn)),
        namespace=meta.get("namespace"),
        release=labels.get(RELEASE_LABEL) or release,
        via="refresh",
        urn=urn,
        labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
    )
