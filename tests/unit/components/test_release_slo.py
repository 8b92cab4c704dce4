"""A release's SLOs in the component (T4.3): the rule file resource, the gate's hooks, and
the ConfigErrors when the stack has no Prometheus."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from helm_enterprise import ConfigError, Release
from helm_enterprise.components.context import Platform, set_default_platform
from helm_enterprise.config.stack import PrometheusConfig
from tests.unit.pulumi_harness import run_program

SLO = {
    "name": "availability",
    "objective": 99.5,
    "sli": {"raw": {"errorRatioQuery": "job:errors:ratio_rate{{.window}}"}},
}


def with_prometheus(platform: Platform, rule_dir: Path | None) -> Platform:
    p = dataclasses.replace(
        platform,
        prometheus=PrometheusConfig(
            address="http://prometheus.invalid:9090",
            rule_files_dir=str(rule_dir) if rule_dir else None,
        ),
    )
    set_default_platform(p)
    return p


def web(**extra: Any) -> dict[str, Any]:
    return {"chart": {"path": "charts/hello"}, "namespace": "demo", **extra}


def test_slos_register_the_rule_file(platform: Platform, tmp_path: Path) -> None:
    with_prometheus(platform, tmp_path)
    run = run_program(lambda: Release("web", web(slos=[SLO])), preview=True)
    [rules] = [
        r for r in run.of_type("pulumi-python:dynamic:Resource") if r.name == "web-slo-rules"
    ]
    assert rules.inputs["file"] == str(tmp_path / "helm-enterprise-proj-dev-web.yml")
    assert rules.inputs["address"] == "http://prometheus.invalid:9090"
    groups = yaml.safe_load(rules.inputs["rules"])["groups"]
    assert [g["name"] for g in groups] == rules.inputs["groups"]
    assert groups[0]["rules"][0]["expr"] == "(job:errors:ratio_rate5m)"


def test_slos_without_prometheus_are_a_config_error(platform: Platform) -> None:
    with pytest.raises(ConfigError) as err:
        run_program(lambda: Release("web", web(slos=[SLO])))
    assert err.value.path == "slos" and "helm-enterprise:prometheus" in (err.value.hint or "")


def test_without_a_rule_directory_a_prometheus_rule_object(platform: Platform) -> None:
    p = with_prometheus(platform, None)
    set_default_platform(
        dataclasses.replace(
            p,
            prometheus=PrometheusConfig(
                address="http://prometheus.invalid:9090", rule_labels={"release": "kps"}
            ),
        )
    )
    run = run_program(lambda: Release("web", web(slos=[SLO])))
    rule = run.one("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
    assert rule.inputs["metadata"]["name"] == "web-slos"
    assert rule.inputs["metadata"]["namespace"] == "demo"
    labels = rule.inputs["metadata"]["labels"]
    assert labels["release"] == "kps" and labels["helm-enterprise.io/release"] == "web"
    assert rule.inputs["spec"]["groups"][0]["name"] == "sloth-slo-sli-recordings-web-availability"


def test_rule_files_need_their_directory() -> None:
    from helm_enterprise.config._base import validate_model

    with pytest.raises(ConfigError, match="ruleFilesDir"):
        validate_model(PrometheusConfig, {"address": "http://p:9090", "rules": "files"})
    with pytest.raises(ConfigError, match="needs its address"):
        validate_model(PrometheusConfig, {"ruleFilesDir": "/tmp/rules"})


def test_gate_needs_slos_and_release_mode() -> None:
    from helm_enterprise.config._base import validate_model
    from helm_enterprise.config.release import ReleaseConfig

    with pytest.raises(ConfigError, match="gates on this release's own SLOs"):
        validate_model(ReleaseConfig, {"name": "web", **web(sloGate="page")})
    with pytest.raises(ConfigError, match="applies to mode: release"):
        validate_model(
            ReleaseConfig, {"name": "web", **web(sloGate="page", slos=[SLO], mode="chart")}
        )
