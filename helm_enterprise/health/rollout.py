"""The rollout watch: while Helm waits for a release's Pods, say why they cannot be Ready.

Helm's readiness wait (and so the Helm provider's error) only says that the time ran out:
``failed to become available within allocated timeout ... context deadline exceeded``. The
Pods know why: an image that cannot be pulled (with the registry's answer), a container that
crashes or cannot be created, a Pod that no node accepts. This dynamic resource runs next to
the Helm release — not after it, which would never run when the release fails — and lists
the release's Pods every two seconds while Helm works on a new revision. When a Pod stays
stuck for a few seconds (:data:`STUCK_FOR`; the kubelet's own back-off has already retried
by then) it fails the step with the Pods' reasons, so the failed ``pulumi up`` names them
next to Helm's timeout. Helm keeps waiting and, with ``atomic``, still rolls back.

It ends quietly when the revision Helm made for this run is deployed or failed (Helm
reports a failure itself), when Helm started no revision within :data:`GRACE` seconds (the
run changed nothing Helm deploys), at the readiness deadline, or when the cluster cannot be
reached (the release reports that). It changes nothing in the cluster.

Its trigger is a digest of what makes Helm deploy (chart, version, values): it runs exactly
when the Helm release is created or updated, never on a run that changes nothing.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic as dyn

from helm_enterprise.errors import HelmEnterpriseError
from helm_enterprise.kube import helm_storage
from helm_enterprise.kube.client import ClusterAccess
from helm_enterprise.kube.pods import PodProblem, pod_problems

__all__ = ["RolloutStuckError", "RolloutWatchResource", "Watch", "watch"]

POLL = 2.0
STUCK_FOR = 6.0
GRACE = 30.0
# A revision deployed this long before the watch started is still this run's (Helm can
# finish a quick upgrade before the dynamic-provider plugin has started).
RECENT = dt.timedelta(seconds=60)
DONE = frozenset({"deployed", "superseded", "failed", "uninstalled"})
RELEASE_LABELS = ("app.kubernetes.io/instance", "helm-enterprise.io/release")


class RolloutStuckError(HelmEnterpriseError):
    """The release's Pods cannot become Ready, for the reasons named."""


@dataclass
class Watch:
    """The state of one watch: what is stuck since when (pure; :func:`watch` feeds it)."""

    started_at: dt.datetime
    base_revision: int
    first_seen: dict[tuple[str, str | None, str], float]

    def ours(self, latest: helm_storage.HelmRecord | None) -> bool:
        """Whether ``latest`` is the revision this run's Helm release makes."""
        if latest is None:
            return False
        if latest.revision > self.base_revision:
            return True
        return latest.updated is not None and latest.updated >= self.started_at - RECENT

    def stuck(self, problems: list[PodProblem], now: float) -> list[PodProblem]:
        """The problems seen for at least :data:`STUCK_FOR` seconds (others are forgotten)."""
        keys = {(p.pod, p.container, p.reason): p for p in problems}
        self.first_seen = {k: self.first_seen.get(k, now) for k in keys}
        return [p for k, p in keys.items() if now - self.first_seen[k] >= STUCK_FOR]


def _release_pods(items: list[Mapping[str, Any]], release: str) -> list[Mapping[str, Any]]:
    return [
        pod
        for pod in items
        if any(
            ((pod.get("metadata") or {}).get("labels") or {}).get(label) == release
            for label in RELEASE_LABELS
        )
    ]


def watch(
    release: str,
    namespace: str,
    deadline_seconds: float,
    access: ClusterAccess,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Watch until one of the ends in the module docstring; raise
    :class:`RolloutStuckError` naming stuck Pods. Returns how it ended."""
    import kubernetes.client as k8s

    api = access.reachable_client()
    if api is None:
        return "cluster not reachable"
    try:
        start = clock()
        hist = helm_storage.history(api, namespace, release)
        state = Watch(
            started_at=dt.datetime.now(dt.UTC),
            base_revision=hist[-1].revision if hist else 0,
            first_seen={},
        )
        core = k8s.CoreV1Api(api)
        while clock() - start < deadline_seconds:
            hist = helm_storage.history(api, namespace, release)
            latest = hist[-1] if hist else None
            ours = state.ours(latest)
            if ours and latest is not None and latest.status in DONE:
                return f"revision {latest.revision} {latest.status}"
            if not ours and clock() - start > GRACE:
                return "no new revision"
            pods = api.sanitize_for_serialization(
                core.list_namespaced_pod(namespace, _request_timeout=15)
            ).get("items", [])
            stuck = state.stuck(pod_problems(_release_pods(pods, release)), clock())
            if stuck:
                raise RolloutStuckError(
                    f"{namespace}/{release}: the new Pods cannot become Ready: "
                    + "; ".join(p.line() for p in stuck)
                )
            sleep(POLL)
        return "deadline"
    finally:
        api.close()


class RolloutWatchProvider(dyn.ResourceProvider):
    """Dynamic provider: create/update watch; a changed trigger is an update."""

    def _watch(self, props: dict[str, Any]) -> dict[str, Any]:
        access = ClusterAccess(props.get("kubeconfig") or None, props.get("context") or None)
        ended = watch(props["release"], props["namespace"], float(props["deadline"]), access)
        return {**props, "ended": ended}

    def create(self, props: dict[str, Any]) -> dyn.CreateResult:
        outs = self._watch(props)
        return dyn.CreateResult(id_=f"{props['namespace']}/{props['release']}", outs=outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.DiffResult:
        keys = ("trigger", "release", "namespace", "deadline")
        changed = [k for k in keys if olds.get(k) != news.get(k)]
        return dyn.DiffResult(
            changes=bool(changed), replaces=[], stables=[], delete_before_replace=False
        )

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
