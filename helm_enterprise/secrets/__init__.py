"""Secret backends (Vault first) behind the :class:`SecretBackend` protocol, a batched
per-run resolver, and the injection of resolved values into chart values as Pulumi
secrets."""

from __future__ import annotations

from helm_enterprise.secrets._backend import SecretBackend, SecretData
from helm_enterprise.secrets.resolver import SecretResolver
from helm_enterprise.secrets.vault import VaultBackend

__all__ = ["SecretBackend", "SecretData", "SecretResolver", "VaultBackend"]
