"""The file-based discovery of real-node Pods for the sandbox's Prometheus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from helm_enterprise.sandbox.pod_targets import ClusterAccess, targets, write_targets


def _pod(name: str, node: str = "a-real-0", **over: Any) -> dict[str, Any]:
    pod: dict[str, Any] = {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "labels": {"app.kubernetes.io/instance": "hello"},
            "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "8080"},
        },
        "spec": {"nodeName": node},
        "status": {"phase": "Running", "podIP": "10.88.0.5"},
    }
    for key, value in over.items():
        pod[key].update(value)
    return pod


def test_an_annotated_running_pod_on_the_real_node_is_a_target() -> None:
    [group] = targets("a", [_pod("p1")])
    assert group == {
        "targets": ["10.88.0.5:8080"],
        "labels": {
            "__metrics_path__": "/metrics",
            "cluster": "a",
            "namespace": "ns",
            "pod": "p1",
            "instance_name": "hello",
        },
    }


@pytest.mark.parametrize(
    "pod",
    [
        _pod("fake", node="a-node-0"),  # kwok: nothing listens there
        _pod("other-cluster", node="b-real-0"),
        _pod("pending", status={"phase": "Pending"}),
        _pod("no-ip", status={"podIP": None}),
        _pod("not-annotated", metadata={"annotations": {}}),
        _pod(
            "bad-port",
            metadata={
                "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "http"}
            },
        ),
    ],
    ids=lambda p: p["metadata"]["name"],
)
def test_pods_that_cannot_be_scraped_are_not_targets(pod: dict[str, Any]) -> None:
    assert targets("a", [pod]) == []


def test_path_annotation_and_default_port() -> None:
    annotations = {"prometheus.io/scrape": "true", "prometheus.io/path": "/m"}
    [group] = targets("a", [_pod("p", metadata={"annotations": annotations})])
    assert group["targets"] == ["10.88.0.5:80"]
    assert group["labels"]["__metrics_path__"] == "/m"


def test_write_targets_is_atomic_and_reports_changes(tmp_path: Path) -> None:
    out = tmp_path / "t.json"
    groups = targets("a", [_pod("p")])
    assert write_targets(out, groups) is True
    assert json.loads(out.read_text()) == groups
    assert write_targets(out, groups) is False  # unchanged: Prometheus is not poked
    assert write_targets(out, []) is True
    assert json.loads(out.read_text()) == []
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]


def test_cluster_access_round_trips_through_its_argument() -> None:
    access = ClusterAccess("a", "https://127.0.0.1:1", Path("/c"), Path("/d"), Path("/e"))
    assert ClusterAccess.parse(access.arg()) == access
