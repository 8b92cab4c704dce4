"""Drift detection policy (T3.3): stack config ``helm-enterprise:drift``.

::

    config:
      helm-enterprise:drift:
        mode: report            # report | warn | remediate
        confirm: false          # remediate only after an interactive confirmation
        defaultIgnores: true    # the well-known controller/webhook fields (see docs)
        ignore:
          - paths: [/spec/template/spec/containers/*/resources]
            target: {kind: Deployment, name: "web-*", release: web}
            reason: VPA in auto mode

Ignore rules are JSON pointers (RFC 6901, ``~1`` for ``/`` and ``~0`` for ``~``; a
segment ``*`` matches any one key or index) plus an optional target selector. A pointer
also ignores everything below it.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator

from helm_enterprise.config._base import Model

DriftMode = Literal["report", "warn", "remediate"]

_BAD_ESCAPE = re.compile(r"~(?![01])")
_LABEL_TERM = re.compile(r"^!?[A-Za-z0-9][-A-Za-z0-9_./]*(\s*!?=\s*[-A-Za-z0-9_.]*)?$")


def check_pointer(value: str) -> str:
    """A JSON pointer as rules use it: starts with ``/``, escapes only ``~0``/``~1``."""
    if not value.startswith("/"):
        raise ValueError(
            f"{value!r} is not a JSON pointer: start with '/' (e.g. /spec/replicas; "
            "write '/' inside a key as ~1)"
        )
    if _BAD_ESCAPE.search(value):
        raise ValueError(f"{value!r}: '~' must be escaped as ~0 ('/' inside a key as ~1)")
    return value


def check_label_selector(value: str) -> str:
    """``k=v``, ``k!=v``, ``k`` and ``!k`` terms separated by commas."""
    for term in (t.strip() for t in value.split(",")):
        if not term or not _LABEL_TERM.match(term):
            raise ValueError(
                f"{term!r} is not a label selector term (use k=v, k!=v, k or !k, "
                "separated by commas)"
            )
    return value


JsonPointer = Annotated[str, AfterValidator(check_pointer)]


class DriftTarget(Model):
    """Which objects a rule applies to; every field set must match. ``name``,
    ``namespace`` and ``release`` accept shell-style wildcards (``web-*``). ``group`` is
    ``""`` for the core API group (ConfigMap, Service...)."""

    group: str | None = None
    version: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    release: str | None = None
    label_selector: str | None = None

    @field_validator("label_selector")
    @classmethod
    def _selector(cls, v: str | None) -> str | None:
        return check_label_selector(v) if v else v


class DriftIgnoreRule(Model):
    """Fields whose changes are not drift: ``paths`` (JSON pointers) on the objects
    ``target`` selects (every object when unset). ``reason`` is shown in reports."""

    paths: list[JsonPointer] = Field(min_length=1)
    target: DriftTarget | None = None
    reason: str = ""


class DriftPolicy(Model):
    """What ``helm-enterprise drift`` does with a stack.

    * ``mode``: ``report`` (exit 1 on drift), ``warn`` (print, exit 0) or ``remediate``
      (re-apply the desired state of what drifted).
    * ``confirm``: with ``remediate``, ask before re-applying (never without a terminal
      unless ``--yes``).
    * ``default_ignores``: the built-in rules for fields controllers and webhooks own
      (``/spec/replicas`` of an HPA's target, ``deployment.kubernetes.io/revision``...).
    * ``ignore``: the stack's own rules.
    """

    mode: DriftMode = "report"
    confirm: bool = False
    default_ignores: bool = True
    ignore: list[DriftIgnoreRule] = Field(default_factory=list)


__all__ = [
    "DriftIgnoreRule",
    "DriftMode",
    "DriftPolicy",
    "DriftTarget",
    "JsonPointer",
    "check_label_selector",
    "check_pointer",
]
