"""Acting on findings: the action per mode, exit codes, audit events."""

from __future__ import annotations

from pathlib import Path

import pytest

from helm_enterprise.audit import AuditLog, Auditor, set_auditor
from helm_enterprise.drift import (
    REDACTED,
    Action,
    Change,
    DriftRun,
    DriftState,
    FieldChange,
    ObjectFinding,
    ObjectRef,
    RemediationResult,
    StackReport,
)
from helm_enterprise.drift.act import plan, record_findings, record_remediation

DEP = ObjectRef("apps/v1", "Deployment", "web", "shop", "web")
SECRET = ObjectRef("v1", "Secret", "db", "shop", "web")
IN_SYNC = ObjectFinding(DEP, DriftState.IN_SYNC)
DRIFTED = ObjectFinding(
    DEP, DriftState.DRIFTED, (FieldChange("/spec/replicas", Change.CHANGED, 2, 5),)
)
MISSING = ObjectFinding(DEP, DriftState.MISSING)
UNKNOWN = ObjectFinding(DEP, DriftState.UNKNOWN, message="HTTP 403")


@pytest.mark.parametrize(
    ("findings", "mode", "confirm", "action"),
    [
        ([IN_SYNC], "report", False, Action.NONE),
        ([IN_SYNC], "remediate", True, Action.NONE),
        ([UNKNOWN], "remediate", False, Action.NONE),
        ([IN_SYNC, DRIFTED], "report", False, Action.REPORT),
        ([MISSING], "warn", False, Action.WARN),
        ([DRIFTED], "remediate", False, Action.REMEDIATE),
        ([MISSING], "remediate", True, Action.CONFIRM),
    ],
)
def test_plan(findings: list[ObjectFinding], mode: str, confirm: bool, action: Action) -> None:
    assert plan(findings, mode, confirm) is action  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("report", "code"),
    [
        (StackReport("s", findings=[IN_SYNC]), 0),
        (StackReport("s", findings=[IN_SYNC, DRIFTED]), 1),
        (StackReport("s", findings=[MISSING]), 1),
        (StackReport("s", mode="warn", findings=[DRIFTED]), 0),
        (StackReport("s", findings=[DRIFTED, UNKNOWN]), 2),
        (StackReport("s", findings=[IN_SYNC], errors=["refresh failed"]), 2),
        (StackReport("s", mode="remediate", findings=[DRIFTED], remaining=[]), 0),
        (StackReport("s", mode="remediate", findings=[DRIFTED], remaining=[DRIFTED]), 1),
        (StackReport("s", mode="remediate", findings=[DRIFTED], action=Action.DECLINED), 1),
        (
            StackReport(
                "s",
                mode="remediate",
                findings=[DRIFTED],
                remediation=[RemediationResult(DEP, False, "conflict")],
                remaining=[DRIFTED],
            ),
            2,
        ),
    ],
)
def test_exit_codes(report: StackReport, code: int) -> None:
    assert report.exit_code() == code


def test_run_exit_code_is_the_worst_stack() -> None:
    run = DriftRun([StackReport("a", findings=[DRIFTED]), StackReport("b", errors=["x"])])
    assert run.exit_code() == 2
    assert DriftRun([StackReport("a", findings=[DRIFTED]), StackReport("b")]).exit_code() == 1
    assert DriftRun().exit_code() == 0


def test_json_lists_only_what_is_not_in_sync() -> None:
    data = StackReport("prod", findings=[IN_SYNC, DRIFTED]).to_dict()
    assert data["summary"] == {"in-sync": 1, "drifted": 1, "missing": 0, "unknown": 0}
    assert [f["state"] for f in data["findings"]] == ["drifted"]
    assert data["findings"][0]["fields"] == [
        {
            "path": "/spec/replicas",
            "change": "changed",
            "old": 2,
            "new": 5,
            "redacted": False,
            "by": [],
        }
    ]


@pytest.fixture
def audit(tmp_path: Path):
    log = AuditLog(tmp_path / "audit.jsonl")
    set_auditor(Auditor(log))
    yield log
    set_auditor(None)


def test_every_drifted_object_is_an_audit_event(audit: AuditLog) -> None:
    secret = ObjectFinding(
        SECRET,
        DriftState.DRIFTED,
        (FieldChange("/data/password", Change.CHANGED, REDACTED, REDACTED, redacted=True),),
    )
    n = record_findings(
        [IN_SYNC, DRIFTED, MISSING, UNKNOWN, secret], stack="prod", project="p", mode="report"
    )
    assert n == 3
    events = [e for e in audit.records() if e["action"] == "drift-found"]
    assert [(e["object"], e["result"]) for e in events] == [
        ("Deployment/shop/web", "drifted"),
        ("Deployment/shop/web", "missing"),
        ("Secret/shop/db", "drifted"),
    ]
    assert events[0]["stack"] == "prod" and events[0]["release"] == "web"
    assert events[0]["fields"][0]["path"] == "/spec/replicas"
    assert events[2]["fields"][0]["old"] == REDACTED
    assert audit.verify().ok


def test_remediation_is_an_audit_event(audit: AuditLog) -> None:
    record_remediation([RemediationResult(DEP, True)], stack="prod", project="p", remaining=0)
    record_remediation([RemediationResult(DEP, False, "x")], stack="prod", project="p", remaining=1)
    events = [e for e in audit.records() if e["action"] == "drift-remediated"]
    assert [e["result"] for e in events] == ["succeeded", "failed"]
    assert events[0]["objects"] == [
        {"release": "web", "object": "Deployment/shop/web", "ok": True, "message": ""}
    ]
