"""The system of record: an append-only JSON Lines log where each record carries the hash
of the previous one.

Every record has ``schema`` (version of the event format, see :mod:`.schema`), ``seq``,
``time`` (UTC), ``prev`` (the previous record's ``hash``), ``hash`` (SHA-256 over the
canonical JSON of the record without ``hash`` and ``sig``) and, when signing is configured,
``sig`` (a signature over ``hash``, see :mod:`.signing`). Editing, deleting, inserting or
reordering a record breaks the chain at that point, which :meth:`AuditLog.verify` reports,
naming the first record that does not fit. Writers take a file lock, so concurrent runs on
one machine (the program, provider plugins, the CLI) append safely to one chain.

Rotation and retention: the active file (``audit.jsonl``) is rotated when it would exceed
``rotate_bytes`` or its first record is from an earlier UTC day; the rotated segment is
named after its first sequence number (``audit.000000000001.jsonl``) and the chain goes on
across files. Segments whose last record is older than ``retention_days`` are removed, and
the removal is itself a record (``log-retention``) naming the removed range and the hash it
ended with, so verify can tell retention from someone deleting the start of the log.

What a hash chain cannot show on its own: records cut from the *end*, or a rewrite of the
whole log by someone who recomputes every hash. Signatures (HMAC or Ed25519) close the
second gap; forwarding to a SIEM (the sinks) keeps an independent copy for the first.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from filelock import FileLock

from helm_enterprise._cache import cache_root
from helm_enterprise.audit.schema import GENESIS, SCHEMA_VERSION
from helm_enterprise.audit.signing import Signer, Verifier, check, signature

__all__ = [
    "GENESIS",
    "SCHEMA_VERSION",
    "AuditLog",
    "VerifyResult",
    "default_log_path",
    "record_hash",
]

_TAIL_BLOCK = 64 * 1024
Clock = Callable[[], dt.datetime]


def default_log_path() -> Path:
    """``$HELM_ENTERPRISE_AUDIT_LOG``, else ``<cache>/audit/audit.jsonl``."""
    env = os.environ.get("HELM_ENTERPRISE_AUDIT_LOG")
    return Path(env).expanduser() if env else cache_root() / "audit" / "audit.jsonl"


def _canonical(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 of the record's canonical JSON without ``hash`` and ``sig``."""
    body = {k: v for k, v in record.items() if k not in ("hash", "sig")}
    return hashlib.sha256(_canonical(body)).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: object) -> dt.datetime | None:
    """A record's ``time`` as an aware datetime (None when missing or malformed)."""
    if not isinstance(text, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@dataclasses.dataclass(frozen=True)
class VerifyResult:
    """Outcome of :meth:`AuditLog.verify`.

    ``first_bad`` is the 1-based line of the first record that does not fit, in ``file``;
    ``seq`` its sequence number when readable; ``reason`` says what is wrong with it.
    ``head`` is the hash of the last record (keep it elsewhere to detect truncation).
    """

    ok: bool
    records: int
    first_bad: int | None = None
    reason: str = ""
    file: str | None = None
    seq: int | None = None
    signatures: int = 0
    head: str = GENESIS
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def describe(self) -> str:
        if self.ok:
            signed = f", {self.signatures} signatures valid" if self.signatures else ""
            return f"ok: {self.records} records, chain intact{signed}; head {self.head}"
        seq = f"seq {self.seq}, " if self.seq is not None else ""
        return f"FAILED at record {seq}{self.file}:{self.first_bad}: {self.reason}"


class AuditLog:
    """One hash-chained log: the active file at ``path`` plus its rotated segments."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        rotate_bytes: int | None = None,
        retention_days: int | None = None,
        signer: Signer | None = None,
        clock: Clock = _now,
    ) -> None:
        self.path = Path(path) if path is not None else default_log_path()
        self.rotate_bytes = rotate_bytes
        self.retention_days = retention_days
        self.signer = signer
        self._clock = clock
        self._lock = FileLock(str(self.path) + ".lock")

    # -- files ------------------------------------------------------------------------

    def _segment_re(self) -> re.Pattern[str]:
        return re.compile(
            rf"^{re.escape(self.path.stem)}\.(\d{{12}}){re.escape(self.path.suffix)}$"
        )

    def segments(self) -> list[Path]:
        """Rotated segments, oldest first, then the active file (when it exists)."""
        pattern = self._segment_re()
        rotated: list[Path] = []
        if self.path.parent.is_dir():
            rotated = sorted(p for p in self.path.parent.iterdir() if pattern.match(p.name))
        return [*rotated, *([self.path] if self.path.exists() else [])]

    @staticmethod
    def _last_record(path: Path) -> dict[str, Any] | None:
        """The last parseable record of a file, reading from the end."""
        if not path.exists():
            return None
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            end = fh.tell()
            block = _TAIL_BLOCK
            while True:
                start = max(0, end - block)
                fh.seek(start)
                lines = fh.read(end - start).splitlines()
                # The first line of a partial read may be cut; keep it only from offset 0.
                candidates = lines if start == 0 else lines[1:]
                for raw in reversed(candidates):
                    if raw.strip():
                        try:
                            rec = json.loads(raw)
                        except ValueError:
                            continue
                        if isinstance(rec, dict):
                            return rec
                if start == 0:
                    return None
                block *= 4

    @staticmethod
    def _first_record(path: Path) -> dict[str, Any] | None:
        if not path.exists():
            return None
        with path.open("rb") as fh:
            for raw in fh:
                if raw.strip():
                    try:
                        rec = json.loads(raw)
                    except ValueError:
                        return None
                    return rec if isinstance(rec, dict) else None
        return None

    def head(self) -> tuple[int, str]:
        """(seq, hash) of the last record; (0, GENESIS) for an empty log."""
        for path in reversed(self.segments()):
            rec = self._last_record(path)
            if rec is not None:
                return int(rec.get("seq", 0)), str(rec.get("hash", GENESIS))
        return 0, GENESIS

    # -- writing ----------------------------------------------------------------------

    def append(
        self,
        event: Mapping[str, Any],
        on_written: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Append ``event`` (JSON-able fields) and return the stored record.

        ``on_written`` runs with the record while the log is still locked, so whatever it
        queues (the sinks' buffers) is in log order across threads and processes.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            now = self._clock()
            if self._should_rotate(now):
                self._rotate(now)
            record = self._write(event, now)
            if on_written is not None:
                on_written(record)
            return record

    def _write(self, event: Mapping[str, Any], now: dt.datetime) -> dict[str, Any]:
        seq, prev = self.head()
        record: dict[str, Any] = {
            "schema": SCHEMA_VERSION,
            **{k: v for k, v in event.items() if k not in ("seq", "prev", "hash", "sig")},
            "seq": seq + 1,
            "time": _timestamp(now),
            "prev": prev,
        }
        record["hash"] = record_hash(record)
        if self.signer is not None:
            record["sig"] = signature(self.signer, record["hash"])
        line = json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(line)
        return record

    def _should_rotate(self, now: dt.datetime) -> bool:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return False
        if self.rotate_bytes and self.path.stat().st_size >= self.rotate_bytes:
            return True
        first = self._first_record(self.path)
        started = parse_time(first.get("time")) if first else None
        return started is not None and started.date() < now.astimezone(dt.UTC).date()

    def _rotate(self, now: dt.datetime) -> None:
        first = self._first_record(self.path)
        first_seq = int(first.get("seq", 0)) if first else 0
        target = self.path.with_name(f"{self.path.stem}.{first_seq:012d}{self.path.suffix}")
        if target.exists():  # never overwrite a segment (a copy or a clock jump)
            return
        self.path.rename(target)
        self._apply_retention(now)

    def _apply_retention(self, now: dt.datetime) -> None:
        if not self.retention_days:
            return
        cutoff = now - dt.timedelta(days=self.retention_days)
        rotated = [p for p in self.segments() if p != self.path]
        removed: list[tuple[Path, dict[str, Any], dict[str, Any]]] = []
        # Oldest first, and only a contiguous prefix: the chain must stay whole after it.
        for seg in rotated[:-1] if len(rotated) > 1 else []:
            last = self._last_record(seg)
            first = self._first_record(seg)
            ended = parse_time(last.get("time")) if last else None
            if last is None or first is None or ended is None or ended >= cutoff:
                break
            removed.append((seg, first, last))
        if not removed:
            return
        for seg, _first, _last in removed:
            seg.unlink()
        self._write(
            {
                "action": "log-retention",
                "phase": "after",
                "result": "succeeded",
                "who": "helm-enterprise",
                "correlation_id": "retention",
                "removed_segments": [seg.name for seg, _f, _l in removed],
                "removed_from_seq": int(removed[0][1].get("seq", 0)),
                "removed_to_seq": int(removed[-1][2].get("seq", 0)),
                "anchor": str(removed[-1][2].get("hash", "")),
                "retention_days": self.retention_days,
            },
            now,
        )

    # -- reading ----------------------------------------------------------------------

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record, oldest first, across rotated segments (unparseable lines skipped)."""
        for path in self.segments():
            with path.open(encoding="utf-8") as fh:
                for line in fh:
                    if line.strip():
                        try:
                            rec = json.loads(line)
                        except ValueError:
                            continue
                        if isinstance(rec, dict):
                            yield rec

    def verify(
        self, verifier: Verifier | None = None, *, require_signatures: bool = False
    ) -> VerifyResult:
        """Check the chain (and signatures, given a verifier); names the first record that
        does not fit.

        Without a verifier, signatures are not checked, but a record without one after a
        signed record is reported (someone stripped it). ``require_signatures`` demands a
        signature on every record.
        """
        return _Verification(verifier, require_signatures).run(self.segments())


@dataclasses.dataclass
class _Verification:
    verifier: Verifier | None
    require_signatures: bool
    count: int = 0
    signatures: int = 0
    expected_seq: int | None = None
    prev: str = GENESIS
    signed_seen: bool = False
    # (seq, prev, file, line) of a first record that is not seq 1: needs a retention record
    anchor: tuple[int, str, str, int] | None = None
    notes: list[str] = dataclasses.field(default_factory=list)

    def bad(self, path: Path, line: int, seq: int | None, reason: str) -> VerifyResult:
        return VerifyResult(
            False,
            self.count,
            line,
            reason,
            str(path),
            seq,
            self.signatures,
            self.prev,
            tuple(self.notes),
        )

    def run(self, paths: list[Path]) -> VerifyResult:
        for path in paths:
            with path.open(encoding="utf-8", errors="replace") as fh:
                for lineno, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    self.count += 1
                    failure = self._one(path, lineno, line)
                    if failure is not None:
                        return failure
        if self.anchor is not None:
            seq, _prev, file, first_line = self.anchor
            return self.bad(
                Path(file),
                first_line,
                seq,
                f"records 1..{seq - 1} are missing and no log-retention record accounts "
                "for them (the start of the log was deleted)",
            )
        if self.signed_seen and self.verifier is None:
            self.notes.append("records are signed; pass a key to check the signatures")
        return VerifyResult(
            True, self.count, signatures=self.signatures, head=self.prev, notes=tuple(self.notes)
        )

    def _one(self, path: Path, lineno: int, line: str) -> VerifyResult | None:
        try:
            rec = json.loads(line)
        except ValueError:
            return self.bad(path, lineno, None, "not valid JSON (edited or truncated)")
        if not isinstance(rec, dict):
            return self.bad(path, lineno, None, "not a JSON object")
        seq = rec.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            return self.bad(path, lineno, None, "no sequence number (edited)")
        if record_hash(rec) != rec.get("hash"):
            return self.bad(path, lineno, seq, "edited: content does not match its hash")
        if self.expected_seq is None:
            if seq == 1:
                if rec.get("prev") != GENESIS:
                    return self.bad(path, lineno, seq, "the first record does not start a chain")
            else:
                self.anchor = (seq, str(rec.get("prev")), str(path), lineno)
        elif seq > self.expected_seq:
            return self.bad(
                path,
                lineno,
                seq,
                f"out of sequence: seq {seq} where {self.expected_seq} was expected "
                f"(records deleted or reordered before it)",
            )
        elif seq < self.expected_seq:
            return self.bad(
                path,
                lineno,
                seq,
                f"out of sequence: seq {seq} where {self.expected_seq} was expected "
                f"(a record inserted, duplicated or reordered)",
            )
        elif rec.get("prev") != self.prev:
            return self.bad(
                path,
                lineno,
                seq,
                f"does not chain to record {seq - 1} (that record was edited and re-hashed, "
                "or this one was inserted)",
            )
        failure = self._signature(path, lineno, seq, rec)
        if failure is not None:
            return failure
        if rec.get("action") == "log-retention" and self.anchor is not None:
            a_seq, a_prev, _f, _l = self.anchor
            if rec.get("removed_to_seq") == a_seq - 1 and rec.get("anchor") == a_prev:
                self.anchor = None
        self.prev = str(rec["hash"])
        self.expected_seq = seq + 1
        return None

    def _signature(
        self, path: Path, lineno: int, seq: int, rec: Mapping[str, Any]
    ) -> VerifyResult | None:
        has_sig = "sig" in rec
        if not has_sig and (self.signed_seen or self.require_signatures):
            why = "signature missing" + (
                " (records before it are signed)" if self.signed_seen else ""
            )
            return self.bad(path, lineno, seq, why)
        if has_sig:
            self.signed_seen = True
            if self.verifier is not None:
                problem = check(rec, self.verifier)
                if problem:
                    return self.bad(path, lineno, seq, problem)
                self.signatures += 1
        return None
