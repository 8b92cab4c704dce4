"""Where the sandbox keeps its state and which loopback ports it uses.

Everything lives under ``<cache>/sandbox`` (see :func:`cache_root`): one state dir per
component and one shared ``logs/`` folder, so "where are the logs?" has one answer.

Ports are derived from one base (``HELM_ENTERPRISE_SANDBOX_PORT_BASE``, default 26000) so
two checkouts can run side by side by moving the base. Cluster *i* uses
``base + 100*i + offset``; the shared services use ``base + 1000 + offset``.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from pathlib import Path

from helm_enterprise._cache import cache_root
from helm_enterprise.errors import SandboxError

# Below Linux's default ephemeral range (32768-60999): a port in that range can be taken
# by an outgoing connection (the apiserver opens dozens to etcd) and then fail to bind.
DEFAULT_PORT_BASE = 26000
PORT_SPAN = 1100  # clusters use base..base+199, services base+1000..base+1099


def sandbox_root() -> Path:
    env = os.environ.get("HELM_ENTERPRISE_SANDBOX_DIR")
    return Path(env).expanduser() if env else cache_root() / "sandbox"


def logs_dir() -> Path:
    return sandbox_root() / "logs"


def state_dir(component: str) -> Path:
    return sandbox_root() / "state" / component


def ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def port_base() -> int:
    """The base port; refuses a base whose block overlaps the ephemeral port range."""
    base = int(os.environ.get("HELM_ENTERPRISE_SANDBOX_PORT_BASE", DEFAULT_PORT_BASE))
    low, high = ephemeral_range()
    if base <= high and base + PORT_SPAN >= low:
        raise SandboxError(
            f"sandbox ports {base}..{base + PORT_SPAN} overlap the ephemeral port range "
            f"{low}..{high} (outgoing connections would steal them); set "
            f"HELM_ENTERPRISE_SANDBOX_PORT_BASE below {low - PORT_SPAN}"
        )
    return base


def replace_text(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` unless it already holds it, replacing the file whole so
    readers at any moment see the old or the new content (a temporary file per process:
    writers in several processes do not mix). Whether it changed."""
    try:
        if path.read_text() == text:
            return False
    except OSError:
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return True


def block_is_free(base: int) -> bool:
    """Whether every loopback port of the sandbox block at ``base`` can be bound now."""
    for port in range(base, base + PORT_SPAN):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_port_base(*, from_top: bool = False, avoid: range | None = None) -> int | None:
    """A base for a second sandbox (tests, benchmarks) whose whole block is free now and
    does not overlap ``avoid`` (another sandbox's block, running or not), below the
    ephemeral port range. Callers running at the same time search from opposite ends
    (``from_top``) so they do not pick the same block. None when no block is free."""
    low, _ = ephemeral_range()
    bases = list(range(14000, min(low, 31000) - PORT_SPAN, PORT_SPAN))
    for base in reversed(bases) if from_top else bases:
        overlaps = avoid is not None and base < avoid.stop and avoid.start < base + PORT_SPAN
        if not overlaps and block_is_free(base):
            return base
    return None


@dataclasses.dataclass(frozen=True)
class ClusterPorts:
    """Loopback ports of one sandbox cluster."""

    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kwok: int
    kubelet: int  # the real node's kubelet API, on the node's bridge address
    kubelet_healthz: int  # its healthz, on loopback
    metrics_server: int  # metrics-server, on the real node's bridge address

    @classmethod
    def for_index(cls, index: int, base: int | None = None) -> ClusterPorts:
        b = (port_base() if base is None else base) + 100 * index
        return cls(b, b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8)

    def all(self) -> tuple[int, ...]:
        return dataclasses.astuple(self)


@dataclasses.dataclass(frozen=True)
class ServicePorts:
    """Loopback ports of the shared services (one of each per sandbox)."""

    vault: int
    chartrepo_http: int
    chartrepo_tls: int
    git_http: int
    git_ssh: int
    registry: int
    prometheus: int
    exporter: int

    @classmethod
    def default(cls, base: int | None = None) -> ServicePorts:
        b = (port_base() if base is None else base) + 1000
        return cls(b, b + 10, b + 11, b + 20, b + 21, b + 30, b + 40, b + 41)
