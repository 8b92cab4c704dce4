"""kube/reach.py: may the pre-apply checks skip the cluster? (reach, phase, setting)."""

from __future__ import annotations

import pytest

from helm_enterprise.config._base import validate_model
from helm_enterprise.config.stack import ClusterConfig, UnreachableCluster
from helm_enterprise.errors import ConfigError
from helm_enterprise.kube.reach import Action, Reach, decide

R, U, D = Reach.REACHABLE, Reach.UNREACHABLE, Reach.DENIED
CHECK, SKIP, FAIL = Action.CHECK, Action.SKIP, Action.FAIL


@pytest.mark.parametrize(
    ("reach", "preview", "setting", "ownership", "action"),
    [
        # Reachable: always check.
        (R, False, "warn-on-preview", True, CHECK),
        (R, True, "warn", True, CHECK),
        # Unauthorised (401/403) always fails: no setting makes it "skipped".
        (D, True, "warn", True, FAIL),
        (D, False, "warn", True, FAIL),
        (D, True, "warn-on-preview", True, FAIL),
        (D, False, "warn-on-preview", False, FAIL),
        # Unreachable, the default: preview warns, up fails.
        (U, True, "warn-on-preview", True, SKIP),
        (U, False, "warn-on-preview", True, FAIL),
        # ... `fail` fails both; the explicit opt-out `warn` skips both.
        (U, True, "fail", True, FAIL),
        (U, False, "fail", True, FAIL),
        (U, True, "warn", True, SKIP),
        (U, False, "warn", True, SKIP),
        # No ownership check to lose: the best-effort recovery checks skip.
        (U, False, "warn-on-preview", False, SKIP),
        (U, False, "fail", False, SKIP),
    ],
)
def test_decide(
    reach: Reach, preview: bool, setting: UnreachableCluster, ownership: bool, action: Action
) -> None:
    got = decide(
        reach, preview=preview, unreachable=setting, ownership=ownership, where="~/.kube/config"
    )
    assert got.action is action


def test_messages_say_what_happened_and_how_to_opt_out() -> None:
    fail = decide(
        U,
        preview=False,
        unreachable="warn-on-preview",
        ownership=True,
        where="/k (context prod)",
        reason="MaxRetryError",
    )
    assert fail.message == (
        "cluster /k (context prod) not reachable (MaxRetryError): the ownership check cannot "
        "run, so pulumi up stops before applying anything; make the cluster reachable, or set "
        "helm-enterprise:cluster.unreachable: warn to skip the check (validation.ownership: "
        "false turns it off for one release)"
    )
    preview = decide(U, preview=True, unreachable="warn-on-preview", ownership=True, where="/k")
    assert preview.message == (
        "cluster /k not reachable: ownership and recovery checks skipped (`pulumi up` fails "
        "unless it is reachable)"
    )
    opted_out = decide(U, preview=False, unreachable="warn", ownership=True, where="/k")
    assert opted_out.message == "cluster /k not reachable: ownership and recovery checks skipped"


def test_the_default_is_warn_on_preview_and_typos_name_the_choices() -> None:
    assert ClusterConfig().unreachable == "warn-on-preview"
    with pytest.raises(ConfigError) as err:
        validate_model(ClusterConfig, {"unreachable": "skip"}, "cluster")
    assert str(err.value) == (
        "cluster.unreachable: Input should be 'warn-on-preview', 'fail' or 'warn'"
    )
