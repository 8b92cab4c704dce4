"""The one classifier of git's failures: :class:`GitCommandError` → :class:`GitSourceError`,
one message per failure kind, credentials redacted, remote output truncated.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from git import GitCommandError

from helm_enterprise.errors import GitSourceError, truncate
from helm_enterprise.sources.git.auth import redact
from helm_enterprise.sources.git.remote import Remote

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


def missing_commit(err: GitCommandError) -> bool:
    """The server does not have (or will not serve by id) the commit that was asked for."""
    return any(s in stderr_of(err).lower() for s in _NO_COMMIT)


def lazy_fetch_refused(err: GitCommandError) -> bool:
    """A partial clone's lazy fetch of blobs by id was refused by the server."""
    return any(s in stderr_of(err).lower() for s in _LAZY_REFUSED)
