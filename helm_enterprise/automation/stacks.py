"""One stack per tenant or per cluster, from a catalogue (X.1; T4.1's stack-per-cluster).

:func:`run_stacks` is a generic fan-out over a :class:`StackCatalogue`: for every stack it
creates or selects the stack, sets its config (the catalogue's shared config, then the
stack's own, then its secrets as secret values) and runs ``pulumi up`` (or ``preview``) —
at most ``parallel`` at a time. It reports progress as :class:`StackEvent` callbacks and
returns a :class:`Summary`: per stack the result, the duration, the resource changes and,
for a failure, one error line.

Stacks that name a ``cluster`` are checked first, in parallel, like
:class:`~helm_enterprise.MultiClusterRelease` does (``/version`` and ``/readyz``): an
unhealthy cluster's stack is excluded with the reason (``unreachable: exclude``) or the run
stops before any stack starts (``unreachable: fail``). With ``stop_on_failure`` the first
failed stack cancels the stacks not started yet — with ``parallel: 1`` that is a rolling
deployment across clusters that stops at the first failure.

Every decision and every stack's result is an audit event. The Pulumi side sits behind the
small :class:`StackOperator` protocol; :class:`AutomationOperator` is the real one (the
Automation API on a local project directory).
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, Protocol

from helm_enterprise.audit import emit
from helm_enterprise.automation.errors import error_line, is_noise, message, redact
from helm_enterprise.automation.verbosity import check_pulumi_verbosity
from helm_enterprise.config.catalogue import CatalogueStack, StackCatalogue
from helm_enterprise.errors import ClusterUnavailableError, ConfigError, truncate
from helm_enterprise.kube import clusters as kube_clusters
from helm_enterprise.kube.client import ClusterAccess
from helm_enterprise.kube.clusters import ClusterHealth, Probe, probe_all

Operation = Literal["up", "preview"]
Result = Literal["succeeded", "failed", "excluded", "cancelled"]
EventKind = Literal["excluded", "started", "progress", "succeeded", "failed", "cancelled"]


@dataclasses.dataclass(frozen=True)
class StackEvent:
    """Progress of one stack: ``started``, ``progress`` (a resource step finished or
    failed), then ``succeeded`` / ``failed``; or ``excluded`` / ``cancelled``."""

    stack: str
    kind: EventKind
    message: str = ""


@dataclasses.dataclass(frozen=True)
class StackResult:
    """How one stack ended. ``changes`` counts resource operations (``create``,
    ``update``, ``same``...); ``error`` is one line, for failed or excluded stacks."""

    stack: str
    result: Result
    duration: float = 0.0
    changes: Mapping[str, int] = dataclasses.field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "result": self.result,
            "duration_seconds": round(self.duration, 1),
            "changes": dict(self.changes),
            "error": self.error,
        }


@dataclasses.dataclass(frozen=True)
class Summary:
    """Every stack's result, in catalogue order."""

    operation: Operation
    results: tuple[StackResult, ...]
    duration: float

    @property
    def ok(self) -> bool:
        """No stack failed or was cancelled (excluded stacks were decided, not failed)."""
        return all(r.result in ("succeeded", "excluded") for r in self.results)

    def count(self, result: Result) -> int:
        return sum(1 for r in self.results if r.result == result)

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "ok": self.ok,
            "duration_seconds": round(self.duration, 1),
            "counts": {k: self.count(k) for k in ("succeeded", "failed", "excluded", "cancelled")},
            "stacks": [r.to_dict() for r in self.results],
        }


class StackFailed(Exception):
    """Raised by a :class:`StackOperator` when the operation failed; ``line`` is the
    one-line reason shown in the summary."""

    def __init__(self, line: str) -> None:
        self.line = line
        super().__init__(line)


class StackOperator(Protocol):
    """Creates or selects a stack, sets its config, runs the operation.

    Returns the resource change counts; raises :class:`StackFailed` when it failed.
    ``config`` maps keys to ``(text, secret)``; ``on_event`` gets progress lines."""

    def run(
        self,
        stack: str,
        config: Mapping[str, tuple[str, bool]],
        operation: Operation,
        on_event: Callable[[str], None],
    ) -> Mapping[str, int]: ...


# -- pure helpers ---------------------------------------------------------------------------


def _text(value: Any) -> str:
    """Config values as Pulumi stores them: strings as is, anything else as JSON (read
    back with ``get_object``, which is how helm_enterprise reads its keys)."""
    return value if isinstance(value, str) else json.dumps(value)


def _secret(key: str, stack: CatalogueStack, index: int) -> str:
    source = stack.secrets[key]
    where = f"stacks[{index}].secrets.{key}"
    if source.env:
        value = os.environ.get(source.env)
        if not value:
            raise ConfigError(f"environment variable {source.env} is not set", path=where)
        return value
    assert source.file is not None  # the model allows env or file only
    try:
        return Path(source.file).expanduser().read_text().strip()
    except OSError as err:
        raise ConfigError(f"cannot read {source.file}: {err.strerror}", path=where) from None


def stack_config(
    catalogue: StackCatalogue, index: int, read_secret: Callable[..., str] = _secret
) -> dict[str, tuple[str, bool]]:
    """The config one stack gets: shared, then its own, its cluster, then its secrets."""
    stack = catalogue.stacks[index]
    out = {k: (_text(v), False) for k, v in {**catalogue.config, **stack.config}.items()}
    if stack.cluster is not None:
        cluster = stack.cluster.model_dump(exclude_none=True, exclude_unset=True)
        out["helm-enterprise:cluster"] = (json.dumps(cluster), False)
    for key in stack.secrets:
        out[key] = (read_secret(key, stack, index), True)
    return out


_setup_lock = threading.Lock()
# -- the fan-out ------------------------------------------------------------------------------


def preflight(catalogue: StackCatalogue, probe: Probe | None = None) -> dict[str, ClusterHealth]:
    """Health of every stack's cluster (stacks without ``cluster`` are not checked)."""
    targets = {
        s.name: ClusterAccess(s.cluster.kubeconfig, s.cluster.context)
        for s in catalogue.stacks
        if s.cluster is not None
    }
    return probe_all(targets, 5.0, probe or kube_clusters.probe)


def run_stacks(
    catalogue: StackCatalogue,
    operator: StackOperator,
    *,
    operation: Operation = "up",
    parallel: int | None = None,
    stop_on_failure: bool | None = None,
    on_event: Callable[[StackEvent], None] | None = None,
    probe: Probe | None = None,
) -> Summary:
    """Run ``operation`` on every stack of ``catalogue`` (see the module docs).

    ``parallel`` and ``stop_on_failure`` override the catalogue's. Raises
    :class:`ClusterUnavailableError` (before any stack starts) when a stack's cluster is
    unhealthy and the catalogue says ``unreachable: fail``; :class:`ConfigError` when a
    secret cannot be read.
    """
    started = time.monotonic()
    workers = parallel or catalogue.parallel
    stop = catalogue.stop_on_failure if stop_on_failure is None else stop_on_failure
    notify = on_event or (lambda _e: None)
    configs = {s.name: stack_config(catalogue, i) for i, s in enumerate(catalogue.stacks)}

    health = preflight(catalogue, probe)
    unhealthy = {name: h for name, h in health.items() if not h.healthy}
    for name, h in health.items():
        emit(
            "cluster-health",
            phase="before",
            result=h.state.value,
            stack=name,
            server=h.server or None,
            detail=h.detail or None,
        )
    if unhealthy and catalogue.unreachable == "fail":
        listed = "; ".join(f"{n}: cluster {h.describe()}" for n, h in unhealthy.items())
        emit("stack-fanout", phase="before", result="failed", operation=operation, error=listed)
        raise ClusterUnavailableError(
            f"{listed} (unreachable: fail — no stack was started; set unreachable: exclude "
            "to run the others)"
        )
    runnable = [s.name for s in catalogue.stacks if s.name not in unhealthy]
    emit(
        "stack-fanout",
        phase="before",
        result="started",
        operation=operation,
        stacks=runnable,
        excluded=sorted(unhealthy),
        parallel=workers,
    )

    results: dict[str, StackResult] = {}
    for name, h in unhealthy.items():
        reason = f"excluded: cluster {h.describe()}"
        results[name] = StackResult(name, "excluded", error=reason)
        notify(StackEvent(name, "excluded", reason))
        emit("stack-excluded", phase="before", result="planned", stack=name, why=reason)

    failed = threading.Event()

    def one(name: str) -> StackResult:
        if stop and failed.is_set():
            notify(StackEvent(name, "cancelled", "an earlier stack failed"))
            return StackResult(name, "cancelled", error="not started: an earlier stack failed")
        notify(StackEvent(name, "started", operation))
        emit("stack-operation", phase="before", result="started", stack=name, operation=operation)
        t0 = time.monotonic()
        try:
            changes = operator.run(
                name, configs[name], operation, lambda m: notify(StackEvent(name, "progress", m))
            )
            result = StackResult(name, "succeeded", time.monotonic() - t0, dict(changes))
        except StackFailed as err:
            result = StackResult(name, "failed", time.monotonic() - t0, error=err.line)
        except Exception as err:  # one stack's crash must not hide the others' results
            line = truncate(f"{type(err).__name__}: {err}", 300)
            result = StackResult(name, "failed", time.monotonic() - t0, error=line)
        if result.result == "failed":
            failed.set()
        notify(StackEvent(name, result.result, result.error or _changes(result.changes)))
        emit(
            "stack-operation",
            phase="after",
            result=result.result,
            stack=name,
            operation=operation,
            duration_seconds=round(result.duration, 1),
            changes=dict(result.changes) or None,
            error=result.error,
        )
        return result

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stack") as pool:
        # Submitted in catalogue order, so with parallel=1 the order is the catalogue's.
        for result in pool.map(one, runnable):
            results[result.stack] = result
    summary = Summary(
        operation,
        tuple(results[s.name] for s in catalogue.stacks),
        time.monotonic() - started,
    )
    emit(
        "stack-fanout",
        phase="after",
        result="succeeded" if summary.ok else "failed",
        operation=operation,
        counts=summary.to_dict()["counts"],
    )
    return summary


def _changes(changes: Mapping[str, int]) -> str:
    shown = {k: v for k, v in changes.items() if v and k != "same"}
    return ", ".join(f"{v} {k}" for k, v in sorted(shown.items())) or "no changes"


# -- the real operator --------------------------------------------------------------------


class AutomationOperator:
    """:class:`StackOperator` on the Pulumi Automation API, for a local project directory.

    ``env`` is added to the environment of every Pulumi run; ``pulumi_command`` is the
    CLI to use (default: ``pulumi`` on PATH).
    """

    def __init__(
        self,
        project_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        pulumi_command: Any = None,
    ) -> None:
        check_pulumi_verbosity(env)  # before any stack starts, not once per stack
        self.project_dir = project_dir
        self.env = dict(env or {})
        self.pulumi_command = pulumi_command

    def run(
        self,
        stack: str,
        config: Mapping[str, tuple[str, bool]],
        operation: Operation,
        on_event: Callable[[str], None],
    ) -> Mapping[str, int]:
        from pulumi import automation as auto

        diagnostics: list[str] = []

        def on_engine_event(event: auto.EngineEvent) -> None:
            done = event.res_outputs_event or event.res_op_failed_event
            if done is not None:
                meta = done.metadata
                name = meta.urn.rsplit("::", 1)[-1]
                state = "failed" if event.res_op_failed_event else "done"
                on_event(f"{meta.op.value} {meta.type} {name} {state}")
            diag = event.diagnostic_event
            if diag is not None and diag.severity == "error":
                diagnostics.append(diag.message.strip())

        ws = auto.LocalWorkspace(
            work_dir=str(self.project_dir),
            env_vars=self.env or None,
            pulumi_command=self.pulumi_command,
        )
        values = {k: auto.ConfigValue(value=t, secret=s) for k, (t, s) in config.items()}
        try:
            # Creating/selecting a stack also writes the workspace's "current stack"
            # file, shared by every stack of the project: one at a time.
            with _setup_lock:
                st = auto.Stack.create_or_select(stack, ws)
                st.set_all_config(values)
            if operation == "up":
                up = st.up(color="never", show_secrets=False, on_event=on_engine_event)
                changes: Mapping[Any, int] = up.summary.resource_changes or {}
            else:
                changes = st.preview(color="never", on_event=on_engine_event).change_summary
            return {str(getattr(k, "value", k)): v for k, v in changes.items()}
        except auto.errors.CommandError as err:
            # The engine's diagnostics name the failing resource; without any (stack
            # create/select, config, a lock) the classifier words the CLI's output.
            useful = [d for d in diagnostics if not is_noise(d)]
            secrets = [t for t, s in config.values() if s]
            line = (
                redact(error_line(useful[0]), secrets, self.env)
                if useful
                else message(err, operation=operation, stack=stack, env=self.env, secrets=secrets)
            )
            raise StackFailed(line) from err


__all__ = [
    "AutomationOperator",
    "Operation",
    "StackEvent",
    "StackFailed",
    "StackOperator",
    "StackResult",
    "Summary",
    "error_line",
    "preflight",
    "run_stacks",
    "stack_config",
]
