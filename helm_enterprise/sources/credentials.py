"""Repository credentials, resolved, and PEM files for the provider when it needs paths.

pulumi-kubernetes takes the CA, client certificate and key of a repository as *file
paths*. :func:`materialize` writes such content into a private directory (0700, files
0600) under a path derived from the stack and a digest of the content, so the same
credential gives the same path on every run (no spurious diffs) and different credentials
never collide. Files are removed when the program exits; the provider reads them while the
program is still running (each resource registration waits for its provider operation).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import hashlib
import os
import threading
from pathlib import Path

from helm_enterprise._cache import private_runtime_dir

_created: set[Path] = set()
_lock = threading.Lock()


@dataclasses.dataclass(frozen=True)
class RepoCredentials:
    """Resolved credential values for one repository. ``repr`` hides every value."""

    username: str | None = None
    password: str | None = None
    token: str | None = None
    cert_pem: str | None = None
    key_pem: str | None = None
    ca_pem: str | None = None

    def __repr__(self) -> str:
        present = [f.name for f in dataclasses.fields(self) if getattr(self, f.name)]
        return f"RepoCredentials(present={present})"


def _cleanup() -> None:
    with _lock:
        paths = list(_created)
        _created.clear()
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()
        with contextlib.suppress(OSError):
            path.parent.rmdir()


atexit.register(_cleanup)


def materialize(scope: str, filename: str, content: str) -> str:
    """Write ``content`` to a private file and return its path (stable for same content)."""
    digest = hashlib.sha256(f"{scope}\0{filename}\0{content}".encode()).hexdigest()[:20]
    safe_scope = "".join(c if c.isalnum() or c in "-_." else "_" for c in scope)
    directory = private_runtime_dir() / "credentials" / safe_scope / digest
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / filename
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(content)
    path.chmod(0o600)
    with _lock:
        _created.add(path)
    return str(path)


def remove_materialized() -> None:
    """Remove every file written by :func:`materialize` in this process (tests call it)."""
    _cleanup()
