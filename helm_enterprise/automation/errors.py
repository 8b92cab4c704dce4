"""The one classifier of Pulumi Automation API failures: ``CommandError`` → our error tree.

Every Automation API call of the package (stack create/select, config, up, preview, refresh,
destroy) fails with a :class:`pulumi.automation.errors.CommandError` whose text is the whole
``pulumi`` run: exit code, the engine's stdout and its stderr, easily a hundred lines. What
a person (or a CI log) needs is one line: the engine's ``error:`` lines without the generic
"update failed" noise, truncated, with no secret in it, and for the two failures a new user
meets first (a stack file whose ``encryptionsalt`` was made with another passphrase; a lock
left behind by an interrupted run) what to do about them.

Decide apart from act: :func:`classify` maps a failure to a closed :class:`Failure`
(tested table-style), :func:`from_command_error` words the message, and callers wrap their
calls in :func:`pulumi_command`, or use :func:`message` where a failure becomes a report
line instead of an exception. Pulumi itself masks secret values as ``[secret]`` in its
output; :func:`redact` additionally removes the passphrase and any value the caller names.
"""

from __future__ import annotations

import contextlib
import enum
import os
from collections.abc import Iterable, Iterator, Mapping

from pulumi.automation import errors as auto_errors

from helm_enterprise.errors import AutomationError, truncate

# Generic lines the engine adds around the real cause.
_NOISE = ("update failed", "preview failed", "refresh failed", "an unhandled error occurred")
_PASSPHRASE_ENVS = ("PULUMI_CONFIG_PASSPHRASE",)
_LIMIT = 600


class Failure(enum.Enum):
    """What went wrong, as far as the CLI's output tells."""

    WRONG_PASSPHRASE = "passphrase"  # noqa: S105 (a kind of failure, not a password)
    NO_PASSPHRASE = "no-passphrase"  # noqa: S105
    LOCKED = "locked"
    NOT_FOUND = "not-found"
    FAILED = "failed"


def is_noise(line: str) -> bool:
    """True for the engine's generic lines around the real cause ("update failed")."""
    return any(n in line for n in _NOISE)


def error_line(text: str, limit: int = 300) -> str:
    """The one line worth showing from a failed Pulumi run's output: its first
    meaningful ``error:`` line, else its last line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln.split("error:", 1)[1].strip() for ln in lines if "error:" in ln]
    useful = [e for e in errors if e and not is_noise(e)]
    picked = (useful or errors or lines[-1:] or ["failed (no output)"])[0]
    return truncate(picked, limit)


def engine_errors(text: str, limit: int = _LIMIT) -> str:
    """Every distinct meaningful ``error:`` line of a run, joined with `` | `` and
    truncated; the single :func:`error_line` when there is none."""
    seen: list[str] = []
    for ln in text.splitlines():
        if "error:" not in ln:
            continue
        cause = ln.split("error:", 1)[1].strip()
        if cause and not is_noise(cause) and cause not in seen:
            seen.append(cause)
    return truncate(" | ".join(seen), limit) if seen else error_line(text, limit)


def classify(err: BaseException) -> Failure:
    """The kind of a failed Pulumi command (Pulumi's own subclasses first, then its text)."""
    text = str(err).lower()
    if "incorrect passphrase" in text:
        return Failure.WRONG_PASSPHRASE
    if "passphrase must be set" in text:
        return Failure.NO_PASSPHRASE
    if isinstance(err, auto_errors.ConcurrentUpdateError) or "currently locked by" in text:
        return Failure.LOCKED
    if isinstance(err, auto_errors.StackNotFoundError):
        return Failure.NOT_FOUND
    return Failure.FAILED


def redact(text: str, secrets: Iterable[str] = (), env: Mapping[str, str] | None = None) -> str:
    """``text`` without the config passphrase (from ``env`` and this process) or any of
    ``secrets``."""
    values = set(secrets)
    for source in (env or {}, os.environ):
        values.update(source.get(name, "") for name in _PASSPHRASE_ENVS)
    # Longest first, so a secret containing another is removed whole.
    for value in sorted((v for v in values if len(v) >= 4), key=len, reverse=True):
        text = text.replace(value, "[secret]")
    return text


def message(
    err: BaseException,
    *,
    operation: str,
    stack: str,
    env: Mapping[str, str] | None = None,
    secrets: Iterable[str] = (),
) -> str:
    """The one-line message for a failed ``pulumi <operation>`` of ``stack`` (``stack``
    empty: not known)."""
    kind = classify(err)
    what = f"pulumi {operation} of stack {stack}" if stack else f"pulumi {operation}"
    file = f"Pulumi.{stack or '<stack>'}.yaml"
    stack = stack or "<stack>"
    if kind is Failure.WRONG_PASSPHRASE:
        text = (
            f"{what} failed: incorrect passphrase: the encryptionsalt in {file} was made "
            "with another PULUMI_CONFIG_PASSPHRASE; use the passphrase the stack was created "
            f"with, or, if the stack is new here (a stack file from another machine), delete "
            f"the encryptionsalt line of {file}"
        )
    elif kind is Failure.NO_PASSPHRASE:
        text = (
            f"{what} failed: no passphrase for the stack's secrets: set "
            "PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE"
        )
    elif kind is Failure.LOCKED:
        backend = (env or {}).get("PULUMI_BACKEND_URL") or os.environ.get("PULUMI_BACKEND_URL")
        prefix = f"PULUMI_BACKEND_URL={backend} " if backend else ""
        text = (
            f"{what} failed: the stack is locked by another update; if no other pulumi "
            "command is running on it (an interrupted run leaves its lock behind), remove "
            f"the lock with `{prefix}pulumi cancel --yes --stack {stack}`"
        )
    elif kind is Failure.NOT_FOUND:
        text = f"stack {stack} does not exist (create it with `pulumi stack init {stack}`)"
    else:
        text = f"{what} failed: {engine_errors(str(err))}"
    return truncate(redact(text, secrets, env), _LIMIT + 200)


def from_command_error(
    err: BaseException,
    *,
    operation: str,
    stack: str,
    env: Mapping[str, str] | None = None,
    secrets: Iterable[str] = (),
) -> AutomationError:
    """The :class:`AutomationError` for a failed Pulumi command (raise it ``from err``)."""
    return AutomationError(
        message(err, operation=operation, stack=stack, env=env, secrets=secrets),
        kind=classify(err).value,
        operation=operation,
        stack=stack,
    )


@contextlib.contextmanager
def pulumi_command(
    operation: str,
    stack: str,
    *,
    env: Mapping[str, str] | None = None,
    secrets: Iterable[str] = (),
) -> Iterator[None]:
    """Run Automation API calls inside; a ``CommandError`` leaves as :class:`AutomationError`."""
    try:
        yield
    except auto_errors.CommandError as err:
        raise from_command_error(
            err, operation=operation, stack=stack, env=env, secrets=secrets
        ) from err


__all__ = [
    "Failure",
    "classify",
    "engine_errors",
    "error_line",
    "from_command_error",
    "is_noise",
    "message",
    "pulumi_command",
    "redact",
]
