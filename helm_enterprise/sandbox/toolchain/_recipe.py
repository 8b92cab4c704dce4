"""The recipe interface: one tool family, how to build it, how to recognise it on PATH."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from helm_enterprise.sandbox.toolchain._base import BuildLog, Layout, install_binary
from helm_enterprise.sandbox.toolchain._go import GoWrapper, go_env


@dataclasses.dataclass
class BuildContext:
    """What a recipe's build function gets: a scratch dir, a log and install helpers."""

    layout: Layout
    family: str
    log: BuildLog

    @property
    def workdir(self) -> Path:
        return self.layout.work(self.family)

    def wrapper(self, module: str, subdir: str = "wrapper") -> GoWrapper:
        return GoWrapper(self.workdir / subdir, module, self.log, go_env())

    def install(self, src: Path, name: str | None = None) -> Path:
        """Install into bin/: built files (under the work dir) are moved, others copied."""
        return install_binary(src, self.layout.bin, name, move=src.is_relative_to(self.workdir))

    def out(self, name: str) -> Path:
        """Where a build writes a binary before it is installed into bin/."""
        d = self.workdir / "out"
        d.mkdir(parents=True, exist_ok=True)
        return d / name

    def build_pinned(
        self, module: str, version: str, main: str, binary: str, ldflags: list[str] | None = None
    ) -> None:
        """Build and install ``binary`` from ``module@version``'s package ``main`` through
        a wrapper module that pins the version and enforces upstream's go.sum (for modules
        without replace directives)."""
        w = self.wrapper(f"helm-enterprise-toolchain/{self.family}")
        w.init()
        spec = f"{module}@{version}"
        info = w.download_plain(spec, self.family)
        w.require(spec)
        w.seed_sums(Path(str(info["Dir"])))
        w.blank_imports([f"{module}/{main}"])
        w.tidy()
        self.install(w.build(f"{module}/{main}", self.out(binary), ldflags=ldflags or []))


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One tool family.

    ``binaries`` are the names the family installs into ``bin/`` (the sandbox runs them from
    there). ``key`` is every input that decides the output (versions, flags); a change of
    key rebuilds. ``probe`` (optional) looks for a fitting binary already on PATH, returning
    its path, so real users' installed tools (their Pulumi CLI, helm, kubectl) are reused.
    ``estimate_minutes`` is the cold build time measured on the reference 2-core machine,
    shown to users before a long build.
    """

    family: str
    version: str
    binaries: tuple[str, ...]
    key: tuple[str, ...]
    build: Callable[[BuildContext], None]
    estimate_minutes: float
    probe: Callable[[], dict[str, Path] | None] | None = None
    description: str = ""


def probe_version(binary: str, args: list[str], expect: str) -> Path | None:
    """Return the PATH location of ``binary`` when ``binary args`` prints ``expect``."""
    found = shutil.which(binary)
    if not found:
        return None
    try:
        out = subprocess.run(
            [found, *args], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(found) if expect in (out.stdout + out.stderr) else None
