"""Git chart sources (T2.1): ``git+https://`` and ``git+ssh://`` repositories, through
GitPython over the real ``git`` binary.

What happens for one release's ``chart.git``:

1. **Ref → commit.** A full commit SHA is used as is. A tag is resolved once with
   ``git ls-remote`` and remembered in the cache (tags are treated as immutable). A branch
   is re-resolved with ``ls-remote`` on every run, so a moved branch deploys its new commit.
2. **Commit → files.** The cache is content-addressed: ``<cache>/git/trees/<repo>/<commit>/
   <path>``. A hit needs no network at all — which is also why a pinned commit deploys while
   the Git host is down. A miss fetches into the repository's cache clone (shallow:
   ``--depth``; partial: ``--filter=blob:none`` plus a sparse checkout of the chart's
   directory, so only its blobs are downloaded), under a file lock per repository so
   concurrent runs on one machine are safe, checks the directory (symlinks must stay inside
   it) and stores a copy.
3. **Files → Helm.** The chart is copied under the program directory
   (``.helm-enterprise/charts/git-<commit>-<path>``) and Helm gets that relative path, so the
   state is the same on every machine and changes exactly when the commit does. The
   release's ``resolved_source`` is ``git+https://host/repo@<commit>:<path>``.

Credentials (an access token or an SSH key, from Vault, a Kubernetes Secret or secret stack
config) reach git only through the environment of the one command that needs them: a
token as an ``http.<url>.extraHeader`` given by ``GIT_CONFIG_*`` variables, a key as a
0600 file named in ``GIT_SSH_COMMAND`` (with ``StrictHostKeyChecking=yes``). They never
appear in a URL, in ``.git/config``, in a command line, in the state or in an error.

Fetches run on a small thread pool: every release's fetch starts when the release is
constructed (or earlier, from the root program's :func:`prefetch`) and Pulumi awaits the
result, so several releases fetch in parallel.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import enum
import hashlib
import json
import os
import re
import shlex
import shutil
import threading
import time
import uuid
import weakref
from collections.abc import Awaitable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import filelock
import pulumi
from git import GitCommandError, InvalidGitRepositoryError, NoSuchPathError, Repo
from git.cmd import Git

from helm_enterprise._cache import cache_root
from helm_enterprise.config.git import GitAuth, GitSource, Transport, check_git_url, transport_of
from helm_enterprise.config.release import ChartSpec, ReleaseConfig
from helm_enterprise.config.secrets import VaultRef
from helm_enterprise.errors import GitSourceError, HelmEnterpriseError, truncate
from helm_enterprise.secrets.inject import SecretInjector
from helm_enterprise.secrets.resolver import SecretResolver
from helm_enterprise.sources import (
    PROJECT_CHART_DIR,
    ResolvedChart,
    SourceContext,
    register_source,
)
from helm_enterprise.sources.credentials import materialize

__all__ = [
    "Checkout",
    "GitCache",
    "GitClient",
    "GitCredentials",
    "GitFetcher",
    "GitPythonClient",
    "RefKind",
    "Remote",
    "check_tree",
    "classify_git_error",
    "classify_ref",
    "forget_runs",
    "git_env",
    "ls_remote_patterns",
    "parse_ls_remote",
    "parse_remote",
    "path_key",
    "prefetch",
    "project_copy",
    "redact",
    "resolve_git",
    "select_ref",
    "ssh_command",
    "stderr_of",
    "submit",
]

GIT_TIMEOUT = 600.0
LOCK_TIMEOUT = 900.0
_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_HEXISH = re.compile(r"^[0-9a-fA-F]{4,39}$")
_DEFAULT_PORTS = {"https": 443, "ssh": 22}


# -- remotes --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Remote:
    """A repository as git, messages and the cache see it.

    ``url`` is what git is given (``https://``, ``ssh://``, ``file://``: never credentials);
    ``display`` is the configured form (``git+https://...``) for messages and outputs;
    ``key`` identifies the repository in the cache, whatever its spelling (case of the host,
    default port, trailing ``.git`` or ``/``, SSH user).
    """

    url: str
    display: str
    key: str
    transport: Transport


def parse_remote(url: str) -> Remote:
    """The :class:`Remote` of a Git URL (ValueError for URLs the config model rejects)."""
    check_git_url(url)
    transport = transport_of(url)
    parts = urlsplit(url)
    git_url = urlunsplit((transport, parts.netloc, parts.path, "", ""))
    host = parts.netloc.rpartition("@")[2].lower()
    default = _DEFAULT_PORTS.get(transport)
    if default is not None and host.endswith(f":{default}"):
        host = host[: -len(f":{default}")]
    path = parts.path.rstrip("/").removesuffix(".git")
    identity = f"{transport}://{host}{path}"
    key = hashlib.sha256(identity.encode()).hexdigest()[:24]
    return Remote(url=git_url, display=f"git+{git_url}", key=key, transport=transport)


# -- refs -----------------------------------------------------------------------------------


class RefKind(enum.Enum):
    """What a configured ref is; ``NAME`` (a bare name) becomes a branch or a tag once the
    repository has been asked."""

    COMMIT = "commit"
    BRANCH = "branch"
    TAG = "tag"
    NAME = "name"


def classify_ref(ref: str) -> tuple[RefKind, str]:
    """Classify a ref without the network: ``(kind, name)``."""
    if _SHA.match(ref.lower()):
        return RefKind.COMMIT, ref.lower()
    if ref.startswith("refs/heads/"):
        return RefKind.BRANCH, ref.removeprefix("refs/heads/")
    if ref.startswith("refs/tags/"):
        return RefKind.TAG, ref.removeprefix("refs/tags/")
    return RefKind.NAME, ref


def ls_remote_patterns(ref: str) -> list[str]:
    """The refs to ask ``git ls-remote`` for (servers filter on them)."""
    kind, name = classify_ref(ref)
    if kind is RefKind.BRANCH:
        return [f"refs/heads/{name}"]
    # An annotated tag's commit is listed as "<tag>^{}" only when asked for by that name.
    if kind is RefKind.TAG:
        return [f"refs/tags/{name}", f"refs/tags/{name}^{{}}"]
    if name == "HEAD":
        return ["HEAD"]
    return [f"refs/heads/{name}", f"refs/tags/{name}", f"refs/tags/{name}^{{}}"]


def parse_ls_remote(text: str) -> dict[str, str]:
    """``git ls-remote`` output → {refname: sha} (peeled tags keep their ``^{}`` suffix)."""
    refs: dict[str, str] = {}
    for line in text.splitlines():
        sha, _, name = line.strip().partition("\t")
        if name and _SHA.match(sha):
            refs[name.strip()] = sha
    return refs


def select_ref(ref: str, advertised: Mapping[str, str]) -> tuple[RefKind, str]:
    """The commit a branch or tag points to, given what the repository advertises.

    An annotated tag resolves to the commit it points to. A name that is both a branch and
    a tag is refused (ValueError) instead of guessed. LookupError when nothing matches.
    """
    kind, name = classify_ref(ref)
    if kind is RefKind.COMMIT:
        return kind, name
    branch = advertised.get(f"refs/heads/{name}") if kind is not RefKind.TAG else None
    tag = (
        advertised.get(f"refs/tags/{name}^{{}}") or advertised.get(f"refs/tags/{name}")
        if kind is not RefKind.BRANCH
        else None
    )
    if branch and tag:
        raise ValueError(
            f"both a branch and a tag are named {name!r}; write refs/heads/{name} or "
            f"refs/tags/{name}"
        )
    if branch:
        return RefKind.BRANCH, branch
    if tag:
        return RefKind.TAG, tag
    if name == "HEAD" and "HEAD" in advertised:
        return RefKind.BRANCH, advertised["HEAD"]
    what = {RefKind.BRANCH: "branch", RefKind.TAG: "tag"}.get(kind, "branch or tag")
    hint = (
        "; a commit must be given as its full 40-character SHA"
        if _HEXISH.match(name) and kind is RefKind.NAME
        else ""
    )
    raise LookupError(f"no {what} named {name!r}{hint}")


# -- credentials and the environment of one git command -------------------------------------


@dataclasses.dataclass(frozen=True)
class GitCredentials:
    """Resolved credential values for one repository. ``repr`` hides every value."""

    token: str | None = None
    ssh_key: str | None = None

    def __repr__(self) -> str:
        present = [f.name for f in dataclasses.fields(self) if getattr(self, f.name)]
        return f"GitCredentials(present={present})"

    def secrets(self) -> list[str]:
        return [v for v in (self.token, self.ssh_key) if v]

    def digest(self) -> str:
        """Tells credential sets apart in memory (never written or printed)."""
        return hashlib.sha256(repr((self.token, self.ssh_key)).encode()).hexdigest()


# Never prompt, never ask a helper (which could also *store* what we send), and keep
# tracing redacted should the caller's environment turn it on.
_BASE_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "",
    "SSH_ASKPASS": "",
    "GCM_INTERACTIVE": "never",
    "GIT_TRACE_REDACT": "1",
}


def ssh_command(
    key_file: str | None, known_hosts_file: str | None, ignore_host_key: bool = False
) -> str:
    """``GIT_SSH_COMMAND``: batch mode, our key only, host keys checked strictly."""
    argv = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=30"]
    if key_file:
        argv += ["-i", key_file, "-o", "IdentitiesOnly=yes"]
    if ignore_host_key:
        argv += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    else:
        argv += ["-o", "StrictHostKeyChecking=yes"]
        if known_hosts_file:
            argv += [
                "-o",
                f"UserKnownHostsFile={known_hosts_file}",
                "-o",
                "GlobalKnownHostsFile=/dev/null",
            ]
    return shlex.join(argv)


def git_env(remote: Remote, source: GitSource, creds: GitCredentials) -> dict[str, str]:
    """Environment for git commands against ``remote``: credentials, TLS and SSH options.

    Only for the process that needs them: a token goes into an ``http.<url>.extraHeader``
    (sent to this repository's URL only) given as ``GIT_CONFIG_*`` variables, a key into a
    private file named by ``GIT_SSH_COMMAND``. Nothing is written to ``.git/config``.
    """
    env = dict(_BASE_ENV)
    config: list[tuple[str, str]] = [("credential.helper", "")]
    auth: GitAuth | None = source.auth
    if remote.transport == "https":
        if creds.token:
            user = (auth.username if auth else None) or "git"
            basic = base64.b64encode(f"{user}:{creds.token}".encode()).decode()
            config.append((f"http.{remote.url}.extraHeader", f"Authorization: Basic {basic}"))
        if source.ca_file:
            # The variable, not http.sslCAInfo: GIT_SSL_CAINFO in the caller's environment
            # would win over any config.
            env["GIT_SSL_CAINFO"] = str(Path(source.ca_file).expanduser())
        if source.insecure_skip_tls_verify:
            env["GIT_SSL_NO_VERIFY"] = "1"
    elif remote.transport == "ssh":
        scope = f"git-{remote.key}"
        key_file = None
        if creds.ssh_key:
            key = creds.ssh_key if creds.ssh_key.endswith("\n") else creds.ssh_key + "\n"
            key_file = materialize(scope, "id_key", key)
        known_hosts = None
        if auth is not None and auth.known_hosts:
            known_hosts = materialize(scope, "known_hosts", auth.known_hosts.strip() + "\n")
        elif auth is not None and auth.known_hosts_file:
            known_hosts = str(Path(auth.known_hosts_file).expanduser())
        ignore = bool(auth and auth.insecure_ignore_host_key)
        env["GIT_SSH_COMMAND"] = ssh_command(key_file, known_hosts, ignore)
        env["GIT_SSH_VARIANT"] = "ssh"
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for i, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


_USERINFO = re.compile(r"(://)[^/\s:@]+:[^/\s@]+@")


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` without any of ``secrets`` (also base64-encoded) or URL passwords."""
    for value in secrets:
        for form in {value, base64.b64encode(value.encode()).decode()}:
            if len(form) >= 4:
                text = text.replace(form, "***")
    return _USERINFO.sub(r"\1***@", text)


# -- error classification: GitCommandError → GitSourceError --------------------------------

_HOST_KEY = ("host key verification failed", "remote host identification has changed")
_TLS = ("server certificate verification failed", "ssl certificate problem", "certificate verify")
_UNREACHABLE = (
    "could not resolve host",
    "could not resolve hostname",
    "couldn't connect to server",
    "failed to connect",
    "connection refused",
    "connection timed out",
    "operation timed out",
    "no route to host",
    "network is unreachable",
    "connection reset",
    "connection closed by",
    "empty reply from server",
    "the requested url returned error: 502",
    "the requested url returned error: 503",
    "the requested url returned error: 504",
    "did not complete in",  # GitPython's kill_after_timeout
)
_AUTH = (
    "authentication failed",
    "could not read username",
    "could not read password",
    "permission denied (publickey",
    "the requested url returned error: 401",
    "the requested url returned error: 403",
    "invalid username or password",
    "load key",
)
_NOT_FOUND = (
    "repository not found",
    "does not appear to be a git repository",
    "the requested url returned error: 404",
)
_LAZY_REFUSED = ("unadvertised object", "from promisor remote", "not our ref")
_NO_COMMIT = (
    "couldn't find remote ref",
    "not our ref",
    "unadvertised object",
    "no such remote ref",
    "reference is not a tree",
    "bad object",
    "remote error: upload-pack",
)


def classify_git_error(
    err: GitCommandError,
    remote: Remote,
    action: str,
    method: str,
    secrets: Sequence[str] = (),
    offline_hint: str = "",
) -> GitSourceError:
    """One message per failure kind, naming the repository and what we were doing."""
    stderr = redact(stderr_of(err), secrets)
    text = stderr.lower()
    repo = remote.display
    if any(s in text for s in _HOST_KEY):
        msg = (
            f"repository {repo}: the SSH host key is not trusted (unknown or changed) while "
            f"{action}; give auth.knownHosts (e.g. from `ssh-keyscan`)"
        )
    elif any(s in text for s in _TLS):
        msg = f"repository {repo}: server certificate not trusted while {action}; give git.caFile"
    elif any(s in text for s in _UNREACHABLE):
        detail = _first_line(stderr, _UNREACHABLE)
        msg = f"repository {repo} is unreachable while {action} ({detail}){offline_hint}"
    elif any(s in text for s in _AUTH):
        msg = f"repository {repo} rejected the credentials (auth: {method}) while {action}"
    elif any(s in text for s in _NOT_FOUND):
        msg = (
            f"repository {repo} does not exist or is not readable with auth: {method} "
            f"(while {action}){offline_hint}"
        )
    elif any(s in text for s in _NO_COMMIT):
        msg = f"repository {repo}: {action} failed: the commit is not in the repository"
    else:
        msg = f"repository {repo}: {action} failed: {truncate(stderr, 240) or 'git failed'}"
    return GitSourceError(msg, source=repo)


def stderr_of(err: GitCommandError) -> str:
    """What git printed (GitPython wraps it as ``\\n  stderr: '...'``)."""
    text = str(err.stderr or "").strip()
    if text.startswith("stderr: '") and text.endswith("'"):
        text = text[len("stderr: '") : -1]
    return text.strip()


# "fatal: unable to access 'https://host/repo/': " says again which repository it was.
_ACCESS_PREFIX = re.compile(r"^(?:fatal: )?unable to access '[^']*': ")


def _first_line(text: str, needles: Sequence[str]) -> str:
    for line in text.splitlines():
        if any(n in line.lower() for n in needles):
            return truncate(_ACCESS_PREFIX.sub("", line.strip()).removeprefix("fatal: "), 160)
    return truncate(text, 160)


# -- the git client (GitPython) -------------------------------------------------------------


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

    def checkout(
        self, repo_dir: Path, commit: str, sparse_path: str | None, env: Mapping[str, str]
    ) -> None: ...


class GitPythonClient:
    """:class:`GitClient` with GitPython running the real ``git``."""

    def __init__(self, timeout: float = GIT_TIMEOUT) -> None:
        self.timeout = timeout

    def ls_remote(self, url: str, patterns: Sequence[str], env: Mapping[str, str]) -> str:
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


# -- the cache ------------------------------------------------------------------------------


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


def path_key(subpath: str) -> str:
    """A file-name-safe, collision-free name for a subpath (``charts/app`` → ``charts-app-<h>``)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", subpath).strip("-.") or "root"
    return f"{slug[:40]}-{hashlib.sha256(subpath.encode()).hexdigest()[:8]}"


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
            _atomic_write(self._tags_file(remote), json.dumps(tags, sort_keys=True, indent=1))

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
            _atomic_write(self._branches_file(remote), json.dumps(data, sort_keys=True, indent=1))

    def fetched_marker(self, remote: Remote, commit: str) -> Path:
        """Present once ``commit`` was fetched into the clone (asking git instead could make
        a partial clone fetch the commit lazily, without ``--depth``)."""
        return self.repo_dir(remote) / ".git" / "helm-enterprise-fetched" / commit

    def store(self, target: Path, chart_dir: Path, meta: Mapping[str, Any]) -> None:
        """Copy ``chart_dir`` to ``target`` atomically (symlinks inside are followed: they
        were checked to stay inside the chart)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
        shutil.copytree(chart_dir, tmp, symlinks=False, ignore=shutil.ignore_patterns(".git"))
        _atomic_write(target.parent / f"{target.name}.json", json.dumps(dict(meta), indent=1))
        try:
            tmp.rename(target)
        except OSError:
            # Another process stored the same tree first: identical content, keep theirs.
            shutil.rmtree(tmp, ignore_errors=True)
            if not target.is_dir():
                raise


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def check_tree(root: Path, subpath: str) -> Path:
    """The chart directory ``root/subpath``, after checking nothing leads out of it.

    ValueError when the path does not exist, is not a directory, leaves ``root`` (through a
    symlink in the path itself), or contains a symlink pointing outside the chart directory
    (or in a loop). Symlinks inside the chart are allowed: the stored copy follows them.
    """
    base = root.resolve()
    target = root / subpath
    if not target.exists() and not target.is_symlink():
        raise ValueError(f"path {subpath!r} does not exist at this commit")
    try:
        real = target.resolve(strict=True)
    except (OSError, RuntimeError):
        raise ValueError(f"path {subpath!r} is a broken or looping symlink") from None
    if not real.is_relative_to(base):
        raise ValueError(f"path {subpath!r} leaves the repository through a symlink")
    if not real.is_dir():
        raise ValueError(f"path {subpath!r} is not a directory")
    for dirpath, dirnames, filenames in os.walk(real):
        dirnames[:] = [d for d in dirnames if d != ".git"]  # the clone's own (path ".")
        for name in (*dirnames, *filenames):
            entry = Path(dirpath) / name
            if not entry.is_symlink():
                continue
            shown = entry.relative_to(real).as_posix()
            try:
                dest = entry.resolve(strict=True)
            except (OSError, RuntimeError):
                raise ValueError(
                    f"{subpath}/{shown} is a symlink to a missing path or a loop"
                ) from None
            if not dest.is_relative_to(real):
                raise ValueError(f"{subpath}/{shown} is a symlink pointing outside {subpath!r}")
    return real


# -- the fetcher ----------------------------------------------------------------------------


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

    def resolve(
        self, remote: Remote, source: GitSource, creds: GitCredentials, env: _Env
    ) -> tuple[RefKind, str]:
        """(kind, commit) of ``source.ref``: commits as given, tags from the cache once
        seen, branches from the repository every run."""
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
        method = source.auth.method if source.auth else "none"
        action = f"resolving ref {source.ref!r}"
        try:
            advertised = self._ls_remote(remote, source.ref, env(), creds)
        except GitCommandError as err:
            raise classify_git_error(
                err,
                remote,
                action,
                method,
                creds.secrets(),
                offline_hint=(
                    "; a branch or a new tag is resolved against the repository on every "
                    "run — only commits (and tags) already in the cache deploy while it is down"
                ),
            ) from None
        try:
            kind, commit = select_ref(source.ref, advertised)
        except (LookupError, ValueError) as err:
            raise GitSourceError(
                f"repository {remote.display}: {err.args[0]}", source=remote.display
            ) from None
        if kind is RefKind.TAG:
            self.cache.remember_tag(remote, name, commit)
        elif source.interval is not None:
            self.cache.remember_branch(remote, source.ref, commit)
        return kind, commit

    def checkout(self, source: GitSource, creds: GitCredentials) -> Checkout:
        """The chart directory of ``source`` (from the cache, or fetched into it)."""
        remote = parse_remote(source.url)
        env = _Env(remote, source, creds)
        kind, commit = self.resolve(remote, source, creds, env)
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
        method = source.auth.method if source.auth else "none"
        secrets = creds.secrets()
        repo_dir = self.cache.repo_dir(remote)
        partial = source.sparse and source.path != "."
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
                    marker.parent.mkdir(parents=True, exist_ok=True)
                    marker.touch()
                except GitCommandError as err:
                    if not any(s in stderr_of(err).lower() for s in _NO_COMMIT):
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
                if not (partial and any(s in stderr_of(err).lower() for s in _LAZY_REFUSED)):
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


# -- running fetches in parallel ------------------------------------------------------------


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


def _credentials(
    auth: GitAuth | None, injector: SecretInjector
) -> GitCredentials | pulumi.Output[GitCredentials]:
    if auth is None:
        return GitCredentials()
    field = "token" if auth.token is not None else "ssh_key"
    ref = auth.token if auth.token is not None else auth.ssh_key
    assert ref is not None
    value = injector.resolve(ref)
    if isinstance(value, pulumi.Output):
        return value.apply(lambda v: GitCredentials(**{field: v}))
    return GitCredentials(**{field: value})


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


# -- the resolver plugged into sources.resolve_chart ----------------------------------------


def project_copy(checkout: Checkout, base_dir: Path) -> str:
    """Copy the chart under the program directory; the path relative to it, for Helm."""
    rel = PROJECT_CHART_DIR / f"git-{checkout.commit[:16]}-{path_key(checkout.subpath)}"
    target = base_dir / rel
    if not target.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
        shutil.copytree(checkout.path, tmp, symlinks=False)
        try:
            tmp.rename(target)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not target.is_dir():
                raise
    return str(rel)


def _no_repository_opts(assets: bool) -> None:
    return None


def resolve_git(spec: ChartSpec, ctx: SourceContext) -> ResolvedChart:
    """The :data:`~helm_enterprise.sources.SourceResolver` for ``chart.git``.

    Credentials known now (Vault) start the fetch immediately; those that are Outputs
    (Kubernetes Secrets, stack config) start it once resolved. Either way Pulumi awaits the
    fetch without blocking other releases.
    """
    source = spec.git
    assert source is not None
    creds = _credentials(source.auth, ctx.injector)

    def awaited(c: GitCredentials) -> Awaitable[Checkout]:
        return asyncio.wrap_future(submit(source, c))

    fetched: pulumi.Output[Checkout]
    if isinstance(creds, pulumi.Output):
        fetched = creds.apply(awaited)
    else:
        known = creds
        submit(source, known)  # start now; the apply below joins it
        fetched = pulumi.Output.from_input(True).apply(lambda _: awaited(known))
    # Only credentials are secret; the commit and the chart's path must stay readable.
    checkout: pulumi.Output[Checkout] = pulumi.Output.unsecret(fetched).apply(_announce)
    return ResolvedChart(
        kind="git",
        chart=checkout.apply(lambda c: project_copy(c, ctx.base_dir)),
        version=None,
        repository_opts=_no_repository_opts,
        source=checkout.apply(lambda c: c.source),
        local_files=lambda: checkout.apply(lambda c: c.path),
        commit=checkout.apply(lambda c: c.commit),
    )


def _announce(checkout: Checkout) -> Checkout:
    how = "from the cache" if checkout.cached else "fetched"
    pulumi.log.info(f"chart {checkout.source} ({checkout.kind.value} {checkout.ref!r}, {how})")
    return checkout


register_source("git", resolve_git)
