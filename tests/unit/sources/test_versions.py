from __future__ import annotations

import pytest

from helm_enterprise.sources.versions import pick

VERSIONS = [
    "0.1.0",
    "0.2.3",
    "0.2.9",
    "1.0.0",
    "1.2.3",
    "1.2.10",
    "1.3.0-rc.1",
    "1.3.0",
    "2.0.0-alpha",
    "2.1.0",
]


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        (None, "2.1.0"),
        ("1.2.3", "1.2.3"),
        ("^1.2", "1.3.0"),
        ("~1.2.3", "1.2.10"),
        ("1.2.x", "1.2.10"),
        (">=1.0 <1.3", "1.2.10"),
        ("^0.2.3", "0.2.9"),
        ("1.3.0-rc.1", "1.3.0-rc.1"),
        ("9.9.9", None),
        ("^1 || ^2", "2.1.0"),
        ("<1", "0.2.9"),
    ],
)
def test_pick(constraint: str | None, expected: str | None) -> None:
    assert pick(VERSIONS, constraint) == expected


def test_bad_constraint() -> None:
    with pytest.raises(ValueError, match="not a version"):
        pick(VERSIONS, ">=one")
