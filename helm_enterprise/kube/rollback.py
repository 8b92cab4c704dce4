"""Helm rollback of a release to a given revision (T1.4), recorded for audit.

Used by `helm-enterprise rollback` and by health checks that fail after an upgrade.

The rollback itself is Helm's (``helm rollback``, which keeps hooks, waits for readiness
and writes a new revision "Rollback to N"); helm_enterprise chooses and checks the target,
records who/when/from/to/why in the audit log, and can refresh the Pulumi stack so its
state matches the cluster. A later ``pulumi up`` applies the program's desired state
again — pin the chart version/values in config when the rollback should stick.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import time
from pathlib import Path

from helm_enterprise.audit import AuditLog, emit, resolve_actor
from helm_enterprise.errors import RollbackError, truncate
from helm_enterprise.kube import helm_storage
from helm_enterprise.kube.client import ClusterAccess


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
    found = explicit or shutil.which("helm")
    if not found:
        raise RollbackError(
            "the helm CLI is needed for a Helm rollback and was not found on PATH "
            "(install helm 3, or run `helm-enterprise sandbox toolchain` and use its bin dir)"
        )
    return found


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
    who: str | None = None,
    timeout_seconds: int = 300,
    helm: str | None = None,
    audit: AuditLog | None = None,
    wait: bool = True,
) -> RollbackRecord:
    """Roll ``release`` back with Helm and record it. Raises RollbackError on failure
    (the failure is recorded too)."""
    if not reason.strip():
        raise RollbackError("a reason is required (it is recorded for audit)")
    api = access.reachable_client()
    if api is None:
        raise RollbackError(f"cluster {access.describe()} is not reachable")
    try:
        history = helm_storage.history(api, namespace, release)
        current, target = choose_target(history, to_revision)
    finally:
        api.close()
    actor = resolve_actor(who)
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
    start = time.monotonic()
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout_seconds + 60, check=False
    )
    duration = round(time.monotonic() - start, 2)
    new_revision = current
    api = access.reachable_client()
    if api is not None:
        try:
            after = helm_storage.history(api, namespace, release)
            new_revision = after[-1].revision if after else current
        finally:
            api.close()
    record = RollbackRecord(
        release=release,
        namespace=namespace,
        from_revision=current,
        to_revision=target,
        new_revision=new_revision,
        who=actor,
        why=reason,
        result="succeeded" if proc.returncode == 0 else "failed",
        duration_seconds=duration,
        chart=f"{history[-1].chart}-{history[-1].chart_version}",
    )
    fields = {k: v for k, v in record.to_dict().items() if k not in ("who", "result")}
    if audit is not None:
        audit.append({"action": "rollback", "phase": "after", **record.to_dict()})
    else:
        emit("rollback", phase="after", result=record.result, who=record.who, **fields)
    if proc.returncode != 0:
        raise RollbackError(
            f"helm rollback of {namespace}/{release} to revision {target} failed: "
            f"{truncate(proc.stderr or proc.stdout, 400)}"
        )
    return record
