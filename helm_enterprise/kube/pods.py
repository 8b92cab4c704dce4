"""Why a release's Pods do not become Ready, in the kubelet's and the scheduler's words.

Helm's readiness wait only says that time ran out. The Pods say why: an image that cannot be
pulled, a container that crashes or cannot be created, a Pod no node accepts. This reads
those reasons from Pod objects (as the API returns them) so that a failed rollout can name
them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["PodProblem", "pod_problems"]

# Waiting reasons that do not resolve by waiting a little longer.
STUCK_REASONS = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "CrashLoopBackOff",
    }
)
IMAGE_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName"})


@dataclass(frozen=True)
class PodProblem:
    """One reason one Pod is not Ready."""

    pod: str  # namespace/name
    container: str | None
    reason: str
    message: str

    @property
    def is_image(self) -> bool:
        return self.reason in IMAGE_REASONS

    def line(self) -> str:
        where = f"Pod {self.pod}" + (f" container {self.container}" if self.container else "")
        return (
            f"{where}: {self.reason}: {self.message}" if self.message else f"{where}: {self.reason}"
        )


def _containers(status: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    yield from status.get("initContainerStatuses") or []
    yield from status.get("containerStatuses") or []


def pod_problems(pods: Iterable[Mapping[str, Any]]) -> list[PodProblem]:
    """The stuck containers and unschedulable Pods among ``pods`` (v1 Pod dicts)."""
    out: list[PodProblem] = []
    for pod in pods:
        meta, status = pod.get("metadata") or {}, pod.get("status") or {}
        if meta.get("deletionTimestamp"):
            continue  # going away: not what the rollout waits for
        name = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        for c in _containers(status):
            waiting = (c.get("state") or {}).get("waiting") or {}
            reason = waiting.get("reason")
            if reason in STUCK_REASONS:
                out.append(PodProblem(name, c.get("name"), reason, waiting.get("message") or ""))
        for cond in status.get("conditions") or []:
            if (
                cond.get("type") == "PodScheduled"
                and cond.get("status") == "False"
                and cond.get("reason") == "Unschedulable"
            ):
                out.append(PodProblem(name, None, "Unschedulable", cond.get("message") or ""))
    return out
