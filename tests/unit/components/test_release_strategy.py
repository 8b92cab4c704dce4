"""A release with a strategy in the component (T3.1/T3.2): which colours are registered,
with what the post-renderer does to them, and the rollout resource after them."""

from __future__ import annotations

import dataclasses
import json
import shlex
from typing import Any

import pytest

from helm_enterprise import ConfigError, Release
from helm_enterprise.components import release as release_module
from helm_enterprise.components.context import Platform
from helm_enterprise.errors import ClusterUnavailableError
from helm_enterprise.kube.postrender import LAUNCHER_DIR
from helm_enterprise.strategy.plan import State
from tests.unit.conftest import REPO
from tests.unit.pulumi_harness import run_program

REL = "kubernetes:helm.sh/v3:Release"
CANARY = {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}}


def web(**extra: Any) -> dict[str, Any]:
    return {"chart": {"path": "charts/hello"}, "namespace": "demo", "strategy": CANARY, **extra}


def with_state(monkeypatch: pytest.MonkeyPatch, state: State | None) -> None:
    monkeypatch.setattr(release_module, "read_state", lambda *_a: state)


def workload(rel: Any) -> dict[str, Any] | None:
    """The post-renderer's workload options, read back from its launcher."""
    text = (REPO / LAUNCHER_DIR / rel.inputs["postrender"].rsplit("/", 1)[-1]).read_text()
    parts = shlex.split(text.split("helm_enterprise.kube.postrender ", 1)[1])
    return json.loads(parts[2]) if len(parts) > 2 else None


def test_first_install_is_blue_with_its_declared_size(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_state(monkeypatch, None)
    run = run_program(lambda: Release("web", web()), preview=True)
    [blue] = run.of_type(REL)
    assert blue.name == "web-release-blue" and blue.inputs["name"] == "web-blue"
    assert "values" not in blue.ignore_changes  # a first install deploys what is declared
    assert workload(blue) == {
        "replicas": None,
        "templateLabels": {
            "helm-enterprise.io/colour": "blue",
            "helm-enterprise.io/rollout": "web",
        },
    }
    [rollout] = [
        r for r in run.of_type("pulumi-python:dynamic:Resource") if r.name == "web-rollout"
    ]
    assert json.loads(rollout.inputs["plan"]) == {
        "action": "install",
        "stable": None,
        "target": "blue",
        "resume": 0,
    }
    assert blue.urn in rollout.dependencies
    # no rollout watch or health resource of its own: the strategy's analysis judges it
    assert {r.name for r in run.of_type("pulumi-python:dynamic:Resource")} == {"web-rollout"}


def test_a_change_rolls_out_to_the_other_colour_and_keeps_the_active_one(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_state(monkeypatch, State(active="blue", active_digest="old", promotions=2, aborts=1))
    run = run_program(lambda: Release("web", web()), preview=True)
    blue, green = sorted(run.of_type(REL), key=lambda r: r.name)
    assert (blue.name, green.name) == ("web-release-blue", "web-release-green")
    # what serves is kept exactly as it is: every input ignored
    assert {"values", "version", "chart", "postrender"} <= set(blue.ignore_changes)
    assert "values" not in green.ignore_changes
    assert workload(green)["replicas"] == 0  # type: ignore[index]  # a canary starts empty
    [rollout] = [
        r for r in run.of_type("pulumi-python:dynamic:Resource") if r.name == "web-rollout"
    ]
    assert json.loads(rollout.inputs["plan"])["action"] == "rollout"
    assert rollout.inputs["requests"] == "2/1"
    assert {blue.urn, green.urn} <= set(rollout.dependencies)


def test_the_same_digest_is_steady_and_registers_only_the_active_colour(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    digests: list[str] = []

    def capture(*_a: Any) -> State:
        return State(active="green", active_digest=digests[0] if digests else "x")

    # First learn the digest the component computes, then feed it back.
    with_state(monkeypatch, None)
    first = run_program(lambda: Release("web", web()), preview=True)
    [r] = [r for r in first.of_type("pulumi-python:dynamic:Resource") if r.name == "web-rollout"]
    digests.append(r.inputs["digest"])
    monkeypatch.setattr(release_module, "read_state", capture)
    run = run_program(lambda: Release("web", web()), preview=True)
    [green] = run.of_type(REL)
    assert green.name == "web-release-green"
    [r2] = [r for r in run.of_type("pulumi-python:dynamic:Resource") if r.name == "web-rollout"]
    assert json.loads(r2.inputs["plan"])["action"] == "steady"
    # A value change is a new digest.
    changed = run_program(lambda: Release("web", web(values={"message": "v2"})), preview=True)
    assert len(changed.of_type(REL)) == 2


def test_blue_green_preview_starts_at_preview_replica_count(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_state(monkeypatch, dataclasses.replace(State(active="blue", active_digest="old")))
    strategy = {"blueGreen": {"previewReplicaCount": 1}}
    run = run_program(lambda: Release("web", web(strategy=strategy)), preview=True)
    green = next(r for r in run.of_type(REL) if r.name == "web-release-green")
    assert workload(green)["replicas"] == 1  # type: ignore[index]


def test_an_unreachable_cluster_stops_up_but_not_preview(platform: Platform) -> None:
    with pytest.raises(ClusterUnavailableError, match="which colour serves is unknown"):
        run_program(lambda: Release("web", web()))
    run = run_program(lambda: Release("web", web()), preview=True)
    assert [r.name for r in run.of_type(REL)] == ["web-release-blue"]


@pytest.mark.parametrize(
    ("extra", "path", "text"),
    [
        ({"mode": "chart"}, "strategy", "needs mode: release"),
        (
            {"autoscaling": {"maxReplicas": 3, "cpu": {"averageUtilization": 70}}},
            "autoscaling",
            "not supported with a strategy",
        ),
        (
            {"health": {"checks": [{"type": "http", "name": "web", "service": "web"}]}},
            "health",
            "judged by the strategy's analysis",
        ),
        ({"wait": False}, "wait", "needs Helm to wait"),
        (
            {"strategy": {"blueGreen": {}, "canary": {"steps": [{"setWeight": 5}]}}},
            "strategy.blueGreen",
            "exactly one of blueGreen or canary",
        ),
        (
            {
                "strategy": {
                    "canary": {
                        "steps": [
                            {
                                "analysis": {
                                    "metrics": [
                                        {
                                            "name": "e",
                                            "prometheus": {"query": "q"},
                                            "successCondition": "result < 1",
                                            "interval": "5s",
                                        }
                                    ]
                                }
                            }
                        ]
                    }
                }
            },
            "strategy.canary.steps[0].analysis.metrics[0].count",
            "needs a count",
        ),
        (
            {
                "strategy": {
                    "canary": {
                        "steps": [
                            {"analysis": {"metrics": [{"name": "e", "prometheus": {"query": "q"}}]}}
                        ]
                    }
                }
            },
            "strategy.canary.steps[0].analysis.metrics[0].successCondition",
            "needs successCondition",
        ),
        (
            {"strategy": {"blueGreen": {"activeService": "Web"}}},
            "strategy.blueGreen.activeService",
            "is not a Service name",
        ),
    ],
)
def test_config_errors_name_the_field(
    platform: Platform, extra: dict[str, Any], path: str, text: str
) -> None:
    with pytest.raises(ConfigError) as err:
        run_program(lambda: Release("web", web(**extra)), preview=True)
    assert path in str(err.value) and text in str(err.value), str(err.value)
