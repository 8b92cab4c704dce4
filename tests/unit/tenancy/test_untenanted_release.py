"""A release without ``tenant:`` in a namespace the cluster labels as a tenant's: the pure
check, and the Release component warning about it (the cluster read through the client the
ownership check already uses)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pulumi
import pytest

from helm_enterprise import Release, ownership
from helm_enterprise.components import release as release_module
from helm_enterprise.components.context import Platform
from helm_enterprise.config import ReleaseConfig
from helm_enterprise.config._base import validate_model
from helm_enterprise.kube.client import ClusterAccess
from helm_enterprise.tenancy.checks import LiveNamespace, check_untenanted_release, tenant_labels
from tests.unit.pulumi_harness import run_program

TENANT_NS = LiveNamespace("alpha-web", tenant_labels("proj", "tenants", "team", "alpha"))


def _cfg(**data: Any) -> ReleaseConfig:
    base: dict[str, Any] = {"name": "web", "namespace": "alpha-web", "chart": {"path": "x"}}
    return validate_model(ReleaseConfig, {**base, **data})


@pytest.mark.parametrize(
    ("cfg", "live", "warned"),
    [
        (_cfg(), TENANT_NS, True),
        (_cfg(), LiveNamespace("alpha-web", {"team": "a"}), False),  # not a tenant's
        (_cfg(), None, False),  # the namespace does not exist (yet)
        (_cfg(tenant="alpha"), TENANT_NS, False),  # the tenant gate checks those
    ],
)
def test_check_untenanted_release(
    cfg: ReleaseConfig, live: LiveNamespace | None, warned: bool
) -> None:
    finding = check_untenanted_release(cfg, live, "releases[0]")
    assert (finding is not None) is warned
    if finding is not None:
        assert finding.severity == "warning" and finding.field == "releases[0].namespace"
        assert finding.message == (
            "namespace 'alpha-web' belongs to tenant 'alpha' (stack proj/tenants), but this "
            "release declares no tenant: the tenant's checks do not apply to it"
        )
        assert "tenant: alpha" in finding.hint


class _Api:
    def close(self) -> None:
        pass


@dataclasses.dataclass
class Cluster:
    namespaces: dict[str, LiveNamespace] = dataclasses.field(default_factory=dict)
    reads: list[str] = dataclasses.field(default_factory=list)

    def read(self, api: object, name: str) -> LiveNamespace | None:
        self.reads.append(name)
        return self.namespaces.get(name)


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Cluster:
    """A reachable cluster holding these namespaces; no release owned by anyone else."""
    live = Cluster()
    monkeypatch.setattr(ClusterAccess, "reachable_client", lambda self, timeout=3.0: _Api())
    monkeypatch.setattr(ownership, "check_release", lambda api, ns, name, owner, adopt: [])
    monkeypatch.setattr(release_module, "read_namespace", live.read)
    return live


def _warnings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda msg, resource=None, **_: warnings.append(msg))
    return warnings


@pytest.mark.parametrize("mode", ["release", "chart"])
def test_release_without_tenant_in_a_tenant_namespace_is_warned(
    platform: Platform,
    cluster: Cluster,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
) -> None:
    cluster.namespaces["alpha-web"] = TENANT_NS
    warnings = _warnings(monkeypatch)
    run = run_program(
        lambda: Release(
            "web",
            {"namespace": "alpha-web", "chart": {"path": "charts/hello"}, "mode": mode},
            field="releases[3]",
        ),
        preview=True,
    )
    assert run.of_type("helm-enterprise:index:Release")  # deployed all the same
    assert cluster.reads == ["alpha-web"]
    [line] = [w for w in warnings if "belongs to tenant" in w]
    assert (
        "releases[3].namespace: namespace 'alpha-web' belongs to tenant 'alpha' "
        "(stack proj/tenants)" in line
    )


def test_no_warning_for_a_plain_namespace_or_with_ownership_checks_off(
    platform: Platform, cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster.namespaces["shop"] = LiveNamespace("shop", {})
    warnings = _warnings(monkeypatch)
    run_program(lambda: Release("web", {"namespace": "shop", "chart": {"path": "charts/hello"}}))
    cluster.namespaces["alpha-web"] = TENANT_NS
    run_program(
        lambda: Release(
            "web",
            {
                "namespace": "alpha-web",
                "chart": {"path": "charts/hello"},
                "validation": {"ownership": False},
            },
        )
    )
    assert cluster.reads == ["shop"]
    assert not [w for w in warnings if "belongs to tenant" in w]
