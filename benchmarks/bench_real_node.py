"""Benchmark: what the real node costs — sandbox ``up`` and a Pod from apply to Ready.

In one run, in a sandbox of its own (its own directory and a free port block; the shared
sandbox is not touched), each round:

* ``up`` of one cluster from empty state with kwok's fake nodes only
  (``HELM_ENTERPRISE_SANDBOX_REAL_NODES=0``, the baseline), then ``down --purge``;
* ``up`` of one cluster from empty state with its real node (containerd + kubelet), then
  a Pod of the podinfo image applied to the real node and to a fake node, timed from
  ``kubectl apply`` to the Pod's Ready condition, then ``down --purge``.

The chart repository (the registry the real node pulls from) is started once before the
rounds and is not part of either ``up``. Prints each round and the medians with the ratio
real/kwok-only.

    .venv/bin/python benchmarks/bench_real_node.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from helm_enterprise.sandbox import _paths
from helm_enterprise.sandbox.node import NODE_LABEL, REAL_NODES_ENV, unavailable_reason


def free_base() -> int:
    """A port base whose whole block is free, away from the default sandbox's block."""
    shared = range(_paths.port_base(), _paths.port_base() + _paths.PORT_SPAN)
    base = _paths.free_port_base(from_top=True, avoid=shared)
    if base is None:
        sys.exit(f"no free block of {_paths.PORT_SPAN} loopback ports")
    return base


def cli(*args: str, env: dict[str, str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "helm_enterprise.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"`helm-enterprise {' '.join(args)}` failed:\n{proc.stdout}{proc.stderr}")


def timed_up(env: dict[str, str]) -> float:
    start = time.monotonic()
    cli("sandbox", "up", "-c", "clusters", env=env)
    return time.monotonic() - start


def pod_ready_seconds(kubectl: Path, kubeconfig: Path, name: str, real: bool) -> float:
    """Apply a podinfo Pod (on the real node, or on a fake one) and time it to Ready."""
    spec: dict[str, object] = {
        "containers": [
            {
                "name": "web",
                "image": "registry.helm-enterprise.test/library/podinfo:6.9.2",
                "args": ["--port=8080"],
                "readinessProbe": {
                    "httpGet": {"path": "/readyz", "port": 8080},
                    "periodSeconds": 1,
                },
            }
        ]
    }
    if real:
        spec["nodeSelector"] = {NODE_LABEL: "real"}
        spec["tolerations"] = [
            {"key": NODE_LABEL, "operator": "Equal", "value": "real", "effect": "NoSchedule"}
        ]
    else:
        spec["nodeSelector"] = {"type": "kwok"}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }
    base = [str(kubectl), f"--kubeconfig={kubeconfig}"]
    start = time.monotonic()
    subprocess.run(
        [*base, "apply", "-f", "-"],
        input=json.dumps(pod),
        text=True,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*base, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=180s"],
        check=True,
        capture_output=True,
    )
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    problem = unavailable_reason()
    if problem is not None:
        sys.exit(f"no real node on this machine: {problem}")
    from helm_enterprise.sandbox.toolchain import bin_dir

    with tempfile.TemporaryDirectory(prefix="bench-real-node-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELM_ENTERPRISE_SANDBOX")}
        env["HELM_ENTERPRISE_SANDBOX_DIR"] = str(Path(tmp) / "sandbox")
        env["HELM_ENTERPRISE_SANDBOX_PORT_BASE"] = str(free_base())
        kwok_env = {**env, REAL_NODES_ENV: "0"}
        kubeconfig = Path(tmp) / "sandbox/state/cluster-a/admin.kubeconfig"
        kubectl = bin_dir() / "kubectl"
        cli("sandbox", "up", "-c", "chartrepo", env=env)
        kwok_up, real_up, real_pod, fake_pod = [], [], [], []
        try:
            for r in range(args.rounds):
                kwok_up.append(timed_up(kwok_env))
                cli("sandbox", "down", "-c", "clusters", "--purge", env=kwok_env)
                real_up.append(timed_up(env))
                real_pod.append(pod_ready_seconds(kubectl, kubeconfig, f"real-{r}", real=True))
                fake_pod.append(pod_ready_seconds(kubectl, kubeconfig, f"fake-{r}", real=False))
                cli("sandbox", "down", "-c", "clusters", "--purge", env=env)
                print(
                    f"round {r + 1}: up kwok-only {kwok_up[-1]:.1f}s, with real node "
                    f"{real_up[-1]:.1f}s; pod apply->Ready real {real_pod[-1]:.1f}s, "
                    f"fake {fake_pod[-1]:.1f}s",
                    flush=True,
                )
        finally:
            cli("sandbox", "down", "--purge", env=env)
    k, u = statistics.median(kwok_up), statistics.median(real_up)
    p, f = statistics.median(real_pod), statistics.median(fake_pod)
    print(
        f"sandbox up (1 cluster), median of {args.rounds}: kwok-only {k:.1f}s, "
        f"with a real node {u:.1f}s, ratio {u / k:.2f}"
    )
    print(f"pod apply->Ready, median: real node {p:.1f}s, kwok node {f:.1f}s, ratio {p / f:.2f}")


if __name__ == "__main__":
    main()
