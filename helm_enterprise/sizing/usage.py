"""The usage of a release's containers, from cAdvisor's series in Prometheus."""

from __future__ import annotations

from helm_enterprise.config.slo import prometheus_duration
from helm_enterprise.sizing.recommend import CPU_PERCENTILE, Usage
from helm_enterprise.slo import prometheus

STEP = 15  # seconds between the points of the CPU subquery


def _selector(namespace: str, pods: list[str]) -> str:
    # Pod names are DNS names: only "." means something in a regex. PromQL's double-quoted
    # strings take Go escapes, so the regex's backslash is written twice.
    names = "|".join(p.replace(".", "\\\\.") for p in sorted(pods))
    return f'namespace="{namespace}", pod=~"{names}", container!="", container!="POD"'


def queries(namespace: str, pods: list[str], window: int) -> dict[str, str]:
    """The three PromQL queries, by what they measure (per container)."""
    sel = _selector(namespace, pods)
    w = prometheus_duration(window)
    memory = f"container_memory_working_set_bytes{{{sel}}}"
    # Samples are summed over the release's Pods, as KRR counts its points: a Pod the HPA
    # has just added has few of its own, and must not hide the history of the others.
    return {
        "cpu": (
            f"max by (container) (quantile_over_time({CPU_PERCENTILE}, "
            f"max by (container, pod) (rate(container_cpu_usage_seconds_total{{{sel}}}[1m]))"
            f"[{w}:{STEP}s]))"
        ),
        "memory": f"max by (container) (max_over_time({memory}[{w}]))",
        "samples": f"sum by (container) (count_over_time({memory}[{w}]))",
    }


def observed(address: str, namespace: str, pods: list[str], window: int) -> list[Usage]:
    """One :class:`Usage` per container seen in the window (``[]`` without pods)."""
    if not pods:
        return []
    found: dict[str, dict[str, float]] = {}
    for what, promql in queries(namespace, pods, window).items():
        for labels, value in prometheus.query(address, promql):
            found.setdefault(labels.get("container", ""), {})[what] = value
    return [
        Usage(
            container=name,
            cpu_p95_cores=v.get("cpu"),
            memory_peak_bytes=v.get("memory"),
            samples=int(v.get("samples", 0)),
        )
        for name, v in sorted(found.items())
    ]
