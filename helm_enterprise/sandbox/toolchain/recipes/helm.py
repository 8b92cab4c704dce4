"""helm: the Helm 3 CLI, used by the e2e tier to check releases independently of Pulumi.

The tests read release history, status and rollbacks with the real ``helm`` binary so
that what helm_enterprise reports is checked against Helm's own view of the cluster.

``helm.sh/helm/v3`` has no replace/exclude directives, so the wrapper only pins the
version and keeps the build flags uniform with the other families. The ldflags are the
ones upstream's Makefile sets:

* ``internal/version.version``/``gitCommit``/``gitTreeState``: without them
  ``helm version`` reports the bare default (``v3.22``) and no commit. The commit comes
  from the Go proxy's ``Origin`` record of the release tag.
* ``pkg/lint/rules`` and ``pkg/chartutil`` ``k8sVersionMajor``/``Minor``: the Kubernetes
  version ``helm template``/``helm lint`` assume without a cluster. Upstream derives them
  from the client-go version (``v0.37`` -> ``1.37``); so does this recipe, after
  resolution, so they follow the module graph rather than a hand-kept constant.

A ``helm`` already on PATH is reused when it is any v3.x (the checks the tests make are
stable across Helm 3 minors).
"""

from __future__ import annotations

from pathlib import Path

from helm_enterprise.errors import ToolchainError
from helm_enterprise.sandbox.toolchain._recipe import BuildContext, Recipe, probe_version

MODULE = "helm.sh/helm/v3"
VERSION = "v3.22.0"
MAIN = f"{MODULE}/cmd/helm"


def _k8s_version(client_go: str) -> tuple[str, str]:
    """client-go ``v0.37.0`` -> Kubernetes ``("1", "37")`` (upstream Makefile's rule)."""
    parts = client_go.lstrip("v").split(".")
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isdigit():
        raise ToolchainError(
            f"helm: cannot derive the Kubernetes version from client-go {client_go}"
        )
    return str(int(parts[0]) + 1), parts[1]


def _build(ctx: BuildContext) -> None:
    w = ctx.wrapper("helm-enterprise-toolchain/helm")
    w.init()
    info = w.download(f"{MODULE}@{VERSION}")
    w.seed_sums(Path(str(info["Dir"])))
    w.require(f"{MODULE}@{VERSION}")
    w.blank_imports([MAIN])
    w.tidy()
    origin = info.get("Origin")
    commit = str(origin.get("Hash", "")) if isinstance(origin, dict) else ""
    client_go = w.go(
        "list",
        "-m",
        "-f",
        "{{.Version}}",
        "k8s.io/client-go",
        what="reading the resolved client-go version",
        capture=True,
    ).strip()
    major, minor = _k8s_version(client_go)
    v = f"{MODULE}/internal/version"
    ldflags = [
        f"-X {v}.version={VERSION}",
        f"-X {v}.gitCommit={commit}",
        f"-X {v}.gitTreeState=clean",
        f"-X {MODULE}/pkg/lint/rules.k8sVersionMajor={major}",
        f"-X {MODULE}/pkg/lint/rules.k8sVersionMinor={minor}",
        f"-X {MODULE}/pkg/chartutil.k8sVersionMajor={major}",
        f"-X {MODULE}/pkg/chartutil.k8sVersionMinor={minor}",
    ]
    ctx.install(w.build(MAIN, ctx.out("helm"), ldflags=ldflags))


def _probe() -> dict[str, Path] | None:
    # `helm version --short` prints e.g. "v3.19.0+g3d8990f"; any Helm 3 will do.
    found = probe_version("helm", ["version", "--short"], "v3.")
    return {"helm": found} if found else None


RECIPES = [
    Recipe(
        family="helm",
        version=VERSION,
        binaries=("helm",),
        key=(MODULE, VERSION, "ldflags-v1"),
        build=_build,
        estimate_minutes=2,
        probe=_probe,
        description="helm CLI (independent check of releases, history, rollbacks)",
    )
]
