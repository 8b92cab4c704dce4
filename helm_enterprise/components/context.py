"""What all components of one program share: stack settings and per-run caches.

A :class:`Platform` holds the secret resolver (one per program, so reads are batched and
each path is read once per run) with one backend per reference scheme, the declared
repositories, global timeouts and how to reach the cluster for pre-apply checks.
:func:`default_platform` builds it lazily from the stack config (``helm-enterprise:vault``,
``:secrets``, ``:repositories``, ``:timeouts``, ``:cluster``), so ``Release("web", {...})``
works with no extra wiring; pass ``platform=`` to override.

The outside world is injected here: ``Platform(secret_backends={"aws": MyBackend()},
access=ClusterAccess(kubeconfig=...))`` is the public seam for a program's own secret
stores and cluster credentials; the built-in backends are only defaults under it.
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
from helm_enterprise.config.stack import (
    ClusterConfig,
    CredentialSource,
    PrometheusConfig,
    SecretsConfig,
    VaultConfig,
)
from helm_enterprise.config.tenant import TenancyConfig, TenantConfig, TierConfig
from helm_enterprise.errors import ConfigError
from helm_enterprise.kube.client import ClusterAccess
from helm_enterprise.secrets._backend import SecretBackend
from helm_enterprise.secrets.kubernetes import KubernetesSecretBackend
from helm_enterprise.secrets.local import EnvBackend, FileBackend
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
    """Shared settings and caches for every release of a program.

    Args:
        vault: the Vault backend's settings (``helm-enterprise:vault``); default: Vault
            from ``VAULT_ADDR``/``VAULT_TOKEN`` when set, else none.
        secret_backends: secret stores by reference scheme (``{"aws": backend}`` serves
            ``aws:path#key``), each a :class:`~helm_enterprise.SecretBackend`. They are
            added to the built-ins (``vault``, ``env``, ``file``, ``k8s`` unless
            ``secrets.k8s.reader`` is ``pulumi``) and replace a built-in of the same
            scheme.
        secrets: settings of the built-in ``file``/``k8s`` backends
            (``helm-enterprise:secrets``).
        access: how to reach the cluster (pre-apply checks, ``k8s`` backend); default:
            built from ``cluster``.
    """

    vault: VaultConfig | None = None
    secret_backends: dict[str, SecretBackend] = dataclasses.field(default_factory=dict)
    secrets: SecretsConfig | None = None
    access: ClusterAccess | None = None
    repositories: dict[str, RepositoryConfig] = dataclasses.field(default_factory=dict)
    timeouts: TimeoutConfig | None = None
    cluster: ClusterConfig | None = None
    base_dir: Path = dataclasses.field(default_factory=Path.cwd)
    # Tenants (T2.2) by name, and the user's tiers; a Tenant component adds its own.
    tenants: dict[str, TenantConfig] = dataclasses.field(default_factory=dict)
    tiers: dict[str, TierConfig] = dataclasses.field(default_factory=dict)
    audit: AuditConfig | None = None  # helm-enterprise:audit (T2.3)
    policy_summary: bool = False  # helm-enterprise:policySummary (T4.2)
    prometheus: PrometheusConfig | None = None  # helm-enterprise:prometheus (T4.3, SLOs)
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
        """``access`` when given, else the stack's ``cluster`` (or the ambient kubeconfig)."""
        return self.access or ClusterAccess.from_config(self.cluster)

    def resolver(self) -> SecretResolver | None:
        """The program's secret resolver: the built-in backends plus ``secret_backends``.

        Vault is among them only when configured (``vault`` or ``VAULT_ADDR``); using a
        Vault reference without it is an error when a release resolves it.
        """
        with self._lock:
            if self._resolver is None:
                self._resolver = self._new_resolver()
            return self._resolver

    def _new_resolver(self) -> SecretResolver:
        settings = self.secrets or SecretsConfig()
        root = self.base_dir
        if settings.file.root:
            root = self.base_dir / Path(settings.file.root).expanduser()
        backends: dict[str, SecretBackend] = {"env": EnvBackend(), "file": FileBackend(root)}
        cfg = self.vault
        if cfg is None and os.environ.get("VAULT_ADDR"):
            cfg = VaultConfig()
        if cfg is not None:
            backends["vault"] = VaultBackend(cfg, credentials=read_pulumi_credential)
        k8s_access = self._k8s_secrets_access()
        if k8s_access is not None:
            backends["k8s"] = KubernetesSecretBackend(k8s_access)
        backends.update(self.secret_backends)
        return SecretResolver(backends, cfg.max_parallel_reads if cfg else 8)

    def for_cluster(self, kubeconfig: str | None, context: str | None) -> Platform:
        """This platform for one cluster of a multi-cluster release: the stack's other
        settings (``cluster.unreachable``, ...) with that cluster's access, and the same
        resolver (one batch and cache for the program), whose built-in ``k8s`` backend
        reads that cluster's Secrets unless the stack names one cluster for them."""
        scoped = dataclasses.replace(
            self,
            cluster=(self.cluster or ClusterConfig()).model_copy(
                update={"kubeconfig": kubeconfig, "context": context}
            ),
            access=None,  # the program's own access names another cluster
        )
        resolver = self.resolver()
        k8s = (self.secrets or SecretsConfig()).k8s
        access = scoped._k8s_secrets_access()
        if resolver is not None and access is not None and not (k8s.kubeconfig or k8s.context):
            resolver = resolver.scoped(
                ("k8s", access), lambda: {"k8s": KubernetesSecretBackend(access)}
            )
        scoped._resolver = resolver
        return scoped

    def _k8s_secrets_access(self) -> ClusterAccess | None:
        """The cluster the built-in ``k8s`` backend reads: ``secrets.k8s``'s fields over
        this platform's access; None when it has no such backend (``reader: pulumi``, or a
        ``k8s`` backend of the program's own)."""
        k8s = (self.secrets or SecretsConfig()).k8s
        if k8s.reader != "backend" or "k8s" in self.secret_backends:
            return None
        access = self.cluster_access
        return ClusterAccess(k8s.kubeconfig or access.kubeconfig, k8s.context or access.context)

    def vault_resolver(self) -> SecretResolver | None:
        """The resolver when it serves Vault references, else None."""
        resolver = self.resolver()
        return resolver if resolver is not None and resolver.serves("vault") else None

    def install_audit(self) -> None:
        """Route audit events as ``helm-enterprise:audit`` says (idempotent); keys and
        tokens are read through this platform's Vault, cluster and stack config."""
        if self.audit is None:
            return
        from helm_enterprise.audit.setup import KeyReader, install

        def stack_secret(key: str) -> str | None:
            ns, _, name = key.rpartition(":")
            return pulumi.Config(ns or CONFIG_NAMESPACE).get(name)

        install(self.audit, KeyReader(self.vault_resolver, self.cluster_access, stack_secret))

    @classmethod
    def from_stack_config(cls, **overrides: Any) -> Platform:
        """The platform the stack config describes; ``overrides`` set fields of your own,
        e.g. ``Platform.from_stack_config(secret_backends={"aws": AwsBackend(...)})``.

        Raises:
            ConfigError: a ``helm-enterprise:*`` key is invalid (names the field).
        """
        cfg = pulumi.Config(CONFIG_NAMESPACE)

        def obj(key: str) -> Any:
            return cfg.get_object(key)

        vault = obj("vault")
        secrets = obj("secrets")
        repos = obj("repositories") or {}
        timeouts = obj("timeouts")
        cluster = obj("cluster")
        audit = obj("audit")
        prom = obj("prometheus")
        if not isinstance(repos, dict):
            raise ConfigError("must be a map of name → repository", path="repositories")
        tenancy = validate_model(
            TenancyConfig, {"tenants": obj("tenants") or [], "tiers": obj("tiers") or {}}
        )
        platform = cls(
            vault=validate_model(VaultConfig, vault, "vault") if vault is not None else None,
            secrets=(
                validate_model(SecretsConfig, secrets, "secrets") if secrets is not None else None
            ),
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
            prometheus=(
                validate_model(PrometheusConfig, prom, "prometheus") if prom is not None else None
            ),
        )
        return dataclasses.replace(platform, **overrides) if overrides else platform


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
