"""The hash chain: every kind of tampering is found, and the first bad record is named."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path

import pytest

from helm_enterprise.audit import AuditLog
from helm_enterprise.audit.log import GENESIS, record_hash


def fill(log: AuditLog, n: int = 5) -> list[dict[str, object]]:
    return [log.append({"action": "update", "release": f"r{i}", "who": "x"}) for i in range(n)]


def lines(log: AuditLog) -> list[str]:
    return log.path.read_text().splitlines()


def write(log: AuditLog, content: list[str]) -> None:
    log.path.write_text("".join(line + "\n" for line in content))


def test_an_untouched_log_verifies(log: AuditLog) -> None:
    records = fill(log)
    result = log.verify()
    assert result.ok and result.records == 5
    assert result.head == records[-1]["hash"]
    assert [r["seq"] for r in log.records()] == [1, 2, 3, 4, 5]
    assert records[0]["prev"] == GENESIS
    assert all(b["prev"] == a["hash"] for a, b in itertools.pairwise(records))


def test_an_empty_or_missing_log_verifies(log: AuditLog) -> None:
    assert log.verify().ok and log.verify().records == 0


def test_an_edited_record_is_named(log: AuditLog) -> None:
    fill(log)
    content = lines(log)
    content[2] = content[2].replace('"release": "r2"', '"release": "evil"')
    write(log, content)
    result = log.verify()
    assert not result.ok
    assert (result.first_bad, result.seq) == (3, 3)
    assert "edited" in result.reason


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(log: AuditLog) -> None:
    fill(log)
    content = lines(log)
    rec = json.loads(content[1])
    rec["release"] = "evil"
    rec["hash"] = record_hash(rec)
    content[1] = json.dumps(rec, sort_keys=True)
    write(log, content)
    result = log.verify()
    assert not result.ok and (result.first_bad, result.seq) == (3, 3)
    assert "does not chain to record 2" in result.reason


def test_a_deleted_record_is_named(log: AuditLog) -> None:
    fill(log)
    content = lines(log)
    del content[2]
    write(log, content)
    result = log.verify()
    assert not result.ok
    assert (result.first_bad, result.seq) == (3, 4)
    assert "seq 4 where 3 was expected" in result.reason


def test_an_inserted_record_is_named(log: AuditLog) -> None:
    fill(log)
    content = lines(log)
    content.insert(2, content[1])  # a duplicate of record 2 after it
    write(log, content)
    result = log.verify()
    assert not result.ok and (result.first_bad, result.seq) == (3, 2)
    assert "inserted" in result.reason


def test_a_forged_record_with_the_next_seq_is_caught_at_the_following_one(
    log: AuditLog,
) -> None:
    records = fill(log, 3)
    forged = {"action": "delete", "who": "x", "seq": 2, "time": records[1]["time"]}
    forged.update({"schema": 2, "prev": records[0]["hash"]})
    forged["hash"] = record_hash(forged)
    content = lines(log)
    content.insert(1, json.dumps(forged))
    write(log, content)
    result = log.verify()
    assert not result.ok and (result.first_bad, result.seq) == (3, 2)


def test_reordered_records_are_named(log: AuditLog) -> None:
    fill(log)
    content = lines(log)
    content[1], content[2] = content[2], content[1]
    write(log, content)
    result = log.verify()
    assert not result.ok
    assert (result.first_bad, result.seq) == (2, 3)
    assert "reordered" in result.reason


def test_a_truncated_line_is_named(log: AuditLog) -> None:
    fill(log, 3)
    content = lines(log)
    content[1] = content[1][:40]
    write(log, content)
    result = log.verify()
    assert not result.ok and result.first_bad == 2 and "not valid JSON" in result.reason


def test_a_replaced_first_record_is_caught(log: AuditLog) -> None:
    fill(log, 2)
    content = lines(log)
    rec = json.loads(content[0])
    rec["prev"] = "1" * 64
    rec["hash"] = record_hash(rec)
    content[0] = json.dumps(rec)
    write(log, content)
    result = log.verify()
    assert not result.ok and result.first_bad == 1


def test_records_of_schema_1_still_verify(log: AuditLog) -> None:
    """Records written before the schema module (hash over everything but ``hash``)."""
    prev = GENESIS
    content = []
    for seq in (1, 2):
        rec = {
            "schema": 1,
            "seq": seq,
            "time": "2025-01-01T00:00:00.000+00:00",
            "action": "rollback",
            "who": "x",
            "prev": prev,
        }
        rec["hash"] = record_hash(rec)
        prev = rec["hash"]
        content.append(json.dumps(rec, sort_keys=True))
    write(log, content)
    assert log.verify().ok
    assert log.append({"action": "update", "who": "y"})["seq"] == 3
    assert log.verify().ok


def test_envelope_fields_cannot_be_injected_by_the_event(log: AuditLog) -> None:
    rec = log.append({"action": "x", "who": "y", "seq": 99, "prev": "f" * 64, "hash": "0"})
    assert rec["seq"] == 1 and rec["prev"] == GENESIS and log.verify().ok


class Clock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


def test_rotation_keeps_one_chain_across_files(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", rotate_bytes=1024)
    fill(log, 20)
    files = log.segments()
    assert len(files) > 2 and files[-1] == log.path
    assert files[0].name == "audit.000000000001.jsonl"
    result = log.verify()
    assert result.ok and result.records == 20
    # An edit in a rotated segment is named with its file.
    content = files[1].read_text().splitlines()
    content[0] = content[0].replace('"who": "x"', '"who": "z"')
    files[1].write_text("\n".join(content) + "\n")
    bad = log.verify()
    assert not bad.ok and bad.file == str(files[1]) and bad.first_bad == 1


def test_daily_rotation_and_retention_are_recorded(tmp_path: Path) -> None:
    clock = Clock(dt.datetime(2025, 1, 1, 12, tzinfo=dt.UTC))
    log = AuditLog(tmp_path / "audit.jsonl", retention_days=2, clock=clock)
    for day in range(5):
        clock.now = dt.datetime(2025, 1, 1 + day, 12, tzinfo=dt.UTC)
        log.append({"action": "update", "who": "x", "day": day})
    records = list(log.records())
    retention = [r for r in records if r["action"] == "log-retention"]
    assert retention, "old segments were removed and that was recorded"
    assert records[0]["seq"] > 1  # the start of the log is gone, by retention
    result = log.verify()
    assert result.ok, result.describe()


def test_deleting_the_oldest_segment_by_hand_is_caught(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", rotate_bytes=1024)
    fill(log, 20)
    log.segments()[0].unlink()
    result = log.verify()
    assert not result.ok and "start of the log was deleted" in result.reason


@pytest.mark.parametrize("n", [1, 300])
def test_head_is_read_from_the_end(log: AuditLog, n: int) -> None:
    records = fill(log, n)
    assert log.head() == (n, records[-1]["hash"])
