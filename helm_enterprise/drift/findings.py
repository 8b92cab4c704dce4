"""What drift detection finds: a closed set of states per object, and the changed fields.

Values of a Secret's ``data``/``stringData`` never reach a finding: such a field is
reported by path with ``redacted`` set and the values replaced by :data:`REDACTED`.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any

from helm_enterprise.errors import truncate
from helm_enterprise.kube.kinds import object_path

REDACTED = "[redacted]"
_MAX_VALUE = 2000


class DriftState(enum.Enum):
    """The state of one object compared with its desired state."""

    IN_SYNC = "in-sync"
    DRIFTED = "drifted"  # at least one field differs (after ignore rules)
    MISSING = "missing"  # the desired object does not exist in the cluster
    UNKNOWN = "unknown"  # could not be compared (see ``message``)


class Change(enum.Enum):
    """How one field differs; ``old`` is the desired value, ``new`` the live one."""

    CHANGED = "changed"
    REMOVED = "removed"  # desired sets it, the live object lacks it
    ADDED = "added"  # the live object has it, re-applying would remove it


@dataclasses.dataclass(frozen=True)
class ObjectRef:
    """One Kubernetes object of a release. ``via`` says how it was compared:
    ``manifest`` (release mode: Helm's stored manifest against the cluster),
    ``refresh`` (a Pulumi resource: ``pulumi refresh --preview-only``) or ``release``
    (the Helm release itself: its deployed revision against the one the stack applied);
    ``urn`` is set for the latter two."""

    api_version: str
    kind: str
    name: str
    namespace: str | None = None
    release: str | None = None
    via: str = "manifest"
    urn: str | None = None
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0] if "/" in self.api_version else ""

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    def describe(self) -> str:
        return object_path(self.kind, self.namespace, self.name)

    def is_secret(self) -> bool:
        return self.kind == "Secret" and self.group == ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "api_version": self.api_version,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
        }
        if self.urn:
            out["urn"] = self.urn
        return out


@dataclasses.dataclass(frozen=True)
class FieldChange:
    """One drifted field. ``by`` names the field managers that own the live value
    (``kubectl-edit``, ``kubectl (scale)``): who changed it, as far as the API server
    records it."""

    path: str
    change: Change
    old: Any = None
    new: Any = None
    redacted: bool = False
    by: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "change": self.change.value,
            "old": _bounded(self.old),
            "new": _bounded(self.new),
            "redacted": self.redacted,
            "by": list(self.by),
        }

    def describe_values(self, limit: int = 60) -> tuple[str, str]:
        """(old, new) as short text for tables."""
        if self.redacted:
            return ("[secret]", "[secret] changed" if self.change is Change.CHANGED else "-")
        old = "-" if self.change is Change.ADDED else _short(self.old, limit)
        new = "-" if self.change is Change.REMOVED else _short(self.new, limit)
        return old, new


@dataclasses.dataclass(frozen=True)
class ObjectFinding:
    """The result for one object. ``ignored`` lists the paths ignore rules suppressed
    (with the rule's reason), never their values."""

    ref: ObjectRef
    state: DriftState
    changes: tuple[FieldChange, ...] = ()
    ignored: tuple[str, ...] = ()
    message: str = ""

    @property
    def drifted(self) -> bool:
        return self.state in (DriftState.DRIFTED, DriftState.MISSING)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "release" if self.ref.via == "release" else "object",
            "release": self.ref.release,
            "object": self.ref.to_dict(),
            "via": self.ref.via,
            "state": self.state.value,
            "fields": [c.to_dict() for c in self.changes],
            "ignored": list(self.ignored),
            "message": self.message,
        }


def _bounded(value: Any) -> Any:
    """Values as they are, unless their JSON is too long for a report."""
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        return truncate(str(value), _MAX_VALUE)
    return value if len(text) <= _MAX_VALUE else truncate(text, _MAX_VALUE)


def _short(value: Any, limit: int) -> str:
    if value is None:
        return "null"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return truncate(text, limit)
