"""Coordinated rollback (T3.4): who is rolled back, to what, in which order."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from helm_enterprise.kube.helm_storage import HelmRecord
from helm_enterprise.rollback.coordinated import Member, State, coordinate, decide, members

START = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
BEFORE = START - dt.timedelta(hours=1)
DURING = START + dt.timedelta(seconds=30)

# a ← b ← c (c depends on b, b on a); d stands alone; e depends on a.
GRAPH = {"a": [], "b": ["a"], "c": ["b"], "d": [], "e": ["a"]}


@pytest.mark.parametrize(
    ("failed", "policy", "expected"),
    [
        ("c", "none", []),
        ("c", "dependents", ["c", "b", "a"]),
        ("b", "dependents", ["b", "a"]),
        ("e", "dependents", ["e", "a"]),
        ("d", "dependents", ["d"]),
        # group: everyone, dependents before what they depend on, the failed one first.
        ("c", "group", ["c", "e", "d", "b", "a"]),
        ("a", "group", ["a", "e", "d", "c", "b"]),
        ("x", "group", []),  # not a member
    ],
)
def test_members_in_reverse_dependency_order(failed: str, policy: str, expected: list[str]) -> None:
    got = members(failed, GRAPH, policy)  # type: ignore[arg-type]
    assert got == expected
    # Whatever the policy: nobody comes after something it depends on.
    for i, name in enumerate(got[1:], 1):
        assert not set(GRAPH[name]) & set(got[1:i]), (name, got)


def rec(
    revision: int,
    status: str,
    updated: dt.datetime | None,
    *,
    content: str = "v1",
    description: str = "",
) -> HelmRecord:
    return HelmRecord(
        name="web",
        namespace="demo",
        revision=revision,
        status=status,
        chart="hello",
        chart_version="0.1.0",
        description=description,
        updated=updated,
        secret_name=f"sh.helm.release.v1.web.v{revision}",
        manifest=f"kind: ConfigMap # {content}",
        values_checksum=content,
    )


@pytest.mark.parametrize(
    ("history", "state", "target"),
    [
        ([], State.ABSENT, None),
        ([rec(1, "deployed", BEFORE)], State.UNCHANGED, None),
        # Upgraded by this run: back to the revision deployed before it.
        (
            [rec(1, "superseded", BEFORE), rec(2, "deployed", DURING, content="v2")],
            State.CHANGED,
            1,
        ),
        # A failed upgrade of this run (no atomic): back too.
        ([rec(1, "deployed", BEFORE), rec(2, "failed", DURING, content="v2")], State.CHANGED, 1),
        # Helm's atomic rollback (or the health check's) already restored revision 1.
        (
            [
                rec(1, "superseded", BEFORE),
                rec(2, "superseded", DURING, content="v2"),
                rec(3, "deployed", DURING, description="Rollback to 1"),
            ],
            State.RESTORED,
            1,
        ),
        # Several revisions before the run: the newest of them is the target.
        (
            [
                rec(1, "superseded", BEFORE, content="v0"),
                rec(2, "superseded", BEFORE),
                rec(3, "deployed", DURING, content="v2"),
            ],
            State.CHANGED,
            2,
        ),
        ([rec(1, "deployed", DURING)], State.INSTALLED, None),
        ([rec(1, "deployed", BEFORE), rec(2, "pending-upgrade", DURING)], State.PENDING, None),
    ],
)
def test_decide_from_history(history: list[HelmRecord], state: State, target: int | None) -> None:
    got = decide(history, START)
    assert (got.state, got.target) == (state, target)
    assert got.message


@dataclasses.dataclass
class FakeRelease:
    """A member whose history the test scripts; rollbacks are appended to it."""

    name: str
    histories: list[list[HelmRecord]]
    fail: str | None = None
    rollbacks: list[tuple[int, str]] = dataclasses.field(default_factory=list)

    def history(self) -> list[HelmRecord]:
        return self.histories.pop(0) if len(self.histories) > 1 else self.histories[0]

    def rollback(self, target: int, why: str) -> int:
        if self.fail:
            raise RuntimeError(self.fail)
        self.rollbacks.append((target, why))
        return 99

    def member(self, settle: float = 5) -> Member:
        return Member(self.name, "demo", self.history, self.rollback, settle)


def test_coordinate_rolls_back_what_this_run_changed_and_waits_for_pending() -> None:
    upgraded = [rec(1, "superseded", BEFORE), rec(2, "deployed", DURING, content="v2")]
    c = FakeRelease("c", [[*upgraded[:1], rec(2, "deployed", DURING, description="Rollback to 1")]])
    b = FakeRelease(
        "b", [[rec(1, "deployed", BEFORE), rec(2, "pending-upgrade", DURING)], upgraded]
    )
    a = FakeRelease("a", [upgraded])
    untouched = FakeRelease("d", [[rec(4, "deployed", BEFORE)]])
    ticks = iter(range(100))
    slept: list[float] = []
    out = coordinate(
        [c.member(), b.member(), a.member(), untouched.member()],
        cause="c failed: health checks failed",
        run_started=START,
        sleep=slept.append,
        clock=lambda: float(next(ticks)),
    )
    assert [(o.release, o.state, o.new_revision) for o in out] == [
        ("c", State.RESTORED, None),  # its own rollback already put revision 1 back
        ("b", State.CHANGED, 99),
        ("a", State.CHANGED, 99),
        ("d", State.UNCHANGED, None),
    ]
    assert slept == [1]  # b was pending once
    assert b.rollbacks == a.rollbacks == [(1, "c failed: health checks failed")]
    assert "rolled back (now revision 99)" in out[1].line()
    assert out[3].line() == "demo/d: revision 4 predates this run; left as is"


def test_coordinate_goes_on_after_a_failed_rollback() -> None:
    upgraded = [rec(1, "superseded", BEFORE), rec(2, "deployed", DURING, content="v2")]
    b = FakeRelease("b", [upgraded], fail="helm rollback failed: boom")
    a = FakeRelease("a", [upgraded])
    out = coordinate([b.member(), a.member()], cause="c failed", run_started=START)
    assert out[0].error == "helm rollback failed: boom"
    assert out[0].line() == "demo/b: rollback failed: helm rollback failed: boom"
    assert a.rollbacks == [(1, "c failed")]


def test_coordinate_stops_waiting_for_a_pending_release_at_its_settle_time() -> None:
    stuck = FakeRelease("b", [[rec(1, "deployed", BEFORE), rec(2, "pending-upgrade", DURING)]])
    ticks = iter(range(100))
    out = coordinate(
        [stuck.member(settle=3)],
        cause="c failed",
        run_started=START,
        sleep=lambda _s: None,
        clock=lambda: float(next(ticks)),
    )
    assert out[0].state is State.PENDING and stuck.rollbacks == []
