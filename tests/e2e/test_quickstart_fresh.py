"""The README's main job on a fresh machine: `helm-enterprise quickstart` in a fresh clone,
with a sandbox, Pulumi state and passphrase of its own (issue 10).

A stack file committed with one machine's ``encryptionsalt`` made the quickstart fail
everywhere else ("incorrect passphrase"), and a salt written by ``pulumi up`` left the
clone dirty. This runs the main job the way a new user does: from a clone with nothing
but the repository, on a sandbox that has never seen the stack. It uses its own sandbox
directory and port block (it must not touch the shared sandbox of the other e2e tests)
and the shared toolchain cache, so it builds nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helm_enterprise.sandbox.toolchain import bin_dir
from tests.e2e.conftest import REPO, free_port_base

CLI = Path(sys.executable).parent / "helm-enterprise"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=e2e", "-c", "user.email=e2e@example.invalid", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout


def fresh_clone(dest: Path) -> Path:
    """``git clone`` of the repository these tests run from, plus its working tree's
    uncommitted files (none in CI's fresh clone; locally, the change under test), committed
    in the clone so that its ``git status`` starts empty."""
    git(REPO, "clone", "--quiet", "--no-hardlinks", str(REPO), str(dest))
    listed = git(REPO, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    deleted = set(git(REPO, "ls-files", "-z", "--deleted").split("\0"))
    for rel in filter(None, listed.split("\0")):
        src, dst = REPO / rel, dest / rel
        if rel in deleted or not src.exists():
            dst.unlink(missing_ok=True)
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst, follow_symlinks=False)
    if git(dest, "status", "--porcelain"):
        git(dest, "add", "-A")
        git(dest, "commit", "--quiet", "-m", "the working tree under test")
    return dest


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], Path]]:
    """(clone, environment of a new user with a sandbox of its own, sandbox dir)."""
    clone = fresh_clone(tmp_path / "clone")
    # `make quickstart` would first create the clone's .venv with pip from PyPI (minutes,
    # and the network); the clone gets this interpreter's venv instead, in the place the
    # root program's Pulumi.yaml names (`virtualenv: .venv`), and the same CLI entry point.
    (clone / ".venv").symlink_to(Path(sys.prefix))
    sandbox = tmp_path / "sandbox"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PULUMI_", "HELM_ENTERPRISE_SANDBOX", "KUBECONFIG"))
    }
    env |= {
        "HELM_ENTERPRISE_SANDBOX_DIR": str(sandbox),
        "HELM_ENTERPRISE_SANDBOX_PORT_BASE": str(free_port_base()),
        # No ambient cluster may be picked up instead of the fresh sandbox.
        "HELM_ENTERPRISE_TARGET": "sandbox",
    }
    try:
        yield clone, env, sandbox
    finally:
        subprocess.run(
            [str(CLI), "sandbox", "down", "--purge"],
            cwd=clone,
            env=env,
            capture_output=True,
            timeout=300,
            check=False,
        )


def quickstart(clone: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "quickstart"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )


def test_quickstart_in_a_fresh_clone(fresh: tuple[Path, dict[str, str], Path]) -> None:
    clone, env, sandbox = fresh
    proc = quickstart(clone, env)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert "Traceback" not in output
    assert re.search(r"deployed on sandbox cluster a .*hello: deployed \(revision 1", output)

    # The pods, seen with kubectl through the kubeconfig the quickstart names.
    match = re.search(r"kubectl --kubeconfig (\S+) -n quickstart get", proc.stdout)
    assert match, proc.stdout
    kubeconfig = Path(match.group(1))
    assert kubeconfig.is_relative_to(sandbox)
    kubectl = [str(bin_dir() / "kubectl"), "--kubeconfig", str(kubeconfig)]
    pods = json.loads(
        subprocess.run(
            [*kubectl, "-n", "quickstart", "get", "pods", "-o", "json"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    )
    names = [p["metadata"]["name"] for p in pods["items"]]
    assert len(names) == 2 and all(n.startswith("hello-") for n in names), names

    # Nothing to commit: the stack file with its salt is written but ignored.
    assert (clone / "Pulumi.quickstart.yaml").read_text().count("encryptionsalt:") == 1
    assert git(clone, "status", "--porcelain") == ""

    passphrase = (sandbox / "pulumi-passphrase").read_text().strip()
    assert passphrase and passphrase not in output

    # Another passphrase for the same stack: one line that says what to do, no traceback.
    (sandbox / "pulumi-passphrase").write_text("not-the-passphrase-of-this-stack\n")
    again = quickstart(clone, env)
    output = again.stdout + again.stderr
    assert again.returncode == 1, output[-3000:]
    errors = [ln for ln in output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, output[-3000:]
    assert "incorrect passphrase" in errors[0] and "Pulumi.quickstart.yaml" in errors[0]
    assert "Traceback" not in output
    assert "not-the-passphrase-of-this-stack" not in output and passphrase not in output
    assert git(clone, "status", "--porcelain") == ""
