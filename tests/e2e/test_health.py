"""Health checks after readiness (T2.4) on the real engine, against the release's own pods.

The hello chart runs podinfo on the sandbox's real node. The HTTP check reaches the
release's Service through the API server's service proxy (``service: hello``), and the
error-rate check queries the sandbox's Prometheus for the series podinfo itself exports
(``http_requests_total``), scraped from the pods of this release (``instance_name``).

Traffic is driven by the test, through the same service proxy. Why not podinfo's
``--random-error`` for the broken version: it re-seeds its random source with the current
second on every request (all requests of one second fail or pass together) and it also
fails the kubelet's probes, so neither the error rate nor readiness would be repeatable.
Asking podinfo for ``/status/500`` during the broken rollout gives real 5xx responses,
counted by the pods and scraped like any other, at a rate the test controls.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helm_enterprise.audit import AuditLog
from helm_enterprise.sandbox.prometheus import PrometheusServer
from tests.e2e.conftest import Env, _progress
from tests.e2e.test_release import hello

MESSAGE = "hello from helm-enterprise"  # the chart's default message


@pytest.fixture(scope="module")
def prometheus(sb: Env) -> PrometheusServer:
    sb.sandbox.up(["prometheus"], progress=_progress)
    return PrometheusServer(sb.sandbox.toolchain())


class Traffic:
    """A background client of the release's Service (through the API server's proxy):
    ``path`` is what it asks for, about five times a second."""

    def __init__(self, sb: Env, namespace: str) -> None:
        self.sb, self.namespace = sb, namespace
        self.path = "/"
        self.statuses: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            with contextlib.suppress(httpx.HTTPError):  # an API server hiccup is not the subject
                answer = self.sb.service_get(self.namespace, "hello", self.path)
                self.statuses.append(answer.status_code)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


@pytest.fixture
def traffic(sb: Env, namespace: str) -> Iterator[Traffic]:
    t = Traffic(sb, namespace)
    yield t
    t.close()


def error_rate(namespace: str) -> str:
    """The release's 5xx ratio over 20 s, from podinfo's own counter (0 without 5xx)."""
    sel = f'namespace="{namespace}",instance_name="hello"'
    return (
        f'(sum(rate(http_requests_total{{{sel},status=~"5.."}}[20s])) or vector(0))'
        f" / sum(rate(http_requests_total{{{sel}}}[20s]))"
    )


def checks(
    prometheus: PrometheusServer, namespace: str, deadline: str = "60s"
) -> dict[str, object]:
    return {
        "checks": [
            {
                "type": "http",
                "name": "home",
                "service": "hello",
                "path": "/",
                "bodyContains": MESSAGE,
                "maxLatency": "2s",
            },
            {
                "type": "prometheus",
                "name": "error-rate",
                "address": prometheus.address,
                "query": error_rate(namespace),
                "below": 0.05,
            },
        ],
        "retries": {"initialDelay": 1, "maxDelay": 2},
        "deadline": deadline,
    }


def served_message(sb: Env, namespace: str) -> str | None:
    """The message podinfo behind the Service serves (None while no pod answers)."""
    resp = sb.service_get(namespace, "hello", "/")
    if resp.status_code != 200:
        return None
    message = resp.json().get("message")
    return str(message) if message is not None else None


def on_real_node(sb: Env, namespace: str) -> list[str]:
    return [p["spec"].get("nodeName", "") for p in sb.pods(namespace)]


def test_failed_check_rolls_back_to_the_previous_revision(
    sb: Env, prometheus: PrometheusServer, traffic: Traffic, project, namespace: str, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    p = project()
    p.stack.workspace.env_vars["HELM_ENTERPRISE_AUDIT_LOG"] = str(audit)
    p.releases([hello(namespace, values={"replicaCount": 1}, health=checks(prometheus, namespace))])
    result = p.up()
    assert result.outputs["releases"].value["hello"]["status"] == "deployed"
    assert on_real_node(sb, namespace) == ["a-real-0"]
    passed = [e for e in AuditLog(audit).records() if e["action"] == "health-check"]
    assert [e["result"] for e in passed] == ["healthy"]
    home = {m["check"]: m for m in passed[0]["measurements"]}["home"]
    assert home["detail"].startswith(f"service {namespace}/hello:http /: status 200 in ")
    assert 200 in traffic.statuses

    # The next rollout is broken: it serves another message, and its requests fail (the
    # traffic asks for /status/500 from now on). Both checks fail; the release goes back.
    traffic.path = "/status/500"
    p.releases(
        [
            hello(
                namespace,
                values={"replicaCount": 1, "message": "v2"},
                health=checks(prometheus, namespace, deadline="30s"),
            )
        ]
    )
    error = p.up_fails()
    assert "health checks failed" in error
    assert f"home: service {namespace}/hello:http /: body lacks '{MESSAGE}'" in error
    assert "error-rate: " in error and " >= 0.05 (" in error
    assert "rolled back to revision 1" in error
    history = sb.helm_history("hello", namespace)
    assert history[-1]["description"] == "Rollback to 1"
    # What the Service serves now is revision 1's message again (read through the proxy).
    deadline = time.monotonic() + 30
    while served_message(sb, namespace) != MESSAGE:
        assert time.monotonic() < deadline, "the rolled-back pod never served revision 1"
        time.sleep(1)
    events = list(AuditLog(audit).records())
    failed = [e for e in events if e["action"] == "health-check" and e["result"] == "unhealthy"]
    assert failed
    rate = {m["check"]: m for m in failed[-1]["measurements"]}["error-rate"]
    assert rate["value"] is not None and rate["value"] >= 0.05
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
    sb: Env, prometheus: PrometheusServer, traffic: Traffic, project, namespace: str
) -> None:
    p = project()
    p.releases([hello(namespace, values={"replicaCount": 1}, health=checks(prometheus, namespace))])
    p.up()
    state = p.export_json()
    health = [r for r in state["resources"] if r["urn"].endswith("::hello-health")]
    assert len(health) == 1
    outputs = health[0]["outputs"]
    assert outputs["state"] == "healthy"
    assert {m["check"] for m in outputs["measurements"]} == {"home", "error-rate"}
    # A no-op run does not re-run the checks (no new revision).
    before = outputs["seconds"]
    p.up()
    again = [r for r in p.export_json()["resources"] if r["urn"].endswith("::hello-health")]
    assert again[0]["outputs"]["seconds"] == before


def test_service_without_ready_pods_is_named(sb: Env, project, namespace: str) -> None:
    """No pod behind the Service (zero replicas: Helm is ready at once): the check says so,
    from the API server's own answer, instead of a bare 503."""
    p = project()
    policy = {
        "checks": [{"type": "http", "name": "home", "service": "hello"}],
        "retries": {"initialDelay": 1, "maxDelay": 1},
        "deadline": "3s",
        "rollbackOnFailure": False,
    }
    p.releases([hello(namespace, values={"replicaCount": 0}, health=policy)])
    error = p.up_fails()
    assert f"home: no ready endpoints behind service {namespace}/hello:http" in error
    assert 'no endpoints available for service \\"hello\\"' in error or (
        'no endpoints available for service "hello"' in error
    )
