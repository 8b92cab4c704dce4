"""The cluster side of release-mode drift: what drift detection needs from a cluster.

:class:`Cluster` is the small interface :mod:`helm_enterprise.drift.release` needs;
:class:`helm_enterprise.kube.live.KubeCluster` implements it with the official client's
dynamic client (forced server-side applies under Helm's field manager).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from helm_enterprise.kube import helm_storage
from helm_enterprise.kube.live import DryRunNotAllowed, KubeCluster, ScaleTarget

__all__ = ["Cluster", "DryRunNotAllowed", "KubeCluster"]


class Cluster(Protocol):
    """What release-mode drift detection needs from a cluster."""

    def deployed_record(self, namespace: str, release: str) -> helm_storage.HelmRecord | None:
        """The release's latest revision with status ``deployed`` (None when none)."""

    def history(self, namespace: str, release: str) -> list[helm_storage.HelmRecord]:
        """Every stored revision of the release, oldest first."""

    def place(self, obj: Mapping[str, Any], namespace: str) -> dict[str, Any]:
        """A copy with ``metadata.namespace`` set to ``namespace`` when the kind is
        namespaced and the manifest left it out (as Helm does), removed otherwise."""

    def get(self, obj: Mapping[str, Any]) -> dict[str, Any] | None:
        """The live object, or None when it does not exist."""

    def dry_run(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """The object as a forced server-side apply would leave it (nothing changes)."""

    def apply(self, obj: Mapping[str, Any]) -> None:
        """Forced server-side apply (remediation)."""

    def scale_targets(self, namespace: str) -> list[ScaleTarget]:
        """Objects HorizontalPodAutoscalers in ``namespace`` scale ([] when unreadable)."""
