"""Pre-flight cluster probes: results per cluster; only refused credentials raise."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from helm_enterprise.errors import ClusterAccessDeniedError
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


def _kubeconfig(tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    cluster = {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True}
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": {"token": "not-it"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_not_an_unreachable_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    def refuse(self: object, **_: object) -> None:
        raise ApiException(status=status, reason="Unauthorized" if status == 401 else "Forbidden")

    monkeypatch.setattr(k8s.VersionApi, "get_code", refuse)
    access = ClusterAccess(str(_kubeconfig(tmp_path)))
    with pytest.raises(ClusterAccessDeniedError) as err:
        probe_all({"eu-1": access}, 1.0)
    assert err.value.status == status
    if status == 401:
        assert "rejected the credentials of the kubeconfig's bearer token" in str(err.value)
        assert "(401 Unauthorized) while trying to read the server version" in str(err.value)
    assert "not-it" not in str(err.value)
