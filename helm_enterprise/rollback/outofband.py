"""Revisions made outside the stack: a hand ``helm rollback`` or ``helm upgrade`` (issue 10).

``kubernetes.helm.v3.Release`` diffs the program's inputs against the inputs in state;
only ``pulumi refresh`` reads Helm's record. After ``helm rollback web 1`` by hand,
``pulumi preview`` shows nothing and ``pulumi up`` does nothing: the cluster runs the
old chart and values while the stack says it runs the desired ones.

So every revision this stack makes is marked: the release's ``description`` input (which
the provider passes to Helm's install/upgrade and Helm stores in the revision's record)
ends with ``[<project>/<stack>/<release>]``. Before registering the Helm resource the
component reads the deployed revision (it already reads Helm's history for the recovery
checks) and :func:`decide` maps it to a closed :class:`RevisionState`:

* ``OURS`` — the mark is there: keep the recorded description (no change, no upgrade);
* ``OUT_OF_BAND`` — someone else made it (Helm writes ``Rollback to N`` / ``Upgrade
  complete``): the description becomes ``... [owner, replaces revision N]``, an input
  change, so ``preview`` shows an update and ``up`` upgrades back to the desired chart and
  values; the next run finds its own mark again and changes nothing;
* ``ABSENT`` — nothing deployed (first install);
* ``UNREAD`` — the cluster was not read: keep the recorded description rather than guess.

Why not a dynamic resource whose diff compares the live revision with the recorded one:
its output would reach the Helm resource only as an unknown during preview, it needs a
provider process per stack, and the history is read at program time anyway.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Sequence

from helm_enterprise.kube.helm_storage import HelmRecord

DEFAULT_DESCRIPTION = "Applied by helm-enterprise"


class RevisionState(enum.Enum):
    ABSENT = "absent"
    OURS = "ours"
    OUT_OF_BAND = "out-of-band"
    UNREAD = "unread"


@dataclasses.dataclass(frozen=True)
class Decision:
    """What the Helm resource gets: ``description`` and whether to keep the recorded
    one (``keep_recorded``: ``ignore_changes`` on it, so it alone never upgrades)."""

    state: RevisionState
    description: str
    keep_recorded: bool
    record: HelmRecord | None = None
    message: str = ""

    @property
    def restores(self) -> bool:
        """The next ``pulumi up`` upgrades back to the desired state."""
        return self.state is RevisionState.OUT_OF_BAND and not self.keep_recorded


def mark(owner: str, base: str | None = None, replaces: int | None = None) -> str:
    """The description of a revision this stack makes."""
    tag = owner if replaces is None else f"{owner}, replaces revision {replaces}"
    return f"{base or DEFAULT_DESCRIPTION} [{tag}]"


def parse(description: str, owner: str) -> str | None:
    """The base text of a description :func:`mark` made for ``owner`` (None: not ours)."""
    found = re.fullmatch(
        rf"(?P<base>.*) \[{re.escape(owner)}(?:, replaces revision \d+)?\]", description, re.S
    )
    return found["base"] if found else None


def deployed(history: Sequence[HelmRecord]) -> HelmRecord | None:
    """The latest revision with status ``deployed`` (Helm keeps at most one)."""
    found = [r for r in history if r.status == "deployed"]
    return found[-1] if found else None


def describe(record: HelmRecord) -> str:
    """One revision for a message: number, chart and what Helm recorded about it."""
    return (
        f"revision {record.revision} (chart {record.chart}-{record.chart_version}, "
        f"{record.description!r})"
    )


def decide(
    history: Sequence[HelmRecord] | None, *, owner: str, base: str | None, restore: bool
) -> Decision:
    """Whether the deployed revision is this stack's (``history=None``: not read)."""
    desired = mark(owner, base)
    if history is None:
        return Decision(RevisionState.UNREAD, desired, keep_recorded=True)
    record = deployed(history)
    if record is None:
        return Decision(RevisionState.ABSENT, desired, keep_recorded=True)
    found = parse(record.description, owner)
    if found is not None:
        if found == (base or DEFAULT_DESCRIPTION):
            return Decision(RevisionState.OURS, record.description, True, record)
        # The configured description changed: an ordinary input change.
        return Decision(RevisionState.OURS, desired, False, record)
    message = f"the deployed {describe(record)} was not made by this stack"
    if not restore:
        message += "; not restored (rollback.restoreOutOfBand is false)"
        return Decision(RevisionState.OUT_OF_BAND, desired, True, record, message)
    message += "; this update restores the desired chart and values"
    replaced = mark(owner, base, replaces=record.revision)
    return Decision(RevisionState.OUT_OF_BAND, replaced, False, record, message)
