"""Kubernetes: kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and kubelet.

Built from the ``k8s.io/kubernetes`` module at one release through a wrapper module (see
``_go.py`` for why a wrapper). Workarounds, each forced by how Kubernetes publishes itself:

* **Staging modules.** ``k8s.io/kubernetes`` requires its ~30 staging modules (``k8s.io/api``,
  ``k8s.io/client-go``, ...) at ``v0.0.0`` and replaces each with ``./staging/src/k8s.io/X``.
  Those paths exist only inside the monorepo, so the wrapper replaces every one of them with
  the published ``k8s.io/X v0.<minor>.<patch>`` that was cut from the same release commit.
  The list is read from the downloaded go.mod at build time (it changes between releases);
  a replace of a module that is not in the build graph costs nothing. The ``godebug`` lines
  (``default=go1.24`` for 1.34) and the ``go`` directive are copied so runtime behaviour
  matches an upstream build.
* **Checksums.** sum.golang.org is unreachable here (``GOSUMDB=off``); upstream's go.sum is
  seeded into the wrapper, so every third-party dependency must match the hash Kubernetes
  recorded. The staging modules themselves are not in that go.sum (upstream builds them from
  the tree) and are taken from the proxy as served.
* **Version ldflags are required, not cosmetic.** ``go build`` leaves
  ``k8s.io/component-base/version`` and ``k8s.io/client-go/pkg/version`` at ``v0.0.0``; the
  server then reports v0.0.0 and the Pulumi Kubernetes provider switches its await logic
  off. The same variables ``hack/lib/version.sh`` sets are set here; ``buildDate`` is the
  release's publication time from the proxy, so the build stays reproducible.
* **Build tags** ``selinux,notest,grpcnotrace`` are what ``hack/lib/golang.sh`` uses for
  release binaries (``grpcnotrace`` drops x/net/trace). CGO is off, as upstream builds these
  binaries statically.
* All five mains are built by one ``go build`` so the two cores compile and link in
  parallel; they share one module graph because upstream ships them from one go.mod.
  ``kubelet`` runs the sandbox's one real node (on containerd from the debian family); most
  of its packages are already compiled for the control plane, so it adds little time.

Version choice: 1.34 (latest patch the proxy serves), because the Pulumi Kubernetes provider
in use (v4.25.0) is built against client-go 0.33/0.34 and is tested against servers of that
age. etcd is a separate family (``etcd.py``) at the version 1.34 is tested with.
"""

from __future__ import annotations

import json
from pathlib import Path

from helm_enterprise.errors import ToolchainError
from helm_enterprise.sandbox.toolchain._go import is_local_replace, parse_directives
from helm_enterprise.sandbox.toolchain._recipe import BuildContext, Recipe

MODULE = "k8s.io/kubernetes"
VERSION = "v1.34.4"
BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kubelet")
TAGS = ("selinux", "notest", "grpcnotrace")
_STAGING_PREFIX = "./staging/src/"


def staging_versions(gomod: str, version: str) -> dict[str, str]:
    """Map every staging module of the upstream go.mod to its published ``v0.<minor>.<patch>``.

    ``v1.34.4`` -> ``v0.34.4``. Raises when a local replace points outside ``staging/`` (a
    layout change the recipe must be taught about).
    """
    major, minor, patch = version.lstrip("v").split(".")
    if major != "1":
        raise ToolchainError(f"unexpected Kubernetes version {version}")
    published = f"v0.{minor}.{patch}"
    out: dict[str, str] = {}
    for body in parse_directives(gomod)["replace"]:
        if not is_local_replace(body):
            continue
        old, target = (s.strip() for s in body.split("=>", 1))
        old = old.split()[0]
        if not target.startswith(_STAGING_PREFIX):
            raise ToolchainError(
                f"{MODULE} {version}: local replace {body!r} is not a staging module; update "
                "the kubernetes recipe"
            )
        out[old] = published
    if not out:
        raise ToolchainError(f"{MODULE} {version}: no staging replaces found in go.mod")
    return out


def _go_directive(gomod: str) -> str | None:
    for line in gomod.splitlines():
        if line.startswith("go "):
            return line.split()[1]
    return None


def version_ldflags(version: str, build_date: str, commit: str | None) -> list[str]:
    """The ``-X`` flags ``hack/lib/version.sh`` sets, for both version packages."""
    major, minor, _ = version.lstrip("v").split(".")
    values = {
        "gitVersion": version,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": build_date,
    }
    if commit:
        values["gitCommit"] = commit
    flags = []
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {pkg}.{k}={v}" for k, v in values.items()]
    return flags


def _build(ctx: BuildContext) -> None:
    w = ctx.wrapper("helm-enterprise-toolchain/kubernetes")
    w.init()
    spec = f"{MODULE}@{VERSION}"
    info = w.download(spec)
    gomod = Path(str(info["GoMod"])).read_text()
    # The wrapper is the main module, so its go/godebug lines decide runtime defaults.
    w.init(_go_directive(gomod))
    staging = staging_versions(gomod, VERSION)
    w.log.note(f"replacing {len(staging)} staging modules with v0.x published versions")
    w.copy_directives(gomod, local_versions=staging)
    w.require(spec)
    w.seed_sums(Path(str(info["Dir"])))
    mains = [f"{MODULE}/cmd/{b}" for b in BINARIES]
    w.blank_imports(mains)
    w.tidy()

    release = json.loads(Path(str(info["Info"])).read_text())
    origin = info.get("Origin")
    commit = origin.get("Hash") if isinstance(origin, dict) else None
    outdir = ctx.out(BINARIES[0]).parent
    ldflags = ["-s", "-w", *version_ldflags(VERSION, str(release["Time"]), commit)]
    # One `go build` for all the mains (GoWrapper.build takes one package): the go command
    # then overlaps compiling one binary with linking another on the two cores.
    w.go(
        "build",
        "-o",
        f"{outdir}/",
        "-tags",
        ",".join(TAGS),
        "-ldflags",
        " ".join(ldflags),
        *mains,
        what=f"building {', '.join(BINARIES)}",
    )
    for b in BINARIES:
        ctx.install(outdir / b)
    out = w.log.run(
        [ctx.layout.bin / "kube-apiserver", "--version"],
        what="checking kube-apiserver --version",
        capture=True,
    )
    if VERSION not in out:
        raise ToolchainError(
            f"kube-apiserver reports {out.strip()!r}, expected {VERSION}: version ldflags "
            "did not apply",
            log_path=w.log.path,
        )


RECIPES = [
    Recipe(
        family="kubernetes",
        version=VERSION,
        binaries=BINARIES,
        key=(MODULE, VERSION, ",".join(TAGS), ",".join(BINARIES), "ldflags-v1"),
        build=_build,
        estimate_minutes=7,
        description="Kubernetes control plane, kubectl and kubelet",
    )
]
