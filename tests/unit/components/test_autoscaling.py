"""Autoscaling of a release (T3.5): the HPA, the chart's own HPA values, the VPA, and the
HPA/VPA combination that is refused."""

from __future__ import annotations

from typing import Any

import pytest

from helm_enterprise import ConfigError, Release
from helm_enterprise.components.context import Platform
from helm_enterprise.config._base import validate_model
from helm_enterprise.config.release import ReleaseConfig
from tests.unit.pulumi_harness import run_program

LOCAL = {"path": "charts/hello"}
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"


def web(**extra: Any) -> dict[str, Any]:
    return {"chart": LOCAL, "namespace": "shop", **extra}


def test_hpa_after_the_workload(platform: Platform) -> None:
    autoscaling = {
        "minReplicas": 2,
        "maxReplicas": 6,
        "cpu": {"averageUtilization": 70},
        "memory": {"averageValue": "400Mi"},
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}},
    }
    run = run_program(lambda: Release("web", web(autoscaling=autoscaling)))
    hpa = run.one(HPA)
    rel = run.one("kubernetes:helm.sh/v3:Release")
    assert hpa.name == "web-hpa" and rel.urn in hpa.dependencies
    spec = hpa.inputs["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 6)
    assert spec["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 70},
            },
        },
        {
            "type": "Resource",
            "resource": {
                "name": "memory",
                "target": {"type": "AverageValue", "averageValue": "400Mi"},
            },
        },
    ]
    assert spec["behavior"] == {"scaleDown": {"stabilizationWindowSeconds": 60}}
    assert hpa.inputs["metadata"]["labels"]["helm-enterprise.io/release"] == "web"


def test_chart_values_instead_of_an_hpa(platform: Platform) -> None:
    autoscaling = {"maxReplicas": 4, "cpu": {"averageUtilization": 60}, "chartValues": "hpa"}
    run = run_program(
        lambda: Release("web", web(autoscaling=autoscaling, values={"replicaCount": 1}))
    )
    assert run.of_type(HPA) == []
    values = run.one("kubernetes:helm.sh/v3:Release").inputs["values"]
    assert values["hpa"] == {
        "enabled": True,
        "minReplicas": 1,
        "maxReplicas": 4,
        "targetCPUUtilizationPercentage": 60,
    }
    assert values["replicaCount"] == 1


def test_vpa_without_its_crds_is_a_warning(platform: Platform) -> None:
    run = run_program(lambda: Release("web", web(vpa={})))
    assert run.of_type("kubernetes:autoscaling.k8s.io/v1:VerticalPodAutoscaler") == []


@pytest.mark.parametrize(
    ("extra", "path", "message"),
    [
        (
            {
                "autoscaling": {"maxReplicas": 3, "cpu": {"averageUtilization": 70}},
                "vpa": {"updateMode": "Auto"},
            },
            "vpa.controlledResources",
            "the HPA scales on cpu utilisation and the VPA (updateMode Auto) changes the same",
        ),
        ({"autoscaling": {"maxReplicas": 3}}, "autoscaling", "give cpu or memory"),
        (
            {
                "autoscaling": {
                    "minReplicas": 4,
                    "maxReplicas": 3,
                    "cpu": {"averageUtilization": 70},
                }
            },
            "autoscaling.maxReplicas",
            "must be at least minReplicas",
        ),
        (
            {
                "autoscaling": {
                    "maxReplicas": 3,
                    "cpu": {"averageValue": "200m"},
                    "chartValues": "hpa",
                }
            },
            "autoscaling.cpu",
            "chartValues takes averageUtilization only",
        ),
        ({"autoscaling": {"maxReplicas": 3, "cpu": {}}}, "autoscaling.cpu", "exactly one of"),
    ],
)
def test_invalid_autoscaling_names_the_field(
    extra: dict[str, Any], path: str, message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        validate_model(ReleaseConfig, {"name": "web", **web(**extra)})
    assert any(p == path and message in m for p, m in err.value.issues), err.value.issues


def test_vpa_off_with_an_hpa_is_allowed() -> None:
    cfg = validate_model(
        ReleaseConfig,
        {
            "name": "web",
            **web(autoscaling={"maxReplicas": 3, "cpu": {"averageUtilization": 70}}, vpa={}),
        },
    )
    assert cfg.vpa is not None and cfg.vpa.update_mode == "Off"
