"""vault: HashiCorp Vault, the secret store behind T1.2 (external secrets) in the sandbox.

The sandbox runs ``vault server -dev`` (in-memory storage, one unsealed node) and the e2e
tests read KV v1/v2 secrets through token, AppRole and JWT auth, so a real Vault binary is
needed. It is built from ``github.com/hashicorp/vault`` (main package at the module root).

Workarounds, and why:

* **Local replaces.** Vault's go.mod replaces its sibling modules with folders of the same
  repository (``api``, ``sdk``, ``api/auth/{approle,kubernetes,userpass}`` ``=> ./...``).
  Nested modules are not part of the module zip, and the Go module proxy this machine
  reaches (an allow-listing mirror) refuses pseudo-versions of them at the release commit.
  So the wrapper pins each to the published tag the release's own go.mod *requires*
  (:data:`SIBLINGS`). The ``api/auth/*`` modules are only imported by Vault's tests. The
  non-local replaces (``99designs/keyring => Jeffail/keyring``,
  ``ma314smith/signedxml => moov-io/signedxml``) are copied verbatim.
* **Why 1.21.1, not the newest 1.21.x.** Vault's release branches carry their own copy of
  ``sdk/`` that is never tagged, and from 1.21.2 on it diverged from every published sdk
  tag: 1.21.2+ call ``TryRecordObservationWithRequest`` (absent from sdk v0.20.0); sdk
  v0.21.0-v0.23.0 give ``framework.Backend.ActivationFunc`` a third argument and keep a
  one-value ``keysutil.LockManager.RestorePolicy``, both of which 1.21.4 does not compile
  against; sdk v0.24.0+ drop ``logical.PkiCertificateCounter``, which 1.21.4 needs.
  Making 1.21.4 build would mean hand-reconstructing the release branch's sdk. 1.21.1
  (2025-11-18) is the newest release whose required sdk v0.20.0 matches its tree, so it
  builds from published modules unchanged. For a loopback dev server in tests the missing
  patch releases do not matter; the KV, AppRole and JWT APIs are the same.
* **Checksums.** Vault's own go.sum is seeded into the wrapper (see ``_go.py``) so every
  dependency upstream recorded is checked against upstream's hash although the checksum
  database is unreachable.
* **go line.** Upstream's ``go`` directive is copied into the wrapper. Without one the
  wrapper counts as go 1.16: no module-graph pruning, a much larger graph to resolve.
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
from pathlib import Path

from helm_enterprise.sandbox.toolchain._recipe import BuildContext, Recipe, probe_version

MODULE = "github.com/hashicorp/vault"
VERSION = "v1.21.1"

# Published versions standing in for the release's local ``=> ./x`` replaces: exactly the
# versions v1.21.1's go.mod requires (see above).
SIBLINGS = {
    f"{MODULE}/api": "v1.22.0",
    f"{MODULE}/sdk": "v0.20.0",
    f"{MODULE}/api/auth/approle": "v0.1.0",
    f"{MODULE}/api/auth/kubernetes": "v0.10.0",
    f"{MODULE}/api/auth/userpass": "v0.1.0",
}


def _build(ctx: BuildContext) -> None:
    w = ctx.wrapper("helm-enterprise-toolchain/vault")
    w.init()
    info = w.download(f"{MODULE}@{VERSION}")
    w.seed_sums(Path(str(info["Dir"])))
    gomod = Path(str(info["GoMod"])).read_text()
    go_line = re.search(r"^go\s+(\S+)", gomod, re.MULTILINE)
    if go_line:
        w.go("mod", "edit", f"-go={go_line.group(1)}", what="setting the go version")
    w.require(f"{MODULE}@{VERSION}")
    w.copy_directives(gomod, local_versions=SIBLINGS)
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
    # `vault version` prints "Vault v1.21.1 (<commit>), built <date>".
    found = probe_version("vault", ["version"], "Vault v1.21.")
    return {"vault": found} if found else None


RECIPES = [
    Recipe(
        family="vault",
        version=VERSION,
        binaries=("vault",),
        key=(MODULE, VERSION, *(f"{m}@{v}" for m, v in sorted(SIBLINGS.items())), "noui-v4"),
        build=_build,
        estimate_minutes=10,
        probe=_probe,
        description="HashiCorp Vault (dev server for external-secrets tests)",
    )
]
