"""cri-tools: ``crictl``, the CRI client used to inspect the real node's containerd.

The sandbox's real node runs pods through containerd's CRI plugin; ``crictl`` talks to the
same socket the kubelet uses (pods, containers, images, logs, exec), which is what a person
or a test needs when a pod on that node misbehaves. v1.34 matches the kubelet's minor
version and speaks CRI v1, which containerd 1.6 serves.

The module has no replace directives (upstream builds from its vendor/ tree, which the
module zip does not ship), so the wrapper only pins the version, enforces upstream's
go.sum and keeps the build flags uniform. The version variable is the one upstream's
Makefile sets (``-X sigs.k8s.io/cri-tools/pkg/version.Version``); without it
``crictl --version`` reports ``unknown``.
"""

from __future__ import annotations

from helm_enterprise.sandbox.toolchain._recipe import BuildContext, Recipe

MODULE = "sigs.k8s.io/cri-tools"
VERSION = "v1.34.0"


def _build(ctx: BuildContext) -> None:
    ctx.build_pinned(
        MODULE,
        VERSION,
        "cmd/crictl",
        "crictl",
        ldflags=[f"-X {MODULE}/pkg/version.Version={VERSION}"],
    )


RECIPES = [
    Recipe(
        family="cri-tools",
        version=VERSION,
        binaries=("crictl",),
        key=(MODULE, VERSION, "ldflags-v1"),
        build=_build,
        estimate_minutes=1,
        description="crictl (CRI client for the real node's containerd)",
    )
]
