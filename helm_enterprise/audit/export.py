"""Audit records for auditors: filter by time, stack, release and action; JSON or CSV.

JSON is one document: the filters, when and by whom it was exported, the verification of
the whole log at export time (with the head hash) and the matching records as stored
(hashes and signatures included, so each can be checked against the log). CSV has one row
per record with the columns of :data:`helm_enterprise.audit.schema.CSV_COLUMNS`; the
remaining fields are in ``details`` as JSON.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from helm_enterprise.audit.identity import resolve_actor
from helm_enterprise.audit.log import VerifyResult, parse_time
from helm_enterprise.audit.schema import CSV_COLUMNS, SCHEMA_VERSION
from helm_enterprise.errors import ConfigError

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_NOT_DETAILS = {*CSV_COLUMNS, "prev", "sig", "schema"}
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def parse_when(
    text: str, *, now: dt.datetime | None = None, option: str = "--since"
) -> dt.datetime:
    """A point in time from ``2025-07-01``, ``2025-07-01T12:00:00Z`` (UTC when no zone is
    given) or a span back from now: ``90d``, ``12h``, ``30m``, ``2w``."""
    now = now or dt.datetime.now(dt.UTC)
    value = text.strip()
    m = _RELATIVE.match(value)
    if m:
        return now - dt.timedelta(seconds=int(m.group(1)) * _UNIT_SECONDS[m.group(2)])
    moment = parse_time(value)
    if moment is None:
        try:
            moment = dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), dt.UTC)
        except ValueError:
            moment = None
    if moment is None:
        raise ConfigError(
            f"{text!r} is not a time",
            path=option,
            hint="use a date (2025-07-01), a UTC timestamp (2025-07-01T12:00:00Z) or a span "
            "back from now (90d, 12h)",
        )
    return moment


@dataclasses.dataclass(frozen=True)
class Filters:
    """Which records to export. Bounds are inclusive of ``since``, exclusive of ``until``."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    stack: str | None = None
    release: str | None = None
    actions: tuple[str, ...] = ()
    include_previews: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "stack": self.stack,
            "release": self.release,
            "actions": list(self.actions),
            "include_previews": self.include_previews,
        }

    def match(self, record: Mapping[str, Any]) -> bool:
        when = parse_time(record.get("time"))
        if self.since and (when is None or when < self.since):
            return False
        if self.until and (when is None or when >= self.until):
            return False
        if self.stack:
            stack = str(record.get("stack") or "")
            # Stacks may be written fully qualified (org/project/stack).
            if stack != self.stack and not stack.endswith("/" + self.stack):
                return False
        if self.release and record.get("release") != self.release:
            return False
        if self.actions and record.get("action") not in self.actions:
            return False
        return self.include_previews or not record.get("dry_run")


def select(records: Iterable[Mapping[str, Any]], filters: Filters) -> Iterator[dict[str, Any]]:
    for record in records:
        if filters.match(record):
            yield dict(record)


def to_json(records: Iterable[Mapping[str, Any]], filters: Filters, chain: VerifyResult) -> str:
    items = list(records)
    doc = {
        "schema": SCHEMA_VERSION,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "exported_by": resolve_actor(),
        "filters": filters.to_dict(),
        "chain": chain.to_dict(),
        "count": len(items),
        "records": items,
    }
    return json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False, default=str)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, str) and value[:1] in _FORMULA:
        # A spreadsheet would run it as a formula (CSV injection); quote it as text.
        return "'" + value
    return str(value)


def to_csv(records: Iterable[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, "details"])
    for r in records:
        details = {k: v for k, v in r.items() if k not in _NOT_DETAILS}
        writer.writerow(
            [*(_cell(r.get(c)) for c in CSV_COLUMNS), _cell(details) if details else ""]
        )
    return buf.getvalue()
