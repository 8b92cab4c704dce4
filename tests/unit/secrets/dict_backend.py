"""An in-memory SecretBackend for unit tests of resolver/injector logic (the real Vault
client is exercised by the e2e tier against the sandbox's Vault)."""

from __future__ import annotations

from helm_enterprise.errors import SecretBackendError
from helm_enterprise.secrets import SecretData


class DictBackend:
    scheme = "vault"

    def __init__(
        self, data: dict[str, dict[str, str]], versions: dict[str, int] | None = None
    ) -> None:
        self.data = data
        self.versions = versions or {}
        self.reads: list[tuple[str, int | None]] = []

    def describe(self) -> str:
        return "Vault at memory://"

    def read(self, path: str, version: int | None = None) -> SecretData:
        self.reads.append((path, version))
        if path not in self.data:
            raise SecretBackendError(f"{self.describe()} has no secret at {path}", reference=path)
        return SecretData(self.data[path], self.versions.get(path))
