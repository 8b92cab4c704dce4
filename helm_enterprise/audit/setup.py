"""Building the process's :class:`~helm_enterprise.audit.events.Auditor` from
:class:`~helm_enterprise.config.audit.AuditConfig`.

Keys and tokens are read through a :data:`SecretReader`, which the caller supplies: the
program's (the platform's Vault resolver, its cluster, its stack config), or
:class:`KeyReader` with Vault from the environment (``VAULT_ADDR``/``VAULT_TOKEN``) and the
ambient kubeconfig, for the CLI and other processes. A setting that cannot be applied (a
key that cannot be read, a sink that cannot be built) is a warning and an
``audit-config-error`` record, never an error that stops a deployment: the local log still
records everything.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from helm_enterprise.audit.buffer import DiskBuffer
from helm_enterprise.audit.events import (
    Auditor,
    _auditor_is,
    default_buffer_dir,
    set_auditor,
    warn,
)
from helm_enterprise.audit.log import AuditLog, default_log_path
from helm_enterprise.audit.redact import register_secret, scrub_text
from helm_enterprise.audit.signing import Signer, make_signer
from helm_enterprise.audit.sinks import FileSink, HttpSink, Sink, SyslogSink, buffer_key
from helm_enterprise.config._base import validate_model
from helm_enterprise.config.audit import (
    AuditConfig,
    FileSinkConfig,
    HttpSinkConfig,
    SyslogSinkConfig,
    sink_name,
)
from helm_enterprise.config.secrets import ConfigRef, SecretKeyRef, VaultRef
from helm_enterprise.errors import AuditError, HelmEnterpriseError, SecretBackendError

CONFIG_ENV = "HELM_ENTERPRISE_AUDIT_CONFIG"
KeyRefType = VaultRef | SecretKeyRef | ConfigRef
SecretReader = Callable[[KeyRefType], str]


class KeyReader:
    """Reads a key reference: Vault through a resolver or a function returning one
    (default: Vault from the environment), Kubernetes Secrets through the ambient (or
    given) kubeconfig, stack config through ``config`` inside a Pulumi program."""

    def __init__(
        self,
        vault: Any | None = None,
        cluster: Any | None = None,
        config: Callable[[str], str | None] | None = None,
    ) -> None:
        self._vault = vault
        self._cluster = cluster
        self._config = config

    def __call__(self, ref: KeyRefType) -> str:
        if isinstance(ref, VaultRef):
            return self._read_vault(ref)
        if isinstance(ref, SecretKeyRef):
            return self._read_kubernetes(ref)
        return self._read_config(ref)

    def _read_vault(self, ref: VaultRef) -> str:
        resolver = self._vault
        if callable(resolver) and not hasattr(resolver, "value"):
            resolver = resolver()  # a factory, e.g. Platform.resolver: Vault only if used
        if resolver is None:
            from helm_enterprise.config.stack import VaultConfig
            from helm_enterprise.secrets.resolver import SecretResolver
            from helm_enterprise.secrets.vault import VaultBackend

            if not os.environ.get("VAULT_ADDR"):
                raise AuditError(
                    f"{ref.describe()}: no Vault configured (set VAULT_ADDR and VAULT_TOKEN, "
                    "or helm-enterprise:vault in the program)"
                )
            resolver = SecretResolver({"vault": VaultBackend(VaultConfig())})
            self._vault = resolver
        return str(resolver.value(ref))

    def _read_kubernetes(self, ref: SecretKeyRef) -> str:
        # The one reader of Kubernetes Secrets (secrets/kubernetes.py), not a second one.
        from helm_enterprise.kube.client import ClusterAccess
        from helm_enterprise.secrets.kubernetes import KubernetesSecretBackend
        from helm_enterprise.secrets.resolver import SecretResolver

        backend = KubernetesSecretBackend(self._cluster or ClusterAccess())
        try:
            return SecretResolver({"k8s": backend}).value(ref).strip()
        except SecretBackendError as err:
            raise AuditError(f"{ref.describe()}: {err}") from None

    def _read_config(self, ref: ConfigRef) -> str:
        value = self._config(ref.config) if self._config else None
        if not value:
            raise AuditError(
                f"{ref.describe()}: stack config is only readable inside the Pulumi program; "
                "use a Vault or Kubernetes Secret reference for keys other processes need"
            )
        return value


def _signer(config: AuditConfig, read: SecretReader) -> Signer | None:
    signing = config.signing
    if signing is None:
        return None
    material = read(signing.key)
    register_secret(material)
    kid = signing.key_id or (signing.key.describe() if signing.method == "hmac" else "")
    return make_signer(signing.method, material, kid)


def make_sink(
    name: str, config: FileSinkConfig | SyslogSinkConfig | HttpSinkConfig, read: SecretReader
) -> Sink:
    """The sink a config entry describes (reads its token, if any)."""
    if isinstance(config, FileSinkConfig):
        return FileSink(name, config)
    if isinstance(config, SyslogSinkConfig):
        return SyslogSink(name, config)
    token = read(config.token) if config.token is not None else None
    if token:
        register_secret(token)
    return HttpSink(name, config, token)


def build_auditor(config: AuditConfig | None, read: SecretReader | None = None) -> Auditor:
    """An auditor for ``config`` (None: the local log alone). Problems are warned about and
    recorded; what works is used."""
    if config is None:
        return Auditor()
    read = read or KeyReader()
    problems: list[str] = []
    signer = None
    try:
        signer = _signer(config, read)
    except (HelmEnterpriseError, ValueError, OSError) as err:
        problems.append(f"signing disabled: {err}")
    log = AuditLog(
        Path(config.log).expanduser() if config.log else default_log_path(),
        rotate_bytes=config.rotate_bytes,
        retention_days=config.retention_days,
        signer=signer,
    )
    buffers = Path(config.buffer_dir).expanduser() if config.buffer_dir else default_buffer_dir()
    sinks: list[tuple[Sink, DiskBuffer]] = []
    for i, entry in enumerate(config.sinks):
        name = sink_name(entry, i)
        try:
            sink = make_sink(name, entry, read)
        except (HelmEnterpriseError, ValueError, OSError) as err:
            problems.append(f"sink {name} disabled: {err}")
            continue
        buffer = DiskBuffer(buffers / f"{buffer_key(sink)}.jsonl", entry.buffer_max_bytes)
        sinks.append((sink, buffer))
    auditor = Auditor(
        log,
        sinks,
        actor=config.actor,
        record_previews=config.record_previews,
        flush_timeout=config.flush_timeout,
    )
    for problem in problems:
        message = scrub_text(problem)
        warn(f"audit: {message}")
        auditor.report("audit-config-error", {"error": message})
    return auditor


_installed: tuple[str, Auditor] | None = None
_install_lock = threading.Lock()


def install(config: AuditConfig | None, read: SecretReader | None = None) -> Auditor:
    """Make ``config`` the process's audit setup (idempotent for the same config)."""
    global _installed  # noqa: PLW0603 - one audit setup per process
    key = config.model_dump_json() if config is not None else ""
    with _install_lock:
        if _installed is not None and _installed[0] == key and _auditor_is(_installed[1]):
            return _installed[1]
        built = build_auditor(config, read)
        set_auditor(built)
        _installed = (key, built)
        return built


def load_config_file(path: Path) -> AuditConfig:
    """An AuditConfig from a YAML or JSON file (``helm-enterprise:audit``'s value)."""
    try:
        text = path.read_text()
    except OSError as err:
        raise AuditError(f"audit config {path}: {err.strerror or err}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as err:
        raise AuditError(
            f"audit config {path}: not valid YAML/JSON ({type(err).__name__})"
        ) from None
    if isinstance(data, dict) and "helm-enterprise:audit" in data:
        data = data["helm-enterprise:audit"]
    return validate_model(AuditConfig, data, "audit")


def from_environment() -> Auditor:
    """The auditor of a process that is not configured explicitly: the file named by
    ``HELM_ENTERPRISE_AUDIT_CONFIG``, else the local log alone."""
    path = os.environ.get(CONFIG_ENV)
    if not path:
        return Auditor()
    try:
        config = load_config_file(Path(path).expanduser())
    except HelmEnterpriseError as err:
        auditor = Auditor()
        warn(f"audit: {CONFIG_ENV}: {err}; recording to the local log only")
        auditor.report("audit-config-error", {"error": scrub_text(str(err))})
        return auditor
    return build_auditor(config)
