"""Table tests of the release-level drift decision: deployed revision against the one the
stack applied (a hand `helm rollback` / `helm upgrade`)."""

from __future__ import annotations

import pytest

from helm_enterprise.drift import REDACTED, DriftState, ObjectRef
from helm_enterprise.drift.revision import Applied, decide
from helm_enterprise.kube.helm_storage import HelmRecord

OWNER = "proj/dev/web"
OURS = "Applied by helm-enterprise [proj/dev/web]"
REF = ObjectRef("helm.sh/v3", "Release", "web", "demo", "web", via="release", urn="urn:x")


def rec(
    rev: int, status: str, description: str, version: str = "0.2.0", values: str = "v2"
) -> HelmRecord:
    return HelmRecord(
        "web",
        "demo",
        rev,
        status,
        "hello",
        version,
        description,
        None,
        f"s{rev}",
        values_checksum=values,
    )


A1 = rec(1, "superseded", OURS, "0.1.0", "v1")
B2 = rec(2, "superseded", OURS)
ROLLED = rec(3, "deployed", "Rollback to 1", "0.1.0", "v1")


@pytest.mark.parametrize(
    ("history", "applied", "state", "fields"),
    [
        ([], Applied(1, "0.1.0", OWNER), None, None),
        ([rec(1, "failed", "Install failed")], Applied(1, "0.2.0", OWNER), None, None),
        ([A1, rec(2, "deployed", OURS)], Applied(2, "0.2.0", OWNER), DriftState.IN_SYNC, []),
        # A hand rollback: another revision, older chart, other values.
        (
            [A1, B2, ROLLED],
            Applied(2, "0.2.0", OWNER),
            DriftState.DRIFTED,
            ["/revision", "/chart/version", "/values", "/description"],
        ),
        # A hand upgrade with the same chart and values: the revision alone tells.
        (
            [A1, B2, rec(3, "deployed", "Upgrade complete")],
            Applied(2, "0.2.0", OWNER),
            DriftState.DRIFTED,
            ["/revision", "/description"],
        ),
        # The applied revision was pruned from history: values cannot be compared.
        (
            [rec(7, "deployed", "Rollback to 5", "0.1.0")],
            Applied(6, "0.2.0", OWNER),
            DriftState.DRIFTED,
            ["/revision", "/chart/version", "/description"],
        ),
        # No recorded revision in state: this stack's mark decides.
        ([A1, rec(2, "deployed", OURS)], Applied(None, None, OWNER), DriftState.IN_SYNC, []),
        (
            [A1, ROLLED],
            Applied(None, None, OWNER),
            DriftState.DRIFTED,
            ["/revision", "/description"],
        ),
    ],
)
def test_decide(
    history: list[HelmRecord],
    applied: Applied,
    state: DriftState | None,
    fields: list[str] | None,
) -> None:
    finding = decide(history, applied, REF)
    if state is None:
        assert finding is None
        return
    assert finding is not None and finding.state is state
    assert [c.path for c in finding.changes] == fields


def test_rollback_finding_names_revisions_description_and_hides_values() -> None:
    finding = decide([A1, B2, ROLLED], Applied(2, "0.2.0", OWNER), REF)
    assert finding is not None
    out = finding.to_dict()
    assert out["kind"] == "release" and out["state"] == "drifted"
    fields = {f["path"]: f for f in out["fields"]}
    assert (fields["/revision"]["old"], fields["/revision"]["new"]) == (2, 3)
    assert fields["/revision"]["by"] == ["Rollback to 1"]
    assert (fields["/chart/version"]["old"], fields["/chart/version"]["new"]) == ("0.2.0", "0.1.0")
    assert fields["/values"] == {
        "path": "/values",
        "change": "changed",
        "old": REDACTED,
        "new": REDACTED,
        "redacted": True,
        "by": [],
    }
    assert (fields["/description"]["old"], fields["/description"]["new"]) == (OURS, "Rollback to 1")
    assert "revision 3 (chart hello-0.1.0, 'Rollback to 1')" in out["message"]
    assert "not revision 2" in out["message"]
