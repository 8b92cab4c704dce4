"""kwok: simulates Nodes and Pods (Ready, heartbeats) so no container runtime is needed.

Its module has no replace directives, so the wrapper is only used to pin the version and
keep the build flags uniform. The Stage configs kwok needs ship inside the module
(``kustomize/stage/``); the sandbox copies them from the module cache at start-up.
"""

from __future__ import annotations

from helm_enterprise.sandbox.toolchain._recipe import BuildContext, Recipe

MODULE = "sigs.k8s.io/kwok"
VERSION = "v0.8.0"


def _build(ctx: BuildContext) -> None:
    w = ctx.wrapper("helm-enterprise-toolchain/kwok")
    w.init()
    w.require(f"{MODULE}@{VERSION}")
    w.blank_imports([f"{MODULE}/cmd/kwok"])
    w.tidy()
    out = w.build(
        f"{MODULE}/cmd/kwok",
        ctx.out("kwok"),
        ldflags=[f"-X sigs.k8s.io/kwok/pkg/consts.Version={VERSION}"],
    )
    ctx.install(out)
    # The Stage configs (node-initialize, pod-ready, ...) ship in the module source.
    info = w.download(f"{MODULE}@{VERSION}")
    stage_src = f"{info['Dir']}/kustomize/stage"
    w.log.run(
        ["cp", "-rT", stage_src, str(ctx.layout.root / "kwok-stages")],
        what="copying kwok stage configs",
    )


RECIPES = [
    Recipe(
        family="kwok",
        version=VERSION,
        binaries=("kwok",),
        key=(MODULE, VERSION, "stages-v1"),
        build=_build,
        estimate_minutes=3,
        description="kwok (fake nodes and pod lifecycle)",
    )
]
