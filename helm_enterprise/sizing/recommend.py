"""Recommendations from usage, as Kubernetes quantities and a values patch (pure)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from helm_enterprise._values import set_path

CPU_PERCENTILE = 0.95
MEMORY_BUFFER = 0.15
MIN_CPU_MILLI = 10
MIN_MEMORY_MI = 16


@dataclasses.dataclass(frozen=True)
class Usage:
    """What Prometheus saw of one container over the window."""

    container: str
    cpu_p95_cores: float | None
    memory_peak_bytes: float | None
    samples: int


@dataclasses.dataclass(frozen=True)
class Recommendation:
    container: str
    cpu_request: str | None
    memory_request: str | None
    memory_limit: str | None
    samples: int
    reason: str  # why there is none, or how it was computed

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def cpu_quantity(cores: float) -> str:
    """``0.0123`` cores → ``"13m"`` (rounded up, at least 10m)."""
    return f"{max(MIN_CPU_MILLI, math.ceil(cores * 1000))}m"


def memory_quantity(bytes_: float) -> str:
    """Bytes → ``"<n>Mi"`` (rounded up, at least 16Mi)."""
    return f"{max(MIN_MEMORY_MI, math.ceil(bytes_ / 2**20))}Mi"


def recommend(usage: Usage, min_samples: int) -> Recommendation:
    if usage.samples < min_samples:
        return Recommendation(
            usage.container,
            None,
            None,
            None,
            usage.samples,
            f"{usage.samples} samples, {min_samples} required: observe longer",
        )
    cpu = cpu_quantity(usage.cpu_p95_cores) if usage.cpu_p95_cores is not None else None
    memory = (
        memory_quantity(usage.memory_peak_bytes * (1 + MEMORY_BUFFER))
        if usage.memory_peak_bytes is not None
        else None
    )
    return Recommendation(
        usage.container,
        cpu,
        memory,
        memory,
        usage.samples,
        f"cpu: p{int(CPU_PERCENTILE * 100)} of usage; memory: peak + {int(MEMORY_BUFFER * 100)}%",
    )


def values_patch(recommendations: list[Recommendation], path: str) -> dict[str, Any]:
    """The values overlay that applies the recommendations: at ``path`` (``resources``, or
    ``<path>.<container>`` when the release has several containers)."""
    patch: dict[str, Any] = {}
    usable = [r for r in recommendations if r.cpu_request or r.memory_request]
    for r in usable:
        resources: dict[str, Any] = {"requests": {}}
        if r.cpu_request:
            resources["requests"]["cpu"] = r.cpu_request
        if r.memory_request:
            resources["requests"]["memory"] = r.memory_request
            resources["limits"] = {"memory": r.memory_limit}
        set_path(patch, path if len(usable) == 1 else f"{path}.{r.container}", resources)
    return patch
