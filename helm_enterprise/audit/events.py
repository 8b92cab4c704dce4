"""Emitting audit events: the one call every component and command uses.

``emit("rollback", phase="after", result="succeeded", release="web", ...)`` adds the common
fields (who, when, correlation id of this run, project/stack when inside Pulumi) and hands
the event to the configured :class:`Auditor` (by default a hash-chained JSON Lines file at
:func:`default_log_path`). Values that look like secrets never belong in an event: callers
pass references (``vault:secret/app#pw``), never resolved values.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from helm_enterprise.audit.identity import resolve_actor
from helm_enterprise.audit.log import AuditLog

Phase = Literal["before", "after"]

_RUN_ID = os.environ.get("HELM_ENTERPRISE_CORRELATION_ID") or uuid.uuid4().hex


def correlation_id() -> str:
    """One id shared by every event of this process (override: HELM_ENTERPRISE_CORRELATION_ID)."""
    return _RUN_ID


class Auditor:
    """Where events go. The default writes one local hash-chained log."""

    def __init__(self, log: AuditLog | None = None) -> None:
        self.log = log or AuditLog()

    def write(self, event: Mapping[str, Any]) -> dict[str, Any]:
        return self.log.append(event)


_auditor: Auditor | None = None
_lock = threading.Lock()


def auditor() -> Auditor:
    global _auditor  # noqa: PLW0603 - one auditor per process is the point
    with _lock:
        if _auditor is None:
            _auditor = Auditor()
        return _auditor


def set_auditor(value: Auditor | None) -> None:
    global _auditor  # noqa: PLW0603
    with _lock:
        _auditor = value


def emit(
    action: str,
    *,
    phase: Phase | None = None,
    result: str | None = None,
    who: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Record one event; returns the stored record."""
    event: dict[str, Any] = {
        "action": action,
        "who": resolve_actor(who),
        "correlation_id": correlation_id(),
    }
    if phase:
        event["phase"] = phase
    if result:
        event["result"] = result
    event.update({k: v for k, v in fields.items() if v is not None})
    return auditor().write(event)
