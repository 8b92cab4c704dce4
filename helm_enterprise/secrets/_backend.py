"""The SecretBackend protocol: how a secret store plugs into helm_enterprise.

A backend reads *one path* and returns every key at that path. Batching, de-duplication,
parallelism and the per-run cache are the resolver's job (:mod:`.resolver`), so a new
backend (AWS Secrets Manager, Azure Key Vault, ...) is a single method plus error mapping.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Protocol, runtime_checkable


@dataclasses.dataclass(frozen=True)
class SecretData:
    """All keys stored at one path, and the store's version of them when it has one.

    ``__repr__`` never shows values, so a SecretData in a traceback or log leaks nothing.
    """

    data: Mapping[str, str]
    version: int | None = None

    def __repr__(self) -> str:
        return f"SecretData(keys={sorted(self.data)}, version={self.version})"


@runtime_checkable
class SecretBackend(Protocol):
    """A secret store. ``scheme`` is the reference prefix it serves (``vault``)."""

    scheme: str

    def describe(self) -> str:
        """Where the store is (``Vault at https://vault:8200``), for messages."""
        ...

    def read(self, path: str, version: int | None = None) -> SecretData:
        """Read every key at ``path``.

        Raises :class:`~helm_enterprise.errors.SecretBackendError` naming the path (never
        a value) when the store is unreachable, denies access or has nothing there.
        """
        ...
