"""What each SLO of a release says now, read back from Prometheus (T4.3), and the gate
that stops a release while one of its burn-rate alerts fires."""

from __future__ import annotations

import dataclasses
from typing import Any

from helm_enterprise.config.slo import SloConfig, prometheus_duration
from helm_enterprise.slo import prometheus
from helm_enterprise.slo.rules import SloId, burn_factor, windows


@dataclasses.dataclass(frozen=True)
class SloStatus:
    """One SLO now. ``sli`` is the error ratio over the shortest window; ``burn_rates``
    divide each window's error ratio by the error budget (None: no data yet)."""

    release: str
    slo: str
    objective: float
    window: str
    sli: float | None
    budget_remaining: float | None
    burn_rates: dict[str, float | None]
    thresholds: dict[str, float]  # window pair "5m/1h" → burn factor that alerts
    firing: list[str]  # severities whose alert fires

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _value(address: str, promql: str) -> float | None:
    samples = prometheus.query(address, promql)
    return samples[0][1] if samples else None


def slo_status(address: str, release: str, slo: SloConfig) -> SloStatus:
    sid = SloId(release, slo.name)
    sel = f'{{sloth_id="{sid.id}"}}'
    ratios = {
        prometheus_duration(w): _value(
            address, f"slo:sli_error:ratio_rate{prometheus_duration(w)}{sel}"
        )
        for w in windows(slo)
    }
    budget = slo.error_budget
    firing = sorted(
        {
            a.get("sloth_severity", "")
            for a in prometheus.firing_alerts(address, release, ("page", "ticket"))
            if a.get("sloth_id") == sid.id
        }
    )
    return SloStatus(
        release=release,
        slo=slo.name,
        objective=slo.objective,
        window=prometheus_duration(slo.window),
        sli=ratios[prometheus_duration(min(windows(slo)))],
        budget_remaining=_value(address, f"slo:period_error_budget_remaining:ratio{sel}"),
        burn_rates={w: (r / budget if r is not None else None) for w, r in ratios.items()},
        thresholds={
            _pair(r.short_window, r.long_window): burn_factor(r, slo.window) for r in slo.windows
        },
        firing=firing,
    )


def _pair(short: int, long_: int) -> str:
    return f"{prometheus_duration(short)}/{prometheus_duration(long_)}"


GATE_SEVERITIES = {"page": ("page",), "ticket": ("page", "ticket")}


def gate_problems(address: str, release: str, gate: str) -> list[str]:
    """Why ``release`` must not be upgraded now: its SLO alerts of the gate's severities
    that fire (``[]`` when none does)."""
    firing = prometheus.firing_alerts(address, release, GATE_SEVERITIES[gate])
    return sorted(
        {
            f"{a.get('alertname', '?')} ({a.get('sloth_severity', '?')}, SLO "
            f"{a.get('sloth_slo', '?')}) is firing"
            for a in firing
        }
    )
