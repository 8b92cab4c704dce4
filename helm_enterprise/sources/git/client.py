"""The git operations the fetcher needs, behind a Protocol (:class:`GitClient`); the real one
is GitPython running the ``git`` binary (:class:`GitPythonClient`).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from git import InvalidGitRepositoryError, NoSuchPathError, Repo
from git.cmd import Git

from helm_enterprise.sources.git import smart_http

GIT_TIMEOUT = 600.0

# Where :meth:`GitPythonClient.fetch_refs` puts the refs it fetched, until it has read them.
_FETCHED_REFS = "refs/helm-enterprise/fetched/"


class GitClient(Protocol):
    """The git operations the fetcher needs (the real one: :class:`GitPythonClient`)."""

    def ls_remote(self, url: str, patterns: Sequence[str], env: Mapping[str, str]) -> str: ...

    def prepare(self, repo_dir: Path, url: str) -> None: ...

    def fetch(
        self,
        repo_dir: Path,
        targets: Sequence[str],
        depth: int | None,
        partial: bool,
        env: Mapping[str, str],
        refetch: bool = False,
    ) -> None: ...

    def fetch_refs(
        self,
        repo_dir: Path,
        refs: Sequence[str],
        depth: int | None,
        partial: bool,
        env: Mapping[str, str],
    ) -> dict[str, str]: ...

    def checkout(
        self, repo_dir: Path, commit: str, sparse_path: str | None, env: Mapping[str, str]
    ) -> None: ...


class GitPythonClient:
    """:class:`GitClient` with GitPython running the real ``git``."""

    def __init__(self, timeout: float = GIT_TIMEOUT) -> None:
        self.timeout = timeout

    def ls_remote(self, url: str, patterns: Sequence[str], env: Mapping[str, str]) -> str:
        """What ``git ls-remote`` prints; over HTTPS in one request when the environment
        allows it (:mod:`.smart_http`), else by git."""
        fast = smart_http.ls_remote(url, patterns, env, self.timeout)
        if fast is not None:
            return fast
        out = Git().ls_remote(url, *patterns, env=dict(env), kill_after_timeout=self.timeout)
        return str(out)

    def prepare(self, repo_dir: Path, url: str) -> None:
        """An initialised clone with ``origin`` at ``url``. Called with the repository's
        lock held, so git lock files left in it can only be from a killed run."""
        try:
            repo = Repo(repo_dir)
        except (InvalidGitRepositoryError, NoSuchPathError):
            # Missing, or broken by a killed run: it only caches, start it again.
            shutil.rmtree(repo_dir, ignore_errors=True)
            repo = Repo.init(repo_dir)
        for stale in (repo_dir / ".git").glob("*.lock"):
            stale.unlink(missing_ok=True)
        with repo:
            names = [r.name for r in repo.remotes]
            if "origin" not in names:
                repo.create_remote("origin", url)
            elif repo.remotes.origin.url != url:
                repo.remotes.origin.set_url(url)

    def fetch(
        self,
        repo_dir: Path,
        targets: Sequence[str],
        depth: int | None,
        partial: bool,
        env: Mapping[str, str],
        refetch: bool = False,
    ) -> None:
        args = ["--no-tags", "--quiet"]
        if depth is not None:
            args.append(f"--depth={depth}")
        if refetch:
            # Everything of the commit again, blobs included (a partial clone would
            # otherwise keep applying its filter).
            args += ["--refetch", "--no-filter"]
        elif partial:
            args.append("--filter=blob:none")
        with Repo(repo_dir) as repo:
            repo.git.fetch(
                *args, "origin", *targets, env=dict(env), kill_after_timeout=self.timeout
            )

    def fetch_refs(
        self,
        repo_dir: Path,
        refs: Sequence[str],
        depth: int | None,
        partial: bool,
        env: Mapping[str, str],
    ) -> dict[str, str]:
        """Fetch the remote refs ``refs`` (full names; a ``*`` is a glob) in one ``git fetch``
        and return what was fetched as ``git ls-remote`` would list it (annotated tags also
        as ``<tag>^{}`` → commit). A missing non-glob ref fails the whole fetch ("couldn't
        find remote ref"). The refs are kept only until read, so that later fetches do not
        negotiate with them."""
        self.fetch(
            repo_dir,
            [f"+{ref}:{_FETCHED_REFS}{ref.removeprefix('refs/')}" for ref in refs],
            depth,
            partial,
            env,
        )
        with Repo(repo_dir) as repo:
            listed = str(
                repo.git.for_each_ref(
                    "--format=%(objectname) %(refname) %(*objectname)", _FETCHED_REFS
                )
            )
            found: dict[str, str] = {}
            for line in listed.splitlines():
                sha, local, peeled = [*line.split(" "), ""][:3]
                name = "refs/" + local.removeprefix(_FETCHED_REFS)
                found[name] = sha
                if peeled:
                    found[f"{name}^{{}}"] = peeled
                repo.git.update_ref("-d", local)
        return found

    def checkout(
        self, repo_dir: Path, commit: str, sparse_path: str | None, env: Mapping[str, str]
    ) -> None:
        with Repo(repo_dir) as repo:
            # Patterns are written, not set with `git sparse-checkout set`: that would
            # re-apply them to the *previous* commit first (and fetch its blobs).
            with repo.config_writer() as cfg:
                cfg.set_value("core", "sparseCheckout", "true")
                cfg.set_value("core", "sparseCheckoutCone", "false")
            info = repo_dir / ".git" / "info"
            info.mkdir(exist_ok=True)
            # "/charts/app" (no trailing slash) also matches a symlink of that name, so that
            # check_tree can say where it leads instead of "does not exist".
            pattern = f"/{sparse_path}\n" if sparse_path else "/*\n"
            (info / "sparse-checkout").write_text(pattern)
            # A partial clone fetches the blobs the checkout needs here, in one batch.
            repo.git.checkout(
                "--force",
                "--detach",
                commit,
                "--",
                env=dict(env),
                kill_after_timeout=self.timeout,
            )
