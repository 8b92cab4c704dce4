"""Dependencies between releases (T3.4) on the real engine and the sandbox's real node.

Three releases of the hello chart, ``c`` depending on ``b`` depending on ``a``, each a real
podinfo Pod behind its own Service. ``c``'s health check reads what its Service serves
(through the API server's service proxy), so a broken ``c`` fails for a real reason. With
``coordinatedRollback: group`` the failure puts ``a`` and ``b`` back on the revisions
they had before the run, in that order after ``c`` (Helm history and what the Services
serve say so), and ``pulumi destroy`` deletes ``c``, ``b``, ``a`` in that order (the API
server's watch of Deployments says so).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch

from helm_enterprise.audit import AuditLog
from tests.e2e.conftest import Env

STABLE = "stable"


def release(
    namespace: str, name: str, message: str, depends_on: list[Any], **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "createNamespace": name == "a",
        "chart": {"path": "charts/hello"},
        "values": {"replicaCount": 1, "message": message},
        "dependsOn": depends_on,
        **extra,
    }


def chain(namespace: str, a: str, b: str, c: str) -> list[dict[str, Any]]:
    check = {
        "checks": [
            {"type": "http", "name": "home", "service": "c", "path": "/", "bodyContains": STABLE}
        ],
        "retries": {"initialDelay": 1, "maxDelay": 2},
        "deadline": "15s",
    }
    return [
        release(namespace, "c", c, ["b"], health=check),
        release(namespace, "a", a, []),
        release(namespace, "b", b, ["a"]),
    ]


def served(sb: Env, namespace: str, service: str) -> str | None:
    resp = sb.service_get(namespace, service, "/")
    return str(resp.json().get("message")) if resp.status_code == 200 else None


class DeletionWatch:
    """The order in which the API server reports the namespace's Deployments deleted."""

    def __init__(self, sb: Env, namespace: str) -> None:
        api = k8s_config.new_client_from_config(str(sb.sandbox.cluster("a").kubeconfig))
        self.apps = k8s_client.AppsV1Api(api)
        self.namespace = namespace
        self.deleted: list[str] = []
        self._watch = k8s_watch.Watch()
        start = self.apps.list_namespaced_deployment(namespace)
        self._version = start.metadata.resource_version
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for event in self._watch.stream(
            self.apps.list_namespaced_deployment,
            self.namespace,
            resource_version=self._version,
            timeout_seconds=300,
        ):
            if event["type"] == "DELETED":
                self.deleted.append(event["object"].metadata.name)
            if len(self.deleted) == 3:
                return

    def wait(self, seconds: float = 120) -> list[str]:
        self._thread.join(timeout=seconds)
        self._watch.stop()
        return self.deleted


def test_group_rollback_puts_the_chain_back_and_destroy_goes_in_reverse(
    sb: Env, project, namespace: str, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    p = project()
    p.stack.workspace.env_vars["HELM_ENTERPRISE_AUDIT_LOG"] = str(audit)
    p.config("helm-enterprise:coordinatedRollback", "group")
    p.releases(chain(namespace, STABLE, STABLE, STABLE))
    out = p.up().outputs["releases"].value
    assert {n: (r["status"], r["revision"]) for n, r in out.items()} == {
        "a": ("deployed", 1),
        "b": ("deployed", 1),
        "c": ("deployed", 1),
    }
    assert out["c"]["health"] == "healthy"

    # a and b upgrade fine; c's new version serves the wrong thing and fails its check.
    p.releases(chain(namespace, "v2", "v2", "broken"))
    error = p.up_fails()
    assert f"{namespace}/c: health checks failed" in error
    assert "coordinated rollback (group) after c failed" in p.text
    for name in ("a", "b", "c"):
        history = sb.helm_history(name, namespace)
        assert [h["revision"] for h in history] == [1, 2, 3], (name, history)
        assert history[-1]["description"] == "Rollback to 1", (name, history)
        assert history[-1]["status"] == "deployed"
    deadline = time.monotonic() + 60
    while {served(sb, namespace, s) for s in ("a", "b", "c")} != {STABLE}:
        assert time.monotonic() < deadline, "the chain never served revision 1 again"
        time.sleep(1)
    events = list(AuditLog(audit).records())
    coordinated = [
        (e["release"], e["phase"], e["result"])
        for e in events
        if e["action"] == "rollback" and e.get("trigger") == "coordinated"
    ]
    # c rolled itself back (its health check); then b, then a, dependents first.
    assert coordinated == [
        ("b", "before", "started"),
        ("b", "after", "succeeded"),
        ("a", "before", "started"),
        ("a", "after", "succeeded"),
    ]
    for e in events:
        if e.get("trigger") == "coordinated":
            assert e["why"].startswith("c failed: ") and e["to_revision"] == 1
    assert AuditLog(audit).verify().ok

    # The next run puts the declared (working) versions back: the rollbacks are not ours.
    p.releases(chain(namespace, "v2", "v2", STABLE))
    out = p.up().outputs["releases"].value
    assert {n: r["revision"] for n, r in out.items()} == {"a": 4, "b": 4, "c": 4}
    assert served(sb, namespace, "a") == "v2"

    watch = DeletionWatch(sb, namespace)
    p.destroy()
    assert watch.wait() == ["c", "b", "a"]


def test_cycle_fails_preview_naming_the_path(project, namespace: str) -> None:
    p = project()
    p.releases(
        [
            release(namespace, "a", STABLE, ["c"]),
            release(namespace, "b", STABLE, ["a"]),
            release(namespace, "c", STABLE, ["b"]),
        ]
    )
    error = p.preview_fails()
    assert "dependency cycle a → c → b → a" in error


def test_release_of_another_stack_must_be_ready(sb: Env, project, namespace: str) -> None:
    fake = {"replicaCount": 1, "sandbox": {"node": "fake"}}
    platform = project(stack="platform")
    platform.releases(
        [
            {
                "name": "db",
                "namespace": namespace,
                "createNamespace": True,
                "chart": {"path": "charts/hello"},
                "values": fake,
            }
        ]
    )
    platform.up()
    ref = f"organization/helm-enterprise/{platform.stack.name}"
    app = project(stack="app")

    def web(dep: dict[str, str]) -> list[dict[str, Any]]:
        return [
            {
                "name": "web",
                "namespace": f"{namespace}-app",  # its own: the stacks are destroyed apart
                "createNamespace": True,
                "chart": {"path": "charts/hello"},
                "values": fake,
                "dependsOn": [dep],
            }
        ]

    app.releases(web({"stack": ref, "release": "cache"}))
    error = app.up_fails()
    assert f"stack {ref} has no release 'cache' (it has: db)" in error
    assert "releases[0].dependsOn[0]" in error
    assert sb.helm("list", "-n", f"{namespace}-app", "-q").split() == []  # web not installed

    app.releases(web({"stack": ref, "release": "db"}))
    assert app.up().outputs["releases"].value["web"]["status"] == "deployed"
