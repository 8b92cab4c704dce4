"""Argo Rollouts' measurement and run semantics (helm_enterprise.strategy.analysis)."""

from __future__ import annotations

from typing import Any

import pytest

from helm_enterprise.config._base import validate_model
from helm_enterprise.config.strategy import Analysis, Metric
from helm_enterprise.strategy.analysis import (
    AnalysisRun,
    Measurement,
    Outcome,
    Sample,
    judge,
    metric_phase,
    run_outcome,
)

S, F, INC, E = Outcome.SUCCESSFUL, Outcome.FAILED, Outcome.INCONCLUSIVE, Outcome.ERROR


def metric(**fields: Any) -> Metric:
    base: dict[str, Any] = {"name": "m", "prometheus": {"query": "q"}}
    return validate_model(Metric, {**base, **fields}, "metric")


@pytest.mark.parametrize(
    ("fields", "values", "expected"),
    [
        ({"successCondition": "result < 1"}, (0.5,), S),
        ({"successCondition": "result < 1"}, (2.0,), F),  # no failureCondition: Failed
        ({"failureCondition": "result > 1"}, (2.0,), F),
        ({"failureCondition": "result > 1"}, (0.5,), S),  # only failure, false: Successful
        ({"successCondition": "result < 1", "failureCondition": "result > 10"}, (5.0,), INC),
        ({"successCondition": "result < 1", "failureCondition": "result > 10"}, (20.0,), F),
        ({"successCondition": "result < 1"}, (), E),  # empty result: an error
        ({"thresholdRange": {"max": 0.05}}, (0.01,), S),
        ({"thresholdRange": {"min": 0.9, "max": 1}}, (0.5,), F),
        ({"thresholdRange": {"min": 0.9}}, (), E),
    ],
)
def test_judge(fields: dict[str, Any], values: tuple[float, ...], expected: Outcome) -> None:
    assert judge(metric(**fields), Sample(values=values))[0] is expected


def test_judge_http_and_errors() -> None:
    m = metric(successCondition="result < 1")
    assert judge(m, Sample(error="Prometheus did not answer")) == (E, "Prometheus did not answer")
    assert judge(m, Sample(ok=True, detail="status 200"))[0] is S
    assert judge(m, Sample(ok=False, detail="status 500"))[0] is F


def ms(*outcomes: Outcome) -> list[Measurement]:
    return [Measurement("m", o, None, "", float(i)) for i, o in enumerate(outcomes)]


@pytest.mark.parametrize(
    ("fields", "outcomes", "expected"),
    [
        ({}, [], Outcome.RUNNING),
        ({}, [S], S),  # no interval: one measurement
        ({"interval": 5}, [S, S, S], Outcome.RUNNING),  # interval, no count: until the end
        ({"interval": 5, "count": 3}, [S, S], Outcome.RUNNING),
        ({"interval": 5, "count": 3}, [S, S, S], S),
        ({"interval": 5, "count": 3}, [S, F], F),  # failureLimit 0
        ({"interval": 5, "count": 3, "failureLimit": 1}, [F, S, S], S),
        ({"interval": 5, "count": 3, "failureLimit": 1}, [F, F], F),
        ({"interval": 5, "count": 3}, [INC], INC),  # inconclusiveLimit 0
        ({"interval": 5, "count": 9}, [E, E, E, E], Outcome.RUNNING),  # limit 4
        ({"interval": 5, "count": 9}, [E, E, E, E, E], E),
        ({"interval": 5, "count": 9}, [E, E, S, E, E, E], Outcome.RUNNING),  # not consecutive
        ({"interval": 5, "count": 9, "consecutiveErrorLimit": 0}, [E], E),
    ],
)
def test_metric_phase(fields: dict[str, Any], outcomes: list[Outcome], expected: Outcome) -> None:
    m = metric(successCondition="result < 1", **fields)
    assert metric_phase(m, ms(*outcomes)) is expected


def test_run_outcome_is_the_worst_metric() -> None:
    assert run_outcome([S, INC]) is INC
    assert run_outcome([INC, F]) is F
    assert run_outcome([F, E]) is E
    assert run_outcome([S, Outcome.RUNNING]) is Outcome.RUNNING
    assert run_outcome([S, Outcome.RUNNING], finished=True) is S  # background metric


def test_a_run_measures_when_due() -> None:
    analysis = validate_model(
        Analysis,
        {
            "metrics": [
                {
                    "name": "fast",
                    "prometheus": {"query": "a"},
                    "successCondition": "result < 1",
                    "interval": 2,
                    "count": 2,
                },
                {
                    "name": "slow",
                    "prometheus": {"query": "b"},
                    "successCondition": "result < 1",
                    "initialDelay": 5,
                },
            ]
        },
        "analysis",
    )
    asked: list[str] = []

    def measure(m: Metric) -> Sample:
        assert m.prometheus is not None
        asked.append(m.prometheus.query)
        return Sample(values=(0.5,))

    run = AnalysisRun(analysis, measure, started=100.0)
    assert [m.metric for m in run.tick(100.0)] == ["fast"]
    assert run.next_due() == 102.0
    assert run.tick(101.0) == []
    assert [m.metric for m in run.tick(102.0)] == ["fast"]
    assert run.outcome() is Outcome.RUNNING and run.next_due() == 105.0
    assert [m.metric for m in run.tick(105.0)] == ["slow"]
    assert run.outcome() is S and run.next_due() is None
    assert asked == ["a", "a", "b"]
    assert run.last()[0] == {
        "metric": "fast",
        "outcome": "Successful",
        "value": 0.5,
        "message": "0.5: result < 1",
    }
