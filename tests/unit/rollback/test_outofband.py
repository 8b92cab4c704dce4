"""Table tests of the out-of-band revision decision (decide apart from act)."""

from __future__ import annotations

import pytest

from helm_enterprise.kube.helm_storage import HelmRecord
from helm_enterprise.rollback.outofband import RevisionState, decide, mark, parse

OWNER = "proj/dev/web"
OURS = "Applied by helm-enterprise [proj/dev/web]"
RESTORED = "Applied by helm-enterprise [proj/dev/web, replaces revision 3]"


def rec(rev: int, status: str, description: str, version: str = "0.2.0") -> HelmRecord:
    return HelmRecord("web", "demo", rev, status, "hello", version, description, None, f"s{rev}")


@pytest.mark.parametrize(
    ("history", "base", "restore", "state", "description", "keep"),
    [
        # Not read (cluster unreachable): keep what state recorded rather than guess.
        (None, None, True, RevisionState.UNREAD, OURS, True),
        # Nothing deployed: the first install gets the mark.
        ([], None, True, RevisionState.ABSENT, OURS, True),
        ([rec(1, "failed", "Install failed")], None, True, RevisionState.ABSENT, OURS, True),
        # Ours, as installed or as restored earlier: kept exactly (no update).
        ([rec(1, "deployed", OURS)], None, True, RevisionState.OURS, OURS, True),
        (
            [rec(3, "superseded", "Rollback to 1"), rec(4, "deployed", RESTORED)],
            None,
            True,
            RevisionState.OURS,
            RESTORED,
            True,
        ),
        # The configured description changed: an ordinary input change.
        (
            [rec(1, "deployed", OURS)],
            "web shop",
            True,
            RevisionState.OURS,
            "web shop [proj/dev/web]",
            False,
        ),
        # A hand rollback / upgrade: a new description upgrades back.
        (
            [
                rec(1, "superseded", OURS, "0.1.0"),
                rec(2, "superseded", OURS),
                rec(3, "deployed", "Rollback to 1", "0.1.0"),
            ],
            None,
            True,
            RevisionState.OUT_OF_BAND,
            RESTORED,
            False,
        ),
        (
            [rec(1, "superseded", OURS), rec(2, "deployed", "Upgrade complete")],
            "web shop",
            True,
            RevisionState.OUT_OF_BAND,
            "web shop [proj/dev/web, replaces revision 2]",
            False,
        ),
        # Another stack's mark is not ours.
        (
            [rec(2, "deployed", "Applied by helm-enterprise [proj/prod/web]")],
            None,
            True,
            RevisionState.OUT_OF_BAND,
            "Applied by helm-enterprise [proj/dev/web, replaces revision 2]",
            False,
        ),
        # restoreOutOfBand false: reported, the recorded description kept (no upgrade).
        (
            [rec(1, "superseded", OURS), rec(2, "deployed", "Rollback to 1")],
            None,
            False,
            RevisionState.OUT_OF_BAND,
            OURS,
            True,
        ),
    ],
)
def test_decide(
    history: list[HelmRecord] | None,
    base: str | None,
    restore: bool,
    state: RevisionState,
    description: str,
    keep: bool,
) -> None:
    d = decide(history, owner=OWNER, base=base, restore=restore)
    assert (d.state, d.description, d.keep_recorded) == (state, description, keep)
    assert d.restores is (state is RevisionState.OUT_OF_BAND and restore)


def test_message_names_revision_chart_version_and_description() -> None:
    history = [rec(1, "superseded", OURS, "0.1.0"), rec(2, "deployed", "Rollback to 1", "0.1.0")]
    d = decide(history, owner=OWNER, base=None, restore=True)
    assert d.message == (
        "the deployed revision 2 (chart hello-0.1.0, 'Rollback to 1') was not made by this "
        "stack; this update restores the desired chart and values"
    )
    off = decide(history, owner=OWNER, base=None, restore=False)
    assert "not restored (rollback.restoreOutOfBand is false)" in off.message


def test_a_restored_description_is_recognised_as_ours() -> None:
    for text in (mark(OWNER), mark(OWNER, "a [b]"), mark(OWNER, None, 17)):
        assert parse(text, OWNER) is not None
    assert parse(mark(OWNER, "a [b]"), OWNER) == "a [b]"
    for text in ("Rollback to 1", "Upgrade complete", "x [proj/dev/webx]", OURS + " "):
        assert parse(text, OWNER) is None


def test_records_compare_values_by_digest_only() -> None:
    from types import SimpleNamespace

    from helm_enterprise.kube.helm_storage import _record

    def record(config: dict[str, object]) -> HelmRecord:
        meta = SimpleNamespace(name="sh.helm.release.v1.web.v1")
        return _record(SimpleNamespace(metadata=meta), {"version": 1, "config": config})

    a, b = record({"token": "s3cret", "n": 1}), record({"n": 1, "token": "s3cret"})
    assert a.values_checksum == b.values_checksum  # key order does not matter
    assert record({"token": "other", "n": 1}).values_checksum != a.values_checksum
    assert "s3cret" not in repr(a) and "s3cret" not in a.values_checksum
