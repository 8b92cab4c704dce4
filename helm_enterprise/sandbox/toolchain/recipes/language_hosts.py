"""Language hosts for Go and TypeScript/JavaScript Pulumi programs.

Two families, each one binary installed next to the toolchain's ``pulumi``: the CLI looks for
its bundled language hosts there, and a host found only elsewhere on PATH is used with a
``warning: using pulumi-language-go from $PATH at ...`` diagnostic on every run:

``pulumi-go`` -> ``pulumi-language-go``
    Built from ``github.com/pulumi/pulumi/sdk/v3`` at ``GO_HOST_SDK_VERSION`` (v3.66.0),
    package ``go/pulumi-language-go``.
``pulumi-nodejs`` -> ``pulumi-language-nodejs``
    Built from sdk/v3 at ``NODEJS_HOST_SDK_VERSION`` (v3.68.0), package
    ``nodejs/cmd/pulumi-language-nodejs``.

Why those versions. Since mid-2023 each host is its own module
(``github.com/pulumi/pulumi/sdk/go/pulumi-language-go/v3``,
``github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3``), which the module proxy
this project builds from refuses at every version (``403 Forbidden: This module version is
not available``). Before the split the hosts were packages of sdk/v3 itself: the Go host
last in v3.66.0 (gone from v3.67.0), the Node.js host last in v3.68.0 (gone from v3.69.0).
As with the Python host (see ``pulumi.py``), each is built in a wrapper module of its own,
because its dependency graph is 2023's and must not be mixed with the CLI's; sdk/v3's
``golang.org/x/text`` replace is restated and its go.sum enforced. The hosts report their
own versions (3.66.0 / 3.68.0) in ``pulumi about``.

What the CLI (v3.274.1, see ``pulumi.py``) relies on when it talks to these old hosts through
the stable LanguageRuntime gRPC API, as with the Python host: it passes only the engine
address as an argument, falls back from GetRequiredPackages to GetRequiredPlugins, tolerates
an unimplemented Handshake and still fills ``RunRequest.program``/``pwd``/``config``.
Measured with both hosts: ``pulumi up`` of export-only Go and TypeScript programs, and
``pulumi preview`` of programs using the generated SDKs (``Tenant``/``Release``), which reach
the package's provider and pulumi-kubernetes.

A Go or TypeScript program still needs the package's Python environment: its provider is the
``pulumi-resource-helm-enterprise`` console script (``plugins: providers: path:`` in
Pulumi.yaml), and a ``Release`` registers a Python dynamic resource whose plugin
(``pulumi-resource-pulumi-python``) runs ``python3 -m pulumi.dynamic`` from PATH: put the
package's virtualenv bin dir right after the toolchain's bin dir on PATH, as for Python
programs (without it the preview fails with ``No module named 'pulumi'`` and ``could not read
plugin [.../pulumi-resource-pulumi-python]: exit status 1``).

Known gaps, all because ``runtime.options`` in Pulumi.yaml now travel in the Handshake /
ProgramInfo that these hosts do not read (they are ignored, silently):
    * Go: ``binary`` and ``buildTarget`` are ignored; the host always runs ``go build`` in
      the program directory (into a temporary file) and runs the result. The ``go`` command
      comes from PATH and inherits the CLI's environment: the measured runs had
      ``GOSUMDB=off GOFLAGS=-mod=mod GOWORK=off GOTOOLCHAIN=local`` (as the builder's
      :func:`~helm_enterprise.sandbox.toolchain._go.go_env`) and a go.sum seeded from
      sdk/v3's. GetRequiredPlugins runs ``go list -m -json all`` and reads each module's
      ``pulumi-plugin.json``. A first build of
      a program against sdk/v3 v3.274.1 compiles the whole SDK (about 4.5 min on 2 cores;
      later builds reuse the Go build cache, about 30 s with the generated SDK).
    * Node.js: ``typescript: false``, ``nodeargs``, ``tsconfig`` and ``packagemanager`` are
      ignored; the host always sets ``PULUMI_NODEJS_TYPESCRIPT=true`` and runs
      ``node <require.resolve('@pulumi/pulumi/cmd/run')> --monitor ... --engine ... <program>``
      with ``node`` from PATH, resolving @pulumi/pulumi from the program directory (so it must
      be in the program's node_modules). Measured with @pulumi/pulumi 3.270.0 (engines
      ``node >= 22``; npm installs it anyway) on Node 20.20; 3.248.0 is the last release that
      declares ``node >= 20`` (not run here). GetRequiredPlugins
      scans node_modules for ``package.json`` files with ``pulumi.resource``. A generated
      SDK's ``bin/`` needs the copy of ``package.json`` its postinstall makes (``getVersion``
      requires ``./package.json``); ``tsc`` alone leaves it out.
"""

from __future__ import annotations

from collections.abc import Callable

from helm_enterprise.sandbox.toolchain._recipe import BuildContext, Recipe
from helm_enterprise.sandbox.toolchain.recipes.pulumi import CLI_TAGS, SDK, build_sdk_host

# The last sdk/v3 releases that still contain each host as a package.
GO_HOST_SDK_VERSION = "v3.66.0"
GO_HOST_MAIN = f"{SDK}/go/pulumi-language-go"
NODEJS_HOST_SDK_VERSION = "v3.68.0"
NODEJS_HOST_MAIN = f"{SDK}/nodejs/cmd/pulumi-language-nodejs"


def _host_builder(binary: str, sdk_version: str, main: str) -> Callable[[BuildContext], None]:
    """The build of one host, as the Python host's (``pulumi.build_sdk_host``)."""

    def build(ctx: BuildContext) -> None:
        ctx.install(build_sdk_host(ctx, binary, sdk_version, main))

    return build


def _recipe(family: str, binary: str, sdk_version: str, main: str, what: str) -> Recipe:
    return Recipe(
        family=family,
        version=sdk_version,
        binaries=(binary,),
        key=(SDK, sdk_version, main, ",".join(CLI_TAGS), f"{family}-v1"),
        build=_host_builder(binary, sdk_version, main),
        # Cold (empty Go build cache) on 2 cores: the Go host 112 s; the Node.js host 19 s
        # right after it (shared dependencies), about as long as the Go host alone.
        estimate_minutes=2,
        description=what,
    )


RECIPES = [
    _recipe(
        "pulumi-go",
        "pulumi-language-go",
        GO_HOST_SDK_VERSION,
        GO_HOST_MAIN,
        "Go language host (Go Pulumi programs)",
    ),
    _recipe(
        "pulumi-nodejs",
        "pulumi-language-nodejs",
        NODEJS_HOST_SDK_VERSION,
        NODEJS_HOST_MAIN,
        "Node.js language host (TypeScript/JavaScript Pulumi programs)",
    ),
]
