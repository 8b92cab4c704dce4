"""The audit trail (T2.3): structured events, a tamper-evident local log, SIEM sinks.

* :func:`emit` records one event (the call components and commands use);
* :mod:`.log` is the hash-chained, optionally signed JSON Lines log (system of record);
* :mod:`.sinks` forwards records to a file, syslog (RFC 5424) and HTTP collectors through
  a bounded disk buffer; a broken sink is a warning and an event, never a failed run;
* :mod:`.hooks` turns Pulumi resource hooks into lifecycle events;
* :mod:`.schema` documents and versions the event format; :mod:`.export` serves auditors.
"""

from __future__ import annotations

from helm_enterprise.audit.events import Auditor, auditor, correlation_id, emit, set_auditor
from helm_enterprise.audit.identity import resolve_actor
from helm_enterprise.audit.log import AuditLog, VerifyResult, default_log_path
from helm_enterprise.audit.redact import register_secret
from helm_enterprise.audit.schema import SCHEMA_VERSION
from helm_enterprise.audit.setup import build_auditor, install

__all__ = [
    "SCHEMA_VERSION",
    "AuditLog",
    "Auditor",
    "VerifyResult",
    "auditor",
    "build_auditor",
    "correlation_id",
    "default_log_path",
    "emit",
    "install",
    "register_secret",
    "resolve_actor",
    "set_auditor",
]
