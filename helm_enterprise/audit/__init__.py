"""The audit trail: identity resolution and the append-only, hash-chained event log."""

from __future__ import annotations

from helm_enterprise.audit.events import Auditor, correlation_id, emit, set_auditor
from helm_enterprise.audit.identity import resolve_actor
from helm_enterprise.audit.log import AuditLog, default_log_path

__all__ = [
    "AuditLog",
    "Auditor",
    "correlation_id",
    "default_log_path",
    "emit",
    "resolve_actor",
    "set_auditor",
]
