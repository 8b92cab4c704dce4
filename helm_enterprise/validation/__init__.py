"""Dry-run validation (T1.5): findings and the checks that produce them.

Every check returns :class:`Finding` objects (defined in :mod:`helm_enterprise.findings`,
below the feature packages, and re-exported here); the component turns error findings into
a failed preview, the ``validate`` command prints them (or ``--json``) and exits non-zero.
Messages name the release, the field and how to fix it, and never contain a value from
the user's values (a value may be a secret).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from jsonschema import ValidationError as SchemaError
from jsonschema.validators import validator_for

from helm_enterprise.findings import Finding, Severity

__all__ = [
    "FINDINGS_FILE_ENV",
    "Finding",
    "Severity",
    "check_schema",
    "errors",
    "read_reported",
    "report",
    "to_json",
]


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]


def to_json(findings: Iterable[Finding]) -> str:
    items = [f.to_dict() for f in findings]
    return json.dumps(
        {"ok": not any(i["severity"] == "error" for i in items), "findings": items}, indent=2
    )


FINDINGS_FILE_ENV = "HELM_ENTERPRISE_FINDINGS_FILE"


def report(findings: Iterable[Finding]) -> None:
    """Hand findings to ``helm-enterprise validate`` when it runs the preview: appended as
    JSON lines to the file it names in ``HELM_ENTERPRISE_FINDINGS_FILE`` (else a no-op)."""
    target = os.environ.get(FINDINGS_FILE_ENV)
    if not target:
        return
    with Path(target).open("a", encoding="utf-8") as fh:
        for f in findings:
            fh.write(json.dumps(f.to_dict()) + "\n")


def read_reported(path: Path) -> list[Finding]:
    if not path.exists():
        return []
    return [Finding(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def _value_path(error: SchemaError) -> str:
    path = "values"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _describe(error: SchemaError) -> tuple[str, str]:
    """A message built from the schema side only (the instance may be a secret)."""
    v = error.validator
    s: Any = error.validator_value
    if v == "type":
        return f"must be of type {s}", ""
    if v == "required":
        missing = [
            name for name in s if isinstance(error.instance, Mapping) and name not in error.instance
        ]
        return f"missing required field(s) {', '.join(map(repr, missing)) or s}", ""
    if v == "enum":
        return "is not one of the allowed values", f"allowed: {', '.join(map(repr, s))[:200]}"
    if v == "const":
        return f"must equal {s!r}", ""
    if v in {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}:
        return f"violates {v} {s}", ""
    if v in {"minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"}:
        return f"violates {v} {s}", ""
    if v == "pattern":
        return f"does not match pattern {s!r}", ""
    if v == "additionalProperties":
        known = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
        instance = error.instance if isinstance(error.instance, Mapping) else {}
        extra = sorted(set(instance) - set(known))
        return (
            f"has unknown field(s) {', '.join(map(repr, extra))}",
            "remove them or check spelling",
        )
    if v == "format":
        return f"is not a valid {s}", ""
    return f"violates schema rule {v!r}", ""


def check_schema(
    release: str, schema: Mapping[str, Any], values: Mapping[str, Any]
) -> list[Finding]:
    """Check merged values against a chart's values.schema.json."""
    doc = dict(schema)
    cls = validator_for(doc, default=Draft7Validator)
    try:
        cls.check_schema(doc)
    except Exception as exc:  # any defect of the chart's schema is reported, not raised
        return [
            Finding(
                "warning",
                "schema",
                release,
                "values.schema.json",
                f"the chart's schema is itself invalid ({type(exc).__name__}); not checked",
            )
        ]
    problems = sorted(
        cls(doc).iter_errors(dict(values)), key=lambda e: list(map(str, e.absolute_path))
    )
    return [Finding("error", "schema", release, _value_path(p), *_describe(p)) for p in problems]
