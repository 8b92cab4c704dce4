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


def test_revisions_from_pulumi_are_written_as_integers(log: AuditLog) -> None:
    # Pulumi hands numbers to a program as floats: a hook sees revision 2.0, a dynamic
    # provider's input 2.0. Records say 2, as the schema and the docs promise.
    set_auditor(Auditor(log))
    emit("update", phase="after", result="succeeded", revision=2.0, from_revision=1.0)
    emit("rollback", phase="after", from_revision=3.0, to_revision=1.0, new_revision=4.0)
    emit("health-check", result="healthy", revision=5.0, duration_seconds=2.0)
    records = list(log.records())
    for record in records:
        assert validate_record(record) == [], record
        for field in ("revision", "from_revision", "to_revision", "new_revision"):
            if field in record:
                assert type(record[field]) is int, (field, record)
    assert records[2]["duration_seconds"] == 2.0  # a number field keeps its float
    assert '"revision":2.0' not in log.path.read_text().replace(" ", "")
    # The validator itself refuses 2.0 where the schema says integer.
    assert validate_record({**records[0], "revision": 2.0}) == [
        "revision: 2.0 is not of type 'integer', 'null'"
    ]
