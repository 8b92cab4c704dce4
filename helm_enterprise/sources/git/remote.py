"""Repositories as git, messages and the cache see them: :func:`parse_remote`."""

from __future__ import annotations

import dataclasses
import hashlib
from urllib.parse import urlsplit, urlunsplit

from helm_enterprise.config.git import Transport, check_git_url, transport_of

_DEFAULT_PORTS = {"https": 443, "ssh": 22}


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
