"""Analysis conditions: the small expression grammar over ``result``."""

from __future__ import annotations

import math

import pytest

from helm_enterprise.config.conditions import ConditionError, check_condition, evaluate


@pytest.mark.parametrize(
    ("expr", "result", "expected"),
    [
        ("result < 0.05", [0.01], True),
        ("result < 0.05", [0.05], False),
        ("result[0] >= 0.99 && result[1] < 5", [0.995, 3], True),
        ("result[0] >= 0.99 and result[1] < 5", [0.995, 7], False),
        ("result > 1 || result < -1", [-2], True),
        ("!(result > 1)", [2], False),
        ("not result > 1", [0.5], True),
        ("result != 1", [1], False),
        ("0.9 <= result <= 1", [0.95], True),
        ("len(result) == 0", [], True),
        ("isNaN(result)", [], True),
        ("isNaN(result)", [math.nan], True),
        ("isNaN(result[0])", [1.0], False),
        ("result == -1", [-1], True),
    ],
)
def test_evaluate(expr: str, result: list[float], expected: bool) -> None:
    assert evaluate(expr, result) is expected


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("result <", "is not an expression"),
        ("__import__('os')", "only isNaN(x) and len(result) may be called"),
        ("result.real > 1", "Attribute is not supported"),
        ("value > 1", "unknown name 'value'"),
        ("result == 'x'", "only numbers may be compared"),
        ("result + 1 > 2", "BinOp is not supported"),
    ],
)
def test_outside_the_grammar_is_refused_when_read(expr: str, problem: str) -> None:
    found = check_condition(expr)
    assert found is not None and problem in found


def test_a_missing_value_is_an_error_not_a_verdict() -> None:
    with pytest.raises(ConditionError, match="no values"):
        evaluate("result < 1", [])
    with pytest.raises(ConditionError, match=r"result\[1\] is missing"):
        evaluate("result[1] < 1", [0.5])
