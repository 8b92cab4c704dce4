"""images: the workload images of the sandbox's real node, built from source.

Two images, each one static Go binary in a single reproducible layer (see
``helm_enterprise/sandbox/images.py`` for the OCI writer and why it is hand-written):

* **podinfo** (``registry.helm-enterprise.test/library/podinfo:<version>``), the workload
  the examples and e2e tests deploy: an HTTP server with ``/healthz``, ``/readyz``,
  ``/version``, ``/metrics`` and a JSON info document on ``/``. Built from
  ``github.com/stefanprodan/podinfo`` at a pinned pseudo-version of its main branch
  (the module has no replace directives; its ``go.sum`` is enforced) with ``CGO_ENABLED=0``
  and ``-trimpath``, as upstream's Dockerfile builds it. The tag is the version podinfo
  reports (``pkg/version.VERSION``), read from the source; ``REVISION`` is set to the
  commit the pseudo-version names, as upstream's ``-X`` flag does. The layer also carries
  ``/ui/vue.html``: a browser asking for ``/`` gets that template (without it, a 500), and
  a writable-by-the-user ``/data`` for the ``/store`` endpoint. It runs as 65532:65532,
  a numeric non-root user, so ``runAsNonRoot`` and the restricted Pod Security level pass
  without a securityContext override.
* **pause** (``registry.k8s.io/pause:3.10``), containerd's CRI ``sandbox_image``: the
  upstream image cannot be pulled here, so it is our own ~25-line Go program
  (``recipes/pause/main.go``, shipped as package data) built in a throwaway module.
  Runs as 65535:65535 like upstream's.

Both are written to ``<toolchain>/images/<key>/`` (OCI layout), ``<key>.tar`` (the layout
as an archive, for ``ctr images import``) and ``<key>.json`` (name, tag, digest). Rebuilding
gives the same digests: the Go builds are reproducible (trimpath, no VCS stamping, fixed
flags) and so is the packaging.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

from helm_enterprise.errors import ToolchainError
from helm_enterprise.sandbox.images import FileEntry, write_image
from helm_enterprise.sandbox.toolchain._go import go_env
from helm_enterprise.sandbox.toolchain._recipe import BuildContext, Recipe

PODINFO_MODULE = "github.com/stefanprodan/podinfo"
PODINFO_VERSION = "v1.8.1-0.20250910200901-e86405a8674e"
PODINFO_NAME = "registry.helm-enterprise.test/library/podinfo"
PODINFO_PORT = 9898
PODINFO_USER = 65532
PAUSE_NAME = "registry.k8s.io/pause"
PAUSE_TAG = "3.10"
PAUSE_USER = 65535
PAUSE_SOURCE = Path(__file__).with_name("pause") / "main.go"
_VERSION_VAR = re.compile(r'^var VERSION = "([^"]+)"', re.MULTILINE)


def podinfo_version(version_go: str) -> str:
    """The ``VERSION`` podinfo reports, from its ``pkg/version/version.go``."""
    m = _VERSION_VAR.search(version_go)
    if not m:
        raise ToolchainError(
            f'{PODINFO_MODULE}: no `var VERSION = "..."` in pkg/version; update the images recipe'
        )
    return m.group(1)


def pseudo_version_commit(version: str) -> str:
    """The abbreviated commit a Go pseudo-version names (its last dash-separated field)."""
    commit = version.rsplit("-", 1)[-1]
    if not re.fullmatch(r"[0-9a-f]{12}", commit):
        raise ToolchainError(f"{version} is not a Go pseudo-version")
    return commit


def podinfo_config(tag: str, revision: str) -> dict[str, object]:
    """The image config of podinfo (the OCI ``config`` object)."""
    user = f"{PODINFO_USER}:{PODINFO_USER}"
    return {
        "User": user,
        "Entrypoint": ["/podinfo"],
        "WorkingDir": "/",
        "ExposedPorts": {f"{PODINFO_PORT}/tcp": {}},
        "Labels": {
            "org.opencontainers.image.source": f"https://{PODINFO_MODULE}",
            "org.opencontainers.image.version": tag,
            "org.opencontainers.image.revision": revision,
        },
    }


def pause_config() -> dict[str, object]:
    return {"User": f"{PAUSE_USER}:{PAUSE_USER}", "Entrypoint": ["/pause"]}


def _goarch(ctx: BuildContext) -> str:
    out = ctx.log.run(
        ["go", "env", "GOARCH"], env=go_env(), what="reading GOARCH", capture=True
    ).strip()
    return out or "amd64"


def _build_podinfo(ctx: BuildContext, arch: str) -> None:
    w = ctx.wrapper("helm-enterprise-toolchain/podinfo", subdir="podinfo")
    w.init()
    spec = f"{PODINFO_MODULE}@{PODINFO_VERSION}"
    info = w.download_plain(spec, "images")
    src = Path(str(info["Dir"]))
    tag = podinfo_version((src / "pkg" / "version" / "version.go").read_text())
    revision = pseudo_version_commit(PODINFO_VERSION)
    w.require(spec)
    w.seed_sums(src)
    w.blank_imports([f"{PODINFO_MODULE}/cmd/podinfo"])
    w.tidy()
    binary = w.build(
        f"{PODINFO_MODULE}/cmd/podinfo",
        ctx.out("podinfo"),
        ldflags=[f"-X {PODINFO_MODULE}/pkg/version.REVISION={revision}"],
    )
    uid = PODINFO_USER
    image = write_image(
        ctx.layout.images,
        "podinfo",
        name=PODINFO_NAME,
        tag=tag,
        entries=[
            FileEntry("/podinfo", binary.read_bytes(), mode=0o755),
            FileEntry("/ui/vue.html", (src / "ui" / "vue.html").read_bytes(), mode=0o644),
            FileEntry("/data", mode=0o755, uid=uid, gid=uid),
            FileEntry("/tmp", mode=0o1777),  # noqa: S108 (a path inside the image)
        ],
        config=podinfo_config(tag, revision),
        architecture=arch,
    )
    ctx.log.note(f"podinfo image {image.reference} {image.digest}")


def _build_pause(ctx: BuildContext, arch: str) -> None:
    if not PAUSE_SOURCE.is_file():
        raise ToolchainError(f"pause source {PAUSE_SOURCE} is missing from the package")
    mod = ctx.workdir / "pause"
    if mod.exists():
        shutil.rmtree(mod)
    mod.mkdir(parents=True)
    (mod / "go.mod").write_text("module helm-enterprise.test/pause\n\ngo 1.22\n")
    shutil.copyfile(PAUSE_SOURCE, mod / "main.go")
    binary = ctx.out("pause")
    ctx.log.run(
        ["go", "build", "-o", binary, "-ldflags", "-s -w", "."],
        cwd=mod,
        env=go_env(),
        what="building pause",
    )
    image = write_image(
        ctx.layout.images,
        "pause",
        name=PAUSE_NAME,
        tag=PAUSE_TAG,
        entries=[FileEntry("/pause", binary.read_bytes(), mode=0o755)],
        config=pause_config(),
        architecture=arch,
    )
    ctx.log.note(f"pause image {image.reference} {image.digest}")


def _build(ctx: BuildContext) -> None:
    arch = _goarch(ctx)
    _build_pause(ctx, arch)
    _build_podinfo(ctx, arch)


def _source_hash() -> str:
    # A missing source is reported by the build, not at import (status must still list it).
    if not PAUSE_SOURCE.is_file():
        return "missing"
    return hashlib.sha256(PAUSE_SOURCE.read_bytes()).hexdigest()[:16]


RECIPES = [
    Recipe(
        family="images",
        version=f"podinfo {PODINFO_VERSION}, pause {PAUSE_TAG}",
        binaries=(),
        key=(
            PODINFO_MODULE,
            PODINFO_VERSION,
            f"pause-src={_source_hash()}",
            f"uid={PODINFO_USER},{PAUSE_USER}",
            "layout-v1",
        ),
        build=_build,
        estimate_minutes=2,
        description="workload images (podinfo, pause) as OCI layouts",
    )
]
