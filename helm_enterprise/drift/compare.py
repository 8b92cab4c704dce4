"""Decide: desired object + live object + ignore rules → :class:`ObjectFinding` (pure).

What "desired" is depends on how the object is managed:

* **release mode** — the result of a server-side *dry-run* apply of the object from Helm's
  stored manifest (force, Helm's field manager): the live object as it would be if the
  release were re-applied now. The API server has done all defaulting and normalisation,
  so every difference between it and the live object is something re-applying would
  change: that is exactly the drift (``exhaustive=True``). Fields other writers added
  that the manifest does not set (an injected sidecar's annotation, a restart stamp) stay
  in the dry-run result and are not drift. When the dry-run is not allowed (RBAC without
  ``patch``), the manifest object itself is compared on the fields it sets
  (``exhaustive=False``), with quantities (``0.5`` = ``500m``) and empty values
  normalised.
* **chart mode** — Pulumi's refresh: the stored inputs against the live object pruned to
  the shape of those inputs (what pulumi-kubernetes' Read returns).

Never compared: ``/status`` and server bookkeeping in ``/metadata`` (managedFields,
resourceVersion, generation, uid, creationTimestamp, selfLink).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from helm_enterprise.drift.findings import (
    REDACTED,
    Change,
    DriftState,
    FieldChange,
    ObjectFinding,
    ObjectRef,
)
from helm_enterprise.drift.paths import MISSING, Path, from_property_path, lookup, to_pointer
from helm_enterprise.drift.rules import RuleSet

BOOKKEEPING = frozenset(
    {"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink"}
)
SECRET_FIELDS = frozenset({"data", "stringData"})
_EMPTY: tuple[Any, ...] = (None, {}, [], "")
_QUANTITY = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")

Diff = tuple[Path, Change, Any, Any]


def strip(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A copy without ``status`` and the server's bookkeeping metadata."""
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = out.get("metadata")
    if isinstance(meta, Mapping):
        out["metadata"] = {k: v for k, v in meta.items() if k not in BOOKKEEPING}
    return out


def _quantity(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    text = str(value).strip()
    if not _QUANTITY.match(text):
        return None
    try:
        from kubernetes.utils.quantity import parse_quantity

        result: Decimal = parse_quantity(text)
    except (ValueError, InvalidOperation):
        return None
    return result


def same_scalar(a: Any, b: Any) -> bool:
    """Equal as Kubernetes means it: ``8080`` = ``"8080"``, ``0.5`` = ``"500m"``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if a == b:
        return True
    if isinstance(a, int | float | str) and isinstance(b, int | float | str):
        if str(a) == str(b):
            return True
        qa, qb = _quantity(a), _quantity(b)
        return qa is not None and qa == qb
    return False


def field_diff(desired: Any, live: Any, *, exhaustive: bool, path: Path = ()) -> Iterator[Diff]:
    """Every differing field as (path, change, desired value, live value).

    Maps are compared key by key; lists of the same length element by element, lists of
    different lengths as a whole. ``exhaustive=False`` compares only what ``desired``
    sets. A key that is missing on one side and empty (null, {}, [], "") on the other is
    not a difference: the API server drops empty values."""
    if isinstance(desired, Mapping) and isinstance(live, Mapping):
        keys = set(desired) | set(live) if exhaustive else set(desired)
        for key in sorted(keys, key=str):
            sub = (*path, str(key))
            if key not in live:
                if desired[key] not in _EMPTY:
                    yield sub, Change.REMOVED, desired[key], None
            elif key not in desired:
                if live[key] not in _EMPTY:
                    yield sub, Change.ADDED, None, live[key]
            else:
                yield from field_diff(desired[key], live[key], exhaustive=exhaustive, path=sub)
    elif isinstance(desired, list) and isinstance(live, list):
        if len(desired) == len(live):
            for i, (d, v) in enumerate(zip(desired, live, strict=True)):
                yield from field_diff(d, v, exhaustive=exhaustive, path=(*path, str(i)))
        else:
            yield path, Change.CHANGED, desired, live
    elif isinstance(desired, Mapping | list) or isinstance(live, Mapping | list):
        if not (desired in _EMPTY and live in _EMPTY):
            yield path, Change.CHANGED, desired, live
    elif not same_scalar(desired, live):
        yield path, Change.CHANGED, desired, live


def _fields_key_for(node: Mapping[str, Any], element: Any, index: str) -> str | None:
    """The managedFields key (``k:{...}``, ``v:...``, ``i:N``) that denotes a list element."""
    for key in node:
        if key.startswith("k:"):
            try:
                wanted = json.loads(key[2:])
            except ValueError:
                continue
            if isinstance(element, Mapping) and all(
                str(element.get(k)) == str(v) for k, v in wanted.items()
            ):
                return key
        elif key.startswith("v:"):
            try:
                if json.loads(key[2:]) == element:
                    return key
            except ValueError:
                continue
        elif key == f"i:{index}":
            return key
    return None


def _owns(fields: Mapping[str, Any], live: Any, path: Path) -> bool:
    node: Any = fields
    value = live
    for seg in path:
        if not isinstance(node, Mapping):
            return False
        if not node:
            return True  # owned as a whole (an atomic map or list)
        if isinstance(value, list):
            element = lookup(value, (seg,))
            key = _fields_key_for(node, element, seg)
        else:
            key = f"f:{seg}"
        if key is None or key not in node:
            return False
        node = node[key]
        value = lookup(value, (seg,))
    return True


def field_managers(live: Mapping[str, Any] | None, path: Path) -> tuple[str, ...]:
    """Who owns ``path`` in ``live`` according to its managedFields, e.g.
    ``("kubectl (scale)",)``: the client that last set the value."""
    if not live:
        return ()
    entries = (live.get("metadata") or {}).get("managedFields") or []
    found: list[str] = []
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("fieldsV1"), Mapping):
            continue
        if _owns(entry["fieldsV1"], live, path):
            name = str(entry.get("manager") or "?")
            if entry.get("subresource"):
                name += f" ({entry['subresource']})"
            if name not in found:
                found.append(name)
    return tuple(found)


def _redact(ref: ObjectRef, path: Path, old: Any, new: Any) -> tuple[Any, Any, bool]:
    if ref.is_secret() and path[:1] and path[0] in SECRET_FIELDS:
        return (
            None if old is None else REDACTED,
            None if new is None else REDACTED,
            True,
        )
    return old, new, False


def _finish(
    ref: ObjectRef, diffs: Sequence[Diff], rules: RuleSet, owners: Mapping[str, Any] | None
) -> ObjectFinding:
    changes: list[FieldChange] = []
    ignored: list[str] = []
    for path, change, old, new in diffs:
        rule = rules.find(ref, path)
        if rule is not None:
            pointer = to_pointer(path)
            ignored.append(f"{pointer} ({rule.reason})" if rule.reason else pointer)
            continue
        shown_old, shown_new, redacted = _redact(ref, path, old, new)
        by = () if change is Change.REMOVED else field_managers(owners, path)
        changes.append(FieldChange(to_pointer(path), change, shown_old, shown_new, redacted, by))
    state = DriftState.DRIFTED if changes else DriftState.IN_SYNC
    return ObjectFinding(ref, state, tuple(changes), tuple(ignored))


def decide(
    desired: Mapping[str, Any],
    live: Mapping[str, Any] | None,
    rules: RuleSet,
    ref: ObjectRef,
    *,
    exhaustive: bool = True,
) -> ObjectFinding:
    """Compare one object. ``live=None`` means it does not exist (``MISSING``)."""
    if live is None:
        return ObjectFinding(ref, DriftState.MISSING, message="object not found in the cluster")
    diffs = list(field_diff(strip(desired), strip(live), exhaustive=exhaustive))
    return _finish(ref, diffs, rules, live)


def decide_refresh(
    op: str,
    old_inputs: Mapping[str, Any] | None,
    new_inputs: Mapping[str, Any] | None,
    rules: RuleSet,
    ref: ObjectRef,
    *,
    detailed_diff: Sequence[str] = (),
    live: Mapping[str, Any] | None = None,
) -> ObjectFinding:
    """A Pulumi refresh step (``op`` = ``same``/``update``/``delete``/...) as a finding.

    The stored inputs are compared with the refreshed ones; property paths the engine
    reported (``detailed_diff``) that this comparison cannot see (masked secret values
    are equal as text) are added as changed fields. ``live`` (the refreshed outputs)
    names who changed a field."""
    if op == "delete":
        return ObjectFinding(ref, DriftState.MISSING, message="object not found in the cluster")
    if op != "update" or old_inputs is None or new_inputs is None:
        return ObjectFinding(ref, DriftState.IN_SYNC)
    diffs = list(field_diff(strip(old_inputs), strip(new_inputs), exhaustive=True))
    seen = {d[0] for d in diffs}
    for text in detailed_diff:
        path = from_property_path(text)
        if path in seen or any(path[: len(p)] == p for p in seen):
            continue
        old, new = lookup(old_inputs, path), lookup(new_inputs, path)
        if old is MISSING and new is MISSING:
            old, new = None, None
        change = (
            Change.REMOVED if new is MISSING else Change.ADDED if old is MISSING else Change.CHANGED
        )
        diffs.append(
            (path, change, None if old is MISSING else old, None if new is MISSING else new)
        )
        seen.add(path)
    return _finish(ref, diffs, rules, live)


def unknown(ref: ObjectRef, message: str) -> ObjectFinding:
    return ObjectFinding(ref, DriftState.UNKNOWN, message=message)
