"""The sandbox's real node: a Pod of the workload image really runs (probes, pod IP, the
API server's service proxy, logs, exec), and — in a throwaway sandbox of its own — a
killed kubelet comes back with ``sandbox up`` and ``sandbox down`` leaves nothing behind
on the host (processes, mounts, cgroups, links, nftables rules, sysctls).

Both tests need what a real node needs (root, overlayfs, mount namespaces); elsewhere the
sandbox runs kwok-only and they are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from helm_enterprise.sandbox._process import pid_alive
from helm_enterprise.sandbox.images import workload_images
from helm_enterprise.sandbox.node import (
    NODE_LABEL,
    bridge_name,
    cgroup_hierarchies,
    cgroup_root,
    unavailable_reason,
)
from tests.e2e.conftest import Env, free_port_base, run_cli

SYSCTLS = (
    "vm/overcommit_memory",
    "kernel/panic",
    "kernel/panic_on_oops",
    "net/ipv4/ip_forward",
)


@pytest.fixture(autouse=True)
def _real_nodes_possible() -> None:
    """Elsewhere than on a machine that can run real nodes these tests fail with the reason
    (the sandbox falls back to kwok there; a skip would hide the missing feature)."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.fail(f"no real node on this machine: {reason}")


def _podinfo_manifests(namespace: str, image: str) -> list[dict[str, Any]]:
    labels = {"app": "podinfo"}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "podinfo", "namespace": namespace, "labels": labels},
        "spec": {
            "nodeSelector": {NODE_LABEL: "real"},
            "tolerations": [
                {"key": NODE_LABEL, "operator": "Equal", "value": "real", "effect": "NoSchedule"}
            ],
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "podinfo",
                    "image": image,
                    "ports": [{"name": "http", "containerPort": 9898}],
                    "readinessProbe": {
                        "httpGet": {"path": "/readyz", "port": 9898},
                        "periodSeconds": 1,
                    },
                }
            ],
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "podinfo", "namespace": namespace},
        "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }
    return [pod, service]


def _kubectl(kubeconfig: Path, *args: str, env: dict[str, str]) -> str:
    proc = subprocess.run(
        [
            shutil.which("kubectl", path=env.get("PATH")) or "kubectl",
            "--kubeconfig",
            str(kubeconfig),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def _run_podinfo(kubeconfig: Path, namespace: str, tmp: Path, env: dict[str, str]) -> str:
    """Create the namespace, the Pod and its Service; wait until Ready; return the pod IP."""
    image = workload_images_reference()
    manifest = tmp / f"{namespace}.yaml"
    docs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}]
    manifest.write_text(yaml.safe_dump_all(docs + _podinfo_manifests(namespace, image)))
    _kubectl(kubeconfig, "apply", "-f", str(manifest), env=env)
    _kubectl(
        kubeconfig,
        *("-n", namespace, "wait", "--for=condition=Ready", "pod/podinfo", "--timeout=120s"),
        env=env,
    )
    pod = json.loads(
        _kubectl(kubeconfig, "-n", namespace, "get", "pod/podinfo", "-o", "json", env=env)
    )
    assert pod["spec"]["nodeName"].endswith("-real-0")
    ip: str = pod["status"]["podIP"]
    return ip


def workload_images_reference() -> str:
    from helm_enterprise.sandbox.toolchain import Layout, Toolchain

    return workload_images(Toolchain(Layout.default(), {}))["podinfo"].reference


def test_a_pod_runs_on_the_real_node(sb: Env, namespace: str, tmp_path: Path) -> None:
    started = time.monotonic()
    cluster = sb.sandbox.cluster("a")
    kubeconfig = cluster.kubeconfig
    ip = _run_podinfo(kubeconfig, namespace, tmp_path, sb.env)
    try:
        # The host reaches the pod on its IP over the node's bridge ...
        health = httpx.get(f"http://{ip}:9898/healthz", timeout=5)
        assert health.status_code == 200 and health.json() == {"status": "OK"}
        # ... and the Service through the API server's service proxy (no kube-proxy).
        pki = cluster.pki.path
        ctx = ssl.create_default_context(cafile=str(pki("ca.crt")))
        ctx.load_cert_chain(str(pki("admin.crt")), str(pki("admin.key")))
        proxied = httpx.get(
            f"{cluster.server}/api/v1/namespaces/{namespace}/services/podinfo:http/proxy/healthz",
            verify=ctx,
            timeout=10,
        )
        assert proxied.status_code == 200, proxied.text
        assert proxied.json() == {"status": "OK"}
        # logs and exec go API server -> kubelet (its client certificate, Webhook authz).
        logs = _kubectl(kubeconfig, "-n", namespace, "logs", "podinfo", env=sb.env)
        assert "Starting podinfo" in logs
        version = _kubectl(
            kubeconfig,
            *("-n", namespace, "exec", "podinfo", "--", "/podinfo", "--version"),
            env=sb.env,
        )
        assert version.strip() == workload_images_reference().rsplit(":", 1)[1]
        # Pods reach the kubelet's port too: it must not answer anonymous requests.
        node = json.loads(_kubectl(kubeconfig, "get", "node/a-real-0", "-o", "json", env=sb.env))
        [node_ip] = [a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP"]
        anonymous = httpx.get(
            f"https://{node_ip}:{cluster.ports.kubelet}/pods", verify=False, timeout=5
        )
        assert anonymous.status_code == 401
    finally:
        _kubectl(kubeconfig, "delete", "namespace", namespace, "--wait=false", env=sb.env)
    print(f"real-node pod test: {time.monotonic() - started:.1f}s")


# -- a throwaway sandbox: restart and teardown ------------------------------------------------


@pytest.fixture
def throwaway(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of a sandbox of its own (dir and port block); always taken down."""
    env = dict(os.environ)
    env["HELM_ENTERPRISE_SANDBOX_DIR"] = str(tmp_path / "sandbox")
    # From the top of the range: the fresh-clone quickstart test searches from the bottom.
    env["HELM_ENTERPRISE_SANDBOX_PORT_BASE"] = str(free_port_base(from_top=True))
    env["PATH"] = f"{Path.home() / '.cache/helm-enterprise/toolchain/bin'}:{env['PATH']}"
    try:
        yield env
    finally:
        run_cli("sandbox", "down", env=env, timeout=180)


def _status(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    proc = run_cli("sandbox", "status", "-c", "clusters", "--json", env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return {row["name"]: row for row in json.loads(proc.stdout)}


def _node_pids(ns: str, croot: str) -> set[int]:
    """Processes in the node's mount namespace or its cgroups."""
    pids = {
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and _readlink(p / "ns" / "mnt") == ns
    }
    for hierarchy in cgroup_hierarchies():
        top = hierarchy / croot.lstrip("/")
        if top.is_dir():
            for procs in top.rglob("cgroup.procs"):
                pids.update(int(x) for x in procs.read_text().split())
    return pids


def _readlink(path: Path) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None


def _sysctls() -> dict[str, str]:
    return {k: Path(f"/proc/sys/{k}").read_text().strip() for k in SYSCTLS}


def _links() -> set[str]:
    out = subprocess.run(["ip", "-j", "link"], capture_output=True, text=True, check=True)
    return {link["ifname"] for link in json.loads(out.stdout)}


def test_killed_kubelet_is_restarted_and_down_leaves_nothing(
    throwaway: dict[str, str], tmp_path: Path
) -> None:
    started = time.monotonic()
    env = throwaway
    sysctls = _sysctls()
    up = run_cli("sandbox", "up", "-c", "clusters", env=env, timeout=600)
    assert up.returncode == 0, up.stdout + up.stderr
    assert "real node a-real-0 Ready" in up.stdout + up.stderr  # progress goes to stderr
    kubeconfig = Path(env["HELM_ENTERPRISE_SANDBOX_DIR"]) / "state/cluster-a/admin.kubeconfig"
    ip = _run_podinfo(kubeconfig, "throwaway", tmp_path, env)

    rows = _status(env)
    assert rows["a-real-0"]["state"] == "Ready, 1 pods"
    kubelet = rows["a-kubelet"]["pid"]
    os.kill(kubelet, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while pid_alive(kubelet) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _status(env)["a-kubelet"]["state"] == "stopped"
    again = run_cli("sandbox", "up", "-c", "clusters", env=env, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    progress = again.stdout + again.stderr
    assert "starting kubelet" in progress and "starting containerd" not in progress
    rows = _status(env)
    assert rows["a-kubelet"]["state"] == "ready" and rows["a-kubelet"]["pid"] != kubelet
    assert httpx.get(f"http://{ip}:9898/healthz", timeout=5).status_code == 200

    # What down must remove, seen while everything runs.
    apiserver_port = int(env["HELM_ENTERPRISE_SANDBOX_PORT_BASE"]) + 2
    croot = cgroup_root("a-real-0", apiserver_port)
    containerd = rows["a-containerd"]["pid"]
    ns = _readlink(Path(f"/proc/{containerd}/ns/mnt"))
    assert ns and ns != _readlink(Path("/proc/self/ns/mnt"))
    pids = _node_pids(ns, croot)
    assert len(pids) >= 5, pids  # containerd, kubelet, a shim, pause, podinfo
    bridge = bridge_name(apiserver_port)
    out = subprocess.run(
        ["ip", "-j", "link", "show", "master", bridge], capture_output=True, text=True, check=True
    )
    veths = {link["ifname"] for link in json.loads(out.stdout)}
    assert veths, f"no pod interface on {bridge}"
    assert any((h / croot.lstrip("/")).is_dir() for h in cgroup_hierarchies())

    down = run_cli("sandbox", "down", env=env, timeout=180)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not [p for p in pids if pid_alive(p)]
    assert not _node_pids(ns, croot)
    assert not [h for h in cgroup_hierarchies() if (h / croot.lstrip("/")).exists()]
    assert not ({bridge} | veths) & _links()
    mounts = Path("/proc/mounts").read_text()
    assert env["HELM_ENTERPRISE_SANDBOX_DIR"] not in mounts
    assert "helm-enterprise-run" not in mounts and "helm-enterprise-varlib" not in mounts
    assert _sysctls() == sysctls
    if shutil.which("nft"):
        ruleset = subprocess.run(
            ["nft", "list", "ruleset"], capture_output=True, text=True, check=True
        )
        assert ruleset.stdout.strip() == ""
    # Idempotent: a second down (and status) finds nothing to do.
    assert run_cli("sandbox", "down", env=env, timeout=120).returncode == 0
    assert {r["state"] for r in _status(env).values()} <= {"stopped", "not started", "unknown"}
    print(f"real-node restart+teardown test: {time.monotonic() - started:.1f}s")
