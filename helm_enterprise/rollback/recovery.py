"""Recovering Helm releases that block the next ``pulumi up`` (T1.4).

Decide apart from act: :func:`decide` maps the stored history to a closed
:class:`ReleaseState` and the action that unblocks it; :func:`act` performs that action.

* ``PENDING`` — a pending-install/upgrade/rollback revision left by a killed run. Helm
  refuses any operation ("another operation is in progress"). Action: mark it failed
  (what Flux's helm-controller does), when it belongs to this stack (Pulumi's stack lock
  means no operation of ours can still be running) or is older than ``stale_after``.
* ``FAILED_INSTALL`` — only failed revisions and nothing deployed: Helm's install refuses
  the name ("cannot re-use a name that is still in use"). Action: install with
  ``replace`` (Helm re-uses the name of a failed release).
* ``DEPLOYED`` / ``FAILED`` (a failed upgrade on top of a deployed revision; Helm can
  upgrade from it) / ``ABSENT`` — nothing to do.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum

from helm_enterprise.kube.helm_storage import PENDING, HelmRecord


class ReleaseState(enum.Enum):
    ABSENT = "absent"
    DEPLOYED = "deployed"
    FAILED = "failed"
    FAILED_INSTALL = "failed-install"
    PENDING = "pending"
    UNINSTALLED = "uninstalled"


class Action(enum.Enum):
    NONE = "none"
    MARK_FAILED = "mark-failed"
    REPLACE = "replace"
    MARK_FAILED_AND_REPLACE = "mark-failed-and-replace"
    WAIT = "wait"  # pending, not ours, not yet stale: report, do not touch


@dataclasses.dataclass(frozen=True)
class Decision:
    state: ReleaseState
    action: Action
    record: HelmRecord | None
    message: str

    @property
    def replace(self) -> bool:
        return self.action in (Action.REPLACE, Action.MARK_FAILED_AND_REPLACE)


def decide(
    history: list[HelmRecord],
    *,
    owned_by_us: bool,
    now: dt.datetime,
    stale_after: dt.timedelta,
    recover_pending: bool = True,
    recover_failed_install: bool = True,
) -> Decision:
    if not history:
        return Decision(ReleaseState.ABSENT, Action.NONE, None, "no release yet")
    latest = history[-1]
    deployed = any(r.status in ("deployed", "superseded") for r in history)
    if latest.status in PENDING:
        age = now - latest.updated if latest.updated else stale_after
        if not recover_pending:
            return Decision(
                ReleaseState.PENDING,
                Action.NONE,
                latest,
                f"revision {latest.revision} is {latest.status}; recovery is off",
            )
        if not (owned_by_us or age >= stale_after):
            return Decision(
                ReleaseState.PENDING,
                Action.WAIT,
                latest,
                f"revision {latest.revision} is {latest.status} since "
                f"{int(age.total_seconds())}s and not owned by this stack",
            )
        replace = not deployed and recover_failed_install
        return Decision(
            ReleaseState.PENDING,
            Action.MARK_FAILED_AND_REPLACE if replace else Action.MARK_FAILED,
            latest,
            f"revision {latest.revision} stuck in {latest.status}; marking it failed",
        )
    if latest.status == "failed" and not deployed:
        if recover_failed_install:
            return Decision(
                ReleaseState.FAILED_INSTALL,
                Action.REPLACE,
                latest,
                f"first install failed (revision {latest.revision}); replacing it",
            )
        return Decision(ReleaseState.FAILED_INSTALL, Action.NONE, latest, "first install failed")
    if latest.status == "failed":
        return Decision(
            ReleaseState.FAILED,
            Action.NONE,
            latest,
            f"revision {latest.revision} failed; Helm upgrades from the last deployed",
        )
    if latest.status == "uninstalled":
        return Decision(
            ReleaseState.UNINSTALLED,
            Action.REPLACE,
            latest,
            "release was uninstalled (history kept)",
        )
    return Decision(
        ReleaseState.DEPLOYED, Action.NONE, latest, f"revision {latest.revision} {latest.status}"
    )
