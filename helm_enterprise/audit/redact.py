"""The last line of defence: no secret value reaches an audit record or a sink.

The rule comes first: callers pass references (``vault:secret/app#password``), never
resolved values. This scrubber catches what slips through, before a record is hashed:

* fields whose *name* looks secret (``password``, ``token``, ``secret``, ``apiKey``,
  ``privateKey``, ``credentials``, ``authorization``...) keep their structure and any
  reference strings, but every other value becomes ``[redacted]``;
* ``pulumi.Output`` values (which may be secrets, and are not known yet) become
  ``[output]``; unknowns of a preview become ``[unknown]``;
* every value the audit trail itself resolved (signing keys, sink tokens) and every value
  registered with :func:`register_secret` is cut out of any string it appears in.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

from helm_enterprise.config.secrets import names_reference

REDACTED = "[redacted]"
_SECRET_NAME = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[-_]?key|private[-_]?key|client[-_]?key|"
    r"credential|auth(orization)?$|cookie|session|bearer|signature[-_]?key|hmac[-_]?key)",
    re.I,
)
# Fields of our own schema whose names match the pattern above but hold no secret.
_SAFE_NAMES = frozenset({"hash", "prev", "sig", "secret_references", "references"})
_MIN_KNOWN = 4  # shorter "secrets" would redact half of every record

_known: set[str] = set()
_known_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Never let ``value`` appear in a record (resolved keys, tokens, passwords)."""
    if isinstance(value, str) and len(value) >= _MIN_KNOWN:
        with _known_lock:
            _known.add(value)


def known_secrets() -> frozenset[str]:
    with _known_lock:
        return frozenset(_known)


def secret_name(name: str) -> bool:
    """Whether a field name says its value is a credential."""
    return name not in _SAFE_NAMES and bool(_SECRET_NAME.search(name))


def _cut(text: str, known: frozenset[str]) -> str:
    # Longest first, so a secret containing another one is removed whole.
    for value in sorted(known, key=len, reverse=True):
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def _special(value: Any) -> str | None:
    """Placeholders for Pulumi values that must never be serialized."""
    try:
        import pulumi
        from pulumi.output import Unknown
    except ImportError:  # pragma: no cover - pulumi is a dependency
        return None
    if isinstance(value, pulumi.Output):
        return "[output]"
    if isinstance(value, Unknown):
        return "[unknown]"
    return None


def scrub(value: Any, *, known: frozenset[str] | None = None, under_secret: bool = False) -> Any:
    """A JSON-able copy of ``value`` with every secret removed (see the module docs)."""
    known = known_secrets() if known is None else known
    special = _special(value)
    if special is not None:
        return special
    if isinstance(value, Mapping):
        return {
            str(k): scrub(v, known=known, under_secret=under_secret or secret_name(str(k)))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [scrub(v, known=known, under_secret=under_secret) for v in items]
    if isinstance(value, str):
        if under_secret and not names_reference(value):
            return REDACTED
        return _cut(value, known)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return REDACTED if under_secret else value
    # Anything else (paths, enums, datetimes): its text, scrubbed like a string.
    return scrub(str(value), known=known, under_secret=under_secret)


def scrub_text(text: str) -> str:
    """``text`` with every known secret value cut out (for warnings and errors)."""
    return _cut(text, known_secrets())
