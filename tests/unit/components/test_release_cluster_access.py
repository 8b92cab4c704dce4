"""The Release's pre-apply checks never degrade silently: an unreachable cluster skips them
only in preview (default) or with the explicit opt-out, and a 401/403 always stops the
release with the denial's one line before any Kubernetes resource is registered."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
import urllib3

from helm_enterprise import Release
from helm_enterprise.components.context import Platform
from helm_enterprise.config import ClusterConfig
from helm_enterprise.errors import ClusterAccessDeniedError, ClusterUnavailableError
from helm_enterprise.kube import helm_storage
from helm_enterprise.kube.client import ClusterAccess
from tests.unit.conftest import REPO
from tests.unit.pulumi_harness import Mocks, run_program

REL = "kubernetes:helm.sh/v3:Release"
DENIED = (
    'cluster https://k: user "bob" may not list secrets in namespace "default" (403 '
    "Forbidden), needed to list Helm's release records of default/web; grant it that "
    "permission (a Role and binding) or use a kubeconfig whose identity has it"
)


class Recording(Mocks):
    def __init__(self) -> None:
        super().__init__()
        self.types: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, Any]:
        self.types.append(args.typ)
        return super().new_resource(args)


class _Api:
    def close(self) -> None:
        pass


def _platform(unreachable: str | None) -> Platform:
    extra = {"unreachable": unreachable} if unreachable else {}
    return Platform(
        cluster=ClusterConfig(kubeconfig="/nonexistent/kubeconfig", **extra), base_dir=REPO
    )


def _release(platform: Platform) -> Release:
    return Release("web", {"chart": {"path": "charts/hello"}}, platform=platform)


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda msg, resource=None, **_: seen.append(msg))
    return seen


@pytest.mark.parametrize(
    ("setting", "preview", "fails"),
    [
        (None, True, False),  # default: a preview of a cluster not there yet is fine ...
        (None, False, True),  # ... `pulumi up` is not
        ("fail", True, True),
        ("warn", False, False),  # the explicit opt-out
    ],
)
def test_unreachable_cluster(
    warnings: list[str], setting: str | None, preview: bool, fails: bool
) -> None:
    platform = _platform(setting)
    if fails:
        mocks = Recording()
        with pytest.raises(ClusterUnavailableError) as err:
            run_program(lambda: _release(platform), preview=preview, mocks=mocks)
        assert str(err.value).startswith(
            "web: cluster /nonexistent/kubeconfig not reachable: the ownership check cannot run"
        )
        assert "helm-enterprise:cluster.unreachable: warn" in str(err.value)
        assert not [t for t in mocks.types if t.startswith("kubernetes:")]
    else:
        run = run_program(lambda: _release(platform), preview=preview)
        assert run.one(REL)
        assert [w for w in warnings if "ownership and recovery checks skipped" in w]


def test_stack_config_sets_it(warnings: list[str]) -> None:
    """``helm-enterprise:cluster.unreachable`` reaches the release through the root program."""
    from helm_enterprise import program as root
    from helm_enterprise.components.context import set_default_platform

    config = {
        "helm-enterprise:cluster": {"kubeconfig": "/nonexistent/kubeconfig", "unreachable": "warn"},
        "helm-enterprise:releases": [{"name": "web", "chart": {"path": "charts/hello"}}],
    }
    set_default_platform(None)
    try:
        run = run_program(root.main, config=config)
    finally:
        set_default_platform(None)
    assert run.one(REL)


@pytest.mark.parametrize("setting", [None, "warn"])
@pytest.mark.parametrize("preview", [True, False])
def test_a_denial_always_stops_the_release(
    monkeypatch: pytest.MonkeyPatch, setting: str | None, preview: bool
) -> None:
    """403 while reading Helm's records: even with the opt-out, even in preview."""
    monkeypatch.setattr(ClusterAccess, "reachable_client", lambda self, timeout=3.0: _Api())

    def forbidden(api: Any, namespace: str, name: str) -> list[Any]:
        raise ClusterAccessDeniedError(DENIED, status=403, identity='user "bob"')

    monkeypatch.setattr(helm_storage, "history", forbidden)
    mocks = Recording()
    with pytest.raises(ClusterAccessDeniedError) as err:
        run_program(lambda: _release(_platform(setting)), preview=preview, mocks=mocks)
    assert str(err.value) == DENIED
    assert not [t for t in mocks.types if t.startswith("kubernetes:")]


def test_a_401_on_connect_stops_the_release(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(self: ClusterAccess, timeout: float = 3.0) -> None:
        raise ClusterAccessDeniedError("cluster https://k rejected ...", status=401)

    monkeypatch.setattr(ClusterAccess, "reachable_client", refused)
    with pytest.raises(ClusterAccessDeniedError, match="rejected"):
        run_program(lambda: _release(_platform("warn")), preview=True)


@pytest.mark.parametrize(("preview", "fails"), [(True, False), (False, True)])
def test_a_cluster_lost_during_the_checks_is_unreachable(
    monkeypatch: pytest.MonkeyPatch, warnings: list[str], preview: bool, fails: bool
) -> None:
    monkeypatch.setattr(ClusterAccess, "reachable_client", lambda self, timeout=3.0: _Api())

    def gone(api: Any, namespace: str, name: str) -> list[Any]:
        raise urllib3.exceptions.MaxRetryError(None, "/api/v1/namespaces/default/secrets")

    monkeypatch.setattr(helm_storage, "history", gone)
    if fails:
        with pytest.raises(ClusterUnavailableError, match=r"not reachable \(MaxRetryError\)"):
            run_program(lambda: _release(_platform(None)), preview=preview)
    else:
        assert run_program(lambda: _release(_platform(None)), preview=preview).one(REL)
        assert [w for w in warnings if "not reachable (MaxRetryError)" in w]


def test_a_release_owned_by_another_stack_is_an_ownership_conflict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from helm_enterprise import ownership
    from helm_enterprise.errors import OwnershipConflictError, ValidationError

    monkeypatch.setattr(ClusterAccess, "reachable_client", lambda self, timeout=3.0: _Api())
    monkeypatch.setattr(
        ownership, "release_owners", lambda api, ns, name: (True, {"proj/prod/web"})
    )
    mocks = Recording()
    with pytest.raises(OwnershipConflictError) as err:
        run_program(lambda: _release(_platform(None)), preview=True, mocks=mocks)
    assert isinstance(err.value, ValidationError)  # what callers caught before
    assert "this release is owned by proj/prod/web, not by proj/dev/web" in str(err.value)
    assert [f.check for f in err.value.findings] == ["ownership"]  # type: ignore[attr-defined]
    assert not [t for t in mocks.types if t.startswith("kubernetes:")]
