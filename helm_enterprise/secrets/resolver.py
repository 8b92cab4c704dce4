"""Batched, cached resolution of secret references for one program run.

Every release of a program shares one resolver. :meth:`SecretResolver.prefetch` reads all
distinct (path, version) pairs it is given in parallel, each exactly once per run; later
lookups are served from memory. Values are never written to disk: caching secrets across
runs would put them on the machine's filesystem outside Vault's control.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor

from helm_enterprise.config.secrets import VaultRef
from helm_enterprise.errors import ConfigError, SecretBackendError
from helm_enterprise.secrets._backend import SecretBackend, SecretData

_Key = tuple[str, int | None]


class SecretResolver:
    """Resolves :class:`VaultRef` references through the configured backends."""

    def __init__(self, backends: Mapping[str, SecretBackend], max_workers: int = 8) -> None:
        self._backends = dict(backends)
        self._max_workers = max_workers
        self._cache: dict[_Key, SecretData] = {}
        self._errors: dict[_Key, SecretBackendError] = {}
        self._lock = threading.Lock()

    def backend(self, scheme: str) -> SecretBackend:
        try:
            return self._backends[scheme]
        except KeyError:
            raise ConfigError(
                f"{scheme} references are used but no {scheme} backend is configured",
                path=scheme,
                hint="set helm-enterprise:vault (or VAULT_ADDR and VAULT_TOKEN)",
            ) from None

    @staticmethod
    def _key(ref: VaultRef) -> _Key:
        return (ref.path, ref.version)

    def prefetch(self, refs: Iterable[VaultRef]) -> None:
        """Read every not-yet-read path of ``refs`` in parallel (one read per path)."""
        with self._lock:
            todo = sorted(
                {self._key(r) for r in refs} - self._cache.keys() - self._errors.keys(),
                key=lambda k: (k[0], k[1] or 0),
            )
        if not todo:
            return
        backend = self.backend("vault")
        workers = min(self._max_workers, len(todo))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="secret-read") as pool:
            futures = {key: pool.submit(backend.read, key[0], key[1]) for key in todo}
            for key, fut in futures.items():
                try:
                    data = fut.result()
                except SecretBackendError as err:
                    with self._lock:
                        self._errors[key] = err
                else:
                    with self._lock:
                        self._cache[key] = data

    def data(self, ref: VaultRef) -> SecretData:
        key = self._key(ref)
        with self._lock:
            cached = self._cache.get(key)
            err = self._errors.get(key)
        if cached is None and err is None:
            self.prefetch([ref])
            with self._lock:
                cached = self._cache.get(key)
                err = self._errors.get(key)
        if err is not None:
            raise err
        assert cached is not None
        return cached

    def value(self, ref: VaultRef) -> str:
        """The value of ``ref``'s key. Raises SecretBackendError naming path and key."""
        data = self.data(ref)
        if ref.key not in data.data:
            keys = ", ".join(sorted(data.data)) or "none"
            raise SecretBackendError(
                f"{self.backend('vault').describe()}: secret {ref.path} has no key "
                f"{ref.key!r} (keys there: {keys})",
                reference=ref.describe(),
            )
        return data.data[ref.key]

    def version(self, ref: VaultRef) -> int | None:
        return self.data(ref).version

    @property
    def cached_paths(self) -> int:
        with self._lock:
            return len(self._cache)
