"""etcd: the sandbox clusters' storage, built from ``go.etcd.io/etcd/server/v3``.

The ``etcd`` main package is the module root of ``go.etcd.io/etcd/server/v3`` (``main.go``
calls ``etcdmain.Main``). Workarounds:

* **Sibling modules.** The server's go.mod replaces ``api/v3``, ``client/pkg/v3``,
  ``client/v3`` and ``pkg/v3`` with ``../x`` paths of the monorepo. Every release tags all
  siblings at the same version, so the wrapper replaces each with that tag. The list is
  read from the downloaded go.mod, not written here.
* **Guard replaces dropped.** ``go.etcd.io/etcd => ./FORBIDDEN_DEPENDENCY`` (and the same for
  ``go.etcd.io/tests/v3``) only exist to make a wrong import fail loudly inside etcd's repo;
  nothing in the build graph needs those modules, so the wrapper omits them.
* **Checksums.** With ``GOSUMDB=off`` the server's own go.sum is seeded into the wrapper,
  so third-party dependencies must match what etcd recorded. The sibling modules are not in
  it (upstream builds them from the tree).
* **Version stamp.** ``go.etcd.io/etcd/api/v3/version.GitSHA`` is set to the release commit
  (from the proxy's ``Origin``), as etcd's ``build.sh`` does; the version number itself is a
  constant in the api module.

Version choice: 3.6.5, the etcd that Kubernetes 1.34 (the ``kubernetes`` family) lists in
``build/dependencies.yaml``; its client libraries in k8s.io/kubernetes are 3.6.x too.
Debian bookworm's etcd-server (3.4) is older than any etcd 1.34 is tested with.
"""

from __future__ import annotations

from pathlib import Path

from helm_enterprise.sandbox.toolchain._go import is_local_replace, parse_directives
from helm_enterprise.sandbox.toolchain._recipe import BuildContext, Recipe

MODULE = "go.etcd.io/etcd/server/v3"
VERSION = "v3.6.5"
_GUARD = "FORBIDDEN_DEPENDENCY"


def sibling_versions(gomod: str, version: str) -> tuple[dict[str, str], list[str]]:
    """Local replaces of the server go.mod: (siblings pinned to ``version``, guards to drop)."""
    siblings: dict[str, str] = {}
    guards: list[str] = []
    for body in parse_directives(gomod)["replace"]:
        if not is_local_replace(body):
            continue
        old, target = (s.strip() for s in body.split("=>", 1))
        old = old.split()[0]
        if _GUARD in target:
            guards.append(old)
        else:
            siblings[old] = version
    return siblings, guards


def _go_directive(gomod: str) -> str | None:
    for line in gomod.splitlines():
        if line.startswith("go "):
            return line.split()[1]
    return None


def _build(ctx: BuildContext) -> None:
    w = ctx.wrapper("helm-enterprise-toolchain/etcd")
    w.init()
    spec = f"{MODULE}@{VERSION}"
    info = w.download(spec)
    gomod = Path(str(info["GoMod"])).read_text()
    w.init(_go_directive(gomod))
    siblings, guards = sibling_versions(gomod, VERSION)
    w.copy_directives(gomod, local_versions=siblings, skip=guards)
    w.require(spec)
    w.seed_sums(Path(str(info["Dir"])))
    w.blank_imports([MODULE])
    w.tidy()
    origin = info.get("Origin")
    sha = str(origin.get("Hash", ""))[:10] if isinstance(origin, dict) else ""
    ldflags = [f"-X go.etcd.io/etcd/api/v3/version.GitSHA={sha}"] if sha else []
    out = w.build(MODULE, ctx.out("etcd"), ldflags=ldflags)
    ctx.install(out)


RECIPES = [
    Recipe(
        family="etcd",
        version=VERSION,
        binaries=("etcd",),
        key=(MODULE, VERSION, "gitsha-v1"),
        build=_build,
        estimate_minutes=1,
        description="etcd (cluster storage)",
    )
]
