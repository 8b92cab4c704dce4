"""Deployment metrics in the ``helm_enterprise_`` namespace, computed from the audit log
(T4.3).

Every ``pulumi up``, rollback, health check, drift run and policy check already writes an
audit record (tamper-evident, on the machine that ran it), so the metrics are read from
there instead of kept a second time: a scrape of ``helm-enterprise metrics serve`` reads
the log and exposes

* ``helm_enterprise_operations_total{operation, phase, release, namespace}`` — creates,
  updates, deletes by outcome (``phase``: ``succeeded`` / ``failed``; Argo CD's
  ``sync_total{phase}`` pattern); previews are not counted;
* ``helm_enterprise_operation_duration_seconds{operation, release, namespace}`` — a
  histogram of their durations;
* ``helm_enterprise_rollbacks_total{release, namespace, trigger, result}``;
* ``helm_enterprise_health_checks_total{release, namespace, result}``;
* ``helm_enterprise_drift_findings_total{release, namespace}``;
* ``helm_enterprise_policy_violations_total{release, rule}``;
* ``helm_enterprise_release_info{release, namespace, chart, version, revision, status}`` — 1
  for the newest state of each release (removed once it is deleted);
* ``helm_enterprise_audit_records`` — how many records were read.

Why this and not a Pushgateway: a ``pulumi up`` is a short process on a CI runner or a
laptop; the audit log outlives it, already holds every number, and the exporter is one
process with no state of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

OPERATIONS = ("create", "update", "delete")
BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800)


def _labels(rec: Mapping[str, Any], *keys: str) -> dict[str, str]:
    return {k: str(rec.get(k) or "") for k in keys}


def registry_from(records: Iterable[Mapping[str, Any]]) -> CollectorRegistry:
    """A registry holding the metrics the records add up to."""
    reg = CollectorRegistry()
    ops = Counter(
        "helm_enterprise_operations",
        "Helm release operations by outcome",
        ["operation", "phase", "release", "namespace"],
        registry=reg,
    )
    duration = Histogram(
        "helm_enterprise_operation_duration_seconds",
        "How long Helm release operations took",
        ["operation", "release", "namespace"],
        buckets=BUCKETS,
        registry=reg,
    )
    rollbacks = Counter(
        "helm_enterprise_rollbacks",
        "Rollbacks by trigger (command, health-check, readiness, coordinated) and result",
        ["release", "namespace", "trigger", "result"],
        registry=reg,
    )
    health = Counter(
        "helm_enterprise_health_checks",
        "Health check runs by result",
        ["release", "namespace", "result"],
        registry=reg,
    )
    drift = Counter(
        "helm_enterprise_drift_findings",
        "Drifted objects found",
        ["release", "namespace"],
        registry=reg,
    )
    violations = Counter(
        "helm_enterprise_policy_violations",
        "Policy violations reported by the pack",
        ["release", "rule"],
        registry=reg,
    )
    info = Gauge(
        "helm_enterprise_release_info",
        "The newest known state of each release (1)",
        ["release", "namespace", "chart", "version", "revision", "status"],
        registry=reg,
    )
    read = Gauge("helm_enterprise_audit_records", "Audit records read", registry=reg)
    latest: dict[tuple[str, str], dict[str, str] | None] = {}
    count = 0
    for rec in records:
        count += 1
        action, result = rec.get("action"), str(rec.get("result") or "")
        if rec.get("dry_run") or (rec.get("phase") or "after") != "after":
            continue  # previews and "before" records count nothing
        key = (str(rec.get("release") or ""), str(rec.get("namespace") or ""))
        if action in OPERATIONS and result in ("succeeded", "failed"):
            ops.labels(operation=action, phase=result, release=key[0], namespace=key[1]).inc()
            seconds = rec.get("duration_seconds")
            if isinstance(seconds, int | float):
                duration.labels(operation=action, release=key[0], namespace=key[1]).observe(seconds)
            if action == "delete" and result == "succeeded":
                latest[key] = None
            elif result == "succeeded" or rec.get("status"):
                latest[key] = {
                    "chart": str(rec.get("chart") or ""),
                    "version": str(rec.get("chart_version") or ""),
                    "revision": str(rec.get("revision") or ""),
                    "status": str(
                        rec.get("status") or ("deployed" if result == "succeeded" else result)
                    ),
                }
        elif action == "rollback":
            rollbacks.labels(**_labels(rec, "release", "namespace", "trigger"), result=result).inc()
        elif action == "health-check":
            health.labels(**_labels(rec, "release", "namespace"), result=result).inc()
        elif action == "drift-found":  # one record per drifted object
            drift.labels(**_labels(rec, "release", "namespace")).inc()
        elif action == "policy-violation":
            violations.labels(**_labels(rec, "release", "rule")).inc()
    for (release, namespace), state in latest.items():
        if state is not None:
            info.labels(release=release, namespace=namespace, **state).set(1)
    read.set(count)
    return reg


def exposition(records: Iterable[Mapping[str, Any]]) -> bytes:
    """The Prometheus text format of :func:`registry_from`."""
    return generate_latest(registry_from(records))
