"""SemVer 2 versions and the constraint syntax Helm accepts (``^1.2``, ``~1.2.3``,
``>=1.0 <2.0``, ``1.2.x``), for choosing a chart version from a repository index."""

from __future__ import annotations

import dataclasses
import re

_SEMVER = re.compile(
    r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$"
)
_CLAUSE = re.compile(r"^(>=|<=|!=|>|<|=|\^|~)?\s*(v?[0-9xX*][0-9A-Za-z.*+-]*)$")


@dataclasses.dataclass(frozen=True, order=False)
class SemVer:
    major: int
    minor: int
    patch: int
    pre: tuple[int | str, ...] = ()
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> SemVer | None:
        m = _SEMVER.match(text.strip())
        if not m:
            return None
        pre: tuple[int | str, ...] = ()
        if m.group(4):
            pre = tuple(int(p) if p.isdigit() else p for p in m.group(4).split("."))
        return cls(int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0), pre, text)

    def key(self) -> tuple[object, ...]:
        # A release sorts after its pre-releases; numeric identifiers before alphanumeric.
        pre_key = tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in self.pre)
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, pre_key)


def _bounds(op: str, ver: str) -> list[tuple[str, SemVer]]:
    """Expand one clause into primitive comparisons (``^1.2`` → ``>=1.2.0``, ``<2.0.0``)."""
    fixed: list[int] = []
    for part in ver.lstrip("v").split("-", 1)[0].split("+", 1)[0].split(".")[:3]:
        if part in {"x", "X", "*"}:
            break
        if not part.isdigit():
            raise ValueError(f"{ver!r} is not a version")
        fixed.append(int(part))
    n = len(fixed)
    if n == 0:
        return []  # "*", "x": any version
    nums = fixed + [0] * (3 - n)
    base = (SemVer.parse(ver) if n == 3 else None) or SemVer(nums[0], nums[1], nums[2])

    def bump(level: int) -> SemVer:
        if level == 0:
            return SemVer(base.major + 1, 0, 0)
        if level == 1:
            return SemVer(base.major, base.minor + 1, 0)
        return SemVer(base.major, base.minor, base.patch + 1)

    if op in {"", "="}:
        return [("=", base)] if n == 3 else [(">=", base), ("<", bump(n - 1))]
    if op == "^":
        level = 0 if (base.major or n == 1) else 1 if (base.minor or n == 2) else 2
        return [(">=", base), ("<", bump(level))]
    if op == "~":
        return [(">=", base), ("<", bump(0 if n == 1 else 1))]
    return [(op, base)]


def _holds(op: str, v: SemVer, b: SemVer) -> bool:
    a, c = v.key(), b.key()
    return {
        "=": a == c,
        "!=": a != c,
        ">": a > c,
        ">=": a >= c,
        "<": a < c,
        "<=": a <= c,
    }[op]


class Constraint:
    """A parsed constraint; ``||`` separates alternatives, spaces/commas join clauses."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.alternatives: list[list[tuple[str, SemVer]]] = []
        for alt in text.split("||"):
            clauses: list[tuple[str, SemVer]] = []
            for raw in re.split(r"[\s,]+", alt.strip()):
                if not raw:
                    continue
                m = _CLAUSE.match(raw)
                if not m:
                    raise ValueError(f"{text!r} is not a version or version constraint")
                clauses += _bounds(m.group(1) or "", m.group(2))
            self.alternatives.append(clauses)

    @property
    def exact(self) -> bool:
        return (
            len(self.alternatives) == 1
            and len(self.alternatives[0]) == 1
            and self.alternatives[0][0][0] == "="
        )

    def allows(self, v: SemVer) -> bool:
        for clauses in self.alternatives:
            # Pre-releases only match a constraint that mentions a pre-release itself.
            if v.pre and not any(b.pre for _, b in clauses):
                continue
            if all(_holds(op, v, b) for op, b in clauses):
                return True
        return False


def pick(versions: list[str], constraint: str | None) -> str | None:
    """The newest version allowed by ``constraint`` (newest stable when None)."""
    parsed = [p for p in (SemVer.parse(v) for v in versions) if p is not None]
    if constraint:
        c = Constraint(constraint)
        if c.exact:
            want = c.alternatives[0][0][1].key()
            for p in parsed:
                if p.key() == want:
                    return p.text
            return None
        parsed = [p for p in parsed if c.allows(p)]
    else:
        parsed = [p for p in parsed if not p.pre]
    if not parsed:
        return None
    return max(parsed, key=SemVer.key).text
