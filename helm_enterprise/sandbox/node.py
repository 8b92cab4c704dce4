"""The one real node of a sandbox cluster: containerd + runc + a CNI bridge + a real kubelet.

Next to kwok's fake Nodes, every sandbox cluster gets one Node whose Pods really run:
``<cluster>-real-0``, labelled and tainted ``sandbox.helm-enterprise.io/node=real``
(``NoSchedule``), so only Pods that tolerate the taint and select the label land on it.
The host reaches its Pods on their pod IPs over the node's bridge, and Services through the
API server's service proxy (there is no kube-proxy).

Why it is built the way it is (the verified recipe behind every choice is in the sandbox
docs):

* **A private mount namespace.** containerd 1.6 and the kubelet write hard-coded host paths
  (``/run/containerd``, ``/run/netns``, ``/var/lib/cni``, ``/var/lib/kubelet``,
  ``/var/log/pods``) and the kubelet rewrites three global sysctls
  (``vm.overcommit_memory``, ``kernel.panic``, ``kernel.panic_on_oops``). containerd
  therefore runs as the first process of its own mount namespace (``node-init.sh``:
  tmpfs on ``/run`` and ``/var/lib``, ``/var/log`` bound to the node's state dir, the three
  sysctl files bound read-only with the values the kubelet wants), and the kubelet joins
  that namespace with ``nsenter``. When the namespace's last process exits, every mount and
  network-namespace pin goes with it; the host keeps nothing.
* **No global network state.** The bridge is created here with the gateway address, so the
  CNI bridge plugin runs with ``isGateway: false`` and ``ipMasq: false``: it never enables
  ``ip_forward`` and writes no iptables rule. Pods reach the host and each other, nothing
  else. Each node gets a private /16 that no host address or route uses, chosen under a
  host-wide lock (several sandboxes may run on one machine) and remembered in its state dir.
* **``restrict_oom_score_adj``.** A root without ``CAP_SYS_RESOURCE`` (containers, some
  VMs) cannot set the negative OOM scores CRI asks for, and runc would fail every sandbox.
* **Its own cgroup root** (``/helm-enterprise-<node>``): the nodes of two clusters share the
  host's cgroup hierarchies, and each kubelet must only see (and evict, and account) its
  own Pods. ``down()`` finds leftover container processes by it, and by the mount
  namespace recorded at start, also after a crash.
* **Kubelet API security.** Pods can reach the kubelet's port on the bridge, so it accepts
  only client certificates of the cluster CA and bearer tokens, and authorizes through the
  API server (``Webhook``); the API server uses its own kubelet-client certificate for
  logs, exec, port-forward and the node proxy.
* **Images.** The pause image is imported with ``ctr`` (nothing is pulled from the
  internet); workload images are pulled from the sandbox's own registry under the name
  ``registry.helm-enterprise.test/...``, which containerd maps to the loopback registry
  (``hosts.toml``) with node-level credentials, so Pods need no ``imagePullSecrets``.

A real node needs root, the overlay filesystem and mount namespaces; without them (or with
``HELM_ENTERPRISE_SANDBOX_REAL_NODES=0``) the cluster runs with kwok's fake nodes only and
says so (:func:`unavailable_reason`).

Layout (``<cluster state>/node/``)::

    containerd.toml   (0600: holds the registry credentials), certs.d/, ctd/ (root, state;
                      the socket is on the namespace's /run), cni/ (net.d conflist,
                      host-local IPAM data), kubelet/ (config, kubeconfig, pod logs; its root
                      dir is on the namespace's /var/lib), varlog/, sysctl-*, resolv.conf,
                      node-init.sh, network.json (the subnet and bridge), mntns (namespace id)
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import yaml
from filelock import FileLock

from helm_enterprise.errors import SandboxError, truncate
from helm_enterprise.sandbox import _paths
from helm_enterprise.sandbox._pki import write_private
from helm_enterprise.sandbox._process import Service, ever_started, not_started, tail
from helm_enterprise.sandbox.images import push, workload_images

if TYPE_CHECKING:
    from helm_enterprise.sandbox.cluster import Cluster
    from helm_enterprise.sandbox.toolchain import Toolchain

__all__ = [
    "NODE_LABEL",
    "REAL_NODES_ENV",
    "REGISTRY_HOST",
    "RealNode",
    "bridge_name",
    "choose_subnet",
    "publish_images",
    "unavailable_reason",
]

Progress = Callable[[str], None]
IPv4Network = ipaddress.IPv4Network

REAL_NODES_ENV = "HELM_ENTERPRISE_SANDBOX_REAL_NODES"
NODE_LABEL = "sandbox.helm-enterprise.io/node"
NODE_ROLE = "real"
REGISTRY_HOST = "registry.helm-enterprise.test"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
MAX_PODS = 110
# The namespace CRI (and so the kubelet) sees images in.
CRI_NAMESPACE = "k8s.io"
# containerd's socket, on the namespace's own /run tmpfs: a socket path under a sandbox dir
# can exceed the 104 bytes unix sockets allow. The kubelet (in the namespace) dials it
# there, the host through /proc/<containerd pid>/root.
CONTAINERD_SOCKET = Path("/run/containerd/containerd.sock")
NET_LOCK = Path("/run/lock/helm-enterprise-net.lock")
# Pod subnets are /16s from here, first free wins; the Service range and kwok's fake pod
# range of every cluster are never used (they are not routed, but a clash would confuse).
_SUBNET_CANDIDATES = tuple(IPv4Network(f"10.{i}.0.0/16") for i in range(88, 128))
_RESERVED = (IPv4Network("10.96.0.0/16"), IPv4Network("10.244.0.0/16"))
# What the kubelet would write into these global sysctls; the node's mount namespace shows
# it these values read-only, so it writes nothing (see node-init.sh).
KUBELET_SYSCTLS = {"vm/overcommit_memory": "1", "kernel/panic": "10", "kernel/panic_on_oops": "1"}
# Host paths the namespace hides; a sandbox dir below them would be hidden from containerd.
_HIDDEN = (Path("/run"), Path("/var/lib"), Path("/var/log"))
_BINARIES = ("containerd", "containerd-shim-runc-v2", "ctr", "runc", "kubelet")
_CNI_PLUGINS = ("bridge", "host-local", "loopback")
_OWN_COMMANDS = ("containerd", "kubelet", "unshare", "sh", "nsenter", "metrics-server")
METRICS_API = "v1beta1.metrics.k8s.io"

NODE_INIT = """#!/bin/sh
# PID 1 of the real node's private mount namespace (started by `unshare --mount`): hide the
# host paths containerd and the kubelet hard-code, fake the sysctls the kubelet would
# rewrite, then become containerd. Args: <node state dir> <containerd binary> <config>.
set -eu
D=$1
mount -t tmpfs -o mode=755 helm-enterprise-run /run
mount -t tmpfs -o mode=755 helm-enterprise-varlib /var/lib
mkdir -p "$D/varlog"
mount --bind "$D/varlog" /var/log
for kv in {sysctls}; do
  k=${{kv%=*}}
  f="$D/sysctl-$(echo "$k" | tr / _)"
  echo "${{kv#*=}}" > "$f"
  mount --bind -o ro "$f" "/proc/sys/$k"
done
exec "$2" --config "$3"
"""


# -- pure parts: names, subnets, configuration files ----------------------------------------


def node_name(cluster: str) -> str:
    """The real Node of cluster ``cluster``."""
    return f"{cluster}-real-0"


def bridge_name(apiserver_port: int) -> str:
    """The node's bridge, unique per cluster on the host (Linux allows 15 characters)."""
    return f"he-rp-{apiserver_port}"  # at most 11 characters


def cgroup_root(node: str, apiserver_port: int) -> str:
    """The kubelet's ``cgroupRoot``: its own subtree in every hierarchy. Two sandboxes on
    one host both have a node ``a-real-0``; the API server port tells them apart."""
    return f"/helm-enterprise-{apiserver_port}-{node}"


def choose_subnet(
    taken: Iterable[IPv4Network], preferred: IPv4Network | None = None
) -> IPv4Network:
    """The first candidate /16 (``preferred`` first) that overlaps nothing in ``taken``
    (host addresses and routes; a default route takes nothing). Raises
    :class:`SandboxError` when every candidate is taken."""
    used = [n for n in taken if n.prefixlen > 0]
    order = ([preferred] if preferred is not None else []) + list(_SUBNET_CANDIDATES)
    for cand in order:
        if any(cand.overlaps(r) for r in _RESERVED):
            continue
        if not any(cand.overlaps(n) for n in used):
            return cand
    raise SandboxError(
        "no free private /16 for a real node's pods (10.88-10.127 are all used by host "
        "addresses or routes); stop other sandboxes or set "
        f"{REAL_NODES_ENV}=0 to run with fake nodes only"
    )


def gateway(subnet: IPv4Network) -> str:
    """The bridge's address and the node IP: the subnet's first host."""
    return str(subnet.network_address + 1)


def cni_conflist(bridge: str, subnet: IPv4Network, ipam_dir: Path) -> dict[str, Any]:
    """The CNI network: the pre-created bridge, no gateway and no masquerade (so the plugin
    touches neither ``ip_forward`` nor iptables), host-local IPAM kept in the node's state."""
    return {
        "cniVersion": "1.0.0",
        "name": "helm-enterprise",
        "plugins": [
            {
                "type": "bridge",
                "bridge": bridge,
                "isGateway": False,
                "ipMasq": False,
                "ipam": {
                    "type": "host-local",
                    "dataDir": str(ipam_dir),
                    "ranges": [[{"subnet": str(subnet), "gateway": gateway(subnet)}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            }
        ],
    }


def _q(value: str | Path) -> str:
    """A TOML basic string (JSON's escaping is valid TOML for these values)."""
    return json.dumps(str(value))


@dataclasses.dataclass(frozen=True)
class RegistryAccess:
    """How the node pulls ``REGISTRY_HOST/...``: the loopback registry, its CA, credentials."""

    port: int
    ca_file: Path
    username: str
    password: str

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"


def containerd_config(
    node_dir: Path, bin_dir: Path, cni_bin: Path, registry: RegistryAccess
) -> str:
    """containerd's config: every path under ``node_dir``, CRI with the cgroupfs driver,
    ``restrict_oom_score_adj``, the CNI bridge, ``certs.d`` and the registry credentials."""
    cri = '[plugins."io.containerd.grpc.v1.cri"'
    ctd = node_dir / "ctd"
    return "\n".join(
        [
            "version = 2",
            f"root = {_q(ctd / 'root')}",
            f"state = {_q(ctd / 'state')}",
            "disabled_plugins = ["
            + ", ".join(
                _q(f"io.containerd.snapshotter.v1.{s}")
                for s in ("aufs", "btrfs", "zfs", "devmapper")
            )
            + "]",
            "[grpc]",
            f"  address = {_q(CONTAINERD_SOCKET)}",
            "[ttrpc]",
            f"  address = {_q(f'{CONTAINERD_SOCKET}.ttrpc')}",
            '[plugins."io.containerd.internal.v1.opt"]',
            f"  path = {_q(ctd / 'opt')}",
            f"{cri}]",
            f"  sandbox_image = {_q(PAUSE_IMAGE)}",
            "  # No CAP_SYS_RESOURCE on some hosts: clamp CRI's negative OOM scores to ours.",
            "  restrict_oom_score_adj = true",
            "  enable_selinux = false",
            f"{cri}.containerd]",
            '  snapshotter = "overlayfs"',
            '  default_runtime_name = "runc"',
            f"{cri}.containerd.runtimes.runc]",
            '  runtime_type = "io.containerd.runc.v2"',
            f"{cri}.containerd.runtimes.runc.options]",
            f"  BinaryName = {_q(bin_dir / 'runc')}",
            "  SystemdCgroup = false",
            f"{cri}.cni]",
            f"  bin_dir = {_q(cni_bin)}",
            f"  conf_dir = {_q(node_dir / 'cni' / 'net.d')}",
            f"{cri}.registry]",
            f"  config_path = {_q(node_dir / 'certs.d')}",
            f"{cri}.registry.configs.{_q(registry.host)}.auth]",
            f"  username = {_q(registry.username)}",
            f"  password = {_q(registry.password)}",
            "",
        ]
    )


def hosts_toml(registry: RegistryAccess) -> str:
    """``certs.d/<REGISTRY_HOST>/hosts.toml``: the name resolves to the loopback registry.

    The CA is given twice: containerd tries the ``[host]`` entries and then the ``server``,
    so a tag the registry answers 404 for is asked again at the server, and without a CA of
    its own that retry's TLS error would replace "not found" in the kubelet's message.
    containerd 1.6 refuses a file without a ``[host]`` entry ("invalid `host` tree")."""
    url, ca = _q(f"https://{registry.host}"), _q(registry.ca_file)
    return "\n".join(
        [
            f"server = {url}",
            f"ca = {ca}",
            f"[host.{url}]",
            '  capabilities = ["pull", "resolve"]',
            f"  ca = {ca}",
            "",
        ]
    )


@dataclasses.dataclass(frozen=True)
class KubeletSettings:
    """What differs between nodes in the kubelet's configuration."""

    node: str
    node_dir: Path
    node_ip: str
    subnet: IPv4Network
    port: int
    healthz_port: int
    client_ca: Path
    cgroup_root: str


def kubelet_config(s: KubeletSettings) -> dict[str, Any]:
    """The KubeletConfiguration (v1beta1)."""
    k = s.node_dir / "kubelet"
    sock = f"unix://{CONTAINERD_SOCKET}"
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": s.cgroup_root,
        "failCgroupV1": False,
        "failSwapOn": False,
        "containerRuntimeEndpoint": sock,
        "imageServiceEndpoint": sock,
        "podLogsDir": str(k / "pod-logs"),
        "volumePluginDir": str(k / "volume-plugins"),
        "address": s.node_ip,
        "port": s.port,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": s.healthz_port,
        # No iptables chains; the kernel defaults are faked in the mount namespace.
        "makeIPTablesUtilChains": False,
        "protectKernelDefaults": False,
        "oomScoreAdj": 0,
        "podCIDR": str(s.subnet),
        "maxPods": MAX_PODS,
        "resolvConf": str(s.node_dir / "resolv.conf"),
        "registerNode": True,
        "registerWithTaints": [{"key": NODE_LABEL, "value": NODE_ROLE, "effect": "NoSchedule"}],
        # Pods reach this port on the bridge: certificates of the cluster CA or tokens
        # only, each request authorized by the API server.
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True, "cacheTTL": "30s"},
            "x509": {"clientCAFile": str(s.client_ca)},
        },
        "authorization": {
            "mode": "Webhook",
            "webhook": {"cacheAuthorizedTTL": "30s", "cacheUnauthorizedTTL": "5s"},
        },
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        # A developer's disk is fuller than a node's: evict only when it is really full,
        # and never garbage-collect the imported pause image.
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
        },
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
    }


def kubelet_args(s: KubeletSettings) -> list[str]:
    """The kubelet's flags (everything not in its config file)."""
    k = s.node_dir / "kubelet"
    return [
        f"--config={k / 'config.yaml'}",
        f"--kubeconfig={k / 'kubeconfig'}",
        # On the namespace's /var/lib tmpfs: the kubelet binds unix sockets below its root
        # dir, and one under a sandbox dir can exceed the 104 bytes they allow.
        "--root-dir=/var/lib/kubelet",
        f"--cert-dir={k / 'pki'}",
        f"--hostname-override={s.node}",
        f"--node-ip={s.node_ip}",
        f"--node-labels={NODE_LABEL}={NODE_ROLE}",
    ]


# -- host facts -----------------------------------------------------------------------------


def _run(argv: Sequence[str | Path], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=timeout, check=False
    )


def _ip(*args: str) -> str:
    proc = _run(["ip", *args])
    if proc.returncode != 0:
        raise SandboxError(f"`ip {' '.join(args)}` failed: {truncate(proc.stderr, 300)}")
    return proc.stdout


def host_networks() -> list[IPv4Network]:
    """IPv4 networks of every host address and route (the default route excluded)."""
    nets: list[IPv4Network] = []
    for link in json.loads(_ip("-j", "-4", "addr") or "[]"):
        for a in link.get("addr_info", []):
            nets.append(IPv4Network(f"{a['local']}/{a['prefixlen']}", strict=False))
    for route in json.loads(_ip("-j", "-4", "route", "show", "table", "all") or "[]"):
        dst = route.get("dst", "default")
        if dst != "default":
            nets.append(IPv4Network(dst if "/" in dst else f"{dst}/32", strict=False))
    return nets


_unavailable: dict[str, str | None] = {}


def unavailable_reason() -> str | None:
    """Why this machine (or the environment) cannot run real nodes, or ``None`` when it can.

    ``HELM_ENTERPRISE_SANDBOX_REAL_NODES=0`` turns them off; otherwise they need root, the
    overlay filesystem and mount namespaces, and a sandbox dir outside the paths the node's
    namespace hides. Checked once per process (the environment variable every time).
    """
    if os.environ.get(REAL_NODES_ENV, "").strip() == "0":
        return f"{REAL_NODES_ENV}=0"
    root = _paths.sandbox_root().resolve()
    for hidden in _HIDDEN:
        if root.is_relative_to(hidden):
            return (
                f"the sandbox dir {root} is below {hidden}, which the node's mount "
                "namespace hides; set HELM_ENTERPRISE_SANDBOX_DIR elsewhere"
            )
    if "host" not in _unavailable:
        _unavailable["host"] = _host_problem()
    return _unavailable["host"]


def _host_problem() -> str | None:
    if os.geteuid() != 0:
        return "not running as root (a real node mounts, makes a bridge and cgroups)"
    try:
        filesystems = Path("/proc/filesystems").read_text()
    except OSError:
        filesystems = ""
    if "overlay" not in filesystems.split():
        return "the kernel has no overlay filesystem (containerd's snapshotter)"
    try:
        proc = _run(["unshare", "--mount", "true"], timeout=10)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"`unshare --mount` cannot run: {err}"
    if proc.returncode != 0:
        return f"`unshare --mount` failed: {truncate(proc.stderr.strip(), 200)}"
    return None


def cgroup_hierarchies() -> list[Path]:
    """Mount points of every cgroup v1 hierarchy and of the unified (v2) one."""
    out: list[Path] = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            left, _, right = line.partition(" - ")
            if right.split(" ", 1)[0] in ("cgroup", "cgroup2"):
                point = Path(left.split()[4].replace("\\040", " "))
                if point not in out:
                    out.append(point)
    return out


def _mntns(pid: int | str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def _cmd_name(pid: int) -> str:
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0].decode()
    except OSError:
        return ""
    return Path(argv0).name


def _walk_down(top: Path) -> Iterator[Path]:
    """``top`` and every directory below it, deepest first."""
    if not top.is_dir():
        return
    for sub in sorted((p for p in top.iterdir() if p.is_dir()), key=str):
        yield from _walk_down(sub)
    yield top


# -- the node -------------------------------------------------------------------------------


class RealNode:
    """The real Node of one :class:`~helm_enterprise.sandbox.cluster.Cluster`.

    ``up()`` prepares the network, starts containerd (in its own mount namespace) and the
    kubelet, and waits until the Node is Ready; ``down()`` removes every trace; ``status()``
    reports both processes and the Node. Constructing one starts nothing.
    """

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.name = node_name(cluster.name)
        self.dir = cluster.dir / "node"
        self.bridge = bridge_name(cluster.ports.apiserver)
        self.cgroup_root = cgroup_root(self.name, cluster.ports.apiserver)
        self._network_file = self.dir / "network.json"
        self._mntns_file = self.dir / "mntns"

    # -- paths and services -----------------------------------------------------------

    @property
    def socket(self) -> Path:
        """containerd's socket as the host reaches it (inside the node's mount namespace);
        a path that does not exist while containerd is not running."""
        pid = self._containerd().pid()
        return Path(f"/proc/{pid or 0}/root") / CONTAINERD_SOCKET.relative_to("/")

    def _bin(self, name: str) -> Path:
        return self.cluster.toolchain.layout.bin / name

    def _containerd(self) -> Service:
        def serving() -> bool:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(1)
                s.connect(str(self.socket))
            return True

        return Service(
            name=f"{self.cluster.name}-containerd",
            argv=[
                shutil.which("unshare") or "unshare",
                "--mount",
                "--propagation",
                "private",
                "/bin/sh",
                self.dir / "node-init.sh",
                self.dir,
                self._bin("containerd"),
                self.dir / "containerd.toml",
            ],
            state_dir=self.cluster.dir / "run",
            log_dir=_paths.logs_dir(),
            probe=serving,
            env={"PATH": f"{self.cluster.toolchain.layout.bin}:{os.environ.get('PATH', '')}"},
            cwd=self.dir,
            ready_timeout=30.0,
        )

    def _kubelet(self, containerd_pid: int = 0) -> Service:
        ports = self.cluster.ports

        def healthy() -> bool:
            url = f"http://127.0.0.1:{ports.kubelet_healthz}/healthz"
            return httpx.get(url, timeout=2.0).text == "ok"

        return Service(
            name=f"{self.cluster.name}-kubelet",
            argv=[
                shutil.which("nsenter") or "nsenter",
                f"--mount=/proc/{containerd_pid}/ns/mnt",
                "--",
                self._bin("kubelet"),
                *kubelet_args(self._settings()),
            ],
            state_dir=self.cluster.dir / "run",
            log_dir=_paths.logs_dir(),
            probe=healthy,
            env={"PATH": f"{self.cluster.toolchain.layout.bin}:{os.environ.get('PATH', '')}"},
            ports=(ports.kubelet_healthz,),
            cwd=self.dir,
            ready_timeout=60.0,
        )

    def _services(self) -> list[Service]:
        return [self._containerd(), self._kubelet()]

    def _metrics_server(self) -> Service:
        """metrics-server for this node: the resource metrics API an HPA scales on. It
        listens on the node's bridge address, which the API server reaches (aggregator
        routing: no kube-proxy), and reads only the real node's kubelet."""
        ip, port = self._settings().node_ip, self.cluster.ports.metrics_server
        kubeconfig = str(self.cluster.kubeconfig)

        def ready() -> bool:
            url = f"https://{ip}:{port}/readyz"
            return httpx.get(url, verify=False, timeout=2.0).status_code == 200  # noqa: S501 - its own self-signed serving cert

        return Service(
            name=f"{self.cluster.name}-metrics-server",
            argv=[
                self._bin("metrics-server"),
                f"--bind-address={ip}",
                f"--secure-port={port}",
                f"--cert-dir={self.dir / 'metrics-server'}",
                f"--kubeconfig={kubeconfig}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
                "--kubelet-insecure-tls",
                "--kubelet-preferred-address-types=InternalIP",
                "--kubelet-use-node-status-port",
                "--metric-resolution=15s",
                f"--node-selector={NODE_LABEL}=real",
            ],
            state_dir=self.cluster.dir / "run",
            log_dir=_paths.logs_dir(),
            probe=ready,
            cwd=self.dir,
            ready_timeout=60.0,
        )

    def _register_metrics_api(self) -> None:
        """The APIService ``v1beta1.metrics.k8s.io`` and the selector-less Service and
        Endpoints that point it at this node's metrics-server (replaced when present)."""
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        core = self.cluster._api()
        ip, port = self._settings().node_ip, self.cluster.ports.metrics_server
        meta = client.V1ObjectMeta(name="metrics-server", namespace="kube-system")
        service = client.V1Service(
            metadata=meta,
            spec=client.V1ServiceSpec(ports=[client.V1ServicePort(port=port, target_port=port)]),
        )
        endpoints = client.V1Endpoints(
            metadata=meta,
            subsets=[
                client.V1EndpointSubset(
                    addresses=[client.V1EndpointAddress(ip=ip)],
                    ports=[client.CoreV1EndpointPort(port=port)],
                )
            ],
        )
        apiservice = client.V1APIService(
            metadata=client.V1ObjectMeta(name=METRICS_API),
            spec=client.V1APIServiceSpec(
                group="metrics.k8s.io",
                version="v1beta1",
                group_priority_minimum=100,
                version_priority=100,
                insecure_skip_tls_verify=True,
                service=client.ApiregistrationV1ServiceReference(
                    namespace="kube-system", name="metrics-server", port=port
                ),
            ),
        )
        registration = client.ApiregistrationV1Api(core.api_client)

        def apply(create: Callable[[Any], Any], replace: Callable[[Any], Any], body: Any) -> None:
            try:
                create(body)
            except ApiException as err:
                if err.status != 409:
                    raise
                replace(body)

        apply(
            lambda b: core.create_namespaced_service("kube-system", b),
            lambda b: core.patch_namespaced_service("metrics-server", "kube-system", b),
            service,
        )
        apply(
            lambda b: core.create_namespaced_endpoints("kube-system", b),
            lambda b: core.replace_namespaced_endpoints("metrics-server", "kube-system", b),
            endpoints,
        )
        apply(
            registration.create_api_service,
            lambda b: registration.patch_api_service(METRICS_API, b),
            apiservice,
        )

    def _start_metrics(self, progress: Progress) -> None:
        """metrics-server and its registration. Not fatal: without it only HPAs lack
        metrics, and the warning names the log."""
        service = self._metrics_server()
        try:
            if self._pid(service) is None:
                progress(f"cluster {self.cluster.name}: starting metrics-server")
            service.start()
            self._register_metrics_api()
        except Exception as err:
            progress(
                f"cluster {self.cluster.name}: warning: metrics-server is not available "
                f"({truncate(str(err), 200)}); HorizontalPodAutoscalers get no metrics; "
                f"log {service.log_file}"
            )

    def _settings(self) -> KubeletSettings:
        network = self._network()
        # Before the first up() (status, down) no subnet is chosen yet; any will do there.
        subnet = network[0] if network else _SUBNET_CANDIDATES[0]
        return KubeletSettings(
            node=self.name,
            node_dir=self.dir,
            node_ip=gateway(subnet),
            subnet=subnet,
            port=self.cluster.ports.kubelet,
            healthz_port=self.cluster.ports.kubelet_healthz,
            client_ca=self.cluster.pki.path("ca.crt"),
            cgroup_root=self.cgroup_root,
        )

    def _pid(self, service: Service) -> int | None:
        """The service's pid, forgetting a pid file whose pid is now another program."""
        pid = service.pid()
        # While starting, the pid still runs unshare, sh or nsenter (they exec the daemon).
        if pid is not None and _cmd_name(pid) not in _OWN_COMMANDS:
            with contextlib.suppress(FileNotFoundError):
                service.pid_file.unlink()
            return None
        return pid

    def started(self) -> bool:
        """Whether ``up`` ever started containerd or the kubelet here."""
        names = [s.name for s in self._services()]
        return ever_started(names, self.cluster.dir / "run", _paths.logs_dir())

    # -- network ----------------------------------------------------------------------

    def _network(self) -> tuple[IPv4Network, str] | None:
        try:
            data = json.loads(self._network_file.read_text())
            return IPv4Network(data["subnet"]), str(data["bridge"])
        except (OSError, ValueError, KeyError):
            return None

    def _ensure_network(self) -> IPv4Network:
        """The node's subnet, with its bridge up and holding the gateway address."""
        NET_LOCK.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(NET_LOCK), timeout=60):
            remembered = self._network()
            links = json.loads(_ip("-j", "link", "show") or "[]")
            exists = any(link.get("ifname") == self.bridge for link in links)
            if remembered and exists:
                subnet = remembered[0]
            else:
                if exists:  # a bridge without a record: left by a crash, rebuild it
                    _ip("link", "del", self.bridge)
                subnet = choose_subnet(host_networks(), remembered[0] if remembered else None)
                _ip("link", "add", self.bridge, "type", "bridge")
            addr = f"{gateway(subnet)}/{subnet.prefixlen}"
            if addr not in _ip("-4", "addr", "show", "dev", self.bridge):
                _ip("addr", "add", addr, "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            self.dir.mkdir(parents=True, exist_ok=True)
            self._network_file.write_text(
                json.dumps({"subnet": str(subnet), "bridge": self.bridge}) + "\n"
            )
            return subnet

    def _release_network(self) -> None:
        """Delete leftover veths on the bridge, the bridge, and the subnet record."""
        recorded = self._network()
        bridge = recorded[1] if recorded else self.bridge
        with FileLock(str(NET_LOCK), timeout=60):
            links = json.loads(_ip("-j", "link", "show") or "[]")
            for link in links:
                if link.get("master") == bridge:
                    _run(["ip", "link", "del", link["ifname"]])
            if any(link.get("ifname") == bridge for link in links):
                _ip("link", "del", bridge)
            with contextlib.suppress(FileNotFoundError):
                self._network_file.unlink()

    # -- files ------------------------------------------------------------------------

    def _registry(self) -> RegistryAccess:
        from helm_enterprise.sandbox.chartrepo import ChartRepository

        repo = ChartRepository(self.cluster.toolchain)
        return RegistryAccess(
            port=repo.ports.registry,
            # The sandbox CA alone: containerd reads it on every pull.
            ca_file=repo.ca_file,
            username=repo.username,
            password=repo.password,
        )

    def _write_files(self, subnet: IPv4Network) -> None:
        d = self.dir
        d.mkdir(parents=True, exist_ok=True)
        d.chmod(0o700)
        layout = self.cluster.toolchain.layout
        registry = self._registry()
        write_private(
            d / "containerd.toml",
            containerd_config(d, layout.bin, layout.cni_bin, registry).encode(),
        )
        certs = d / "certs.d" / REGISTRY_HOST
        certs.mkdir(parents=True, exist_ok=True)
        (certs / "hosts.toml").write_text(hosts_toml(registry))
        netd = d / "cni" / "net.d"
        netd.mkdir(parents=True, exist_ok=True)
        (netd / "10-helm-enterprise.conflist").write_text(
            json.dumps(cni_conflist(self.bridge, subnet, d / "cni" / "ipam"), indent=2) + "\n"
        )
        sysctls = " ".join(f"{k}={v}" for k, v in KUBELET_SYSCTLS.items())
        (d / "node-init.sh").write_text(NODE_INIT.format(sysctls=sysctls))
        # Pods get no DNS server: they have no egress, and the sandbox runs no cluster DNS.
        (d / "resolv.conf").write_text("# helm-enterprise sandbox: no DNS for pods\n")
        for sub in ("varlog", "kubelet/pki", "kubelet/pod-logs"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        settings = self._settings()
        (d / "kubelet" / "config.yaml").write_text(
            yaml.safe_dump(kubelet_config(settings), sort_keys=False)
        )
        crt, key = self.cluster.pki.leaf(
            f"kubelet-{self.name}",
            "ca",
            f"system:node:{self.name}",
            orgs=["system:nodes"],
            client=True,
        )
        self.cluster._write_kubeconfig(
            d / "kubelet" / "kubeconfig", f"system:node:{self.name}", crt, key
        )

    # -- cgroups and leftover processes -------------------------------------------------

    def _cgroup_dirs(self) -> list[Path]:
        rel = self.cgroup_root.lstrip("/")
        return [h / rel for h in cgroup_hierarchies()]

    def _make_cgroups(self) -> None:
        """The kubelet refuses a ``cgroupRoot`` that does not exist in every hierarchy."""
        for path in self._cgroup_dirs():
            path.mkdir(exist_ok=True)
            # A new cpuset cgroup has no CPUs or memory nodes until given its parent's.
            for f in ("cpuset.cpus", "cpuset.mems"):
                own, parent = path / f, path.parent / f
                if own.exists() and not own.read_text().strip():
                    own.write_text(parent.read_text())

    def _leftover_pids(self) -> set[int]:
        """Processes of this node: in its mount namespace (shims, containerd, kubelet) or
        in its cgroups (containers, which have namespaces of their own)."""
        pids: set[int] = set()
        try:
            ns = self._mntns_file.read_text().strip()
        except OSError:
            ns = ""
        if ns and ns != _mntns("self"):
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit() and _mntns(entry.name) == ns:
                    pids.add(int(entry.name))
        for top in self._cgroup_dirs():
            for d in _walk_down(top):
                with contextlib.suppress(OSError, ValueError):
                    pids.update(int(p) for p in (d / "cgroup.procs").read_text().split())
        pids.discard(os.getpid())
        return pids

    def _kill_leftovers(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            pids = self._leftover_pids()
            if not pids:
                return
            if time.monotonic() > deadline:
                raise SandboxError(
                    f"real node {self.name}: processes {sorted(pids)[:10]} survive SIGKILL"
                )
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)

    def _remove_cgroups(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        for top in self._cgroup_dirs():
            for d in list(_walk_down(top)):
                while True:
                    try:
                        d.rmdir()
                        break
                    except FileNotFoundError:
                        break
                    except OSError as err:  # EBUSY while a killed task is being reaped
                        if time.monotonic() > deadline:
                            raise SandboxError(
                                f"real node {self.name}: cannot remove cgroup {d}: {err}"
                            ) from err
                        time.sleep(0.2)

    def _stop_pod_sandboxes(self) -> None:
        """``crictl stopp``/``rmp`` every pod sandbox (containerd runs CNI DEL for each)."""
        crictl = self._bin("crictl")
        if not crictl.exists() or not self.socket.exists():
            return
        base: list[str | Path] = [
            crictl,
            f"--runtime-endpoint=unix://{self.socket}",
            f"--image-endpoint=unix://{self.socket}",
            "--timeout=20s",
        ]
        with contextlib.suppress(subprocess.TimeoutExpired, OSError):
            ids = _run([*base, "pods", "-q"], timeout=30).stdout.split()
            if ids:
                _run([*base, "stopp", *ids], timeout=60)
                _run([*base, "rmp", "--force", *ids], timeout=60)

    def _clean(self) -> None:
        """Stop both processes and remove everything they left (after a crash too), except
        the network and the logs."""
        containerd, kubelet = self._services()
        metrics = self._metrics_server()
        self._pid(metrics)
        metrics.stop()
        self._pid(kubelet)
        kubelet.stop()
        if self._pid(containerd) is not None:
            self._stop_pod_sandboxes()
        containerd.stop()
        self._kill_leftovers()
        self._remove_cgroups()
        with contextlib.suppress(FileNotFoundError):
            self._mntns_file.unlink()
        # Sandboxes, containers and IP leases of dead pods: the kubelet recreates the pods
        # from the API when the node starts again.
        for sub in ("ctd", "cni/ipam", "varlog"):
            shutil.rmtree(self.dir / sub, ignore_errors=True)

    # -- images -----------------------------------------------------------------------

    def _ctr(self, *args: str, timeout: float = 120) -> str:
        proc = _run([self._bin("ctr"), "-a", self.socket, "-n", CRI_NAMESPACE, *args], timeout)
        if proc.returncode != 0:
            raise SandboxError(
                f"real node {self.name}: `ctr {' '.join(args[:2])}` failed: "
                f"{truncate(proc.stderr.strip(), 400)}"
            )
        return proc.stdout

    def _import_pause(self) -> None:
        """Import the pause image (the CRI sandbox image) from the toolchain's OCI layout."""
        if PAUSE_IMAGE in self._ctr("images", "ls", "-q").split():
            return
        image = workload_images(self.cluster.toolchain)["pause"]
        self._ctr("images", "import", str(image.archive))
        if PAUSE_IMAGE not in self._ctr("images", "ls", "-q").split():
            raise SandboxError(
                f"real node {self.name}: importing {image.archive} left no image named "
                f"{PAUSE_IMAGE}"
            )

    # -- lifecycle --------------------------------------------------------------------

    def up(self, progress: Progress = print) -> None:
        """Start what is not running and wait until the Node is Ready.

        A containerd that died takes its pods' state with it: everything it left is
        cleaned up first and the kubelet restarts with it (it recreates the pods). Raises
        :class:`SandboxError` naming containerd or the kubelet and its log.
        """
        for binary in _BINARIES:
            self.cluster.toolchain.path(binary)
        for plugin in _CNI_PLUGINS:
            if not (self.cluster.toolchain.layout.cni_bin / plugin).exists():
                raise SandboxError(
                    f"CNI plugin {plugin!r} is missing from "
                    f"{self.cluster.toolchain.layout.cni_bin}; run `helm-enterprise sandbox "
                    "toolchain`"
                )
        containerd = self._containerd()
        pid = self._pid(containerd)
        if pid is None:
            if self.started():
                self._clean()
            subnet = self._ensure_network()
            self._write_files(subnet)
            self._make_cgroups()
            progress(f"cluster {self.cluster.name}: starting containerd (real node {self.name})")
            containerd.start()
            pid = self._pid(containerd)
            ns = _mntns(pid) if pid else None
            if pid is None or ns is None or ns == _mntns("self"):
                raise SandboxError(
                    f"real node {self.name}: containerd did not start in its own mount "
                    f"namespace; log {containerd.log_file}, tail:\n{tail(containerd.log_file)}",
                    log_path=containerd.log_file,
                )
            self._mntns_file.write_text(ns + "\n")
        else:
            subnet = self._ensure_network()
            self._write_files(subnet)
            self._make_cgroups()
        self._import_pause()
        kubelet = self._kubelet(pid)
        kpid = self._pid(kubelet)
        if kpid is not None and _mntns(kpid) != _mntns(pid):
            kubelet.stop()  # it runs in the namespace of a containerd that is gone
        if self._pid(kubelet) is None:
            progress(f"cluster {self.cluster.name}: starting kubelet (real node {self.name})")
        kubelet.start()
        self._wait_ready(progress)
        self._start_metrics(progress)

    def _wait_ready(self, progress: Progress, timeout: float = 120.0) -> None:
        api = self.cluster._api()
        deadline = time.monotonic() + timeout
        problem = "not registered yet"
        while time.monotonic() < deadline:
            try:
                node = api.read_node(self.name, _request_timeout=10)
                conds = {c.type: c for c in (node.status.conditions or [])}
                ready = conds.get("Ready")
                if ready is not None and ready.status == "True":
                    progress(f"cluster {self.cluster.name}: real node {self.name} Ready")
                    return
                problem = f"{ready.reason}: {ready.message}" if ready else "no Ready condition"
            except Exception as err:  # not registered yet, API busy: "not yet"
                problem = truncate(f"{type(err).__name__}: {err}", 200)
            containerd, kubelet = self._services()
            for svc in (containerd, kubelet):
                if self._pid(svc) is None:
                    self._fail(svc, "exited")
            time.sleep(0.5)
        self._fail(
            self._services()[1], f"did not make the Node Ready in {timeout:.0f}s ({problem})"
        )

    def _component(self, service: Service) -> str:
        return service.name.removeprefix(f"{self.cluster.name}-")

    def _fail(self, service: Service, what: str) -> None:
        component = self._component(service)
        raise SandboxError(
            f"cluster {self.cluster.name}: real node {self.name}: {component} {what}; "
            f"log {service.log_file}, tail:\n{tail(service.log_file, 15)}",
            log_path=service.log_file,
        )

    def down(self) -> None:
        """Stop the kubelet, every pod sandbox, container and shim, and containerd; remove
        the node's cgroups, veths and bridge, and release its subnet. Works after a crash
        (pid files, the recorded mount namespace and the cgroup root find everything) and
        when already down. The Node and its Pods stay in the API: the next ``up`` resumes
        them."""
        self._clean()
        self._release_network()

    def status(self) -> list[dict[str, Any]]:
        """containerd and kubelet (as every service) plus a ``real-node`` row: Ready and the
        number of Pods bound to the Node."""
        if not self.started():
            return [
                {**not_started(s.name), "component": self._component(s), "port": None}
                for s in self._services()
            ]
        rows = []
        for service in self._services():
            self._pid(service)
            entry: dict[str, Any] = dict(service.describe())
            entry["component"] = self._component(service)
            entry["port"] = service.ports[0] if service.ports else None
            rows.append(entry)
        state, ready, pods = "unknown", False, None
        with contextlib.suppress(Exception):
            api = self.cluster._api()
            node = api.read_node(self.name, _request_timeout=5)
            conds = {c.type: c.status for c in (node.status.conditions or [])}
            ready = conds.get("Ready") == "True"
            pods = len(
                api.list_pod_for_all_namespaces(
                    field_selector=f"spec.nodeName={self.name}", _request_timeout=5
                ).items
            )
            state = f"{'Ready' if ready else 'NotReady'}, {pods} pods"
        rows.append(
            {
                "name": self.name,
                "component": "real-node",
                "pid": None,
                "running": ready,
                "ready": ready,
                "state": state,
                "pods": pods,
                "log": str(rows[1]["log"]),
                "port": None,
            }
        )
        return rows


# -- workload images --------------------------------------------------------------------------


def _manifest_digest(
    client: httpx.Client, registry: RegistryAccess, repository: str, tag: str
) -> str | None:
    resp = client.head(
        f"https://{registry.host}/v2/{repository}/manifests/{tag}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    return resp.headers.get("Docker-Content-Digest") if resp.status_code == 200 else None


def publish_images(toolchain: Toolchain, progress: Progress = print) -> None:
    """Push the toolchain's workload images named ``REGISTRY_HOST/...`` to the sandbox
    registry (which must be up), skipping those whose manifest is already there. The pause
    image is not pushed: every node imports it (:meth:`RealNode.up`)."""
    from helm_enterprise.sandbox.chartrepo import ChartRepository

    repo = ChartRepository(toolchain)
    registry = RegistryAccess(repo.ports.registry, repo.ca_file, repo.username, repo.password)
    ctx = ssl.create_default_context(cafile=str(registry.ca_file))
    auth = httpx.BasicAuth(registry.username, registry.password)
    for image in workload_images(toolchain).values():
        if not image.name.startswith(f"{REGISTRY_HOST}/"):
            continue
        repository = image.name.removeprefix(f"{REGISTRY_HOST}/")
        try:
            with httpx.Client(auth=auth, verify=ctx, timeout=10) as client:
                present = _manifest_digest(client, registry, repository, image.tag)
        except httpx.HTTPError as err:
            raise SandboxError(
                f"the sandbox registry {registry.host} cannot be reached: {type(err).__name__}"
            ) from err
        if present == image.digest:
            continue
        progress(f"registry: pushing {image.reference}")
        push(
            image,
            registry.host,
            repository,
            image.tag,
            registry.username,
            registry.password,
            registry.ca_file,
        )
