"""Batched, cached resolution of secret references for one program run.

Every release of a program shares one resolver, which holds one backend per reference
scheme (``vault``, ``env``, ``file``, ``k8s`` when registered, or a program's own).
:meth:`SecretResolver.prefetch` reads all distinct (scheme, path, version) triples it is
given in parallel, each exactly once per run; later lookups are served from memory.
Values are never written to disk: caching secrets across runs would put them on the
machine's filesystem outside the store's control.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor

from helm_enterprise.config.secrets import WHOLE, BackendRef, SecretKeyRef, VaultRef
from helm_enterprise.errors import ConfigError, SecretBackendError
from helm_enterprise.secrets._backend import SecretBackend, SecretData

# (scheme, path, version): what a reference asks for; a cache slot replaces the scheme with
# the number of the backend that reads it, so that resolvers sharing a cache (scoped)
# keep each backend's reads apart.
_Key = tuple[str, str, int | None]
_Slot = tuple[int, str, int | None]
_numbers = itertools.count()
# The references a backend serves. A SecretKeyRef must carry its namespace by now (the
# injector fills in the release's namespace): its path is ``namespace/name``.
StoreRef = VaultRef | BackendRef | SecretKeyRef

_HINTS = {
    "vault": "set helm-enterprise:vault (or VAULT_ADDR and VAULT_TOKEN)",
    "k8s": "set helm-enterprise:secrets.k8s.reader to backend (the default), or pass "
    "secret_backends={'k8s': KubernetesSecretBackend(...)} to Platform",
}


def locate(ref: StoreRef) -> tuple[str, str, str, int | None]:
    """(scheme, path, key, version) of a reference: what a backend is asked for."""
    if isinstance(ref, VaultRef):
        return ("vault", ref.path, ref.key, ref.version)
    if isinstance(ref, SecretKeyRef):
        return ("k8s", f"{ref.namespace or 'default'}/{ref.name}", ref.key, None)
    return (ref.scheme, ref.path, ref.key, None)


class SecretResolver:
    """Resolves references through the backend registered for their scheme."""

    def __init__(self, backends: Mapping[str, SecretBackend], max_workers: int = 8) -> None:
        self._backends = dict(backends)
        self._numbers = {scheme: next(_numbers) for scheme in self._backends}
        self._max_workers = max_workers
        self._cache: dict[_Slot, SecretData] = {}
        self._errors: dict[_Slot, SecretBackendError] = {}
        self._lock = threading.Lock()
        self._views: dict[Hashable, SecretResolver] = {}  # scoped(), shared by the views

    def scoped(
        self, name: Hashable, backends: Callable[[], Mapping[str, SecretBackend]]
    ) -> SecretResolver:
        """The view ``name`` of this resolver: ``backends()`` in place of its own of the
        same schemes (one cluster's ``k8s`` backend), sharing its cache, so that what both
        read is read once. Made on the first call for ``name``; later calls (another
        release on the same cluster) get the same view and its reads."""
        with self._lock:
            view = self._views.get(name)
            if view is None:
                replacing = backends()
                view = SecretResolver({**self._backends, **replacing}, self._max_workers)
                view._numbers = {**self._numbers, **{s: next(_numbers) for s in replacing}}
                view._cache, view._errors = self._cache, self._errors
                view._lock, view._views = self._lock, self._views
                self._views[name] = view
        return view

    def serves(self, scheme: str) -> bool:
        """Whether a backend is registered for ``scheme``."""
        return scheme in self._backends

    def backend(self, scheme: str) -> SecretBackend:
        try:
            return self._backends[scheme]
        except KeyError:
            raise ConfigError(
                f"{scheme} references are used but no {scheme} backend is configured",
                path=scheme,
                hint=_HINTS.get(
                    scheme, f"pass secret_backends={{{scheme!r}: <backend>}} to Platform"
                ),
            ) from None

    @staticmethod
    def _key(ref: StoreRef) -> _Key:
        scheme, path, _, version = locate(ref)
        return (scheme, path, version)

    def _slot(self, key: _Key) -> _Slot:
        return (self._numbers[key[0]], key[1], key[2])

    def prefetch(self, refs: Iterable[StoreRef]) -> None:
        """Read every not-yet-read path of ``refs`` in parallel (one read per path).

        References of a scheme no backend serves are left out: the lookup of the value
        (:meth:`value`) reports them, where the caller can name the field.
        """
        with self._lock:
            todo = sorted(
                {
                    k
                    for k in map(self._key, refs)
                    if k[0] in self._backends
                    and self._slot(k) not in self._cache
                    and self._slot(k) not in self._errors
                },
                key=lambda k: (k[0], k[1], k[2] or 0),
            )
        if not todo:
            return
        backends = {scheme: self.backend(scheme) for scheme in sorted({k[0] for k in todo})}
        workers = min(self._max_workers, len(todo))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="secret-read") as pool:
            futures = {key: pool.submit(backends[key[0]].read, key[1], key[2]) for key in todo}
            for key, fut in futures.items():
                try:
                    data = fut.result()
                except SecretBackendError as err:
                    with self._lock:
                        self._errors[self._slot(key)] = err
                else:
                    with self._lock:
                        self._cache[self._slot(key)] = data

    def data(self, ref: StoreRef) -> SecretData:
        key = self._key(ref)
        self.backend(key[0])  # ConfigError when no backend serves the scheme
        slot = self._slot(key)
        with self._lock:
            cached = self._cache.get(slot)
            err = self._errors.get(slot)
        if cached is None and err is None:
            self.prefetch([ref])
            with self._lock:
                cached = self._cache.get(slot)
                err = self._errors.get(slot)
        if err is not None:
            raise err
        assert cached is not None
        return cached

    def value(self, ref: StoreRef) -> str:
        """The value of ``ref``'s key. Raises SecretBackendError naming path and key."""
        data = self.data(ref)
        scheme, path, key, _ = locate(ref)
        if key not in data.data:
            keys = ", ".join(sorted(k for k in data.data if k != WHOLE)) or "none"
            what = (
                f"has no key {key!r} (keys there: {keys})" if key != WHOLE else "is not one value"
            )
            raise SecretBackendError(
                f"{self.backend(scheme).describe()}: secret {path} {what}",
                reference=ref.describe(),
            )
        return data.data[key]

    def version(self, ref: StoreRef) -> int | None:
        return self.data(ref).version

    @property
    def cached_paths(self) -> int:
        with self._lock:
            return len(self._cache)
