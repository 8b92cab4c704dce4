"""Secret backends behind the :class:`SecretBackend` protocol (Vault, Kubernetes Secrets,
environment variables and files, or a program's own), a batched per-run resolver, and the
injection of resolved values into chart values as Pulumi secrets."""

from __future__ import annotations

from helm_enterprise.secrets._backend import SecretBackend, SecretData
from helm_enterprise.secrets.kubernetes import KubernetesSecretBackend
from helm_enterprise.secrets.local import EnvBackend, FileBackend
from helm_enterprise.secrets.resolver import SecretResolver
from helm_enterprise.secrets.vault import VaultBackend

__all__ = [
    "EnvBackend",
    "FileBackend",
    "KubernetesSecretBackend",
    "SecretBackend",
    "SecretData",
    "SecretResolver",
    "VaultBackend",
]
