"""Act on findings: choose the action (pure), record findings and remediations for audit.

:func:`plan` maps (findings, mode, confirm) to an :class:`~helm_enterprise.drift.report.Action`;
the runner (:mod:`helm_enterprise.automation.drift`) carries it out. Every drifted or
missing object becomes one ``drift-found`` audit event, in every mode; a remediation
becomes one ``drift-remediated`` event. Events carry field paths and values as the report
shows them: a Secret's data is already redacted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from helm_enterprise.audit import emit
from helm_enterprise.config.drift import DriftMode
from helm_enterprise.drift.findings import ObjectFinding
from helm_enterprise.drift.report import Action, RemediationResult


def plan(findings: Sequence[ObjectFinding], mode: DriftMode, confirm: bool) -> Action:
    """What to do with one stack's findings."""
    if not any(f.drifted for f in findings):
        return Action.NONE
    if mode == "warn":
        return Action.WARN
    if mode == "remediate":
        return Action.CONFIRM if confirm else Action.REMEDIATE
    return Action.REPORT


def record_findings(
    findings: Iterable[ObjectFinding], *, stack: str, project: str | None, mode: DriftMode
) -> int:
    """One ``drift-found`` audit event per drifted or missing object; returns how many."""
    count = 0
    for f in findings:
        if not f.drifted:
            continue
        emit(
            "drift-found",
            result=f.state.value,
            project=project,
            stack=stack,
            release=f.ref.release,
            object=f.ref.describe(),
            api_version=f.ref.api_version,
            via=f.ref.via,
            mode=mode,
            fields=[c.to_dict() for c in f.changes],
        )
        count += 1
    return count


def record_remediation(
    results: Sequence[RemediationResult],
    *,
    stack: str,
    project: str | None,
    remaining: int,
) -> None:
    """One ``drift-remediated`` audit event for a stack's remediation."""
    ok = all(r.ok for r in results) and remaining == 0
    emit(
        "drift-remediated",
        phase="after",
        result="succeeded" if ok else "failed",
        project=project,
        stack=stack,
        objects=[
            {"release": r.ref.release, "object": r.ref.describe(), "ok": r.ok, "message": r.message}
            for r in results
        ],
        remaining=remaining,
    )
