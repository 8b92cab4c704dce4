"""Refuse Pulumi's debug logging in the commands that run Pulumi: it writes secrets in clear.

Pulumi's own diagnostics are not masked like its console output: with verbose logging the
engine logs the gRPC payloads it exchanges with the providers, and with ``--logflow`` the
providers log at the same level (the Kubernetes provider's Helm invocations included), so
the secret values of releases land in clear text in the log files (``pulumi.*.log`` in the
temp directory, readable by other users of the machine) or on stderr. Our commands run the
``pulumi`` CLI through the Automation API, which passes the process's environment on and
no logging flag, so the switches arrive as environment variables:

* ``PULUMI_OPTION_VERBOSE`` (``-v``: the CLI reads every flag from a
  ``PULUMI_OPTION_<FLAG>`` variable), with or without ``PULUMI_OPTION_LOGFLOW`` /
  ``PULUMI_OPTION_LOGTOSTDERR``, which do nothing without it;
* ``PULUMI_OPTION_DEBUG`` (``up``/``preview --debug``: providers' debug messages in the
  output);
* ``PULUMI_DEBUG_GRPC`` (a file of every gRPC request and response);
* ``TF_LOG`` (request logs of Terraform-bridged providers a program may add).

``PULUMI_DEBUG_COMMANDS`` only shows hidden commands and is harmless. ``pulumi`` run by hand
(``pulumi up -v=9``) is outside our reach: the docs say so.

:func:`check_pulumi_verbosity` runs before every Automation API operation of the package
and ``helm-enterprise quickstart``; ``HELM_ENTERPRISE_ALLOW_VERBOSE_PULUMI=1`` insists (a
warning instead of the refusal).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping

from helm_enterprise.errors import ConfigError

ALLOW_ENV = "HELM_ENTERPRISE_ALLOW_VERBOSE_PULUMI"
_TRUE = ("1", "true", "yes", "on")
_log = logging.getLogger("helm_enterprise.automation")


def _true(value: str) -> bool:
    return value.strip().lower() in _TRUE


def _positive(value: str) -> bool:
    try:
        return int(value.strip()) > 0
    except ValueError:
        return bool(value.strip())  # not a number: Pulumi refuses it, we do not guess


def verbose_settings(env: Mapping[str, str]) -> list[str]:
    """The settings in ``env`` that make Pulumi log secret values (``NAME=value`` each)."""
    found = []
    checks: tuple[tuple[str, Callable[[str], bool]], ...] = (
        ("PULUMI_OPTION_VERBOSE", _positive),
        ("PULUMI_OPTION_DEBUG", _true),
        ("PULUMI_DEBUG_GRPC", lambda v: bool(v.strip())),
        ("TF_LOG", lambda v: v.strip().lower() not in ("", "off")),
    )
    for name, risky in checks:
        value = env.get(name, "")
        if value and risky(value):
            found.append(f"{name}={value}")
    return found


def check_pulumi_verbosity(
    env: Mapping[str, str] | None = None, *, warn: Callable[[str], None] | None = None
) -> None:
    """Refuse to run Pulumi with logging that writes secrets in clear text.

    Args:
        env: what the Pulumi CLI will see on top of this process's environment (the
            workspace's ``env_vars``).
        warn: where the warning goes when the user insists (default: the
            ``helm_enterprise.automation`` logger).

    Raises:
        ConfigError: such logging is on and ``HELM_ENTERPRISE_ALLOW_VERBOSE_PULUMI`` is not
            set; the message names the variables and both ways out.
    """
    effective = {**os.environ, **(env or {})}
    found = verbose_settings(effective)
    if not found:
        return
    harm = (
        "makes Pulumi write the secret values of releases in clear text to its logs (files "
        "in the temp directory, or stderr)"
    )
    if _true(effective.get(ALLOW_ENV, "")):
        (warn or _log.warning)(
            f"warning: {', '.join(found)} {harm}; running anyway ({ALLOW_ENV} is set)"
        )
        return
    name, value = found[0].split("=", 1)
    others = f" (and {', '.join(found[1:])})" if found[1:] else ""
    raise ConfigError(
        f"{value}{others} {harm}",
        path=name,
        hint=f"unset {'them' if others else 'it'}, or set {ALLOW_ENV}=1 to run anyway",
    )


__all__ = ["ALLOW_ENV", "check_pulumi_verbosity", "verbose_settings"]
