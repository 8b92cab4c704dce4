"""Pre-flight cluster probes: results per cluster, never an exception."""

from __future__ import annotations

from pathlib import Path

from helm_enterprise.kube.client import ClusterAccess
from helm_enterprise.kube.clusters import ClusterHealth, ClusterState, probe, probe_all


def test_missing_kubeconfig_is_unreachable_with_the_reason(tmp_path: Path) -> None:
    health = probe(ClusterAccess(str(tmp_path / "none.kubeconfig")), 1.0)
    assert health.state is ClusterState.UNREACHABLE
    assert (
        health.describe()
        == f"unreachable: kubeconfig {tmp_path / 'none.kubeconfig'} cannot be loaded"
    )


def test_probe_all_keeps_order_and_turns_crashes_into_unreachable() -> None:
    def check(access: ClusterAccess, timeout: float) -> ClusterHealth:
        if access.context == "boom":
            raise RuntimeError("exploded")
        return ClusterHealth(ClusterState.HEALTHY, server=f"https://{access.context}")

    results = probe_all(
        {"b": ClusterAccess(context="b"), "a": ClusterAccess(context="boom")}, 1.0, check
    )
    assert list(results) == ["b", "a"]
    assert results["b"].healthy and results["b"].describe() == "healthy (https://b)"
    assert results["a"].state is ClusterState.UNREACHABLE
    assert results["a"].detail == "RuntimeError: exploded"
