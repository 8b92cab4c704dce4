"""Analysis conditions: small expressions over a measured ``result`` (pure).

The grammar is the part of Argo Rollouts' ``expr`` conditions that metric checks use:
comparisons (``<``, ``<=``, ``>``, ``>=``, ``==``, ``!=``) of ``result``, ``result[i]``,
``len(result)`` and numbers, joined by ``&&``/``||`` (or ``and``/``or``), negated by ``!``
or ``not``, grouped by parentheses; ``isNaN(x)`` is true for a missing value. Anything else
is refused when the config is read, not when the analysis runs. Evaluation walks Python's
syntax tree of the expression; nothing is ever passed to ``eval``.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

_AND_OR = ((re.compile(r"&&"), " and "), (re.compile(r"\|\|"), " or "))
_NOT = re.compile(r"!(?!=)")
_FUNCTIONS = frozenset({"isNaN", "len"})
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
}


class ConditionError(ValueError):
    """The expression is outside the grammar, or cannot be applied to this result."""


def _parse(expr: str) -> ast.Expression:
    text = expr
    for pattern, word in _AND_OR:
        text = pattern.sub(word, text)
    text = _NOT.sub(" not ", text)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise ConditionError(f"{expr!r} is not an expression (e.g. 'result < 0.05')") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in {"result", *_FUNCTIONS}:
            raise ConditionError(f"{expr!r}: unknown name {node.id!r} (only result is known)")
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS and len(node.args) == 1
        ):
            raise ConditionError(f"{expr!r}: only isNaN(x) and len(result) may be called")
        allowed = (
            ast.Expression,
            ast.BoolOp,
            ast.And,
            ast.Or,
            ast.UnaryOp,
            ast.Not,
            ast.USub,
            ast.Compare,
            ast.Name,
            ast.Load,
            ast.Constant,
            ast.Subscript,
            ast.Call,
            *_COMPARE,
        )
        if not isinstance(node, allowed):
            raise ConditionError(f"{expr!r}: {type(node).__name__} is not supported")
        if isinstance(node, ast.Constant) and not isinstance(node.value, int | float):
            raise ConditionError(f"{expr!r}: only numbers may be compared")
    return tree


def check_condition(expr: str) -> str | None:
    """Why ``expr`` is not a condition, or None."""
    try:
        _parse(expr)
    except ConditionError as err:
        return str(err)
    return None


def evaluate(expr: str, result: Sequence[float]) -> bool:
    """Whether ``expr`` holds for ``result`` (the values of a query, in order).

    ``result`` alone means its first value. ConditionError when a value the expression
    reads is missing (an empty result): Argo counts that measurement as an error."""
    values = list(result)

    def first() -> float:
        if not values:
            raise ConditionError("the query returned no values")
        return values[0]

    def value(node: ast.AST) -> object:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):  # only `result`: _parse refused every other name
            return first()
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -float(value(node.operand))  # type: ignore[arg-type]
        if isinstance(node, ast.UnaryOp):  # not
            return not value(node.operand)
        if isinstance(node, ast.Subscript):
            index = value(node.slice)
            if not isinstance(index, int) or not 0 <= index < len(values):
                raise ConditionError(f"result[{index}] is missing ({len(values)} values)")
            return values[index]
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            if node.func.id == "len":
                return len(values)
            arg = node.args[0]
            if isinstance(arg, ast.Name) and not values:
                return True  # isNaN(result) of an empty result: there is no number
            return math.isnan(float(value(arg)))  # type: ignore[arg-type]
        if isinstance(node, ast.BoolOp):
            parts = (bool(value(v)) for v in node.values)
            return all(parts) if isinstance(node.op, ast.And) else any(parts)
        if isinstance(node, ast.Compare):
            left = value(node.left)
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                right = value(right_node)
                if not _COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        raise ConditionError(f"{type(node).__name__} is not supported")  # pragma: no cover

    return bool(value(_parse(expr).body))
