"""Why a release's Pods are not Ready, read from Pod objects."""

from __future__ import annotations

from typing import Any

from helm_enterprise.kube.pods import pod_problems


def _pod(name: str, *, containers: list[dict[str, Any]] = (), **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns"},
        "status": {"containerStatuses": list(containers), **status},
    }


def _waiting(name: str, reason: str, message: str = "") -> dict[str, Any]:
    return {"name": name, "state": {"waiting": {"reason": reason, "message": message}}}


def test_an_image_that_cannot_be_pulled_is_named_with_the_kubelets_message() -> None:
    msg = 'failed to pull and unpack image "r.test/app:9": not found'
    [problem] = pod_problems([_pod("p", containers=[_waiting("web", "ErrImagePull", msg)])])
    assert problem.is_image
    assert problem.line() == f"Pod ns/p container web: ErrImagePull: {msg}"


def test_ordinary_waiting_and_running_containers_are_not_problems() -> None:
    pods = [
        _pod("a", containers=[_waiting("web", "ContainerCreating")]),
        _pod("b", containers=[{"name": "web", "state": {"running": {}}, "ready": False}]),
    ]
    assert pod_problems(pods) == []


def test_crash_loops_init_containers_and_unschedulable_pods_are_problems() -> None:
    unschedulable = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": "0/3 nodes are available",
    }
    pods = [
        _pod("crash", containers=[_waiting("web", "CrashLoopBackOff", "back-off 10s")]),
        _pod("init", initContainerStatuses=[_waiting("setup", "CreateContainerConfigError")]),
        _pod("pending", conditions=[unschedulable]),
    ]
    lines = [p.line() for p in pod_problems(pods)]
    assert lines == [
        "Pod ns/crash container web: CrashLoopBackOff: back-off 10s",
        "Pod ns/init container setup: CreateContainerConfigError",
        "Pod ns/pending: Unschedulable: 0/3 nodes are available",
    ]
    assert not any(p.is_image for p in pod_problems(pods))


def test_terminating_pods_are_ignored() -> None:
    pod = _pod("old", containers=[_waiting("web", "CrashLoopBackOff")])
    pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert pod_problems([pod]) == []
