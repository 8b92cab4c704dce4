"""The audit event format: a documented, versioned schema (JSON Schema, draft 2020-12).

Every record is one JSON object on one line. The *envelope* (``schema``, ``seq``, ``time``,
``prev``, ``hash``, ``sig``) is added by the log; the *event* fields by
:func:`helm_enterprise.audit.emit`. Action-specific fields (``from_revision``,
``measurements``, ``findings``...) may follow; consumers ignore fields they do not know.

Versioning: ``schema`` is an integer. A new optional field keeps the version; renaming,
removing or changing the meaning of a field raises it. Version 1 (records written before
this module existed) had the same envelope and free-form event fields; it still verifies.

``docs/features/audit.md`` renders this schema as a table; ``helm-enterprise audit schema``
prints it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SCHEMA_VERSION = 2
GENESIS = "0" * 64

# Actions a component or command records. Open-ended (features add their own), so the
# schema checks the spelling, and this list documents the ones that exist.
ACTIONS: dict[str, str] = {
    "create": "a Helm release (or chart) is created",
    "update": "a Helm release (or chart) is upgraded",
    "delete": "a Helm release (or chart) is deleted",
    "rollback": "a release was rolled back (command, failed health check, Helm's atomic)",
    "validation-failed": "dry-run checks (config, values schema, ownership) failed",
    "drift-found": "a deployed object differs from the desired state",
    "drift-remediated": "drifted objects were put back to the desired state",
    "policy-violation": "a policy of the pack reported a violation",
    "health-check": "health checks after readiness ran",
    "cluster-health": "the pre-flight check of one cluster of a multi-cluster release",
    "cluster-excluded": "a cluster was left out of a multi-cluster run (unhealthy/unreachable)",
    "failover": "a multi-cluster release moved to a standby cluster",
    "multi-cluster-plan": "which clusters a multi-cluster release deploys to, in which order",
    "multi-cluster-deploy": "a multi-cluster release was deployed to its clusters",
    "stack-fanout": "`stacks up` ran one operation over several stacks",
    "stack-operation": "one stack's operation within `stacks up`",
    "stack-excluded": "a stack was skipped by `stacks up` (its cluster is unavailable)",
    "sink-failed": "an audit sink could not be reached; its records are buffered",
    "sink-recovered": "a failed audit sink accepts records again; the buffer was flushed",
    "buffer-overflow": "a sink's disk buffer was full; the oldest undelivered records were "
    "dropped from it (they remain in the local log)",
    "log-retention": "rotated log segments older than the retention were removed",
    "audit-config-error": "the audit configuration could not be applied fully",
    "rollout-step": "a progressive rollout (blue/green, canary) took a step: weights, switch, "
    "scale-down, pause",
    "analysis": "one measurement of a rollout's analysis (metric, value, outcome)",
    "promote": "a paused rollout was told to go on (`helm-enterprise promote`)",
    "abort": "a rollout was aborted (failed analysis, webhook, `helm-enterprise abort`): "
    "traffic returned to stable",
}

RESULTS = (
    "started",  # phase "before"
    "succeeded",
    "failed",
    "planned",  # the "after" of a preview step: nothing was applied
    "healthy",
    "unhealthy",
    "unreachable",  # a cluster that does not answer
    "violation",  # a policy-violation record
    "in-sync",  # drift results
    "drifted",
    "missing",
    "unknown",
)

_STRING = {"type": "string"}
_OPT_STRING = {"type": ["string", "null"]}

EVENT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://helm-enterprise.dev/schemas/audit-event/v2.json",
    "title": "helm_enterprise audit record",
    "type": "object",
    "required": ["schema", "seq", "time", "prev", "hash", "action", "who", "correlation_id"],
    "properties": {
        # -- envelope (written by the log) -------------------------------------------------
        "schema": {"type": "integer", "minimum": 1, "description": "format version"},
        "seq": {
            "type": "integer",
            "minimum": 1,
            "description": "position in the log, 1-based, no gaps",
        },
        "time": {
            "type": "string",
            "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$",
            "description": "when the record was written, UTC, ISO 8601",
        },
        "prev": {
            "type": "string",
            "pattern": "^[0-9a-f]{64}$",
            "description": "hash of the previous record (64 zeros for the first)",
        },
        "hash": {
            "type": "string",
            "pattern": "^[0-9a-f]{64}$",
            "description": "SHA-256 of the canonical JSON of the record without hash and sig",
        },
        "sig": {
            "type": "object",
            "required": ["alg", "kid", "value"],
            "properties": {
                "alg": {"enum": ["hmac-sha256", "ed25519"]},
                "kid": _STRING,
                "value": {"type": "string", "description": "base64 signature over hash"},
            },
            "description": "optional signature over hash (signing configured)",
        },
        # -- event (written by emit) --------------------------------------------------------
        "id": {"type": "string", "description": "unique id of this event"},
        "action": {
            "type": "string",
            "pattern": "^[a-z][a-z0-9-]*$",
            "description": "what happened (see ACTIONS)",
        },
        "phase": {"enum": ["before", "after"], "description": "before or after the operation"},
        "result": {"type": "string", "description": "started, succeeded, failed, planned..."},
        "who": {
            "type": "string",
            "minLength": 1,
            "description": "actor: override, CI identity, Pulumi user, git author or OS user",
        },
        "correlation_id": {
            "type": "string",
            "minLength": 1,
            "description": "shared by every event of one run",
        },
        "dry_run": {
            "type": "boolean",
            "description": "true for events of a preview (nothing was applied)",
        },
        "project": _OPT_STRING,
        "stack": _OPT_STRING,
        "release": _OPT_STRING,
        "namespace": _OPT_STRING,
        "chart": {"type": ["string", "null"], "description": "chart name"},
        "chart_version": _OPT_STRING,
        "source": {
            "type": ["string", "null"],
            "description": "where the chart came from: repository URL, OCI ref, Git commit",
        },
        "revision": {"type": ["integer", "null"], "description": "Helm revision"},
        "from_revision": {
            "type": ["integer", "null"],
            "description": "Helm revision before the operation (updates, rollbacks)",
        },
        "to_revision": {
            "type": ["integer", "null"],
            "description": "rollback: the revision rolled back to",
        },
        "new_revision": {
            "type": ["integer", "null"],
            "description": "rollback: the revision Helm wrote for it ('Rollback to N')",
        },
        "resource": {"type": ["string", "null"], "description": "Pulumi URN"},
        "duration_seconds": {"type": ["number", "null"], "minimum": 0},
        "error": {"type": ["string", "null"], "description": "failure message (no secrets)"},
        "host": {"type": ["string", "null"], "description": "machine that wrote the record"},
    },
    "additionalProperties": True,
}

# The columns of ``audit export --format csv`` (the rest goes to ``details`` as JSON).
CSV_COLUMNS = (
    "time",
    "seq",
    "action",
    "phase",
    "result",
    "who",
    "project",
    "stack",
    "release",
    "namespace",
    "chart",
    "chart_version",
    "source",
    "revision",
    "dry_run",
    "duration_seconds",
    "error",
    "correlation_id",
    "id",
    "hash",
)
ENVELOPE = ("schema", "seq", "time", "prev", "hash", "sig")


# Top-level fields whose type is integer. Pulumi hands every number to a program as a float
# (resource outputs, hook arguments, dynamic-provider inputs), so a Helm revision arrives as
# ``2.0``; :func:`integral` turns those back into integers before a record is written.
INTEGER_FIELDS = frozenset(
    name
    for name, spec in EVENT_SCHEMA["properties"].items()
    if "integer" in (spec["type"] if isinstance(spec.get("type"), list) else [spec.get("type")])
)


def integral(event: Mapping[str, Any]) -> dict[str, Any]:
    """``event`` with whole-number floats of :data:`INTEGER_FIELDS` as ints (``2.0`` → ``2``).

    The one place numbers from Pulumi are put right: every record passes through it (see
    :meth:`helm_enterprise.audit.events.Auditor.write`). Other values are left as they are.
    """
    out = dict(event)
    for name in INTEGER_FIELDS & out.keys():
        value = out[name]
        if isinstance(value, float) and value.is_integer():
            out[name] = int(value)
    return out


def validate_record(record: Mapping[str, Any]) -> list[str]:
    """Problems of ``record`` against :data:`EVENT_SCHEMA` (empty when it conforms).

    Stricter than JSON Schema on one point: an ``integer`` field must be written without a
    fraction. The specification accepts ``2.0`` as an integer, but typed consumers (SIEM
    field mappings, SQL loaders, Go structs) reject it, so ``2.0`` is a problem here.
    """
    from jsonschema import Draft202012Validator, validators

    checker = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)
    )
    strict = validators.extend(  # type: ignore[no-untyped-call]  # jsonschema's own typing
        Draft202012Validator, type_checker=checker
    )
    validator = strict(EVENT_SCHEMA)
    return [
        f"{'.'.join(map(str, e.absolute_path)) or '(record)'}: {e.message}"
        for e in validator.iter_errors(dict(record))
    ]
