"""Fetches in parallel: one thread pool per process, fetches and ``ls-remote`` answers
remembered per program run (:func:`submit`), and the root program's :func:`prefetch`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import threading
import weakref
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pulumi

from helm_enterprise._cache import cache_root
from helm_enterprise.config.git import GitSource
from helm_enterprise.config.release import ReleaseConfig
from helm_enterprise.config.secrets import VaultRef
from helm_enterprise.errors import HelmEnterpriseError
from helm_enterprise.secrets.resolver import SecretResolver
from helm_enterprise.sources.git.auth import GitCredentials
from helm_enterprise.sources.git.cache import Checkout, GitCache
from helm_enterprise.sources.git.fetch import GitFetcher


@dataclasses.dataclass
class _Run:
    """What one program run remembers: fetches started (joined by every release that needs
    the same chart) and ``ls-remote`` answers (one per repository and ref)."""

    fetchers: dict[str, GitFetcher] = dataclasses.field(default_factory=dict)
    inflight: dict[str, Future[Checkout]] = dataclasses.field(default_factory=dict)


_pool: ThreadPoolExecutor | None = None
# Keyed by the run's root Stack resource: an Automation API process runs many programs,
# and a branch must be resolved again in each.
_runs: weakref.WeakKeyDictionary[Any, _Run] = weakref.WeakKeyDictionary()
_outside: _Run = _Run()
_state_lock = threading.Lock()


def _run() -> _Run:
    root = pulumi.runtime.get_root_resource()
    if root is None:
        return _outside
    run = _runs.get(root)
    if run is None:
        run = _runs[root] = _Run()
    return run


def _job_key(source: GitSource, creds: GitCredentials) -> str:
    text = json.dumps(
        [source.model_dump(mode="json", exclude={"auth"}), creds.digest()],
        sort_keys=True,
        default=str,
    )
    auth = source.auth
    if auth is not None:
        text += json.dumps(auth.model_dump(mode="json", exclude={"token", "ssh_key"}))
    return hashlib.sha256(text.encode()).hexdigest()


def submit(source: GitSource, creds: GitCredentials) -> Future[Checkout]:
    """Start (or join) the fetch of one source on the shared pool."""
    global _pool  # noqa: PLW0603 - one pool per process is the point
    root = str(cache_root())
    key = f"{root}\0{_job_key(source, creds)}"
    with _state_lock:
        run = _run()
        running = run.inflight.get(key)
        if running is not None:
            return running
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=min(8, 2 * (os.cpu_count() or 2)),
                thread_name_prefix="helm-enterprise-git",
            )
        fetcher = run.fetchers.get(root)
        if fetcher is None:
            fetcher = run.fetchers[root] = GitFetcher(cache=GitCache(Path(root) / "git"))
        future = _pool.submit(fetcher.checkout, source, creds)
        run.inflight[key] = future
        return future


def forget_runs() -> None:
    """Forget every fetch and ``ls-remote`` answer of this process, as if a new run started
    (tests and benchmarks call it)."""
    global _outside  # noqa: PLW0603
    with _state_lock:
        _runs.clear()
        _outside = _Run()


def prefetch(releases: Iterable[ReleaseConfig], resolver: SecretResolver | None) -> int:
    """Start fetching, in parallel, every Git chart whose credentials are known now (none,
    or Vault); returns how many were started. Called by the root program before it builds
    the releases; the releases then join these fetches. Problems are left for the release
    to report (with its field path)."""
    wanted: list[GitSource] = [r.chart.git for r in releases if r.chart.git is not None]
    vault: list[VaultRef] = [
        ref
        for s in wanted
        if s.auth is not None
        for ref in s.auth.references()
        if isinstance(ref, VaultRef)
    ]
    started = 0
    if vault and resolver is not None:
        with contextlib.suppress(HelmEnterpriseError):
            resolver.prefetch(vault)
    for source in wanted:
        creds = GitCredentials()
        if source.auth is not None:
            ref = source.auth.references()[0]
            if not isinstance(ref, VaultRef) or resolver is None:
                continue  # Kubernetes Secrets and stack config resolve during the deployment
            try:
                value = resolver.value(ref)
            except HelmEnterpriseError:
                continue
            is_token = source.auth.token is not None
            creds = GitCredentials(token=value) if is_token else GitCredentials(ssh_key=value)
        submit(source, creds)
        started += 1
    return started
