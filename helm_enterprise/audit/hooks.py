"""Lifecycle events of a ``pulumi up`` through Pulumi resource hooks.

:func:`lifecycle_hooks` returns a ``pulumi.ResourceHookBinding`` for a release's Helm
resource: ``before`` and ``after`` events for create and update (with the duration and
result), optionally delete, and a ``failed`` event when an operation fails (an error hook).
The hooks run during previews too (``on_dry_run``): those events carry ``dry_run: true``
and the ``after`` result ``planned``, so a preview is never mistaken for a change. A hook
never fails the deployment: emitting errors become a warning (and ``ignore_errors`` is set).

Delete hooks have a cost, so they are opt-in (``recordDeletes``): the engine then refuses
``pulumi destroy`` unless it runs the program (``pulumi destroy --run-program``), because
it needs the hook's code. The delete and error hooks are program-wide (one name each), so a
release removed from the program is still recorded as it is deleted.

:func:`audit_transform` binds the same hooks to every Helm release below a component, for
programs that wrap :class:`helm_enterprise.Release` themselves.
:func:`record_validation_failure` is for the checks a component runs before anything is
applied.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, cast

import pulumi

from helm_enterprise.audit.events import emit, warn
from helm_enterprise.errors import truncate

HELM_RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
_OPERATIONS = ("create", "update", "delete")

_names: set[str] = set()
_names_lock = threading.Lock()


def unique_hook_name(name: str) -> str:
    """Hook names are program-wide; a second binding for one release gets a suffix."""
    with _names_lock:
        candidate, i = name, 1
        while candidate in _names:
            i += 1
            candidate = f"{name}-{i}"
        _names.add(candidate)
        return candidate


def _plain(value: Any) -> Any:
    """A value from hook arguments, or None when it is secret or not known yet."""
    if isinstance(value, pulumi.Output):
        return None
    try:
        from pulumi.output import Unknown

        if isinstance(value, Unknown):
            return None
    except ImportError:  # pragma: no cover
        pass
    return value


def _get(props: Mapping[str, Any] | None, *path: str) -> Any:
    value: Any = props
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = _plain(value.get(part))
    return value


def _chart_name(chart: Any) -> str | None:
    """``hello`` from ``charts/hello``, ``oci://reg/x/hello`` or ``.../hello-1.0.tgz``."""
    if not isinstance(chart, str) or not chart:
        return None
    name = chart.rstrip("/").rsplit("/", 1)[-1]
    if name.endswith(".tgz"):
        name = name[: -len(".tgz")].rsplit("-", 1)[0]
    return name


def helm_fields(
    inputs: Mapping[str, Any] | None,
    outputs: Mapping[str, Any] | None = None,
    previous: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What an event says about a ``helm.v3.Release``: (fields from its inputs, fields from
    its outputs). Never its values: they may hold secrets.

    ``previous`` (the outputs before an update) adds ``from_revision`` and
    ``from_chart_version``.
    """
    repo = _get(inputs, "repositoryOpts", "repo")
    chart_input = _get(inputs, "chart")
    declared = {
        "release": _get(inputs, "name"),
        "namespace": _get(inputs, "namespace"),
        "chart": _chart_name(chart_input),
        "chart_version": _get(inputs, "version"),
        "source": f"{str(repo).rstrip('/')}/{chart_input}" if repo else chart_input,
    }
    observed = {
        "release": _get(outputs, "status", "name"),
        "namespace": _get(outputs, "status", "namespace"),
        "chart": _get(outputs, "status", "chart"),
        "chart_version": _get(outputs, "status", "version"),
        "revision": _get(outputs, "status", "revision"),
        "status": _get(outputs, "status", "status"),
    }
    if previous:
        observed["from_revision"] = _get(previous, "status", "revision")
        observed["from_chart_version"] = _get(previous, "status", "version")

    def clean(d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if v is not None and v != ""}

    return clean(declared), clean(observed)


class _Details:
    """Static details of a release; Output values are filled in once known (secret ones
    become ``[secret]``)."""

    def __init__(self, details: Mapping[str, Any]) -> None:
        self.values: dict[str, Any] = {}
        self._tasks: list[asyncio.Future[None]] = []
        for key, value in details.items():
            if isinstance(value, pulumi.Output):
                self._watch(key, value)
            elif value is not None:
                self.values[key] = value

    def _watch(self, key: str, output: pulumi.Output[Any]) -> None:
        async def grab() -> None:
            try:
                secret = await output.is_secret()
                value = await output.future()
            except Exception:
                return
            if value is not None:
                self.values[key] = "[secret]" if secret else value

        try:
            self._tasks.append(asyncio.ensure_future(grab()))
        except RuntimeError:  # no event loop: outside a program run
            return


# Shared by every hook of the process: start times by (URN, operation), and the static
# details of each release by release name and namespace/name (the delete and error hooks
# are program-wide).
_started: dict[tuple[str, str], float] = {}
_details: dict[str, _Details] = {}


def _duration(urn: str, operation: str) -> float | None:
    started = _started.pop((urn, operation), None)
    return round(time.monotonic() - started, 3) if started is not None else None


def _record(
    operation: str,
    urn: str,
    phase: str,
    result: str,
    fields: tuple[dict[str, Any], dict[str, Any]],
    fallback_release: str | None = None,
    **extra: Any,
) -> None:
    declared, observed = fields
    release = observed.get("release") or declared.get("release") or fallback_release
    namespace = observed.get("namespace") or declared.get("namespace")
    details = _details.get(f"{namespace}/{release}") or _details.get(str(release))
    event = {**declared, **(details.values if details else {}), **observed}
    event.update({k: v for k, v in extra.items() if v is not None})
    event["release"] = release
    event["resource"] = urn
    try:
        emit(operation, phase=phase, result=result, **event)  # type: ignore[arg-type]
    except Exception as err:  # the audit trail never fails a deployment
        warn(f"audit: could not record {operation} of {release}: {err}")


def _before(
    operation: str, release: str | None = None
) -> Callable[[pulumi.ResourceHookArgs], None]:
    def hook(args: pulumi.ResourceHookArgs) -> None:
        _started[(args.urn, operation)] = time.monotonic()
        if operation == "delete":
            fields = helm_fields(args.old_inputs, args.old_outputs)
        elif operation == "update":
            declared, _obs = helm_fields(args.new_inputs)
            fields = (declared, helm_fields(None, None, args.old_outputs)[1])
        else:
            fields = helm_fields(args.new_inputs)
        _record(operation, args.urn, "before", "started", fields, release)

    return hook


def _after(operation: str, release: str | None = None) -> Callable[[pulumi.ResourceHookArgs], None]:
    def hook(args: pulumi.ResourceHookArgs) -> None:
        if operation == "delete":
            fields = helm_fields(args.old_inputs, args.old_outputs)
        else:
            fields = helm_fields(
                args.new_inputs,
                args.new_outputs,
                args.old_outputs if operation == "update" else None,
            )
        _record(
            operation,
            args.urn,
            "after",
            "planned" if pulumi.runtime.is_dry_run() else "succeeded",
            fields,
            release,
            duration_seconds=_duration(args.urn, operation),
        )

    return hook


def _failed(args: pulumi.ErrorHookArgs) -> bool:
    operation = args.failed_operation or "update"
    inputs = args.old_inputs if operation == "delete" else args.new_inputs
    _record(
        operation,
        args.urn,
        "after",
        "failed",
        helm_fields(inputs, None, args.old_outputs if operation == "update" else None),
        duration_seconds=_duration(args.urn, operation),
        error=truncate(args.errors[0], 500) if args.errors else "failed",
    )
    return False  # never ask the engine to retry: Helm's own atomic/rollback applies


_HOOK_OPTS = pulumi.ResourceHookOptions(on_dry_run=True, ignore_errors=True)
_T = TypeVar("_T")
_per_run: dict[str, tuple[object, Any]] = {}
_per_run_lock = threading.Lock()


def _current_run() -> object:
    """Identifies the program run hooks are registered with (its resource monitor)."""
    from pulumi.runtime.settings import get_monitor

    return get_monitor()


# The exit code by which a Python program tells Pulumi's language host that it has already
# shown its error (pulumi-language-python-exec uses the same).
_ERROR_ALREADY_SHOWN = 32


def exit_quietly_when_interrupted() -> None:
    """Make the engine's interrupt end this program without a traceback.

    Why (issue 10): a program whose hooks the engine may still call does not exit when its
    body is done; it waits for the engine (``SignalAndWaitForShutdown``). When an update
    fails — a cluster that died while Helm waited on it — Pulumi's language host ends the
    program with SIGINT, and Python's default handler raises ``KeyboardInterrupt`` where the main
    thread is: the user sees the run's one-line error followed by a traceback of asyncio
    and gRPC frames. Raising ``SystemExit`` there instead still printed one: the event
    loop stops with the SDK's ``run_in_stack`` coroutine suspended, and when it is closed
    later its cleanup (``_shutdown_callbacks``) finds no running loop ("Exception ignored
    in: <coroutine object run_in_stack> ... RuntimeError: no running event loop"). So
    SIGINT ends the process at once with exit code 32 (stdout and stderr flushed): the
    engine has the run's outcome already, and nothing of the program is left to clean
    up. Only in the main thread (the only place a handler can be set), and never over a
    handler someone else installed.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return

    def interrupted(_signum: int, _frame: object) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_ERROR_ALREADY_SHOWN)

    signal.signal(signal.SIGINT, interrupted)


def start_callback_server() -> None:
    """Start the Pulumi SDK's callback server — the gRPC endpoint through which the engine
    calls hook functions — once per program run, before the first hook is created.

    Why (issue 10): every ``pulumi.ResourceHook`` registers itself from a task of its own,
    and the SDK creates the callback server lazily in ``settings._get_callbacks()`` with no
    lock, so the six to eight hooks of an audited release each start a ``grpc.aio`` server
    of their own, during the first event-loop turns after the program body. When the
    program fails within those turns — an ``apply`` that raises at once, such as the chart
    fetch of the schema check when the repository credentials were already read from Vault
    — the SDK's shutdown (``_shutdown_callbacks``) stops servers whose ``start()`` is still
    in flight, and grpc's aio layer dies with SIGSEGV: the user sees ``program exited with
    non-zero exit code: -1`` and never the error. Credentials that are Outputs (stack
    config, Kubernetes Secrets) only delayed the failure past the start-up, by luck.
    Started here, synchronously (as the SDK itself does before registering a stack
    transform), and cached where the hook registrations look for it, there is one server,
    running before any hook registers, and a failure stops a started server cleanly.
    """
    from pulumi.runtime import settings
    from pulumi.runtime.mocks import MockMonitor
    from pulumi.runtime.proto import resource_pb2
    from pulumi.runtime.sync_await import _sync_await

    if settings.get_monitor() is None:
        return  # not in a program
    if not isinstance(settings.get_monitor(), MockMonitor):  # unit tests: no engine
        exit_quietly_when_interrupted()
    if settings.SETTINGS.callbacks is not None:
        return  # already started (e.g. hooks bound in a transform)
    if not settings.monitor_supports_feature(resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_HOOKS):
        return  # the SDK reports an engine without hooks when a hook registers
    servicer = _sync_await(settings._get_callbacks())
    # _get_callbacks() caches the server in a context variable, set inside the task that
    # ran it: neither the program nor the hook registrations it starts would see it, and
    # each would start a server again. Cache it in the program's own context.
    settings.SETTINGS.callbacks = servicer


def once_per_run(key: str, build: Callable[[], _T]) -> _T:
    """What ``build()`` returns, built once per program run (per resource monitor: unit
    tests run several programs in one process) and shared by everything that asks for
    ``key`` in that run — e.g. hooks the engine knows by a program-wide name."""
    run = _current_run()
    with _per_run_lock:
        cached = _per_run.get(key)
        if cached is None or cached[0] is not run:
            cached = (run, build())
            _per_run[key] = cached
        return cast(_T, cached[1])


def shared_hooks() -> dict[str, Any]:
    """The program-wide delete and error hooks (registered once per program run).

    They are shared, not per release, because the engine looks hooks up by name when it
    deletes: a release removed from the program has no hooks of its own any more, but
    these are still registered by whatever else the program declares.
    """
    return once_per_run(
        "audit",
        lambda: {
            "before_delete": pulumi.ResourceHook(
                "audit-before-delete", _before("delete"), _HOOK_OPTS
            ),
            "after_delete": pulumi.ResourceHook("audit-after-delete", _after("delete"), _HOOK_OPTS),
            "on_error": pulumi.ErrorHook("audit-on-error", _failed),
        },
    )


def lifecycle_hooks(
    release_name: str,
    details: Mapping[str, Any] | None = None,
    *,
    delete: bool = False,
    on_error: bool = True,
    after_failed_update: Callable[[pulumi.ErrorHookArgs], None] | None = None,
) -> pulumi.ResourceHookBinding:
    """Resource hooks that record the lifecycle of one release's Helm resource.

    Args:
        release_name: the Helm release name (also names the hooks, which are program-wide).
        details: static fields for every event: namespace, mode, chart, chart_version,
            source (repository URL, OCI reference or Git commit), tenant... Values may be
            Outputs (filled in once known; secret Outputs are recorded as ``[secret]``).
            References only, never secret values.
        delete: also record deletes; then ``pulumi destroy`` needs ``--run-program``
            (``helm-enterprise:audit.recordDeletes``).
        on_error: record failed operations through an error hook.
        after_failed_update: called with the error hook's arguments when an update of the
            resource fails, after the failure is recorded: e.g. to record the rollback
            Helm's atomic upgrade performed (:class:`helm_enterprise.Release` does). Its
            errors become a warning; the engine never retries.
    """
    start_callback_server()  # before any hook exists: see its docstring
    known = _Details(details or {})
    _details[release_name] = known
    namespace = (details or {}).get("namespace")
    if isinstance(namespace, str):  # one release name may exist in several namespaces
        _details[f"{namespace}/{release_name}"] = known

    def hook(phase: str, operation: str) -> pulumi.ResourceHook:
        fn = (
            _before(operation, release_name)
            if phase == "before"
            else _after(operation, release_name)
        )
        return pulumi.ResourceHook(
            unique_hook_name(f"audit-{release_name}-{phase}-{operation}"), fn, _HOOK_OPTS
        )

    binding = pulumi.ResourceHookBinding(
        before_create=[hook("before", "create")],
        after_create=[hook("after", "create")],
        before_update=[hook("before", "update")],
        after_update=[hook("after", "update")],
    )
    if delete or on_error:
        shared = shared_hooks()
        if delete:
            binding.before_delete = [shared["before_delete"]]
            binding.after_delete = [shared["after_delete"]]
        if on_error:
            binding.on_error = [shared["on_error"]]
    if after_failed_update is not None:
        follow_up = after_failed_update

        def after_failure(args: pulumi.ErrorHookArgs) -> bool:
            if args.failed_operation == "update":
                try:
                    follow_up(args)
                except Exception as err:  # the audit trail never fails a deployment
                    warn(f"audit: after the failed update of {release_name}: {err}")
            return False  # never ask the engine to retry

        name = unique_hook_name(f"audit-{release_name}-after-failed-update")
        binding.on_error = [*(binding.on_error or []), pulumi.ErrorHook(name, after_failure)]
    return binding


def audit_transform(
    details: Callable[[pulumi.ResourceTransformArgs], Mapping[str, Any]] | None = None,
    *,
    delete: bool = False,
) -> pulumi.ResourceTransform:
    """A transform that binds :func:`lifecycle_hooks` to every ``helm.v3.Release`` it sees
    (put it in a component's ``transforms``). ``details(args)`` adds fields per release."""

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if args.type_ != HELM_RELEASE_TYPE:
            return None
        bound = args.opts.hooks if args.opts else None
        if bound and any(
            str(getattr(h, "name", "")).startswith("audit-") for h in bound.before_create or []
        ):
            return None  # the component binds the audit hooks itself already
        props = args.props or {}
        name = _plain(props.get("name")) or args.name
        extra = dict(details(args)) if details else {}
        extra.setdefault("namespace", _plain(props.get("namespace")))
        hooks = lifecycle_hooks(str(name), extra, delete=delete)
        opts = pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(hooks=hooks))
        return pulumi.ResourceTransformResult(props=args.props, opts=opts)

    return transform


def record_validation_failure(
    release: str, findings: Iterable[Any], **fields: Any
) -> dict[str, Any] | None:
    """Record that dry-run checks failed for ``release`` (before anything was applied).

    ``findings`` are :class:`helm_enterprise.validation.Finding` objects (anything with
    ``to_dict()``) or dicts; their messages never carry values. Never raises.
    """
    items = [f.to_dict() if hasattr(f, "to_dict") else dict(f) for f in findings]
    errors = [i for i in items if i.get("severity", "error") == "error"]
    try:
        return emit(
            "validation-failed",
            phase="after",
            result="failed",
            release=release,
            findings=items,
            error=truncate(
                "; ".join(
                    ": ".join(str(i[k]) for k in ("field", "message") if i.get(k)) for i in errors
                )
                or "validation failed",
                500,
            ),
            **fields,
        )
    except Exception as err:
        warn(f"audit: could not record the validation failure of {release}: {err}")
        return None


def reset() -> None:
    """Forget the hooks of an earlier program run in this process (tests run several
    programs in one process; hooks belong to the run that registered them)."""
    with _per_run_lock:
        _per_run.clear()
    with _names_lock:
        _names.clear()
    _details.clear()
    _started.clear()


HOOK_KINDS = (
    "before_create",
    "after_create",
    "before_update",
    "after_update",
    "before_delete",
    "after_delete",
    "on_error",
)


def merge_hooks(*bindings: pulumi.ResourceHookBinding | None) -> pulumi.ResourceHookBinding | None:
    """One binding with every hook of ``bindings``, in order (None when there are none)."""
    present = [b for b in bindings if b is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    merged = pulumi.ResourceHookBinding()
    for name in HOOK_KINDS:
        hooks = [h for b in present for h in (getattr(b, name) or [])]
        setattr(merged, name, hooks or None)
    return merged
