"""The rollout watch: when Helm's wait for a release's Pods fails, say why they were not Ready.

Helm's readiness wait (and so the Helm provider's error) only says that the time ran out:
``failed to become available within allocated timeout ... context deadline exceeded``. The
Pods know why: an image that cannot be pulled (with the registry's answer), a container that
crashes or cannot be created, a Pod that no node accepts. This dynamic resource runs next to
the Helm release — not after it, which would never run when the release fails — and lists
the release's Pods every two seconds while Helm works on this run's revision, remembering
the Pods stuck for at least :data:`STUCK_FOR` seconds. It only ever adds to a failure:
when Helm marks the revision failed (or removes a failed install) while Pods were stuck,
it fails its step with the Pods' reasons, so the failed ``pulumi up`` names them next to
Helm's timeout. A rollout that recovers (a slow registry, a Pod that waits for a node to be
added) and that Helm reports deployed ends the watch quietly.

It also ends quietly when Helm started no revision within :data:`GRACE` seconds (the run
changed nothing Helm deploys), when the readiness deadline and :data:`AFTER` have passed,
or when the cluster has not answered for :data:`LOST` seconds (the release reports that;
shorter silences are skipped). It changes nothing in the cluster.

Its trigger is a digest of what makes Helm deploy (chart, version, values): it runs exactly
when the Helm release is created or updated, never on a run that changes nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import pulumi.dynamic as dyn
import urllib3
from kubernetes.client.exceptions import ApiException

from helm_enterprise.errors import HelmEnterpriseError, message_only
from helm_enterprise.kube import helm_storage
from helm_enterprise.kube.client import ClusterAccess
from helm_enterprise.kube.pods import PodProblem, pod_problems
from helm_enterprise.ownership import LABEL_RELEASE

__all__ = ["RolloutStuckError", "RolloutWatchResource", "Watch", "watch"]

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
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> str:
    """Watch until one of the ends in the module docstring; raise
    :class:`RolloutStuckError` naming the stuck Pods when this run's revision failed (or
    the deadline passed) while they were stuck. Returns how it ended."""
    start = clock()
    state: Watch | None = None
    silent_since: float | None = None
    while clock() - start < deadline_seconds + AFTER:
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
    return "failed" if state is not None and state.revision is not None else "deadline"


def watch_cluster(release: str, namespace: str, deadline: float, access: ClusterAccess) -> str:
    """:func:`watch` of one release in one cluster."""
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
        )
    finally:
        api.close()


class RolloutWatchProvider(dyn.ResourceProvider):
    """Dynamic provider: create/update watch; a changed trigger is an update."""

    # It captures no secret: its serialised form stays plain in the state (Pulumi's default
    # encrypts it for every resource).
    serialize_as_secret_always = False

    def _watch(self, props: dict[str, Any]) -> dict[str, Any]:
        access = ClusterAccess(props.get("kubeconfig") or None, props.get("context") or None)
        ended = watch_cluster(
            props["release"], props["namespace"], float(props["deadline"]), access
        )
        return {**props, "ended": ended}

    @message_only
    def create(self, props: dict[str, Any]) -> dyn.CreateResult:
        outs = self._watch(props)
        return dyn.CreateResult(id_=f"{props['namespace']}/{props['release']}", outs=outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.DiffResult:
        keys = ("trigger", "release", "namespace", "deadline")
        changed = [k for k in keys if olds.get(k) != news.get(k)]
        return dyn.DiffResult(
            changes=bool(changed), replaces=[], stables=[], delete_before_replace=False
        )

    @message_only
    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dyn.UpdateResult:
        return dyn.UpdateResult(outs=self._watch(news))


class RolloutWatchResource(dyn.Resource):
    """One release's rollout watch (``helm-enterprise`` dynamic resource)."""

    ended: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        release: str,
        namespace: str,
        trigger: pulumi.Input[str],
        deadline: int,
        access: ClusterAccess,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            RolloutWatchProvider(),
            name,
            {
                "release": release,
                "namespace": namespace,
                "trigger": trigger,
                "deadline": deadline,
                "kubeconfig": access.kubeconfig,
                "context": access.context,
                "ended": None,
            },
            opts,
        )
