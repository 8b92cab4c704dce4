"""debian: the sandbox's ordinary servers, taken from Debian packages instead of built.

nginx (chart repository over HTTP/HTTPS with basic auth, and the front of Git smart HTTP),
fcgiwrap + git-http-backend (Git over HTTP), openssh-server (Git over SSH), prometheus
(metric health checks and canary analysis) and docker-registry (distribution v2.8: the OCI
registry for Helm OCI charts), and containerd + runc + containernetworking-plugins (the
container runtime and pod network of the sandbox's one real node) are stable, packaged,
and nothing in the tests depends on a particular upstream release, so building them from
Go modules would cost time for nothing.

What the recipe does, and why:

* Installs only the packages that are missing, with ``apt-get install -y
  --no-install-recommends`` (recommends would pull prometheus-node-exporter, one more
  service). Installing needs root; run as another user it fails with the exact
  ``sudo apt-get ...`` command to run instead of escalating by itself.
* **Never leaves the packages' own services running.** The sandbox starts its own
  instances on loopback ports with its own configs; a system nginx on :80 or sshd on :22
  would be a surprise on a developer machine. During the install a ``policy-rc.d`` that
  answers 101 ("action forbidden") keeps maintainer scripts from starting anything (Debian's
  documented mechanism, honoured by invoke-rc.d and deb-systemd-invoke). If the machine
  already has a policy-rc.d it is left as it is. Afterwards the services of the packages
  this run installed are disabled (``systemctl disable --now`` under systemd,
  ``update-rc.d <svc> disable`` otherwise) so they do not start at the next boot either;
  any process of those binaries that appeared during the install is stopped.
  Packages that were already installed are not touched: their services are the owner's.
* Symlinks the binaries into the toolchain ``bin/`` so the sandbox finds every tool in one
  place. ``git-http-backend`` lives in ``/usr/lib/git-core`` (off PATH). The CNI plugins
  the real node needs (bridge, host-local, loopback) are linked into ``cni-bin/`` next to
  ``bin/``: a CNI ``bin_dir`` is searched by plugin name, so it gets a directory of its own.

The install time goes to the family log and the stamp.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from helm_enterprise.errors import ToolchainError
from helm_enterprise.sandbox.toolchain._recipe import BuildContext, Recipe

# binary name in bin/ -> (Debian package, path the package installs it to)
BINARIES: dict[str, tuple[str, str]] = {
    "nginx": ("nginx", "/usr/sbin/nginx"),
    "fcgiwrap": ("fcgiwrap", "/usr/sbin/fcgiwrap"),
    "sshd": ("openssh-server", "/usr/sbin/sshd"),
    "ssh-keygen": ("openssh-client", "/usr/bin/ssh-keygen"),
    "prometheus": ("prometheus", "/usr/bin/prometheus"),
    "promtool": ("prometheus", "/usr/bin/promtool"),
    "docker-registry": ("docker-registry", "/usr/bin/docker-registry"),
    "git": ("git", "/usr/bin/git"),
    "git-http-backend": ("git", "/usr/lib/git-core/git-http-backend"),
    # The real sandbox node's container runtime (containerd 1.6 + runc 1.1).
    "containerd": ("containerd", "/usr/bin/containerd"),
    "containerd-shim-runc-v2": ("containerd", "/usr/bin/containerd-shim-runc-v2"),
    "ctr": ("containerd", "/usr/bin/ctr"),
    "runc": ("runc", "/usr/sbin/runc"),
}
# CNI plugins the real node uses, linked as <toolchain>/cni-bin/<name> (the node's CNI
# bin_dir holds only these, not every plugin the package ships).
CNI_PLUGINS: dict[str, tuple[str, str]] = {
    name: ("containernetworking-plugins", f"/usr/lib/cni/{name}")
    for name in ("bridge", "host-local", "loopback")
}
PACKAGES = tuple(
    sorted({pkg for pkg, _ in BINARIES.values()} | {pkg for pkg, _ in CNI_PLUGINS.values()})
)

# The init services each package ships (systemd units and/or /etc/init.d scripts).
SERVICES: dict[str, tuple[str, ...]] = {
    "nginx": ("nginx",),
    "fcgiwrap": ("fcgiwrap.socket", "fcgiwrap"),
    "openssh-server": ("ssh.socket", "ssh"),
    "prometheus": ("prometheus",),
    "docker-registry": ("docker-registry",),
    "containerd": ("containerd",),
    "containernetworking-plugins": ("cni-dhcp.socket", "cni-dhcp"),
}

POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
_APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}


def installed(package: str) -> bool:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.returncode == 0 and out.stdout.strip().endswith(" installed")


def _apt_command(packages: list[str]) -> str:
    return "apt-get install -y --no-install-recommends " + " ".join(packages)


def _pids_of(paths: set[str]) -> set[int]:
    """Pids of running processes whose executable is one of ``paths``."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.readlink(entry / "exe") in paths:
                pids.add(int(entry.name))
    return pids


@contextlib.contextmanager
def _services_forbidden(ctx: BuildContext) -> Iterator[None]:
    """A temporary ``policy-rc.d`` (exit 101) unless the machine already has one."""
    if POLICY_RC_D.exists():
        ctx.log.note(f"{POLICY_RC_D} exists; relying on it")
        yield
        return
    POLICY_RC_D.write_text(
        "#!/bin/sh\n# helm-enterprise toolchain: no service starts during install\nexit 101\n"
    )
    POLICY_RC_D.chmod(0o755)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            POLICY_RC_D.unlink()


def _disable_services(ctx: BuildContext, packages: list[str]) -> None:
    systemd = Path("/run/systemd/system").is_dir()
    for pkg in packages:
        for svc in SERVICES.get(pkg, ()):
            if systemd:
                argv = ["systemctl", "disable", "--now", svc]
            elif not svc.endswith(".socket") and Path(f"/etc/init.d/{svc}").exists():
                argv = ["update-rc.d", svc, "disable"]
            else:
                continue
            # A unit a package does not ship on this release is not an error.
            proc = subprocess.run(argv, capture_output=True, text=True, check=False)
            ctx.log.note(f"{' '.join(argv)} -> exit {proc.returncode}")


def _build(ctx: BuildContext) -> None:
    missing = [p for p in PACKAGES if not installed(p)]
    if missing:
        if shutil.which("apt-get") is None:
            raise ToolchainError(
                f"debian: packages {missing} are missing and this is not a Debian/Ubuntu "
                "system; install nginx, fcgiwrap, openssh-server, prometheus, "
                "docker-registry (distribution v2), git, containerd 1.6, runc and the CNI "
                "plugins (bridge, host-local, loopback) by other means"
            )
        if os.geteuid() != 0:
            raise ToolchainError(
                f"debian: packages {missing} are missing and installing them needs root; run:\n"
                f"  sudo apt-get update && sudo {_apt_command(missing)}\n"
                "then run the toolchain again (their services are not needed: "
                "`sudo systemctl disable --now` them if your system started them)"
            )
        paths = {path for pkg, path in BINARIES.values() if pkg in missing}
        before = _pids_of(paths)
        started = time.monotonic()
        with _services_forbidden(ctx):
            ctx.log.run(["apt-get", "update"], env=_APT_ENV, what="apt-get update")
            ctx.log.run(
                ["apt-get", "install", "-y", "--no-install-recommends", *missing],
                env=_APT_ENV,
                what=_apt_command(missing),
            )
        _disable_services(ctx, missing)
        # Anything of these binaries that appeared during the install was started by it.
        for pid in _pids_of(paths) - before:
            ctx.log.note(f"stopping pid {pid}, started by the package install")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        ctx.log.note(f"installed {' '.join(missing)} in {time.monotonic() - started:.0f}s")
    else:
        ctx.log.note("all packages already installed")
    _link_all(BINARIES, ctx.layout.bin)
    _link_all(CNI_PLUGINS, ctx.layout.cni_bin)


def _link_all(links: dict[str, tuple[str, str]], into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    for name, (pkg, path) in links.items():
        src = Path(path)
        if not src.exists():
            raise ToolchainError(f"debian: {pkg} is installed but {path} is missing")
        dest = into / name
        if dest.is_symlink() or dest.exists():
            dest.unlink()
        dest.symlink_to(src)


RECIPES = [
    Recipe(
        family="debian",
        version="bookworm",
        binaries=tuple(BINARIES),
        key=(
            "debian",
            *PACKAGES,
            *(f"{b}={p}" for b, (_, p) in sorted(BINARIES.items())),
            *(f"cni-bin/{b}={p}" for b, (_, p) in sorted(CNI_PLUGINS.items())),
            "v2",
        ),
        build=_build,
        estimate_minutes=2,
        description=(
            "Debian: nginx, fcgiwrap, openssh-server, prometheus, docker-registry, git, "
            "containerd, runc, CNI plugins"
        ),
    )
]
