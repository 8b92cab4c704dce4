"""Health checks after readiness (T2.4) on the real engine: an HTTP endpoint served by the
test and a real Prometheus scraping an exporter the test controls."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from helm_enterprise.audit import AuditLog
from helm_enterprise.sandbox.prometheus import PrometheusServer
from tests.e2e.conftest import Env, _progress
from tests.e2e.test_release import hello


class Target:
    """The service under test, as the checks see it: /healthz and /metrics."""

    def __init__(self, port: int) -> None:
        self.status = 200
        self.error_ratio = 0.0
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/healthz":
                    body = b"ok" if target.status == 200 else b"failing"
                    self.send_response(target.status)
                else:
                    body = f"app_error_ratio {target.error_ratio}\n".encode()
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def prometheus(sb: Env) -> PrometheusServer:
    sb.sandbox.up(["prometheus"], progress=_progress)
    return PrometheusServer(sb.sandbox.toolchain())


@pytest.fixture
def target(prometheus: PrometheusServer) -> Iterator[Target]:
    t = Target(prometheus.exporter_port)
    yield t
    t.close()


def wait_for_prometheus(prometheus: PrometheusServer, value: float) -> None:
    """Until Prometheus has scraped the exporter's current value."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        resp = httpx.get(f"{prometheus.address}/api/v1/query", params={"query": "app_error_ratio"})
        result = resp.json()["data"]["result"]
        if result and float(result[0]["value"][1]) == value:
            return
        time.sleep(0.5)
    raise AssertionError(f"prometheus never saw app_error_ratio={value}")


def checks(prometheus: PrometheusServer) -> dict[str, object]:
    return {
        "checks": [
            {
                "type": "http",
                "name": "healthz",
                "url": f"http://127.0.0.1:{prometheus.exporter_port}/healthz",
                "bodyContains": "ok",
                "maxLatency": "2s",
            },
            {
                "type": "prometheus",
                "name": "error-rate",
                "address": prometheus.address,
                "query": "app_error_ratio",
                "below": 0.05,
            },
        ],
        "retries": {"initialDelay": 1, "maxDelay": 2},
        "deadline": "15s",
    }


def test_failed_check_rolls_back_to_the_previous_revision(
    sb: Env, prometheus: PrometheusServer, target: Target, project, namespace: str, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    p = project()
    p.stack.workspace.env_vars["HELM_ENTERPRISE_AUDIT_LOG"] = str(audit)
    wait_for_prometheus(prometheus, 0.0)
    p.releases([hello(namespace, health=checks(prometheus))])
    result = p.up()
    health = result.outputs["releases"].value["hello"]
    assert health["status"] == "deployed"
    stack_health = p.stack.outputs()  # the component output is in state
    assert stack_health is not None
    passed = [e for e in AuditLog(audit).records() if e["action"] == "health-check"]
    assert [e["result"] for e in passed] == ["healthy"]

    # The next rollout breaks the service: both checks fail, the release goes back.
    target.status = 500
    target.error_ratio = 0.5
    wait_for_prometheus(prometheus, 0.5)
    p.releases(
        [hello(namespace, values={"replicaCount": 2, "message": "v2"}, health=checks(prometheus))]
    )
    error = p.up_fails()
    assert "health checks failed" in error
    assert "error-rate: 0.5 >= 0.05 (app_error_ratio)" in error
    assert "healthz: status 500" in error
    assert "rolled back to revision 1" in error
    history = sb.helm_history("hello", namespace)
    assert history[-1]["description"] == "Rollback to 1"
    config = sb.kubectl_json("-n", namespace, "get", "configmap", "hello-config")
    assert config["data"]["message"] != "v2"
    events = list(AuditLog(audit).records())
    failed = [e for e in events if e["action"] == "health-check" and e["result"] == "unhealthy"]
    assert failed and any(
        m["check"] == "error-rate" and m["value"] == 0.5 for m in failed[-1]["measurements"]
    )
    rollbacks = [e for e in events if e["action"] == "rollback"]
    assert [(e["phase"], e["result"]) for e in rollbacks] == [
        ("before", "started"),
        ("after", "succeeded"),
    ], rollbacks
    for e in rollbacks:
        assert (e["from_revision"], e["to_revision"], e["trigger"]) == (2, 1, "health-check")
        assert "health check failed" in e["why"]
    assert rollbacks[-1]["new_revision"] == history[-1]["revision"] == 3
    assert AuditLog(audit).verify().ok


def test_healthy_rollout_records_measurements_as_outputs(
    sb: Env, prometheus: PrometheusServer, target: Target, project, namespace: str
) -> None:
    wait_for_prometheus(prometheus, 0.0)
    p = project()
    p.releases([hello(namespace, health=checks(prometheus))])
    p.up()
    state = p.export_json()
    health = [r for r in state["resources"] if r["type"].startswith("pulumi-python:dynamic")]
    assert len(health) == 1
    outputs = health[0]["outputs"]
    assert outputs["state"] == "healthy"
    assert {m["check"] for m in outputs["measurements"]} == {"healthz", "error-rate"}
    # A no-op run does not re-run the checks (no new revision).
    before = outputs["seconds"]
    p.up()
    again = [
        r for r in p.export_json()["resources"] if r["type"].startswith("pulumi-python:dynamic")
    ]
    assert again[0]["outputs"]["seconds"] == before
