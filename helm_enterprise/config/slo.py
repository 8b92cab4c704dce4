"""Service level objectives of a release (T4.3), in Sloth's terms.

::

    slos:
      - name: requests-availability
        objective: 99.9            # percent
        window: 30d                # the SLO period (default 30d)
        sli:
          events:
            errorQuery: sum(rate(http_requests_total{job="shop",code=~"5.."}[{{.window}}]))
            totalQuery: sum(rate(http_requests_total{job="shop"}[{{.window}}]))
          # or: raw: {errorRatioQuery: ...}
        alerting:
          name: ShopHighErrorRate
          labels: {team: shop}
          pageAlert: {labels: {route: pager}}
          ticketAlert: {disable: true}
        windows: [...]             # default: Google's 30-day table (see below)

``{{.window}}`` in a query becomes each window of the rules (Sloth's placeholder). The
alert windows are data, not constants: a list of ``{severity, budgetPercent, longWindow,
shortWindow}``; the burn-rate factor of a row is ``budgetPercent/100 · window/longWindow``
(Google's table for 30 days gives 14.4, 6, 3 and 1).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from helm_enterprise.config._base import Model, first_duplicate

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PROM_DURATION = re.compile(r"^(?:\d+[wdhms])+$")
_SLO_NAME = re.compile(r"^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$")


def parse_prometheus_duration(value: object) -> int:
    """Seconds from a Prometheus duration (``30d``, ``1h30m``, ``5m``) or a number."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like '30d', '1h' or '5m'")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _PROM_DURATION.match(value.strip()):
        parts = re.findall(r"(\d+)([wdhms])", value.strip())
        return sum(int(n) * _UNITS[u] for n, u in parts)
    raise ValueError(f"{value!r} is not a duration like '30d', '6h', '5m' or '30s'")


def prometheus_duration(seconds: int) -> str:
    """The shortest Prometheus spelling of ``seconds`` (``2592000`` → ``30d``)."""
    for unit, size in _UNITS.items():
        if seconds % size == 0 and unit != "w":
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


PromDuration = Annotated[int, BeforeValidator(parse_prometheus_duration), Field(gt=0)]


class AlertWindow(Model):
    """One row of the multiwindow, multi-burn-rate table."""

    severity: Literal["page", "ticket"]
    budget_percent: float = Field(gt=0, le=100)
    long_window: PromDuration
    short_window: PromDuration

    @model_validator(mode="after")
    def _short_is_shorter(self) -> AlertWindow:
        if self.short_window >= self.long_window:
            raise ValueError("shortWindow must be shorter than longWindow")
        return self


# Google SRE workbook, "Alerting on SLOs", for a 30-day SLO (Sloth's google-30d windows).
GOOGLE_30D = (
    AlertWindow(severity="page", budget_percent=2, long_window=3600, short_window=300),
    AlertWindow(severity="page", budget_percent=5, long_window=21600, short_window=1800),
    AlertWindow(severity="ticket", budget_percent=10, long_window=86400, short_window=7200),
    AlertWindow(severity="ticket", budget_percent=10, long_window=259200, short_window=21600),
)


class EventsSli(Model):
    error_query: str
    total_query: str


class RawSli(Model):
    error_ratio_query: str


class Sli(Model):
    events: EventsSli | None = None
    raw: RawSli | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Sli:
        if (self.events is None) == (self.raw is None):
            raise ValueError("set exactly one of sli.events (errorQuery, totalQuery) or sli.raw")
        return self


class AlertSettings(Model):
    disable: bool = False
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class SloAlerting(Model):
    name: str | None = None  # default: <Release><Slo> in CamelCase
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    page_alert: AlertSettings = Field(default_factory=AlertSettings)
    ticket_alert: AlertSettings = Field(default_factory=AlertSettings)


class SloConfig(Model):
    """One SLO of a release (Sloth's ``slos[]`` entry with helm_enterprise defaults)."""

    name: str
    objective: float = Field(gt=0, lt=100)
    window: PromDuration = 30 * 86400
    description: str = ""
    sli: Sli
    alerting: SloAlerting = Field(default_factory=SloAlerting)
    windows: list[AlertWindow] = Field(default_factory=lambda: list(GOOGLE_30D))
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _SLO_NAME.match(v):
            raise ValueError(f"{v!r}: lowercase letters, digits, '-' and '_'")
        return v

    @model_validator(mode="after")
    def _windows_fit(self) -> SloConfig:
        for i, w in enumerate(self.windows):
            if w.long_window > self.window:
                raise ValueError(
                    f"windows[{i}].longWindow: longer than the SLO window "
                    f"{prometheus_duration(self.window)}"
                )
        return self

    @property
    def error_budget(self) -> float:
        """The allowed error ratio: ``1 - objective/100``."""
        return round(1 - self.objective / 100, 10)


def check_unique_slos(slos: list[SloConfig]) -> list[SloConfig]:
    dup = first_duplicate([s.name for s in slos])
    if dup is not None:
        raise ValueError(f"two SLOs named {dup!r}")
    return slos
