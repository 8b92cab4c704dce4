"""The sandbox's private chart repositories: an HTTP Helm repository (nginx) and an OCI
registry (Debian's docker-registry, i.e. CNCF distribution), serving the charts the
project ships under ``charts/``.

Listeners (loopback only)::

    http://127.0.0.1:<http>/public/     no auth
    http://127.0.0.1:<http>/basic/      basic auth (user ``helm``)
    http://127.0.0.1:<http>/bearer/     ``Authorization: Bearer <token>``
    https://127.0.0.1:<tls>/mtls/       a client certificate signed by the sandbox CA is
    https://127.0.0.1:<tls>/basic/      required on this port (TLS handshake), + basic auth
    oci://127.0.0.1:<registry>/charts   TLS + basic auth (``helm``)

Credentials are random per sandbox and stored 0600 in the state dir; tests read them from
the properties, never from logs.
"""

from __future__ import annotations

import functools
import json
import secrets
import shutil
import ssl
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

from helm_enterprise.errors import SandboxError, truncate
from helm_enterprise.sandbox import _paths
from helm_enterprise.sandbox._nginx import htpasswd, nginx_service
from helm_enterprise.sandbox._pki import Pki, write_private
from helm_enterprise.sandbox._process import Service, ever_started, not_started, port_open
from helm_enterprise.sandbox.toolchain import Toolchain

Progress = Callable[[str], None]
REPO_ROOT = Path(__file__).resolve().parents[2]
# Each chart is also published in these extra versions (a copy with a patched Chart.yaml),
# so upgrade and version-selection tests have something to choose from.
EXTRA_VERSIONS = {"hello": ["0.2.0"]}


def services_pki() -> Pki:
    """The CA shared by every sandbox service with TLS (chart repo, registry, Git)."""
    return Pki(_paths.state_dir("services-pki"), "services")


def server_cert() -> tuple[Path, Path]:
    return services_pki().leaf("server", "ca", "127.0.0.1", server=True)


def client_cert() -> tuple[Path, Path]:
    return services_pki().leaf("client", "ca", "helm-enterprise-tests", client=True)


def ca_bundle() -> Path:
    """System CAs plus the sandbox CA, for SSL_CERT_FILE of processes that must trust both."""
    pki = services_pki()
    pki.ca("ca")
    bundle = pki.path("bundle.pem")
    system = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")
    parts = [system.read_text()] if system.exists() else []
    parts.append(pki.path("ca.crt").read_text())
    # Replaced whole and only when it changes: processes read it at any time (Helm and the
    # provider on each connection), and a half-written bundle lacks the sandbox CA, which
    # comes last.
    _paths.replace_text(bundle, "\n".join(parts))
    return bundle


class ChartRepository:
    """HTTP chart repository + OCI registry of the sandbox."""

    name = "chartrepo"
    PROCESSES = ("chartrepo-nginx", "chartrepo-registry")  # start order

    def __init__(self, toolchain: Toolchain) -> None:
        self.toolchain = toolchain
        self.state = _paths.state_dir(self.name)
        self.www = self.state / "www"

    @functools.cached_property
    def ports(self) -> _paths.ServicePorts:
        return _paths.ServicePorts.default()

    # -- credentials and addresses -------------------------------------------------------

    def _credentials(self) -> dict[str, str]:
        path = self.state / "credentials.json"
        if not path.exists():
            self.state.mkdir(parents=True, exist_ok=True)
            self.state.chmod(0o700)
            creds = {
                "username": "helm",
                "password": secrets.token_urlsafe(18),
                "token": secrets.token_urlsafe(24),
            }
            write_private(path, json.dumps(creds).encode())
        data: dict[str, str] = json.loads(path.read_text())
        return data

    @property
    def username(self) -> str:
        return self._credentials()["username"]

    @property
    def password(self) -> str:
        return self._credentials()["password"]

    @property
    def token(self) -> str:
        return self._credentials()["token"]

    def url(self, kind: str) -> str:
        """Repository URL of a listener: ``public``, ``basic``, ``bearer``, ``mtls``,
        ``tls-basic`` or ``oci``."""
        http, tls = self.ports.chartrepo_http, self.ports.chartrepo_tls
        return {
            "public": f"http://127.0.0.1:{http}/public",
            "basic": f"http://127.0.0.1:{http}/basic",
            "bearer": f"http://127.0.0.1:{http}/bearer",
            "mtls": f"https://127.0.0.1:{tls}/mtls",
            "tls-basic": f"https://127.0.0.1:{tls}/basic",
            "oci": f"oci://127.0.0.1:{self.ports.registry}/charts",
        }[kind]

    @property
    def ca_file(self) -> Path:
        services_pki().ca("ca")
        return services_pki().path("ca.crt")

    # -- services -------------------------------------------------------------------------

    def _nginx(self) -> Service:
        crt, key = server_cert()
        ca = self.ca_file
        www = self.www
        servers = f"""
  server {{
    listen 127.0.0.1:{self.ports.chartrepo_http};
    location /public/ {{ alias {www}/; }}
    location /basic/ {{
      auth_basic "charts"; auth_basic_user_file {self.state}/htpasswd; alias {www}/;
    }}
    location /bearer/ {{
      if ($http_authorization != "Bearer {self.token}") {{ return 401; }}
      alias {www}/;
    }}
    location = /healthz {{ return 200 "ok"; }}
  }}
  server {{
    listen 127.0.0.1:{self.ports.chartrepo_tls} ssl;
    ssl_certificate {crt};
    ssl_certificate_key {key};
    ssl_client_certificate {ca};
    ssl_verify_client on;
    location /mtls/ {{ alias {www}/; }}
    location /basic/ {{
      auth_basic "charts"; auth_basic_user_file {self.state}/htpasswd; alias {www}/;
    }}
  }}
"""
        return nginx_service(
            "chartrepo-nginx",
            self.toolchain,
            self.state,
            servers,
            probe=lambda: (
                httpx.get(
                    f"http://127.0.0.1:{self.ports.chartrepo_http}/healthz", timeout=2
                ).status_code
                == 200
            ),
            ports=(self.ports.chartrepo_http, self.ports.chartrepo_tls),
        )

    def _registry(self) -> Service:
        crt, key = server_cert()
        conf = self.state / "registry.yml"
        conf.write_text(
            yaml.safe_dump(
                {
                    "version": 0.1,
                    "log": {"level": "info"},
                    "storage": {
                        "filesystem": {"rootdirectory": str(self.state / "registry")},
                        "delete": {"enabled": True},
                    },
                    "http": {
                        "addr": f"127.0.0.1:{self.ports.registry}",
                        "secret": self._credentials()["token"],
                        "tls": {"certificate": str(crt), "key": str(key)},
                    },
                    "auth": {
                        "htpasswd": {"realm": "sandbox", "path": str(self.state / "htpasswd")}
                    },
                }
            )
        )
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        return Service(
            name="chartrepo-registry",
            argv=[self.toolchain.path("docker-registry"), "serve", str(conf)],
            state_dir=self.state,
            log_dir=_paths.logs_dir(),
            probe=lambda: (
                httpx.get(
                    f"https://127.0.0.1:{self.ports.registry}/v2/", verify=ctx, timeout=2
                ).status_code
                in (200, 401)
            ),
            ports=(self.ports.registry,),
            ready_timeout=30.0,
        )

    def _services(self) -> list[Service]:
        return [self._nginx(), self._registry()]

    # -- content --------------------------------------------------------------------------

    def _helm(self, *args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
        helm_env = {
            **self.toolchain.env(),
            "HELM_CACHE_HOME": str(self.state / "helm" / "cache"),
            "HELM_CONFIG_HOME": str(self.state / "helm" / "config"),
            "HELM_DATA_HOME": str(self.state / "helm" / "data"),
            "HELM_REGISTRY_CONFIG": str(self.state / "helm" / "registry.json"),
            **(env or {}),
        }
        proc = subprocess.run(
            [str(self.toolchain.path("helm")), *args],
            capture_output=True,
            text=True,
            env=helm_env,
            input=stdin,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0:
            raise SandboxError(
                f"helm {args[0]} failed: {truncate(proc.stderr or proc.stdout, 400)}"
            )
        return proc.stdout

    def charts(self) -> list[Path]:
        return sorted(p for p in (REPO_ROOT / "charts").iterdir() if (p / "Chart.yaml").exists())

    def _package(self) -> list[Path]:
        """Package every shipped chart (and its extra versions) into www/; write the index."""
        self.www.mkdir(parents=True, exist_ok=True)
        archives = []
        for chart in self.charts():
            archives.append(
                Path(self._helm("package", str(chart), "-d", str(self.www)).strip().split()[-1])
            )
            for version in EXTRA_VERSIONS.get(chart.name, []):
                with tempfile.TemporaryDirectory() as tmp:
                    copy = Path(tmp) / chart.name
                    shutil.copytree(chart, copy)
                    meta = yaml.safe_load((copy / "Chart.yaml").read_text())
                    meta["version"] = version
                    meta["appVersion"] = f"{meta.get('appVersion', '1')}-{version}"
                    (copy / "Chart.yaml").write_text(yaml.safe_dump(meta))
                    out = self._helm("package", str(copy), "-d", str(self.www))
                    archives.append(Path(out.strip().split()[-1]))
        self._helm("repo", "index", str(self.www))
        return archives

    def _push_oci(self, archives: list[Path]) -> None:
        host = f"127.0.0.1:{self.ports.registry}"
        ca = str(self.ca_file)
        self._helm(
            "registry",
            "login",
            host,
            "--username",
            self.username,
            "--password-stdin",
            "--ca-file",
            ca,
            stdin=self.password,
        )
        for archive in archives:
            self._helm("push", str(archive), f"oci://{host}/charts", "--ca-file", ca)

    # -- lifecycle ------------------------------------------------------------------------

    def up(self, progress: Progress = print) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        self.state.chmod(0o700)
        creds = self._credentials()
        htpasswd(self.state / "htpasswd", {creds["username"]: creds["password"]})
        fresh = not (self.www / "index.yaml").exists()
        archives = self._package()
        for service in self._services():
            if not service.running():
                progress(f"chartrepo: starting {service.name}")
            service.start()
        marker = self.state / "oci-pushed"
        if fresh or not marker.exists():
            self._push_oci(archives)
            marker.write_text("\n".join(a.name for a in archives))
        progress(f"chartrepo: ready ({self.url('basic')}, {self.url('oci')})")

    def started(self) -> bool:
        """Whether ``up`` ever started a process here (see :func:`ever_started`)."""
        return ever_started(self.PROCESSES, self.state, _paths.logs_dir())

    def down(self) -> None:
        if not self.started():  # nothing to stop; building the services would write state
            return
        for service in reversed(self._services()):
            service.stop()

    def status(self) -> list[dict[str, Any]]:
        if not self.started():
            return [not_started(n) for n in self.PROCESSES]
        return [s.describe() for s in self._services()]

    def reachable(self) -> bool:
        return port_open(self.ports.chartrepo_http) and port_open(self.ports.registry)
