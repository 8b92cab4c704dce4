"""The toolchain builder: every binary the local platform runs, built from pinned sources.

Use :func:`ensure` (what ``helm-enterprise sandbox toolchain`` calls): it builds whatever
is missing or out of date into the per-user cache, skips what is already there, reuses a
fitting binary found on PATH, and returns a :class:`Toolchain` that maps binary names to
paths. Recipes live in ``recipes/``, one module per tool family, each exposing
``RECIPES: list[Recipe]``.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from filelock import FileLock

from helm_enterprise.errors import ToolchainError
from helm_enterprise.sandbox.toolchain._base import (
    BuildLog,
    Layout,
    ProgressFn,
    Stamp,
    Timer,
    dir_bytes,
    recipe_key,
)
from helm_enterprise.sandbox.toolchain._recipe import BuildContext, Recipe

__all__ = ["Layout", "Recipe", "Toolchain", "all_recipes", "ensure", "status"]

# Order matters only for progress output: the quick builds first.
RECIPE_MODULES = (
    "kwok",
    "cri_tools",
    "metrics_server",
    "etcd",
    "helm",
    "pulumi",
    "pulumi_yaml",
    "language_hosts",
    "sdkgen",
    "kubernetes",
    "vault",
    "debian",
    "images",
)


def all_recipes() -> list[Recipe]:
    recipes: list[Recipe] = []
    for name in RECIPE_MODULES:
        try:
            mod = importlib.import_module(f"helm_enterprise.sandbox.toolchain.recipes.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"helm_enterprise.sandbox.toolchain.recipes.{name}":
                continue
            raise
        recipes.extend(mod.RECIPES)
    return recipes


@dataclasses.dataclass(frozen=True)
class Toolchain:
    """Where every toolchain binary is; ``env()`` puts them first on PATH."""

    layout: Layout
    stamps: dict[str, Stamp]

    def path(self, binary: str) -> Path:
        p = self.layout.bin / binary
        if not p.exists():
            raise ToolchainError(
                f"toolchain binary {binary!r} is missing; run `helm-enterprise sandbox toolchain`"
            )
        return p

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        env["PATH"] = f"{self.layout.bin}{os.pathsep}{env.get('PATH', '')}"
        return env


def _stamp_ok(layout: Layout, recipe: Recipe, key: str) -> Stamp | None:
    stamp = Stamp.load(layout.stamp(recipe.family))
    if stamp is None or stamp.recipe_key != key:
        return None
    if not all((layout.bin / b).exists() for b in recipe.binaries):
        return None
    return stamp


def _select(recipes: Sequence[Recipe], families: Iterable[str] | None) -> list[Recipe]:
    if families is None:
        return list(recipes)
    wanted = list(families)
    known = {r.family for r in recipes}
    unknown = [f for f in wanted if f not in known]
    if unknown:
        raise ToolchainError(f"unknown toolchain families {unknown}; known: {sorted(known)}")
    return [r for r in recipes if r.family in wanted]


def status(layout: Layout | None = None) -> list[tuple[Recipe, Stamp | None]]:
    """Each recipe with its up-to-date stamp, or None when it would be (re)built."""
    layout = layout or Layout.default()
    return [(r, _stamp_ok(layout, r, recipe_key(*r.key))) for r in all_recipes()]


def ensure(
    families: Iterable[str] | None = None,
    *,
    layout: Layout | None = None,
    progress: ProgressFn = print,
    force: bool = False,
    prefer_path: bool = True,
) -> Toolchain:
    """Build what is missing; return the toolchain. Safe to call concurrently (file locks)."""
    layout = layout or Layout.default()
    layout.ensure()
    recipes = _select(all_recipes(), families)
    todo = []
    stamps: dict[str, Stamp] = {}
    for r in recipes:
        key = recipe_key(*r.key)
        st = None if force else _stamp_ok(layout, r, key)
        if st:
            stamps[r.family] = st
        else:
            todo.append(r)
    if todo:
        total = sum(r.estimate_minutes for r in todo)
        progress(
            f"toolchain: building {', '.join(r.family for r in todo)} "
            f"(cold estimate ~{total:.0f} min on 2 cores; logs in {layout.logs})"
        )
    for i, r in enumerate(todo, 1):
        stamps[r.family] = _build_one(layout, r, progress, i, len(todo), force, prefer_path)
    return Toolchain(layout, stamps)


def _build_one(
    layout: Layout,
    recipe: Recipe,
    progress: ProgressFn,
    index: int,
    count: int,
    force: bool,
    prefer_path: bool,
) -> Stamp:
    key = recipe_key(*recipe.key)
    lock = FileLock(str(layout.root / f".{recipe.family}.lock"))
    with lock:
        # Another process may have built it while we waited for the lock.
        st = None if force else _stamp_ok(layout, recipe, key)
        if st:
            return st
        prefix = f"[{index}/{count}] {recipe.family} {recipe.version}"
        log = BuildLog(layout.log(recipe.family), lambda m: progress(f"{prefix}: {m}"))
        timer = Timer()
        try:
            found = recipe.probe() if (prefer_path and recipe.probe) else None
            if found:
                for name, path in found.items():
                    dest = layout.bin / name
                    if dest.is_symlink() or dest.exists():
                        dest.unlink()
                    dest.symlink_to(path)
                log.note(f"using {', '.join(str(p) for p in found.values())} from PATH")
                source = "path"
            else:
                log.note(f"building (~{recipe.estimate_minutes:.0f} min cold)")
                recipe.build(BuildContext(layout, recipe.family, log))
                source = "built"
            missing = [b for b in recipe.binaries if not (layout.bin / b).exists()]
            if missing:
                raise ToolchainError(
                    f"{recipe.family}: build finished but {missing} are missing; see {log.path}",
                    log_path=log.path,
                )
            stamp = Stamp(
                family=recipe.family,
                recipe_key=key,
                binaries=recipe.binaries,
                seconds=timer.seconds,
                bytes=dir_bytes([layout.bin / b for b in recipe.binaries]),
                source=source,
            )
            layout.stamp(recipe.family).write_text(stamp.to_json())
            log.note(f"done in {timer.seconds:.0f}s")
            return stamp
        except ToolchainError:
            raise
        except OSError as err:
            raise ToolchainError(
                f"{recipe.family}: {err}; see {log.path}", log_path=log.path
            ) from err
        finally:
            log.close()


def bin_dir(layout: Layout | None = None) -> Path:
    return (layout or Layout.default()).bin
