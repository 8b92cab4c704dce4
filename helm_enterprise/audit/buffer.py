"""A bounded, on-disk, cross-process queue of records waiting for one sink.

Every record meant for a sink is written here first (write-ahead), then shipped; so a
crash, a sink that is down or a process that exits before delivery loses nothing: the next
process with the same sink configured (the next run, ``helm-enterprise audit flush``)
ships what is pending. Files, under ``<cache>/audit/buffer/``:

* ``<key>.jsonl``: records, one per line, in log order;
* ``<key>.offset``: how many bytes of it were delivered (or dropped), and how many bytes
  compaction removed from its start (so a shipper's position stays valid across it).

The pending part is bounded by ``max_bytes``. When a new record does not fit, the *oldest*
pending records are dropped to make room (down to 90% of the bound, so the overflow event
that reports it fits too); :meth:`DiskBuffer.append` returns what was dropped, and the
caller records it. Dropped records stay in the local log (the system of record).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout


@dataclasses.dataclass(frozen=True)
class Dropped:
    """Records dropped from a full buffer: how many, and their sequence numbers."""

    count: int
    first_seq: int | None
    last_seq: int | None


def _seq(line: bytes) -> int | None:
    try:
        value = json.loads(line).get("seq")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


class DiskBuffer:
    """See the module docs. Safe across threads and processes (file locks)."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._offset_path = path.with_suffix(".offset")
        self._lock = FileLock(str(path) + ".lock")
        self._ship_lock = FileLock(str(path) + ".ship.lock", thread_local=False)

    # -- state ------------------------------------------------------------------------

    def _state(self) -> tuple[int, int]:
        """(base, offset): bytes compacted away before the file's start, and the
        delivered part of the file."""
        try:
            base, _, offset = self._offset_path.read_text().strip().partition(" ")
            return int(base or 0), int(offset or 0)
        except (OSError, ValueError):
            return 0, 0

    def _offset(self) -> int:
        return self._state()[1]

    def _set_offset(self, value: int, base: int | None = None) -> None:
        base = self._state()[0] if base is None else base
        tmp = self._offset_path.with_suffix(".offset.tmp")
        tmp.write_text(f"{base} {value}")
        tmp.replace(self._offset_path)

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def pending_bytes(self) -> int:
        with self._lock:
            return max(0, self._size() - self._offset())

    def pending(self) -> list[dict[str, Any]]:
        """Every pending record (for tests and ``audit flush --dry-run``)."""
        records, _end = self.peek(1 << 30)
        return records

    # -- writing ----------------------------------------------------------------------

    def append(self, line: bytes) -> Dropped | None:
        """Queue one serialized record (a line ending in ``\\n``); returns what had to be
        dropped to make room, if anything."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            dropped = None
            offset, size = self._offset(), self._size()
            if size - offset + len(line) > self.max_bytes:
                dropped = self._drop_oldest(offset, len(line))
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "ab") as fh:
                fh.write(line)
            self._compact_if_needed()
            return dropped

    def _drop_oldest(self, offset: int, incoming: int) -> Dropped:
        target = int(self.max_bytes * 0.9) - incoming
        count, first, last = 0, None, None
        with self.path.open("rb") as fh:
            fh.seek(offset)
            pending = self._size() - offset
            for raw in fh:
                if pending <= max(target, 0):
                    break
                offset += len(raw)
                pending -= len(raw)
                count += 1
                seq = _seq(raw)
                first = seq if first is None else first
                last = seq if seq is not None else last
        self._set_offset(offset)
        return Dropped(count, first, last)

    def _compact_if_needed(self) -> None:
        (base, offset), size = self._state(), self._size()
        if offset == 0:
            return
        if offset >= size:
            self.path.write_bytes(b"")
            self._set_offset(0, base + size)
        elif offset > self.max_bytes // 2:
            # Keep the file near the bound: rewrite the pending tail (atomic rename).
            with self.path.open("rb") as fh:
                fh.seek(offset)
                rest = fh.read()
            tmp = self.path.with_suffix(".jsonl.tmp")
            tmp.write_bytes(rest)
            os.chmod(tmp, 0o600)
            tmp.replace(self.path)
            self._set_offset(0, base + offset)

    # -- shipping ---------------------------------------------------------------------

    def peek(self, max_records: int) -> tuple[list[dict[str, Any]], int]:
        """Up to ``max_records`` pending records and the position just after them (for
        :meth:`commit`; it stays valid when the file is compacted meanwhile)."""
        with self._lock:
            base, offset = self._state()
            records: list[dict[str, Any]] = []
            if not self.path.exists():
                return records, base + offset
            with self.path.open("rb") as fh:
                fh.seek(offset)
                end = offset
                for raw in fh:
                    if not raw.endswith(b"\n"):
                        break  # a line still being written
                    end += len(raw)
                    try:
                        rec = json.loads(raw)
                    except ValueError:
                        continue  # cannot be sent; skipping it is safe (it is in the log)
                    if isinstance(rec, dict):
                        records.append(rec)
                    if len(records) >= max_records:
                        break
            return records, base + end

    def commit(self, position: int) -> None:
        """Mark everything before ``position`` (from :meth:`peek`) as delivered."""
        with self._lock:
            base, offset = self._state()
            physical = min(position - base, self._size())
            if physical > offset:
                self._set_offset(physical, base)
            self._compact_if_needed()

    def try_ship_lock(self) -> bool:
        """Take the exclusive right to ship this buffer (one process at a time)."""
        try:
            self._ship_lock.acquire(timeout=0)
        except Timeout:
            return False
        return True

    def release_ship_lock(self) -> None:
        self._ship_lock.release()
