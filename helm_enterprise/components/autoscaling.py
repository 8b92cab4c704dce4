"""A release's autoscalers (T3.5), as part of the ``Release`` component.

* ``autoscaling`` — a ``HorizontalPodAutoscaler`` (``autoscaling/v2``) for the release's
  workload, created after the Helm release (its target must exist), or, with
  ``chartValues: <path>``, the chart's own HPA settings at that values path (the
  ``enabled / minReplicas / maxReplicas / targetCPUUtilizationPercentage /
  targetMemoryUtilizationPercentage`` convention of ``helm create``).
* ``vpa`` — a ``VerticalPodAutoscaler`` where its CRDs are installed (``updateMode: Off``
  by default: recommendations, which ``helm-enterprise rightsize`` also reads); where they
  are not, a warning says so and nothing is created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_kubernetes as k8s

from helm_enterprise._values import merge, set_path
from helm_enterprise.components.context import Platform
from helm_enterprise.config.autoscaling import AutoscalingConfig, ScaleTarget, VpaConfig
from helm_enterprise.config.release import ReleaseConfig
from helm_enterprise.kube.client import crd_installed

if TYPE_CHECKING:
    from helm_enterprise.components.release import Release

VPA_CRD = "verticalpodautoscalers.autoscaling.k8s.io"


def chart_hpa_values(cfg: AutoscalingConfig) -> dict[str, Any]:
    """The chart's own HPA settings at ``cfg.chart_values`` (a values overlay)."""
    assert cfg.chart_values is not None
    settings: dict[str, Any] = {
        "enabled": True,
        "minReplicas": cfg.min_replicas,
        "maxReplicas": cfg.max_replicas,
    }
    if cfg.cpu is not None:
        settings["targetCPUUtilizationPercentage"] = cfg.cpu.average_utilization
    if cfg.memory is not None:
        settings["targetMemoryUtilizationPercentage"] = cfg.memory.average_utilization
    overlay: dict[str, Any] = {}
    set_path(overlay, cfg.chart_values, settings)
    return overlay


def with_chart_hpa(
    cfg: ReleaseConfig, values: pulumi.Input[dict[str, Any]]
) -> pulumi.Input[dict[str, Any]]:
    """``values`` with the chart's HPA settings when ``autoscaling.chartValues`` asks."""
    if cfg.autoscaling is None or cfg.autoscaling.chart_values is None:
        return values
    overlay = chart_hpa_values(cfg.autoscaling)
    if isinstance(values, dict):
        return merge(values, overlay)
    return pulumi.Output.from_input(values).apply(lambda v: merge(v, overlay))  # type: ignore[arg-type]


def _target_ref(target: ScaleTarget, release: str) -> dict[str, str]:
    return {"apiVersion": target.api_version, "kind": target.kind, "name": target.name or release}


def hpa_spec(cfg: AutoscalingConfig, release: str) -> dict[str, Any]:
    """The ``spec`` of the HorizontalPodAutoscaler (``autoscaling/v2``)."""
    metrics = [
        {"type": "Resource", "resource": {"name": name, "target": metric.metric_target()}}
        for name, metric in (("cpu", cfg.cpu), ("memory", cfg.memory))
        if metric is not None
    ]
    spec: dict[str, Any] = {
        "scaleTargetRef": _target_ref(cfg.target, release),
        "minReplicas": cfg.min_replicas,
        "maxReplicas": cfg.max_replicas,
        "metrics": metrics,
    }
    if cfg.behavior is not None:
        spec["behavior"] = cfg.behavior
    return spec


def vpa_spec(cfg: VpaConfig, release: str) -> dict[str, Any]:
    policy: dict[str, Any] = {
        "containerName": "*",
        "controlledResources": list(cfg.controlled_resources),
    }
    if cfg.min_allowed:
        policy["minAllowed"] = dict(cfg.min_allowed)
    if cfg.max_allowed:
        policy["maxAllowed"] = dict(cfg.max_allowed)
    return {
        "targetRef": _target_ref(cfg.target, release),
        "updatePolicy": {"updateMode": cfg.update_mode},
        "resourcePolicy": {"containerPolicies": [policy]},
    }


def autoscalers(
    release: Release,
    cfg: ReleaseConfig,
    platform: Platform,
    labels: dict[str, str],
    after: list[pulumi.Resource],
    opts: pulumi.ResourceOptions,
) -> None:
    """Register the HPA and the VPA of ``cfg`` (children of ``release``, after ``after``)."""
    meta = k8s.meta.v1.ObjectMetaArgs(name=cfg.name, namespace=cfg.namespace, labels=labels)
    child = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=after))
    if cfg.autoscaling is not None and cfg.autoscaling.chart_values is None:
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{release._name}-hpa",
            metadata=meta,
            spec=hpa_spec(cfg.autoscaling, cfg.name),
            opts=child,
        )
    if cfg.vpa is None:
        return
    installed, why = crd_installed(platform.cluster_access, VPA_CRD)
    if not installed:
        pulumi.log.warn(f"vpa: no VerticalPodAutoscaler created: {why}", resource=release)
        return
    k8s.apiextensions.CustomResource(
        f"{release._name}-vpa",
        api_version="autoscaling.k8s.io/v1",
        kind="VerticalPodAutoscaler",
        metadata=meta,
        spec=vpa_spec(cfg.vpa, cfg.name),
        opts=child,
    )
