"""Right-sizing (T3.5): KRR's simple strategy, the quantities, the values patch, the PromQL."""

from __future__ import annotations

from helm_enterprise.sizing.recommend import (
    Usage,
    cpu_quantity,
    memory_quantity,
    recommend,
    values_patch,
)
from helm_enterprise.sizing.usage import queries


def test_quantities_round_up_with_floors() -> None:
    assert cpu_quantity(0.0123) == "13m" and cpu_quantity(0.001) == "10m"
    assert cpu_quantity(1.5) == "1500m"
    assert memory_quantity(100 * 2**20 + 1) == "101Mi" and memory_quantity(1) == "16Mi"


def test_cpu_p95_and_memory_peak_plus_15_percent() -> None:
    r = recommend(Usage("web", 0.2501, 200 * 2**20, samples=240), min_samples=100)
    assert (r.cpu_request, r.memory_request, r.memory_limit) == ("251m", "230Mi", "230Mi")
    assert "p95" in r.reason and "+ 15%" in r.reason


def test_too_few_samples_give_no_recommendation() -> None:
    r = recommend(Usage("web", 0.25, 2**20, samples=12), min_samples=100)
    assert r.cpu_request is None and "12 samples, 100 required" in r.reason
    assert values_patch([r], "resources") == {}


def test_values_patch_per_path_and_container() -> None:
    one = recommend(Usage("web", 0.1, 64 * 2**20, 200), 100)
    assert values_patch([one], "resources") == {
        "resources": {"requests": {"cpu": "100m", "memory": "74Mi"}, "limits": {"memory": "74Mi"}}
    }
    two = recommend(Usage("sidecar", 0.01, 16 * 2**20, 200), 100)
    patch = values_patch([one, two], "app.resources")
    assert set(patch["app"]["resources"]) == {"web", "sidecar"}


def test_queries_select_the_release_pods_per_container() -> None:
    q = queries("shop", ["web-7d9-abc", "web.7d9-def"], 3600)
    assert 'pod=~"web-7d9-abc|web\\\\.7d9-def"' in q["cpu"]
    assert "quantile_over_time(0.95," in q["cpu"] and "[1h:15s]" in q["cpu"]
    assert q["memory"].startswith("max by (container) (max_over_time(container_memory_working_set")
    # Counted over all the release's Pods: a Pod just scaled up does not hide the others'.
    assert q["samples"].startswith("sum by (container) (count_over_time(container_memory")
