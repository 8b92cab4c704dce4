"""The policy summary: pruning rendered objects, release facts, and rendering through the
provider's ``kubernetes:helm:template`` invoke (under Pulumi's mocks)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi

from helm_enterprise.components.policy_summary import TYPE_TOKEN, PolicySummary
from helm_enterprise.config import ReleaseConfig
from helm_enterprise.config._base import validate_model
from helm_enterprise.kube import render as kube_render
from helm_enterprise.policy import render
from helm_enterprise.sources import ResolvedChart
from tests.unit.policy.helpers import deployment
from tests.unit.pulumi_harness import Mocks, run_program

SECRET_OBJ = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "web-secret", "namespace": "shop", "annotations": {"a": "b"}},
    "data": {"password": "aHVudGVyMg=="},
    "stringData": {"token": "plain-token"},
}
CONFIG_OBJ = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "c"},
    "data": {"k": "v"},
}


def test_prune_keeps_what_rules_read_and_nothing_else() -> None:
    pod = deployment(
        container={"command": ["run", "--password=hunter2"], "args": ["x"]},
        pod={
            "hostNetwork": True,
            "volumes": [
                {"name": "h", "hostPath": {"path": "/etc"}},
                {"name": "s", "secret": {"secretName": "web-secret"}},
            ],
            "initContainers": [{"name": "init", "image": "busybox:1", "env": [{"value": "x"}]}],
        },
    )
    pruned = render.prune(pod, {"helm-enterprise.io/release": "web"})
    assert pruned == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "labels": {"app.kubernetes.io/name": "web", "helm-enterprise.io/release": "web"},
        },
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "hostNetwork": True,
                    "volumes": [{"name": "h", "hostPath": {"path": "/etc"}}, {"name": "s"}],
                    "initContainers": [{"name": "init", "image": "busybox:1"}],
                    "containers": [
                        {
                            "name": "app",
                            "image": "registry.corp/team/app:1.4.2",
                            "resources": pod["spec"]["template"]["spec"]["containers"][0][
                                "resources"
                            ],
                            "securityContext": {"allowPrivilegeEscalation": False},
                        }
                    ],
                },
            }
        },
    }


def test_secrets_and_configmaps_keep_only_their_identity() -> None:
    pruned = render.summarize_objects([SECRET_OBJ, CONFIG_OBJ, None, {"no": "kind"}])
    assert pruned == [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "web-secret", "namespace": "shop", "labels": {}},
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {}}},
    ]


def test_bare_pods_and_cronjobs_are_pruned_at_their_pod_spec() -> None:
    pod = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}
    assert render.prune(pod)["spec"] == {"containers": [{"name": "c"}]}
    cron = {
        "kind": "CronJob",
        "metadata": {"name": "j"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {"hostPID": True}}}}},
    }
    assert render.prune(cron)["spec"] == {
        "jobTemplate": {"spec": {"template": {"spec": {"hostPID": True}}}}
    }


def test_without_nulls_mirrors_the_release_provider() -> None:
    assert kube_render.without_nulls({"a": None, "b": {"c": None, "d": 1}, "e": [None, 2]}) == {
        "b": {"d": 1},
        "e": [2],
    }


def _cfg(**data: Any) -> ReleaseConfig:
    base: dict[str, Any] = {"name": "web", "namespace": "shop", "chart": {"path": "charts/hello"}}
    base.update(data)
    return validate_model(ReleaseConfig, base)


def test_release_facts_hold_paths_not_values() -> None:
    cfg = _cfg(
        tenant="alpha",
        values={"db": {"password": "hunter2"}, "tpl": "${vault:kv/x#y}", "n": 2},
        secret_values={"secret.token": "vault:kv/app#token"},
    )
    facts = render.release_facts(cfg, "local")
    assert facts == {
        "schemaVersion": 1,
        "release": "web",
        "namespace": "shop",
        "mode": "release",
        "tenant": "alpha",
        "chart": {"kind": "local", "name": "hello", "version": "", "gitRef": ""},
        "values": {"literalPaths": ["db.password"], "privateKeyPaths": []},
        "secretPaths": ["secret.token"],
    }
    assert "hunter2" not in json.dumps(facts)


class TemplateMocks(Mocks):
    """Answers the provider's helm template invoke with fixed objects."""

    def __init__(self, objects: list[dict[str, Any]] | None = None, fail: bool = False) -> None:
        super().__init__()
        self.objects = objects or []
        self.fail = fail

    def call(self, args: pulumi.runtime.MockCallArgs) -> Any:
        self.calls.append(args)
        if args.token == kube_render.TEMPLATE_INVOKE:
            if self.fail:  # how the provider reports a template error
                return {}, [("jsonOpts", "template: hello/templates/x.yaml:3: boom")]
            return {"result": self.objects}
        return {}


def _chart(path: Path) -> ResolvedChart:
    return ResolvedChart(
        kind="local",
        chart=str(path),
        version=None,
        repository_opts=lambda assets: None,
        source=f"file://{path}",
        local_files=lambda: pulumi.Output.from_input(path),
    )


def _program(cfg: ReleaseConfig, values: Any, chart: Path) -> Any:
    def program() -> Any:
        parent = pulumi.ComponentResource("helm-enterprise:index:Release", "web")
        s = render.policy_summary(cfg, _chart(chart), values, {"team": "a"}, parent)
        PolicySummary("web-policy", s, pulumi.ResourceOptions(parent=parent))
        return s

    return program


def test_release_mode_renders_with_the_final_values(tmp_path: Path) -> None:
    mocks = TemplateMocks([deployment(namespace=None), SECRET_OBJ])
    cfg = _cfg(values={"resources": {"limits": None}})
    values = pulumi.Output.secret({"resources": {"limits": None}, "secret": {"password": "pw"}})
    run = run_program(_program(cfg, values, tmp_path), mocks=mocks)
    [call] = [c for c in mocks.calls if c.token == kube_render.TEMPLATE_INVOKE]
    opts = json.loads(call.args["jsonOpts"])
    assert opts == {
        "path": str(tmp_path),
        "namespace": "shop",
        "release_name": "web",
        "values": {"resources": {}, "secret": {"password": "pw"}},
    }
    summary = run.value
    assert summary["rendered"] is True
    assert [o["kind"] for o in summary["objects"]] == ["Deployment", "Secret"]
    assert summary["objects"][0]["metadata"]["labels"]["team"] == "a"
    text = json.dumps(summary)
    assert "aHVudGVyMg" not in text and "plain-token" not in text and "s3cr3t" not in text
    # Registered as the PolicySummary's input; secret because the values were.
    reg = run.one(TYPE_TOKEN)
    assert reg.is_secret("summary")
    assert reg.inputs["summary"]["objects"] == summary["objects"]
    assert reg.parent == run.one("helm-enterprise:index:Release").urn


def test_chart_mode_does_not_render(tmp_path: Path) -> None:
    mocks = TemplateMocks()
    run = run_program(_program(_cfg(mode="chart"), {}, tmp_path), mocks=mocks)
    assert not any(c.token == kube_render.TEMPLATE_INVOKE for c in mocks.calls)
    assert run.value["objects"] is None and run.value["mode"] == "chart"
    assert not run.one(TYPE_TOKEN).is_secret("summary")


def test_a_chart_that_does_not_render_skips_object_rules(tmp_path: Path) -> None:
    run = run_program(_program(_cfg(), {}, tmp_path), mocks=TemplateMocks(fail=True))
    assert run.value["rendered"] is False and run.value["objects"] is None
    assert run.value["release"] == "web"  # release-level rules still run


def test_repository_chart_without_schema_check_is_not_fetched_for_the_summary() -> None:
    def never() -> pulumi.Output[Path]:
        raise AssertionError("the chart must not be fetched for the summary")

    chart = ResolvedChart(
        kind="repo",
        chart="hello",
        version="1.0.0",
        repository_opts=lambda assets: None,
        source="https://charts.example/hello:1.0.0",
        local_files=never,
    )
    cfg = validate_model(
        ReleaseConfig,
        {
            "name": "web",
            "chart": {"name": "hello", "version": "1.0.0", "repository": {"url": "https://c.x"}},
            "validation": {"schema": False},
        },
    )
    mocks = TemplateMocks()

    def program() -> Any:
        parent = pulumi.ComponentResource("helm-enterprise:index:Release", "web")
        return render.policy_summary(cfg, chart, {}, {}, parent)

    run = run_program(program, mocks=mocks)
    assert run.value["rendered"] is False and run.value["objects"] is None
    assert run.value["chart"] == {"kind": "repo", "name": "hello", "version": "1.0.0", "gitRef": ""}
    assert not any(c.token == kube_render.TEMPLATE_INVOKE for c in mocks.calls)
