"""The one error tree of helm_enterprise.

::

    HelmEnterpriseError                 root; every error the package raises on purpose
    ├── ConfigError                     invalid user input; carries the field path
    ├── SecretBackendError              a secret store failed (Vault unreachable, denied, ...)
    ├── ChartSourceError                a chart could not be fetched (repo, OCI, local path)
    │   ├── RepositoryAuthError         the repository refused our credentials
    │   └── GitSourceError              a Git chart source failed
    ├── ValidationError                 dry-run findings (schema, ownership, tenancy)
    │   └── OwnershipConflictError      the release belongs to another owner (or to none)
    ├── RollbackError                   an explicit or automatic rollback failed
    ├── DriftError                      drift detection could not run
    ├── PolicyError                     the policy pack could not evaluate
    ├── AuditError                      the audit trail could not be written or verified
    ├── HealthCheckError                a health check failed or could not run
    ├── DependencyError                 a release this one depends on is not ready
    ├── SloError                        SLO rules could not be deployed or read, or an SLO
    │                                   gate stopped a release (a burn-rate alert fires)
    ├── ClusterUnavailableError         a target cluster failed its pre-flight check
    │   └── ClusterAccessDeniedError    the API server refused our credentials (401) or
    │                                   the identity lacks a permission (403)
    ├── AutomationError                 a Pulumi Automation API command failed (stack
    │                                   select/create, config, up, preview, refresh, destroy)
    └── ToolchainError / SandboxError   the local platform (toolchain build, sandbox)

Rules every raise follows:

* Messages never contain a secret value. Secret-bearing inputs are referred to by their
  reference (``vault:kv/data/app#password``), never by what they resolve to.
* Remote payloads are truncated (:func:`truncate`) before they are put in a message.
* A Pulumi program shows these errors as ``error: <message>`` with no traceback.
* Errors from external libraries are converted in one classifier per library and chained
  with ``raise ... from err`` so the cause stays inspectable without being printed.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pulumi

_MAX_REMOTE = 300


def truncate(text: str, limit: int = _MAX_REMOTE) -> str:
    """Shorten a remote payload for inclusion in an error message."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class HelmEnterpriseError(pulumi.RunError):
    """Root of every error helm_enterprise raises on purpose.

    It derives from :class:`pulumi.RunError` so that inside a Pulumi program a user
    mistake ends the run with its one-line message instead of a Python traceback.
    """


_F = TypeVar("_F", bound=Callable[..., Any])


def message_only(method: _F) -> _F:
    """For the methods of a dynamic provider: an error of ours that they raise reaches the
    user as its message, without a Python traceback.

    Pulumi's dynamic-provider host reports any exception as ``traceback.format_exc()``,
    which honours ``sys.tracebacklimit``; it is set to 0 in that process (which runs only
    the program's dynamic resources) when one of our errors passes. Other exceptions keep
    their traceback, as long as none of ours was raised before them."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except HelmEnterpriseError:
            sys.tracebacklimit = 0
            raise

    return wrapper  # type: ignore[return-value]


class ConfigError(HelmEnterpriseError):
    """Invalid configuration, raised before any resource is registered.

    ``path`` is the dotted field path (``releases[2].timeouts.readiness``) and ``hint`` says
    how to fix it. ``issues`` holds every problem found when there were several.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str = "",
        hint: str = "",
        issues: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.path = path
        self.hint = hint
        self.issues = list(issues) or [(path, message)]
        text = f"{path}: {message}" if path else message
        if hint:
            text = f"{text} ({hint})"
        if len(self.issues) > 1:
            rest = "; ".join(f"{p}: {m}" for p, m in self.issues[1:])
            text = f"{text}; and {len(self.issues) - 1} more: {rest}"
        super().__init__(text)


class SecretBackendError(HelmEnterpriseError):
    """A secret store could not deliver a value. ``reference`` names the path, never a value."""

    def __init__(self, message: str, *, reference: str = "", backend: str = "") -> None:
        self.reference = reference
        self.backend = backend
        super().__init__(message)


class ChartSourceError(HelmEnterpriseError):
    """A chart could not be fetched or read."""

    def __init__(self, message: str, *, source: str = "") -> None:
        self.source = source
        super().__init__(message)


class RepositoryAuthError(ChartSourceError):
    """A chart repository refused the credentials; names repository and method only."""

    def __init__(self, message: str, *, source: str = "", method: str = "") -> None:
        self.method = method
        super().__init__(message, source=source)


class GitSourceError(ChartSourceError):
    """A Git chart source failed (clone, fetch, auth, subpath)."""


class ValidationError(HelmEnterpriseError):
    """Dry-run validation produced findings that block the deployment."""

    def __init__(self, message: str, *, findings: Sequence[object] = ()) -> None:
        self.findings = list(findings)
        super().__init__(message)


class OwnershipConflictError(ValidationError):
    """The Helm release already belongs to another stack, or was installed outside
    helm_enterprise (and ``adopt`` is off): the ownership findings that block it."""


class RollbackError(HelmEnterpriseError):
    """A rollback could not be performed."""


class DriftError(HelmEnterpriseError):
    """Drift detection could not run (not: drift was found)."""


class PolicyError(HelmEnterpriseError):
    """The policy pack could not evaluate."""


class AuditError(HelmEnterpriseError):
    """The audit trail could not be written, read or verified."""


class HealthCheckError(HelmEnterpriseError):
    """A health check failed or could not run."""


class DependencyError(HelmEnterpriseError):
    """A release this one depends on (of another stack) is missing, failed or unhealthy."""


class SloError(HelmEnterpriseError):
    """SLO rules could not be deployed or read, or an SLO gate stopped a release."""


class RolloutError(HelmEnterpriseError):
    """A progressive rollout (blue/green, canary) was aborted or cannot go on."""


class ClusterUnavailableError(HelmEnterpriseError):
    """A target cluster failed its pre-flight health check and the run may not proceed
    (``unreachable: fail``, or no cluster left to deploy to)."""


class ClusterAccessDeniedError(ClusterUnavailableError):
    """The API server answered but refused us: it rejected the credentials (401) or the
    identity lacks a permission (403). Never treated as "unreachable": a check that could
    not read what it needed must not be skipped as if there were no cluster.

    Built only by :func:`helm_enterprise.kube.client.api_error`, the one classifier of the
    ``kubernetes`` client's errors. ``identity`` is who we were (the user the API server
    named, else the client certificate's CN); ``verb``, ``resource`` and ``namespace``
    name the missing permission (empty for a 401 or when the server did not say).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        identity: str = "",
        verb: str = "",
        resource: str = "",
        namespace: str = "",
    ) -> None:
        self.status = status
        self.identity = identity
        self.verb = verb
        self.resource = resource
        self.namespace = namespace
        super().__init__(message)


class AutomationError(HelmEnterpriseError):
    """A Pulumi command run through the Automation API failed.

    Built only by :func:`helm_enterprise.automation.errors.from_command_error`, the one
    classifier of Pulumi's ``CommandError``: the message is one line (the engine's
    ``error:`` line, truncated, secrets redacted) and says what to do for the failures it
    recognises. ``kind`` is that classification (``passphrase``, ``no-passphrase``,
    ``locked``, ``not-found``, ``failed``); ``operation`` and ``stack`` name what was
    attempted.
    """

    def __init__(
        self, message: str, *, kind: str = "failed", operation: str = "", stack: str = ""
    ) -> None:
        self.kind = kind
        self.operation = operation
        self.stack = stack
        super().__init__(message)


class ToolchainError(HelmEnterpriseError):
    """Building or locating a toolchain binary failed; ``log_path`` has the details."""

    def __init__(self, message: str, *, log_path: Path | None = None) -> None:
        self.log_path = log_path
        super().__init__(message)


class SandboxError(HelmEnterpriseError):
    """The local sandbox (clusters, Vault, Git, chart repositories) failed."""

    def __init__(self, message: str, *, log_path: Path | None = None) -> None:
        self.log_path = log_path
        super().__init__(message)
