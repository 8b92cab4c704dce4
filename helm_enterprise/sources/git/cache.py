"""The content-addressed cache of Git charts (``<cache>/git``): clones, chart trees per
commit, tag records, branch records (``git.interval``) and per-repository locks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import filelock

from helm_enterprise._cache import cache_root, publish_tree, write_atomic
from helm_enterprise.errors import GitSourceError
from helm_enterprise.sources.git.paths import path_key
from helm_enterprise.sources.git.refs import RefKind
from helm_enterprise.sources.git.remote import Remote

LOCK_TIMEOUT = 900.0


@dataclasses.dataclass(frozen=True)
class Checkout:
    """A chart directory at one commit, in the cache."""

    repository: str
    ref: str
    kind: RefKind
    commit: str
    subpath: str
    path: Path
    cached: bool

    @property
    def source(self) -> str:
        """``git+https://host/repo@<commit>:<path>``: for outputs and audit (no credentials)."""
        where = f":{self.subpath}" if self.subpath != "." else ""
        return f"{self.repository}@{self.commit}{where}"


def _now() -> float:
    """Wall-clock seconds (a function of its own so tests can move time)."""
    return time.time()


class GitCache:
    """``<cache>/git``: repository clones, content-addressed chart trees, tag records, locks.

    * ``repos/<repo>/`` — one clone per repository (shallow, partial, sparse), the fetch area;
    * ``trees/<repo>/<commit>/<path-key>/`` — a chart directory at a commit; written once
      (renamed into place), never changed, so readers need no lock;
    * ``tags/<repo>.json`` — tag → commit, recorded when a tag is first resolved;
    * ``locks/<repo>.lock`` — held while the clone of a repository is used.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or cache_root() / "git"

    def repo_dir(self, remote: Remote) -> Path:
        return self.root / "repos" / remote.key

    def tree(self, remote: Remote, commit: str, subpath: str) -> Path:
        return self.root / "trees" / remote.key / commit / path_key(subpath)

    @contextlib.contextmanager
    def lock(self, remote: Remote) -> Iterator[None]:
        path = self.root / "locks" / f"{remote.key}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with filelock.FileLock(str(path), timeout=LOCK_TIMEOUT):
                yield
        except filelock.Timeout:
            raise GitSourceError(
                f"repository {remote.display}: another run has held the cache lock {path} for "
                f"{LOCK_TIMEOUT:.0f}s; if no run is active, delete the lock file",
                source=remote.display,
            ) from None

    def _tags_file(self, remote: Remote) -> Path:
        return self.root / "tags" / f"{remote.key}.json"

    def tags(self, remote: Remote) -> dict[str, str]:
        try:
            data = json.loads(self._tags_file(remote).read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def remember_tag(self, remote: Remote, name: str, commit: str) -> None:
        with self.lock(remote):
            tags = self.tags(remote)
            tags[name] = commit
            write_atomic(self._tags_file(remote), json.dumps(tags, sort_keys=True, indent=1))

    def _branches_file(self, remote: Remote) -> Path:
        return self.root / "branches" / f"{remote.key}.json"

    def branch(self, remote: Remote, name: str, max_age: float) -> str | None:
        """The commit ``name`` was resolved to less than ``max_age`` seconds ago, if any."""
        try:
            data = json.loads(self._branches_file(remote).read_text())
            entry = data[name]
            commit, at = str(entry["commit"]), float(entry["at"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return commit if 0 <= _now() - at < max_age else None

    def remember_branch(self, remote: Remote, name: str, commit: str) -> None:
        with self.lock(remote):
            try:
                data = json.loads(self._branches_file(remote).read_text())
            except (OSError, ValueError):
                data = {}
            if not isinstance(data, dict):
                data = {}
            data[name] = {"commit": commit, "at": _now()}
            write_atomic(self._branches_file(remote), json.dumps(data, sort_keys=True, indent=1))

    def fetched_marker(self, remote: Remote, commit: str) -> Path:
        """Present once ``commit`` was fetched into the clone (asking git instead could make
        a partial clone fetch the commit lazily, without ``--depth``)."""
        return self.repo_dir(remote) / ".git" / "helm-enterprise-fetched" / commit

    def mark_fetched(self, remote: Remote, commit: str) -> None:
        """Record that ``commit`` is now in the clone (see :meth:`fetched_marker`)."""
        marker = self.fetched_marker(remote, commit)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()

    def store(self, target: Path, chart_dir: Path, meta: Mapping[str, Any]) -> None:
        """Copy ``chart_dir`` to ``target`` atomically (symlinks inside are followed: they
        were checked to stay inside the chart)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target.parent / f"{target.name}.json", json.dumps(dict(meta), indent=1))
        publish_tree(chart_dir, target, ignore=shutil.ignore_patterns(".git"))
