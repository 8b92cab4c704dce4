"""May a release's pre-apply checks skip the cluster? Decided apart from acting.

A release reads the cluster before anything is applied (ownership, stuck-release
recovery). When it cannot, the old answer was always "skip with a warning" — which made an
expired token or a missing RBAC permission a silent takeover path: the ownership check did
not run, and the release went on to overwrite whatever was there. Now:

* :attr:`Reach.DENIED` (the API server answered 401/403) always fails: the cluster exists,
  and the identity must be fixed (the error names it and the missing permission);
* :attr:`Reach.UNREACHABLE` follows ``helm-enterprise:cluster.unreachable``:
  ``warn-on-preview`` (default) skips with a warning during ``pulumi preview`` — previewing
  a cluster that does not exist yet is a normal CI step — and fails ``pulumi up``;
  ``fail`` fails both; ``warn`` skips both (the explicit opt-out);
* a release whose ownership check is off (``validation.ownership: false``) only has the
  best-effort recovery checks left, which skip with a warning as before.

:func:`decide` is pure (table-tested); ``Release._pre_apply_checks`` acts on it.
"""

from __future__ import annotations

import dataclasses
import enum

from helm_enterprise.config.stack import UnreachableCluster


class Reach(enum.StrEnum):
    """What trying the cluster found."""

    REACHABLE = "reachable"
    UNREACHABLE = "unreachable"  # no kubeconfig, or the API server did not answer
    DENIED = "denied"  # the API server answered 401/403


class Action(enum.StrEnum):
    CHECK = "check"  # run the checks
    SKIP = "skip"  # warn with the message and go on without them
    FAIL = "fail"  # stop the run with the message (or the denial error itself)


@dataclasses.dataclass(frozen=True)
class Decision:
    action: Action
    message: str = ""


def decide(
    reach: Reach,
    *,
    preview: bool,
    unreachable: UnreachableCluster,
    ownership: bool,
    where: str,
    reason: str = "",
) -> Decision:
    """What to do about the pre-apply checks of one release.

    ``where`` names the cluster (kubeconfig and context), ``reason`` why it was not reached;
    ``ownership`` is whether the release's ownership check is on.
    """
    if reach is Reach.REACHABLE:
        return Decision(Action.CHECK)
    if reach is Reach.DENIED:
        return Decision(Action.FAIL)  # the caller raises the classified denial itself
    why = f" ({reason})" if reason else ""
    if not ownership:
        return Decision(Action.SKIP, f"cluster {where} not reachable{why}: recovery checks skipped")
    command = "pulumi preview" if preview else "pulumi up"
    if unreachable == "warn" or (unreachable == "warn-on-preview" and preview):
        setting = "" if unreachable == "warn" else " (`pulumi up` fails unless it is reachable)"
        return Decision(
            Action.SKIP,
            f"cluster {where} not reachable{why}: ownership and recovery checks skipped{setting}",
        )
    return Decision(
        Action.FAIL,
        f"cluster {where} not reachable{why}: the ownership check cannot run, so {command} "
        "stops before applying anything; make the cluster reachable, or set "
        "helm-enterprise:cluster.unreachable: warn to skip the check (validation.ownership: "
        "false turns it off for one release)",
    )


__all__ = ["Action", "Decision", "Reach", "decide"]
