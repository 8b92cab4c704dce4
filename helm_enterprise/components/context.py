"""What all components of one program share: stack settings and per-run caches.

A :class:`Platform` holds the Vault resolver (one per program, so reads are batched and
each path is read once per run), the declared repositories, global timeouts and how to
reach the cluster for pre-apply checks. :func:`default_platform` builds it lazily from the
stack config (``helm-enterprise:vault``, ``:repositories``, ``:timeouts``, ``:cluster``),
so ``Release("web", {...})`` works with no extra wiring; pass ``platform=`` to override.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from pathlib import Path
from typing import Any

import pulumi

from helm_enterprise.config._base import validate_model
from helm_enterprise.config.audit import AuditConfig
from helm_enterprise.config.release import RepositoryConfig, TimeoutConfig
from helm_enterprise.config.stack import ClusterConfig, CredentialSource, VaultConfig
from helm_enterprise.config.tenant import TenancyConfig, TenantConfig, TierConfig
from helm_enterprise.errors import ConfigError
from helm_enterprise.kube.client import ClusterAccess
from helm_enterprise.secrets.resolver import SecretResolver
from helm_enterprise.secrets.vault import VaultBackend, read_credential

CONFIG_NAMESPACE = "helm-enterprise"


def read_pulumi_credential(source: CredentialSource) -> str:
    """Credential reader that also understands ``{config: key}`` (a secret stack value)."""
    if source.config:
        ns, _, key = source.config.rpartition(":")
        value = pulumi.Config(ns or CONFIG_NAMESPACE).get(key)
        if value is None:
            raise ConfigError(
                f"stack config {ns or CONFIG_NAMESPACE}:{key} is not set",
                path="vault.auth",
                hint=f"pulumi config set --secret {ns or CONFIG_NAMESPACE}:{key} <value>",
            )
        return value
    return read_credential(source)


@dataclasses.dataclass
class Platform:
    """Shared settings and caches for every release of a program."""

    vault: VaultConfig | None = None
    repositories: dict[str, RepositoryConfig] = dataclasses.field(default_factory=dict)
    timeouts: TimeoutConfig | None = None
    cluster: ClusterConfig | None = None
    base_dir: Path = dataclasses.field(default_factory=Path.cwd)
    # Tenants (T2.2) by name, and the user's tiers; a Tenant component adds its own.
    tenants: dict[str, TenantConfig] = dataclasses.field(default_factory=dict)
    tiers: dict[str, TierConfig] = dataclasses.field(default_factory=dict)
    audit: AuditConfig | None = None  # helm-enterprise:audit (T2.3)
    policy_summary: bool = False  # helm-enterprise:policySummary (T4.2)
    # Tenants whose identity the cluster already confirmed this run (resource name →
    # config), by ``check_tenants``: their constructors do not read the cluster again.
    checked_tenants: dict[str, TenantConfig] = dataclasses.field(
        default_factory=dict, init=False, repr=False
    )
    _resolver: SecretResolver | None = dataclasses.field(default=None, init=False, repr=False)
    _lock: threading.Lock = dataclasses.field(
        default_factory=threading.Lock, init=False, repr=False
    )

    @property
    def cluster_access(self) -> ClusterAccess:
        return ClusterAccess.from_config(self.cluster)

    def resolver(self) -> SecretResolver | None:
        """The Vault resolver, or None when no Vault is configured (not an error until a
        release actually uses a Vault reference)."""
        with self._lock:
            if self._resolver is None:
                cfg = self.vault
                if cfg is None and os.environ.get("VAULT_ADDR"):
                    cfg = VaultConfig()
                if cfg is None:
                    return None
                backend = VaultBackend(cfg, credentials=read_pulumi_credential)
                self._resolver = SecretResolver({"vault": backend}, cfg.max_parallel_reads)
            return self._resolver

    def install_audit(self) -> None:
        """Route audit events as ``helm-enterprise:audit`` says (idempotent); keys and
        tokens are read through this platform's Vault, cluster and stack config."""
        if self.audit is None:
            return
        from helm_enterprise.audit.setup import KeyReader, install

        def stack_secret(key: str) -> str | None:
            ns, _, name = key.rpartition(":")
            return pulumi.Config(ns or CONFIG_NAMESPACE).get(name)

        install(self.audit, KeyReader(self.resolver, self.cluster_access, stack_secret))

    @classmethod
    def from_stack_config(cls) -> Platform:
        cfg = pulumi.Config(CONFIG_NAMESPACE)

        def obj(key: str) -> Any:
            return cfg.get_object(key)

        vault = obj("vault")
        repos = obj("repositories") or {}
        timeouts = obj("timeouts")
        cluster = obj("cluster")
        audit = obj("audit")
        if not isinstance(repos, dict):
            raise ConfigError("must be a map of name → repository", path="repositories")
        tenancy = validate_model(
            TenancyConfig, {"tenants": obj("tenants") or [], "tiers": obj("tiers") or {}}
        )
        return cls(
            vault=validate_model(VaultConfig, vault, "vault") if vault is not None else None,
            repositories={
                name: validate_model(RepositoryConfig, r, f"repositories.{name}")
                for name, r in repos.items()
            },
            timeouts=validate_model(TimeoutConfig, timeouts, "timeouts") if timeouts else None,
            cluster=validate_model(ClusterConfig, cluster, "cluster") if cluster else None,
            tenants={t.name: t for t in tenancy.tenants},
            tiers=dict(tenancy.tiers),
            audit=validate_model(AuditConfig, audit, "audit") if audit is not None else None,
            policy_summary=bool(cfg.get_bool("policySummary")),
        )


_default: Platform | None = None
_default_lock = threading.Lock()


def default_platform() -> Platform:
    """The program-wide platform built from stack config on first use."""
    global _default  # noqa: PLW0603 - one shared instance per program run is the point
    with _default_lock:
        if _default is None:
            _default = Platform.from_stack_config()
        return _default


def set_default_platform(platform: Platform | None) -> None:
    """Replace the program-wide platform (tests and the root program use this)."""
    global _default  # noqa: PLW0603
    with _default_lock:
        _default = platform
