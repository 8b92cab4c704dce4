"""Steady HTTP traffic to a Service of a sandbox cluster, counted by answer.

A thread sends ``GET`` to a Service through the API server's service proxy (as the
cluster admin, one kept-alive TLS connection), as fast as one client goes, and records
``(wall-clock time, answer)``: the JSON ``message`` field podinfo answers with (each
version of a test release is deployed with its own), or ``error <status>``. The API server
picks one ready endpoint of the Service at random for every request, so the answers are a
sample of what the Service's Pods serve. Used by the progressive-delivery tests and
benchmark (traffic moved between versions, failed requests counted).
"""

from __future__ import annotations

import ssl
import threading
import time

import httpx

from helm_enterprise.kube.proxy import service_proxy_path
from helm_enterprise.sandbox.cluster import Cluster


class ServiceTraffic:
    def __init__(
        self, cluster: Cluster, namespace: str, service: str, path: str = "/", pause: float = 0.1
    ) -> None:
        tls = ssl.create_default_context(cafile=str(cluster.pki.path("ca.crt")))
        tls.load_cert_chain(str(cluster.pki.path("admin.crt")), str(cluster.pki.path("admin.key")))
        self.url = cluster.server + service_proxy_path(namespace, service, "http", path)
        self.client = httpx.Client(verify=tls, timeout=5, trust_env=False)
        self.pause = pause
        self.samples: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                resp = self.client.get(self.url)
                answer = (
                    str(resp.json().get("message", "?"))
                    if resp.status_code == 200
                    else f"error {resp.status_code}"
                )
            except (httpx.HTTPError, ValueError) as err:
                answer = f"error {type(err).__name__}"
            self.samples.append((time.time(), answer))
            time.sleep(self.pause)

    def between(self, start: float, end: float) -> list[str]:
        """The answers recorded from ``start`` to ``end`` (wall-clock seconds)."""
        return [a for t, a in self.samples if start <= t < end]

    def errors(self, start: float = 0.0, end: float = float("inf")) -> int:
        return sum(a.startswith("error") for a in self.between(start, end))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)
        self.client.close()
