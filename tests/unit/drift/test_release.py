"""Release mode's flow over the Cluster interface: manifest objects, missing objects,
the dry-run fallback, errors, remediation (the real API is exercised in tests/e2e)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pytest

from helm_enterprise.drift import DriftState, RuleSet
from helm_enterprise.drift.live import DryRunNotAllowed
from helm_enterprise.drift.release import detect, manifest_objects, remediate
from helm_enterprise.errors import DriftError
from helm_enterprise.kube.helm_storage import HelmRecord

MANIFEST = """
---
# Source: hello/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: hello-config
  labels: {helm-enterprise.io/release: hello}
data:
  message: hi
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello
spec:
  replicas: 2
---
apiVersion: v1
kind: List
items:
  - apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRole
    metadata: {name: reader, namespace: ignored-for-cluster-scope}
    rules: []
---
"""


def test_manifest_objects_flattens_lists_and_skips_empty_documents() -> None:
    kinds = [o["kind"] for o in manifest_objects(MANIFEST)]
    assert kinds == ["ConfigMap", "Deployment", "ClusterRole"]


def test_invalid_manifest() -> None:
    with pytest.raises(DriftError, match="not valid YAML"):
        manifest_objects("a: [")


class Cluster:
    """The Cluster interface over a dict of live objects; dry-run = desired merged in."""

    def __init__(self, live: dict[str, dict[str, Any]], *, dry_run_allowed: bool = True) -> None:
        self.live = live
        self.dry_run_allowed = dry_run_allowed
        self.applied: list[str] = []
        self.record: HelmRecord | None = HelmRecord(
            "hello", "demo", 3, "deployed", "hello", "0.1.0", "", None, "s", MANIFEST
        )

    @staticmethod
    def key(obj: Mapping[str, Any]) -> str:
        return f"{obj['kind']}/{obj['metadata']['name']}"

    def deployed_record(self, namespace: str, release: str) -> HelmRecord | None:
        return self.record

    def place(self, obj: Mapping[str, Any], namespace: str) -> dict[str, Any]:
        out = copy.deepcopy(dict(obj))
        if obj["kind"] == "ClusterRole":
            out["metadata"].pop("namespace", None)
        else:
            out["metadata"].setdefault("namespace", namespace)
        return out

    def get(self, obj: Mapping[str, Any]) -> dict[str, Any] | None:
        if obj["kind"] == "ClusterRole":
            raise DriftError("read of ClusterRole/reader failed: HTTP 403 Forbidden")
        return copy.deepcopy(self.live.get(self.key(obj)))

    def dry_run(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        if not self.dry_run_allowed:
            raise DryRunNotAllowed("dry-run failed: HTTP 403 Forbidden")
        merged = copy.deepcopy(self.live[self.key(obj)])
        for k, v in obj.items():
            if isinstance(v, dict):
                merged.setdefault(k, {}).update(v)
            else:
                merged[k] = v
        return merged

    def apply(self, obj: Mapping[str, Any]) -> None:
        self.applied.append(self.key(obj))

    def scale_targets(self, namespace: str) -> list[Any]:
        return []


def live_objects(replicas: int) -> dict[str, dict[str, Any]]:
    return {
        "Deployment/hello": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "hello", "namespace": "demo", "uid": "1"},
            "spec": {"replicas": replicas, "strategy": {"type": "RollingUpdate"}},
            "status": {"replicas": replicas},
        }
    }


@pytest.mark.parametrize("dry_run_allowed", [True, False])
def test_detect(dry_run_allowed: bool) -> None:
    cluster = Cluster(live_objects(replicas=5), dry_run_allowed=dry_run_allowed)
    result = detect(cluster, "demo", "hello", RuleSet.build())
    states = {f.ref.describe(): f.state for f in result.findings}
    assert states == {
        "ConfigMap/demo/hello-config": DriftState.MISSING,
        "Deployment/demo/hello": DriftState.DRIFTED,
        "ClusterRole/reader": DriftState.UNKNOWN,
    }
    dep = next(f for f in result.findings if f.ref.kind == "Deployment")
    assert [(c.path, c.old, c.new) for c in dep.changes] == [("/spec/replicas", 2, 5)]
    assert ("manifest only" in dep.message) is not dry_run_allowed
    unknown = next(f for f in result.findings if f.state is DriftState.UNKNOWN)
    assert "HTTP 403" in unknown.message
    assert result.revision == 3
    assert all(f.ref.release == "hello" and f.ref.via == "manifest" for f in result.findings)


def test_no_deployed_revision_is_unknown() -> None:
    cluster = Cluster({})
    cluster.record = None
    (finding,) = detect(cluster, "demo", "hello", RuleSet()).findings
    assert finding.state is DriftState.UNKNOWN and "no deployed revision" in finding.message


def test_remediate_reapplies_drifted_and_missing_objects_only() -> None:
    cluster = Cluster(live_objects(replicas=5))
    result = detect(cluster, "demo", "hello", RuleSet())
    outcome = remediate(cluster, result)
    assert sorted(cluster.applied) == ["ConfigMap/hello-config", "Deployment/hello"]
    assert all(r.ok for r in outcome)
    in_sync = Cluster(live_objects(replicas=2))
    remediate(in_sync, detect(in_sync, "demo", "hello", RuleSet()))
    assert in_sync.applied == ["ConfigMap/hello-config"]
