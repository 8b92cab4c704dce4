"""``helm-enterprise audit verify``: exit codes (1 findings, 2 bad usage)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helm_enterprise.audit import AuditLog
from helm_enterprise.cli import app

importlib.import_module("helm_enterprise.cli.audit_cmds")


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    AuditLog(path).append({"action": "rollback", "who": "ops", "correlation_id": "c1"})
    return path


def verify(log: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["audit", "verify", "--log", str(log), *extra], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_a_too_short_key_is_bad_usage(log: Path) -> None:
    code, _out, err = verify(log, "--key", "env:AUDIT_KEY", env={"AUDIT_KEY": "short"})
    assert code == 2
    assert err.strip().splitlines() == [
        "error: --key: the HMAC key is shorter than 16 characters; use a random key"
    ]
    assert "short" not in err.replace("shorter", "")  # never the key itself


def test_a_key_that_is_not_ed25519_is_bad_usage(log: Path) -> None:
    code, _out, err = verify(
        log, "--method", "ed25519", "--key", "env:AUDIT_KEY", env={"AUDIT_KEY": "x" * 20}
    )
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--key" in err


def test_an_unreadable_public_key_is_bad_usage(log: Path, tmp_path: Path) -> None:
    code, _out, err = verify(log, "--public-key", str(tmp_path / "missing.pem"))
    assert code == 2 and err.strip().startswith("error: --public-key: cannot read")


def test_a_usable_key_verifies_and_a_finding_exits_1(log: Path) -> None:
    key = {"AUDIT_KEY": "k" * 32}
    code, out, _err = verify(log, "--key", "env:AUDIT_KEY", env=key)
    assert code == 0, out
    code, _out, _err = verify(log, "--key", "env:AUDIT_KEY", "--require-signatures", env=key)
    assert code == 1  # unsigned records are a finding, not bad usage
