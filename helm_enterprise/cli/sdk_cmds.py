"""``helm-enterprise sdk gen``: the package's TypeScript or Go SDK, generated offline.

The generator is the toolchain binary ``pulumi-sdkgen-helm-enterprise`` (recipe ``sdkgen``:
the code generators of pkg/v3 at the Pulumi CLI's version, no language host needed). It reads
the package's checked-in schema (``helm_enterprise/provider/schema.json``) and writes the SDK,
versioned like the installed package, into ``sdk/<language>`` (or ``--out``).

An existing output directory is replaced only when a previous ``sdk gen`` wrote it (it holds
:data:`MARKER`); the SDK is generated next to it first, so a failure leaves it as it was.
"""

from __future__ import annotations

import enum
import hashlib
import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Annotated

import typer

from helm_enterprise.cli import app, err, handle_errors, out
from helm_enterprise.errors import ConfigError, HelmEnterpriseError, ToolchainError

sdk_app = typer.Typer(
    help="SDKs of the components for other Pulumi languages.", no_args_is_help=True
)
app.add_typer(sdk_app, name="sdk")

# Written into every generated SDK: what made it, and the permission to replace it.
MARKER = ".helm-enterprise-sdk.json"
DEFAULT_GO_IMPORT_BASE = "example.com/helm-enterprise/sdk/go/helmenterprise"
DEFAULT_NPM_PACKAGE = "helm-enterprise"


class Language(enum.StrEnum):
    nodejs = "nodejs"
    go = "go"


def generator() -> Path:
    """The generator binary; a one-line error when it is missing or older than its source."""
    from helm_enterprise.sandbox.toolchain import Layout
    from helm_enterprise.sandbox.toolchain._base import Stamp, recipe_key
    from helm_enterprise.sandbox.toolchain.recipes import sdkgen

    layout = Layout.default()
    binary = layout.bin / sdkgen.BINARY
    if not binary.is_file():
        raise ToolchainError(
            f"the SDK generator ({binary}) is not built; run `helm-enterprise sandbox toolchain`"
        )
    recipe = sdkgen.RECIPES[0]
    stamp = Stamp.load(layout.stamp(recipe.family))
    if stamp is None or stamp.recipe_key != recipe_key(*recipe.key):
        raise ToolchainError(
            f"the SDK generator ({binary}) is older than its source; "
            "run `helm-enterprise sandbox toolchain`"
        )
    return binary


def _replaceable(target: Path) -> bool:
    return not target.exists() or (
        target.is_dir() and ((target / MARKER).is_file() or not any(target.iterdir()))
    )


def generate(
    language: Language,
    target: Path,
    *,
    schema: Path | None = None,
    go_import_base: str = DEFAULT_GO_IMPORT_BASE,
    npm_package: str = DEFAULT_NPM_PACKAGE,
) -> int:
    """Write the ``language`` SDK to ``target``; the number of files written."""
    from helm_enterprise.provider import SCHEMA_FILE, package_version

    schema = schema or SCHEMA_FILE
    if not schema.is_file():
        raise ConfigError(f"schema {schema} does not exist", path="--schema")
    if not _replaceable(target):
        raise ConfigError(
            f"{target} exists and was not written by `helm-enterprise sdk gen`; "
            "choose another --out or remove it",
            path="--out",
        )
    binary = generator()
    version = package_version()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    cmd = [
        str(binary),
        "--schema", str(schema),
        "--language", language.value,
        "--out", str(tmp),
        "--version", version,
        "--go-import-base", go_import_base,
        "--nodejs-package", npm_package,
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode != 0:
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            why = lines[-1] if lines else f"exit code {proc.returncode}"
            raise HelmEnterpriseError(f"generating the {language.value} SDK failed: {why}")
        files = sum(1 for p in tmp.rglob("*") if p.is_file())
        marker = {
            "language": language.value,
            "version": version,
            "schema_sha256": hashlib.sha256(schema.read_bytes()).hexdigest(),
            "generator": binary.name,
        }
        (tmp / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return files


@sdk_app.command("gen")
@handle_errors
def gen(
    language: Annotated[
        Language, typer.Option("--language", "-l", help="nodejs (TypeScript) or go.")
    ],
    out_dir: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output directory (default: sdk/<language>).")
    ] = None,
    schema: Annotated[
        Path | None,
        typer.Option("--schema", help="Package schema (default: the package's schema.json)."),
    ] = None,
    go_import_base: Annotated[
        str, typer.Option("--go-import-base", help="Go import path of the SDK's root package.")
    ] = DEFAULT_GO_IMPORT_BASE,
    npm_package: Annotated[
        str, typer.Option("--nodejs-package", help="npm package name of the TypeScript SDK.")
    ] = DEFAULT_NPM_PACKAGE,
) -> None:
    """Generate the TypeScript or Go SDK of the components from the package schema."""
    target = (out_dir or Path("sdk") / language.value).resolve()
    count = generate(
        language, target, schema=schema, go_import_base=go_import_base, npm_package=npm_package
    )
    err.print(f"wrote the {language.value} SDK ({count} files) to {target}", highlight=False)
    hint = {
        Language.nodejs: f"use it from a program with `npm install {target}`",
        Language.go: (
            f"use it from a program with `go mod edit -require={_go_module(go_import_base)}"
            f"@v0.0.0 -replace={_go_module(go_import_base)}={target}`"
        ),
    }[language]
    out.print(hint, highlight=False)


def _go_module(import_base: str) -> str:
    """The module path of the generated go.mod: the import base without its last element."""
    return import_base.rsplit("/", 1)[0]
