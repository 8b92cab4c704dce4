"""Where the sandbox keeps its state and which loopback ports it uses.

Everything lives under ``<cache>/sandbox`` (see :func:`cache_root`): one state dir per
component and one shared ``logs/`` folder, so "where are the logs?" has one answer.

Ports are derived from one base (``HELM_ENTERPRISE_SANDBOX_PORT_BASE``, default 36000) so
two checkouts can run side by side by moving the base. Cluster *i* uses
``base + 100*i + offset``; the shared services use ``base + 1000 + offset``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from helm_enterprise._cache import cache_root

DEFAULT_PORT_BASE = 36000


def sandbox_root() -> Path:
    env = os.environ.get("HELM_ENTERPRISE_SANDBOX_DIR")
    return Path(env).expanduser() if env else cache_root() / "sandbox"


def logs_dir() -> Path:
    return sandbox_root() / "logs"


def state_dir(component: str) -> Path:
    return sandbox_root() / "state" / component


def port_base() -> int:
    return int(os.environ.get("HELM_ENTERPRISE_SANDBOX_PORT_BASE", DEFAULT_PORT_BASE))


@dataclasses.dataclass(frozen=True)
class ClusterPorts:
    """Loopback ports of one sandbox cluster."""

    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kwok: int

    @classmethod
    def for_index(cls, index: int, base: int | None = None) -> ClusterPorts:
        b = (port_base() if base is None else base) + 100 * index
        return cls(b, b + 1, b + 2, b + 3, b + 4, b + 5)

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
