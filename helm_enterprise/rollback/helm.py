"""Helm rollback of a release to a given revision (T1.4), recorded for audit.

Used by `helm-enterprise rollback` and by health checks that fail after an upgrade; and
:func:`record_automatic_rollback` records the rollback Helm's ``atomic`` upgrade performs by
itself (inside the Kubernetes provider) when readiness fails.

The rollback itself is Helm's (``helm rollback``, which keeps hooks, waits for readiness
and writes a new revision "Rollback to N"); helm_enterprise chooses and checks the target,
records who/when/from/to/why in the audit log (a ``before`` and an ``after`` record), and
can refresh the Pulumi stack so its state matches the cluster. A later ``pulumi up``
applies the program's desired state again — pin the chart version/values in config when
the rollback should stick.

Helm's atomic rollback leaves no trace but Helm's history, so it is decided from that
history (:func:`automatic_rollback`, a pure function) and recorded when the failed update
returns.

This module does not import :mod:`helm_enterprise.audit` (which sits beside it, not below):
its callers pass the :class:`Recorder` that writes the records, normally
:func:`helm_enterprise.audit.emit`, and get the :class:`RollbackRecord` back. The recorder is
called, rather than the records returned at the end, because the ``before`` record has to be
written before Helm runs: a rollback that hangs or is killed still leaves its trace.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from helm_enterprise._cache import toolchain_binary
from helm_enterprise.errors import HelmEnterpriseError, RollbackError, truncate
from helm_enterprise.kube import helm_storage
from helm_enterprise.kube.client import ClusterAccess


class Recorder(Protocol):
    """Writes one audit record (:func:`helm_enterprise.audit.emit` is one); ``fields`` carry
    no secret: revisions, names, the reason."""

    def __call__(
        self,
        action: str,
        *,
        phase: Literal["before", "after"],
        result: str,
        who: str | None = None,
        **fields: Any,
    ) -> object: ...


HistoryReader = Callable[[str, str], list[helm_storage.HelmRecord]]
"""``(namespace, release)`` → the release's Helm history, oldest first."""


def cluster_history(access: ClusterAccess) -> HistoryReader:
    """Read Helm history from the cluster ``access`` reaches (RollbackError when it does not
    answer)."""

    def read(namespace: str, release: str) -> list[helm_storage.HelmRecord]:
        api = access.reachable_client()
        if api is None:
            raise RollbackError(f"cluster {access.describe()} is not reachable")
        try:
            return helm_storage.history(api, namespace, release)
        finally:
            api.close()

    return read


@dataclasses.dataclass(frozen=True)
class RollbackRecord:
    """What happened; also the audit event's payload."""

    release: str
    namespace: str
    from_revision: int
    to_revision: int
    new_revision: int
    who: str
    why: str
    result: str
    duration_seconds: float
    chart: str

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def helm_binary(explicit: str | None = None) -> str:
    """The helm CLI: ``explicit``, else the one on PATH, else the sandbox toolchain's
    (``helm-enterprise sandbox toolchain`` builds one into the cache)."""
    found = explicit or shutil.which("helm") or toolchain_binary("helm")
    if not found:
        raise RollbackError(
            "the helm CLI is needed for a Helm rollback and was found neither on PATH nor in "
            "the sandbox toolchain (install helm 3, or build the toolchain with "
            "`helm-enterprise sandbox toolchain`)"
        )
    return str(found)


def choose_target(
    history: list[helm_storage.HelmRecord], to_revision: int | None
) -> tuple[int, int]:
    """(current revision, target revision); the target defaults to the previous deployed."""
    if not history:
        raise RollbackError("release has no history in the cluster")
    current = history[-1].revision
    if to_revision is None:
        earlier = [r for r in history[:-1] if r.status in ("superseded", "deployed")]
        if not earlier:
            raise RollbackError(f"revision {current} is the only one; nothing to roll back to")
        return current, earlier[-1].revision
    known = {r.revision for r in history}
    if to_revision not in known:
        raise RollbackError(
            f"revision {to_revision} does not exist (kept revisions: "
            f"{', '.join(map(str, sorted(known)))})"
        )
    if to_revision == current:
        raise RollbackError(f"revision {to_revision} is already the current revision")
    return current, to_revision


def rollback(
    release: str,
    namespace: str,
    *,
    to_revision: int | None,
    reason: str,
    access: ClusterAccess,
    who: str,
    record: Recorder,
    timeout_seconds: int = 300,
    helm: str | None = None,
    wait: bool = True,
    trigger: str = "command",
    history: HistoryReader | None = None,
) -> RollbackRecord:
    """Roll ``release`` back with Helm and record it through ``record``: a ``before``
    record (result ``started``) once the target is chosen, an ``after`` record with the
    result.

    Args:
        who: the actor, recorded (the caller resolves it:
            :func:`helm_enterprise.audit.resolve_actor`).
        record: writes the two ``rollback`` audit records (normally
            :func:`helm_enterprise.audit.emit`).
        trigger: what asked for it, recorded as ``trigger``: ``command`` (the CLI) or
            ``health-check``.
        helm: the helm binary (default: see :func:`helm_binary`).
        history: reads Helm history (default: from the cluster ``access`` reaches).

    Raises:
        RollbackError: no reason, cluster unreachable, no valid target, or Helm failed (the
            failure is recorded too).
    """
    if not reason.strip():
        raise RollbackError("a reason is required (it is recorded for audit)")
    read = history or cluster_history(access)
    before = read(namespace, release)
    current, target = choose_target(before, to_revision)
    argv = [
        helm_binary(helm),
        "rollback",
        release,
        str(target),
        "--namespace",
        namespace,
        "--timeout",
        f"{timeout_seconds}s",
        "--cleanup-on-fail",
    ]
    if wait:
        argv.append("--wait")
    if access.kubeconfig:
        argv += ["--kubeconfig", str(Path(access.kubeconfig).expanduser())]
    if access.context:
        argv += ["--kube-context", access.context]
    actor = who
    common: dict[str, Any] = {
        "release": release,
        "namespace": namespace,
        "from_revision": current,
        "to_revision": target,
        "why": reason,
        "chart": f"{before[-1].chart}-{before[-1].chart_version}",
        "trigger": trigger,
    }
    record("rollback", phase="before", result="started", who=actor, **common)
    start = time.monotonic()
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout_seconds + 60, check=False
        )
        failure = "" if proc.returncode == 0 else (proc.stderr or proc.stdout)
    except subprocess.TimeoutExpired:
        failure = f"helm did not finish within {timeout_seconds + 60}s"
    duration = round(time.monotonic() - start, 2)
    new_revision = current
    try:
        after = read(namespace, release)
        new_revision = after[-1].revision if after else current
    except HelmEnterpriseError:
        pass  # recorded with the revision known before
    done = RollbackRecord(
        release=release,
        namespace=namespace,
        from_revision=current,
        to_revision=target,
        new_revision=new_revision,
        who=actor,
        why=reason,
        result="failed" if failure else "succeeded",
        duration_seconds=duration,
        chart=common["chart"],
    )
    fields = {k: v for k, v in done.to_dict().items() if k not in ("who", "result")}
    record("rollback", phase="after", result=done.result, who=actor, **fields, trigger=trigger)
    if failure:
        raise RollbackError(
            f"helm rollback of {namespace}/{release} to revision {target} failed: "
            f"{truncate(failure, 400)}"
        )
    return done


# -- Helm's own (atomic) rollback ---------------------------------------------------------

_ROLLBACK_TO = re.compile(r"^Rollback to (\d+)$")


@dataclasses.dataclass(frozen=True)
class AutomaticRollback:
    """A rollback Helm performed by itself: the upgrade to ``from_revision`` failed and
    Helm rolled back to ``to_revision``, writing ``new_revision``."""

    from_revision: int
    to_revision: int
    new_revision: int
    succeeded: bool
    chart: str


def automatic_rollback(
    history: Sequence[helm_storage.HelmRecord],
    before_revision: int | None,
    not_before: dt.datetime | None = None,
) -> AutomaticRollback | None:
    """Did Helm roll back after a failed upgrade from ``before_revision``? Decided from the
    history alone: the newest revision says ``Rollback to N``, the one before it is the
    upgrade's, and both are newer than ``before_revision`` (and, when its time is known,
    the rollback happened at or after ``not_before``: an older rollback is not this one).

    None for anything else: no revision before (a failed install, which ``atomic``
    uninstalls), an upgrade that failed before Helm wrote a revision, a history read at
    the wrong moment.
    """
    if before_revision is None or len(history) < 2:
        return None
    failed, latest = history[-2], history[-1]
    match = _ROLLBACK_TO.match(latest.description.strip())
    if match is None or failed.revision <= before_revision:
        return None
    if not_before is not None and latest.updated is not None and latest.updated < not_before:
        return None
    return AutomaticRollback(
        from_revision=failed.revision,
        to_revision=int(match.group(1)),
        new_revision=latest.revision,
        succeeded=latest.status == "deployed",
        chart=f"{latest.chart}-{latest.chart_version}",
    )


def record_automatic_rollback(
    release: str,
    namespace: str,
    *,
    before_revision: int | None,
    error: str,
    history: HistoryReader,
    record: Recorder,
    not_before: dt.datetime | None = None,
    trigger: str = "readiness",
) -> AutomaticRollback | None:
    """After a failed upgrade: when Helm rolled the release back by itself, record that
    rollback through ``record`` (``before`` and ``after``, from/to/why; normally
    :func:`helm_enterprise.audit.emit`) and return it. Both records are
    written now, when we learn of it: the rollback ran inside the provider. ``error`` is
    the failed update's error (the why). Returns None when there was no rollback."""
    found = automatic_rollback(history(namespace, release), before_revision, not_before)
    if found is None:
        return None
    fields: dict[str, Any] = {
        "release": release,
        "namespace": namespace,
        "from_revision": found.from_revision,
        "to_revision": found.to_revision,
        "why": f"upgrade to revision {found.from_revision} failed: {truncate(error, 400)}",
        "chart": found.chart,
        "trigger": trigger,
    }
    record("rollback", phase="before", result="started", **fields)
    record(
        "rollback",
        phase="after",
        result="succeeded" if found.succeeded else "failed",
        new_revision=found.new_revision,
        **fields,
    )
    return found
