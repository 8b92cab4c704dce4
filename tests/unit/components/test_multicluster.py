"""MultiClusterRelease: the resource graph under Pulumi's mocks.

The plan it acts on is table-tested in tests/unit/multicluster/test_plan.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest

from helm_enterprise import ConfigError, MultiClusterRelease
from helm_enterprise.audit import AuditLog, Auditor, set_auditor
from helm_enterprise.components.context import Platform
from helm_enterprise.components.multicluster import clusters_in_state
from helm_enterprise.config import StackConfig, validate_model
from helm_enterprise.errors import ClusterUnavailableError
from helm_enterprise.kube.client import ClusterAccess
from helm_enterprise.kube.clusters import ClusterHealth, ClusterState
from tests.unit.pulumi_harness import Mocks, run_program

COMP = "helm-enterprise:index:MultiClusterRelease"
RELEASE = "helm-enterprise:index:Release"
HELM = "kubernetes:helm.sh/v3:Release"
PROVIDER = "pulumi:providers:kubernetes"

OK = ClusterHealth(ClusterState.HEALTHY, server="https://eu")
DOWN = ClusterHealth(ClusterState.UNREACHABLE, "[Errno 111] Connection refused", "https://eu-1")
SICK = ClusterHealth(ClusterState.UNHEALTHY, "/readyz answered 500: etcd failed", "https://eu-2")


# -- which clusters hold the release (the plan itself: tests/unit/multicluster) ----------


def test_clusters_in_state_reads_the_release_children() -> None:
    prefix = "urn:pulumi:dev::proj::"
    urns = [
        f"{prefix}{COMP}::web",
        f"{prefix}{COMP}${RELEASE}::web-eu-1",  # the component alone is not in the cluster
        f"{prefix}{COMP}$pulumi:providers:kubernetes::web-eu-1-provider",  # nor a provider
        f"{prefix}{COMP}${RELEASE}$kubernetes:core/v1:Secret::web-eu-1-read-shop-db",  # a read
        f"{prefix}{COMP}${RELEASE}${HELM}::web-eu-2-release",
        f"{prefix}my:index:Wrapper${COMP}${RELEASE}$kubernetes:helm.sh/v4:Chart::web-eu-3-chart",
        f"{prefix}{COMP}${RELEASE}$kubernetes:core/v1:Namespace::web-eu-4-namespace",
        f"{prefix}{COMP}${RELEASE}${HELM}::api-eu-1-release",  # another component
        f"{prefix}{RELEASE}${HELM}::web-eu-1-release",  # a plain Release, not ours
        f"{prefix}{COMP}${RELEASE}${HELM}::web-eu-1-x-release",  # cluster "eu-1-x", not "eu-1"
    ]
    names = ["eu-1", "eu-2", "eu-3", "eu-4"]
    assert clusters_in_state(urns, "web", names) == {"eu-2", "eu-3", "eu-4"}


# -- the resource graph ---------------------------------------------------------------------


@pytest.fixture(autouse=True)
def audit_log(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "audit.jsonl"
    set_auditor(Auditor(AuditLog(path)))
    yield path
    set_auditor(None)


def probe_with(states: dict[str, ClusterHealth]) -> Any:
    """A pre-flight probe answering by kubeconfig path (``/kube/<cluster>``)."""

    def check(access: ClusterAccess, timeout: float) -> ClusterHealth:
        return states[Path(access.kubeconfig or "").name]

    return check


def clusters(*names: str, **extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": n, "kubeconfig": f"/kube/{n}", **extra.get(n, {})} for n in names]


def web(**extra: Any) -> dict[str, Any]:
    return {
        "namespace": "shop",
        "chart": {"path": "charts/hello"},
        "values": {"replicaCount": 2, "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}},
        **extra,
    }


class StateMocks(Mocks):
    """Mocks whose engine reports ``urns`` as the stack's state (the component reads it
    with the builtin ``pulumi:pulumi:readStackResourceOutputs`` invoke)."""

    def __init__(self, urns: list[str] | None = None) -> None:
        super().__init__()
        self.urns = urns or []

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], Any]:
        self.calls.append(args)
        if args.token == "pulumi:pulumi:readStackResourceOutputs":
            return {"outputs": {u: {"type": "x", "outputs": {}} for u in self.urns}}, []
        return {}, []


def run_mc(program: Any, urns: list[str] | None = None, **kwargs: Any) -> Any:
    return run_program(program, mocks=StateMocks(urns), **kwargs)


def test_rolling_registers_one_release_per_cluster_in_a_chain(platform: Platform) -> None:
    probe = probe_with({"eu-1": OK, "eu-2": OK})

    def program() -> Any:
        m = MultiClusterRelease(
            "web",
            web(
                clusters=clusters(
                    "eu-1",
                    "eu-2",
                    **{
                        "eu-1": {
                            "values": {"replicaCount": 4, "resources": {"limits": {"cpu": "2"}}}
                        }
                    },
                )
            ),
            probe=probe,
        )
        return {"plan": m.plan, "deployed": m.deployed, "statuses": m.statuses}

    run = run_mc(program)
    comp = run.one(COMP)
    providers = {p.name: p for p in run.of_type(PROVIDER)}
    assert set(providers) == {"web-eu-1-provider", "web-eu-2-provider"}
    assert providers["web-eu-1-provider"].inputs["kubeconfig"] == "/kube/eu-1"
    assert "skipUpdateUnreachable" not in providers["web-eu-1-provider"].inputs
    releases = {r.name: r for r in run.of_type(RELEASE)}
    assert set(releases) == {"web-eu-1", "web-eu-2"}
    assert {r.parent for r in releases.values()} == {comp.urn}
    assert {p.parent for p in providers.values()} == {comp.urn}

    helm = {r.name: r for r in run.of_type(HELM)}
    # Each cluster's Helm release goes through that cluster's provider...
    for cluster in ("eu-1", "eu-2"):
        assert helm[f"web-{cluster}-release"].provider.startswith(
            providers[f"web-{cluster}-provider"].urn + "::"
        )
        assert helm[f"web-{cluster}-release"].inputs["name"] == "web"  # same Helm name
    # ...in rolling order: eu-2 waits for eu-1 (and so never starts when eu-1 fails).
    # (Pulumi expands a dependency on a component to the component's custom children.)
    # eu-1's custom child: its Helm release (the rollout watch is hooks of it).
    assert set(releases["web-eu-2"].dependencies) == {helm["web-eu-1-release"].urn}
    assert helm["web-eu-1-release"].urn in helm["web-eu-2-release"].dependencies
    assert releases["web-eu-1"].dependencies == []
    # Overrides merged the Helm way: maps merge, scalars replace.
    assert helm["web-eu-1-release"].inputs["values"] == {
        "replicaCount": 4,
        "resources": {"limits": {"cpu": "2", "memory": "1Gi"}},
    }
    assert helm["web-eu-2-release"].inputs["values"]["replicaCount"] == 2
    assert run.value == {
        "plan": {"eu-1": "deploy", "eu-2": "deploy"},
        "deployed": ["eu-1", "eu-2"],
        "statuses": {"eu-1": "deployed", "eu-2": "deployed"},
    }


def test_excluded_cluster_is_not_registered_and_audited(
    platform: Platform, audit_log: Path
) -> None:
    probe = probe_with({"eu-1": DOWN, "eu-2": OK})
    run = run_mc(
        lambda: (
            MultiClusterRelease(
                "web", web(clusters=clusters("eu-1", "eu-2"), unreachable="exclude"), probe=probe
            ).deployed
        )
    )
    assert [r.name for r in run.of_type(RELEASE)] == ["web-eu-2"]
    assert [p.name for p in run.of_type(PROVIDER)] == ["web-eu-2-provider"]
    assert run.value == ["eu-2"]
    events = {e["action"]: e for e in AuditLog(audit_log).records()}
    assert events["cluster-excluded"]["cluster"] == "eu-1"
    assert events["cluster-excluded"]["action_taken"] == "skip"
    assert "Connection refused" in events["cluster-excluded"]["why"]
    assert events["multi-cluster-plan"]["plan"] == {"eu-1": "skip", "eu-2": "deploy"}
    health = [e for e in AuditLog(audit_log).records() if e["action"] == "cluster-health"]
    assert {e["cluster"]: e["result"] for e in health} == {
        "eu-1": "unreachable",
        "eu-2": "healthy",
    }


def test_unreachable_fail_registers_nothing(platform: Platform, audit_log: Path) -> None:
    probe = probe_with({"eu-1": DOWN, "eu-2": OK})
    with pytest.raises(ClusterUnavailableError, match=r"web: eu-1 is unreachable .*exclude"):
        run_mc(
            lambda: MultiClusterRelease("web", web(clusters=clusters("eu-1", "eu-2")), probe=probe)
        )
    plan = [e for e in AuditLog(audit_log).records() if e["action"] == "multi-cluster-plan"]
    assert plan[-1]["result"] == "failed"


def test_kept_cluster_stays_registered_frozen_outside_the_chain(platform: Platform) -> None:
    prefix = f"urn:pulumi:dev::proj::{COMP}${RELEASE}${HELM}::"
    probe = probe_with({"eu-1": DOWN, "eu-2": OK, "eu-3": OK})
    run = run_mc(
        lambda: (
            MultiClusterRelease(
                "web",
                web(clusters=clusters("eu-1", "eu-2", "eu-3"), unreachable="exclude"),
                probe=probe,
            ).plan
        ),
        urns=[prefix + "web-eu-1-release", prefix + "web-eu-2-release"],
    )
    assert run.value == {"eu-1": "keep", "eu-2": "deploy", "eu-3": "deploy"}
    providers = {p.name: p for p in run.of_type(PROVIDER)}
    assert providers["web-eu-1-provider"].inputs["skipUpdateUnreachable"] == "true"
    releases = {r.name: r for r in run.of_type(RELEASE)}
    helm = {r.name: r for r in run.of_type(HELM)}
    # Kept: registered (so Pulumi does not delete it), through its own provider, but
    # outside the rolling chain: nothing waits for it.
    assert set(releases) == {"web-eu-1", "web-eu-2", "web-eu-3"}
    assert helm["web-eu-1-release"].provider.startswith(providers["web-eu-1-provider"].urn)
    assert releases["web-eu-1"].dependencies == []
    assert releases["web-eu-2"].dependencies == []
    assert set(releases["web-eu-3"].dependencies) == {helm["web-eu-2-release"].urn}


def test_active_passive_fails_over_to_the_standby(platform: Platform, audit_log: Path) -> None:
    probe = probe_with({"eu-1": DOWN, "eu-2": OK})

    def program() -> Any:
        m = MultiClusterRelease(
            "web",
            web(
                clusters=clusters("eu-1", "eu-2", **{"eu-2": {"role": "standby"}}),
                strategy="active-passive",
            ),
            probe=probe,
        )
        return {"failover": m.failover, "deployed": m.deployed}

    run = run_mc(program)
    assert [r.name for r in run.of_type(RELEASE)] == ["web-eu-2"]
    assert run.value == {"failover": "eu-1 -> eu-2", "deployed": ["eu-2"]}
    failover = [e for e in AuditLog(audit_log).records() if e["action"] == "failover"]
    assert failover[0]["primary"] == "eu-1" and failover[0]["standby"] == "eu-2"


def test_active_passive_primary_healthy_leaves_the_standby_alone(platform: Platform) -> None:
    probe = probe_with({"eu-1": OK, "eu-2": OK})
    run = run_mc(
        lambda: (
            MultiClusterRelease(
                "web",
                web(
                    clusters=clusters("eu-1", "eu-2", **{"eu-2": {"role": "standby"}}),
                    strategy="active-passive",
                ),
                probe=probe,
            ).plan
        )
    )
    assert [r.name for r in run.of_type(RELEASE)] == ["web-eu-1"]
    assert run.value == {"eu-1": "deploy", "eu-2": "idle"}


@pytest.mark.parametrize(
    ("extra", "path", "message"),
    [
        ({"clusters": []}, "clusters", "at least 1"),
        ({"clusters": clusters("eu-1", "eu-1")}, "clusters[1].name", "already listed"),
        ({"clusters": [{"name": "EU_1"}]}, "clusters[0].name", "not a cluster name"),
        (
            {"clusters": clusters("eu-1", "eu-2", **{"eu-2": {"role": "standby"}})},
            "clusters[1].role",
            "active-passive",
        ),
        (
            {"clusters": clusters("eu-1", "eu-2"), "strategy": "active-passive"},
            "clusters[1].role",
            "exactly one primary",
        ),
        (
            {"clusters": clusters("eu-1"), "unreachable": "skip"},
            "unreachable",
            "'exclude' or 'fail'",
        ),
        (
            {"clusters": [{"name": "eu-1", "kubeconfig": "/k", "valeus": {}}]},
            "clusters[0].valeus",
            "did you mean 'values'",
        ),
        (
            {"clusters": [{"name": "a", "kubeconfig": "/k"}, {"name": "b", "kubeconfig": "/k"}]},
            "clusters[1]",
            "same kubeconfig and context",
        ),
    ],
)
def test_invalid_arguments_fail_before_registration(
    platform: Platform, extra: dict[str, Any], path: str, message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        run_mc(lambda: MultiClusterRelease("web", web(**extra), probe=probe_with({})))
    assert err.value.path == path, str(err.value)
    assert message in str(err.value)


def test_stack_config_resolves_named_clusters(platform: Platform, monkeypatch: Any) -> None:
    from helm_enterprise import program as root
    from helm_enterprise.kube import clusters as kube_clusters

    monkeypatch.setattr(kube_clusters, "probe", probe_with({"eu-1": OK, "eu-2": OK}))
    config = {
        "helm-enterprise:cluster": {"kubeconfig": "/nonexistent/kubeconfig", "unreachable": "warn"},
        "helm-enterprise:clusters": {
            "eu-1": {"kubeconfig": "/kube/eu-1", "context": "one"},
            "eu-2": {"kubeconfig": "/kube/eu-2"},
        },
        "helm-enterprise:multiClusterReleases": [
            {
                "name": "web",
                "namespace": "shop",
                "chart": {"path": "charts/hello"},
                "clusters": [{"name": "eu-1", "values": {"replicaCount": 3}}, {"name": "eu-2"}],
            }
        ],
    }
    run = run_mc(root.main, config=config)
    providers = {p.name: p.inputs for p in run.of_type(PROVIDER)}
    assert providers["web-eu-1-provider"]["context"] == "one"
    assert providers["web-eu-2-provider"]["kubeconfig"] == "/kube/eu-2"
    helm = {r.name: r.inputs for r in run.of_type(HELM)}
    assert helm["web-eu-1-release"]["values"] == {"replicaCount": 3}


@pytest.mark.parametrize(
    ("data", "path"),
    [
        (
            {"multiClusterReleases": [{**web(name="web"), "clusters": [{"name": "eu-9"}]}]},
            "multiClusterReleases[0].clusters[0].name",
        ),
        (
            {
                "releases": [web(name="web")],
                "clusters": {"eu-1": {}},
                "multiClusterReleases": [{**web(name="web"), "clusters": [{"name": "eu-1"}]}],
            },
            "multiClusterReleases[0].name",
        ),
        (
            {
                "multiClusterReleases": [
                    {**web(name="web", dependsOn=["x"]), "clusters": clusters("eu-1")}
                ]
            },
            "multiClusterReleases[0].dependsOn",
        ),
    ],
)
def test_stack_config_errors_name_the_field(data: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate_model(StackConfig, data)
    assert err.value.path == path, str(err.value)
