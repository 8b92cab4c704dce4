"""`helm-enterprise drift` on the real engine and cluster, in both modes (T3.3, journey 6).

Someone edits a Deployment's image and replicas and deletes a ConfigMap with kubectl:
the report names release, object, field, old and new value and exits 1; every finding is
an audit event; `--remediate` restores the objects; ignored fields are not reported; a
Secret's data is reported by path only.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

from helm_enterprise.audit import AuditLog
from tests.e2e.conftest import REPO, Env, run_cli
from tests.e2e.test_release import deployment, hello

IMAGE = "/spec/template/spec/containers/0/image"
PULL_POLICY = "/spec/template/spec/containers/0/imagePullPolicy"
OLD_IMAGE = "registry.helm-enterprise.test/library/podinfo:6.9.2"
NEW_IMAGE = "registry.helm-enterprise.test/library/podinfo:6.9.3"


def drift(sb: Env, p: Any, audit: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a nightly job runs it: no terminal on stdin."""
    return run_cli(
        *("drift", "--stack", p.stack.name, "--cwd", str(p.dir), *args),
        env={**sb.env, "HELM_ENTERPRISE_AUDIT_LOG": str(audit)},
        stdin=subprocess.DEVNULL,
        timeout=900,
        cwd=REPO,
    )


def drift_json(sb: Env, p: Any, audit: Path, *args: str) -> tuple[int, dict[str, Any]]:
    proc = drift(sb, p, audit, "--json", *args)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def tamper(sb: Env, namespace: str) -> None:
    """What the on-call engineer did by hand."""
    sb.kubectl("-n", namespace, "set", "image", "deployment/hello", f"web={NEW_IMAGE}")
    sb.kubectl("-n", namespace, "scale", "deployment/hello", "--replicas=3")
    sb.kubectl("-n", namespace, "delete", "configmap", "hello-config")
    sb.kubectl(
        "-n",
        namespace,
        "patch",
        "deployment",
        "hello",
        "--type",
        "json",
        "-p",
        json.dumps([{"op": "replace", "path": PULL_POLICY, "value": "Always"}]),
    )


def by_object(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (stack,) = report["stacks"]
    return {f"{f['object']['kind']}/{f['object']['name']}": f for f in stack["findings"]}


def assert_drift_reported(report: dict[str, Any], via: str) -> dict[str, dict[str, Any]]:
    found = by_object(report)
    dep = found["Deployment/hello"]
    assert dep["release"] == "hello" and dep["state"] == "drifted" and dep["via"] == via
    fields = {f["path"]: f for f in dep["fields"]}
    assert (fields["/spec/replicas"]["old"], fields["/spec/replicas"]["new"]) == (2, 3)
    assert (fields[IMAGE]["old"], fields[IMAGE]["new"]) == (OLD_IMAGE, NEW_IMAGE)
    # Who changed it, as the API server recorded it.
    assert fields["/spec/replicas"]["by"] == ["kubectl (scale)"]
    assert fields[IMAGE]["by"] == ["kubectl-set"]
    # The ignore rule holds: listed as ignored, not reported.
    assert PULL_POLICY not in fields
    assert any(i.startswith(PULL_POLICY) for i in dep["ignored"])
    cm = found["ConfigMap/hello-config"]
    assert cm["state"] == "missing" and cm["release"] == "hello"
    return found


def assert_restored(sb: Env, namespace: str) -> None:
    dep = deployment(sb, namespace)
    assert dep["spec"]["replicas"] == 2  # type: ignore[index]
    container = dep["spec"]["template"]["spec"]["containers"][0]  # type: ignore[index]
    assert container["image"] == OLD_IMAGE
    config = sb.kubectl_json("-n", namespace, "get", "configmap", "hello-config")
    assert config["data"]["message"] == "hello from helm-enterprise"


def audit_events(audit: Path, action: str) -> list[dict[str, Any]]:
    return [e for e in AuditLog(audit).records() if e["action"] == action]


def test_release_mode_drift_is_reported_audited_and_remediated(
    sb: Env, project: Any, namespace: str, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    p = project()
    p.releases([hello(namespace, values={"replicaCount": 2, "secret": {"token": "first-token"}})])
    p.config(
        "helm-enterprise:drift",
        {"ignore": [{"paths": [PULL_POLICY], "target": {"kind": "Deployment"}, "reason": "e2e"}]},
    )
    p.up()

    code, report = drift_json(sb, p, audit)
    assert code == 0, report
    assert report["stacks"][0]["summary"]["drifted"] == 0
    assert report["stacks"][0]["summary"]["in-sync"] >= 4

    tamper(sb, namespace)
    stolen = base64.b64encode(b"tampered-token-value").decode()
    sb.kubectl(
        "-n",
        namespace,
        "patch",
        "secret",
        "hello-secret",
        "-p",
        json.dumps({"data": {"token": stolen}}),
    )

    proc = drift(sb, p, audit, "--json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    found = assert_drift_reported(report, via="manifest")
    # A Secret's data: the path and "changed", never a value (neither old nor new).
    (secret_field,) = found["Secret/hello-secret"]["fields"]
    assert secret_field["path"] == "/data/token" and secret_field["redacted"] is True
    for value in (
        "tampered-token-value",
        stolen,
        "first-token",
        base64.b64encode(b"first-token").decode(),
    ):
        assert value not in proc.stdout + proc.stderr
    # Every finding is an audit event.
    events = audit_events(audit, "drift-found")
    objects = {(e["object"], e["result"]) for e in events}
    assert (f"Deployment/{namespace}/hello", "drifted") in objects
    assert (f"ConfigMap/{namespace}/hello-config", "missing") in objects
    assert all(e["stack"] == p.stack.name and e["release"] == "hello" for e in events)
    assert "tampered-token-value" not in audit.read_text() and stolen not in audit.read_text()

    # Remediation that needs a confirmation does not hang without a terminal.
    proc = drift(sb, p, audit, "--remediate", "--confirm")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "not confirmed" in proc.stdout
    assert deployment(sb, namespace)["spec"]["replicas"] == 3  # type: ignore[index]

    code, report = drift_json(sb, p, audit, "--remediate")
    assert code == 0, report
    (stack,) = report["stacks"]
    assert stack["remaining"] == [] and all(r["ok"] for r in stack["remediation"])
    assert_restored(sb, namespace)
    secret = sb.kubectl_json("-n", namespace, "get", "secret", "hello-secret")
    assert base64.b64decode(secret["data"]["token"]) == b"first-token"
    assert audit_events(audit, "drift-remediated")[-1]["result"] == "succeeded"
    assert AuditLog(audit).verify().ok

    proc = drift(sb, p, audit)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 drifted, 0 missing" in proc.stdout

    # Remediation wrote no Helm revision, and Helm's next upgrade is not blocked by it.
    assert len(sb.helm_history("hello", namespace)) == 1
    p.releases([hello(namespace, values={"replicaCount": 3, "secret": {"token": "first-token"}})])
    p.up()
    assert deployment(sb, namespace)["spec"]["replicas"] == 3  # type: ignore[index]
    assert [h["status"] for h in sb.helm_history("hello", namespace)] == ["superseded", "deployed"]


def test_chart_mode_drift_is_reported_and_remediated(
    sb: Env, project: Any, namespace: str, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    p = project()
    p.releases([hello(namespace, mode="chart")])
    p.up()
    tamper(sb, namespace)
    ignore = ("--ignore", f"Deployment/hello:{PULL_POLICY}")

    # The human table names release, object, field, old and new value.
    proc = drift(sb, p, audit, *ignore)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    stack = p.stack.name
    lines = proc.stdout.splitlines()
    assert (
        f"{stack} hello Deployment/{namespace}/hello /spec/replicas: 2 -> 3 (by kubectl (scale))"
        in lines
    )
    assert (
        f"{stack} hello Deployment/{namespace}/hello {IMAGE}: "
        f"{OLD_IMAGE} -> {NEW_IMAGE} (by kubectl-set)" in lines
    )
    assert (
        f"{stack} hello ConfigMap/{namespace}/hello-config: missing (desired, not in the cluster)"
        in lines
    )
    assert PULL_POLICY not in proc.stdout
    assert "1 field change(s) ignored by rule" in proc.stdout

    code, report = drift_json(sb, p, audit, *ignore)
    assert code == 1
    assert_drift_reported(report, via="refresh")
    assert {e["object"] for e in audit_events(audit, "drift-found")} >= {
        f"Deployment/{namespace}/hello",
        f"ConfigMap/{namespace}/hello-config",
    }

    # Warn mode reports but does not fail the job.
    code, report = drift_json(sb, p, audit, *ignore, "--mode", "warn")
    assert code == 0 and report["drifted"] is True

    code, report = drift_json(sb, p, audit, *ignore, "--remediate", "--confirm", "--yes")
    assert code == 0, report
    assert report["stacks"][0]["remaining"] == []
    assert_restored(sb, namespace)

    # An autoscaler owns replicas: the default rules keep that out of the report.
    sb.kubectl("-n", namespace, "autoscale", "deployment", "hello", "--min=1", "--max=5")
    sb.kubectl("-n", namespace, "scale", "deployment/hello", "--replicas=4")
    code, report = drift_json(sb, p, audit)
    assert code == 0, report
    dep = by_object(report)["Deployment/hello"]
    assert dep["state"] == "in-sync" and dep["fields"] == []
    assert any(
        i.startswith("/spec/replicas (scaled by HorizontalPodAutoscaler") for i in dep["ignored"]
    )
    code, report = drift_json(sb, p, audit, "--no-default-ignores")
    assert code == 1
    fields = by_object(report)["Deployment/hello"]["fields"]
    assert [(f["path"], f["new"]) for f in fields] == [("/spec/replicas", 4)]


def test_bad_policy_and_unknown_stack_are_errors_not_drift(
    sb: Env, project: Any, namespace: str, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    p = project()
    p.config("helm-enterprise:drift", {"ignore": [{"paths": ["spec/replicas"]}]})
    proc = drift(sb, p, audit, "--stack", "no-such-stack")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "helm-enterprise:drift.ignore[0].paths[0]: 'spec/replicas' is not a JSON pointer" in (
        proc.stderr
    )
    assert "stack no-such-stack does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = drift(sb, p, audit, "--ignore", "Deployment:spec")
    assert proc.returncode == 2 and "--ignore" in proc.stderr


def test_hand_rollback_is_reported_and_upgraded_back(
    sb: Env, project: Any, namespace: str, tmp_path: Path
) -> None:
    """Issue 10: `helm rollback` by hand is drift of the release itself; `--remediate` and a
    plain `pulumi up` (no --refresh) upgrade back to the desired values."""
    audit = tmp_path / "audit.jsonl"
    p = project()
    for message in ("v1", "v2"):
        p.releases([hello(namespace, values={"replicaCount": 1, "message": message})])
        p.up()
    mark = f"Applied by helm-enterprise [helm-enterprise/{p.stack.name}/hello"
    assert sb.helm_history("hello", namespace)[-1]["description"] == mark + "]"

    def hand_rollback(expected_revision: int) -> None:
        sb.helm("rollback", "hello", "1", "-n", namespace)
        last = sb.helm_history("hello", namespace)[-1]
        assert (last["revision"], last["description"]) == (expected_revision, "Rollback to 1")
        config = sb.kubectl_json("-n", namespace, "get", "configmap", "hello-config")
        assert config["data"]["message"] == "v1"

    def assert_upgraded_back(revision: int, replaced: int) -> None:
        last = sb.helm_history("hello", namespace)[-1]
        assert (last["revision"], last["status"]) == (revision, "deployed")
        assert last["description"] == f"{mark}, replaces revision {replaced}]"
        config = sb.kubectl_json("-n", namespace, "get", "configmap", "hello-config")
        assert config["data"]["message"] == "v2"

    hand_rollback(3)
    code, report = drift_json(sb, p, audit)
    assert code == 1, report
    (rel,) = [f for f in report["stacks"][0]["findings"] if f["kind"] == "release"]
    assert (rel["release"], rel["via"], rel["state"]) == ("hello", "release", "drifted")
    assert rel["object"]["kind"] == "Release" and rel["object"]["name"] == "hello"
    fields = {f["path"]: f for f in rel["fields"]}
    assert (fields["/revision"]["old"], fields["/revision"]["new"]) == (2, 3)
    assert fields["/revision"]["by"] == ["Rollback to 1"]
    assert fields["/description"]["new"] == "Rollback to 1"
    assert fields["/values"]["redacted"] is True and fields["/values"]["old"] == "[redacted]"
    assert any(
        e["object"] == f"Release/{namespace}/hello" and e["via"] == "release"
        for e in audit_events(audit, "drift-found")
    )

    # `pulumi preview`, no refresh: an update of the release, and a warning that says why.
    preview = p.preview()
    assert preview.change_summary.get("update") == 1, preview.change_summary
    assert "revision 3 (chart hello-0.1.0, 'Rollback to 1') was not made by this stack" in (p.text)

    code, report = drift_json(sb, p, audit, "--remediate")
    (stack,) = report["stacks"]
    assert code == 0, json.dumps(stack)
    assert stack["remaining"] == []
    assert [(r["object"]["kind"], r["ok"]) for r in stack["remediation"]] == [("Release", True)]
    assert audit_events(audit, "drift-remediated")[-1]["result"] == "succeeded"
    assert_upgraded_back(4, 3)

    # Again by hand; this time the next plain `pulumi up` upgrades back, and then nothing
    # is left to change.
    hand_rollback(5)
    out = p.up().outputs["releases"].value["hello"]
    assert out["revision"] == 6
    assert_upgraded_back(6, 5)
    p.stack.preview(expect_no_changes=True, on_output=p._out, color="never")
    code, report = drift_json(sb, p, audit)
    assert code == 0, report
