"""Progressive delivery, canary (T3.2) on real traffic: the response mix follows the steps,
a bad version aborts, an Inconclusive analysis pauses, promote and abort from the command
line. Helpers, tolerances and the traffic model: see test_strategy.py (blue/green and a
killed run), kept in two files so the e2e tier's two workers share them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from helm_enterprise.kube.client import ClusterAccess
from helm_enterprise.sandbox.prometheus import PrometheusServer
from helm_enterprise.sandbox.traffic import ServiceTraffic
from helm_enterprise.strategy import state as rollout_state
from tests.e2e.conftest import Env, _progress, run_cli
from tests.e2e.test_strategy import (
    StateWatch,
    error_ratio,
    release,
    replicas,
    send_traffic,
    strategy_output,
)


@pytest.fixture(scope="module")
def prometheus(sb: Env) -> PrometheusServer:
    sb.sandbox.up(["prometheus"], progress=_progress)
    return PrometheusServer(sb.sandbox.toolchain())


@pytest.fixture
def traffic(sb: Env, namespace: str) -> Iterator[list[ServiceTraffic]]:
    started: list[ServiceTraffic] = []
    yield started
    for t in started:
        t.close()


def test_canary_steps_shift_the_response_mix_and_a_bad_version_aborts(
    sb: Env,
    prometheus: PrometheusServer,
    project: Any,
    namespace: str,
    traffic: list[ServiceTraffic],
) -> None:
    p = project()
    p.config("helm-enterprise:prometheus", {"address": prometheus.address})
    steps = [
        {"setWeight": 10},
        {"pause": {"duration": "15s"}},
        {"setWeight": 50},
        {"pause": {"duration": "15s"}},
    ]
    canary = {"canary": {"service": "hello", "steps": steps}}
    p.releases([release(namespace, "v1", canary, replicaCount=10)])
    assert strategy_output(p.up())["active"] == "blue"
    t = send_traffic(sb, namespace)
    traffic.append(t)
    watch = StateWatch(sb, namespace)
    try:
        p.releases([release(namespace, "v2", canary, replicaCount=10)])
        done = strategy_output(p.up())
    finally:
        watch.close()
    assert done["phase"] == "Healthy" and done["active"] == "green"
    assert done["weights"] == {"stable": 0, "canary": 100}
    # The mix during each step, from 3 s after its weights were recorded to the next change
    # (a new step is recorded before its replicas change).
    changes = [(at, w) for at, w, _, _ in watch.seen if w]
    observed = []
    for (at, weights), (end, _) in zip(changes, [*changes[1:], (time.time(), {})], strict=True):
        answers = [a for a in t.between(at + 3, end) if not a.startswith("error")]
        if len(answers) < 30 or weights.get("canary") in (None, 0, 100):
            continue
        share = answers.count("v2") / len(answers)
        observed.append((weights["canary"], round(share, 3), len(answers)))
        assert abs(share - weights["canary"] / 100) <= 0.12, (weights, share, len(answers))
    _progress(f"canary mix (expected %, observed share, requests): {observed}")
    assert [w for w, _, _ in observed] == [10, 50], observed
    assert not [a for a in t.samples if a[1].startswith("error")][:1]
    assert replicas(sb, namespace, "hello-green") == 10
    assert replicas(sb, namespace, "hello-blue") == 0

    # A bad version: the background analysis (the canary's error ratio) aborts at its
    # first measurement after the delay; all traffic is v2 again.
    bad = {
        "canary": {
            "service": "hello",
            "steps": [{"setWeight": 50}, {"pause": {"duration": "60s"}}],
            "analysis": {
                "metrics": [
                    {
                        "name": "error-ratio",
                        "prometheus": {"query": error_ratio(namespace)},
                        "successCondition": "result < 0.1",
                        "initialDelay": "10s",
                        "interval": "5s",
                    }
                ]
            },
        }
    }
    p.releases([release(namespace, "v3", bad, replicaCount=4, fault={"randomError": True})])
    error = p.up_fails()
    stopped = time.time()
    assert "background analysis Failed: error-ratio" in error, error
    time.sleep(4)
    after = t.between(stopped, time.time())
    assert after and set(after) == {"v2"}, after
    assert replicas(sb, namespace, "hello-blue") == 0


def test_canary_inconclusive_pauses_promote_goes_on_abort_returns(
    sb: Env,
    prometheus: PrometheusServer,
    project: Any,
    namespace: str,
    traffic: list[ServiceTraffic],
) -> None:
    p = project()
    p.config("helm-enterprise:prometheus", {"address": prometheus.address})
    # A real query whose value (5) meets neither condition: Inconclusive, so a pause.
    undecided = {
        "metrics": [
            {
                "name": "undecided",
                "prometheus": {"query": "vector(5)"},
                "successCondition": "result < 1",
                "failureCondition": "result > 10",
            }
        ]
    }
    inconclusive = {
        "canary": {"service": "hello", "steps": [{"setWeight": 50}, {"analysis": undecided}]}
    }
    p.releases([release(namespace, "v1", inconclusive)])
    p.up()
    t = send_traffic(sb, namespace)
    traffic.append(t)
    p.releases([release(namespace, "v2", inconclusive)])
    out = strategy_output(p.up())
    assert out["phase"] == "Paused" and out["step"] == 1, out
    assert out["message"].startswith("paused at step 1 (analysis of step 2 Inconclusive")
    assert out["weights"] == {"stable": 50, "canary": 50}
    assert out["lastAnalysis"][0]["outcome"] == "Inconclusive"
    # Still paused on a rerun with nothing new.
    assert strategy_output(p.up())["phase"] == "Paused"

    status = run_cli("rollout", "status", "hello", "-n", namespace, "--json", env=p.env)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["phase"] == "Paused"

    promoted = run_cli(
        "promote", "hello", "-n", namespace, "-s", p.stack.name, "-C", str(p.dir), env=p.env
    )
    assert promoted.returncode == 0, promoted.stderr + promoted.stdout
    state = rollout_state.read(ClusterAccess(sb.env["KUBECONFIG"]).api_client(), namespace, "hello")
    assert state is not None and state.phase.value == "Healthy" and state.active == "green"

    # v3, paused at 50 % (a pause without duration), then aborted from the command line:
    # traffic is v2 again at once.
    paused = {"canary": {"service": "hello", "steps": [{"setWeight": 50}, {"pause": {}}]}}
    p.releases([release(namespace, "v3", paused)])
    assert strategy_output(p.up())["phase"] == "Paused"
    aborted = run_cli("abort", "hello", "-n", namespace, env=p.env)
    assert aborted.returncode == 0, aborted.stderr + aborted.stdout
    now = time.time()
    time.sleep(3)
    assert set(t.between(now + 1, time.time())) == {"v2"}
    kept = strategy_output(p.up())
    assert kept["phase"] == "Aborted" and kept["active"] == "green"
