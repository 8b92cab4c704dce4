"""Pulumi: the CLI, the Python language host, and the pulumi-kubernetes provider plugin.

Two families live here:

``pulumi`` -> ``pulumi``, ``pulumi-language-python``, ``pulumi-language-python-exec``
    * The CLI is ``github.com/pulumi/pulumi/pkg/v3/cmd/pulumi`` at ``CLI_VERSION``. Its go.mod
      replaces ``sdk/v3 => ../sdk`` (restated as sdk/v3 at the same version) and
      ``atotto/clipboard`` with a fork (copied as is). It is built like upstream's goreleaser
      config: ``-trimpath``, tags ``osusergo,grpcnotrace`` and the version ldflag. The ldflag
      is load-bearing: the Python Automation API refuses a CLI whose version it cannot parse.
    * The Python language host: since 2023 it is its own module
      (``github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3``), which the
      module proxy this project builds from refuses at every version (403). Up to sdk/v3
      v3.79.0 the host was a package of sdk/v3 itself, so it is built from there, in a
      wrapper of its own (its dependency graph is 2023's and must not be mixed with the
      CLI's). The CLI talks to it through the stable LanguageRuntime gRPC API: it passes
      only the engine address, falls back from GetRequiredPackages to GetRequiredPlugins,
      tolerates an unimplemented Handshake and still fills RunRequest.program/pwd/config.
      The host reports its own version (3.79.0) in ``pulumi about``.
    * ``pulumi-language-python-exec`` (the Python script the host starts the program with;
      it must sit next to the host binary) is taken from sdk/v3 at ``CLI_VERSION``: it accepts
      every argument the old host passes and knows the current Python SDK.
    * The CLI no longer passes ``runtime.options`` as host flags (they travel in the
      Handshake/ProgramInfo the 3.79 host does not read), so ``virtualenv``/``toolchain``
      options are ignored: the host runs ``python3`` from PATH (or ``$PULUMI_PYTHON_CMD``),
      and the venv the program needs must come right after the toolchain's bin dir on PATH.
      It lists packages with ``python -m pip list``, so that venv needs pip.
    * Known gap, Python CrossGuard policy packs given as a *directory*: the CLI starts them
      through the host's RunPlugin without ``RunPluginRequest.program``; the 3.79 host then
      runs ``python3 ""``, which executes the *Pulumi program* in the working directory
      instead of the pack. Workaround (CLI >= 3.255 starts an executable file given to
      ``--policy-pack`` directly as an analyzer): a launcher script inside the pack that runs
      ``python3 -u -m pulumi.policy <engine address> <pack dir>``, the command a current
      host uses, and ``--policy-pack <pack>/<launcher>``.

``pulumi-kubernetes`` -> ``pulumi-resource-kubernetes``
    * The repo tags ``v4.x.y`` and ``sdk/v4.x.y`` but never ``provider/v4.x.y``; the module
      is fetched at the pseudo-version of the release commit (``PROVIDER_PSEUDO``; the proxy
      serves only v4.25.0's source, so the Python SDK is pinned to pulumi-kubernetes==4.25.0).
    * Its main package ``//go:embed``s ``schema-embed.json`` and
      ``terraform-mapping-embed.json``, produced by ``go generate`` (``generate.go``) from the
      committed ``schema.json`` / ``terraform-mapping.json`` and so absent from the module
      zip. The module is copied to a writable folder, the two files are generated the way
      ``generate.go`` does (schema with ``version`` set, both minified) and the wrapper
      ``replace``s the module with that folder.
    * Its go.mod replaces ``sdk/v4 => ../sdk``: restated as sdk/v4 at the same release.
    * Version ldflag as in upstream's goreleaser (``{{.Tag}}``, i.e. ``v4.25.0``).

The engine finds the provider on PATH (``pulumi-resource-kubernetes`` in bin/) without any
download; see the e2e notes for how the sandbox registers it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from helm_enterprise.sandbox.toolchain._base import Layout
from helm_enterprise.sandbox.toolchain._recipe import BuildContext, Recipe

# -- pulumi --------------------------------------------------------------------------------

PKG = "github.com/pulumi/pulumi/pkg/v3"
SDK = "github.com/pulumi/pulumi/sdk/v3"
CLI_VERSION = "v3.274.1"
CLI_MAIN = f"{PKG}/cmd/pulumi"
CLI_TAGS = ("osusergo", "grpcnotrace")

# The last sdk/v3 release that still contains the Python language host as a package.
HOST_SDK_VERSION = "v3.79.0"
HOST_MAIN = f"{SDK}/python/cmd/pulumi-language-python"
EXEC_SCRIPT = "pulumi-language-python-exec"

VERSION_LDFLAG = f"{SDK}/go/common/version.Version"
MIN_PATH_VERSION = (3, 200, 0)


def build_sdk_host(
    ctx: BuildContext, binary: str, sdk_version: str, main: str, subdir: str = "wrapper"
) -> Path:
    """A language host that was a package of sdk/v3 at ``sdk_version``, built in a wrapper
    of its own (its dependency graph is that release's and must not be mixed with the
    CLI's): sdk's directives restated, its go.sum enforced, the version ldflag."""
    w = ctx.wrapper(f"helm-enterprise-toolchain/{binary}", subdir)
    w.init()
    sdk = w.download(f"{SDK}@{sdk_version}")
    w.require(f"{SDK}@{sdk_version}")
    w.copy_directives(Path(str(sdk["GoMod"])).read_text())
    w.seed_sums(Path(str(sdk["Dir"])))
    w.blank_imports([main])
    w.tidy()
    return w.build(
        main, ctx.out(binary), ldflags=[f"-X {VERSION_LDFLAG}={sdk_version}"], tags=CLI_TAGS
    )


def _build_pulumi(ctx: BuildContext) -> None:
    # The language host first: a small build, and a broken module graph shows up early.
    ctx.install(build_sdk_host(ctx, "pulumi-language-python", HOST_SDK_VERSION, HOST_MAIN, "host"))

    cli = ctx.wrapper("helm-enterprise-toolchain/pulumi-cli", "cli")
    cli.init()
    pkg = cli.download(f"{PKG}@{CLI_VERSION}")
    sdk = cli.download(f"{SDK}@{CLI_VERSION}")
    cli.require(f"{PKG}@{CLI_VERSION}", f"{SDK}@{CLI_VERSION}")
    cli.copy_directives(Path(str(pkg["GoMod"])).read_text(), local_versions={SDK: CLI_VERSION})
    cli.seed_sums(Path(str(pkg["Dir"])))
    cli.blank_imports([CLI_MAIN])
    cli.tidy()
    out = cli.build(
        CLI_MAIN,
        ctx.out("pulumi"),
        ldflags=[f"-X {VERSION_LDFLAG}={CLI_VERSION}"],
        tags=CLI_TAGS,
    )
    ctx.install(out)

    # The exec script of the current SDK (the module cache copy is read-only; install
    # copies it and makes it executable).
    ctx.install(Path(str(sdk["Dir"])) / "python" / "cmd" / EXEC_SCRIPT)


def _parse_version(text: str) -> tuple[int, int, int] | None:
    m = re.search(r"v?(\d+)\.(\d+)\.(\d+)", text)
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def _probe_pulumi() -> dict[str, Path] | None:
    """A user's Pulumi install (>= 3.200 with its Python language host) is reused."""
    found = shutil.which("pulumi")
    if not found:
        return None
    path = Path(found)
    # Never "reuse" the toolchain's own binary (bin/ may be on PATH): that would replace
    # it with a symlink to itself.
    own = Layout.default().bin.resolve()
    if path.resolve().parent == own or path.parent.resolve() == own:
        return None
    try:
        out = subprocess.run(
            [found, "version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    version = _parse_version(out.stdout)
    if out.returncode != 0 or version is None or version < MIN_PATH_VERSION:
        return None
    result = {"pulumi": path}
    for name in ("pulumi-language-python", EXEC_SCRIPT):
        sibling = path.parent / name
        if not (sibling.is_file() and os.access(sibling, os.X_OK)):
            return None
        result[name] = sibling
    return result


# -- pulumi-kubernetes ---------------------------------------------------------------------

K8S_PROVIDER = "github.com/pulumi/pulumi-kubernetes/provider/v4"
K8S_SDK = "github.com/pulumi/pulumi-kubernetes/sdk/v4"
K8S_VERSION = "v4.25.0"
# provider/v4 has no tags of its own: the pseudo-version of the v4.25.0 tag's commit.
K8S_PROVIDER_PSEUDO = "v4.0.0-20260115033456-f47bc2d6f199"
K8S_MAIN = f"{K8S_PROVIDER}/cmd/pulumi-resource-kubernetes"


def _writable_copy(src: Path, dest: Path) -> None:
    """Copy a (read-only) module cache directory to ``dest`` with writable permissions."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, copy_function=shutil.copyfile)
    for root, dirs, _files in os.walk(dest):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
    os.chmod(dest, 0o755)


def _generate_embeds(cmd_dir: Path, version: str) -> None:
    """What the provider's ``generate.go`` does (``go generate`` before upstream builds)."""
    schema = json.loads((cmd_dir / "schema.json").read_text())
    schema["version"] = version
    (cmd_dir / "schema-embed.json").write_text(json.dumps(schema, separators=(",", ":")))
    mapping = json.loads((cmd_dir / "terraform-mapping.json").read_text())
    (cmd_dir / "terraform-mapping-embed.json").write_text(
        json.dumps(mapping, separators=(",", ":"))
    )


def _build_kubernetes(ctx: BuildContext) -> None:
    w = ctx.wrapper("helm-enterprise-toolchain/pulumi-kubernetes")
    w.init()
    info = w.download(f"{K8S_PROVIDER}@{K8S_PROVIDER_PSEUDO}")
    w.download(f"{K8S_SDK}@{K8S_VERSION}")  # fail early with the proxy's message
    src = ctx.workdir / "provider-src"
    w.log.note(f"copying {info['Dir']} to {src} and generating the embedded schema")
    _writable_copy(Path(str(info["Dir"])), src)
    _generate_embeds(src / "cmd" / "pulumi-resource-kubernetes", K8S_VERSION.lstrip("v"))

    w.require(f"{K8S_PROVIDER}@{K8S_PROVIDER_PSEUDO}", f"{K8S_SDK}@{K8S_VERSION}")
    w.replace(K8S_PROVIDER, str(src))
    w.copy_directives(Path(str(info["GoMod"])).read_text(), local_versions={K8S_SDK: K8S_VERSION})
    w.seed_sums(src)
    w.blank_imports([K8S_MAIN])
    w.tidy()
    out = w.build(
        K8S_MAIN,
        ctx.out("pulumi-resource-kubernetes"),
        ldflags=[f"-X {K8S_PROVIDER}/pkg/version.Version={K8S_VERSION}"],
    )
    ctx.install(out)


DYNAMIC_PLUGIN = "pulumi-resource-pulumi-python"


def _build_dynamic(ctx: BuildContext) -> None:
    """The Python dynamic-provider plugin: a shell script shipped in sdk/v3 (python/dist),
    bundled next to the CLI in upstream releases. Nothing to compile."""
    w = ctx.wrapper("helm-enterprise-toolchain/pulumi-dynamic")
    w.init()
    sdk = w.download(f"{SDK}@{CLI_VERSION}")
    ctx.install(Path(str(sdk["Dir"])) / "python" / "dist" / DYNAMIC_PLUGIN)


RECIPES = [
    Recipe(
        family="pulumi",
        version=CLI_VERSION,
        binaries=("pulumi", "pulumi-language-python", EXEC_SCRIPT),
        key=(PKG, CLI_VERSION, SDK, HOST_SDK_VERSION, ",".join(CLI_TAGS), "pulumi-v1"),
        build=_build_pulumi,
        estimate_minutes=7,
        probe=_probe_pulumi,
        description="Pulumi CLI and Python language host",
    ),
    Recipe(
        family="pulumi-kubernetes",
        version=K8S_VERSION,
        binaries=("pulumi-resource-kubernetes",),
        key=(K8S_PROVIDER, K8S_PROVIDER_PSEUDO, K8S_SDK, K8S_VERSION, "pulumi-kubernetes-v1"),
        build=_build_kubernetes,
        estimate_minutes=7,
        description="pulumi-kubernetes provider plugin",
    ),
    Recipe(
        family="pulumi-dynamic",
        version=CLI_VERSION,
        binaries=(DYNAMIC_PLUGIN,),
        key=(SDK, CLI_VERSION, "python/dist", "pulumi-dynamic-v1"),
        build=_build_dynamic,
        estimate_minutes=1,
        description="Python dynamic-provider plugin (health checks run in it)",
    ),
]
