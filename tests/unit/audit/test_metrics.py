"""Deployment metrics from the audit log (T4.3)."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from helm_enterprise.audit.metrics import exposition


def rec(action: str, result: str, phase: str | None = "after", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "action": action,
        "result": result,
        "release": "web",
        "namespace": "shop",
    }
    if phase:
        out["phase"] = phase
    return {**out, **extra}


def samples(records: list[dict[str, Any]]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = exposition(records).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_operations_rollbacks_and_release_info() -> None:
    records = [
        rec("create", "started", phase="before"),
        rec(
            "create",
            "succeeded",
            duration_seconds=12.5,
            chart="hello",
            chart_version="0.1.0",
            revision=1,
            status="deployed",
        ),
        rec("update", "planned", dry_run=True),  # a preview: not counted
        rec("update", "failed", duration_seconds=40, error="timeout"),
        rec("rollback", "succeeded", trigger="readiness"),
        rec(
            "update",
            "succeeded",
            duration_seconds=8,
            chart="hello",
            chart_version="0.2.0",
            revision=3,
            status="deployed",
        ),
        rec("health-check", "unhealthy"),
        rec("drift-found", "drifted", phase=None),
        rec("drift-found", "missing", phase=None),
        rec("policy-violation", "violation", rule="pinned-images"),
        rec("create", "succeeded", release="gone", revision=1, status="deployed"),
        rec("delete", "succeeded", release="gone"),
    ]
    got = samples(records)
    web = (("namespace", "shop"), ("release", "web"))

    def key(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        return (name, tuple(sorted({**dict(web), **labels}.items())))

    assert got[key("helm_enterprise_operations_total", operation="create", phase="succeeded")] == 1
    assert got[key("helm_enterprise_operations_total", operation="update", phase="failed")] == 1
    assert got[key("helm_enterprise_operations_total", operation="update", phase="succeeded")] == 1
    assert got[key("helm_enterprise_operation_duration_seconds_count", operation="update")] == 2
    assert got[key("helm_enterprise_operation_duration_seconds_sum", operation="update")] == 48
    assert got[key("helm_enterprise_rollbacks_total", trigger="readiness", result="succeeded")] == 1
    assert got[key("helm_enterprise_health_checks_total", result="unhealthy")] == 1
    assert got[key("helm_enterprise_drift_findings_total")] == 2
    assert (
        got[
            (
                "helm_enterprise_policy_violations_total",
                (("release", "web"), ("rule", "pinned-images")),
            )
        ]
        == 1
    )
    info = {k: v for k, v in got.items() if k[0] == "helm_enterprise_release_info"}
    assert info == {
        key(
            "helm_enterprise_release_info",
            chart="hello",
            version="0.2.0",
            revision="3",
            status="deployed",
        ): 1
    }  # the newest state only; the deleted release is gone
    assert got[("helm_enterprise_audit_records", ())] == len(records)
