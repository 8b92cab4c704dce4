"""Moving traffic between the two colours of a release, through the Kubernetes API.

Every object of a colour's Helm release carries ``helm-enterprise.io/rollout: <release>``
and ``helm-enterprise.io/colour: <colour>`` (the post-renderer adds them, also to Pod
templates). Traffic follows Services this package owns:

* blue/green: the *active* Service selects the active colour's Pods, the optional
  *preview* Service the target's; a switch is one change of the Service's selector, which
  the endpoints controller applies at once, so no request finds two colours or none;
* canary: the Service selects both colours' Pods and the share of requests is the share of
  ready Pods (replica ratio; the Service spreads requests over its ready endpoints).

The Services copy the ports of the colour's own Service (the chart's), so any chart with a
Service works unchanged. Replica counts are set through each Deployment's scale
subresource; what a Deployment declared is kept in its ``helm-enterprise.io/replicas``
annotation (the post-renderer writes it), the number 100 % means.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from helm_enterprise.kube.postrender import ANNOTATION_REPLICAS

LABEL_ROLLOUT = "helm-enterprise.io/rollout"
LABEL_COLOUR = "helm-enterprise.io/colour"


def colour_release(release: str, colour: str) -> str:
    """The Helm release name of one colour."""
    return f"{release}-{colour}"


@dataclasses.dataclass(frozen=True)
class Workload:
    name: str
    declared: int  # replicas the chart asked for (100 %)
    replicas: int  # replicas now
    ready: int
    up_to_date: bool

    def pair_key(self, release: str, colour: str) -> str:
        """The same workload in both colours has the same key (its name with the colour's
        release name left out)."""
        return self.name.replace(colour_release(release, colour), "*")


class KubeTraffic:
    """The traffic operations of one release, with one API client."""

    def __init__(self, api: k8s.ApiClient, namespace: str, release: str) -> None:
        self.core = k8s.CoreV1Api(api)
        self.apps = k8s.AppsV1Api(api)
        self.namespace, self.release = namespace, release

    def _selector(self, colour: str | None) -> dict[str, str]:
        sel = {LABEL_ROLLOUT: self.release}
        if colour is not None:
            sel[LABEL_COLOUR] = colour
        return sel

    def workloads(self, colour: str) -> list[Workload]:
        label = ",".join(f"{k}={v}" for k, v in self._selector(colour).items())
        items = self.apps.list_namespaced_deployment(self.namespace, label_selector=label).items
        out = []
        for d in sorted(items, key=lambda d: d.metadata.name):
            annotations = d.metadata.annotations or {}
            spec = d.spec.replicas if d.spec.replicas is not None else 1
            declared = int(annotations.get(ANNOTATION_REPLICAS, spec))
            status = d.status
            up_to_date = (status.observed_generation or 0) >= (d.metadata.generation or 0) and (
                status.updated_replicas or 0
            ) >= spec
            out.append(
                Workload(d.metadata.name, declared, spec, status.ready_replicas or 0, up_to_date)
            )
        return out

    def scale(self, name: str, replicas: int) -> None:
        self.apps.patch_namespaced_deployment_scale(
            name, self.namespace, {"spec": {"replicas": replicas}}
        )

    def ready(self, colour: str) -> bool:
        """Every workload of the colour has as many ready Pods as it asks for (and no
        more: a scale-down is done when the extra Pods left the endpoints)."""
        return all(w.up_to_date and w.ready == w.replicas for w in self.workloads(colour))

    def _ports(self, colour: str) -> list[dict[str, Any]]:
        label = ",".join(f"{k}={v}" for k, v in self._selector(colour).items())
        services = self.core.list_namespaced_service(self.namespace, label_selector=label).items
        if not services:
            raise LookupError(
                f"the chart of {colour_release(self.release, colour)} has no Service to copy "
                "ports from; a strategy needs one"
            )
        svc = sorted(services, key=lambda s: s.metadata.name)[0]
        return [
            {
                "name": p.name,
                "port": p.port,
                "targetPort": p.target_port,
                "protocol": p.protocol or "TCP",
            }
            for p in svc.spec.ports
        ]

    def route(
        self, service: str, colour: str | None, ports_from: str, labels: Mapping[str, str]
    ) -> bool:
        """Point ``service`` at ``colour``'s Pods (both colours when None); create it with
        the ports of ``ports_from``'s Service if it is missing. Returns whether the
        selector changed."""
        selector = self._selector(colour)
        try:
            live = self.core.read_namespaced_service(service, self.namespace)
        except ApiException as err:
            if err.status != 404:
                raise
            body = {
                "metadata": {"name": service, "labels": {**labels, LABEL_ROLLOUT: self.release}},
                "spec": {
                    "type": "ClusterIP",
                    "selector": selector,
                    "ports": self._ports(ports_from),
                },
            }
            self.core.create_namespaced_service(self.namespace, body)
            return True
        if (live.spec.selector or {}) == selector:
            return False
        # A JSON merge patch would keep the old keys; replace the selector as a whole.
        self.core.patch_namespaced_service(
            service,
            self.namespace,
            [{"op": "replace", "path": "/spec/selector", "value": selector}],
        )
        return True

    def delete_service(self, service: str) -> None:
        try:
            live = self.core.read_namespaced_service(service, self.namespace)
        except ApiException as err:
            if err.status == 404:
                return
            raise
        if (live.metadata.labels or {}).get(LABEL_ROLLOUT) == self.release:  # ours only
            self.core.delete_namespaced_service(service, self.namespace)
