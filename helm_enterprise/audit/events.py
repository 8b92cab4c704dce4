"""Emitting audit events: the one call every component and command uses.

``emit("rollback", phase="after", result="succeeded", release="web", ...)`` adds the common
fields (``id``, who, the correlation id of this run, and inside a Pulumi program the
project, stack and whether this is a preview), removes anything secret (see
:mod:`.redact`) and hands the event to the process's :class:`Auditor`:

1. the local hash-chained log (:class:`~helm_enterprise.audit.log.AuditLog`) — the system
   of record — stores it and returns the record;
2. the record is queued on disk for every configured sink and shipped in the background
   (:mod:`.sinks`). A sink that fails produces a warning and a ``sink-failed`` event; a
   full buffer produces a ``buffer-overflow`` event. Neither ever raises here.

The auditor is built from ``helm-enterprise:audit`` by the program (see
:func:`helm_enterprise.audit.setup.install`), from the file named by
``HELM_ENTERPRISE_AUDIT_CONFIG`` in other processes, and otherwise is the local log alone.
Callers pass references (``vault:secret/app#pw``), never resolved values.
"""

from __future__ import annotations

import atexit
import json
import logging
import socket
import threading
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from helm_enterprise.audit.buffer import DiskBuffer, Dropped
from helm_enterprise.audit.identity import resolve_actor, run_id
from helm_enterprise.audit.log import AuditLog
from helm_enterprise.audit.redact import scrub, scrub_text
from helm_enterprise.audit.schema import integral
from helm_enterprise.audit.sinks import Forwarder, Sink
from helm_enterprise.errors import AuditError

Phase = Literal["before", "after"]
_log = logging.getLogger("helm_enterprise.audit")


def correlation_id() -> str:
    """One id shared by every event of this run (see :func:`.identity.run_id`)."""
    return run_id()


def warn(message: str) -> None:
    """A warning the user sees: on the Pulumi console inside a program, else on stderr."""
    message = scrub_text(message)
    try:
        import pulumi
        from pulumi.runtime.settings import get_engine

        if get_engine() is not None:
            pulumi.log.warn(message)
            return
    except Exception:  # noqa: S110 - the engine may be gone at exit; stderr below
        pass
    _log.warning("%s", message)


def pulumi_context() -> dict[str, Any]:
    """project, stack and dry_run when running inside a Pulumi program, else {}."""
    try:
        import pulumi
        from pulumi.runtime.settings import get_monitor

        if get_monitor() is None:
            return {}
        return {
            "project": pulumi.get_project(),
            "stack": pulumi.get_stack(),
            "dry_run": bool(pulumi.runtime.is_dry_run()),
        }
    except Exception:
        return {}


class Auditor:
    """Where events go: the local chain log, then every sink (see the module docs)."""

    def __init__(
        self,
        log: AuditLog | None = None,
        sinks: Sequence[tuple[Sink, DiskBuffer]] = (),
        *,
        actor: str | None = None,
        record_previews: bool = True,
        flush_timeout: float = 5.0,
    ) -> None:
        self.log = log or AuditLog()
        self.actor = actor
        self.record_previews = record_previews
        self.flush_timeout = flush_timeout
        self._local = threading.local()
        self._closed = False
        self.forwarders = [Forwarder(sink, buffer, self.report) for sink, buffer in sinks]
        for f in self.forwarders:
            f.start()

    def event(
        self,
        action: str,
        *,
        phase: Phase | None = None,
        result: str | None = None,
        who: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Build an event with the common fields and write it (see :func:`emit`)."""
        event: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "action": action,
            "who": resolve_actor(who, self.actor),
            "correlation_id": correlation_id(),
            "host": socket.gethostname(),
            "dry_run": False,
            **pulumi_context(),
        }
        if phase:
            event["phase"] = phase
        if result:
            event["result"] = result
        event.update({k: v for k, v in fields.items() if v is not None})
        if event.get("dry_run") and not self.record_previews:
            return event  # recordPreviews: false — previews leave no trace
        return self.write(event)

    def write(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Store ``event`` in the local log (raises AuditError when that fails), then queue
        it for every sink (never raises). Returns the stored record."""
        clean = scrub(integral(event))
        overflows: list[tuple[Forwarder, Dropped]] = []
        try:
            record = self.log.append(clean, lambda r: self._fan_out(r, overflows))
        except OSError as err:
            raise AuditError(
                f"the audit log {self.log.path} could not be written: {err.strerror or err}"
            ) from err
        self._report_overflows(overflows)
        return record

    def _fan_out(
        self, record: Mapping[str, Any], overflows: list[tuple[Forwarder, Dropped]]
    ) -> None:
        """Queue the record for every sink (under the log's lock: buffers keep log order)."""
        line = (json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n").encode()
        for f in self.forwarders:
            try:
                dropped = f.submit(line)
            except Exception as err:
                warn(f"audit sink {f.sink.name}: could not buffer a record: {err}")
                continue
            if dropped is not None and dropped.count:
                overflows.append((f, dropped))

    def _report_overflows(self, overflows: list[tuple[Forwarder, Dropped]]) -> None:
        # Reported once the log is unlocked, at most one level deep: the overflow event
        # itself fits, because a full buffer is emptied to 90% of its bound.
        if overflows and not getattr(self._local, "reporting", False):
            self._local.reporting = True
            try:
                for f, dropped in overflows:
                    self.report(
                        "buffer-overflow",
                        {
                            "sink": f.sink.name,
                            "dropped": dropped.count,
                            "dropped_from_seq": dropped.first_seq,
                            "dropped_to_seq": dropped.last_seq,
                            "buffer_max_bytes": f.buffer.max_bytes,
                        },
                    )
            finally:
                self._local.reporting = False

    def report(self, action: str, fields: dict[str, Any]) -> None:
        """An event about the audit trail itself (a sink failed, recovered, overflowed):
        a warning and a record; never raises."""
        if action == "sink-failed":
            warn(
                f"audit sink {fields.get('sink')} failed ({fields.get('error')}); its records "
                f"are kept in {fields.get('buffer')} and sent when it is back"
            )
        elif action == "buffer-overflow":
            warn(
                f"audit sink {fields.get('sink')}: buffer full, {fields.get('dropped')} oldest "
                "undelivered records dropped from it (they remain in the local audit log)"
            )
        result = "failed" if action in ("sink-failed", "buffer-overflow") else "succeeded"
        try:
            self.event(action, phase="after", result=result, who="helm-enterprise", **fields)
        except Exception as err:
            _log.warning("could not record %s: %s", action, scrub_text(str(err)))

    def flush(self, timeout: float = 30.0) -> dict[str, int]:
        """Ship every buffer now (a failing sink gives up at once, a working one gets up to
        ``timeout`` seconds); pending bytes per sink afterwards."""
        for f in self.forwarders:
            f.drain(timeout)
        return {f.sink.name: f.buffer.pending_bytes() for f in self.forwarders}

    def close(self, timeout: float | None = None) -> None:
        """Stop the forwarders; healthy sinks get up to ``flush_timeout`` seconds in all."""
        if self._closed:
            return
        self._closed = True
        budget = self.flush_timeout if timeout is None else timeout
        for f in self.forwarders:
            f.close(budget / max(1, len(self.forwarders)))


_auditor: Auditor | None = None
_lock = threading.RLock()


def auditor() -> Auditor:
    """The process's auditor (built on first use, see the module docs)."""
    global _auditor  # noqa: PLW0603 - one auditor per process is the point
    with _lock:
        if _auditor is None:
            from helm_enterprise.audit.setup import from_environment

            _auditor = from_environment()
            atexit.register(_auditor.close)
        return _auditor


def _auditor_is(value: Auditor) -> bool:
    with _lock:
        return _auditor is value


def set_auditor(value: Auditor | None) -> None:
    """Replace the process's auditor (the previous one is closed)."""
    global _auditor
    with _lock:
        previous, _auditor = _auditor, value
    if previous is not None and previous is not value:
        previous.close()
    if value is not None:
        atexit.register(value.close)


def emit(
    action: str,
    *,
    phase: Phase | None = None,
    result: str | None = None,
    who: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Record one event; returns the stored record.

    Args:
        action: what happened (``create``, ``rollback``, ``validation-failed``...; see
            :data:`helm_enterprise.audit.schema.ACTIONS`).
        phase: ``before`` or ``after`` the operation.
        result: ``started``, ``succeeded``, ``failed``, ``planned``...
        who: the actor; default: resolved (see :func:`.identity.resolve_actor`).
        fields: release, namespace, chart, chart_version, source, duration_seconds, error
            and anything specific to the action. References only, never secret values.

    Raises:
        AuditError: the local log could not be written (sinks never raise).
    """
    return auditor().event(action, phase=phase, result=result, who=who, **fields)


def default_buffer_dir() -> Path:
    from helm_enterprise._cache import cache_root

    return cache_root() / "audit" / "buffer"
