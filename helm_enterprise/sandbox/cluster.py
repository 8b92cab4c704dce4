"""A real local Kubernetes cluster without a container runtime.

:class:`Cluster` runs etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok
as detached :class:`~helm_enterprise.sandbox._process.Service` processes on loopback ports.
kwok plays the kubelet for a few fake Nodes: the scheduler binds Pods to them, kwok marks
them Running and Ready, so Deployments, Jobs and Helm's ``--wait`` behave as on a real
cluster while no container ever starts (images are never pulled).

What is real and therefore testable: authentication by client certificates signed by the
cluster CA, RBAC and Node authorization, admission (PodSecurity, ResourceQuota, LimitRanger,
ServiceAccount, webhooks), every built-in controller that does not need a cloud, service
account tokens (TokenRequest, signed with the cluster's own key) and API discovery.

Layout (``<sandbox>/state/cluster-<name>/``)::

    pki/          cluster CA, etcd CA (separate: no tenant certificate can reach etcd),
                  front-proxy CA (aggregation layer),
                  serving and client certificates, service-account signing key
    etcd/         etcd data (kept by ``down()``, removed by ``down(purge=True)``)
    run/          pid files and other files of running processes (removed by ``down()``)
    users/        kubeconfigs made by :meth:`Cluster.user_kubeconfig`
    *.kubeconfig  admin (system:masters) and one per control-plane component

Logs go to ``<sandbox>/logs/<cluster>-<component>.log``. Ports come from
:class:`~helm_enterprise.sandbox._paths.ClusterPorts` (cluster *index* picks the block), so
several clusters (the multi-cluster tests use two) run side by side.

Choices that differ from a production cluster, and why:

* etcd runs with ``--unsafe-no-fsync``: the data is disposable and fsync on a busy 2-core
  machine dominates apiserver latency. It still uses TLS with client-certificate auth.
* The API server advertises 127.0.0.1 and does not maintain the Endpoints of the
  ``kubernetes`` Service (they may not be loopback); nothing in the cluster dials it, as no
  Pod really runs.
* The controller-manager and scheduler run without leader election (one replica each).
* kwok authenticates as a member of ``system:masters``: it updates status and leases for
  every Node and Pod, which no narrower built-in role (``system:node`` is per node) allows.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import re
import shutil
import ssl
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from filelock import FileLock
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from helm_enterprise.errors import ConfigError, SandboxError
from helm_enterprise.sandbox import _paths
from helm_enterprise.sandbox._pki import Pki, key_pem, write_private
from helm_enterprise.sandbox._process import Service, ever_started, not_started, tail
from helm_enterprise.sandbox.node import RealNode, unavailable_reason
from helm_enterprise.sandbox.toolchain import Toolchain

__all__ = ["Cluster"]

SERVICE_CIDR = "10.96.0.0/16"
_SERVICE_IP = "10.96.0.1"  # first address of SERVICE_CIDR: the `kubernetes` Service
POD_CIDR = "10.244.0.0/16"
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"
NODE_COUNT = 2
NODE_CAPACITY = {"cpu": "32", "memory": "64Gi", "pods": "110"}
# Controllers that need a cloud provider; "*" would otherwise list them and log that they
# are skipped. bootstrap-signer and token-cleaner are already off under "*".
_CLOUD_CONTROLLERS = (
    "cloud-node-lifecycle-controller",
    "node-route-controller",
    "service-lb-controller",
)
_KWOK_STAGES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
)
# Pods carrying this annotation are never made Ready: how tests provoke a readiness failure
# (and Helm's atomic rollback) in a cluster with no container runtime.
NEVER_READY_ANNOTATION = "sandbox.helm-enterprise.io/never-ready"
# Pods carrying this annotation (a Go duration, e.g. "40s") are made Ready only that long
# after kwok first sees them scheduled: a slow rollout, for tests that act while Helm waits.
READY_AFTER_ANNOTATION = "sandbox.helm-enterprise.io/ready-after"
# What a kubelet does when its node is reachable again: the node-lifecycle controller marks
# the Pods of an unreachable node not Ready, and the kubelet's status sync reports them Ready
# again. kwok's pod-ready stage only handles Pending Pods, so without this stage a Pod
# running through an API server outage of more than the controller's grace period (50s)
# would stay not Ready for good.
_READY_AGAIN = """
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-ready-again
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - {key: .metadata.deletionTimestamp, operator: DoesNotExist}
    - {key: .status.phase, operator: In, values: [Running]}
    - key: .status.conditions.[] | select( .type == "Ready" ) | .status
      operator: NotIn
      values: ["True"]
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - {lastTransitionTime: {{ $now | Quote }}, status: "True", type: Initialized}
      - {lastTransitionTime: {{ $now | Quote }}, status: "True", type: Ready}
      - {lastTransitionTime: {{ $now | Quote }}, status: "True", type: ContainersReady}
      {{ range .spec.readinessGates }}
      - {lastTransitionTime: {{ $now | Quote }}, status: "True", type: {{ .conditionType | Quote }}}
      {{ end }}
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        restartCount: 0
        state: {running: {startedAt: {{ $now | Quote }}}}
      {{ end }}
"""
_BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
# The processes, in start order; each runs the binary of the same name (see _services).
_COMPONENTS = _BINARIES
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$")
Progress = Callable[[str], None]


class _NotYet(Exception):
    """Raised inside a wait loop while the awaited condition does not hold yet."""


# -- PKI ------------------------------------------------------------------------------------

# Every local client dials 127.0.0.1; in-cluster names of the `kubernetes` Service are added
# so certificates also verify for tools that use the Service's DNS names.
_APISERVER_DNS = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)
_APISERVER_IPS = ("127.0.0.1", "::1", _SERVICE_IP)


def _signing_key(pki: Pki) -> tuple[Path, Path]:
    """The service-account token signing key pair (``sa.key``, ``sa.pub``), made once."""
    priv, pub = pki.path("sa.key"), pki.path("sa.pub")
    if not (priv.exists() and pub.exists()):
        key = ec.generate_private_key(ec.SECP256R1())
        write_private(priv, key_pem(key))
        pub.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return priv, pub


def _ssl_context(ca: Path, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca))
    if cert is not None and key is not None:
        ctx.load_cert_chain(str(cert), str(key))
    return ctx


def _https_ok(url: str, ctx: ssl.SSLContext, expect: str | None = None) -> bool:
    resp = httpx.get(url, verify=ctx, timeout=3.0)
    return resp.status_code == 200 and (expect is None or expect in resp.text)


def _ephemeral_clash(ports: Sequence[int]) -> str | None:
    """Explain when ``ports`` lie in the kernel's ephemeral (outgoing) port range.

    Outgoing connections take their local port from that range; one that happens to hold a
    sandbox port (the apiserver opens dozens to etcd) makes a later listener fail with
    "address already in use" although nothing listens there.
    """
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        return None
    inside = [p for p in ports if low <= p <= high]
    if not inside:
        return None
    return (
        f"ports {inside[0]}..{inside[-1]} are inside the ephemeral port range {low}-{high}; "
        "a component may fail with 'address already in use'. Set "
        f"HELM_ENTERPRISE_SANDBOX_PORT_BASE below {low - 1100}"
    )


def _forget_foreign_pid(service: Service) -> None:
    """Drop a pid file whose pid now belongs to another program (pid reuse after a reboot).

    Without this, ``down()`` after a reboot could signal an unrelated process group.
    """
    pid = service.pid()
    if pid is None:
        return
    try:
        exe = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0].decode()
    except OSError:
        return
    if exe != str(service.argv[0]):
        with contextlib.suppress(FileNotFoundError):
            service.pid_file.unlink()


# -- the cluster ----------------------------------------------------------------------------


class Cluster:
    """One local cluster: etcd, kube-apiserver, controller-manager, scheduler, kwok, Nodes.

    ``name`` (a DNS label, at most 32 characters) names the state dir, the log files and
    the Nodes (``<name>-node-0`` ...); ``index`` picks the port block
    (:meth:`ClusterPorts.for_index`); ``toolchain`` provides the binaries (families
    ``etcd``, ``kubernetes`` and ``kwok``). Constructing a Cluster starts nothing.

    Raises :class:`ConfigError` for an invalid name.
    """

    def __init__(self, name: str, index: int, toolchain: Toolchain) -> None:
        if not _NAME.match(name):
            raise ConfigError(
                f"invalid cluster name {name!r}",
                path="name",
                hint="use lowercase letters, digits and '-', at most 32 characters",
            )
        self.name = name
        self.index = index
        self.toolchain = toolchain
        self.dir = _paths.state_dir(f"cluster-{name}")
        self.pki = Pki(self.dir / "pki", f"cluster-{name}")
        self._run = self.dir / "run"
        self._lock = FileLock(str(self.dir.parent / f".cluster-{name}.lock"))

    # -- public properties -----------------------------------------------------------------

    @functools.cached_property
    def ports(self) -> _paths.ClusterPorts:
        """The cluster's loopback ports (from the sandbox port base)."""
        return _paths.ClusterPorts.for_index(self.index)

    @property
    def server(self) -> str:
        """The API server URL (``https://127.0.0.1:<port>``)."""
        return f"https://127.0.0.1:{self.ports.apiserver}"

    @property
    def kubeconfig(self) -> Path:
        """Admin kubeconfig (a client certificate in ``system:masters``); written by up()."""
        return self.dir / "admin.kubeconfig"

    @property
    def node_names(self) -> list[str]:
        """Names of the fake Nodes ``up()`` creates."""
        return [f"{self.name}-node-{i}" for i in range(NODE_COUNT)]

    @functools.cached_property
    def real_node(self) -> RealNode:
        """The cluster's real node (``<name>-real-0``); see :mod:`.node`."""
        return RealNode(self)

    @property
    def real_node_problem(self) -> str | None:
        """Why this cluster runs without a real node (kwok's fake nodes only), or ``None``."""
        return unavailable_reason()

    @property
    def real_node_available(self) -> bool:
        """Whether ``up()`` starts a real node (root, overlayfs, mount namespaces, and not
        turned off with ``HELM_ENTERPRISE_SANDBOX_REAL_NODES=0``)."""
        return self.real_node_problem is None

    # -- lifecycle ------------------------------------------------------------------------

    def up(self, progress: Progress = print) -> None:
        """Start whatever is not running, then wait until the cluster is usable.

        Usable means: every component passes its health check, the Nodes exist, are Ready
        and untainted, and the ``default`` namespace has its ServiceAccount and the
        ``kube-root-ca.crt`` ConfigMap (Pods are rejected or stuck without them). Calling it
        on a running cluster only re-checks. Raises :class:`SandboxError` naming the
        component that failed, with the tail of its log, and :class:`ToolchainError` when a
        binary is missing.
        """
        for binary in _BINARIES:
            self.toolchain.path(binary)
        with self._lock:
            clash = _ephemeral_clash(self.ports.all())
            if clash:
                progress(f"cluster {self.name}: warning: {clash}")
            self._write_pki_and_kubeconfigs()
            for service in self._services():
                _forget_foreign_pid(service)
                if not service.running():
                    progress(f"cluster {self.name}: starting {self._component(service)}")
                service.start()
            self._ensure_nodes(progress)
            self._wait_usable(progress)
            problem = self.real_node_problem
            if problem is None:
                self.real_node.up(progress)
            else:
                progress(
                    f"cluster {self.name}: warning: no real node ({problem}); "
                    "pods run on kwok's fake nodes only"
                )
            progress(f"cluster {self.name}: ready at {self.server}")

    def down(self, purge: bool = False) -> None:
        """Stop every process of the cluster (found by pid file, also after a crash).

        Removes the runtime files; with ``purge`` also the certificates, kubeconfigs and
        etcd data, so the next ``up()`` starts an empty cluster. Logs are kept. A cluster
        that never started is already down (nothing is read, written or locked).
        """
        if not self.started():
            if purge:
                shutil.rmtree(self.dir, ignore_errors=True)
            return
        with self._lock:
            if self.real_node.started():
                self.real_node.down()
            for service in reversed(self._services()):
                _forget_foreign_pid(service)
                service.stop()
            shutil.rmtree(self._run, ignore_errors=True)
            if purge:
                shutil.rmtree(self.dir, ignore_errors=True)

    @contextlib.contextmanager
    def outage(
        self, component: str = "kube-apiserver", progress: Progress = print
    ) -> Iterator[None]:
        """Stop one component (default: the API server) for the duration of the block,
        then restart it and wait until the cluster is usable again — also when the block
        raises. For failure tests; keep the block short, other tests may share the cluster.

        After an etcd or API server outage the API's clients (controller-manager,
        scheduler, kwok) restart with it: they back off while the API is away (after a
        one-minute outage the controller-manager's informers stayed stale for over 40s;
        kwok's retries back off up to 32 minutes), so a cluster that answers again would
        still leave ReplicaSet status, scheduling and Pod readiness stale. Fresh clients
        read every object anew, as kubelets and controllers do once they reconnect.

        Raises :class:`SandboxError` for an unknown component.
        """
        services = {self._component(s): s for s in self._services()}
        if component not in services:
            known = ", ".join(services)
            raise SandboxError(
                f"cluster {self.name} has no component {component!r}; known: {known}"
            )
        with self._lock:
            services[component].stop()
        try:
            yield
        finally:
            if component in ("etcd", "kube-apiserver"):
                with self._lock:
                    for client in ("kube-controller-manager", "kube-scheduler", "kwok"):
                        services[client].stop()
            self.up(progress)

    def started(self) -> bool:
        """Whether ``up`` ever started a process of this cluster (:func:`ever_started`)."""
        names = [f"{self.name}-{c}" for c in _COMPONENTS]
        return ever_started(names, self._run, _paths.logs_dir())

    def status(self) -> list[dict[str, Any]]:
        """One entry per component: name, pid, running, ready, state, log, component, port
        (``state`` is ``not started`` when the cluster never ran here)."""
        if not self.started():
            return [
                {**not_started(f"{self.name}-{c}"), "component": c, "port": None}
                for c in _COMPONENTS
            ] + self.real_node.status()
        out: list[dict[str, Any]] = []
        for service in self._services():
            entry: dict[str, Any] = dict(service.describe())
            entry["component"] = self._component(service)
            entry["port"] = service.ports[0] if service.ports else None
            out.append(entry)
        return out + self.real_node.status()

    def user_kubeconfig(self, user: str, groups: list[str]) -> Path:
        """A kubeconfig authenticating as ``user`` in ``groups`` (for RBAC tests of tenants).

        The client certificate is signed by the cluster CA (CN=user, O=each group) and is
        re-issued on every call, so changed groups take effect. The cluster must have been
        ``up()`` once (the CA must exist). Raises :class:`ConfigError` for an empty user
        name and :class:`SandboxError` when the cluster has no CA yet.
        """
        if not user or user != user.strip():
            raise ConfigError(f"invalid user name {user!r}", path="user")
        if not self.pki.path("ca.crt").exists():
            raise SandboxError(f"cluster {self.name} has no CA yet; call up() first")
        users = self.dir / "users"
        users.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^A-Za-z0-9_.-]", "_", user)
        crt, key = self.pki.leaf(f"user-{slug}", "ca", user, orgs=groups, client=True, force=True)
        path = users / f"{slug}.kubeconfig"
        self._write_kubeconfig(path, user, crt, key)
        return path

    # -- services -------------------------------------------------------------------------

    def _component(self, service: Service) -> str:
        return service.name.removeprefix(f"{self.name}-")

    def _service(
        self,
        component: str,
        binary: str,
        args: list[str],
        *,
        probe: Callable[[], bool],
        ports: Sequence[int],
        timeout: float = 90.0,
    ) -> Service:
        return Service(
            name=f"{self.name}-{component}",
            # Not toolchain.path(): down() and status() must work when binaries are gone.
            argv=[str(self.toolchain.layout.bin / binary), *args],
            state_dir=self._run,
            log_dir=_paths.logs_dir(),
            probe=probe,
            ports=ports,
            ready_timeout=timeout,
            cwd=self.dir,
        )

    def _services(self) -> list[Service]:
        """The processes in start order (stopped in reverse)."""
        p, pki, ports = self.pki.path, self.pki, self.ports
        etcd_url = f"https://127.0.0.1:{ports.etcd_client}"
        peer_url = f"https://127.0.0.1:{ports.etcd_peer}"

        # TLS contexts are built per probe: the PKI may not exist when the list is made.
        def etcd_ctx() -> ssl.SSLContext:
            return _ssl_context(
                p("etcd-ca.crt"), p("apiserver-etcd-client.crt"), p("apiserver-etcd-client.key")
            )

        def admin_ctx() -> ssl.SSLContext:
            return _ssl_context(p("ca.crt"), p("admin.crt"), p("admin.key"))

        def ca_ctx() -> ssl.SSLContext:
            return _ssl_context(p("ca.crt"))

        def kwok_ok() -> bool:
            return (
                httpx.get(f"http://127.0.0.1:{ports.kwok}/healthz", timeout=3.0).status_code == 200
            )

        etcd = self._service(
            "etcd",
            "etcd",
            [
                f"--name={self.name}",
                f"--data-dir={self.dir / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster={self.name}={peer_url}",
                f"--initial-cluster-token=helm-enterprise-{self.name}",
                f"--cert-file={p('etcd-server.crt')}",
                f"--key-file={p('etcd-server.key')}",
                f"--trusted-ca-file={p('etcd-ca.crt')}",
                "--client-cert-auth",
                f"--peer-cert-file={p('etcd-server.crt')}",
                f"--peer-key-file={p('etcd-server.key')}",
                f"--peer-trusted-ca-file={p('etcd-ca.crt')}",
                "--peer-client-cert-auth",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
            probe=lambda: _https_ok(f"{etcd_url}/health", etcd_ctx(), '"health":"true"'),
            ports=(ports.etcd_client, ports.etcd_peer),
        )
        sa_key, sa_pub = pki.path("sa.key"), pki.path("sa.pub")
        apiserver = self._service(
            "kube-apiserver",
            "kube-apiserver",
            [
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                # Endpoints may not hold loopback addresses, so the default reconciler would
                # fail every 10s; nothing in a kwok cluster dials the `kubernetes` Service.
                "--endpoint-reconciler-type=none",
                f"--secure-port={ports.apiserver}",
                f"--cert-dir={self._run / 'apiserver'}",
                f"--etcd-servers={etcd_url}",
                f"--etcd-cafile={p('etcd-ca.crt')}",
                f"--etcd-certfile={p('apiserver-etcd-client.crt')}",
                f"--etcd-keyfile={p('apiserver-etcd-client.key')}",
                f"--tls-cert-file={p('apiserver.crt')}",
                f"--tls-private-key-file={p('apiserver.key')}",
                f"--client-ca-file={p('ca.crt')}",
                # Front-proxy (aggregation layer) credentials: without them the
                # extension-apiserver-authentication ConfigMap lacks the request-header CA
                # and every delegating component (scheduler, controller-manager, aggregated
                # APIs) logs an error per second.
                f"--requestheader-client-ca-file={p('front-proxy-ca.crt')}",
                "--requestheader-allowed-names=front-proxy-client",
                "--requestheader-username-headers=X-Remote-User",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                f"--proxy-client-cert-file={p('front-proxy-client.crt')}",
                f"--proxy-client-key-file={p('front-proxy-client.key')}",
                "--authorization-mode=Node,RBAC",
                # Aggregated APIs (metrics-server) are reached at their endpoints' addresses:
                # the sandbox runs no kube-proxy to route a Service's cluster IP.
                "--enable-aggregator-routing=true",
                # The real node's kubelet: dialled at its bridge address (its name does not
                # resolve), with a client certificate its Webhook authorizer accepts.
                "--kubelet-preferred-address-types=InternalIP",
                f"--kubelet-client-certificate={p('apiserver-kubelet-client.crt')}",
                f"--kubelet-client-key={p('apiserver-kubelet-client.key')}",
                # Added to the default-enabled plugins (which include these two already in
                # 1.34; named so the tests' assumptions are visible and version-proof).
                "--enable-admission-plugins=NodeRestriction,PodSecurity,ResourceQuota",
                # Privileged Pods are allowed by the server so that PodSecurity, not this
                # flag, is what rejects them in restricted namespaces.
                "--allow-privileged=true",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                f"--service-account-issuer={SA_ISSUER}",
                f"--service-account-key-file={sa_pub}",
                f"--service-account-signing-key-file={sa_key}",
                "--profiling=false",
            ],
            probe=lambda: _https_ok(f"{self.server}/readyz", admin_ctx(), "ok"),
            ports=(ports.apiserver,),
            timeout=240.0,
        )
        kcm_kc = str(self.dir / "kube-controller-manager.kubeconfig")
        kcm = self._service(
            "kube-controller-manager",
            "kube-controller-manager",
            [
                f"--kubeconfig={kcm_kc}",
                f"--authentication-kubeconfig={kcm_kc}",
                f"--authorization-kubeconfig={kcm_kc}",
                "--bind-address=127.0.0.1",
                f"--secure-port={ports.controller_manager}",
                f"--tls-cert-file={p('kube-controller-manager-serving.crt')}",
                f"--tls-private-key-file={p('kube-controller-manager-serving.key')}",
                f"--client-ca-file={p('ca.crt')}",
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={sa_key}",
                f"--root-ca-file={p('ca.crt')}",
                f"--cluster-signing-cert-file={p('ca.crt')}",
                f"--cluster-signing-key-file={p('ca.key')}",
                f"--cluster-name={self.name}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--controllers=" + ",".join(["*", *(f"-{c}" for c in _CLOUD_CONTROLLERS)]),
                "--leader-elect=false",
            ],
            probe=lambda: _https_ok(
                f"https://127.0.0.1:{ports.controller_manager}/healthz", ca_ctx()
            ),
            ports=(ports.controller_manager,),
        )
        sched_kc = str(self.dir / "kube-scheduler.kubeconfig")
        scheduler = self._service(
            "kube-scheduler",
            "kube-scheduler",
            [
                f"--kubeconfig={sched_kc}",
                f"--authentication-kubeconfig={sched_kc}",
                f"--authorization-kubeconfig={sched_kc}",
                "--bind-address=127.0.0.1",
                f"--secure-port={ports.scheduler}",
                f"--tls-cert-file={p('kube-scheduler-serving.crt')}",
                f"--tls-private-key-file={p('kube-scheduler-serving.key')}",
                f"--client-ca-file={p('ca.crt')}",
                "--leader-elect=false",
            ],
            probe=lambda: _https_ok(f"https://127.0.0.1:{ports.scheduler}/healthz", ca_ctx()),
            ports=(ports.scheduler,),
        )
        stages = self.toolchain.layout.root / "kwok-stages"
        kwok = self._service(
            "kwok",
            "kwok",
            [
                f"--kubeconfig={self.dir / 'kwok.kubeconfig'}",
                # Only the fake Nodes (created with this annotation); the real node has a
                # kubelet of its own.
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                *(f"--config={self._stage(stages, s)}" for s in _KWOK_STAGES),
                f"--server-address=127.0.0.1:{ports.kwok}",
                # Heartbeats as Leases every ~10s; full Node status only every ~10 minutes
                # (kwokctl's default): far less apiserver load than status heartbeats.
                "--node-lease-duration-seconds=40",
                f"--cidr={POD_CIDR}",
            ],
            probe=kwok_ok,
            ports=(ports.kwok,),
        )
        return [etcd, apiserver, kcm, scheduler, kwok]

    # -- files ----------------------------------------------------------------------------

    def _write_pki_and_kubeconfigs(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._run.mkdir(parents=True, exist_ok=True)
        pki = self.pki
        pki.ensure_dir()
        pki.ca("ca")
        pki.ca("etcd-ca")
        pki.ca("front-proxy-ca")
        pki.leaf("front-proxy-client", "front-proxy-ca", "front-proxy-client", client=True)
        _signing_key(pki)
        pki.leaf("etcd-server", "etcd-ca", "etcd", server=True, client=True)
        pki.leaf("apiserver-etcd-client", "etcd-ca", "kube-apiserver-etcd-client", client=True)
        pki.leaf(
            "apiserver-kubelet-client",
            "ca",
            "kube-apiserver-kubelet-client",
            orgs=["system:masters"],
            client=True,
        )
        pki.leaf(
            "apiserver", "ca", "kube-apiserver", server=True, dns=_APISERVER_DNS, ips=_APISERVER_IPS
        )
        pki.leaf("kube-controller-manager-serving", "ca", "kube-controller-manager", server=True)
        pki.leaf("kube-scheduler-serving", "ca", "kube-scheduler", server=True)
        clients = {
            "admin": ("helm-enterprise-admin", ["system:masters"]),
            "kube-controller-manager": ("system:kube-controller-manager", []),
            "kube-scheduler": ("system:kube-scheduler", []),
            "kwok": ("system:kwok", ["system:masters"]),
        }
        for name, (cn, orgs) in clients.items():
            crt, key = pki.leaf(name, "ca", cn, orgs=orgs, client=True)
            self._write_kubeconfig(self.dir / f"{name}.kubeconfig", cn, crt, key)

    def _write_kubeconfig(self, path: Path, user: str, crt: Path, key: Path) -> None:
        """A self-contained kubeconfig (certificates embedded), mode 0600."""

        def b64(p: Path) -> str:
            return base64.b64encode(p.read_bytes()).decode()

        context = f"sandbox-{self.name}"
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": context,
                    "cluster": {
                        "server": self.server,
                        "certificate-authority-data": b64(self.pki.path("ca.crt")),
                    },
                }
            ],
            "users": [
                {
                    "name": user,
                    "user": {"client-certificate-data": b64(crt), "client-key-data": b64(key)},
                }
            ],
            "contexts": [{"name": context, "context": {"cluster": context, "user": user}}],
            "current-context": context,
        }
        write_private(path, yaml.safe_dump(doc, sort_keys=False).encode())

    # -- API objects and readiness ----------------------------------------------------------

    def _api(self) -> Any:
        """A CoreV1Api of the official client, as admin (certificate files, no temp files)."""
        from kubernetes import client

        cfg = client.Configuration()
        cfg.host = self.server
        cfg.ssl_ca_cert = str(self.pki.path("ca.crt"))
        cfg.cert_file = str(self.pki.path("admin.crt"))
        cfg.key_file = str(self.pki.path("admin.key"))
        return client.CoreV1Api(client.ApiClient(cfg))

    def _node_manifest(self, name: str) -> dict[str, Any]:
        # Labels and annotations as kwok's documentation gives them for fake Nodes; no
        # taints, so ordinary workloads schedule without tolerations.
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {"node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake"},
                "labels": {
                    "beta.kubernetes.io/arch": "amd64",
                    "beta.kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/role": "agent",
                    "node-role.kubernetes.io/agent": "",
                    "type": "kwok",
                },
            },
            "spec": {},
            "status": {
                "allocatable": dict(NODE_CAPACITY),
                "capacity": dict(NODE_CAPACITY),
                # Empty fields are filled in by kwok's node-initialize stage (kwok version
                # strings); they are listed because the Python client requires every one.
                "nodeInfo": {
                    "architecture": "amd64",
                    "operatingSystem": "linux",
                    **dict.fromkeys(
                        (
                            "bootID",
                            "containerRuntimeVersion",
                            "kernelVersion",
                            "kubeProxyVersion",
                            "kubeletVersion",
                            "machineID",
                            "osImage",
                            "systemUUID",
                        ),
                        "",
                    ),
                },
                "phase": "Running",
            },
        }

    def _ensure_nodes(self, progress: Progress) -> None:
        from kubernetes.client.exceptions import ApiException

        api = self._api()
        existing = {n.metadata.name for n in api.list_node(_request_timeout=10).items}
        for name in self.node_names:
            if name in existing:
                continue
            progress(f"cluster {self.name}: creating fake node {name}")
            try:
                api.create_node(self._node_manifest(name), _request_timeout=10)
            except ApiException as err:
                if err.status != 409:
                    raise SandboxError(
                        f"cluster {self.name}: creating node {name} failed: "
                        f"{err.status} {err.reason}"
                    ) from err

    def _wait_usable(self, progress: Progress, timeout: float = 120.0) -> None:
        api = self._api()

        def nodes_ready() -> str | None:
            nodes = {n.metadata.name: n for n in api.list_node(_request_timeout=10).items}
            for name in self.node_names:
                node = nodes.get(name)
                if node is None:
                    return f"node {name} is missing"
                conds = {c.type: c.status for c in (node.status.conditions or [])}
                if conds.get("Ready") != "True":
                    return f"node {name} is not Ready"
                taints = [t.key for t in (node.spec.taints or [])]
                if taints:
                    return f"node {name} still has taints {taints}"
            return None

        def namespace_ready() -> str | None:
            accounts = api.list_namespaced_service_account("default", _request_timeout=10)
            if "default" not in {sa.metadata.name for sa in accounts.items}:
                return "the default ServiceAccount does not exist yet"
            maps = api.list_namespaced_config_map("default", _request_timeout=10)
            if "kube-root-ca.crt" not in {cm.metadata.name for cm in maps.items}:
                return "the kube-root-ca.crt ConfigMap does not exist yet"
            return None

        # A Node stays NotReady or tainted when kwok or the node-lifecycle controller is
        # missing; the namespace objects come from the controller-manager.
        checks: list[tuple[str, Callable[[], str | None], tuple[str, ...]]] = [
            ("nodes", nodes_ready, ("kwok", "kube-controller-manager")),
            ("default namespace", namespace_ready, ("kube-controller-manager",)),
        ]
        for what, check, blame in checks:
            last: list[str] = []

            def attempt(check: Callable[[], str | None] = check, last: list[str] = last) -> None:
                try:
                    problem = check()
                except Exception as err:  # any API error means "not yet"
                    problem = f"{type(err).__name__}: {err}"
                if problem:
                    last[:] = [problem]
                    raise _NotYet(problem)

            try:
                for att in Retrying(
                    stop=stop_after_delay(timeout),
                    wait=wait_fixed(0.5),
                    retry=retry_if_exception_type(_NotYet),
                    reraise=True,
                ):
                    with att:
                        attempt()
            except _NotYet:
                tails = "\n".join(
                    f"--- {c} ({self._log(c)}):\n{tail(self._log(c), 15)}" for c in blame
                )
                raise SandboxError(
                    f"cluster {self.name}: {what} not usable after {timeout:.0f}s "
                    f"({last[0] if last else 'unknown'}); blamed components: "
                    f"{', '.join(blame)}\n{tails}",
                    log_path=self._log(blame[0]),
                ) from None
            progress(f"cluster {self.name}: {what} ready")

    def _stage(self, stages: Path, name: str) -> Path:
        """The path of a kwok Stage config. pod-ready gets a never-ready exception, a delay
        read from the ready-after annotation (none without it) and a companion stage,
        pod-ready-again (:data:`_READY_AGAIN`). Without the toolchain (status() and down()
        on a machine whose cache is gone) only the path is returned."""
        src = stages / name
        out = self._run / "pod-ready.yaml"
        if not name.endswith("pod-ready.yaml"):
            return src
        if not src.is_file():
            return out
        doc = yaml.safe_load(src.read_text())
        never_ready = {
            "key": f'.metadata.annotations["{NEVER_READY_ANNOTATION}"]',
            "operator": "DoesNotExist",
        }
        doc["spec"]["selector"]["matchExpressions"].append(never_ready)
        doc["spec"]["delay"] = {
            "durationMilliseconds": 0,
            "durationFrom": {
                "expressionFrom": f'.metadata.annotations["{READY_AFTER_ANNOTATION}"]'
            },
        }
        again = yaml.safe_load(_READY_AGAIN)
        again["spec"]["selector"]["matchExpressions"].append(never_ready)
        self._run.mkdir(parents=True, exist_ok=True)
        out.write_text(yaml.safe_dump_all([doc, again], sort_keys=False))
        return out

    def _log(self, component: str) -> Path:
        return _paths.logs_dir() / f"{self.name}-{component}.log"
