"""The e2e tier: the real Pulumi engine against the sandbox (clusters, Vault, Git, repos).

The session fixture brings the whole sandbox up (building the toolchain if needed) and
leaves it running for the next session; ``helm-enterprise sandbox down`` stops it. Every
test deploys into its own namespace from its own temporary project directory, and every
line the engine printed is kept so tests can grep it for secret values.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import ssl
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from pulumi import automation as auto

from helm_enterprise.kube.proxy import service_proxy_path
from helm_enterprise.sandbox import _paths
from helm_enterprise.sandbox.chartrepo import ChartRepository, ca_bundle, client_cert
from helm_enterprise.sandbox.gitserver import GitServer
from helm_enterprise.sandbox.platform import Sandbox
from helm_enterprise.sandbox.vault import VaultServer

REPO = Path(__file__).resolve().parents[2]


def free_port_base(from_top: bool = False) -> int:
    """A port base for a sandbox of a test's own, away from the shared sandbox's block
    (:func:`helm_enterprise.sandbox._paths.free_port_base`)."""
    shared = range(_paths.port_base(), _paths.port_base() + _paths.PORT_SPAN)
    base = _paths.free_port_base(from_top=from_top, avoid=shared)
    if base is None:
        pytest.fail(f"no free block of {_paths.PORT_SPAN} loopback ports for a sandbox")
    return base


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@dataclasses.dataclass
class Env:
    sandbox: Sandbox
    env: dict[str, str]
    vault: VaultServer
    charts: ChartRepository
    git: GitServer

    def _tool(self, tool: str, args: tuple[str, ...], cluster: str, check: bool = True) -> str:
        """Run kubectl/helm against a sandbox cluster; stdout, or AssertionError with stderr."""
        kubeconfig = str(self.sandbox.cluster(cluster).kubeconfig)
        proc = subprocess.run(
            [tool, "--kubeconfig", kubeconfig, *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=300,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"{tool} {' '.join(args)} failed: {proc.stderr}")
        return proc.stdout

    def kubectl(self, *args: str, cluster: str = "a", check: bool = True) -> str:
        return self._tool("kubectl", args, cluster, check)

    def kubectl_json(self, *args: str, cluster: str = "a") -> Any:
        return json.loads(self.kubectl(*args, "-o", "json", cluster=cluster))

    def helm(self, *args: str, cluster: str = "a") -> str:
        return self._tool("helm", args, cluster)

    def helm_history(
        self, release: str, namespace: str, cluster: str = "a"
    ) -> list[dict[str, Any]]:
        return json.loads(
            self.helm("history", release, "-n", namespace, "-o", "json", cluster=cluster)
        )

    def service_get(
        self,
        namespace: str,
        service: str,
        path: str,
        cluster: str = "a",
        port: str | int = "http",
        timeout: float = 10,
    ) -> httpx.Response:
        """GET ``path`` of a Service through the API server's service proxy, as the cluster
        admin (client certificate, cluster CA): what a pod behind the Service answers, from
        the host, with no kube-proxy or route to pod IPs. The response, whatever its status
        (a 503 Status from the API server when no endpoint is ready)."""
        c = self.sandbox.cluster(cluster)
        pki = c.pki.path
        tls = ssl.create_default_context(cafile=str(pki("ca.crt")))
        tls.load_cert_chain(str(pki("admin.crt")), str(pki("admin.key")))
        url = c.server + service_proxy_path(namespace, service, port, path)
        with httpx.Client(verify=tls, timeout=timeout, trust_env=False) as client:
            return client.get(url)

    def pods(self, namespace: str, release: str = "hello", cluster: str = "a") -> list[Any]:
        """The release's pods (``app.kubernetes.io/instance``), as the API has them."""
        selector = f"app.kubernetes.io/instance={release}"
        items: list[Any] = self.kubectl_json(
            "-n", namespace, "get", "pods", "-l", selector, cluster=cluster
        )["items"]
        return items


def _progress(message: str) -> None:
    print(f"[sandbox] {message}", flush=True)


def run_cli(
    *args: str,
    env: Mapping[str, str],
    timeout: float = 600,
    cwd: Path | None = None,
    stdin: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """``helm-enterprise <args>`` as a separate process (``python -m helm_enterprise.cli``
    on this interpreter), its output captured as text; the exit code is the caller's to
    check."""
    return subprocess.run(
        [sys.executable, "-m", "helm_enterprise.cli", *args],
        capture_output=True,
        text=True,
        env=dict(env),
        stdin=stdin,
        timeout=timeout,
        check=False,
        cwd=cwd,
    )


@pytest.fixture(scope="session")
def sb() -> Iterator[Env]:
    """Both clusters; the services start on first use by the fixtures below."""
    sandbox = Sandbox(clusters=2)
    sandbox.up(["clusters"], progress=_progress)
    env = sandbox.env()
    env["SSL_CERT_FILE"] = str(ca_bundle())  # the provider (Go) trusts the sandbox CA
    tc = sandbox.toolchain()
    yield Env(sandbox, env, VaultServer(tc), ChartRepository(tc), GitServer(tc))


@pytest.fixture(scope="session")
def vault(sb: Env) -> VaultServer:
    sb.sandbox.up(["vault"], progress=_progress)
    return sb.vault


@pytest.fixture(scope="session")
def charts(sb: Env) -> ChartRepository:
    sb.sandbox.up(["chartrepo"], progress=_progress)
    return sb.charts


@pytest.fixture(scope="session")
def git(sb: Env) -> GitServer:
    sb.sandbox.up(["git"], progress=_progress)
    return sb.git


@dataclasses.dataclass
class Project:
    """One Pulumi project in a temp dir, with its stack and everything it printed."""

    dir: Path
    stack: auto.Stack
    env: dict[str, str]
    output: list[str] = dataclasses.field(default_factory=list)

    def _out(self, line: str) -> None:
        self.output.append(line)

    @property
    def text(self) -> str:
        return "\n".join(self.output)

    def config(self, key: str, value: Any, secret: bool = False) -> None:
        text = value if isinstance(value, str) else json.dumps(value)
        self.stack.set_config(key, auto.ConfigValue(text, secret=secret))

    def releases(self, releases: list[dict[str, Any]]) -> None:
        self.config("helm-enterprise:releases", releases)

    def up(self) -> auto.UpResult:
        return self.stack.up(on_output=self._out, color="never", show_secrets=False)

    def preview(self) -> auto.PreviewResult:
        return self.stack.preview(on_output=self._out, color="never")

    def up_fails(self) -> str:
        with pytest.raises(auto.errors.CommandError) as err:
            self.up()
        return str(err.value)

    def preview_fails(self) -> str:
        with pytest.raises(auto.errors.CommandError) as err:
            self.preview()
        return str(err.value)

    def destroy(self) -> None:
        self.stack.destroy(on_output=self._out, color="never", show_secrets=False)

    def export_json(self) -> Any:
        """The stack's deployment as ``pulumi stack export`` prints it (secrets encrypted)."""
        proc = subprocess.run(
            ["pulumi", "stack", "export", "--stack", self.stack.name],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return json.loads(proc.stdout)["deployment"]

    def export(self) -> str:
        """``pulumi stack export`` as a user runs it (no --show-secrets; the Automation API's
        export_stack decrypts), plus the raw state file of the file backend."""
        proc = subprocess.run(
            ["pulumi", "stack", "export", "--stack", self.stack.name],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        backend = Path(self.env["PULUMI_BACKEND_URL"].removeprefix("file://"))
        raw = "".join(
            p.read_text() for p in backend.glob(f".pulumi/stacks/*/{self.stack.name}.json")
        )
        assert raw, "state file not found"
        return proc.stdout + raw


@pytest.fixture
def namespace() -> str:
    return f"e2e-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def project(sb: Env, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Factory: ``project(example=None)`` — a copy of the checkout's programs in a temp dir
    (root program, charts and, when given, ``examples/<example>`` as the work dir), so
    relative paths work as in the checkout and the checkout itself stays clean."""
    made: list[Project] = []

    def make(example: str | None = None, stack: str = "e2e") -> Project:
        root = tmp_path / f"p{len(made)}"
        root.mkdir()
        for name in ("Pulumi.yaml", "__main__.py"):
            shutil.copy(REPO / name, root / name)
        shutil.copytree(REPO / "charts", root / "charts")
        # Pulumi.yaml's `virtualenv: .venv`, as in the checkout: plugins such as the
        # dynamic provider (health checks) start from it.
        (root / ".venv").symlink_to(Path(sys.prefix))
        work = root
        if example is not None:
            work = root / "examples" / example
            shutil.copytree(REPO / "examples" / example, work)
        env = dict(sb.env)
        command = auto.PulumiCommand(root=str(sb.sandbox.toolchain().layout.root))
        st = auto.Stack.create(
            f"{stack}-{uuid.uuid4().hex[:6]}",
            auto.LocalWorkspace(work_dir=str(work), env_vars=env, pulumi_command=command),
        )
        p = Project(work, st, env)
        made.append(p)
        return p

    yield make
    for p in made:
        try:
            p.destroy()
        finally:
            p.stack.workspace.remove_stack(p.stack.name)


def tls_client_pems() -> tuple[str, str]:
    crt, key = client_cert()
    return crt.read_text(), key.read_text()


os.environ.setdefault("PULUMI_SKIP_UPDATE_CHECK", "true")
