"""Release mode, the release itself: is the deployed revision the one this stack applied?

After a hand ``helm rollback`` every object matches Helm's stored manifest (of the
revision rolled back to) and ``pulumi refresh --preview-only`` is the only other witness,
so the per-object comparison (:mod:`.release`) reports nothing. Here the deployed
revision is compared with the one the stack's state says it applied
(``status.revision`` of the ``helm.v3.Release``): another revision means someone else
made it. The finding names both revisions, the chart versions, whether the values differ
(a digest comparison: values are never shown) and what Helm recorded about the deployed
revision (its description: ``Rollback to 1``, ``Upgrade complete``), which is as close to
"who" as Helm's record gets.

Without a recorded revision (a state written before the release was first deployed) the
description decides: a revision this stack made carries its mark
(:mod:`helm_enterprise.rollback.outofband`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from helm_enterprise.drift.findings import (
    REDACTED,
    Change,
    DriftState,
    FieldChange,
    ObjectFinding,
    ObjectRef,
)
from helm_enterprise.kube.helm_storage import HelmRecord
from helm_enterprise.rollback import outofband


@dataclasses.dataclass(frozen=True)
class Applied:
    """What the stack's state says it applied; ``owner`` is its mark's owner id."""

    revision: int | None
    chart_version: str | None
    owner: str


def decide(history: Sequence[HelmRecord], applied: Applied, ref: ObjectRef) -> ObjectFinding | None:
    """The release-level finding (None without a deployed revision: the per-object
    check already reports that the release cannot be compared)."""
    live = outofband.deployed(history)
    if live is None:
        return None
    if applied.revision is not None:
        ours = live.revision == applied.revision
    else:
        ours = outofband.parse(live.description, applied.owner) is not None
    if ours:
        return ObjectFinding(ref, DriftState.IN_SYNC)
    mine = next((r for r in history if r.revision == applied.revision), None)
    changes = [
        FieldChange(
            "/revision", Change.CHANGED, applied.revision, live.revision, by=(live.description,)
        )
    ]
    desired_version = applied.chart_version or (mine.chart_version if mine else None)
    if desired_version and desired_version != live.chart_version:
        changes.append(
            FieldChange("/chart/version", Change.CHANGED, desired_version, live.chart_version)
        )
    if mine is not None and mine.values_checksum != live.values_checksum:
        changes.append(FieldChange("/values", Change.CHANGED, REDACTED, REDACTED, redacted=True))
    changes.append(
        FieldChange(
            "/description", Change.CHANGED, mine.description if mine else None, live.description
        )
    )
    applied_text = (
        f"revision {applied.revision}" if applied.revision is not None else "its own revision"
    )
    message = (
        f"the deployed {outofband.describe(live)} is not {applied_text} that this stack "
        "applied (`helm-enterprise drift --remediate` or `pulumi up` upgrades it back)"
    )
    return ObjectFinding(ref, DriftState.DRIFTED, tuple(changes), message=message)
