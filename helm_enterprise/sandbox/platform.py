"""The whole local platform: clusters and shared services, started and stopped together.

``Sandbox().up()`` builds whatever toolchain piece is missing, then starts (idempotently,
readiness-checked) the components asked for: ``clusters`` (``a``, and ``b`` for
multi-cluster tests), ``vault``, ``chartrepo`` (HTTP repository with basic, bearer and
client-certificate TLS listeners, plus the OCI registry) and ``git`` (smart HTTP with a
token, SSH with a key). :meth:`Sandbox.env` is the environment a ``pulumi`` run or a test
needs to use them: PATH with the toolchain, KUBECONFIG, VAULT_ADDR, the Pulumi backend.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from filelock import FileLock

from helm_enterprise.errors import SandboxError, truncate
from helm_enterprise.sandbox import _paths
from helm_enterprise.sandbox.cluster import Cluster
from helm_enterprise.sandbox.node import publish_images, unavailable_reason
from helm_enterprise.sandbox.toolchain import Layout, Toolchain, ensure
from helm_enterprise.sandbox.vault import VaultServer

Progress = Callable[[str], None]

CLUSTER_NAMES = ("a", "b")
COMPONENTS = ("clusters", "vault", "chartrepo", "git", "prometheus")
# Toolchain families each component needs; pulumi/helm are always built (tests use them).
FAMILIES = {
    "clusters": ("etcd", "kubernetes", "kwok"),
    "vault": ("vault",),
    "chartrepo": ("debian", "helm"),
    "git": ("debian",),
    "prometheus": ("debian",),
}
BASE_FAMILIES = ("pulumi", "pulumi-kubernetes", "pulumi-dynamic", "helm")
# What the clusters' real nodes add (kubelet is built with the other kubernetes binaries):
# containerd, runc and the CNI plugins, crictl, and the workload images.
REAL_NODE_FAMILIES = ("debian", "cri-tools", "images")


class Component(Protocol):
    def up(self, progress: Progress) -> None: ...
    def down(self) -> None: ...


def pulumi_state_dir() -> Path:
    return _paths.sandbox_root() / "pulumi"


def passphrase() -> str:
    """The passphrase of sandbox stacks (generated once, stored 0600)."""
    path = _paths.sandbox_root() / "pulumi-passphrase"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(24))
    return path.read_text().strip()


def register_plugins(tc: Toolchain, env: dict[str, str]) -> None:
    """Register the built kubernetes provider in PULUMI_HOME (idempotent, no download)."""
    from helm_enterprise.sandbox.toolchain.recipes.pulumi import K8S_VERSION

    version = K8S_VERSION.lstrip("v")
    target = Path(env["PULUMI_HOME"]) / "plugins" / f"resource-kubernetes-v{version}"
    binary = tc.path("pulumi-resource-kubernetes")
    installed = target / "pulumi-resource-kubernetes"
    if installed.exists() and installed.stat().st_size == binary.stat().st_size:
        return
    proc = subprocess.run(
        [
            str(tc.path("pulumi")),
            "plugin",
            "install",
            "resource",
            "kubernetes",
            f"v{version}",
            "--file",
            str(binary),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise SandboxError(
            f"registering the kubernetes provider plugin failed: {proc.stderr[-400:]}"
        )


class Sandbox:
    """Facade over every sandbox component."""

    def __init__(self, toolchain: Toolchain | None = None, clusters: int = 1) -> None:
        if not 1 <= clusters <= len(CLUSTER_NAMES):
            raise SandboxError(f"clusters must be 1..{len(CLUSTER_NAMES)}")
        self._toolchain = toolchain
        self._ensured: set[str] = set()
        self.cluster_count = clusters

    # -- toolchain --------------------------------------------------------------------

    def toolchain(
        self, components: Iterable[str] = ("clusters",), progress: Progress = print
    ) -> Toolchain:
        """The toolchain with the families ``components`` need built (and the base ones)."""
        families = list(BASE_FAMILIES)
        for c in components:
            extra = REAL_NODE_FAMILIES if c == "clusters" and unavailable_reason() is None else ()
            families += [f for f in (*FAMILIES[c], *extra) if f not in families]
        missing = [f for f in families if f not in self._ensured]
        if missing or self._toolchain is None:
            self._toolchain = ensure(missing or families, progress=progress)
            self._ensured.update(missing)
        return self._toolchain

    # -- components -------------------------------------------------------------------

    def clusters(self) -> list[Cluster]:
        tc = self.toolchain(["clusters"])
        return [Cluster(name, i, tc) for i, name in enumerate(CLUSTER_NAMES[: self.cluster_count])]

    def cluster(self, name: str = "a") -> Cluster:
        return Cluster(name, CLUSTER_NAMES.index(name), self.toolchain(["clusters"]))

    def vault(self) -> VaultServer:
        return VaultServer(self.toolchain(["vault"]))

    def _components(self, which: Iterable[str], build: bool = True) -> list[tuple[str, Any]]:
        """The component objects; with ``build=False`` nothing is built (down, status)."""
        from helm_enterprise.sandbox.chartrepo import ChartRepository
        from helm_enterprise.sandbox.gitserver import GitServer
        from helm_enterprise.sandbox.prometheus import PrometheusServer

        out: list[tuple[str, Any]] = []
        for name in which:
            if name not in COMPONENTS:
                raise SandboxError(
                    f"unknown sandbox component {name!r}; known: {', '.join(COMPONENTS)}"
                )
            tc = self.toolchain([name]) if build else Toolchain(Layout.default(), {})
            if name == "clusters":
                out += [
                    (f"cluster {n}", Cluster(n, i, tc))
                    for i, n in enumerate(CLUSTER_NAMES[: self.cluster_count])
                ]
            elif name == "vault":
                out.append(("vault", VaultServer(tc)))
            elif name == "chartrepo":
                out.append(("chartrepo", ChartRepository(tc)))
            elif name == "git":
                out.append(("git", GitServer(tc)))
            else:
                clusters = [
                    Cluster(n, i, tc) for i, n in enumerate(CLUSTER_NAMES[: self.cluster_count])
                ]
                out.append(("prometheus", PrometheusServer(tc, clusters)))
        return out

    def up(self, components: Iterable[str] = COMPONENTS, progress: Progress = print) -> None:
        """Start ``components`` (idempotent). Clusters with real nodes first get the OCI
        registry (the chartrepo component) and the workload images pushed into it, so their
        Pods can pull ``registry.helm-enterprise.test/...`` images."""
        which = list(dict.fromkeys(components))
        real_nodes = "clusters" in which and unavailable_reason() is None
        if real_nodes and "chartrepo" in which:
            which.remove("chartrepo")
        if real_nodes:
            which.insert(which.index("clusters"), "chartrepo")
        tc = self.toolchain(which, progress)
        # One starter at a time per sandbox: parallel test workers (pytest -n) and users'
        # commands may ask for the same component at once, and not every component's own
        # up() guards against a second starter racing it for its ports.
        root = _paths.sandbox_root()
        root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(root / ".up.lock")):
            for label, comp in self._components(which):
                comp.up(progress)
                if label == "chartrepo" and real_nodes:
                    publish_images(tc, progress)

    def down(self, components: Iterable[str] = COMPONENTS, purge: bool = False) -> None:
        """Stop everything (works after a crash: components find processes by pid file; a
        component that never started is already down)."""
        failures = []
        for label, comp in reversed(self._components(list(components), build=False)):
            try:
                if label.startswith("cluster"):
                    comp.down(purge=purge)
                else:
                    comp.down()
            except Exception as err:
                failures.append(f"{label}: {err}")
        if failures:
            raise SandboxError("could not stop: " + "; ".join(failures))

    def status(self, components: Iterable[str] = COMPONENTS) -> list[dict[str, Any]]:
        """One row per process: ``state`` is ``ready``, ``running``, ``stopped`` or ``not
        started`` (never started in this sandbox dir); a component whose status cannot be
        read is a row saying why, not an exception (status is what you run to diagnose)."""
        rows: list[dict[str, Any]] = []
        for label, comp in self._components(list(components), build=False):
            try:
                st = comp.status()
            except Exception as err:
                reason = truncate(f"{type(err).__name__}: {err}", 200)
                st = {"name": label, "ready": False, "state": f"unknown ({reason})"}
            for entry in st if isinstance(st, list) else [st]:
                rows.append({**entry, "component": label})
        return rows

    # -- environment for pulumi runs and tests ---------------------------------------------

    def env(self, cluster: str = "a", base: dict[str, str] | None = None) -> dict[str, str]:
        tc = self.toolchain()
        env = dict(os.environ if base is None else base)
        # Toolchain first, then this interpreter's venv (it has the package and the SDKs).
        env["PATH"] = os.pathsep.join(
            [str(tc.layout.bin), str(Path(sys.executable).parent), env.get("PATH", "")]
        )
        env["PULUMI_PYTHON_CMD"] = sys.executable
        state = pulumi_state_dir()
        state.mkdir(parents=True, exist_ok=True)
        env.update(
            {
                "KUBECONFIG": str(self.cluster(cluster).kubeconfig),
                "PULUMI_BACKEND_URL": f"file://{state}",
                "PULUMI_CONFIG_PASSPHRASE": passphrase(),
                "PULUMI_SKIP_UPDATE_CHECK": "true",
                "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
                "PULUMI_HOME": str(_paths.sandbox_root() / "pulumi-home"),
                # Plugins only from PULUMI_HOME, where register_plugins() put ours.
                "PULUMI_IGNORE_AMBIENT_PLUGINS": "true",
            }
        )
        register_plugins(tc, env)
        return env
