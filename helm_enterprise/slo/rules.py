"""Prometheus rules for a release's SLOs, with Sloth's names (T4.3).

Pure functions from :class:`~helm_enterprise.config.slo.SloConfig` to Prometheus rule
groups (the ``groups:`` of a rule file, also the ``spec`` of a ``PrometheusRule``):

* SLI recordings ``slo:sli_error:ratio_rate<window>`` for every window the alerts use and
  the SLO period;
* metadata: ``slo:objective:ratio``, ``slo:error_budget:ratio``, ``slo:time_period:days``,
  ``slo:current_burn_rate:ratio``, ``slo:period_burn_rate:ratio``,
  ``slo:period_error_budget_remaining:ratio``, ``sloth_slo_info``;
* the page and ticket alerts: multiwindow, multi-burn-rate, one ``(short and long)`` pair
  per row of the SLO's window table, labelled ``sloth_severity``.

Every series carries ``sloth_id`` (``<release>-<slo>``), ``sloth_service`` (the release)
and ``sloth_slo``, as Sloth's do, so dashboards built for Sloth work unchanged.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from helm_enterprise.config.slo import AlertWindow, SloConfig, prometheus_duration

SHORTEST = 300  # Sloth's "current" window: slo:current_burn_rate:ratio reads the 5m rate


@dataclasses.dataclass(frozen=True)
class SloId:
    service: str  # the release
    slo: str

    @property
    def id(self) -> str:
        return f"{self.service}-{self.slo}"

    def labels(self) -> dict[str, str]:
        return {"sloth_id": self.id, "sloth_service": self.service, "sloth_slo": self.slo}

    def selector(self) -> str:
        return ", ".join(f'{k}="{v}"' for k, v in self.labels().items())


def burn_factor(row: AlertWindow, period: int) -> float:
    """``budgetPercent/100 · period/longWindow`` (14.4 for 2 % of 30 days in 1 hour)."""
    return round(row.budget_percent / 100 * period / row.long_window, 6)


def windows(slo: SloConfig) -> list[int]:
    """Every window a recording is needed for, shortest first."""
    found = {SHORTEST, slo.window}
    for row in slo.windows:
        found |= {row.short_window, row.long_window}
    return sorted(found)


def _query(template: str, window: int) -> str:
    return template.replace("{{.window}}", prometheus_duration(window))


def sli_expression(slo: SloConfig, window: int) -> str:
    if slo.sli.raw is not None:
        return f"({_query(slo.sli.raw.error_ratio_query, window)})"
    assert slo.sli.events is not None
    return (
        f"({_query(slo.sli.events.error_query, window)})\n/\n"
        f"({_query(slo.sli.events.total_query, window)})"
    )


def alert_name(release: str, slo: SloConfig) -> str:
    if slo.alerting.name:
        return slo.alerting.name
    words = f"{release}-{slo.name}".replace("_", "-").split("-")
    return "".join(w[:1].upper() + w[1:] for w in words if w) + "BurnRate"


def alert_expression(sid: SloId, slo: SloConfig, severity: str) -> str | None:
    """``(short > k·budget and long > k·budget) or ...`` over the rows of ``severity``."""
    budget = slo.error_budget
    pairs = []
    for row in slo.windows:
        if row.severity != severity:
            continue
        k = burn_factor(row, slo.window)
        short, long_ = prometheus_duration(row.short_window), prometheus_duration(row.long_window)
        pairs.append(
            f"(max(slo:sli_error:ratio_rate{short}{{{sid.selector()}}} > ({k} * {budget})) "
            "without (sloth_window)\n"
            f"and\nmax(slo:sli_error:ratio_rate{long_}{{{sid.selector()}}} > ({k} * {budget})) "
            "without (sloth_window))"
        )
    return "\nor\n".join(pairs) if pairs else None


def rule_groups(release: str, slo: SloConfig) -> list[dict[str, Any]]:
    """The three rule groups of one SLO (Sloth's group names)."""
    sid = SloId(release, slo.name)
    base = {**slo.labels, **sid.labels()}
    sel = sid.selector()
    on = "on(sloth_id, sloth_slo, sloth_service) group_left"
    period = prometheus_duration(slo.window)
    recordings = [
        {
            "record": f"slo:sli_error:ratio_rate{prometheus_duration(w)}",
            "expr": sli_expression(slo, w),
            "labels": {**base, "sloth_window": prometheus_duration(w)},
        }
        for w in windows(slo)
    ]
    meta = [
        {
            "record": "slo:objective:ratio",
            "expr": f"vector({round(slo.objective / 100, 10)})",
            "labels": base,
        },
        {"record": "slo:error_budget:ratio", "expr": f"vector({slo.error_budget})", "labels": base},
        {"record": "slo:time_period:days", "expr": f"vector({slo.window / 86400})", "labels": base},
        {
            "record": "slo:current_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate{prometheus_duration(SHORTEST)}{{{sel}}}\n"
            f"/ {on}\nslo:error_budget:ratio{{{sel}}}",
            "labels": base,
        },
        {
            "record": "slo:period_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate{period}{{{sel}}}\n/ {on}\n"
            f"slo:error_budget:ratio{{{sel}}}",
            "labels": base,
        },
        {
            "record": "slo:period_error_budget_remaining:ratio",
            "expr": f"1 - slo:period_burn_rate:ratio{{{sel}}}",
            "labels": base,
        },
        {
            "record": "sloth_slo_info",
            "expr": "vector(1)",
            "labels": {
                **base,
                "sloth_mode": "helm-enterprise",
                "sloth_objective": f"{slo.objective:g}",
            },
        },
    ]
    alerts = []
    for severity, settings in (
        ("page", slo.alerting.page_alert),
        ("ticket", slo.alerting.ticket_alert),
    ):
        expr = alert_expression(sid, slo, severity)
        if settings.disable or expr is None:
            continue
        alerts.append(
            {
                "alert": alert_name(release, slo),
                "expr": expr,
                "labels": {
                    **slo.alerting.labels,
                    **settings.labels,
                    **sid.labels(),
                    "sloth_severity": severity,
                },
                "annotations": {
                    "summary": f"{release}: SLO {slo.name} error budget burn rate is too fast",
                    "title": f"({severity}) {release} {slo.name} SLO error budget burn rate is "
                    "too fast.",
                    **slo.alerting.annotations,
                    **settings.annotations,
                },
            }
        )
    groups = [
        {"name": f"sloth-slo-sli-recordings-{sid.id}", "rules": recordings},
        {"name": f"sloth-slo-meta-recordings-{sid.id}", "rules": meta},
    ]
    if alerts:
        groups.append({"name": f"sloth-slo-alerts-{sid.id}", "rules": alerts})
    return groups


def release_rules(release: str, slos: list[SloConfig]) -> dict[str, Any]:
    """A rule file (``{"groups": [...]}``) with every SLO of ``release``."""
    return {"groups": [g for slo in slos for g in rule_groups(release, slo)]}
