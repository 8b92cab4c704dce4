"""Analysis of a rollout: Argo Rollouts' measurement and run semantics, pure.

One measurement is judged :class:`Outcome` ``SUCCESSFUL``, ``FAILED``, ``INCONCLUSIVE`` or
``ERROR`` (:func:`judge`). A metric's phase follows Argo's ``analysis`` controller
(:func:`metric_phase`): failed measurements beyond ``failureLimit`` fail it, inconclusive
ones beyond ``inconclusiveLimit`` make it inconclusive, consecutive errors beyond
``consecutiveErrorLimit`` fail it with an error; it succeeds once ``count`` measurements
were taken (one, without an ``interval``). A run's outcome is its worst metric's
(:func:`run_outcome`). :class:`AnalysisRun` keeps the measurements of one run and knows when
each metric is due; it takes measurements through the function it is given, so the same
run works against Prometheus, a Service, or a table in a unit test.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Callable, Sequence
from typing import Any

from helm_enterprise.config.conditions import ConditionError, evaluate
from helm_enterprise.config.strategy import Analysis, Metric


class Outcome(enum.StrEnum):
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"
    RUNNING = "Running"


# Worst first: a run is as bad as its worst metric.
_SEVERITY = (Outcome.ERROR, Outcome.FAILED, Outcome.INCONCLUSIVE, Outcome.RUNNING)


@dataclasses.dataclass(frozen=True)
class Measurement:
    metric: str
    outcome: Outcome
    value: float | None
    message: str
    at: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "outcome": self.outcome.value,
            "value": self.value,
            "message": self.message,
        }


@dataclasses.dataclass(frozen=True)
class Sample:
    """What a provider returned: the values of a query (in order), or an HTTP check's
    verdict (``ok``, with its latency as the value), or why nothing could be measured
    (``error``)."""

    values: tuple[float, ...] = ()
    ok: bool | None = None
    error: str | None = None
    detail: str = ""


def judge(metric: Metric, sample: Sample) -> tuple[Outcome, str]:
    """Argo's ``evaluateResult``: failureCondition true → Failed; successCondition true →
    Successful, false → Failed (or Inconclusive when a failureCondition is given too); only
    a failureCondition that is false → Successful. Flagger's ``thresholdRange``: inside →
    Successful, outside → Failed. An HTTP check passes or fails; no answer is an Error."""
    if sample.error is not None:
        return Outcome.ERROR, sample.error
    if sample.ok is not None:
        return (Outcome.SUCCESSFUL if sample.ok else Outcome.FAILED), sample.detail
    shown = ", ".join(f"{v:g}" for v in sample.values) or "no values"
    if metric.threshold_range is not None:
        rng = metric.threshold_range
        if not sample.values or math.isnan(sample.values[0]):
            return Outcome.ERROR, "the query returned no values"
        v = sample.values[0]
        inside = (rng.min is None or v >= rng.min) and (rng.max is None or v <= rng.max)
        bounds = f"[{'-inf' if rng.min is None else f'{rng.min:g}'}, "
        bounds += f"{'+inf' if rng.max is None else f'{rng.max:g}'}]"
        verdict = "within" if inside else "outside"
        return (Outcome.SUCCESSFUL if inside else Outcome.FAILED), f"{v:g} {verdict} {bounds}"
    try:
        if metric.failure_condition is not None and evaluate(
            metric.failure_condition, sample.values
        ):
            return Outcome.FAILED, f"{shown}: {metric.failure_condition}"
        if metric.success_condition is not None:
            if evaluate(metric.success_condition, sample.values):
                return Outcome.SUCCESSFUL, f"{shown}: {metric.success_condition}"
            if metric.failure_condition is not None:
                return Outcome.INCONCLUSIVE, f"{shown}: neither condition holds"
            return Outcome.FAILED, f"{shown}: not {metric.success_condition}"
    except ConditionError as err:
        return Outcome.ERROR, str(err)
    return Outcome.SUCCESSFUL, f"{shown}: not {metric.failure_condition}"


def expected_count(metric: Metric) -> int | None:
    """How many measurements end the metric: ``count``, one without an ``interval``,
    None (until the run ends) for an interval without a count."""
    if metric.count is not None:
        return metric.count
    return 1 if metric.interval is None else None


def metric_phase(metric: Metric, measurements: Sequence[Measurement]) -> Outcome:
    """A metric's phase from its measurements so far (Argo's limits and defaults)."""
    counts = {o: 0 for o in Outcome}
    consecutive_errors = 0
    for m in measurements:
        counts[m.outcome] += 1
        consecutive_errors = consecutive_errors + 1 if m.outcome is Outcome.ERROR else 0
    if counts[Outcome.FAILED] > metric.failure_limit:
        return Outcome.FAILED
    if counts[Outcome.INCONCLUSIVE] > metric.inconclusive_limit:
        return Outcome.INCONCLUSIVE
    if consecutive_errors > metric.consecutive_error_limit:
        return Outcome.ERROR
    wanted = expected_count(metric)
    if wanted is not None and len(measurements) >= wanted:
        return Outcome.SUCCESSFUL
    return Outcome.RUNNING


def run_outcome(phases: Sequence[Outcome], *, finished: bool = False) -> Outcome:
    """The run's outcome: its worst metric's; when the run is ``finished`` (the step it
    belongs to ended), metrics still running count as successful (background analysis)."""
    for worst in _SEVERITY:
        if worst in phases:
            if worst is Outcome.RUNNING and finished:
                continue
            return worst
    return Outcome.SUCCESSFUL


Measure = Callable[[Metric], Sample]


@dataclasses.dataclass
class AnalysisRun:
    """One run of an analysis: its measurements, and when each metric is due next."""

    analysis: Analysis
    measure: Measure
    started: float
    measurements: dict[str, list[Measurement]] = dataclasses.field(default_factory=dict)
    due: dict[str, float] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        for m in self.analysis.metrics:
            self.measurements.setdefault(m.name, [])
            self.due.setdefault(m.name, self.started + m.initial_delay)

    def phases(self) -> list[Outcome]:
        return [metric_phase(m, self.measurements[m.name]) for m in self.analysis.metrics]

    def tick(self, now: float) -> list[Measurement]:
        """Take every measurement due at ``now``; returns the new ones."""
        taken = []
        for metric in self.analysis.metrics:
            if metric_phase(metric, self.measurements[metric.name]) is not Outcome.RUNNING:
                continue
            if now < self.due[metric.name]:
                continue
            sample = self.measure(metric)
            outcome, message = judge(metric, sample)
            value = sample.values[0] if sample.values else None
            m = Measurement(metric.name, outcome, value, message, now)
            self.measurements[metric.name].append(m)
            self.due[metric.name] = now + (metric.interval or 0)
            taken.append(m)
        return taken

    def next_due(self) -> float | None:
        """When the next measurement is due (None when no metric is running)."""
        running = [
            self.due[m.name]
            for m in self.analysis.metrics
            if metric_phase(m, self.measurements[m.name]) is Outcome.RUNNING
        ]
        return min(running) if running else None

    def outcome(self, *, finished: bool = False) -> Outcome:
        return run_outcome(self.phases(), finished=finished)

    def last(self) -> list[dict[str, Any]]:
        """The latest measurement of each metric (for outputs and audit)."""
        return [ms[-1].to_dict() for ms in self.measurements.values() if ms]

    def why(self) -> str:
        """The measurements that decided a failed or inconclusive outcome."""
        bad = [
            f"{m.metric}: {m.message} ({m.outcome.value})"
            for ms in self.measurements.values()
            for m in ms[-3:]
            if m.outcome is not Outcome.SUCCESSFUL
        ]
        return "; ".join(bad) or "no failing measurement"
