"""Field paths: JSON pointers (RFC 6901) inside Kubernetes objects.

Reports and ignore rules name fields as JSON pointers (``/spec/replicas``,
``/metadata/annotations/deployment.kubernetes.io~1revision``), the notation Flux's ignore
rules and ``kubectl patch --type json`` use. Pulumi's engine names them as property paths
(``spec.template.spec.containers[0].image``, ``metadata.annotations["a/b"]``);
:func:`from_property_path` converts those.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

Path = tuple[str, ...]

_MISSING = object()


def escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def unescape(segment: str) -> str:
    return segment.replace("~1", "/").replace("~0", "~")


def to_pointer(path: Sequence[str | int]) -> str:
    """``("spec", "replicas")`` → ``/spec/replicas`` (``""`` for the whole object)."""
    return "".join("/" + escape(str(s)) for s in path)


def split(pointer: str) -> Path:
    """``/spec/replicas`` → ``("spec", "replicas")``."""
    if not pointer:
        return ()
    return tuple(unescape(s) for s in pointer.split("/")[1:])


_PROPERTY_TOKEN = re.compile(r'\.?([^.\[\]"]+)|\["((?:[^"\\]|\\.)*)"\]|\[(\d+|\*)\]')


def from_property_path(text: str) -> Path:
    """Pulumi's property path → path segments.

    ``spec.template.spec.containers[0].image`` → ``(spec, template, spec, containers, 0,
    image)``; ``metadata.annotations["deployment.kubernetes.io/revision"]`` keeps the
    quoted key whole. Unparseable text becomes a single segment."""
    out: list[str] = []
    pos = 0
    while pos < len(text):
        m = _PROPERTY_TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            return (text,)
        name, quoted, index = m.groups()
        if name is not None:
            out.append(name)
        elif quoted is not None:
            out.append(re.sub(r"\\(.)", r"\1", quoted))
        else:
            out.append(index)
        pos = m.end()
    return tuple(out)


def lookup(obj: Any, path: Sequence[str]) -> Any:
    """The value at ``path`` in nested dicts/lists, or :data:`MISSING`."""
    current = obj
    for seg in path:
        if isinstance(current, dict):
            if seg not in current:
                return _MISSING
            current = current[seg]
        elif isinstance(current, list):
            if not seg.isdigit() or int(seg) >= len(current):
                return _MISSING
            current = current[int(seg)]
        else:
            return _MISSING
    return current


MISSING = _MISSING


def matches(pattern: Path, path: Path) -> bool:
    """Whether ``pattern`` (``*`` = any one segment) equals ``path`` or is a prefix of it."""
    if len(pattern) > len(path):
        return False
    return all(p in ("*", s) for p, s in zip(pattern, path, strict=False))
