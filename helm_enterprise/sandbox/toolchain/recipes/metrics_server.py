"""metrics-server: the resource metrics API (``metrics.k8s.io``) a HorizontalPodAutoscaler
scales on.

It reads each real node's kubelet (``/metrics/resource``) and serves Pods' and Nodes' CPU
and memory through the API server's aggregation layer. v0.8.0 is the release the module
proxy serves as approved. Its module has no replace directives; the wrapper pins the
version, enforces upstream's go.sum and keeps the build flags uniform.
"""

from __future__ import annotations

from helm_enterprise.sandbox.toolchain._recipe import BuildContext, Recipe

MODULE = "sigs.k8s.io/metrics-server"
VERSION = "v0.8.0"


def _build(ctx: BuildContext) -> None:
    ctx.build_pinned(MODULE, VERSION, "cmd/metrics-server", "metrics-server")


RECIPES = [
    Recipe(
        family="metrics-server",
        version=VERSION,
        binaries=("metrics-server",),
        key=(MODULE, VERSION, "v1"),
        build=_build,
        estimate_minutes=3,
        description="metrics-server (resource metrics for the HPA)",
    )
]
