"""``sandbox status`` / ``sandbox down`` in a sandbox dir where only some components ever
started: the others are "not started" and already down, and nothing is written for them."""

from __future__ import annotations

import importlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helm_enterprise.cli import app
from helm_enterprise.sandbox._process import pid_alive
from helm_enterprise.sandbox.platform import Sandbox

importlib.import_module("helm_enterprise.cli.sandbox_cmds")  # registers the commands


@pytest.fixture
def sandbox_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "sandbox"
    monkeypatch.setenv("HELM_ENTERPRISE_SANDBOX_DIR", str(root))
    # A base nothing of ours listens on: a probe here can only fail, never reach a sandbox.
    monkeypatch.setenv("HELM_ENTERPRISE_SANDBOX_PORT_BASE", "13000")
    return root


@pytest.fixture
def vault_process(sandbox_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process standing in for Vault: its pid file and log as ``up`` leaves them."""
    proc = subprocess.Popen(["sleep", "300"], start_new_session=True)
    state = sandbox_dir / "state" / "vault"
    state.mkdir(parents=True)
    (state / "vault.pid").write_text(str(proc.pid))
    (sandbox_dir / "logs").mkdir()
    (sandbox_dir / "logs" / "vault.log").write_text("=== start ===\n")
    yield proc
    proc.kill()
    proc.wait()


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


def _by_process(rows: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(r["name"]): r for r in rows}


def test_status_of_a_fresh_sandbox_is_not_started_and_writes_nothing(sandbox_dir: Path) -> None:
    rows = Sandbox(clusters=2).status()
    assert {r["state"] for r in rows} == {"not started"}
    names = _by_process(rows)
    assert {"a-etcd", "b-kwok", "vault", "chartrepo-registry", "git-sshd", "prometheus"} <= set(
        names
    )
    assert names["git-sshd"]["component"] == "git"
    assert names["a-kube-apiserver"]["component"] == "cluster a"
    assert _files(sandbox_dir) == set()


def test_partial_sandbox_status_and_down(
    sandbox_dir: Path, vault_process: subprocess.Popen[bytes]
) -> None:
    # Leftovers of components that never started (e.g. a credentials file) do not count.
    (sandbox_dir / "state" / "chartrepo").mkdir(parents=True)
    (sandbox_dir / "state" / "chartrepo" / "credentials.json").write_text("{}")
    # A cluster that ran once and was stopped: its logs stay, its pid files are gone.
    (sandbox_dir / "logs" / "a-etcd.log").write_text("=== start ===\n")
    before = _files(sandbox_dir)

    rows = _by_process(Sandbox(clusters=2).status())
    assert rows["vault"]["state"] == "running"  # alive, not answering on its port
    assert rows["vault"]["pid"] == vault_process.pid
    assert rows["a-etcd"]["state"] == "stopped"
    for never in ("b-etcd", "chartrepo-nginx", "git-fcgiwrap", "git-nginx", "git-sshd"):
        assert rows[never]["state"] == "not started", never
    assert rows["prometheus"]["state"] == "not started"

    runner = CliRunner()
    result = runner.invoke(app, ["sandbox", "down"])
    assert result.exit_code == 0, result.output
    assert "sandbox stopped" in result.stdout
    vault_process.wait(timeout=15)  # down stopped the one process that ran
    assert not pid_alive(vault_process.pid)
    # Nothing was created for the components that never started (no PKI, configs, keys);
    # cluster a (it ran once) was locked and its runtime files cleaned as usual.
    created = _files(sandbox_dir) - before
    assert not [f for f in created if "cluster-a" not in f], created

    result = runner.invoke(app, ["sandbox", "status", "--json"])
    assert result.exit_code == 0, result.output
    rows = _by_process(json.loads(result.stdout))
    assert rows["vault"]["state"] == "stopped" and rows["vault"]["pid"] is None
    assert rows["git-sshd"]["state"] == "not started"


def test_status_table_says_not_started(sandbox_dir: Path) -> None:
    result = CliRunner().invoke(app, ["sandbox", "status", "-c", "git"])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("not started") == 3
    assert "Traceback" not in result.output
