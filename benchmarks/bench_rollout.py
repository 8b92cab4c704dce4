"""Benchmark: progressive delivery (T3.1 blue/green, T3.2 canary) on the sandbox's real node.

In one run, each round, each scenario in a namespace of its own, with steady traffic
through the release's Service (the sandbox's ``ServiceTraffic``: answers counted by the
version's message):

* **plain** (the baseline): a release without a strategy, ``pulumi up`` of v1 → v2 (Helm's
  rolling update, ``replicaCount: 4``) timed, failed requests during it counted;
* **blue/green**: the same upgrade with ``blueGreen`` (``scaleDownDelaySeconds: 0``):
  ``pulumi up`` time and failed requests during it;
* **canary**: the same upgrade with ``canary`` of N ``setWeight`` steps and no pauses:
  the overhead of the steps themselves, as a ratio to the plain upgrade;
* **abort**: a canary at 50 % whose background analysis (the canary's error ratio in the
  sandbox's Prometheus, ``interval`` I) fails on v3 (``fault.randomError``): seconds from
  the failed measurement (its audit record) to the last answer not from the stable
  version, against the goal I + 5 s.

Prints each round and the medians: time ratios to the plain upgrade, failed requests of
each, the abort's time to stable.

    .venv/bin/python benchmarks/bench_rollout.py [--rounds 1] [--steps 3] [--interval 5]

Uses the configured sandbox (``HELM_ENTERPRISE_SANDBOX_DIR`` / ``_PORT_BASE``); starts its
clusters, chart registry and Prometheus if needed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from helm_enterprise.audit import AuditLog
from helm_enterprise.sandbox.chartrepo import ca_bundle
from helm_enterprise.sandbox.platform import Sandbox
from helm_enterprise.sandbox.prometheus import PrometheusServer
from helm_enterprise.sandbox.traffic import ServiceTraffic

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def project(sandbox: Sandbox, audit: Path) -> Iterator[auto.Stack]:
    """The root program in a temporary directory, one stack, destroyed afterwards."""
    with tempfile.TemporaryDirectory(prefix="bench-rollout-") as tmp:
        root = Path(tmp)
        for name in ("Pulumi.yaml", "__main__.py"):
            shutil.copy(REPO / name, root / name)
        shutil.copytree(REPO / "charts", root / "charts")
        (root / ".venv").symlink_to(Path(sys.prefix))
        env = sandbox.env()
        env["SSL_CERT_FILE"] = str(ca_bundle())
        env["HELM_ENTERPRISE_AUDIT_LOG"] = str(audit)
        command = auto.PulumiCommand(root=str(sandbox.toolchain().layout.root))
        stack = auto.Stack.create(
            f"bench-{uuid.uuid4().hex[:6]}",
            auto.LocalWorkspace(work_dir=str(root), env_vars=env, pulumi_command=command),
        )
        try:
            yield stack
        finally:
            stack.destroy(color="never")
            stack.workspace.remove_stack(stack.name)


def release(namespace: str, message: str, strategy: dict[str, Any] | None, **values: Any) -> Any:
    rel: dict[str, Any] = {
        "name": "hello",
        "namespace": namespace,
        "createNamespace": True,
        "chart": {"path": "charts/hello"},
        "values": {"replicaCount": 4, "message": message, **values},
    }
    if strategy is not None:
        rel["strategy"] = strategy
    return rel


def set_release(stack: auto.Stack, rel: dict[str, Any]) -> None:
    stack.set_config("helm-enterprise:releases", auto.ConfigValue(json.dumps([rel])))


def upgrade(sandbox: Sandbox, strategy: dict[str, Any] | None) -> tuple[float, int, int]:
    """v1 installed, then v2 timed under traffic: (seconds, failed requests, requests)."""
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory() as tmp, project(sandbox, Path(tmp) / "a.jsonl") as st:
        set_release(st, release(namespace, "v1", strategy))
        st.up(color="never")
        traffic = ServiceTraffic(sandbox.cluster("a"), namespace, "hello")
        try:
            time.sleep(2)
            set_release(st, release(namespace, "v2", strategy))
            start = time.time()
            st.up(color="never")
            seconds = time.time() - start
            time.sleep(2)
        finally:
            traffic.close()
        answers = traffic.between(start, time.time())
        if "v2" not in answers:
            sys.exit(f"no v2 answer after the upgrade ({strategy}): {answers[-5:]}")
        return seconds, traffic.errors(start), len(answers)


def abort_to_stable(sandbox: Sandbox, prometheus: PrometheusServer, interval: int) -> float:
    """Seconds from the failed measurement to the last answer not from stable (v1)."""
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    sel = f'namespace="{namespace}",instance_name="{{{{canary}}}}"'
    query = (
        f'(sum(rate(http_requests_total{{{sel},status!~"2.."}}[20s])) or vector(0))'
        f" / sum(rate(http_requests_total{{{sel}}}[20s]))"
    )
    metric = {
        "name": "error-ratio",
        "prometheus": {"query": query},
        "successCondition": "result < 0.1",
        "initialDelay": "8s",
        "interval": f"{interval}s",
    }
    strategy = {
        "canary": {
            "steps": [{"setWeight": 50}, {"pause": {"duration": "120s"}}],
            "analysis": {"metrics": [metric]},
        }
    }
    with tempfile.TemporaryDirectory() as tmp:
        audit = Path(tmp) / "audit.jsonl"
        with project(sandbox, audit) as st:
            st.set_config(
                "helm-enterprise:prometheus",
                auto.ConfigValue(json.dumps({"address": prometheus.address})),
            )
            set_release(st, release(namespace, "v1", strategy))
            st.up(color="never")
            traffic = ServiceTraffic(sandbox.cluster("a"), namespace, "hello")
            try:
                set_release(st, release(namespace, "v3", strategy, fault={"randomError": True}))
                try:
                    st.up(color="never")
                    sys.exit("the bad canary was not aborted")
                except auto.errors.CommandError:
                    pass
                time.sleep(3)
            finally:
                traffic.close()
            failed = [
                r
                for r in AuditLog(audit).records()
                if r["action"] == "analysis" and r["result"] == "Failed"
            ]
            at = dt.datetime.fromisoformat(failed[0]["time"]).timestamp()
            not_stable = [t for t, a in traffic.samples if a != "v1" and t >= at - interval]
            return max(0.0, (not_stable[-1] if not_stable else at) - at)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--steps", type=int, default=3, help="setWeight steps of the canary")
    parser.add_argument("--interval", type=int, default=5, help="analysis interval, seconds")
    args = parser.parse_args()
    sandbox = Sandbox(clusters=1)
    sandbox.up(["clusters", "prometheus"], progress=lambda m: print(f"[sandbox] {m}"))
    prometheus = PrometheusServer(sandbox.toolchain())
    weights = [round(100 * (i + 1) / (args.steps + 1)) for i in range(args.steps)]
    canary = {"canary": {"steps": [{"setWeight": w} for w in weights]}}
    blue_green = {"blueGreen": {"scaleDownDelaySeconds": 0}}
    rows = []
    for n in range(args.rounds):
        plain = upgrade(sandbox, None)
        bg = upgrade(sandbox, blue_green)
        cn = upgrade(sandbox, canary)
        to_stable = abort_to_stable(sandbox, prometheus, args.interval)
        rows.append((plain, bg, cn, to_stable))
        print(
            f"round {n + 1}: plain {plain[0]:.1f}s ({plain[1]}/{plain[2]} failed), "
            f"blue/green {bg[0]:.1f}s ({bg[1]}/{bg[2]} failed), "
            f"canary {args.steps} steps {cn[0]:.1f}s ({cn[1]}/{cn[2]} failed), "
            f"abort to stable {to_stable:.1f}s",
            flush=True,
        )
    med = statistics.median
    plain_s = med(r[0][0] for r in rows)
    print(f"\nmedians over {args.rounds} round(s), the plain upgrade = 1.00:")
    print(f"  blue/green upgrade time      {med(r[1][0] for r in rows) / plain_s:.2f}x")
    print(f"  canary ({args.steps} steps) upgrade time {med(r[2][0] for r in rows) / plain_s:.2f}x")
    print(
        "  failed requests during the upgrade: "
        f"plain {med(r[0][1] for r in rows):.0f}, blue/green {med(r[1][1] for r in rows):.0f} "
        f"(goal 0), canary {med(r[2][1] for r in rows):.0f}"
    )
    print(
        f"  analysis failed -> 100 % on stable: {med(r[3] for r in rows):.1f}s "
        f"(goal <= interval + 5 = {args.interval + 5}s)"
    )


if __name__ == "__main__":
    main()
