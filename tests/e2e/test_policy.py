"""The policy pack on the real engine (journey 3): ``pulumi preview --policy-pack`` with the
pack shipped in the package, release and chart mode alike.

The projects run the root program with ``helm-enterprise:policySummary`` on, so each
release registers its policy summary (what CrossGuard checks of the rendered objects).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from helm_enterprise.audit import AuditLog
from helm_enterprise.policy import launcher
from tests.e2e.conftest import Env, run_cli
from tests.e2e.test_release import hello

MODES = ["release", "chart"]


def policy_project(project: Any, config: dict[str, Any]) -> Any:
    """A project with policy summaries on and a policy config file next to it."""
    p = project()
    p.config("helm-enterprise:policySummary", True)
    (p.dir / "policy.json").write_text(json.dumps(config))
    return p


def preview_with_pack(p: Any) -> auto.PreviewResult:
    return p.stack.preview(
        policy_packs=[str(launcher())],
        policy_pack_configs=[str(p.dir / "policy.json")],
        on_output=p._out,
        color="never",
    )


def chart_without_limits(p: Any) -> str:
    """A copy of charts/hello whose defaults set requests only (in release mode a null in
    values does not remove a chart default: the provider drops nulls)."""
    target = p.dir / "charts" / "nolimits"
    shutil.copytree(p.dir / "charts" / "hello", target)
    values = target / "values.yaml"
    text = values.read_text().replace("  limits: {cpu: 200m, memory: 128Mi}\n", "")
    assert "limits" not in text.split("securityContext")[0]
    values.write_text(text)
    return "charts/nolimits"


def violations(text: str, rule: str) -> list[dict[str, str]]:
    """The pack's violations of one rule in the engine's output (``key: value`` lines
    after the ``[level] ... rule (type: name)`` header)."""
    found: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("- ["):
            current = {"header": line} if f"  {rule}  (" in line else None
            if current is not None:
                found.append(current)
        elif current is not None:
            key, sep, value = line.partition(": ")
            if sep and key in {"resource", "release", "field", "problem", "fix"}:
                current[key] = value
    return found


def test_compliant_releases_pass_in_both_modes(sb: Env, project, namespace: str) -> None:
    p = policy_project(
        project,
        {
            "approved-registries": {"registries": ["registry.helm-enterprise.test"]},
            "tenant-boundaries": {"allowedNamespaces": [namespace]},
        },
    )
    p.releases(
        [
            hello(namespace, chart={"path": "charts/hello"}),
            {**hello(namespace, mode="chart"), "name": "hello-chart", "createNamespace": False},
        ]
    )
    preview_with_pack(p)
    assert "helm-enterprise@v0.1.0" in p.text
    assert "[mandatory]" not in p.text and "[advisory]" not in p.text, p.text
    # The summary was rendered in release mode (objects) and is a child of the release.
    assert "helm-enterprise:index:PolicySummary hello-policy" in p.text
    assert "chart could not be rendered" not in p.text


@pytest.mark.parametrize("mode", MODES)
def test_violating_release_fails_the_preview_with_actionable_messages(
    sb: Env, project, namespace: str, mode: str
) -> None:
    p = policy_project(project, {"tenant-boundaries": {"allowedNamespaces": ["team-*"]}})
    p.releases(
        [
            hello(
                namespace,
                mode=mode,
                chart={"path": chart_without_limits(p)},
                values={
                    "image": {"tag": "latest"},
                    "securityContext": {"privileged": True},
                    "db": {"password": "hunter2-plain"},
                },
            )
        ]
    )
    with pytest.raises(auto.errors.CommandError):
        preview_with_pack(p)
    text = p.text
    deployment = f"Deployment {namespace}/hello"
    where = "helm-enterprise:index:PolicySummary: hello-policy"
    if mode == "chart":
        where = f"kubernetes:apps/v1:Deployment: hello-chart:{namespace}/hello"
    expected = {
        "no-privileged": "spec.template.spec.containers[web].securityContext.privileged",
        "image-tags": "spec.template.spec.containers[web].image",
        "resource-limits": "spec.template.spec.containers[web].resources.limits",
    }
    for rule, field in expected.items():
        [v] = [v for v in violations(text, rule) if v["resource"] == deployment]
        assert v["header"].startswith("- [mandatory]") and where in v["header"], v
        assert v["field"] == field and v["release"] == "hello"
        assert v["problem"] and v["fix"]
    tenancy = violations(text, "tenant-boundaries")
    assert {(v["resource"], v["field"]) for v in tenancy} >= {
        (f"Release {namespace}/hello", "namespace")
    }
    assert "deploy into one of team-*" in tenancy[0]["fix"]
    [secret] = violations(text, "no-plaintext-secrets")
    assert secret["field"] == "values.db.password"
    assert "hunter2-plain" not in text  # a violation names the key, never the value
    assert sb.kubectl("get", "namespace", namespace, check=False) == ""  # nothing applied


@pytest.mark.parametrize("mode", MODES)
def test_advisory_rule_warns_without_failing(sb: Env, project, namespace: str, mode: str) -> None:
    p = policy_project(project, {"required-labels": {"labels": ["team"]}})
    p.releases([hello(namespace, mode=mode)])
    preview_with_pack(p)  # passes
    labels = violations(p.text, "required-labels")
    assert labels, p.text
    assert all(v["header"].startswith("- [advisory]") for v in labels)
    assert {v["resource"] for v in labels} >= {f"Deployment {namespace}/hello"}
    assert {v["problem"] for v in labels} == {"missing required label(s) team"}
    # Enforcement is configuration: the same rule made mandatory fails the preview.
    (p.dir / "policy.json").write_text(
        json.dumps({"required-labels": {"enforcementLevel": "mandatory", "labels": ["team"]}})
    )
    with pytest.raises(auto.errors.CommandError):
        preview_with_pack(p)


def test_compliant_release_deploys_with_the_pack(sb: Env, project, namespace: str) -> None:
    p = policy_project(project, {"tenant-boundaries": {"allowedNamespaces": [namespace]}})
    p.releases([hello(namespace)])
    p.stack.up(
        policy_packs=[str(launcher())],
        policy_pack_configs=[str(p.dir / "policy.json")],
        on_output=p._out,
        color="never",
        show_secrets=False,
    )
    assert sb.helm_history("hello", namespace)[-1]["status"] == "deployed"


def test_mandatory_violation_stops_up_before_helm_runs(
    sb: Env, project, namespace: str, tmp_path: Path
) -> None:
    # The component's Helm resource takes its values through the summary's gate, so
    # CrossGuard stops `up` (no preview) before Helm is called.
    p = policy_project(project, {})
    trail = tmp_path / "audit.jsonl"
    p.stack.workspace.env_vars["HELM_ENTERPRISE_AUDIT_LOG"] = str(trail)
    p.releases([hello(namespace, values={"securityContext": {"privileged": True}})])
    with pytest.raises(auto.errors.CommandError):
        p.stack.up(
            policy_packs=[str(launcher())],
            policy_pack_configs=[str(p.dir / "policy.json")],
            on_output=p._out,
            color="never",
            show_secrets=False,
        )
    [v] = violations(p.text, "no-privileged")
    assert v["resource"] == f"Deployment {namespace}/hello"
    types = {r["type"] for r in p.export_json().get("resources", [])}
    assert "kubernetes:helm.sh/v3:Release" not in types
    helm_records = sb.kubectl(
        "get", "secrets", "-n", namespace, "-l", "owner=helm", "-o", "name", check=False
    )
    assert helm_records == ""
    assert sb.kubectl("get", "deployment", "hello", "-n", namespace, check=False) == ""
    # The violation is in the audit trail, recorded by the pack's process.
    records = [r for r in AuditLog(trail).records() if r["action"] == "policy-violation"]
    assert {(r["rule"], r["object"], r["release"]) for r in records} == {
        ("no-privileged", f"Deployment {namespace}/hello", "hello")
    }


def test_validate_json_gives_the_same_findings(sb: Env, project, namespace: str) -> None:
    # No policySummary in the stack: `validate --policy-config` turns the summaries on for
    # its own preview, so the rendered objects are checked anyway.
    p = project()
    (p.dir / "policy.json").write_text(json.dumps({"required-labels": {"labels": ["team"]}}))
    p.releases([hello(namespace, values={"image": {"tag": "latest"}})])
    proc = run_cli(
        *("validate", "-s", p.stack.name, "-C", str(p.dir), "--json"),
        *("--policy-config", str(p.dir / "policy.json")),
        env=sb.env,
    )
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    policy = [f for f in report["findings"] if f["check"] == "policy"]
    by_rule = {(f["severity"], f["message"].split(":")[0]) for f in policy}
    assert ("error", "image-tags") in by_rule
    assert ("warning", "required-labels") in by_rule
    [tag] = [f for f in policy if f["message"].startswith("image-tags")]
    assert tag["release"] == "hello"
    assert tag["field"] == (
        f"Deployment {namespace}/hello: spec.template.spec.containers[web].image"
    )
    assert tag["hint"].startswith("pin a release tag")
    # Nothing but policy findings: the preview failure is explained by them.
    assert {f["check"] for f in report["findings"]} == {"policy"}


def test_a_release_the_pack_cannot_see_fails_the_gate(sb: Env, project, namespace: str) -> None:
    # Journey 3 with a stack that never turned the summaries on: the privileged chart must
    # not pass the gate unseen; the stack policy names the release and the fix.
    p = project()
    (p.dir / "policy.json").write_text("{}")
    p.releases([hello(namespace, values={"securityContext": {"privileged": True}})])
    with pytest.raises(auto.errors.CommandError):
        preview_with_pack(p)
    [v] = violations(p.text, "rendered-objects-checked")
    assert v["resource"] == "Release hello"
    assert v["fix"].startswith("set helm-enterprise:policySummary: true")
    # Accepting the gap explicitly turns it into a warning.
    (p.dir / "policy.json").write_text(json.dumps({"rendered-objects-checked": "advisory"}))
    p.output.clear()
    preview_with_pack(p)
    assert "[advisory]" in p.text and "rendered-objects-checked" in p.text
