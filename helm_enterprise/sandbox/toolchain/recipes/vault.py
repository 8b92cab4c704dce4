"""vault: HashiCorp Vault, the secret store behind T1.2 (external secrets) in the sandbox.

The sandbox runs ``vault server -dev`` (in-memory storage, one unsealed node) and the e2e
tests read KV v1/v2 secrets through token, AppRole and JWT auth, so a real Vault binary is
needed. It is built from ``github.com/hashicorp/vault`` (main package at the module root).

Workarounds, and why:

* **Pinned release.** The Go module proxy this machine reaches is an allow-listing mirror:
  it serves ``v1.21.4`` and refuses (403) later 1.21.x and 1.22.x tags as well as
  pseudo-versions of the sibling modules at the release commit.
* **Local replaces.** Vault's go.mod replaces its sibling modules with folders of the same
  repository (``api``, ``sdk``, ``api/auth/{approle,kubernetes,userpass}`` ``=> ./...``).
  Nested modules are not part of the module zip, and the proxy refuses pseudo-versions at
  the release commit, so the wrapper uses published tags (:data:`SIBLINGS`): the versions
  the release's own go.mod requires (api v1.22.0, sdk v0.21.0, approle v0.1.0, kubernetes
  v0.10.0, userpass v0.1.0). The ``api/auth/*`` modules are only imported by Vault's tests.
  The non-local replaces (``99designs/keyring => Jeffail/keyring``,
  ``ma314smith/signedxml => moov-io/signedxml``) are copied verbatim.
* **One-line sdk patch.** 1.21.4 was built from the release branch's ``sdk/`` folder,
  which matches no published sdk tag. sdk v0.20.0 (tagged when the branch was cut) lacks
  the observation helpers 1.21.x backported (``TryRecordObservationWithRequest``, a
  two-value ``RestorePolicy``: builtin/logical/transit fails to compile). sdk v0.21.0 has
  them, but main had meanwhile given ``framework.Backend.ActivationFunc`` a third
  ``string`` argument, which 1.21.4's ``vault/identity_store.go`` and
  ``logical_system_activation_flags.go`` do not pass. The sdk itself only declares that
  field (Vault core calls it), so the recipe copies sdk v0.21.0 from the module cache into
  the work dir, restores the two-argument field type, checks the patch applied exactly
  once, and replaces the sdk with that folder. Nothing else of the sdk is changed.
* **Checksums.** Vault's own go.sum is seeded into the wrapper (see ``_go.py``) so every
  dependency upstream recorded is checked against upstream's hash although the checksum
  database is unreachable.
* **Version.** ``version.Version`` is embedded from the module's ``version/VERSION`` file;
  the ldflags set ``GitCommit`` (from the proxy's ``Origin`` record of the tag),
  ``BuildDate`` (the tag's time, so rebuilds are identical) and ``Version`` again, as
  upstream's ``scripts/ci-helper.sh`` does.
* **No UI.** Upstream release builds add the ``ui`` tag, which embeds the web UI built with
  yarn. The sandbox only talks to the HTTP API, so the tag is left off (the UI route then
  answers 404) and no JavaScript toolchain is needed.

A ``vault`` on PATH is reused when it is a 1.21.x release (what the tests were written
against: KV v2, AppRole and JWT auth behave the same across its patch releases).
"""

from __future__ import annotations

import json
import re
import shutil
import stat
from pathlib import Path

from helm_enterprise.errors import ToolchainError
from helm_enterprise.sandbox.toolchain._go import GoWrapper
from helm_enterprise.sandbox.toolchain._recipe import BuildContext, Recipe, probe_version

MODULE = "github.com/hashicorp/vault"
VERSION = "v1.21.4"

# Published versions standing in for the release's local ``=> ./x`` replaces (see above).
SIBLINGS = {
    f"{MODULE}/api": "v1.22.0",
    f"{MODULE}/api/auth/approle": "v0.1.0",
    f"{MODULE}/api/auth/kubernetes": "v0.10.0",
    f"{MODULE}/api/auth/userpass": "v0.1.0",
}
SDK = f"{MODULE}/sdk"
SDK_VERSION = "v0.23.0"
# Whole files taken from a later sdk tag: (file in the sdk, tag). The v0.23.0 -> v0.24.0
# diff of each is exactly the change 1.21.4 needs (see module doc).
SDK_OVERLAYS = (("helper/keysutil/lock_manager.go", "v0.24.0"),)
# Text replacements: (file in the sdk, text of the tag, text 1.21.4 compiles against).
SDK_PATCHES = (
    (
        "framework/backend.go",
        "ActivationFunc func(context.Context, *logical.Request, string) error",
        "ActivationFunc func(context.Context, *logical.Request) error",
    ),
)


def _patched_sdk(ctx: BuildContext, w: GoWrapper) -> Path:
    """A writable copy of the sdk tag with the overlays and patches applied (module doc)."""
    src = Path(str(w.download(f"{SDK}@{SDK_VERSION}")["Dir"]))
    dest = ctx.workdir / f"sdk-{SDK_VERSION}-patched"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest)
    for p in [dest, *dest.rglob("*")]:
        p.chmod(p.stat().st_mode | stat.S_IWUSR)  # the module cache is read-only
    for rel, tag in SDK_OVERLAYS:
        other = Path(str(w.download(f"{SDK}@{tag}")["Dir"]))
        shutil.copyfile(other / rel, dest / rel)
        w.log.note(f"sdk {SDK_VERSION}: {rel} taken from sdk {tag}")
    for rel, old, new in SDK_PATCHES:
        target = dest / rel
        text = target.read_text()
        if text.count(old) != 1:
            raise ToolchainError(
                f"vault: an sdk patch no longer applies ({rel} of sdk {SDK_VERSION} does not "
                f"contain {old!r} exactly once); update the recipe",
                log_path=w.log.path,
            )
        target.write_text(text.replace(old, new))
        w.log.note(f"sdk {SDK_VERSION}: patched {rel}: {old!r} -> {new!r}")
    return dest


def _build(ctx: BuildContext) -> None:
    w = ctx.wrapper("helm-enterprise-toolchain/vault")
    w.init()
    info = w.download(f"{MODULE}@{VERSION}")
    w.seed_sums(Path(str(info["Dir"])))
    gomod = Path(str(info["GoMod"])).read_text()
    # Upstream's go line: without one the wrapper counts as go 1.16 (no graph pruning).
    go_line = re.search(r"^go\s+(\S+)", gomod, re.MULTILINE)
    if go_line:
        w.go("mod", "edit", f"-go={go_line.group(1)}", what="setting the go version")
    w.require(f"{MODULE}@{VERSION}")
    w.copy_directives(gomod, local_versions=SIBLINGS, skip=[SDK])
    w.replace(SDK, str(_patched_sdk(ctx, w)))
    w.blank_imports([MODULE])
    w.tidy()
    origin = info.get("Origin")
    commit = str(origin.get("Hash", "")) if isinstance(origin, dict) else ""
    date = _tag_time(Path(str(info["Info"])))
    v = f"{MODULE}/version"
    ldflags = [
        f"-X {v}.GitCommit={commit}",
        f"-X {v}.BuildDate={date}",
        f"-X {v}.Version={VERSION.lstrip('v')}",
    ]
    ctx.install(w.build(MODULE, ctx.out("vault"), ldflags=ldflags))


def _tag_time(info_file: Path) -> str:
    try:
        return str(json.loads(info_file.read_text()).get("Time", ""))
    except (OSError, ValueError):
        return ""


def _probe() -> dict[str, Path] | None:
    # `vault version` prints "Vault v1.21.4 (<commit>), built <date>".
    found = probe_version("vault", ["version"], "Vault v1.21.")
    return {"vault": found} if found else None


RECIPES = [
    Recipe(
        family="vault",
        version=VERSION,
        binaries=("vault",),
        key=(
            MODULE,
            VERSION,
            *(f"{m}@{v}" for m, v in sorted(SIBLINGS.items())),
            f"{SDK}@{SDK_VERSION}",
            *(f"{rel}@{tag}" for rel, tag in SDK_OVERLAYS),
            *(part for patch in SDK_PATCHES for part in patch),
            "noui-v3",
        ),
        build=_build,
        estimate_minutes=30,
        probe=_probe,
        description="HashiCorp Vault (dev server for external-secrets tests)",
    )
]
