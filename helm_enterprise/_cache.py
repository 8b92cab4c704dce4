"""Where helm_enterprise keeps caches (charts, Git checkouts, the sandbox toolchain)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any


def cache_root() -> Path:
    """``$HELM_ENTERPRISE_CACHE``, else ``$XDG_CACHE_HOME/helm-enterprise``, else
    ``~/.cache/helm-enterprise``."""
    env = os.environ.get("HELM_ENTERPRISE_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "helm-enterprise"


def private_runtime_dir() -> Path:
    """A per-user directory only its owner can enter (0700), for short-lived credential
    files; on the local tmpfs when the system has one."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    path = Path(base) / f"helm-enterprise-{os.getuid()}"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_uid != os.getuid():
        raise PermissionError(f"{path} belongs to another user; refusing to use it")
    path.chmod(0o700)
    return path


def toolchain_root() -> Path:
    """Where ``helm-enterprise sandbox toolchain`` keeps the binaries it builds."""
    return cache_root() / "toolchain"


def toolchain_binary(name: str) -> Path | None:
    """A binary of the sandbox toolchain (``helm``, ``pulumi``...) when it has been built.

    For feature packages that may use the toolchain's tools but must not import
    :mod:`helm_enterprise.sandbox` (only the CLI and the tests do)."""
    path = toolchain_root() / "bin" / name
    return path if path.is_file() else None


def publish_tree(source: Path, target: Path, ignore: Any = None) -> None:
    """Copy the directory ``source`` to ``target`` under a private name, then rename it into
    place, so no reader sees half a tree (symlinks are followed). Trees are content-addressed:
    when another process published ``target`` first, its identical copy is kept."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
    shutil.copytree(source, tmp, symlinks=False, ignore=ignore)
    try:
        tmp.rename(target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not target.is_dir():
            raise


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` under a private name, then rename it into place, so a
    reader (another process, Prometheus) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
