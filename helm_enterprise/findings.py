"""A finding: one result of a check that reports instead of raising (T1.5).

It lives below every feature package (it imports nothing of the package) because checks
of many of them produce findings: the ownership and Helm-hook checks of ``kube``/
``ownership``, the schema and server dry-run checks of ``validation``, tenancy and policy.
``validation`` collects and reports them. Messages name the release, the field and how to
fix it, and never contain a value from the user's values (a value may be a secret).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

Severity = Literal["error", "warning", "info"]


@dataclasses.dataclass(frozen=True)
class Finding:
    """One result of a dry-run check."""

    severity: Severity
    check: str
    release: str
    field: str
    message: str
    hint: str = ""

    def line(self) -> str:
        where = f"{self.release}: {self.field}" if self.field else self.release
        text = f"[{self.severity}] {self.check}: {where}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text

    def to_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)
