"""Shared machinery of the toolchain builder: cache layout, stamps, logged commands.

Every tool the e2e tier needs is built from its Go module (or taken from PATH / Debian)
into a per-user cache. A *recipe* describes one tool family (for example "kubernetes":
kube-apiserver, kube-controller-manager, kube-scheduler, kubectl) and knows how to build
it; this module gives recipes a uniform way to log commands, record what was built and
skip what is already there.

Cache layout (``$HELM_ENTERPRISE_CACHE`` or ``~/.cache/helm-enterprise``)::

    toolchain/
      bin/                 every binary the sandbox runs (put first on PATH)
      cni-bin/             the CNI plugins of the real node (its CNI bin_dir)
      images/<name>/       workload images as OCI layouts (+ <name>.tar, <name>.json)
      stamps/<family>.json what was built, from which recipe version, how long it took
      work/<family>/       Go wrapper modules and generated sources
      logs/<family>.log    full output of the last build of that family
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from helm_enterprise._cache import toolchain_root
from helm_enterprise.errors import ToolchainError

ProgressFn = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class Layout:
    """Paths inside the toolchain cache."""

    root: Path

    @classmethod
    def default(cls) -> Layout:
        return cls(toolchain_root())

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def cni_bin(self) -> Path:
        return self.root / "cni-bin"

    @property
    def images(self) -> Path:
        return self.root / "images"

    @property
    def stamps(self) -> Path:
        return self.root / "stamps"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def work(self, family: str) -> Path:
        return self.root / "work" / family

    def log(self, family: str) -> Path:
        return self.logs / f"{family}.log"

    def stamp(self, family: str) -> Path:
        return self.stamps / f"{family}.json"

    def ensure(self) -> None:
        for p in (self.bin, self.stamps, self.logs):
            p.mkdir(parents=True, exist_ok=True)


@dataclasses.dataclass(frozen=True)
class Stamp:
    """What a build of one family left behind; a matching stamp means "skip"."""

    family: str
    recipe_key: str
    binaries: tuple[str, ...]
    seconds: float
    bytes: int
    source: str  # "built" or "path:<dir>" or "debian"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def load(cls, path: Path) -> Stamp | None:
        try:
            data = json.loads(path.read_text())
            data["binaries"] = tuple(data["binaries"])
            return cls(**data)
        except (OSError, ValueError, TypeError, KeyError):
            return None


class BuildLog:
    """Runs commands for one family, appending their output to the family's log file."""

    def __init__(self, path: Path, progress: ProgressFn) -> None:
        self.path = path
        self.progress = progress
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("w", encoding="utf-8")

    def close(self) -> None:
        self._fh.close()

    def note(self, message: str) -> None:
        self._fh.write(f"# {message}\n")
        self._fh.flush()
        self.progress(message)

    def run(
        self,
        args: Sequence[str | Path],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        what: str,
        capture: bool = False,
    ) -> str:
        """Run ``args``; on failure raise ToolchainError naming ``what`` and the log path.

        Output goes to the log file; with ``capture`` stdout is also returned (and not logged
        line by line, but it is small by contract: ``go list``/``go mod download -json``).
        """
        argv = [str(a) for a in args]
        self._fh.write(f"$ {' '.join(argv)}  (cwd={cwd})\n")
        self._fh.flush()
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=full_env,
            stdout=subprocess.PIPE if capture else self._fh,
            stderr=self._fh if capture else subprocess.STDOUT,
            text=True,
            check=False,
        )
        out = proc.stdout if capture else ""
        self._fh.flush()
        if proc.returncode != 0:
            raise ToolchainError(
                f"{what} failed (exit {proc.returncode}); see {self.path}",
                log_path=self.path,
            )
        return out


def dir_bytes(paths: Sequence[Path]) -> int:
    total = 0
    for p in paths:
        if p.is_file():
            total += p.stat().st_size
    return total


def install_binary(
    src: Path, bin_dir: Path, name: str | None = None, *, move: bool = False
) -> Path:
    """Put a binary into the shared bin dir atomically. Build output is moved (the binaries
    are large and the copy is not needed afterwards); anything else is copied."""
    dest = bin_dir / (name or src.name)
    tmp = dest.with_suffix(dest.suffix + ".tmp")
    if move:
        shutil.move(src, tmp)
    else:
        shutil.copy2(src, tmp)
    tmp.chmod(0o755)
    tmp.replace(dest)
    return dest


def recipe_key(*parts: str) -> str:
    """A short hash of everything that decides a build's output (versions, flags)."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]


class Timer:
    def __init__(self) -> None:
        self.start = time.monotonic()

    @property
    def seconds(self) -> float:
        return round(time.monotonic() - self.start, 1)
