"""Progressive delivery (T3.1 blue/green, T3.2 canary) on real traffic.

Real podinfo Pods on the sandbox's real node; a client sends a steady stream of requests
to the release's Service through the API server's service proxy, which spreads them over
the Service's ready endpoints at random (so a canary's share of requests is its share of
Pods), and counts the answers by the ``message`` each version is deployed with. Analysis
reads the sandbox's real Prometheus, which scrapes podinfo's request counters.

Tolerances, for the replica-ratio canary (test_strategy_canary.py): the share of canary
answers within ±0.12 of the expected share of Pods (a binomial of ~100 requests per step
at p = 0.1 has a standard deviation of 0.03; at p = 0.5, of 0.05), counted from 3 s after
the step's weights were recorded (the endpoints controller has to publish the new Pods)
to the next recorded change.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helm_enterprise.audit import AuditLog
from helm_enterprise.kube.client import ClusterAccess
from helm_enterprise.sandbox.prometheus import PrometheusServer
from helm_enterprise.sandbox.traffic import ServiceTraffic
from helm_enterprise.strategy import state as rollout_state
from tests.e2e.conftest import Env, _progress
from tests.e2e.test_release import hello


@pytest.fixture(scope="module")
def prometheus(sb: Env) -> PrometheusServer:
    sb.sandbox.up(["prometheus"], progress=_progress)
    return PrometheusServer(sb.sandbox.toolchain())


def send_traffic(sb: Env, namespace: str, service: str = "hello") -> ServiceTraffic:
    return ServiceTraffic(sb.sandbox.cluster("a"), namespace, service)


@pytest.fixture
def traffic(sb: Env, namespace: str) -> Iterator[list[ServiceTraffic]]:
    started: list[ServiceTraffic] = []
    yield started
    for t in started:
        t.close()


class StateWatch:
    """The rollout's state ConfigMap, read twice a second: (time, weights, phase, step)
    whenever one of them changed."""

    def __init__(self, sb: Env, namespace: str, release: str = "hello") -> None:
        self.api = ClusterAccess(sb.env["KUBECONFIG"]).api_client()
        self.namespace, self.release = namespace, release
        self.seen: list[tuple[float, dict[str, int], str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            with contextlib.suppress(Exception):
                s = rollout_state.read(self.api, self.namespace, self.release)
                if s is not None:
                    entry = (dict(s.weights), s.phase.value, s.step)
                    if not self.seen or self.seen[-1][1:] != entry:
                        self.seen.append((time.time(), *entry))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def release(
    namespace: str, message: str, strategy: dict[str, Any], **values: Any
) -> dict[str, Any]:
    return hello(
        namespace, values={"replicaCount": 2, "message": message, **values}, strategy=strategy
    )


def error_ratio(namespace: str) -> str:
    """The target colour's share of failed requests over 20 s, from podinfo's counters."""
    sel = f'namespace="{namespace}",instance_name="{{{{canary}}}}"'
    bad = f'sum(rate(http_requests_total{{{sel},status!~"2.."}}[20s]))'
    return f"({bad} or vector(0)) / sum(rate(http_requests_total{{{sel}}}[20s]))"


def helm_releases(sb: Env, namespace: str) -> list[str]:
    return sorted(r["name"] for r in json.loads(sb.helm("list", "-n", namespace, "-o", "json")))


def replicas(sb: Env, namespace: str, name: str) -> int:
    dep = sb.kubectl_json("-n", namespace, "get", "deployment", name)
    return int(dep["spec"]["replicas"])


def strategy_output(result: Any) -> dict[str, Any]:
    out: dict[str, Any] = result.outputs["releases"].value["hello"]["strategy"]
    return out


def test_blue_green_switches_at_once_and_switches_back_on_failed_analysis(
    sb: Env,
    prometheus: PrometheusServer,
    project: Any,
    namespace: str,
    traffic: list[ServiceTraffic],
    tmp_path: Path,
) -> None:
    audit = tmp_path / "audit.jsonl"
    p = project()
    # The rollout runs in the dynamic-provider process, which records to this log.
    p.stack.workspace.env_vars["HELM_ENTERPRISE_AUDIT_LOG"] = str(audit)
    p.config("helm-enterprise:prometheus", {"address": prometheus.address})
    blue_green = {
        "activeService": "hello",
        "previewService": "hello-preview",
        "scaleDownDelaySeconds": 5,
        "prePromotionAnalysis": {
            "metrics": [
                {
                    "name": "preview-answers",
                    "http": {"service": "hello-preview", "path": "/", "bodyContains": "v2"},
                    "interval": "2s",
                    "count": 3,
                }
            ]
        },
    }
    p.releases([release(namespace, "v1", {"blueGreen": blue_green})])
    first = strategy_output(p.up())
    assert first["phase"] == "Healthy" and first["active"] == "blue", first
    assert sb.service_get(namespace, "hello", "/").json()["message"] == "v1"

    t = send_traffic(sb, namespace)
    traffic.append(t)
    time.sleep(3)
    p.releases([release(namespace, "v2", {"blueGreen": blue_green})])
    started = time.time()
    second = strategy_output(p.up())
    assert second["phase"] == "Healthy" and second["active"] == "green", second
    time.sleep(3)
    answers = t.between(started - 3, time.time())
    _progress(f"blue/green switch: {len(answers)} requests, {answers.count('v1')} v1")
    # Before the switch every answer is v1, after it every answer v2; none failed.
    assert not [a for a in answers if a.startswith("error")], answers
    first_v2 = answers.index("v2")
    assert set(answers[:first_v2]) == {"v1"} and set(answers[first_v2:]) == {"v2"}, answers
    assert answers.count("v1") >= 10 and answers.count("v2") >= 10
    # The idle colour was scaled to zero after the delay; the next run uninstalls it.
    assert replicas(sb, namespace, "hello-blue") == 0
    assert helm_releases(sb, namespace) == ["hello-blue", "hello-green"]
    steady = strategy_output(p.up())
    assert steady["phase"] == "Healthy" and steady["active"] == "green"
    assert helm_releases(sb, namespace) == ["hello-green"]

    # v3 fails one request in three: its post-promotion analysis (Prometheus, the new
    # colour's error ratio) fails and traffic goes back to v2 at once.
    failing = {
        **blue_green,
        "prePromotionAnalysis": None,
        "postPromotionAnalysis": {
            "metrics": [
                {
                    "name": "error-ratio",
                    "prometheus": {"query": error_ratio(namespace)},
                    "failureCondition": "result > 0.1",
                    "successCondition": "result <= 0.1",
                    "initialDelay": "8s",
                    "interval": "4s",
                    "count": 4,
                }
            ]
        },
    }
    failing = {k: v for k, v in failing.items() if v is not None}
    p.releases([release(namespace, "v3", {"blueGreen": failing}, fault={"randomError": True})])
    error = p.up_fails()
    aborted_at = time.time()
    assert "rollout of hello-blue aborted, all traffic is back on hello-green" in error, error
    assert "post-promotion analysis Failed: error-ratio" in error
    time.sleep(4)
    after = t.between(aborted_at, time.time())
    assert after and set(after) == {"v2"}, after
    during = t.between(started, aborted_at)
    assert "v3" in during or any(a.startswith("error") for a in during)
    records = list(AuditLog(audit).records())
    [abort] = [r for r in records if r["action"] == "abort"]
    assert abort["stable"] == "green" and abort["target"] == "blue"
    assert "error-ratio" in abort["why"]
    _progress(f"blue/green abort: traffic on stable {abort['seconds_to_stable']}s after failure")
    assert any(r["action"] == "analysis" and r["result"] == "Failed" for r in records)
    # The next run keeps serving stable and removes the aborted colour.
    kept = strategy_output(p.up())
    assert kept["phase"] == "Aborted" and kept["active"] == "green", kept
    assert "Change the release or run `helm-enterprise promote`" in kept["message"]
    assert helm_releases(sb, namespace) == ["hello-green"]

    p.destroy()
    assert helm_releases(sb, namespace) == []
    services = sb.kubectl_json("-n", namespace, "get", "services")["items"]
    assert services == []
    api = ClusterAccess(sb.env["KUBECONFIG"]).api_client()
    assert rollout_state.read(api, namespace, "hello") is None


def test_a_killed_run_resumes_the_canary_where_it_was(
    sb: Env, project: Any, namespace: str, traffic: list[ServiceTraffic]
) -> None:
    """``pulumi up`` killed (SIGKILL, the whole process group) during a canary's pause: the
    state in the cluster still says step 2 at 50 %, both tracks keep serving as that step
    said, and the next ``pulumi up`` resumes there and promotes."""
    p = project()
    steps = [{"setWeight": 50}, {"pause": {"duration": "25s"}}]
    canary = {"canary": {"service": "hello", "steps": steps}}
    p.releases([release(namespace, "v1", canary)])
    p.up()
    p.releases([release(namespace, "v2", canary)])
    api = ClusterAccess(sb.env["KUBECONFIG"]).api_client()
    proc = subprocess.Popen(
        ["pulumi", "up", "--yes", "--skip-preview", "--stack", p.stack.name],
        cwd=p.dir,
        env=p.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 240
        while True:
            s = rollout_state.read(api, namespace, "hello")
            if s is not None and s.target == "green" and s.step == 1 and s.weights:
                break
            assert proc.poll() is None, "pulumi up ended before the pause"
            assert time.time() < deadline, "the canary did not reach its pause"
            time.sleep(1)
        time.sleep(3)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    killed = rollout_state.read(api, namespace, "hello")
    assert killed is not None and killed.phase.value == "Progressing" and killed.step == 1
    assert killed.weights == {"stable": 50, "canary": 50}
    t = send_traffic(sb, namespace)
    traffic.append(t)
    time.sleep(4)
    assert set(t.between(0, time.time())) == {"v1", "v2"}  # both tracks, as step 1 said
    # The killed run left the stack's lock; Pulumi's own way out, as a user would.
    subprocess.run(
        ["pulumi", "cancel", "--yes", "--stack", p.stack.name],
        cwd=p.dir,
        env=p.env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    resumed = strategy_output(p.up())
    assert resumed["phase"] == "Healthy" and resumed["active"] == "green", resumed
    assert replicas(sb, namespace, "hello-blue") == 0
    done = time.time()
    time.sleep(3)
    assert set(t.between(done, time.time())) == {"v2"}
