"""The rollout watch: when Helm's wait for a release's Pods fails, say why they were not Ready.

Helm's readiness wait (and so the Helm provider's error) only says that the time ran out:
``failed to become available within allocated timeout ... context deadline exceeded``. The
Pods know why: an image that cannot be pulled (with the registry's answer), a container that
crashes or cannot be created, a Pod that no node accepts. The watch runs while Helm works —
not after it, which would never run when the release fails — and lists the release's Pods
every two seconds, remembering the Pods stuck for at least :data:`STUCK_FOR` seconds. It
only ever adds to a failure: when Helm's install or upgrade fails while Pods were stuck,
the failed ``pulumi up`` names them next to Helm's timeout. A rollout that recovers (a slow
registry, a Pod that waits for a node to be added) and that Helm reports deployed ends the
watch quietly. It changes nothing in the cluster.

:class:`RolloutWatch` binds it to the Helm release as resource hooks, so it costs no
resource of its own (it used to be a dynamic resource, a third registration per release):
a ``before_create``/``before_update`` hook starts it in a thread of the program, exactly
when Helm is about to deploy (never on a run that changes nothing, never in a preview);
the ``after_*`` hooks stop it; the error hook of a failed create or update stops it and
reports the stuck Pods as an error of the release.

Left alone (no hook stops it), :func:`watch` also ends when Helm started no revision
within :data:`GRACE` seconds, when the readiness deadline and :data:`AFTER` have passed, or
when the cluster has not answered for :data:`LOST` seconds (shorter silences are skipped).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import pulumi.dynamic as dyn
import urllib3
from kubernetes.client.exceptions import ApiException

from helm_enterprise.errors import HelmEnterpriseError
from helm_enterprise.kube import helm_storage
from helm_enterprise.kube.client import ClusterAccess
from helm_enterprise.kube.pods import PodProblem, pod_problems
from helm_enterprise.ownership import LABEL_RELEASE

__all__ = [
    "RolloutStuckError",
    "RolloutWatch",
    "RolloutWatchProvider",
    "RolloutWatches",
    "Watch",
    "watch",
]

POLL = 2.0
STUCK_FOR = 6.0
GRACE = 30.0
# Helm marks the revision failed when its wait ends; the watch looks that long past the
# readiness deadline for it (an atomic rollback or uninstall follows).
AFTER = 60.0
# A revision updated this long before the watch started is still this run's (Helm can
# finish a quick upgrade before the dynamic-provider plugin has started).
RECENT = dt.timedelta(seconds=60)
SUCCEEDED = frozenset({"deployed", "superseded"})
FAILED = frozenset({"failed", "uninstalled"})
RELEASE_LABELS = ("app.kubernetes.io/instance", LABEL_RELEASE)
# A round in which the cluster does not answer tells nothing; the watch goes on, unless
# the cluster stays silent for LOST seconds (Helm cannot record its outcome meanwhile).
UNANSWERED = (ApiException, HelmEnterpriseError, urllib3.exceptions.HTTPError, OSError)
LOST = 20.0


class RolloutStuckError(HelmEnterpriseError):
    """The release's Pods could not become Ready, for the reasons named."""


@dataclasses.dataclass
class Watch:
    """What one watch knows (pure; :func:`watch` feeds it): this run's revision once seen,
    since when each problem is seen, and the stuck problems of the last round in which the
    release had Pods (the rollback that follows a failure deletes them)."""

    started_at: dt.datetime
    base_revision: int
    revision: int | None = None
    # Per Pod and container, whatever the reason: the kubelet alternates ErrImagePull and
    # ImagePullBackOff, which is one problem.
    first_seen: dict[tuple[str, str | None], float] = dataclasses.field(default_factory=dict)
    stuck: list[PodProblem] = dataclasses.field(default_factory=list)

    def outcome(self, history: list[helm_storage.HelmRecord]) -> str | None:
        """``succeeded`` or ``failed`` once this run's revision ended, else None."""
        if self.revision is None:
            newer = [r for r in history if r.revision > self.base_revision]
            latest = history[-1] if history else None
            if newer:
                self.revision = newer[0].revision
            elif latest and latest.updated and latest.updated >= self.started_at - RECENT:
                self.revision = latest.revision
            else:
                return None
        mine = [r for r in history if r.revision == self.revision]
        if not mine:
            return "failed"  # a failed install that Helm (atomic) uninstalled
        if mine[0].status in SUCCEEDED:
            return "succeeded"
        return "failed" if mine[0].status in FAILED else None

    def observe(self, pods: list[Mapping[str, Any]], now: float) -> None:
        """One round's Pods of the release: remember what is stuck for :data:`STUCK_FOR`."""
        live = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]
        problems = {(p.pod, p.container): p for p in pod_problems(live)}
        self.first_seen = {k: self.first_seen.get(k, now) for k in problems}
        if live:
            self.stuck = [p for k, p in problems.items() if now - self.first_seen[k] >= STUCK_FOR]


def release_pods(items: list[Mapping[str, Any]], release: str) -> list[Mapping[str, Any]]:
    """The Pods among ``items`` labelled as the release's."""
    return [
        pod
        for pod in items
        if any(
            ((pod.get("metadata") or {}).get("labels") or {}).get(label) == release
            for label in RELEASE_LABELS
        )
    ]


def watch(
    where: str,
    read_history: Callable[[], list[helm_storage.HelmRecord]],
    read_pods: Callable[[], list[Mapping[str, Any]]],
    deadline_seconds: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    stopped: Callable[[], bool] = lambda: False,
) -> str:
    """Watch until one of the ends in the module docstring, or until ``stopped()``; raise
    :class:`RolloutStuckError` naming the stuck Pods when this run's revision failed (or
    the deadline passed, or it was stopped) while they were stuck. Returns how it ended."""
    start = clock()
    state: Watch | None = None
    silent_since: float | None = None
    while not stopped() and clock() - start < deadline_seconds + AFTER:
        try:
            history = read_history()
            if state is None:
                base = history[-1].revision if history else 0
                state = Watch(started_at=now(), base_revision=base)
            ended = state.outcome(history)
            if ended == "succeeded":
                return f"revision {state.revision} deployed"
            if ended == "failed":
                break
            if state.revision is None and clock() - start > GRACE:
                return "no new revision"
            state.observe(read_pods(), clock())
            silent_since = None
        except UNANSWERED:
            silent_since = clock() if silent_since is None else silent_since
            if clock() - silent_since >= LOST:
                return "cluster not reachable"
        sleep(POLL)
    if state is not None and state.stuck:
        raise RolloutStuckError(
            f"{where}: the new Pods could not become Ready: "
            + "; ".join(p.line() for p in state.stuck)
        )
    if stopped():
        return "stopped"
    return "failed" if state is not None and state.revision is not None else "deadline"


def watch_cluster(
    release: str,
    namespace: str,
    deadline: float,
    access: ClusterAccess,
    stop: threading.Event | None = None,
) -> str:
    """:func:`watch` of one release in one cluster (until ``stop`` is set, if given)."""
    import kubernetes.client as k8s

    api = access.api_client()
    if api is None:
        return "no kubeconfig"
    core = k8s.CoreV1Api(api)

    def pods() -> list[Mapping[str, Any]]:
        answer = core.list_namespaced_pod(namespace, _request_timeout=15)
        items = api.sanitize_for_serialization(answer).get("items", [])
        return release_pods(items, release)

    try:
        return watch(
            f"{namespace}/{release}",
            lambda: helm_storage.history(api, namespace, release),
            pods,
            deadline,
            sleep=stop.wait if stop else time.sleep,
            stopped=stop.is_set if stop else lambda: False,
        )
    finally:
        api.close()


class RolloutWatch:
    """One release's watch as resource hooks of its Helm release (see the module docstring).

    ``run(stop)`` watches until ``stop`` is set (:func:`watch_cluster` in the program);
    ``report(message)`` is how a failure's stuck Pods reach the user. Each create or update
    of the Helm release starts one run; the engine never retries (the error hook says no).
    """

    JOIN = 20.0  # a round's API call has a 15 s timeout

    def __init__(self, run: Callable[[threading.Event], str], report: Callable[[str], None]):
        self._run, self._report = run, report
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: RolloutStuckError | None = None
        self.ended: str | None = None

    def start(self, _args: object = None) -> None:
        """``before_create``/``before_update``: Helm is about to deploy."""
        with self._lock:
            self._stop_thread(wait=False)
            self._stop, self._error, self.ended = threading.Event(), None, None
            self._thread = threading.Thread(
                target=self._watch, args=(self._stop,), name="rollout-watch", daemon=True
            )
            self._thread.start()

    def _watch(self, stop: threading.Event) -> None:
        try:
            ended = self._run(stop)
        except RolloutStuckError as err:
            self._error, ended = err, "stuck"
        except Exception as err:  # the watch only adds to failures, it never makes one
            ended = f"watch failed: {type(err).__name__}"
        self.ended = ended

    def finish(self, _args: object = None) -> None:
        """``after_create``/``after_update``: Helm deployed; nothing to say."""
        with self._lock:
            self._stop_thread(wait=False)

    async def failed(self, args: pulumi.ErrorHookArgs) -> bool:
        """The error hook: the install or upgrade failed; name the stuck Pods, if any. The
        watch's last round is awaited off the event loop (hooks run on it)."""
        if args.failed_operation in ("create", "update"):
            stuck = await asyncio.get_running_loop().run_in_executor(None, self._stop_failed)
            if stuck is not None:
                self._report(stuck)
        return False  # never ask the engine to retry

    def _stop_failed(self) -> str | None:
        with self._lock:
            self._stop_thread(wait=True)
            return str(self._error) if self._error is not None else None

    def _stop_thread(self, wait: bool) -> None:
        self._stop.set()
        if wait and self._thread is not None:
            self._thread.join(self.JOIN)


class RolloutWatches:
    """Every release's watch behind one set of program-wide hooks, dispatched by the Helm
    resource's name (hooks are registered with the engine one by one: three per release
    cost as much as the resource they replaced). A name seen twice is refused (``add``
    returns False) and that release gets hooks of its own."""

    def __init__(self) -> None:
        self._by_name: dict[str, RolloutWatch] = {}
        self._lock = threading.Lock()

    def add(self, resource_name: str, watch: RolloutWatch) -> bool:
        with self._lock:
            if resource_name in self._by_name:
                return False
            self._by_name[resource_name] = watch
            return True

    def _of(self, args: object) -> RolloutWatch | None:
        with self._lock:
            return self._by_name.get(str(getattr(args, "name", "")))

    def start(self, args: object) -> None:
        if watch := self._of(args):
            watch.start(args)

    def finish(self, args: object) -> None:
        if watch := self._of(args):
            watch.finish(args)

    async def failed(self, args: pulumi.ErrorHookArgs) -> bool:
        watch = self._of(args)
        return await watch.failed(args) if watch else False


class RolloutWatchProvider(dyn.ResourceProvider):
    """The dynamic provider of the watch when it was a resource (``<release>-rollout``).

    Kept only so that a stack deployed then can delete that resource: the engine unpickles
    the provider from the state by this name to call ``delete``, which does nothing (the
    watch never changed anything in the cluster)."""

    serialize_as_secret_always = False
