"""Coordinated rollback of the releases of one run (T3.4), decided apart from acted on.

When a release of a group fails during ``pulumi up`` (its Helm install/upgrade, its rollout
or its health checks), the releases of the same run that already upgraded are put back to
the revisions they had before the run, in reverse dependency order (dependents first), with
``helm rollback``. Which ones is the group's policy:

* ``none`` — nobody else (the failed release's own ``rollback`` settings still apply);
* ``dependents`` — the releases the failed one depends on, directly or not: a release is
  rolled back when something that depends on it fails (unrelated branches stay);
* ``group`` — every release of the group.

"Before the run" is read from Helm's history, not remembered: the revision the release had
is the newest deployed (or superseded) revision written before the run started. So the
decision holds for a release whose pre-apply checks could not read the cluster, and a
release installed by this run (nothing before it) is left installed and said so.

:func:`members` and :func:`decide` are pure; :func:`coordinate` acts on what they decide,
through the injected history reader and rollback function.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from helm_enterprise.kube.helm_storage import PENDING, HelmRecord

Policy = Literal["none", "dependents", "group"]


def members(failed: str, graph: Mapping[str, Sequence[str]], policy: Policy) -> list[str]:
    """The releases to put back when ``failed`` fails, dependents before what they depend
    on, ``failed`` itself first (its own rollback may have done nothing). ``graph`` maps
    each release of the group to the releases it depends on, in declaration order."""
    if policy == "none" or failed not in graph:
        return []
    if policy == "group":
        chosen = set(graph)
    else:
        chosen, todo = {failed}, [failed]
        while todo:
            for dep in graph.get(todo.pop(), []):
                if dep not in chosen:
                    chosen.add(dep)
                    todo.append(dep)
    order: list[str] = []  # dependencies first, then reversed
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for dep in graph.get(name, []):
            visit(dep)
        order.append(name)

    for name in graph:
        visit(name)
    reverse = [n for n in reversed(order) if n in chosen]
    return [failed, *(n for n in reverse if n != failed)]


class State(enum.Enum):
    """Where one release stands against the revision it had before the run."""

    UNCHANGED = "unchanged"  # nothing written by this run
    RESTORED = "restored"  # written by this run, but already back (Helm's atomic, health)
    CHANGED = "changed"  # upgraded (or failed) by this run: roll back to the target
    INSTALLED = "installed"  # first installed by this run: nothing to go back to
    PENDING = "pending"  # an operation is still in flight: wait, then decide again
    ABSENT = "absent"  # no release at all


@dataclasses.dataclass(frozen=True)
class Decision:
    state: State
    target: int | None
    message: str


def _same_content(a: HelmRecord, b: HelmRecord) -> bool:
    return (a.chart, a.chart_version, a.values_checksum, a.manifest) == (
        b.chart,
        b.chart_version,
        b.values_checksum,
        b.manifest,
    )


def decide(history: Sequence[HelmRecord], run_started: dt.datetime) -> Decision:
    """What to do about one release, from its Helm history (oldest first)."""
    if not history:
        return Decision(State.ABSENT, None, "no release")
    latest = history[-1]
    if latest.status in PENDING:
        return Decision(State.PENDING, None, f"revision {latest.revision} is {latest.status}")
    if latest.updated is not None and latest.updated < run_started:
        return Decision(State.UNCHANGED, None, f"revision {latest.revision} predates this run")
    before = [
        r
        for r in history
        if r.status in ("deployed", "superseded")
        and r.updated is not None
        and r.updated < run_started
    ]
    if not before:
        return Decision(
            State.INSTALLED, None, f"installed by this run (revision {latest.revision})"
        )
    target = before[-1]
    deployed = [r for r in history if r.status == "deployed"]
    if deployed and deployed[-1].revision == latest.revision and _same_content(latest, target):
        return Decision(
            State.RESTORED,
            target.revision,
            f"revision {latest.revision} already has revision {target.revision}'s content",
        )
    return Decision(
        State.CHANGED,
        target.revision,
        f"revision {latest.revision} ({latest.status}) was written by this run; "
        f"revision {target.revision} was deployed before it",
    )


@dataclasses.dataclass(frozen=True)
class Member:
    """One release of the group, as the coordinator needs it."""

    name: str
    namespace: str
    history: Callable[[], list[HelmRecord]]
    rollback: Callable[[int, str], int]  # (target revision, why) → the new revision
    settle_seconds: float = 300  # how long an in-flight operation may take to finish


@dataclasses.dataclass(frozen=True)
class Outcome:
    release: str
    namespace: str
    state: State
    message: str
    new_revision: int | None = None
    error: str | None = None

    def line(self) -> str:
        where = f"{self.namespace}/{self.release}"
        if self.error:
            return f"{where}: rollback failed: {self.error}"
        if self.new_revision is not None:
            return f"{where}: {self.message}; rolled back (now revision {self.new_revision})"
        return f"{where}: {self.message}; left as is"


def coordinate(
    order: Sequence[Member],
    *,
    cause: str,
    run_started: dt.datetime,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[Outcome]:
    """Put back, one after the other in ``order``, every member this run changed; an
    operation still in flight is waited for first (up to the member's ``settle_seconds``).
    A failed rollback is reported and the next member is still tried."""
    outcomes: list[Outcome] = []
    for m in order:
        ends = clock() + m.settle_seconds
        try:
            decision = decide(m.history(), run_started)
            while decision.state is State.PENDING and clock() < ends:
                sleep(1)
                decision = decide(m.history(), run_started)
        except Exception as err:
            outcomes.append(Outcome(m.name, m.namespace, State.ABSENT, "", error=str(err)))
            continue
        if decision.state is not State.CHANGED or decision.target is None:
            outcomes.append(Outcome(m.name, m.namespace, decision.state, decision.message))
            continue
        try:
            new = m.rollback(decision.target, cause)
        except Exception as err:
            outcomes.append(
                Outcome(m.name, m.namespace, decision.state, decision.message, error=str(err))
            )
            continue
        outcomes.append(Outcome(m.name, m.namespace, decision.state, decision.message, new))
    return outcomes
