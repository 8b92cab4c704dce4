"""Where a rollout's state lives: one ConfigMap per release, next to its Pods.

``helm-enterprise-rollout-<release>`` in the release's namespace holds the
:class:`~helm_enterprise.strategy.plan.State` as JSON under ``state``. In the cluster (like
the ownership record), not in Pulumi's state: a killed ``pulumi up`` leaves it where the
rollout was, every machine running the stack reads the same one, and ``helm-enterprise
promote`` / ``abort`` reach it with nothing but cluster credentials.

Writers never lose a request: ``promote`` and ``abort`` only increase counters, and a
rollout saving its progress keeps the larger counts it finds (optimistic concurrency on
the object's resourceVersion, retried on conflict).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from helm_enterprise.strategy.plan import State

PREFIX = "helm-enterprise-rollout-"
ATTEMPTS = 5


def name(release: str) -> str:
    return f"{PREFIX}{release}"


def _read_raw(core: Any, namespace: str, release: str) -> Any | None:
    try:
        return core.read_namespaced_config_map(name(release), namespace)
    except ApiException as err:
        if err.status == 404:
            return None
        raise


def _decode(obj: Any) -> State | None:
    if obj is None:
        return None
    raw = (obj.data or {}).get("state")
    return State.from_dict(json.loads(raw)) if raw else None


def read(api: k8s.ApiClient, namespace: str, release: str) -> State | None:
    """The release's rollout state, or None when it has none yet."""
    return _decode(_read_raw(k8s.CoreV1Api(api), namespace, release))


def update(
    api: k8s.ApiClient,
    namespace: str,
    release: str,
    change: Callable[[State | None], State],
    labels: Mapping[str, str] | None = None,
) -> State:
    """Read, ``change``, write back; retried when someone else wrote in between."""
    core = k8s.CoreV1Api(api)
    for _ in range(ATTEMPTS):
        obj = _read_raw(core, namespace, release)
        current = _decode(obj)
        new = change(current)
        if current is not None:  # requests only ever grow
            new = _keep_requests(new, current)
        body = {
            "metadata": {
                "name": name(release),
                "namespace": namespace,
                "labels": dict(labels or {}),
                **({"resourceVersion": obj.metadata.resource_version} if obj else {}),
            },
            "data": {"state": json.dumps(new.to_dict(), sort_keys=True)},
        }
        try:
            if obj is None:
                core.create_namespaced_config_map(namespace, body)
            else:
                body["metadata"]["labels"] = {**(obj.metadata.labels or {}), **(labels or {})}
                core.replace_namespaced_config_map(name(release), namespace, body)
        except ApiException as err:
            if err.status in (409,):
                continue
            raise
        return new
    raise RuntimeError(f"{namespace}/{name(release)} kept changing; try again")


def _keep_requests(new: State, current: State) -> State:
    return dataclasses.replace(
        new,
        promotions=max(new.promotions, current.promotions),
        aborts=max(new.aborts, current.aborts),
    )


def delete(api: k8s.ApiClient, namespace: str, release: str) -> None:
    try:
        k8s.CoreV1Api(api).delete_namespaced_config_map(name(release), namespace)
    except ApiException as err:
        if err.status != 404:
            raise
