"""A release's SLOs as OpenSLO ``openslo/v1`` documents (T4.3), for tools that read the
vendor-neutral format. Pure."""

from __future__ import annotations

from typing import Any

from helm_enterprise.config.slo import SloConfig, prometheus_duration


def documents(release: str, slos: list[SloConfig]) -> list[dict[str, Any]]:
    """One ``SLO`` document per SLO, its indicator inline (``ratioMetric`` for events,
    ``thresholdMetric`` for a raw error ratio), the objective as ``target`` (0-1)."""
    docs = []
    for slo in slos:
        window = prometheus_duration(slo.window)
        if slo.sli.events is not None:
            spec: dict[str, Any] = {
                "ratioMetric": {
                    "counter": True,
                    "bad": _metric(slo.sli.events.error_query, window),
                    "total": _metric(slo.sli.events.total_query, window),
                }
            }
        else:
            assert slo.sli.raw is not None
            spec = {"thresholdMetric": _metric(slo.sli.raw.error_ratio_query, window)}
        docs.append(
            {
                "apiVersion": "openslo/v1",
                "kind": "SLO",
                "metadata": {
                    "name": f"{release}-{slo.name}",
                    "displayName": slo.description or f"{release} {slo.name}",
                    "labels": {"helm-enterprise.io/release": [release]},
                },
                "spec": {
                    "description": slo.description,
                    "service": release,
                    "indicator": {"metadata": {"name": f"{release}-{slo.name}-sli"}, "spec": spec},
                    "timeWindow": [{"duration": window, "isRolling": True}],
                    "budgetingMethod": "Occurrences",
                    "objectives": [
                        {"displayName": slo.name, "target": round(slo.objective / 100, 10)}
                    ],
                },
            }
        )
    return docs


def _metric(query: str, window: str) -> dict[str, Any]:
    return {
        "metricSource": {
            "type": "Prometheus",
            "spec": {"query": query.replace("{{.window}}", window)},
        }
    }
