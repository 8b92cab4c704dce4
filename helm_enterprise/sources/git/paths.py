"""Paths of a chart inside a repository: a file-name-safe key per subpath (:func:`path_key`)
and the check that nothing in a checked-out chart leads out of it (:func:`check_tree`).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path


def path_key(subpath: str) -> str:
    """A file-name-safe, collision-free name for a subpath (``charts/app`` → ``charts-app-<h>``)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", subpath).strip("-.") or "root"
    return f"{slug[:40]}-{hashlib.sha256(subpath.encode()).hexdigest()[:8]}"


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
