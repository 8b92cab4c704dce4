"""Progressive delivery of a release (T3.1 blue/green, T3.2 canary).

::

    strategy:
      blueGreen:
        activeService: shop            # default: the release's name
        previewService: shop-preview   # optional: always selects the new colour
        autoPromotionEnabled: true     # false: pause before the switch until `promote`
        autoPromotionSeconds: 30       # optional: wait that long before promoting
        previewReplicaCount: 1         # optional: the new colour's size until the switch
        scaleDownDelaySeconds: 30      # the old colour serves nothing, then is removed
        prePromotionAnalysis: {metrics: [...]}    # before the switch
        postPromotionAnalysis: {metrics: [...]}   # after it; failure switches back at once
    # or
    strategy:
      canary:
        service: shop                  # default: the release's name; selects both tracks
        steps:
          - setWeight: 10
          - pause: {duration: 30s}
          - analysis: {metrics: [...]}
          - setWeight: 50
          - pause: {}                  # no duration: wait for `helm-enterprise promote`
        analysis: {metrics: [...]}     # background: measured during every step
      webhooks:                        # Flagger's gate types; only a 2xx passes
        - {name: ok, type: confirm-promotion, url: https://gate.example/approve}

An analysis metric follows Argo Rollouts' AnalysisTemplate (``successCondition``,
``failureCondition``, ``interval``, ``count``, ``initialDelay``, ``failureLimit``,
``inconclusiveLimit``, ``consecutiveErrorLimit``, with Argo's defaults) or Flagger's
``thresholdRange: {min, max}``; its provider is ``prometheus`` (a query) or ``http`` (the
health check of T2.4). Conditions are small expressions over ``result`` (the query's first
value; ``result[i]`` for the i-th): ``result < 0.05``, ``result[0] >= 0.99 && result[1] <
5``; ``isNaN(result)`` and ``len(result)`` are known too.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from helm_enterprise.config._base import Duration, Model, first_duplicate
from helm_enterprise.config.conditions import check_condition
from helm_enterprise.config.health import HttpCheck

WEBHOOK_TYPES = ("confirm-rollout", "pre-rollout", "confirm-promotion", "post-rollout", "rollback")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$")
_SERVICE = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


class PrometheusMetric(Model):
    """A PromQL query; ``address`` defaults to the stack's ``helm-enterprise:prometheus``.
    ``{{release}}``, ``{{namespace}}``, ``{{stable}}`` and ``{{canary}}`` (the two colours'
    Helm release names) are replaced in the query before it runs."""

    address: str | None = None
    query: str
    timeout: Duration = 10


class ThresholdRange(Model):
    """Flagger's form: the value must lie within ``[min, max]`` (either may be left out)."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one(self) -> ThresholdRange:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} is above max {self.max:g}")
        return self


class Metric(Model):
    """One measured metric of an analysis (Argo's ``metrics[]`` entry)."""

    name: str
    prometheus: PrometheusMetric | None = None
    http: HttpCheck | None = None
    success_condition: str | None = None
    failure_condition: str | None = None
    threshold_range: ThresholdRange | None = None
    # Argo: without an interval one measurement is taken; with an interval and no count
    # the metric is measured until the analysis ends (background analysis).
    interval: Duration | None = None
    count: int | None = Field(default=None, ge=1, le=10_000)
    initial_delay: Duration = 0
    failure_limit: int = Field(default=0, ge=0)
    inconclusive_limit: int = Field(default=0, ge=0)
    consecutive_error_limit: int = Field(default=4, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _http_name(cls, data: Any) -> Any:
        # The HTTP provider is T2.4's check; it takes the metric's name.
        if isinstance(data, dict) and isinstance(data.get("http"), dict):
            data = {**data, "http": {"name": data.get("name", "http"), **data["http"]}}
        return data

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"{v!r} is not a metric name (lowercase letters, digits, '-', '_')")
        return v

    @model_validator(mode="after")
    def _provider(self) -> Metric:
        if (self.prometheus is None) == (self.http is None):
            raise ValueError("prometheus: give exactly one provider, prometheus or http")
        judged = [
            self.success_condition is not None or self.failure_condition is not None,
            self.threshold_range is not None,
        ]
        if self.prometheus is not None and not any(judged):
            raise ValueError(
                "successCondition: a prometheus metric needs successCondition, "
                "failureCondition or thresholdRange (e.g. successCondition: 'result < 0.05')"
            )
        if all(judged):
            raise ValueError(
                "thresholdRange: give either conditions (Argo) or thresholdRange (Flagger)"
            )
        for field, expr in (
            ("successCondition", self.success_condition),
            ("failureCondition", self.failure_condition),
        ):
            if expr is not None:
                problem = check_condition(expr)
                if problem:
                    raise ValueError(f"{field}: {problem}")
        return self


class Analysis(Model):
    metrics: list[Metric] = Field(min_length=1)

    @field_validator("metrics")
    @classmethod
    def _unique(cls, v: list[Metric]) -> list[Metric]:
        twice = first_duplicate([m.name for m in v])
        if twice:
            raise ValueError(f"metric {twice!r} is declared twice")
        return v


class Pause(Model):
    """A pause; without ``duration`` it waits for ``helm-enterprise promote``."""

    duration: Duration | None = None


class CanaryStep(Model):
    set_weight: int | None = Field(default=None, ge=0, le=100)
    pause: Pause | None = None
    analysis: Analysis | None = None

    @model_validator(mode="after")
    def _one(self) -> CanaryStep:
        given = [f for f in ("set_weight", "pause", "analysis") if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of setWeight, pause or analysis per step")
        return self


class Canary(Model):
    service: str | None = None
    steps: list[CanaryStep] = Field(min_length=1)
    analysis: Analysis | None = None

    @field_validator("service")
    @classmethod
    def _service(cls, v: str | None) -> str | None:
        return _service_name(v)

    @model_validator(mode="after")
    def _steps_end(self) -> Canary:
        for i, step in enumerate(self.steps):
            problem = _never_ends(step.analysis, f"steps[{i}].analysis")
            if problem:
                raise ValueError(problem)
        return self


class BlueGreen(Model):
    active_service: str | None = None
    preview_service: str | None = None
    auto_promotion_enabled: bool = True
    auto_promotion_seconds: Duration | None = None
    # The new colour's size until the switch (default: what the chart declares).
    preview_replica_count: int | None = Field(default=None, ge=1)
    scale_down_delay_seconds: int = Field(default=30, ge=0, le=86_400)
    pre_promotion_analysis: Analysis | None = None
    post_promotion_analysis: Analysis | None = None

    @field_validator("active_service", "preview_service")
    @classmethod
    def _service(cls, v: str | None) -> str | None:
        return _service_name(v)

    @model_validator(mode="after")
    def _distinct(self) -> BlueGreen:
        if self.preview_service is not None and self.preview_service == self.active_service:
            raise ValueError("previewService: must differ from activeService")
        for field, analysis in (
            ("prePromotionAnalysis", self.pre_promotion_analysis),
            ("postPromotionAnalysis", self.post_promotion_analysis),
        ):
            problem = _never_ends(analysis, field)
            if problem:
                raise ValueError(problem)
        return self


class Webhook(Model):
    """A gate (Flagger's types): the rollout goes on only when the URL answers 2xx to a
    POST of the rollout's facts."""

    name: str
    type: Literal["confirm-rollout", "pre-rollout", "confirm-promotion", "post-rollout", "rollback"]
    url: str
    timeout: Duration = 10

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v


class StrategyConfig(Model):
    blue_green: BlueGreen | None = None
    canary: Canary | None = None
    webhooks: list[Webhook] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one(self) -> StrategyConfig:
        if (self.blue_green is None) == (self.canary is None):
            raise ValueError("blueGreen: give exactly one of blueGreen or canary")
        twice = first_duplicate([w.name for w in self.webhooks])
        if twice:
            raise ValueError(f"webhooks: {twice!r} is declared twice")
        return self

    @property
    def kind(self) -> Literal["blueGreen", "canary"]:
        return "blueGreen" if self.blue_green is not None else "canary"

    def analyses(self) -> list[Analysis]:
        """Every analysis the strategy declares (for checks that need a Prometheus)."""
        if self.blue_green is not None:
            bg = self.blue_green
            return [a for a in (bg.pre_promotion_analysis, bg.post_promotion_analysis) if a]
        assert self.canary is not None
        steps = [s.analysis for s in self.canary.steps if s.analysis is not None]
        return [*steps, *([self.canary.analysis] if self.canary.analysis else [])]


def _never_ends(analysis: Analysis | None, where: str) -> str | None:
    """An analysis the rollout waits for must end: an ``interval`` needs a ``count``
    (only the canary's background analysis may run as long as the rollout)."""
    for i, m in enumerate(analysis.metrics if analysis else []):
        if m.interval is not None and m.count is None:
            return (
                f"{where}.metrics[{i}].count: the rollout waits for this analysis, so a "
                "metric with an interval needs a count (e.g. count: 3)"
            )
    return None


def _service_name(v: str | None) -> str | None:
    if v is not None and not _SERVICE.match(v):
        raise ValueError(
            f"{v!r} is not a Service name (lowercase letters, digits and '-', starting with "
            "a letter)"
        )
    return v
