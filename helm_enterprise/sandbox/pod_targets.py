"""Prometheus scrape targets for the Pods on the sandbox's real nodes (file-based discovery).

Debian's Prometheus (2.42) is built without Kubernetes service discovery: a config with
``kubernetes_sd_configs`` stops it with ``field kubernetes_sd_configs not found in type
config.ScrapeConfig``. So the sandbox runs this small process next to it: every two seconds
it lists the Running Pods of each cluster with the cluster's admin certificate and writes
the annotated ones, in Prometheus' ``file_sd`` format, to one JSON file that Prometheus
watches. The result is what ``kubernetes_sd_configs`` with the usual relabelling gives:

* a Pod is a target when it is annotated ``prometheus.io/scrape: "true"``, runs on a real
  node (``<cluster>-real-<n>``; nothing listens at the addresses of kwok's fake Pods) and
  has a pod IP; ``prometheus.io/port`` (default 80) and ``prometheus.io/path`` (default
  ``/metrics``) say where;
* its series carry ``cluster``, ``namespace``, ``pod`` and ``instance_name`` (the Pod's
  ``app.kubernetes.io/instance`` label: the Helm release).

A cluster that cannot be listed keeps its last known targets (a restarting API server does
not empty the dashboards); the error goes to this process's log.

Run as ``python -m helm_enterprise.sandbox.pod_targets --out FILE --cluster NAME,SERVER,CA,
CERT,KEY ...`` (the sandbox does; see :class:`~helm_enterprise.sandbox.prometheus.
PrometheusServer`).
"""

from __future__ import annotations

import argparse
import json
import re
import ssl
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from helm_enterprise.sandbox._paths import replace_text

__all__ = ["ClusterAccess", "targets", "write_targets"]

ANNOTATION = "prometheus.io/"
RELEASE_LABEL = "app.kubernetes.io/instance"
INTERVAL = 2.0


@dataclass(frozen=True)
class ClusterAccess:
    """How to list one cluster's Pods."""

    name: str
    server: str
    ca: Path
    cert: Path
    key: Path

    def arg(self) -> str:
        return ",".join(str(v) for v in (self.name, self.server, self.ca, self.cert, self.key))

    @classmethod
    def parse(cls, text: str) -> ClusterAccess:
        parts = text.split(",")
        if len(parts) != 5:
            raise argparse.ArgumentTypeError(f"expected NAME,SERVER,CA,CERT,KEY, got {text!r}")
        name, server, ca, cert, key = parts
        return cls(name, server, Path(ca), Path(cert), Path(key))


def targets(cluster: str, pods: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``file_sd`` target groups for ``pods`` (items of a v1 PodList) of ``cluster``."""
    real_node = re.compile(rf"{re.escape(cluster)}-real-\d+")
    groups = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        spec, status = pod.get("spec") or {}, pod.get("status") or {}
        ip = status.get("podIP")
        port = str(annotations.get(f"{ANNOTATION}port", "80"))
        if (
            annotations.get(f"{ANNOTATION}scrape") != "true"
            or status.get("phase") != "Running"
            or not real_node.fullmatch(spec.get("nodeName") or "")
            or not ip
            or not port.isdigit()
        ):
            continue
        labels = {
            "__metrics_path__": annotations.get(f"{ANNOTATION}path") or "/metrics",
            "cluster": cluster,
            "namespace": meta.get("namespace", ""),
            "pod": meta.get("name", ""),
        }
        release = (meta.get("labels") or {}).get(RELEASE_LABEL)
        if release:
            labels["instance_name"] = release
        groups.append({"targets": [f"{ip}:{port}"], "labels": labels})
    return sorted(groups, key=lambda g: (g["labels"]["namespace"], g["labels"]["pod"]))


def write_targets(out: Path, groups: Sequence[Mapping[str, Any]]) -> bool:
    """Write ``groups`` to ``out`` atomically unless it already holds them; whether it
    changed (Prometheus reloads the file on every change)."""
    return replace_text(out, json.dumps(list(groups), indent=1, sort_keys=True) + "\n")


def _list_pods(access: ClusterAccess) -> list[dict[str, Any]]:
    ctx = ssl.create_default_context(cafile=str(access.ca))
    ctx.load_cert_chain(str(access.cert), str(access.key))
    with httpx.Client(verify=ctx, timeout=5.0) as client:
        resp = client.get(
            f"{access.server}/api/v1/pods", params={"fieldSelector": "status.phase=Running"}
        )
        resp.raise_for_status()
        items: list[dict[str, Any]] = resp.json().get("items", [])
        return items


def run(out: Path, clusters: Sequence[ClusterAccess], interval: float = INTERVAL) -> None:
    """List and write forever (until killed)."""
    known: dict[str, list[dict[str, Any]]] = {c.name: [] for c in clusters}
    failing: dict[str, str] = {}
    write_targets(out, [])
    while True:
        for access in clusters:
            try:
                known[access.name] = targets(access.name, _list_pods(access))
                if failing.pop(access.name, None):
                    print(f"cluster {access.name}: listing pods again", flush=True)
            except (httpx.HTTPError, OSError, ValueError) as err:
                message = f"{type(err).__name__}: {err}"
                if failing.get(access.name) != message:  # log each new problem once
                    print(f"cluster {access.name}: cannot list pods: {message}", flush=True)
                failing[access.name] = message
        groups = [g for c in clusters for g in known[c.name]]
        if write_targets(out, groups):
            print(f"{len(groups)} targets", flush=True)
        time.sleep(interval)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cluster", type=ClusterAccess.parse, action="append", default=[])
    parser.add_argument("--interval", type=float, default=INTERVAL)
    args = parser.parse_args(argv)
    run(args.out, args.cluster, args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
