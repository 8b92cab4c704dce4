"""The event schema: records conform, and the docs page documents every field."""

from __future__ import annotations

from pathlib import Path

from helm_enterprise.audit import AuditLog, Auditor, emit, set_auditor
from helm_enterprise.audit.schema import ACTIONS, CSV_COLUMNS, EVENT_SCHEMA, validate_record

DOC = Path(__file__).resolve().parents[3] / "docs" / "features" / "audit.md"


def test_emitted_records_conform(log: AuditLog) -> None:
    set_auditor(Auditor(log))
    emit(
        "rollback",
        phase="after",
        result="succeeded",
        release="web",
        from_revision=3,
        to_revision=1,
        why="bad release",
        duration_seconds=4.2,
    )
    emit("health-check", result="healthy", measurements=[{"check": "web", "value": 1}])
    for record in log.records():
        assert validate_record(record) == [], record
    assert validate_record({"action": "Bad Action"})  # missing envelope, bad spelling


def test_the_docs_page_documents_every_field_and_action() -> None:
    text = DOC.read_text()
    for field in EVENT_SCHEMA["properties"]:
        assert f"`{field}`" in text, f"docs/features/audit.md does not document {field}"
    for action in ACTIONS:
        assert f"`{action}`" in text, f"docs/features/audit.md does not document {action}"
    for column in CSV_COLUMNS:
        assert column in text
