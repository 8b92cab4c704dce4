"""The sandbox's Prometheus (Debian's), scraping the exporter port the tests control.

Metric-based health checks (T2.4) and canary analysis query it like a production
Prometheus. It scrapes ``127.0.0.1:<ServicePorts.exporter>/metrics`` every second, so a
test that changes what its exporter serves sees the change in a query within a few
seconds.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import httpx
import yaml

from helm_enterprise.sandbox import _paths
from helm_enterprise.sandbox._process import Service, ever_started, not_started
from helm_enterprise.sandbox.toolchain import Toolchain

Progress = Callable[[str], None]


class PrometheusServer:
    name = "prometheus"

    def __init__(self, toolchain: Toolchain) -> None:
        self.toolchain = toolchain
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
                    "scrape_configs": [
                        {
                            "job_name": "exporter",
                            "static_configs": [{"targets": [f"127.0.0.1:{self.ports.exporter}"]}],
                        }
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
            ],
            state_dir=self.state,
            log_dir=_paths.logs_dir(),
            probe=lambda: httpx.get(f"{self.address}/-/ready", timeout=2).status_code == 200,
            ports=(self.ports.prometheus,),
            ready_timeout=60.0,
        )

    def up(self, progress: Progress = print) -> None:
        service = self._service()
        if not service.running():
            progress("prometheus: starting")
        service.start()
        progress(f"prometheus: ready at {self.address}")

    def started(self) -> bool:
        """Whether ``up`` ever started Prometheus here (see :func:`ever_started`)."""
        return ever_started((self.name,), self.state, _paths.logs_dir())

    def down(self) -> None:
        if self.started():  # never started: nothing to stop (and no config to write)
            self._service().stop()

    def status(self) -> dict[str, Any]:
        if not self.started():
            return not_started(self.name)
        return {**self._service().describe(), "address": self.address}
