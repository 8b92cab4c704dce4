"""An append-only JSON Lines log where each record carries the hash of the previous one.

Every record has ``schema`` (version of the event format), ``seq``, ``time`` (UTC),
``prev`` (the previous record's ``hash``) and ``hash`` (SHA-256 over the canonical JSON
of the record without ``hash``). Editing, deleting, inserting or reordering a record
breaks the chain at that point, which :meth:`AuditLog.verify` reports. Writers take a
file lock, so concurrent runs on one machine append safely.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from filelock import FileLock

from helm_enterprise._cache import cache_root

SCHEMA_VERSION = 1
GENESIS = "0" * 64


def default_log_path() -> Path:
    env = os.environ.get("HELM_ENTERPRISE_AUDIT_LOG")
    return Path(env).expanduser() if env else cache_root() / "audit" / "audit.jsonl"


def _canonical(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: Mapping[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(_canonical(body)).hexdigest()


@dataclasses.dataclass(frozen=True)
class VerifyResult:
    ok: bool
    records: int
    first_bad: int | None = None  # 1-based line number
    reason: str = ""


class AuditLog:
    """One hash-chained log file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_log_path()
        self._lock = FileLock(str(self.path) + ".lock")

    def _last(self) -> tuple[int, str]:
        if not self.path.exists():
            return 0, GENESIS
        last_line = ""
        with self.path.open("rb") as fh:
            for line in fh:
                if line.strip():
                    last_line = line.decode()
        if not last_line:
            return 0, GENESIS
        rec = json.loads(last_line)
        return int(rec.get("seq", 0)), str(rec.get("hash", GENESIS))

    def append(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Append ``event`` (any JSON-able fields) and return the stored record."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            seq, prev = self._last()
            record: dict[str, Any] = {
                "schema": SCHEMA_VERSION,
                "seq": seq + 1,
                "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                **dict(event),
                "prev": prev,
            }
            record["hash"] = record_hash(record)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
        return record

    def records(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)

    def verify(self) -> VerifyResult:
        """Check the chain; names the first record (line) that does not fit."""
        prev = GENESIS
        count = 0
        if not self.path.exists():
            return VerifyResult(True, 0)
        with self.path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                count += 1
                try:
                    rec = json.loads(line)
                except ValueError:
                    return VerifyResult(False, count, lineno, "not valid JSON")
                if rec.get("prev") != prev:
                    return VerifyResult(
                        False, count, lineno, "chain broken: prev does not match the record before"
                    )
                if rec.get("seq") != count:
                    return VerifyResult(
                        False,
                        count,
                        lineno,
                        f"sequence {rec.get('seq')} where {count} was expected",
                    )
                if record_hash(rec) != rec.get("hash"):
                    return VerifyResult(
                        False, count, lineno, "content does not match its hash (edited)"
                    )
                prev = rec["hash"]
        return VerifyResult(True, count)
