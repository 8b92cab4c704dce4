"""Rollbacks and their audit records: the command's (before and after), Helm's own atomic
rollback found in the history, and where the helm binary comes from."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pulumi
import pytest

from helm_enterprise.audit import AuditLog, Auditor, emit, resolve_actor, set_auditor
from helm_enterprise.audit.schema import validate_record
from helm_enterprise.components.release import atomic_rollback_recorder
from helm_enterprise.config._base import validate_model
from helm_enterprise.config.release import ReleaseConfig
from helm_enterprise.errors import RollbackError
from helm_enterprise.kube.client import ClusterAccess
from helm_enterprise.kube.helm_storage import HelmRecord
from helm_enterprise.rollback.helm import (
    AutomaticRollback,
    HistoryReader,
    automatic_rollback,
    helm_binary,
    record_automatic_rollback,
    rollback,
)

NOW = dt.datetime(2026, 12, 6, 4, 0, tzinfo=dt.UTC)


def rec(rev: int, status: str, description: str = "", minutes_ago: int = 1) -> HelmRecord:
    return HelmRecord(
        "web",
        "shop",
        rev,
        status,
        "hello",
        "0.1.0",
        description,
        NOW - dt.timedelta(minutes=minutes_ago),
        f"sh.helm.release.v1.web.v{rev}",
    )


DEPLOYED = [rec(1, "superseded", "Install complete"), rec(2, "deployed", "Upgrade complete")]
ROLLED_BACK = [
    rec(1, "superseded", "Install complete"),
    rec(2, "failed", 'Upgrade "web" failed: context deadline exceeded'),
    rec(3, "deployed", "Rollback to 1"),
]


@pytest.fixture
def trail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AuditLog]:
    monkeypatch.setenv("HELM_ENTERPRISE_ACTOR", "ops@example.com")
    log = AuditLog(tmp_path / "trail.jsonl")
    set_auditor(Auditor(log))
    yield log
    set_auditor(None)


def reader(*answers: list[HelmRecord]) -> HistoryReader:
    """Helm history as the cluster would answer, one answer per read (the last repeats)."""
    queue = list(answers)

    def read(namespace: str, release: str) -> list[HelmRecord]:
        assert (namespace, release) == ("shop", "web")
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return read


def fake_helm(tmp_path: Path, exit_code: int = 0) -> Path:
    """An executable standing in for helm: notes its arguments, exits with ``exit_code``."""
    script = tmp_path / "helm"
    script.write_text(
        f'#!/bin/sh\necho "$@" > {tmp_path / "argv"}\necho "rollback failed: boom" >&2\n'
        f"exit {exit_code}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


# -- the command: before and after ----------------------------------------------------------


def test_rollback_records_before_and_after(trail: AuditLog, tmp_path: Path) -> None:
    helm = fake_helm(tmp_path)
    record = rollback(
        "web",
        "shop",
        to_revision=None,
        reason="INC-1 bad config",
        access=ClusterAccess("/nonexistent/kubeconfig"),
        who=resolve_actor(),
        record=emit,
        helm=str(helm),
        history=reader(DEPLOYED, [*DEPLOYED, rec(3, "deployed", "Rollback to 1")]),
    )
    assert (record.from_revision, record.to_revision, record.new_revision) == (2, 1, 3)
    assert (tmp_path / "argv").read_text().split()[:3] == ["rollback", "web", "1"]
    before, after = list(trail.records())
    assert (before["action"], before["phase"], before["result"]) == (
        "rollback",
        "before",
        "started",
    )
    assert (after["action"], after["phase"], after["result"]) == ("rollback", "after", "succeeded")
    for r in (before, after):
        assert (r["release"], r["namespace"]) == ("web", "shop")
        assert (r["from_revision"], r["to_revision"]) == (2, 1)
        assert r["why"] == "INC-1 bad config" and r["who"] == "ops@example.com"
        assert r["trigger"] == "command"
        assert validate_record(r) == [], r
    assert "new_revision" not in before and after["new_revision"] == 3


def test_a_failed_helm_rollback_is_recorded_as_failed(trail: AuditLog, tmp_path: Path) -> None:
    with pytest.raises(RollbackError, match="to revision 1 failed: rollback failed: boom"):
        rollback(
            "web",
            "shop",
            to_revision=1,
            reason="INC-2",
            access=ClusterAccess("/nonexistent/kubeconfig"),
            who=resolve_actor(),
            record=emit,
            helm=str(fake_helm(tmp_path, exit_code=1)),
            history=reader(DEPLOYED),
        )
    assert [(r["phase"], r["result"]) for r in trail.records()] == [
        ("before", "started"),
        ("after", "failed"),
    ]


def test_no_target_means_no_record(trail: AuditLog, tmp_path: Path) -> None:
    with pytest.raises(RollbackError, match="revision 9 does not exist"):
        rollback(
            "web",
            "shop",
            to_revision=9,
            reason="INC-3",
            access=ClusterAccess(),
            who=resolve_actor(),
            record=emit,
            helm=str(fake_helm(tmp_path)),
            history=reader(DEPLOYED),
        )
    assert list(trail.records()) == []


# -- where helm comes from ---------------------------------------------------------------------


def test_helm_comes_from_the_sandbox_toolchain_when_not_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("HELM_ENTERPRISE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(RollbackError, match="neither on PATH nor in the sandbox toolchain"):
        helm_binary()
    built = tmp_path / "cache" / "toolchain" / "bin" / "helm"
    built.parent.mkdir(parents=True)
    built.write_text("#!/bin/sh\n")
    built.chmod(0o755)
    assert helm_binary() == str(built)
    # One on PATH wins (the user's own), an explicit one wins over both.
    on_path = tmp_path / "path"
    on_path.mkdir()
    fake_helm(on_path)
    monkeypatch.setenv("PATH", str(on_path) + os.pathsep + str(tmp_path / "empty"))
    assert helm_binary() == str(on_path / "helm")
    assert helm_binary("/opt/helm") == "/opt/helm"


# -- Helm's own atomic rollback -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("history", "before", "expected"),
    [
        # The upgrade to 2 failed, Helm rolled back to 1 and wrote 3.
        (ROLLED_BACK, 1, AutomaticRollback(2, 1, 3, True, "hello-0.1.0")),
        # The rollback itself failed.
        (
            [*ROLLED_BACK[:2], rec(3, "failed", "Rollback to 1")],
            1,
            AutomaticRollback(2, 1, 3, False, "hello-0.1.0"),
        ),
        # An upgrade that failed before Helm wrote a revision: nothing rolled back.
        (DEPLOYED, 2, None),
        # A rollback from an earlier run, older than this update's revision.
        (ROLLED_BACK, 3, None),
        # A failed first install: atomic uninstalls, there is no revision before.
        ([rec(1, "failed", "Install failed")], None, None),
        # Not atomic: the failed revision stays the newest.
        ([rec(1, "superseded"), rec(2, "failed", "Upgrade failed")], 1, None),
        # A manual `helm rollback` is not Helm's automatic one when nothing failed after
        # the state's revision.
        (
            [rec(1, "superseded"), rec(2, "superseded"), rec(3, "deployed", "Rollback to 1")],
            2,
            None,
        ),
    ],
)
def test_automatic_rollback_is_read_from_the_history(
    history: list[HelmRecord], before: int | None, expected: AutomaticRollback | None
) -> None:
    assert automatic_rollback(history, before) == expected


def test_an_older_rollback_is_not_recorded_again() -> None:
    old = [*ROLLED_BACK[:2], rec(3, "deployed", "Rollback to 1", minutes_ago=90)]
    assert automatic_rollback(old, 1, not_before=NOW - dt.timedelta(minutes=30)) is None
    assert automatic_rollback(old, 1, not_before=NOW - dt.timedelta(minutes=120)) is not None


def test_helms_rollback_is_recorded_with_from_to_why(trail: AuditLog) -> None:
    found = record_automatic_rollback(
        "web",
        "shop",
        before_revision=1,
        error="timed out waiting for the condition",
        history=reader(ROLLED_BACK),
        record=emit,
    )
    assert found is not None
    before, after = list(trail.records())
    assert [(r["action"], r["phase"], r["result"]) for r in (before, after)] == [
        ("rollback", "before", "started"),
        ("rollback", "after", "succeeded"),
    ]
    for r in (before, after):
        assert (r["from_revision"], r["to_revision"]) == (2, 1)
        assert r["why"] == "upgrade to revision 2 failed: timed out waiting for the condition"
        assert r["trigger"] == "readiness" and r["release"] == "web"
        assert validate_record(r) == [], r
    assert after["new_revision"] == 3
    # Nothing rolled back: nothing recorded.
    assert (
        record_automatic_rollback(
            "web", "shop", before_revision=2, error="x", history=reader(DEPLOYED), record=emit
        )
        is None
    )
    assert len(list(trail.records())) == 2


def test_the_release_records_helms_rollback_after_a_failed_update(trail: AuditLog) -> None:
    """What the Release binds as its after-failed-update hook, fed what the engine passes:
    the state's outputs (numbers as floats) and the update's error."""
    cfg = validate_model(
        ReleaseConfig, {"name": "web", "namespace": "shop", "chart": {"path": "charts/hello"}}, ""
    )
    # Helm wrote the rollback moments ago (the recorder compares with the real clock).
    just_now = dt.datetime.now(dt.UTC)
    history = [dataclasses.replace(r, updated=just_now) for r in ROLLED_BACK]
    hook = atomic_rollback_recorder(cfg, reader(history), window_seconds=600)
    hook(
        pulumi.ErrorHookArgs(
            "urn:pulumi:dev::proj::kubernetes:helm.sh/v3:Release::web-release",
            "shop/web",
            "web-release",
            "kubernetes:helm.sh/v3:Release",
            old_outputs={"status": {"revision": 1.0, "status": "deployed"}},
            failed_operation="update",
            errors=["release web: timed out waiting for the condition"],
        )
    )
    records = list(trail.records())
    assert [(r["phase"], r["from_revision"], r["to_revision"]) for r in records] == [
        ("before", 2, 1),
        ("after", 2, 1),
    ]
    assert "timed out waiting for the condition" in records[0]["why"]
