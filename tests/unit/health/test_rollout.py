"""The rollout watch: it names stuck Pods only when Helm's revision fails, never fails a
rollout that Helm finishes, and a round without an answer from the cluster changes nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import urllib3

from helm_enterprise.health.rollout import (
    LOST,
    POLL,
    STUCK_FOR,
    RolloutStuckError,
    RolloutWatch,
    watch,
)
from helm_enterprise.kube.helm_storage import HelmRecord

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
PULL = 'failed to pull and unpack image "r.test/web:9": not found'


def rec(revision: int, status: str, age: float = 3600.0) -> HelmRecord:
    updated = NOW - dt.timedelta(seconds=age)
    return HelmRecord("web", "shop", revision, status, "web", "1.0.0", "", updated, f"s{revision}")


def await_(coro: Any) -> Any:
    """Run a coroutine on a loop of its own. Not ``asyncio.run``: it leaves the thread with
    no current event loop, which later tests' ``pulumi.Output`` calls need."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def pod(reason: str | None = None, *, deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "web-1", "namespace": "shop"}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-06T12:00:00Z"
    state = {"waiting": {"reason": reason, "message": PULL}} if reason else {"running": {}}
    return {"metadata": meta, "status": {"containerStatuses": [{"name": "web", "state": state}]}}


class Script:
    """A fake clock and the cluster's answers round by round (the last one repeats)."""

    def __init__(self, rounds: list[tuple[list[HelmRecord], list[dict[str, Any]]] | Exception]):
        self.rounds, self.i, self.t = rounds, 0, 0.0

    def _round(self) -> tuple[list[HelmRecord], list[dict[str, Any]]] | Exception:
        return self.rounds[min(self.i, len(self.rounds) - 1)]

    def history(self) -> list[HelmRecord]:
        r = self._round()
        if isinstance(r, Exception):
            raise r
        return r[0]

    def pods(self) -> list[dict[str, Any]]:
        r = self._round()
        assert not isinstance(r, Exception)
        return r[1]

    def sleep(self, seconds: float) -> None:
        self.t += seconds
        self.i += 1

    def run(self, deadline: float = 120.0) -> str:
        clock: Callable[[], float] = lambda: self.t  # noqa: E731
        return watch("shop/web", self.history, self.pods, deadline, clock, self.sleep, lambda: NOW)


STUCK_ROUNDS = int(STUCK_FOR / POLL) + 1


def test_a_failed_upgrade_with_pods_stuck_on_the_pull_names_the_registrys_answer() -> None:
    before = [rec(1, "deployed")]
    upgrading = [rec(1, "deployed"), rec(2, "pending-upgrade", 0)]
    failed = [rec(1, "superseded"), rec(2, "failed", 0), rec(3, "deployed", 0)]  # atomic
    script = Script(
        [(before, [])]
        + [(upgrading, [pod("ErrImagePull")])] * STUCK_ROUNDS
        + [(upgrading, [pod("ImagePullBackOff", deleting=True)]), (failed, [])]
    )
    with pytest.raises(RolloutStuckError) as err:
        script.run()
    assert str(err.value).startswith("shop/web: the new Pods could not become Ready: Pod ")
    assert "container web: ErrImagePull: " + PULL in str(err.value)


def test_the_kubelets_alternating_pull_reasons_are_one_stuck_problem() -> None:
    """ErrImagePull and ImagePullBackOff take turns; the round before Helm gives up may
    have just switched, and the Pod is still named."""
    upgrading = [rec(1, "deployed"), rec(2, "pending-upgrade", 0)]
    turns = [pod("ErrImagePull"), pod("ImagePullBackOff")] * STUCK_ROUNDS
    script = Script(
        [([rec(1, "deployed")], [])]
        + [(upgrading, [p]) for p in turns]
        + [([rec(1, "deployed"), rec(2, "failed", 0)], [])]
    )
    with pytest.raises(RolloutStuckError, match="ImagePullBackOff"):
        script.run()


def test_a_failed_install_that_helm_uninstalled_is_a_failure_too() -> None:
    installing = [rec(1, "pending-install", 0)]
    script = Script([([], [])] + [(installing, [pod("ErrImagePull")])] * STUCK_ROUNDS + [([], [])])
    with pytest.raises(RolloutStuckError, match="ErrImagePull"):
        script.run()


def test_pods_that_recover_before_helm_finishes_fail_nothing() -> None:
    """A slow registry: the pull fails for a while, then works, and Helm deploys."""
    upgrading = [rec(1, "deployed"), rec(2, "pending-upgrade", 0)]
    script = Script(
        [([rec(1, "deployed")], [])]
        + [(upgrading, [pod("ImagePullBackOff")])] * (STUCK_ROUNDS + 2)
        + [(upgrading, [pod()]), ([rec(1, "superseded"), rec(2, "deployed", 0)], [pod()])]
    )
    assert script.run() == "revision 2 deployed"


def test_a_failure_without_stuck_pods_is_left_to_helm() -> None:
    upgrading = [rec(1, "deployed"), rec(2, "pending-upgrade", 0)]
    script = Script(
        [([rec(1, "deployed")], [])]
        + [(upgrading, [pod("ErrImagePull")])]  # seen once: not stuck yet
        + [(upgrading, [pod()])] * 3
        + [([rec(1, "deployed"), rec(2, "failed", 0)], [])]
    )
    assert script.run() == "failed"


def test_no_new_revision_ends_the_watch_after_the_grace_period() -> None:
    script = Script([([rec(1, "deployed")], [pod("ErrImagePull")])])
    assert script.run() == "no new revision"
    assert script.t < 40


def test_a_revision_helm_finished_before_the_watch_started_is_this_runs() -> None:
    script = Script([([rec(1, "superseded"), rec(2, "deployed", age=5)], [])])
    assert script.run() == "revision 2 deployed"
    assert script.t == 0


def test_rounds_without_an_answer_are_skipped_and_pods_stuck_to_the_deadline_are_named() -> None:
    upgrading = [rec(1, "deployed"), rec(2, "pending-upgrade", 0)]
    script = Script(
        [
            ([rec(1, "deployed")], []),
            urllib3.exceptions.MaxRetryError(None, "/", None),
            (upgrading, [pod("CrashLoopBackOff")]),
        ]
    )
    with pytest.raises(RolloutStuckError, match="CrashLoopBackOff"):
        script.run(deadline=30)
    assert script.t >= 30


def test_a_cluster_silent_for_long_ends_the_watch_quietly() -> None:
    """An outage while Helm waits: Helm cannot record its outcome, so the watch stops
    instead of holding the run until the deadline."""
    upgrading = [rec(1, "deployed"), rec(2, "pending-upgrade", 0)]
    down = urllib3.exceptions.MaxRetryError(None, "/", None)
    script = Script([([rec(1, "deployed")], []), (upgrading, [pod("ErrImagePull")]), down])
    assert script.run(deadline=600) == "cluster not reachable"
    assert LOST <= script.t < LOST + 3 * POLL


def test_a_provider_error_of_ours_reaches_the_user_without_a_traceback() -> None:
    """What Pulumi's dynamic-provider host reports (``traceback.format_exc()``), in a
    process of its own as that host runs."""
    import subprocess
    import sys

    code = """
import traceback
from helm_enterprise.errors import HealthCheckError, message_only

@message_only
def create():
    raise HealthCheckError("web: health checks failed")

try:
    create()
except Exception:
    print(traceback.format_exc(), end="")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "helm_enterprise.errors.HealthCheckError: web: health checks failed\n"


def test_a_stopped_watch_names_the_pods_stuck_so_far() -> None:
    """The error hook stops the watch when Helm's operation failed: the stuck Pods of the
    last round with Pods are named (an atomic rollback may have deleted them since)."""
    script = Script([([rec(1, "deployed")], [pod("ImagePullBackOff")])])
    clock: Callable[[], float] = lambda: script.t  # noqa: E731

    def stopped() -> bool:
        return script.t >= STUCK_FOR + 2 * POLL

    with pytest.raises(RolloutStuckError, match="ImagePullBackOff"):
        watch(
            "shop/web", script.history, script.pods, 600, clock, script.sleep, lambda: NOW, stopped
        )
    healthy = Script([([rec(1, "deployed")], [pod()])])
    ended = watch(
        "shop/web", healthy.history, healthy.pods, 600, lambda: healthy.t, healthy.sleep,
        lambda: NOW, lambda: healthy.t >= 10,
    )  # fmt: skip
    assert ended == "stopped"


class Failed:
    """What the engine passes an error hook (the fields the watch reads)."""

    def __init__(self, operation: str) -> None:
        self.failed_operation = operation


def test_the_hooks_run_the_watch_in_a_thread_and_report_only_a_failure() -> None:
    import threading

    reports: list[str] = []
    runs: list[threading.Event] = []
    started = threading.Semaphore(0)

    def run(stop: threading.Event) -> str:
        runs.append(stop)
        started.release()
        stop.wait(30)
        raise RolloutStuckError("shop/web: the new Pods could not become Ready: web-1: ...")

    hooks = RolloutWatch(run, reports.append)
    hooks.start()
    assert await_(hooks.failed(Failed("create"))) is False  # never a retry
    assert reports == ["shop/web: the new Pods could not become Ready: web-1: ..."]
    assert runs[0].is_set() and hooks.ended == "stuck"

    hooks.start()  # the next operation starts a new run ...
    assert started.acquire(timeout=10) and started.acquire(timeout=10)  # (both runs began)
    hooks.finish()  # ... which Helm finished: nothing is said
    assert runs[1].is_set() and len(reports) == 1
    hooks.start()
    assert await_(hooks.failed(Failed("delete"))) is False  # only installs/upgrades
    assert len(reports) == 1
    hooks.finish()


def test_an_error_of_the_watch_itself_fails_nothing() -> None:
    def run(_stop: object) -> str:
        raise ValueError("bug")

    reports: list[str] = []
    hooks = RolloutWatch(run, reports.append)
    hooks.start()
    assert await_(hooks.failed(Failed("update"))) is False
    assert reports == [] and hooks.ended == "watch failed: ValueError"


def test_a_state_from_when_the_watch_was_a_resource_can_still_delete_it() -> None:
    """The engine unpickles the old resource's provider by its module path to delete it."""
    from pulumi.dynamic.dynamic import serialize_provider

    from helm_enterprise.health import rollout

    serialized = serialize_provider(rollout.RolloutWatchProvider())
    import base64

    import dill

    provider = dill.loads(base64.b64decode(serialized))
    assert provider.delete("shop/web", {"release": "web"}) is None


def test_one_set_of_hooks_dispatches_to_each_releases_watch() -> None:
    from helm_enterprise.health.rollout import RolloutWatches

    class Args:
        def __init__(self, name: str, operation: str = "create") -> None:
            self.name, self.failed_operation = name, operation

    reports: list[str] = []

    def stuck(stop: object) -> str:
        raise RolloutStuckError("shop/web: stuck")

    def fine(stop: object) -> str:
        return "revision 1 deployed"

    watches = RolloutWatches()
    web, api = RolloutWatch(stuck, reports.append), RolloutWatch(fine, reports.append)
    assert watches.add("web-release", web) and watches.add("api-release", api)
    assert not watches.add("web-release", RolloutWatch(fine, reports.append))  # a second web
    watches.start(Args("web-release"))
    watches.start(Args("api-release"))
    watches.start(Args("other-release"))  # not watched: nothing happens
    assert await_(watches.failed(Args("web-release"))) is False  # type: ignore[arg-type]
    watches.finish(Args("api-release"))
    assert await_(watches.failed(Args("other-release"))) is False  # type: ignore[arg-type]
    assert reports == ["shop/web: stuck"]
