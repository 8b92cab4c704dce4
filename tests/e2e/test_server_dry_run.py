"""Server-side dry run during `pulumi preview` (T1.5, `validation.serverDryRun`): the real
API server's admission (ResourceQuota, PodSecurity) refuses what Helm would fail to apply,
before anything changes; a namespace that does not exist yet is named, not an error."""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.conftest import Env, run_cli
from tests.e2e.test_release import hello


def dry_run_release(namespace: str, **extra: Any) -> dict[str, Any]:
    release = hello(namespace, createNamespace=False, **extra)
    release["validation"] = {"serverDryRun": True}
    return release


def validate(sb: Env, p: Any) -> dict[str, Any]:
    proc = run_cli("validate", "-s", p.stack.name, "-C", str(p.dir), "--json", env=sb.env)
    assert proc.returncode in (0, 1), proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def test_a_pod_security_refusal_fails_the_preview(sb: Env, project: Any, namespace: str) -> None:
    sb.kubectl("create", "namespace", namespace)
    sb.kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    p = project()
    # Valid for the API server, refused by the namespace's Pod Security level.
    root = {"securityContext": {"runAsNonRoot": False, "runAsUser": 0}}
    p.releases([dry_run_release(namespace, values=root)])
    p.preview_fails()
    text = p.text
    assert "the API server would refuse the release (dry run)" in text
    assert f"pod-security: hello: Deployment/{namespace}/hello (pod template)" in text
    assert "restricted" in text and "runAsNonRoot" in text
    assert "make the pod spec meet the namespace's Pod Security level" in text
    nothing_applied(sb, namespace)


def test_a_quota_refusal_is_a_validate_finding(sb: Env, project: Any, namespace: str) -> None:
    sb.kubectl("create", "namespace", namespace)
    sb.kubectl("-n", namespace, "create", "quota", "small", "--hard=limits.memory=64Mi")
    p = project()
    p.releases([dry_run_release(namespace)])  # the chart's pods ask for a 128Mi limit
    report = validate(sb, p)
    assert report["ok"] is False
    [q] = [f for f in report["findings"] if f["check"] == "quota"]
    assert q["severity"] == "error" and q["release"] == "hello"
    assert q["field"] == f"Deployment/{namespace}/hello (pod template)"
    assert "exceeded quota" in q["message"] and q["hint"].startswith("raise the namespace")
    nothing_applied(sb, namespace)


def nothing_applied(sb: Env, namespace: str) -> None:
    assert sb.kubectl("get", "secrets", "-n", namespace, "-l", "owner=helm", "-o", "name") == ""
    assert sb.kubectl("get", "deployment", "-n", namespace, "-o", "name") == ""


def test_an_admitted_release_previews_and_deploys(sb: Env, project: Any, namespace: str) -> None:
    sb.kubectl("create", "namespace", namespace)
    p = project()
    p.releases([dry_run_release(namespace)])
    p.preview()
    assert "server-side dry run skipped" not in p.text
    p.up()
    assert sb.helm_history("hello", namespace)[-1]["status"] == "deployed"
    # The dry run left nothing behind (field manager of its own, no extra objects).
    managers = sb.kubectl(
        "-n", namespace, "get", "deployment", "hello",
        "-o", "jsonpath={.metadata.managedFields[*].manager}",
    )  # fmt: skip
    assert "helm-enterprise-dryrun" not in managers
    assert sb.kubectl("-n", namespace, "get", "pods", "-o", "name").count("dryrun") == 0


def test_a_namespace_this_update_creates_is_named_not_refused(
    sb: Env, project: Any, namespace: str
) -> None:
    p = project()
    release = hello(namespace)  # createNamespace: the namespace does not exist yet
    release["validation"] = {"serverDryRun": True}
    p.releases([release])
    p.preview()
    assert f"Namespace/{namespace}: does not exist yet" in p.text
