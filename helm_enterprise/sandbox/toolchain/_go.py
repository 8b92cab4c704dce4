"""Building Go programs from their published modules through a wrapper module.

``go install mod/cmd@ver`` refuses modules whose go.mod has ``replace``/``exclude``
directives, which is the case for Pulumi, Kubernetes and Vault. The workaround used by
every recipe: a tiny wrapper module per tool family that *requires* the target module,
re-states the target's non-local ``replace``/``exclude``/``godebug`` lines, turns its local
``=> ../x`` replaces into pinned published versions of those sibling modules, and builds
the target's main package from there.

Checksums: this machine cannot reach sum.golang.org, so the checksum database is off
(``GOSUMDB=off``). To keep hash verification where it matters, :meth:`GoWrapper.seed_sums`
copies the target module's own ``go.sum`` into the wrapper first: the go command then
refuses any dependency whose content differs from what upstream recorded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from helm_enterprise.errors import ToolchainError
from helm_enterprise.sandbox.toolchain._base import BuildLog

_DIRECTIVE_BLOCK = re.compile(r"^(replace|exclude|godebug)\s*\(\s*$")


def go_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for every go invocation of the builder."""
    env = {
        "GOSUMDB": "off",
        "GOTOOLCHAIN": os.environ.get("GOTOOLCHAIN", "local"),
        "CGO_ENABLED": "0",
        "GOFLAGS": "-mod=mod -trimpath -buildvcs=false",
        "GOWORK": "off",
    }
    if extra:
        env.update(extra)
    return env


def parse_directives(gomod: str) -> dict[str, list[str]]:
    """Return the ``replace``, ``exclude`` and ``godebug`` lines of a go.mod (bodies only)."""
    out: dict[str, list[str]] = {"replace": [], "exclude": [], "godebug": []}
    block: str | None = None
    for raw in gomod.splitlines():
        line = raw.split("//", 1)[0].strip()
        if not line:
            continue
        if block:
            if line == ")":
                block = None
            else:
                out[block].append(line)
            continue
        m = _DIRECTIVE_BLOCK.match(line)
        if m:
            block = m.group(1)
            continue
        for kind, bodies in out.items():
            if line.startswith(kind + " "):
                bodies.append(line[len(kind) + 1 :].strip())
    return out


def is_local_replace(body: str) -> bool:
    """``a => ../b`` or ``a => ./b`` (a path, not a module version)."""
    target = body.split("=>", 1)[1].strip()
    return target.startswith(".") or target.startswith("/")


class GoWrapper:
    """A throwaway module that builds someone else's main packages reproducibly."""

    def __init__(self, workdir: Path, module: str, log: BuildLog, env: Mapping[str, str]) -> None:
        self.dir = workdir
        self.module = module
        self.log = log
        self.env = dict(env)

    # -- set-up -----------------------------------------------------------------------

    def init(self, go_directive: str | None = None) -> None:
        """Start from an empty wrapper (a previous attempt's go.mod is discarded)."""
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        lines = [f"module {self.module}", ""]
        if go_directive:
            lines += [f"go {go_directive}", ""]
        (self.dir / "go.mod").write_text("\n".join(lines))
        # A blank-import file keeps `go mod tidy` from dropping the required modules.
        (self.dir / "tools.go").write_text("//go:build tools\n\npackage tools\n")

    def go(self, *args: str, what: str, capture: bool = False) -> str:
        return self.log.run(["go", *args], cwd=self.dir, env=self.env, what=what, capture=capture)

    def download(self, spec: str) -> dict[str, object]:
        """``go mod download -json spec``: the module's Dir, GoMod and Origin."""
        out = self.go("mod", "download", "-json", spec, what=f"downloading {spec}", capture=True)
        info: dict[str, object] = json.loads(out)
        if info.get("Error"):
            raise ToolchainError(
                f"the Go module proxy refused {spec}: {info['Error']}", log_path=self.log.path
            )
        return info

    def download_plain(self, spec: str, recipe: str) -> dict[str, object]:
        """:meth:`download` of a module that builds as published: one whose go.mod has
        ``replace`` directives (a new version may add some) is refused, naming the recipe
        that must re-state them."""
        info = self.download(spec)
        if parse_directives(Path(str(info["GoMod"])).read_text())["replace"]:
            raise ToolchainError(
                f"{spec}: go.mod now has replace directives; re-state them in the {recipe} recipe",
                log_path=self.log.path,
            )
        return info

    def upstream_gomod(self, spec: str) -> str:
        info = self.download(spec)
        return Path(str(info["GoMod"])).read_text()

    def seed_sums(self, module_dir: Path) -> None:
        """Copy an upstream go.sum so its recorded hashes are enforced (see module doc)."""
        src = module_dir / "go.sum"
        if src.exists():
            dest = self.dir / "go.sum"
            existing = dest.read_text() if dest.exists() else ""
            dest.write_text(existing + src.read_text())

    def append(self, text: str) -> None:
        with (self.dir / "go.mod").open("a") as fh:
            fh.write("\n" + text.rstrip() + "\n")

    def require(self, *specs: str) -> None:
        """``go mod edit -require`` (no resolution yet; `tidy`/`build` resolve later)."""
        for spec in specs:
            self.go("mod", "edit", f"-require={spec}", what=f"requiring {spec}")

    def replace(self, old: str, new: str) -> None:
        self.go("mod", "edit", f"-replace={old}={new}", what=f"replacing {old}")

    def copy_directives(
        self,
        gomod: str,
        *,
        local_versions: Mapping[str, str] | None = None,
        skip: Iterable[str] = (),
    ) -> None:
        """Re-state upstream's replace/exclude/godebug lines in the wrapper.

        Local replaces (``x => ../x``) are turned into ``x => x <version>`` using
        ``local_versions``; a local replace with no version given is dropped when the module
        is in ``skip`` and otherwise is an error, so a new upstream layout is noticed.
        """
        local_versions = dict(local_versions or {})
        skip_set = set(skip)
        d = parse_directives(gomod)
        out: list[str] = []
        for body in d["replace"]:
            old = body.split("=>", 1)[0].strip().split()[0]
            if is_local_replace(body):
                if old in local_versions:
                    out.append(f"replace {old} => {old} {local_versions[old]}")
                elif old not in skip_set:
                    raise ToolchainError(
                        f"upstream go.mod has a local replace for {old} and the recipe pins no "
                        "version for it; update the recipe",
                        log_path=self.log.path,
                    )
            elif old not in skip_set:
                out.append(f"replace {body}")
        out += [f"exclude {b}" for b in d["exclude"]]
        out += [f"godebug {b}" for b in d["godebug"]]
        if out:
            self.append("\n".join(out))

    def tidy(self) -> None:
        self.go("mod", "tidy", what="resolving the wrapper module (go mod tidy)")

    def blank_imports(self, packages: Sequence[str]) -> None:
        body = "\n".join(f'\t_ "{p}"' for p in packages)
        (self.dir / "tools.go").write_text(
            f"//go:build tools\n\npackage tools\n\nimport (\n{body}\n)\n"
        )

    # -- build ------------------------------------------------------------------------

    def build(
        self,
        package: str,
        out: Path,
        *,
        ldflags: Sequence[str] = (),
        tags: Sequence[str] = (),
    ) -> Path:
        args = ["build", "-o", str(out)]
        if tags:
            args += ["-tags", ",".join(tags)]
        # -s -w: no symbol tables / DWARF; the binaries are run, never debugged, and this
        # halves the toolchain's disk use.
        args += ["-ldflags", " ".join(["-s", "-w", *ldflags])]
        args.append(package)
        self.go(*args, what=f"building {package}")
        return out
