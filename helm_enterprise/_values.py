"""Helm values helpers: dotted paths and Helm's merge semantics (maps merge, lists replace)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def split_path(path: str) -> list[str | int]:
    """``"a.b[2].c"`` → ``["a", "b", 2, "c"]``."""
    parts: list[str | int] = []
    for name, index in _SEGMENT.findall(path):
        parts.append(int(index) if index else name)
    return parts


def set_path(values: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at a dotted path, creating maps on the way (lists must exist)."""
    parts = split_path(path)
    node: Any = values
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if isinstance(part, int):
            node = node[part]
            continue
        if part not in node or not isinstance(node[part], dict | list):
            node[part] = [] if isinstance(nxt, int) else {}
        node = node[part]
    last = parts[-1]
    node[last] = value


def get_path(values: Mapping[str, Any], path: str) -> Any:
    node: Any = values
    for part in split_path(path):
        node = node[part]
    return node


def copy_tree(value: Any) -> Any:
    """Copy dicts and lists; leave leaves (including pulumi.Output objects) shared."""
    if isinstance(value, Mapping):
        return {k: copy_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_tree(v) for v in value]
    return value


def merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge like Helm's ``-f a.yaml -f b.yaml``: nested maps merge, others replace."""
    out: dict[str, Any] = copy_tree(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy_tree(value)
    return out
