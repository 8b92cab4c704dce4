"""The Release component on the real engine and cluster: deploy, upgrade, roll back, destroy."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from helm_enterprise.audit import AuditLog
from tests.e2e.conftest import REPO, Env, run_cli

# How the failed update names the readiness wait that timed out (the Helm provider's words).
READINESS_FAILED = "failed to become available within allocated timeout"


def hello(namespace: str, **extra: object) -> dict[str, object]:
    return {
        "name": "hello",
        "namespace": namespace,
        "createNamespace": True,
        "chart": {"path": "charts/hello"},
        "values": {"replicaCount": 2},
        **extra,
    }


def deployment(sb: Env, namespace: str, name: str = "hello") -> dict[str, object]:
    data: dict[str, object] = sb.kubectl_json("-n", namespace, "get", "deployment", name)
    return data


def test_up_ready_upgrade_destroy(sb: Env, project, namespace: str) -> None:
    p = project()
    p.releases([hello(namespace)])
    result = p.up()
    out = result.outputs["releases"].value["hello"]
    assert out["status"] == "deployed" and out["revision"] == 1
    dep = deployment(sb, namespace)
    assert dep["status"]["readyReplicas"] == 2
    # Release mode: Helm applied the objects, the post-renderer labelled every one of them.
    for kind in ("deployment", "service", "configmap/hello-config"):
        labels = sb.kubectl_json("-n", namespace, "get", kind if "/" in kind else f"{kind}/hello")[
            "metadata"
        ]["labels"]
        assert labels["helm-enterprise.io/release"] == "hello", kind
        assert labels["helm-enterprise.io/stack"] == p.stack.name, kind
    owner = dep["metadata"]["annotations"]["helm-enterprise.io/owner"]
    assert owner == f"helm-enterprise/{p.stack.name}/hello"
    assert (
        sb.kubectl_json("get", "namespace", namespace)["metadata"]["labels"][
            "helm-enterprise.io/managed-by"
        ]
        == "helm-enterprise"
    )

    # Upgrade: a values change is a new Helm revision; the Deployment follows.
    p.releases([hello(namespace, values={"replicaCount": 3, "message": "v2"})])
    out = p.up().outputs["releases"].value["hello"]
    assert out["revision"] == 2
    assert deployment(sb, namespace)["status"]["readyReplicas"] == 3
    assert [h["revision"] for h in sb.helm_history("hello", namespace)] == [1, 2]

    # A no-op run changes nothing (no spurious Helm revision).
    summary = p.up().summary.resource_changes or {}
    assert set(summary) <= {"same"}, summary
    assert len(sb.helm_history("hello", namespace)) == 2

    p.destroy()
    assert sb.kubectl("get", "namespace", namespace, check=False) == ""
    secrets = sb.kubectl_json("get", "secrets", "-A", "-l", "owner=helm,name=hello")
    assert [s for s in secrets["items"] if s["metadata"]["namespace"] == namespace] == []


def test_readiness_failure_rolls_back_automatically(
    sb: Env, project, namespace: str, tmp_path
) -> None:
    log = tmp_path / "audit.jsonl"
    p = project()
    p.config("helm-enterprise:audit", {"log": str(log), "recordPreviews": False})
    p.releases([hello(namespace, values={"replicaCount": 1})])
    p.up()
    assert [pod["spec"]["nodeName"] for pod in sb.pods(namespace)] == ["a-real-0"]
    # Pods of the new revision run on the real node but never become Ready (podinfo's
    # --unready: its /readyz answers 503, the kubelet's readiness probe fails): the
    # readiness timeout fires and Helm's atomic upgrade rolls back to revision 1.
    p.releases(
        [
            hello(
                namespace,
                values={"replicaCount": 1, "sandbox": {"neverReady": True}},
                timeouts={"readiness": "30s"},
            )
        ]
    )
    error = p.up_fails()
    assert "hello" in error
    assert READINESS_FAILED in error, error[-2000:]
    # The kubelet said why, on the real node: the readiness probe got podinfo's 503.
    probes = [
        e
        for e in sb.kubectl_json("-n", namespace, "get", "events")["items"]
        if e["reason"] == "Unhealthy" and e["message"].startswith("Readiness probe failed")
    ]
    assert probes, "no readiness probe failure recorded"
    assert {e["source"].get("host") or e.get("reportingInstance") for e in probes} == {"a-real-0"}
    # (The first probe may come before podinfo listens: connection refused.)
    assert any("statuscode: 503" in e["message"] for e in probes), probes
    history = sb.helm_history("hello", namespace)
    assert [h["status"] for h in history][-2:] == ["failed", "deployed"]
    assert history[-1]["description"] == "Rollback to 1"
    dep = deployment(sb, namespace)
    annotations = dep["spec"]["template"]["metadata"].get("annotations", {})
    assert "sandbox.helm-enterprise.io/never-ready" not in annotations
    assert dep["status"]["readyReplicas"] == 1
    # Helm's own rollback is an audit event of its own: before and after, from/to/why.
    rollbacks = [r for r in AuditLog(log).records() if r["action"] == "rollback"]
    assert [(r["phase"], r["result"]) for r in rollbacks] == [
        ("before", "started"),
        ("after", "succeeded"),
    ], rollbacks
    for r in rollbacks:
        assert (r["release"], r["namespace"], r["trigger"]) == ("hello", namespace, "readiness")
        assert (r["from_revision"], r["to_revision"]) == (2, 1)
        assert r["why"].startswith("upgrade to revision 2 failed: ")
    assert rollbacks[-1]["new_revision"] == history[-1]["revision"] == 3
    assert AuditLog(log).verify().ok


def test_explicit_rollback_to_revision_is_recorded(
    sb: Env, project, namespace: str, tmp_path
) -> None:
    p = project()
    for i in range(3):
        p.releases([hello(namespace, values={"replicaCount": 1, "message": f"rev {i + 1}"})])
        p.up()
    audit = tmp_path / "audit.jsonl"
    kubeconfig = str(sb.sandbox.cluster("a").kubeconfig)
    proc = run_cli(
        *("rollback", "hello", "-n", namespace, "--to-revision", "1"),
        *("--reason", "bad release 3", "--who", "sam@example.com"),
        *("--kubeconfig", kubeconfig, "--json"),
        # No helm on PATH, as in a user's shell: the CLI uses the sandbox toolchain's.
        env={
            **sb.env,
            "PATH": str(Path(sys.executable).parent),
            "HELM_ENTERPRISE_AUDIT_LOG": str(audit),
        },
        timeout=600,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert (record["from_revision"], record["to_revision"], record["new_revision"]) == (3, 1, 4)
    # Checked independently of our code, with the helm CLI.
    history = sb.helm_history("hello", namespace)
    assert history[-1]["revision"] == 4 and history[-1]["description"] == "Rollback to 1"
    config = sb.kubectl_json("-n", namespace, "get", "configmap", "hello-config")
    assert config["data"]["message"] == "rev 1"
    events = list(AuditLog(audit).records())
    assert [(e["action"], e["phase"], e["result"]) for e in events[-2:]] == [
        ("rollback", "before", "started"),
        ("rollback", "after", "succeeded"),
    ]
    for e in events[-2:]:
        assert (e["from_revision"], e["to_revision"], e["trigger"]) == (3, 1, "command")
        assert e["who"] == "sam@example.com" and e["why"] == "bad release 3"
    assert AuditLog(audit).verify().ok

    # Rolling back to a revision that does not exist is a clear error, not a traceback.
    proc = run_cli(
        *("rollback", "hello", "-n", namespace, "--to-revision", "99", "--reason", "x"),
        *("--kubeconfig", kubeconfig),
        env={**sb.env, "HELM_ENTERPRISE_AUDIT_LOG": str(audit)},
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 1
    assert "revision 99 does not exist" in proc.stderr and "Traceback" not in proc.stderr


def test_schema_violation_fails_preview_without_touching_the_cluster(
    sb: Env, project, namespace: str
) -> None:
    p = project()
    p.releases([hello(namespace, values={"replicaCount": "three"})])
    error = p.preview_fails()
    assert "values.replicaCount: must be of type integer" in error
    assert "Traceback" not in error
    assert sb.kubectl("get", "namespace", namespace, check=False) == ""


def test_config_error_names_the_field(sb: Env, project, namespace: str) -> None:
    p = project()
    p.releases([hello(namespace, timeouts={"readiness": "9h"})])
    error = p.preview_fails()
    assert "releases[0].timeouts.readiness: readiness timeout 9h is outside 30s..2h" in error
    assert "Traceback" not in error


def test_chart_mode_registers_every_object(sb: Env, project, namespace: str) -> None:
    p = project()
    p.releases([hello(namespace, mode="chart")])
    p.up()
    types = {r["type"] for r in p.export_json()["resources"]}
    assert {
        "kubernetes:helm.sh/v4:Chart",
        "kubernetes:apps/v1:Deployment",
        "kubernetes:core/v1:Service",
        "kubernetes:core/v1:ConfigMap",
    } <= types
    dep = deployment(sb, namespace)
    assert dep["metadata"]["labels"]["helm-enterprise.io/release"] == "hello"
    assert dep["status"]["readyReplicas"] == 2
    p.destroy()
    assert sb.kubectl("get", "namespace", namespace, check=False) == ""


def test_ownership_conflict_is_reported_before_apply(sb: Env, project, namespace: str) -> None:
    first = project()
    first.releases([hello(namespace)])
    first.up()
    second = project(stack="other")
    second.releases([hello(namespace, createNamespace=False)])
    error = second.preview_fails()
    assert "owned by" in error and first.stack.name in error
    assert len(sb.helm_history("hello", namespace)) == 1


def _set_latest_status(sb: Env, namespace: str, status: str) -> None:
    """Leave the release as a killed CI job would: its latest revision stuck in ``status``."""
    from helm_enterprise.kube import helm_storage
    from helm_enterprise.kube.client import ClusterAccess

    api = ClusterAccess(str(sb.sandbox.cluster("a").kubeconfig)).reachable_client()
    assert api is not None
    try:
        latest = helm_storage.history(api, namespace, "hello")[-1]
        from kubernetes import client as k8s

        core = k8s.CoreV1Api(api)
        secret = core.read_namespaced_secret(latest.secret_name, namespace)
        body = helm_storage.decode(secret.data["release"])
        body["info"]["status"] = status
        secret.data["release"] = helm_storage.encode(body)
        secret.metadata.labels["status"] = status
        core.replace_namespaced_secret(latest.secret_name, namespace, secret)
    finally:
        api.close()


def test_release_stuck_pending_is_recovered_by_next_up(sb: Env, project, namespace: str) -> None:
    p = project()
    p.releases([hello(namespace)])
    p.up()
    _set_latest_status(sb, namespace, "pending-upgrade")
    # helm itself refuses to touch it now ("another operation is in progress") ...
    p.releases([hello(namespace, values={"replicaCount": 3})])
    preview = p.preview()
    assert "will be recovered by `pulumi up`" in p.text
    # ... and the next `pulumi up` recovers it without anyone running helm by hand.
    out = p.up().outputs["releases"].value["hello"]
    assert out["status"] == "deployed"
    history = sb.helm_history("hello", namespace)
    # Revision 1 was marked failed, then superseded by the upgrade that followed.
    assert [h["status"] for h in history] == ["superseded", "deployed"]
    assert "marked failed by helm-enterprise" in history[0]["description"]
    assert deployment(sb, namespace)["status"]["readyReplicas"] == 3
    assert preview.change_summary


def test_failed_first_install_does_not_block_the_next_run(sb: Env, project, namespace: str) -> None:
    p = project()
    # Not atomic: the failed first install stays behind, as Helm leaves it.
    p.releases(
        [
            hello(
                namespace,
                rollback={"atomic": False},
                timeouts={"readiness": "30s"},
                values={"replicaCount": 1, "sandbox": {"neverReady": True}},
            )
        ]
    )
    p.up_fails()
    assert [h["status"] for h in sb.helm_history("hello", namespace)] == ["failed"]
    p.releases([hello(namespace, values={"replicaCount": 1})])
    out = p.up().outputs["releases"].value["hello"]
    assert out["status"] == "deployed"
    assert deployment(sb, namespace)["status"]["readyReplicas"] == 1


def test_missing_image_fails_naming_the_pull_error(sb: Env, project, namespace: str) -> None:
    """A tag the registry does not have: the real node's kubelet cannot pull it, and the
    failed run says so (the registry's answer), not only that a timeout passed."""
    p = project()
    p.releases(
        [
            hello(
                namespace,
                timeouts={"readiness": "40s"},
                values={"replicaCount": 1, "image": {"tag": "0.0.0-missing"}},
            )
        ]
    )
    error = p.up_fails()
    assert "0.0.0-missing" in error, error[-3000:]
    assert "ErrImagePull" in error or "ImagePullBackOff" in error, error[-3000:]
    assert "not found" in error, error[-3000:]  # the registry's answer, through the kubelet
    assert "Traceback" not in error, error[-3000:]
