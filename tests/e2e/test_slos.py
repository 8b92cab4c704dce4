"""SLOs (T4.3) on the sandbox: real podinfo Pods on the real node, real traffic with a
controlled error rate, the sandbox's Prometheus evaluating the rules the release wrote.

The SLO is scaled down so the test takes a minute, not a month: a 1 h window, objective
99 % (error budget 0.01) and one page row ``{budgetPercent: 24, longWindow: 1m,
shortWindow: 20s}``, whose burn factor is 0.24 · 60/1 = 14.4, Google's fast-burn factor.
The test sends one request in four to ``/status/500``: an error ratio of 0.25 (a burn of
25x, above 14.4x). Tolerances: the recorded error ratio between 0.15 and 0.35 (the
kubelet's probes are counted too, more of them when a busy machine slows the traffic, and
Prometheus extrapolates rates) and within ±0.02 of the same minute computed from podinfo's
counters directly; the budget remaining over the 1h window within ±1 (a ratio of ±0.01)
of 1 - ratio/0.01, the ratio computed directly from podinfo's counters over the same
window (``increase``), not through the rules, at the instant the rule was evaluated (the
rules read each other's last sample, up to a second or two old).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from helm_enterprise.sandbox.prometheus import PrometheusServer
from helm_enterprise.slo import prometheus as prom
from tests.e2e.conftest import Env, _progress, run_cli
from tests.e2e.test_release import hello


@pytest.fixture(scope="module")
def prometheus(sb: Env) -> PrometheusServer:
    sb.sandbox.up(["prometheus"], progress=_progress)
    return PrometheusServer(sb.sandbox.toolchain())


class MixedTraffic:
    """Requests to the release's Service through the API server's proxy, about five a
    second; one in ``every`` asks for ``/status/500``."""

    def __init__(self, sb: Env, namespace: str, every: int = 4) -> None:
        self.sb, self.namespace, self.every = sb, namespace, every
        self.attempts = self.sent = self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.attempts += 1
            path = "/status/500" if self.attempts % self.every == 0 else "/"
            with contextlib.suppress(httpx.HTTPError):
                status = self.sb.service_get(self.namespace, "hello", path).status_code
                self.sent += 1
                self.errors += status >= 500

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


@pytest.fixture
def traffic(sb: Env, namespace: str) -> Iterator[list[MixedTraffic]]:
    started: list[MixedTraffic] = []
    yield started
    for t in started:
        t.close()


def slo(namespace: str) -> dict[str, Any]:
    sel = f'namespace="{namespace}",instance_name="hello"'
    window = "[{{.window}}]"
    errors = f'sum(rate(http_requests_total{{{sel},status=~"5.."}}{window}))'
    return {
        "name": "availability",
        "objective": 99,
        "window": "1h",
        "sli": {
            "events": {
                "errorQuery": f"({errors} or vector(0))",
                "totalQuery": f"sum(rate(http_requests_total{{{sel}}}{window}))",
            }
        },
        "windows": [
            {"severity": "page", "budgetPercent": 24, "longWindow": "1m", "shortWindow": "20s"}
        ],
        "alerting": {"name": "HelloAvailability", "ticketAlert": {"disable": True}},
    }


BUDGET_TOLERANCE = 1.0


def value(address: str, promql: str) -> float | None:
    samples = prom.query(address, promql)
    return samples[0][1] if samples else None


def wait_for_or(probe: Any, seconds: float) -> bool:
    """Whether ``probe()`` holds within ``seconds`` (the caller reports what it saw)."""
    deadline = time.monotonic() + seconds
    while not probe():
        if time.monotonic() >= deadline:
            return False
        time.sleep(2)
    return True


def wait_for(what: str, seconds: float, probe: Any) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        got = probe()
        if got:
            return got
        assert time.monotonic() < deadline, f"{what} within {seconds:.0f}s"
        time.sleep(2)


def test_burn_rate_alert_fires_and_gates_the_upgrade(
    sb: Env, prometheus: PrometheusServer, traffic: list[MixedTraffic], project, namespace: str
) -> None:
    p = project()
    p.config(
        "helm-enterprise:prometheus",
        {"address": prometheus.address, "ruleFilesDir": str(prometheus.rules_dir)},
    )
    p.releases(
        [hello(namespace, values={"replicaCount": 1}, slos=[slo(namespace)], sloGate="page")]
    )
    p.up()
    rule_file = prometheus.rules_dir / f"helm-enterprise-helm-enterprise-{p.stack.name}-hello.yml"
    assert rule_file.is_file()
    assert "sloth-slo-alerts-hello-availability" in prom.rule_groups(prometheus.address)

    started = time.monotonic()
    traffic.append(MixedTraffic(sb, namespace))
    sel = '{sloth_id="hello-availability"}'
    # The recorded error ratio settles on the traffic's: one request in four fails, and the
    # kubelet's probes (all 200) dilute it more when the machine is busy and the traffic
    # slower, so the band is wide (above the page threshold 0.144, below 0.35); against
    # podinfo's own counters over the same minute it must agree closely.
    pod = f'namespace="{namespace}",instance_name="hello"'
    direct_1m = (
        f'sum(rate(http_requests_total{{{pod},status=~"5.."}}[1m]))'
        f" / sum(rate(http_requests_total{{{pod}}}[1m]))"
    )
    ratio = wait_for(
        "the 1m error ratio between 0.15 and 0.35",
        180,
        lambda: (
            (v := value(prometheus.address, f"slo:sli_error:ratio_rate1m{sel}")) is not None
            and 0.15 <= v <= 0.35
            and v
        ),
    )
    # The recording against the same query over podinfo's own counters (not through the
    # rules), both at the instant the rule last evaluated: a busy machine moves that instant
    # away from "now", and a group Prometheus just reloaded has no sample for a moment.
    seen: list[tuple[float, float]] = []

    def agrees(record: str, direct: str, tolerance: float) -> bool:
        stamp = value(prometheus.address, f"timestamp({record})")
        if stamp is None:
            return False
        recorded = prom.query(prometheus.address, record, at=stamp)
        computed = prom.query(prometheus.address, direct, at=stamp)
        if not recorded or not computed:
            return False
        seen.append((recorded[0][1], computed[0][1]))
        return abs(seen[-1][0] - seen[-1][1]) <= tolerance

    ratio_1m = f"slo:sli_error:ratio_rate1m{sel}"
    assert wait_for_or(lambda: agrees(ratio_1m, direct_1m, 0.02), 60), f"1m ratio: {seen[-5:]}"
    sent = traffic[0]  # what the traffic got back (an attempt that timed out is not counted)
    assert abs(sent.errors / sent.sent - 0.25) <= 0.1, (sent.errors, sent.sent)
    # The budget remaining over the 1h window against 1 - ratio/0.01, the ratio from
    # podinfo's counters (increase over the same window).
    bad = f'sum(increase(http_requests_total{{{pod},status=~"5.."}}[1h]))'
    direct_budget = f"1 - ({bad} / sum(increase(http_requests_total{{{pod}}}[1h]))) / 0.01"
    budget = f"slo:period_error_budget_remaining:ratio{sel}"
    seen.clear()
    assert wait_for_or(lambda: agrees(budget, direct_budget, BUDGET_TOLERANCE), 60), (
        f"budget remaining: {seen[-5:]}"
    )
    # 25x > 14.4x on both windows: the page alert fires.
    wait_for(
        "the page alert firing",
        120,
        lambda: prom.firing_alerts(prometheus.address, "hello", ("page",)),
    )
    detected = time.monotonic() - started
    _progress(f"fast burn detected {detected:.0f}s after the errors started (ratio {ratio:.3f})")

    status = run_cli("slo", "status", "-s", p.stack.name, "-C", str(p.dir), "--json", env=p.env)
    assert status.returncode == 1, status.stderr
    [s] = json.loads(status.stdout)["slos"]
    assert s["release"] == "hello" and s["firing"] == ["page"]
    assert s["thresholds"] == {"20s/1m": 14.4}
    assert s["burn_rates"]["1m"] > 14.4

    # The gate: an upgrade while the page alert fires stops before Helm.
    p.releases(
        [
            hello(
                namespace,
                values={"replicaCount": 1, "message": "v2"},
                slos=[slo(namespace)],
                sloGate="page",
            )
        ]
    )
    error = p.up_fails()
    assert (
        "hello: SLO gate (page): not installed or upgraded while HelloAvailability "
        "(page, SLO availability) is firing" in error
    )
    assert [h["revision"] for h in sb.helm_history("hello", namespace)] == [1]

    exported = run_cli("slo", "export", "-s", p.stack.name, "-C", str(p.dir), "--json", env=p.env)
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)[0]["metadata"]["name"] == "hello-availability"

    p.destroy()
    assert not rule_file.exists()
    assert "sloth-slo-alerts-hello-availability" not in prom.rule_groups(prometheus.address)


def test_deployment_metrics_reach_prometheus(
    sb: Env, prometheus: PrometheusServer, project, namespace: str, tmp_path: Path
) -> None:
    """Two ``pulumi up`` runs write their audit records; ``helm-enterprise audit metrics
    --serve`` exposes them on the port the sandbox's Prometheus scrapes every second."""
    audit = tmp_path / "audit.jsonl"
    p = project()
    p.config("helm-enterprise:audit", {"log": str(audit)})  # lifecycle records are on
    fake = {"replicaCount": 1, "sandbox": {"node": "fake"}}
    p.releases([hello(namespace, values=fake)])
    p.up()
    p.releases([hello(namespace, values={**fake, "message": "v2"})])
    p.up()
    exporter_log = (tmp_path / "exporter.log").open("w")
    exporter = subprocess.Popen(
        [
            *(sys.executable, "-m", "helm_enterprise.cli", "audit", "metrics"),
            *("--log", str(audit), "--serve", str(prometheus.exporter_port)),
        ],
        env=p.env,
        stdout=exporter_log,
        stderr=subprocess.STDOUT,
    )
    try:
        sel = f'namespace="{namespace}",release="hello"'
        ops = wait_for(
            "the operations in Prometheus",
            60,
            lambda: {
                (m["operation"], m["phase"]): v
                for m, v in prom.query(
                    prometheus.address, f"helm_enterprise_operations_total{{{sel}}}"
                )
            },
        )
        assert ops == {("create", "succeeded"): 1, ("update", "succeeded"): 1}
        [(info, _one)] = prom.query(prometheus.address, f"helm_enterprise_release_info{{{sel}}}")
        assert (info["revision"], info["status"], info["chart"]) == ("2", "deployed", "hello")
        count = value(
            prometheus.address,
            f'helm_enterprise_operation_duration_seconds_count{{{sel},operation="update"}}',
        )
        assert count == 1
    finally:
        exporter.terminate()
        exporter.wait(timeout=10)
        exporter_log.close()


PROMETHEUS_RULE_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: prometheusrules.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names:
    kind: PrometheusRule
    listKind: PrometheusRuleList
    plural: prometheusrules
    singular: prometheusrule
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
"""


def test_prometheus_rule_objects_where_the_crd_exists(
    sb: Env, project, namespace: str, tmp_path: Path
) -> None:
    """Without a rule directory the rules become a PrometheusRule for the Prometheus
    Operator: refused with a clear error while the cluster lacks its CRD, created (and
    deleted with the release) once it exists. The CRD here is the Operator's group, kind and
    version with an open schema; no Operator runs in the sandbox, so the test checks the
    object the API server stores, not a Prometheus loading it."""
    p = project()
    p.config(
        "helm-enterprise:prometheus", {"rules": "prometheusRule", "ruleLabels": {"release": "kps"}}
    )
    fake = {"replicaCount": 1, "sandbox": {"node": "fake"}}
    p.releases([hello(namespace, values=fake, slos=[slo(namespace)])])
    error = p.preview_fails()
    assert "the cluster has no PrometheusRule CRD (prometheusrules.monitoring.coreos.com)" in error
    assert "prometheus.rules" in error
    crd = tmp_path / "crd.yaml"
    crd.write_text(PROMETHEUS_RULE_CRD)
    sb.kubectl("apply", "-f", str(crd))
    try:
        sb.kubectl(
            "wait", "--for=condition=Established", "crd/prometheusrules.monitoring.coreos.com"
        )
        p.up()
        rule = sb.kubectl_json(
            "-n", namespace, "get", "prometheusrules.monitoring.coreos.com", "hello-slos"
        )
        assert rule["metadata"]["labels"]["release"] == "kps"
        names = [g["name"] for g in rule["spec"]["groups"]]
        assert names == [
            "sloth-slo-sli-recordings-hello-availability",
            "sloth-slo-meta-recordings-hello-availability",
            "sloth-slo-alerts-hello-availability",
        ]
        p.destroy()
        gone = sb.kubectl(
            "-n",
            namespace,
            "get",
            "prometheusrules.monitoring.coreos.com",
            "-o",
            "name",
            check=False,
        )
        assert gone.strip() == ""
    finally:
        sb.kubectl("delete", "-f", str(crd), "--ignore-not-found", check=False)
