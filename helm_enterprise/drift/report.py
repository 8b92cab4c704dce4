"""Reports of a drift run: per stack and overall, with the exit code CI acts on.

Exit codes: ``0`` nothing drifted (or, in ``warn`` mode, drift was only reported; after
``remediate``, nothing is left drifted), ``1`` drift, ``2`` the check could not run
completely (a stack failed, an object could not be compared). An error wins over drift:
a partial check is not a clean bill of health.
"""

from __future__ import annotations

import dataclasses
import enum
from collections import Counter
from typing import Any

from helm_enterprise.config.drift import DriftMode
from helm_enterprise.drift.findings import DriftState, ObjectFinding, ObjectRef

EXIT_OK, EXIT_DRIFT, EXIT_ERROR = 0, 1, 2


class Action(enum.Enum):
    """What to do about one stack's findings (see :func:`helm_enterprise.drift.act.plan`)."""

    NONE = "none"  # nothing drifted
    REPORT = "report"  # report; exit 1
    WARN = "warn"  # report as a warning; exit 0
    REMEDIATE = "remediate"  # re-apply the desired state
    CONFIRM = "confirm"  # re-apply once confirmed
    DECLINED = "declined"  # confirmation refused or impossible: report only


@dataclasses.dataclass(frozen=True)
class RemediationResult:
    """One object re-applied (release mode) or one targeted ``pulumi up`` (chart mode)."""

    ref: ObjectRef
    ok: bool
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "release": self.ref.release,
            "object": self.ref.to_dict(),
            "ok": self.ok,
            "message": self.message,
        }


@dataclasses.dataclass
class StackReport:
    """Everything about one stack. ``remaining`` is set when a remediation ran: the
    findings of the check that followed it."""

    stack: str
    mode: DriftMode = "report"
    project: str | None = None
    findings: list[ObjectFinding] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    action: Action = Action.NONE
    remediation: list[RemediationResult] = dataclasses.field(default_factory=list)
    remaining: list[ObjectFinding] | None = None

    @property
    def drifted(self) -> list[ObjectFinding]:
        return [f for f in self.findings if f.drifted]

    @property
    def unknown(self) -> list[ObjectFinding]:
        return [f for f in self.findings if f.state is DriftState.UNKNOWN]

    @property
    def outstanding(self) -> list[ObjectFinding]:
        """Drift still there at the end of the run."""
        source = self.findings if self.remaining is None else self.remaining
        return [f for f in source if f.drifted]

    def summary(self) -> dict[str, int]:
        counts = Counter(f.state.value for f in self.findings)
        return {s.value: counts.get(s.value, 0) for s in DriftState}

    def exit_code(self) -> int:
        if self.errors or self.unknown or any(not r.ok for r in self.remediation):
            return EXIT_ERROR
        if self.mode == "warn":
            return EXIT_OK
        return EXIT_DRIFT if self.outstanding else EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "stack": self.stack,
            "project": self.project,
            "mode": self.mode,
            "drifted": bool(self.drifted),
            "summary": self.summary(),
            # In-sync objects only when an ignore rule hid a change (worth knowing).
            "findings": [
                f.to_dict() for f in self.findings if f.state is not DriftState.IN_SYNC or f.ignored
            ],
            "errors": list(self.errors),
            "notes": list(self.notes),
            "action": self.action.value,
            "exit_code": self.exit_code(),
        }
        if self.remediation or self.remaining is not None:
            out["remediation"] = [r.to_dict() for r in self.remediation]
            out["remaining"] = [f.to_dict() for f in self.outstanding]
        return out


@dataclasses.dataclass
class DriftRun:
    """A drift run over one or many stacks."""

    stacks: list[StackReport] = dataclasses.field(default_factory=list)

    def exit_code(self) -> int:
        return max((s.exit_code() for s in self.stacks), default=EXIT_OK)

    def to_dict(self) -> dict[str, Any]:
        return {
            "drifted": any(s.drifted for s in self.stacks),
            "exit_code": self.exit_code(),
            "stacks": [s.to_dict() for s in self.stacks],
        }
