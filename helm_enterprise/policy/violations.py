"""One policy violation: which resource, which field, why, and how to fix it.

A violation travels as text through CrossGuard (a policy can only hand the engine a
message string), so :meth:`Violation.text` writes it as ``key: value`` lines and
:meth:`Violation.parse` reads it back; ``helm-enterprise validate --policy`` turns the
engine's policy events into :class:`~helm_enterprise.validation.Finding` objects that way.
Messages never contain a value from the release's values (it may be a secret): they name
paths, keys and images only.
"""

from __future__ import annotations

import dataclasses

from helm_enterprise.validation import Finding, Severity

_KEYS = ("resource", "release", "field", "problem", "fix")


@dataclasses.dataclass(frozen=True)
class Violation:
    """What a rule found.

    Attributes:
        rule: the policy name (``no-privileged``...).
        resource: the object or release, e.g. ``Deployment shop/web`` or ``Release shop/web``.
        field: the path inside it, e.g. ``spec.template.spec.containers[web].image``.
        problem: why this is a violation.
        fix: how to fix it.
        release: the Helm release the object belongs to, when known.
    """

    rule: str
    resource: str
    field: str
    problem: str
    fix: str
    release: str = ""

    def text(self) -> str:
        """The message handed to CrossGuard (one ``key: value`` line per part)."""
        lines = [f"resource: {self.resource}"]
        if self.release:
            lines.append(f"release: {self.release}")
        lines += [f"field: {self.field}", f"problem: {self.problem}", f"fix: {self.fix}"]
        return "\n".join(lines)

    @classmethod
    def parse(cls, rule: str, message: str) -> Violation | None:
        """Read a message written by :meth:`text` (the engine may prepend the policy's
        description as a first line); ``None`` when it is not one of ours."""
        parts: dict[str, str] = {}
        for line in message.splitlines():
            key, sep, value = line.strip().partition(": ")
            if sep and key in _KEYS:
                parts[key] = value.strip()
        if not {"resource", "field", "problem"} <= set(parts):
            return None
        return cls(
            rule=rule,
            resource=parts["resource"],
            field=parts["field"],
            problem=parts["problem"],
            fix=parts.get("fix", ""),
            release=parts.get("release", ""),
        )

    def finding(self, severity: Severity = "error") -> Finding:
        """This violation as a dry-run finding (``check="policy"``)."""
        return Finding(
            severity=severity,
            check="policy",
            release=self.release or "-",
            field=f"{self.resource}: {self.field}",
            message=f"{self.rule}: {self.problem}",
            hint=self.fix,
        )


def finding_from_event(
    policy_name: str, message: str, enforcement_level: str, urn: str | None = None
) -> Finding:
    """A CrossGuard policy event (``pulumi preview --policy-pack``) as a finding.

    Mandatory violations are errors, everything else (advisory) a warning. Violations
    from other policy packs are kept, with the resource taken from the URN.
    """
    severity: Severity = "error" if enforcement_level.lower() == "mandatory" else "warning"
    parsed = Violation.parse(policy_name, message)
    if parsed is not None:
        return parsed.finding(severity)
    resource = urn.rsplit("::", 1)[-1] if urn else "-"
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    return Finding(
        severity=severity,
        check="policy",
        release="-",
        field=resource,
        message=f"{policy_name}: {' '.join(lines[1:] or lines)}",
    )
