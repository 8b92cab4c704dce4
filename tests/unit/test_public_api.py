from __future__ import annotations

import helm_enterprise


def test_all_is_sorted_and_complete() -> None:
    public = {n for n in dir(helm_enterprise) if not n.startswith("_") and n[0].isupper()}
    assert helm_enterprise.__all__ == sorted(helm_enterprise.__all__)
    assert public <= set(helm_enterprise.__all__), public - set(helm_enterprise.__all__)
    for name in helm_enterprise.__all__:
        assert getattr(helm_enterprise, name).__doc__, f"{name} has no docstring"
