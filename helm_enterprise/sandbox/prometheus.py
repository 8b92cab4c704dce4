"""The sandbox's Prometheus (Debian's): the pods of the real nodes, and an exporter port.

Metric-based health checks (T2.4) and canary analysis query it like a production
Prometheus. Two kinds of targets:

* **Pods** of every sandbox cluster (job ``pods``): a Pod annotated
  ``prometheus.io/scrape: "true"`` (``prometheus.io/port``, ``prometheus.io/path``) that runs
  on a real node is scraped at its pod IP every 2 seconds — the host reaches pod IPs over
  each node's bridge. Series carry ``cluster``, ``namespace``, ``pod`` and
  ``instance_name`` (the ``app.kubernetes.io/instance`` label, i.e. the Helm release).
  Pods on kwok's fake nodes are skipped: nothing listens at their addresses. Debian's
  Prometheus has no Kubernetes service discovery, so the targets come from a file that
  :mod:`.pod_targets` (the ``prometheus-targets`` process) keeps current.
* ``127.0.0.1:<ServicePorts.exporter>/metrics`` every second, for tests that serve the
  values they need themselves (and ``helm-enterprise audit metrics --serve``);
* each real node's cAdvisor (job ``cadvisor-<cluster>``, every 5 seconds):
  ``container_cpu_usage_seconds_total`` and ``container_memory_working_set_bytes`` per
  container, which ``helm-enterprise rightsize`` reads, through the API server's node proxy.

Rules are evaluated every second from the files in :attr:`PrometheusServer.rules_dir`
(releases' SLO rules, T4.3); the lifecycle API is on, so ``POST /-/reload`` reads them.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

from helm_enterprise.sandbox import _paths
from helm_enterprise.sandbox._process import Service, ever_started, not_started
from helm_enterprise.sandbox.cluster import Cluster
from helm_enterprise.sandbox.node import node_name
from helm_enterprise.sandbox.pod_targets import ClusterAccess
from helm_enterprise.sandbox.toolchain import Toolchain

Progress = Callable[[str], None]


class PrometheusServer:
    name = "prometheus"

    def __init__(self, toolchain: Toolchain, clusters: Sequence[Cluster] = ()) -> None:
        self.toolchain = toolchain
        self.clusters = list(clusters)
        self.state = _paths.state_dir(self.name)

    @functools.cached_property
    def ports(self) -> _paths.ServicePorts:
        return _paths.ServicePorts.default()

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.ports.prometheus}"

    @property
    def exporter_port(self) -> int:
        """Where tests serve /metrics for Prometheus to scrape."""
        return self.ports.exporter

    def _service(self) -> Service:
        self.state.mkdir(parents=True, exist_ok=True)
        conf = self.state / "prometheus.yml"
        conf.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    # Releases' SLO rules (T4.3) land here; `POST /-/reload` reads them.
                    "rule_files": [str(self.rules_dir / "*.yml")],
                    "scrape_configs": [
                        {
                            "job_name": "exporter",
                            "static_configs": [{"targets": [f"127.0.0.1:{self.ports.exporter}"]}],
                        },
                        *self._cadvisor_jobs(),
                        {
                            "job_name": "pods",
                            "scrape_interval": "2s",
                            "file_sd_configs": [
                                {"files": [str(self.targets_file)], "refresh_interval": "5s"}
                            ],
                        },
                    ],
                }
            )
        )
        return Service(
            name="prometheus",
            argv=[
                self.toolchain.path("prometheus"),
                f"--config.file={conf}",
                f"--storage.tsdb.path={self.state / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.ports.prometheus}",
                "--storage.tsdb.retention.time=1d",
                "--web.enable-lifecycle",
            ],
            state_dir=self.state,
            log_dir=_paths.logs_dir(),
            probe=lambda: httpx.get(f"{self.address}/-/ready", timeout=2).status_code == 200,
            ports=(self.ports.prometheus,),
            ready_timeout=60.0,
        )

    def _cadvisor_jobs(self) -> list[dict[str, Any]]:
        """The real node's cAdvisor (container CPU and memory, for right-sizing), through
        the API server's node proxy with the admin certificate: the host reaches the API
        server, and the kubelet needs no port of its own opened to Prometheus."""
        jobs = []
        for c in self.clusters:
            pki = c.pki.path
            jobs.append(
                {
                    "job_name": f"cadvisor-{c.name}",
                    "scheme": "https",
                    "scrape_interval": "5s",
                    "metrics_path": f"/api/v1/nodes/{node_name(c.name)}/proxy/metrics/cadvisor",
                    "tls_config": {
                        "ca_file": str(pki("ca.crt")),
                        "cert_file": str(pki("admin.crt")),
                        "key_file": str(pki("admin.key")),
                    },
                    "static_configs": [
                        {
                            "targets": [c.server.removeprefix("https://")],
                            "labels": {"cluster": c.name},
                        }
                    ],
                }
            )
        return jobs

    @property
    def rules_dir(self) -> Path:
        """Where releases write their SLO rule files (``helm-enterprise:prometheus``'s
        ``ruleFilesDir`` on the sandbox)."""
        path = self.state / "rules"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def targets_file(self) -> Path:
        """The ``file_sd`` file of the real nodes' Pods (see :mod:`.pod_targets`)."""
        return self.state / "pod-targets.json"

    def _discovery(self) -> Service:
        accesses = []
        for c in self.clusters:
            pki = c.pki.path
            accesses.append(
                ClusterAccess(c.name, c.server, pki("ca.crt"), pki("admin.crt"), pki("admin.key"))
            )
        return Service(
            name="prometheus-targets",
            argv=[
                sys.executable,
                "-m",
                "helm_enterprise.sandbox.pod_targets",
                f"--out={self.targets_file}",
                *(f"--cluster={a.arg()}" for a in accesses),
            ],
            state_dir=self.state,
            log_dir=_paths.logs_dir(),
            probe=self.targets_file.exists,
            ready_timeout=30.0,
        )

    def _services(self) -> list[Service]:
        return [self._discovery(), self._service()]

    def up(self, progress: Progress = print) -> None:
        for service in self._services():
            if not service.running():
                progress(f"prometheus: starting {service.name}")
            service.start()
        progress(f"prometheus: ready at {self.address}")

    def started(self) -> bool:
        """Whether ``up`` ever started Prometheus here (see :func:`ever_started`)."""
        return ever_started((self.name,), self.state, _paths.logs_dir())

    def down(self) -> None:
        if self.started():  # never started: nothing to stop (and no config to write)
            for service in reversed(self._services()):
                service.stop()

    def status(self) -> list[dict[str, Any]]:
        if not self.started():
            return [not_started(n) for n in (self.name, "prometheus-targets")]
        discovery, server = self._services()
        return [{**server.describe(), "address": self.address}, discovery.describe()]
