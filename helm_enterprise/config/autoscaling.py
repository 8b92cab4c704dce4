"""Autoscaling and right-sizing of a release's workload (T3.5).

::

    autoscaling:                 # a HorizontalPodAutoscaler (autoscaling/v2)
      target: {kind: Deployment, name: shop}   # default: the Deployment named like the release
      minReplicas: 2
      maxReplicas: 10
      cpu: {averageUtilization: 70}            # percent of the Pods' requests
      memory: {averageValue: 400Mi}
      behavior: {scaleDown: {stabilizationWindowSeconds: 120}}   # autoscaling/v2 as is
      # chartValues: autoscaling  -> set the chart's own HPA values at that path instead
    vpa:                         # a VerticalPodAutoscaler, where its CRDs are installed
      updateMode: "Off"          # recommendations only (default)
      controlledResources: [cpu, memory]

An HPA and a VPA that acts (``updateMode`` other than ``Off``) on the same resource fight:
the VPA changes the requests the HPA's utilisation is a ratio of. That combination is
refused.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, model_validator

from helm_enterprise.config._base import Model

_QUANTITY = re.compile(r"^\d+(\.\d+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$")


class ScaleTarget(Model):
    api_version: str = "apps/v1"
    kind: Literal["Deployment", "StatefulSet", "ReplicaSet"] = "Deployment"
    name: str | None = None  # default: the release's name


class ResourceTarget(Model):
    """One resource metric: ``averageUtilization`` (percent of requests) or
    ``averageValue`` (a quantity per Pod)."""

    average_utilization: int | None = Field(default=None, gt=0, le=1000)
    average_value: str | None = None

    @model_validator(mode="after")
    def _one(self) -> ResourceTarget:
        if (self.average_utilization is None) == (self.average_value is None):
            raise ValueError("give exactly one of averageUtilization or averageValue")
        if self.average_value is not None and not _QUANTITY.match(self.average_value):
            raise ValueError(f"averageValue {self.average_value!r} is not a quantity (200m, 256Mi)")
        return self

    def metric_target(self) -> dict[str, Any]:
        if self.average_utilization is not None:
            return {"type": "Utilization", "averageUtilization": self.average_utilization}
        return {"type": "AverageValue", "averageValue": self.average_value}


class AutoscalingConfig(Model):
    target: ScaleTarget = Field(default_factory=ScaleTarget)
    min_replicas: int = Field(default=1, ge=1)
    max_replicas: int = Field(ge=1)
    cpu: ResourceTarget | None = None
    memory: ResourceTarget | None = None
    behavior: dict[str, Any] | None = None
    chart_values: str | None = None  # a dotted values path: the chart's own HPA settings

    @model_validator(mode="after")
    def _consistent(self) -> AutoscalingConfig:
        if self.max_replicas < self.min_replicas:
            raise ValueError("maxReplicas: must be at least minReplicas")
        if self.cpu is None and self.memory is None:
            raise ValueError("give cpu or memory (or both): what the HPA scales on")
        if self.chart_values is not None:
            for name, metric in (("cpu", self.cpu), ("memory", self.memory)):
                if metric is not None and metric.average_utilization is None:
                    raise ValueError(
                        f"{name}: chartValues takes averageUtilization only (charts' "
                        "target...UtilizationPercentage)"
                    )
            if self.behavior is not None:
                raise ValueError("behavior: not part of charts' HPA values; drop chartValues")
        return self

    @property
    def resources(self) -> set[str]:
        return {n for n, m in (("cpu", self.cpu), ("memory", self.memory)) if m is not None}


Resource = Literal["cpu", "memory"]


def _both() -> list[Resource]:
    return ["cpu", "memory"]


class VpaConfig(Model):
    target: ScaleTarget = Field(default_factory=ScaleTarget)
    update_mode: Literal["Off", "Initial", "Recreate", "Auto"] = "Off"
    controlled_resources: list[Resource] = Field(default_factory=_both)
    min_allowed: dict[str, str] = Field(default_factory=dict)
    max_allowed: dict[str, str] = Field(default_factory=dict)


def autoscaling_conflict(hpa: AutoscalingConfig | None, vpa: VpaConfig | None) -> str | None:
    """Why ``hpa`` and ``vpa`` must not be used together (None when they may)."""
    if hpa is None or vpa is None or vpa.update_mode == "Off":
        return None
    both = sorted(hpa.resources & set(vpa.controlled_resources))
    if not both:
        return None
    return (
        f"vpa.controlledResources: the HPA scales on {', '.join(both)} utilisation and the "
        f"VPA (updateMode {vpa.update_mode}) changes the same requests, so the two fight; "
        f"drop {', '.join(both)} from vpa.controlledResources, set vpa.updateMode: Off "
        "(recommendations only), or scale the HPA on another resource"
    )
