"""The sandbox's Git server: smart HTTP over TLS with token auth (nginx + fcgiwrap +
git-http-backend) and SSH with a key (OpenSSH's sshd + git-shell), both on loopback.

Fixture repository ``charts.git`` (a monorepo): ``charts/<name>`` for every chart the
project ships, on branch ``main`` with tag ``v1``. Tests move the branch with
:meth:`GitServer.commit`.

* HTTP: ``https://127.0.0.1:<git_http>/charts.git`` — basic auth, user ``git``, the
  token as password (the way GitHub/GitLab access tokens are used); CA: the sandbox CA.
* SSH: ``ssh://<user>@127.0.0.1:<git_ssh><repos>/charts.git`` — the test key only
  (``restrict``ed to git-shell); the host key is in :attr:`known_hosts`.
"""

from __future__ import annotations

import functools
import getpass
import os
import secrets
import shutil
import ssl
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from helm_enterprise.errors import SandboxError, truncate
from helm_enterprise.sandbox import _paths
from helm_enterprise.sandbox._nginx import htpasswd, nginx_service
from helm_enterprise.sandbox._pki import write_private
from helm_enterprise.sandbox._process import Service, ever_started, not_started, port_open
from helm_enterprise.sandbox.chartrepo import REPO_ROOT, server_cert, services_pki
from helm_enterprise.sandbox.toolchain import Toolchain

Progress = Callable[[str], None]
FIXTURE = "charts.git"


def _git(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    full_env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "sandbox",
        "GIT_AUTHOR_EMAIL": "sandbox@helm-enterprise.invalid",
        "GIT_COMMITTER_NAME": "sandbox",
        "GIT_COMMITTER_EMAIL": "sandbox@helm-enterprise.invalid",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(cwd or Path.cwd()),
        **(env or {}),
    }
    proc = subprocess.run(
        ["git", *map(str, args)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise SandboxError(f"git {args[0]} failed: {truncate(proc.stderr or proc.stdout, 300)}")
    return proc.stdout.strip()


class GitServer:
    """Git over HTTPS (token) and SSH (key) for the sandbox."""

    name = "git"
    PROCESSES = ("git-fcgiwrap", "git-nginx", "git-sshd")  # start order

    def __init__(self, toolchain: Toolchain) -> None:
        self.toolchain = toolchain
        self.state = _paths.state_dir(self.name)
        self.repos = self.state / "repos"
        self.ssh_dir = self.state / "ssh"
        self.user = "root" if os.geteuid() == 0 else getpass.getuser()

    @functools.cached_property
    def ports(self) -> _paths.ServicePorts:
        return _paths.ServicePorts.default()

    # -- credentials ------------------------------------------------------------------------

    @property
    def token(self) -> str:
        path = self.state / "token"
        if not path.exists():
            self._private()
            write_private(path, secrets.token_urlsafe(24).encode())
        return path.read_text().strip()

    @property
    def client_key(self) -> Path:
        """The private key of the SSH test identity (0600)."""
        return self.ssh_dir / "client_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.ssh_dir / "known_hosts"

    @property
    def ca_file(self) -> Path:
        services_pki().ca("ca")
        return services_pki().path("ca.crt")

    def https_url(self, repo: str = FIXTURE) -> str:
        return f"https://127.0.0.1:{self.ports.git_http}/{repo}"

    def ssh_url(self, repo: str = FIXTURE) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.ports.git_ssh}{self.repos}/{repo}"

    def _private(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        self.state.chmod(0o700)

    # -- services ---------------------------------------------------------------------------

    def _fcgiwrap(self) -> Service:
        sock = self.state / "fcgiwrap.sock"
        return Service(
            name="git-fcgiwrap",
            argv=[self.toolchain.path("fcgiwrap"), "-s", f"unix:{sock}", "-c", "2"],
            state_dir=self.state,
            log_dir=_paths.logs_dir(),
            probe=sock.exists,
            ready_timeout=15.0,
        )

    def _nginx(self) -> Service:
        crt, key = server_cert()
        backend = self.toolchain.path("git-http-backend").resolve()
        servers = f"""
  server {{
    listen 127.0.0.1:{self.ports.git_http} ssl;
    ssl_certificate {crt};
    ssl_certificate_key {key};
    location = /healthz {{ return 200 "ok"; }}
    location / {{
      auth_basic "git"; auth_basic_user_file {self.state}/htpasswd;
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME {backend};
      fastcgi_param GIT_PROJECT_ROOT {self.repos};
      fastcgi_param GIT_HTTP_EXPORT_ALL "";
      fastcgi_param PATH_INFO $uri;
      fastcgi_param REMOTE_USER $remote_user;
      fastcgi_pass unix:{self.state}/fcgiwrap.sock;
    }}
  }}
"""
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        return nginx_service(
            "git-nginx",
            self.toolchain,
            self.state,
            servers,
            probe=lambda: (
                httpx.get(
                    f"https://127.0.0.1:{self.ports.git_http}/healthz", verify=ctx, timeout=2
                ).status_code
                == 200
            ),
            ports=(self.ports.git_http,),
        )

    def _sshd(self) -> Service:
        host_key = self.ssh_dir / "host_ed25519"
        conf = self.ssh_dir / "sshd_config"
        conf.write_text(
            f"""# generated by helm-enterprise sandbox; do not edit
Port {self.ports.git_ssh}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {self.state}/sshd.pid
AuthorizedKeysFile {self.ssh_dir}/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
AllowUsers {self.user}
LogLevel VERBOSE
"""
        )
        return Service(
            name="git-sshd",
            argv=[str(self.toolchain.path("sshd").resolve()), "-D", "-e", "-f", str(conf)],
            state_dir=self.state,
            log_dir=_paths.logs_dir(),
            probe=lambda: port_open(self.ports.git_ssh),
            ports=(self.ports.git_ssh,),
            ready_timeout=20.0,
        )

    def _services(self) -> list[Service]:
        return [self._fcgiwrap(), self._nginx(), self._sshd()]

    # -- keys and fixtures --------------------------------------------------------------------

    def _ssh_keys(self) -> None:
        self.ssh_dir.mkdir(parents=True, exist_ok=True)
        self.ssh_dir.chmod(0o700)
        keygen = str(self.toolchain.path("ssh-keygen"))
        host_key = self.ssh_dir / "host_ed25519"
        if not host_key.exists():
            subprocess.run(
                [keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True
            )
        if not self.client_key.exists():
            subprocess.run(
                [
                    keygen,
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    "helm-enterprise-tests",
                    "-f",
                    str(self.client_key),
                ],
                check=True,
            )
        git_shell = shutil.which("git-shell") or "/usr/bin/git-shell"
        pub = Path(f"{self.client_key}.pub").read_text().strip()
        (self.ssh_dir / "authorized_keys").write_text(
            f'restrict,command="{git_shell} -c \\"$SSH_ORIGINAL_COMMAND\\"" {pub}\n'
        )
        host_pub = Path(f"{host_key}.pub").read_text().split()
        self.known_hosts.write_text(
            f"[127.0.0.1]:{self.ports.git_ssh} {host_pub[0]} {host_pub[1]}\n"
        )
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)

    def _fixture(self) -> None:
        bare = self.repos / FIXTURE
        if bare.exists():
            # Partial clones (--filter=blob:none), as GitHub and GitLab serve them.
            _git("config", "uploadpack.allowFilter", "true", cwd=bare)
            return
        self.repos.mkdir(parents=True, exist_ok=True)
        _git("init", "--bare", "--initial-branch=main", bare)
        _git("config", "http.receivepack", "true", cwd=bare)
        _git("config", "uploadpack.allowFilter", "true", cwd=bare)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / "w"
            _git("clone", bare, work)
            shutil.copytree(REPO_ROOT / "charts", work / "charts")
            (work / "README.md").write_text("Fixture monorepo of the helm-enterprise sandbox.\n")
            _git("add", "-A", cwd=work)
            _git("commit", "-m", "charts", cwd=work)
            _git("tag", "v1", cwd=work)
            _git("push", "origin", "main", "--tags", cwd=work)

    def commit(
        self,
        files: dict[str, str],
        message: str,
        repo: str = FIXTURE,
        branch: str = "main",
        start: str | None = None,
    ) -> str:
        """Commit ``files`` (path → content) on ``branch`` of a fixture repo; return the SHA.
        With ``start`` (a branch or tag), ``branch`` is created from it."""
        bare = self.repos / repo
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / "w"
            _git("clone", "--branch", start or branch, bare, work)
            if start:
                _git("checkout", "-b", branch, cwd=work)
            for rel, content in files.items():
                target = work / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content)
            _git("add", "-A", cwd=work)
            _git("commit", "-m", message, cwd=work)
            _git("push", "origin", branch, cwd=work)
            return _git("rev-parse", "HEAD", cwd=work)

    def head(self, repo: str = FIXTURE, ref: str = "main") -> str:
        return _git("rev-parse", ref, cwd=self.repos / repo)

    # -- lifecycle --------------------------------------------------------------------------

    def up(self, progress: Progress = print) -> None:
        self._private()
        htpasswd(self.state / "htpasswd", {"git": self.token})
        self._ssh_keys()
        self._fixture()
        for service in self._services():
            if not service.running():
                if service.name == "git-fcgiwrap":
                    (self.state / "fcgiwrap.sock").unlink(missing_ok=True)  # left by a crash
                progress(f"git: starting {service.name}")
            service.start()
        progress(f"git: ready ({self.https_url()}, ssh port {self.ports.git_ssh})")

    def started(self) -> bool:
        """Whether ``up`` ever started a process here (see :func:`ever_started`)."""
        return ever_started(self.PROCESSES, self.state, _paths.logs_dir())

    def down(self) -> None:
        if not self.started():  # nothing to stop, and no config to build the services from
            return
        for service in reversed(self._services()):
            service.stop()
        (self.state / "fcgiwrap.sock").unlink(missing_ok=True)

    def status(self) -> list[dict[str, Any]]:
        if not self.started():
            return [not_started(n) for n in self.PROCESSES]
        return [s.describe() for s in self._services()]
