"""Exports for auditors (journey 5) and the audit CLI: verify names the first bad record,
export filters by time/stack/release and writes JSON or CSV."""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helm_enterprise.audit import AuditLog
from helm_enterprise.audit.export import Filters, parse_when, select, to_csv
from helm_enterprise.cli import app
from helm_enterprise.errors import ConfigError

importlib.import_module("helm_enterprise.cli.audit_cmds")
runner = CliRunner()


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2025, 7, 1, 9, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def trail(tmp_path: Path) -> AuditLog:
    """Q2 and Q3 changes to prod and dev, a preview, a rollback."""
    clock = Clock()
    log = AuditLog(tmp_path / "audit.jsonl", clock=clock)
    rows = [
        ("2025-06-30", "prod", "web", "update", "succeeded", False, "1.0.0"),
        ("2025-07-02", "prod", "web", "update", "succeeded", False, "1.1.0"),
        ("2025-07-03", "dev", "web", "update", "succeeded", False, "1.2.0"),
        ("2025-08-01", "prod", "db", "create", "failed", False, "14.0.0"),
        ("2025-08-02", "prod", "web", "update", "planned", True, "1.3.0"),
        ("2025-10-01", "prod", "web", "rollback", "succeeded", False, "1.0.0"),
    ]
    for day, stack, release, action, result, dry, version in rows:
        clock.now = dt.datetime.fromisoformat(day).replace(hour=10, tzinfo=dt.UTC)
        log.append(
            {
                "action": action,
                "phase": "after",
                "result": result,
                "who": "git:sam@corp",
                "stack": f"acme/shop/{stack}" if stack == "prod" else stack,
                "release": release,
                "chart": release,
                "chart_version": version,
                "dry_run": dry,
                "source": "git:https://git.corp/charts@4f2a9c1"
                if release == "db"
                else "https://charts.corp",
            }
        )
    return log


def test_parse_when() -> None:
    now = dt.datetime(2025, 10, 1, tzinfo=dt.UTC)
    assert parse_when("2025-07-01") == dt.datetime(2025, 7, 1, tzinfo=dt.UTC)
    assert parse_when("2025-07-01T12:30:00Z").hour == 12
    assert parse_when("90d", now=now) == now - dt.timedelta(days=90)
    with pytest.raises(ConfigError, match="--since: 'last quarter' is not a time"):
        parse_when("last quarter")


def test_q3_changes_to_prod(trail: AuditLog) -> None:
    q3 = Filters(since=parse_when("2025-07-01"), until=parse_when("2025-10-01"), stack="prod")
    got = list(select(trail.records(), q3))
    assert [(r["release"], r["action"], r["chart_version"]) for r in got] == [
        ("web", "update", "1.1.0"),
        ("db", "create", "14.0.0"),
    ]
    with_previews = Filters(**{**q3.__dict__, "include_previews": True})
    assert len(list(select(trail.records(), with_previews))) == 3
    assert [r["release"] for r in select(trail.records(), Filters(release="db"))] == ["db"]


def test_csv_has_who_what_when_version_commit_result(trail: AuditLog) -> None:
    text = to_csv(select(trail.records(), Filters(release="db")))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1
    row = rows[0]
    assert row["who"] == "git:sam@corp" and row["action"] == "create"
    assert row["time"].startswith("2025-08-01T10:00:00")
    assert row["chart_version"] == "14.0.0" and row["result"] == "failed"
    assert row["source"] == "git:https://git.corp/charts@4f2a9c1"
    assert row["hash"] and row["seq"] == "4"


def test_csv_cells_never_run_as_formulas(tmp_path: Path) -> None:
    text = to_csv([{"who": '=HYPERLINK("http://x")', "seq": 1, "duration_seconds": -1.5}])
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["who"].startswith("'=") and row["duration_seconds"] == "-1.5"


def test_cli_export_json_and_csv(trail: AuditLog, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "audit",
            "export",
            "--log",
            str(trail.path),
            "--since",
            "2025-07-01",
            "--until",
            "2025-10-01",
            "--stack",
            "prod",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["count"] == 2 and doc["chain"]["ok"] is True
    assert doc["filters"]["stack"] == "prod"
    assert {r["release"] for r in doc["records"]} == {"web", "db"}

    out = tmp_path / "q3.csv"
    result = runner.invoke(
        app,
        [
            "audit",
            "export",
            "--log",
            str(trail.path),
            "--since",
            "2025-07-01",
            "--stack",
            "prod",
            "--format",
            "csv",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(list(csv.DictReader(io.StringIO(out.read_text())))) == 3  # and the rollback

    bad = runner.invoke(app, ["audit", "export", "--log", str(trail.path), "--since", "soon"])
    assert bad.exit_code == 2 and "--since" in bad.stderr


def test_cli_verify_names_the_first_bad_record(trail: AuditLog, tmp_path: Path) -> None:
    ok = runner.invoke(app, ["audit", "verify", "--log", str(trail.path)])
    assert ok.exit_code == 0 and "chain intact" in ok.stdout

    edited = tmp_path / "edited.jsonl"
    # The trail spans months, so it was rotated daily: the copy joins every segment.
    assert len(trail.segments()) > 1
    lines = "".join(p.read_text() for p in trail.segments()).splitlines()
    lines[3] = lines[3].replace('"result": "failed"', '"result": "succeeded"')
    edited.write_text("\n".join(lines) + "\n")
    bad = runner.invoke(app, ["audit", "verify", "--log", str(edited), "--json"])
    assert bad.exit_code == 1
    report = json.loads(bad.stdout)
    assert report["ok"] is False and report["seq"] == 4 and report["first_bad"] == 4
    assert "edited" in report["reason"]
    human = runner.invoke(app, ["audit", "verify", "--log", str(edited)])
    assert human.exit_code == 1 and "seq 4" in human.stdout

    missing = runner.invoke(app, ["audit", "verify", "--log", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2


def test_cli_verify_checks_hmac_signatures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from helm_enterprise.audit.signing import make_signer

    key = "k" * 32
    log = AuditLog(tmp_path / "signed.jsonl", signer=make_signer("hmac", key, "test"))
    log.append({"action": "update", "who": "x"})
    monkeypatch.setenv("AUDIT_KEY", key)
    ok = runner.invoke(app, ["audit", "verify", "--log", str(log.path), "--key", "env:AUDIT_KEY"])
    assert ok.exit_code == 0 and "1 signatures valid" in ok.stdout
    monkeypatch.setenv("AUDIT_KEY", "w" * 32)
    bad = runner.invoke(app, ["audit", "verify", "--log", str(log.path), "--key", "env:AUDIT_KEY"])
    assert bad.exit_code == 1 and "signature invalid" in bad.stdout
    assert key not in ok.output + bad.output


def test_cli_schema_prints_the_json_schema() -> None:
    result = runner.invoke(app, ["audit", "schema"])
    assert result.exit_code == 0 and json.loads(result.stdout)["title"]
