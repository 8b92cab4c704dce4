"""Base model, durations and the pydantic → ConfigError translation.

Models accept both spellings of every field: ``snake_case`` (Python arguments) and
``camelCase`` (stack config YAML, Pulumi's convention). They are frozen and reject unknown
fields, so a typo is an error naming the field instead of a silently ignored setting.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypeVar

import pydantic
from pydantic import BeforeValidator, ConfigDict
from pydantic.alias_generators import to_camel

from helm_enterprise.errors import ConfigError

M = TypeVar("M", bound=pydantic.BaseModel)


class Model(pydantic.BaseModel):
    """Frozen, strict-about-unknown-fields base for every config model."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        arbitrary_types_allowed=True,
        str_strip_whitespace=True,
    )


_UNION_NOISE = {"str", "constrained-str", "int", "bool", "float", "none"}
_LEADING_PATH = re.compile(r"^([A-Za-z_][\w]*(?:\[\d+\]|\.[A-Za-z_][\w]*)*): (.+)$", re.S)
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?$")
# A DNS-1123 label: Kubernetes' names of namespaces (at most 63 characters) and others.
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def is_namespace_name(value: str) -> bool:
    """Whether ``value`` is a valid Kubernetes namespace name."""
    return len(value) <= 63 and DNS_LABEL.match(value) is not None


def parse_duration(value: object) -> int:
    """Seconds from ``90``, ``"90s"``, ``"5m"``, ``"1h30m"``; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like '5m', '90s' or a number of seconds")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        m = _DURATION.match(text)
        if m and any(m.groups()):
            h, mi, s = (int(g) if g else 0 for g in m.groups())
            return h * 3600 + mi * 60 + s
    raise ValueError(f"{value!r} is not a duration; use e.g. '5m', '90s', '1h30m' or seconds")


Duration = Annotated[int, BeforeValidator(parse_duration)]


def first_duplicate(items: Sequence[str]) -> str | None:
    """The alphabetically first item listed more than once, or None."""
    twice = sorted({i for i in items if items.count(i) > 1})
    return twice[0] if twice else None


def format_duration(seconds: int) -> str:
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    parts = [f"{h}h" if h else "", f"{m}m" if m else "", f"{s}s" if s else ""]
    return "".join(parts) or "0s"


def _loc_to_path(prefix: str, loc: Sequence[int | str]) -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.startswith("function-") or part in {"tagged-union"}:
            continue
        else:
            path = f"{path}.{part}" if path else part
    return path


def _hint_for(err: Mapping[str, Any], model: type[pydantic.BaseModel] | None) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden" and model is not None:
        bad = str(err["loc"][-1]) if err.get("loc") else ""
        known = _field_names_at(model, [p for p in err["loc"][:-1] if isinstance(p, str)])
        close = difflib.get_close_matches(bad, known, n=1)
        if close:
            return f"did you mean {close[0]!r}?"
        return f"allowed fields: {', '.join(sorted(known))}" if known else ""
    if kind == "missing":
        return "this field is required"
    return ""


def _field_names_at(model: type[pydantic.BaseModel], loc: Sequence[str]) -> list[str]:
    """Best-effort list of field names (camelCase) valid at a location, for typo hints."""
    current: Any = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if not fields:
            return []
        field = next((f for n, f in fields.items() if part in {n, f.alias}), None)
        if field is None:
            return []
        current = _model_in(field.annotation)
        if current is None:
            return []
    fields = getattr(current, "model_fields", {})
    return [f.alias or n for n, f in fields.items()]


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _clean_message(msg: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    return msg


def to_config_error(
    err: pydantic.ValidationError, prefix: str = "", model: type[pydantic.BaseModel] | None = None
) -> ConfigError:
    """One ConfigError listing every problem, each with its field path and a fix hint."""
    issues: list[tuple[str, str]] = []
    errors = err.errors(include_url=False, include_input=False)
    # A value that failed every member of a union yields one error per member; the ones
    # for scalar alternatives ("or a repository name") only add noise next to the others.
    specific = [e for e in errors if not _UNION_NOISE.intersection(map(str, e["loc"]))]
    for e in specific or errors:
        path = _loc_to_path(prefix, e["loc"])
        msg = _clean_message(str(e["msg"]))
        # Model-level (cross-field) validators name the offending field at the start of
        # their message ("releases[1].dependsOn: ..."); lift it into the path.
        lifted = _LEADING_PATH.match(msg)
        if lifted:
            sub = lifted.group(1)
            path = f"{path}.{sub}" if path else sub
            msg = lifted.group(2)
        h = _hint_for(e, model)
        if h:
            msg = f"{msg} ({h})"
        issues.append((path, msg))
    # Keep a stable, readable order: by path.
    issues.sort(key=lambda i: i[0])
    first_path, first_msg = issues[0]
    return ConfigError(first_msg, path=first_path, issues=issues)


def validate_model(model: type[M], data: object, prefix: str = "") -> M:
    """``model.model_validate(data)`` with errors translated to :class:`ConfigError`."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as err:
        raise to_config_error(err, prefix, model) from None


def component_config(
    model: type[M], resource_name: str, args: M | Mapping[str, Any], field: str
) -> M:
    """A component's arguments as its validated ``model``: a ``model`` instance is taken as
    is; a mapping (the component's ``TypedDict`` args) is validated with ``name`` defaulting
    to ``resource_name``. Raises :class:`ConfigError` naming ``field`` and the bad key."""
    if isinstance(args, model):
        return args
    data = dict(args)
    data.setdefault("name", resource_name)
    return validate_model(model, data, field)
