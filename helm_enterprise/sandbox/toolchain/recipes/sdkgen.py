"""pulumi-sdkgen-helm-enterprise: generates the package's TypeScript and Go SDKs offline.

``pulumi package gen-sdk`` delegates to the target language's host (``pulumi-language-nodejs``,
``pulumi-language-go``), which the module proxy does not serve. The generator is this
project's own small Go program (``helm_enterprise/sdkgen/main.go``, shipped as package data)
calling the code generators of ``github.com/pulumi/pulumi/pkg/v3`` at the Pulumi CLI's
version. It is built in a wrapper module like the CLI: pkg/v3's ``sdk/v3 => ../sdk`` replace
is restated as sdk/v3 at the same version, its other replaces are copied, and pkg/v3's go.sum
is enforced. The key holds a hash of main.go, so an edit of the source rebuilds it.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from helm_enterprise.errors import ToolchainError
from helm_enterprise.sandbox.toolchain._recipe import BuildContext, Recipe
from helm_enterprise.sandbox.toolchain.recipes.pulumi import CLI_VERSION, PKG, SDK

BINARY = "pulumi-sdkgen-helm-enterprise"
SOURCE = Path(__file__).resolve().parents[3] / "sdkgen" / "main.go"
MODULE = "helm-enterprise-toolchain/sdkgen"
MAIN = f"{MODULE}/cmd/{BINARY}"


def source_hash() -> str:
    """The generator source's hash (part of the key); empty when the source is missing."""
    try:
        return hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]
    except OSError:
        return ""


def _build(ctx: BuildContext) -> None:
    if not SOURCE.is_file():
        raise ToolchainError(f"generator source {SOURCE} is missing from the package")
    w = ctx.wrapper(MODULE)
    w.init()
    pkg = w.download(f"{PKG}@{CLI_VERSION}")
    w.download(f"{SDK}@{CLI_VERSION}")
    w.require(f"{PKG}@{CLI_VERSION}", f"{SDK}@{CLI_VERSION}")
    w.copy_directives(Path(str(pkg["GoMod"])).read_text(), local_versions={SDK: CLI_VERSION})
    w.seed_sums(Path(str(pkg["Dir"])))
    main_dir = w.dir / "cmd" / BINARY
    main_dir.mkdir(parents=True)
    shutil.copyfile(SOURCE, main_dir / "main.go")
    w.tidy()
    ctx.install(w.build(MAIN, ctx.out(BINARY)))


RECIPES = [
    Recipe(
        family="sdkgen",
        version=CLI_VERSION,
        binaries=(BINARY,),
        key=(PKG, CLI_VERSION, SDK, f"main-src={source_hash()}", "sdkgen-v1"),
        build=_build,
        estimate_minutes=3,
        description="TypeScript/Go SDK generator of the package (helm-enterprise sdk gen)",
    )
]
