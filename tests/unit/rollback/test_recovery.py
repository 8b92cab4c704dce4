"""Table tests of the stuck-release decision (decide apart from act)."""

from __future__ import annotations

import datetime as dt

import pytest

from helm_enterprise.kube.helm_storage import HelmRecord, decode, encode
from helm_enterprise.rollback.recovery import Action, ReleaseState, decide

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def rec(rev: int, status: str, minutes_ago: int = 60) -> HelmRecord:
    return HelmRecord(
        "web",
        "demo",
        rev,
        status,
        "hello",
        "0.1.0",
        "",
        NOW - dt.timedelta(minutes=minutes_ago),
        f"s{rev}",
    )


@pytest.mark.parametrize(
    ("history", "ours", "state", "action"),
    [
        ([], True, ReleaseState.ABSENT, Action.NONE),
        ([rec(1, "deployed")], True, ReleaseState.DEPLOYED, Action.NONE),
        ([rec(1, "superseded"), rec(2, "failed")], True, ReleaseState.FAILED, Action.NONE),
        ([rec(1, "failed")], True, ReleaseState.FAILED_INSTALL, Action.REPLACE),
        (
            [rec(1, "deployed"), rec(2, "pending-upgrade", 1)],
            True,
            ReleaseState.PENDING,
            Action.MARK_FAILED,
        ),
        (
            [rec(1, "pending-install", 1)],
            True,
            ReleaseState.PENDING,
            Action.MARK_FAILED_AND_REPLACE,
        ),
        (
            [rec(1, "deployed"), rec(2, "pending-upgrade", 1)],
            False,
            ReleaseState.PENDING,
            Action.WAIT,
        ),
        (
            [rec(1, "deployed"), rec(2, "pending-rollback", 30)],
            False,
            ReleaseState.PENDING,
            Action.MARK_FAILED,
        ),
        ([rec(1, "uninstalled")], True, ReleaseState.UNINSTALLED, Action.REPLACE),
    ],
)
def test_decide(history: list[HelmRecord], ours: bool, state: ReleaseState, action: Action) -> None:
    d = decide(history, owned_by_us=ours, now=NOW, stale_after=dt.timedelta(minutes=15))
    assert (d.state, d.action) == (state, action)


def test_recovery_switches() -> None:
    pending = [rec(1, "pending-install", 1)]
    assert (
        decide(
            pending,
            owned_by_us=True,
            now=NOW,
            stale_after=dt.timedelta(minutes=15),
            recover_pending=False,
        ).action
        is Action.NONE
    )
    assert (
        decide(
            [rec(1, "failed")],
            owned_by_us=True,
            now=NOW,
            stale_after=dt.timedelta(minutes=15),
            recover_failed_install=False,
        ).action
        is Action.NONE
    )


def test_release_record_round_trip() -> None:
    body = {
        "name": "web",
        "version": 3,
        "info": {"status": "deployed"},
        "chart": {"metadata": {"name": "hello"}},
    }
    assert decode(encode(body)) == body
