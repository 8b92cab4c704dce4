"""pulumi-language-yaml: the language host of Pulumi YAML programs.

The sandbox runs YAML programs that use the package's components through its resource
plugin (``pulumi-resource-helm-enterprise``, issue 15). ``github.com/pulumi/pulumi-yaml``
v1.25.0 is served by the module proxy, and its module has no replace or exclude
directives, so the wrapper pins the version and enforces upstream's go.sum like the
other single-module builds.
"""

from __future__ import annotations

from helm_enterprise.sandbox.toolchain._recipe import BuildContext, Recipe

MODULE = "github.com/pulumi/pulumi-yaml"
VERSION = "v1.25.0"


def _build(ctx: BuildContext) -> None:
    ctx.build_pinned(
        MODULE,
        VERSION,
        "cmd/pulumi-language-yaml",
        "pulumi-language-yaml",
        ldflags=[f"-X {MODULE}/pkg/version.Version={VERSION}"],
    )


RECIPES = [
    Recipe(
        family="pulumi-yaml",
        version=VERSION,
        binaries=("pulumi-language-yaml",),
        key=(MODULE, VERSION, "v1"),
        build=_build,
        estimate_minutes=8,
        description="pulumi-language-yaml (Pulumi YAML programs)",
    )
]
