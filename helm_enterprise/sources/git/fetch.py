"""The fetcher: resolves a ref to a commit and provides the chart directory from the cache,
fetching it on a miss (shallow, partial, sparse; fallbacks for servers that refuse).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path

from git import GitCommandError

from helm_enterprise.config.git import GitSource
from helm_enterprise.errors import GitSourceError
from helm_enterprise.sources.git.auth import GitCredentials, git_env
from helm_enterprise.sources.git.cache import Checkout, GitCache
from helm_enterprise.sources.git.client import GitClient, GitPythonClient
from helm_enterprise.sources.git.errors import (
    classify_git_error,
    lazy_fetch_refused,
    missing_commit,
)
from helm_enterprise.sources.git.paths import check_tree
from helm_enterprise.sources.git.refs import (
    RefKind,
    classify_ref,
    ls_remote_patterns,
    parse_ls_remote,
    select_ref,
)
from helm_enterprise.sources.git.remote import Remote, parse_remote

_OFFLINE_REF = (
    "; a branch or a new tag is resolved against the repository on every "
    "run — only commits (and tags) already in the cache deploy while it is down"
)


def _auth_method(source: GitSource) -> str:
    """The auth method named in messages ("none" for a public repository)."""
    return source.auth.method if source.auth else "none"


def _partial(source: GitSource) -> bool:
    """Whether fetches leave blobs out (a sparse checkout of a subdirectory)."""
    return source.sparse and source.path != "."


class _Env:
    """:func:`git_env`, built on first use: a cache hit writes no key file at all."""

    def __init__(self, remote: Remote, source: GitSource, creds: GitCredentials) -> None:
        self._args = (remote, source, creds)
        self._env: dict[str, str] | None = None

    def __call__(self) -> dict[str, str]:
        if self._env is None:
            self._env = git_env(*self._args)
        return self._env


class GitFetcher:
    """Resolves refs and provides chart directories from the cache, fetching on a miss."""

    def __init__(self, client: GitClient | None = None, cache: GitCache | None = None) -> None:
        self.client: GitClient = client or GitPythonClient()
        self.cache = cache or GitCache()
        self._advertised: dict[tuple[str, tuple[str, ...], str], dict[str, str]] = {}
        self._lock = threading.Lock()

    def _ls_remote(
        self, remote: Remote, ref: str, env: Mapping[str, str], creds: GitCredentials
    ) -> dict[str, str]:
        """What the repository advertises for ``ref``, asked once per run (so every release
        on the same branch gets the same commit)."""
        patterns = tuple(ls_remote_patterns(ref))
        key = (remote.key, patterns, creds.digest())
        with self._lock:
            if key in self._advertised:
                return self._advertised[key]
        out = self.client.ls_remote(remote.url, patterns, env)
        refs = parse_ls_remote(out)
        with self._lock:
            self._advertised[key] = refs
        return refs

    def _known(self, remote: Remote, source: GitSource) -> tuple[RefKind, str] | None:
        """(kind, commit) of ``source.ref`` without the network, if it can be known: a
        commit as given, a tag once seen, a branch within its ``interval``."""
        kind, name = classify_ref(source.ref)
        if kind is RefKind.COMMIT:
            return kind, name
        if kind in (RefKind.TAG, RefKind.NAME):
            known = self.cache.tags(remote).get(name)
            if known:
                return RefKind.TAG, known
        if source.interval is not None:  # resolved recently enough: no network at all
            recent = self.cache.branch(remote, source.ref, source.interval)
            if recent:
                return RefKind.BRANCH, recent
        return None

    def resolve(
        self, remote: Remote, source: GitSource, creds: GitCredentials, env: _Env
    ) -> tuple[RefKind, str]:
        """(kind, commit) of ``source.ref``: commits as given, tags from the cache once
        seen, branches from the repository every run."""
        return self._known(remote, source) or self._ask(remote, source, creds, env)

    def _ask(
        self, remote: Remote, source: GitSource, creds: GitCredentials, env: _Env
    ) -> tuple[RefKind, str]:
        """(kind, commit) of ``source.ref`` from ``git ls-remote``."""
        method = _auth_method(source)
        action = f"resolving ref {source.ref!r}"
        try:
            advertised = self._ls_remote(remote, source.ref, env(), creds)
        except GitCommandError as err:
            raise classify_git_error(
                err, remote, action, method, creds.secrets(), offline_hint=_OFFLINE_REF
            ) from None
        return self._select(remote, source, advertised)

    def _select(
        self, remote: Remote, source: GitSource, advertised: Mapping[str, str]
    ) -> tuple[RefKind, str]:
        """(kind, commit) of ``source.ref`` among the ``advertised`` refs; a tag (and a
        branch with an ``interval``) is remembered in the cache."""
        try:
            kind, commit = select_ref(source.ref, advertised)
        except (LookupError, ValueError) as err:
            raise GitSourceError(
                f"repository {remote.display}: {err.args[0]}", source=remote.display
            ) from None
        if kind is RefKind.TAG:
            self.cache.remember_tag(remote, classify_ref(source.ref)[1], commit)
        elif source.interval is not None:
            self.cache.remember_branch(remote, source.ref, commit)
        return kind, commit

    def _fetch_ref(
        self, remote: Remote, source: GitSource, creds: GitCredentials, env: _Env
    ) -> tuple[RefKind, str] | None:
        """A branch (or a bare name) into a cold cache, fetched by its name in one
        ``git fetch``, without an ``ls-remote`` first: that is one git process, one
        connection and one request fewer on the first fetch. None when this does not apply
        (a clone exists, or this run already asked for the ref) or the repository has no
        such branch (a bare name that is a tag): the caller then asks with ``ls-remote``.

        A bare name also fetches the tags that begin with it (a glob, so that none is not
        an error): a tag of exactly that name makes it ambiguous, refused as with
        ``ls-remote``.
        """
        kind, name = classify_ref(source.ref)
        if kind not in (RefKind.BRANCH, RefKind.NAME) or name == "HEAD":
            return None
        repo_dir = self.cache.repo_dir(remote)
        key = (remote.key, tuple(ls_remote_patterns(source.ref)), creds.digest())
        with self._lock:
            if key in self._advertised:  # every release on the branch gets the same commit
                return None
        if repo_dir.exists():
            return None
        refs = [f"refs/heads/{name}"]
        if kind is RefKind.NAME:
            refs.append(f"refs/tags/{name}*")
        partial = _partial(source)
        method = _auth_method(source)
        with self.cache.lock(remote):
            if repo_dir.exists():
                return None
            try:
                self.client.prepare(repo_dir, remote.url)
                advertised = self.client.fetch_refs(repo_dir, refs, source.depth, partial, env())
            except GitCommandError as err:
                if missing_commit(err):
                    return None
                raise classify_git_error(
                    err,
                    remote,
                    f"fetching ref {source.ref!r}",
                    method,
                    creds.secrets(),
                    offline_hint=_OFFLINE_REF,
                ) from None
            with self._lock:
                advertised = self._advertised.setdefault(key, advertised)
        # Outside the repository's lock: remembering a tag or a branch takes it again.
        kind, commit = self._select(remote, source, advertised)
        self.cache.mark_fetched(remote, commit)
        return kind, commit

    def checkout(self, source: GitSource, creds: GitCredentials) -> Checkout:
        """The chart directory of ``source`` (from the cache, or fetched into it)."""
        remote = parse_remote(source.url)
        env = _Env(remote, source, creds)
        resolved = self._known(remote, source) or self._fetch_ref(remote, source, creds, env)
        kind, commit = resolved or self._ask(remote, source, creds, env)
        target = self.cache.tree(remote, commit, source.path)
        cached = target.is_dir()
        if not cached:
            with self.cache.lock(remote):
                cached = target.is_dir()
                if not cached:
                    self._fill(remote, source, creds, env(), kind, commit, target)
        return Checkout(
            repository=remote.display,
            ref=source.ref,
            kind=kind,
            commit=commit,
            subpath=source.path,
            path=target,
            cached=cached,
        )

    def _fill(
        self,
        remote: Remote,
        source: GitSource,
        creds: GitCredentials,
        env: Mapping[str, str],
        kind: RefKind,
        commit: str,
        target: Path,
    ) -> None:
        """Fetch ``commit`` (if needed), check out the chart's directory and store it.
        Called with the repository's lock held."""
        method = _auth_method(source)
        secrets = creds.secrets()
        repo_dir = self.cache.repo_dir(remote)
        partial = _partial(source)
        marker = self.cache.fetched_marker(remote, commit)
        offline = (
            "; the commit is not in the cache yet, so it cannot be deployed until the "
            "repository is reachable"
        )
        action = "preparing the cache's clone"
        try:
            self.client.prepare(repo_dir, remote.url)
            if not marker.exists():
                action = f"fetching commit {commit[:12]} (ref {source.ref!r})"
                try:
                    self.client.fetch(repo_dir, [commit], source.depth, partial, env)
                    self.cache.mark_fetched(remote, commit)
                except GitCommandError as err:
                    if not missing_commit(err):
                        raise classify_git_error(
                            err, remote, action, method, secrets, offline
                        ) from None
                    # A server that only serves advertised tips (protocol v0 without
                    # uploadpack.allowReachableSHA1InWant): fetch branches and tags.
                    self.client.fetch(
                        repo_dir,
                        ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"],
                        None,
                        partial,
                        env,
                    )
            action = f"checking out {source.path!r} at {commit[:12]}"
            try:
                self.client.checkout(repo_dir, commit, source.path if partial else None, env)
            except GitCommandError as err:
                if not (partial and lazy_fetch_refused(err)):
                    raise
                # The server filters but will not serve blobs by id (protocol v0 without
                # uploadpack.allowAnySHA1InWant, e.g. SSH servers that drop GIT_PROTOCOL):
                # fetch the commit with its blobs instead; the checkout stays sparse.
                action = f"fetching commit {commit[:12]} with its files (ref {source.ref!r})"
                self.client.fetch(repo_dir, [commit], source.depth, False, env, refetch=True)
                action = f"checking out {source.path!r} at {commit[:12]}"
                self.client.checkout(repo_dir, commit, source.path, env)
        except GitCommandError as err:
            raise classify_git_error(err, remote, action, method, secrets, offline) from None
        try:
            chart_dir = check_tree(repo_dir, source.path)
        except ValueError as err:
            raise GitSourceError(
                f"repository {remote.display}@{commit[:12]}: {err.args[0]}", source=remote.display
            ) from None
        if not (chart_dir / "Chart.yaml").is_file():
            raise GitSourceError(
                f"repository {remote.display}@{commit[:12]}: {source.path!r} is not a Helm "
                "chart (no Chart.yaml); set git.path to the chart's directory",
                source=remote.display,
            )
        self.cache.store(
            target,
            chart_dir,
            {
                "repository": remote.display,
                "commit": commit,
                "path": source.path,
                "ref": source.ref,
                "kind": kind.value,
                "fetched": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        )
