"""``helm-enterprise rollout status``, ``promote`` and ``abort`` (T3.1/T3.2).

They work on the rollout's state in the cluster (the ConfigMap
``helm-enterprise-rollout-<release>``), with cluster credentials only:

* ``promote`` asks a paused rollout to go on (or an aborted one to try again) and, given
  ``--stack``, runs that stack's ``pulumi up`` to do it; without it, the next ``pulumi up``
  goes on;
* ``abort`` returns all traffic to the stable colour at once (the Services select it, the
  target colour is scaled to zero) and marks the rollout aborted; a ``pulumi up`` that is
  running the rollout at that moment stops too.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import typer

from helm_enterprise.cli import JsonOpt, app, emit_json, err, handle_errors, out
from helm_enterprise.errors import HelmEnterpriseError, RolloutError

rollout_app = typer.Typer(help="Progressive rollouts (blue/green, canary).", no_args_is_help=True)
app.add_typer(rollout_app, name="rollout")

Namespace = Annotated[str, typer.Option("--namespace", "-n")]
Kubeconfig = Annotated[str | None, typer.Option("--kubeconfig")]
Context = Annotated[str | None, typer.Option("--context")]


def _api(kubeconfig: str | None, context: str | None) -> Any:
    from helm_enterprise.kube.client import ClusterAccess

    access = ClusterAccess(kubeconfig, context)
    api = access.reachable_client()
    if api is None:
        raise HelmEnterpriseError(f"cluster {access.describe()} is not reachable")
    return api


def _state_or_fail(api: Any, namespace: str, release: str) -> Any:
    from helm_enterprise.strategy import state as store

    current = store.read(api, namespace, release)
    if current is None:
        raise HelmEnterpriseError(
            f"{namespace}/{release} has no rollout (no ConfigMap {store.name(release)}); "
            "is it a release with a strategy?"
        )
    return current


def _request(api: Any, namespace: str, release: str, counter: str, phases: tuple[Any, ...]) -> Any:
    """Count one more ``promotions``/``aborts`` request on a rollout in one of ``phases``;
    returns the state as it was."""
    from helm_enterprise.strategy import state as store

    current = _state_or_fail(api, namespace, release)
    if current.phase not in phases or (counter == "aborts" and not current.target):
        verb = "promote" if counter == "promotions" else "abort"
        raise HelmEnterpriseError(
            f"{namespace}/{release}: nothing to {verb}, the rollout is {current.phase.value}"
        )

    def more(s: Any) -> Any:
        base = s or current
        return dataclasses.replace(base, **{counter: getattr(base, counter) + 1})

    store.update(api, namespace, release, more)
    return current


@rollout_app.command("status")
@handle_errors
def status(
    release: Annotated[str, typer.Argument(help="The release (its name in stack config).")],
    namespace: Namespace = "default",
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    as_json: JsonOpt = False,
) -> None:
    """Where the release's rollout is: phase, active colour, step, weights, last analysis."""
    api = _api(kubeconfig, context)
    try:
        current = _state_or_fail(api, namespace, release)
    finally:
        api.close()
    data = current.to_dict()
    for internal in ("promotions_used", "strategy"):
        data.pop(internal, None)
    if as_json:
        emit_json(data)
        return
    out.print(
        f"{namespace}/{release}: {current.phase.value}, serving {release}-{current.active}"
        + (
            f", rolling out {release}-{current.target} (step {current.step})"
            if current.target
            else ""
        ),
        highlight=False,
    )
    if current.weights:
        out.print("weights: " + ", ".join(f"{k} {v}%" for k, v in current.weights.items()))
    if current.message:
        out.print(f"why: {current.message}", highlight=False)
    for m in current.last_analysis:
        out.print(f"  {m['metric']}: {m['outcome']} ({m['message']})", highlight=False)


@app.command()
@handle_errors
def promote(
    release: Annotated[str, typer.Argument(help="The release (its name in stack config).")],
    namespace: Namespace = "default",
    stack: Annotated[
        str | None, typer.Option("--stack", "-s", help="Run this stack's `pulumi up` to go on.")
    ] = None,
    cwd: Annotated[Path, typer.Option("--cwd", "-C", help="Pulumi project directory.")] = Path(),
    kubeconfig: Kubeconfig = None,
    context: Context = None,
) -> None:
    """Let a paused rollout go on (or retry an aborted one)."""
    from helm_enterprise.audit import emit
    from helm_enterprise.strategy.plan import Phase

    api = _api(kubeconfig, context)
    try:
        current = _request(
            api, namespace, release, "promotions", (Phase.PAUSED, Phase.ABORTED, Phase.PROGRESSING)
        )
    finally:
        api.close()
    emit(
        "promote",
        result="requested",
        release=release,
        namespace=namespace,
        step=current.step,
        phase=current.phase.value,
    )
    if stack is None:
        out.print(
            f"{namespace}/{release}: promotion requested; the next `pulumi up` goes on",
            highlight=False,
        )
        return
    _up(cwd, stack, release)


def _up(cwd: Path, stack: str, release: str) -> None:
    import sys

    from pulumi import automation as auto

    from helm_enterprise.automation.errors import pulumi_command
    from helm_enterprise.automation.verbosity import check_pulumi_verbosity

    check_pulumi_verbosity()  # Pulumi's debug logging would print secret values
    err.print(f"running pulumi up of stack {stack} ...", highlight=False)
    with pulumi_command("up", stack):
        st = auto.select_stack(stack, work_dir=str(cwd.resolve()))
        result = st.up(on_output=lambda line: sys.stderr.write(line + "\n"), color="never")
    releases = result.outputs.get("releases")
    strategy = ((releases.value if releases else {}).get(release) or {}).get("strategy") or {}
    out.print(
        f"{release}: {strategy.get('phase', '?')}"
        + (f" — {strategy['message']}" if strategy.get("message") else ""),
        highlight=False,
    )


@app.command()
@handle_errors
def abort(
    release: Annotated[str, typer.Argument(help="The release (its name in stack config).")],
    namespace: Namespace = "default",
    kubeconfig: Kubeconfig = None,
    context: Context = None,
) -> None:
    """Return all traffic to the stable colour now and stop the rollout."""
    from helm_enterprise.audit import emit
    from helm_enterprise.config._base import validate_model
    from helm_enterprise.config.strategy import StrategyConfig
    from helm_enterprise.strategy import state as store
    from helm_enterprise.strategy.analysis import Sample
    from helm_enterprise.strategy.plan import Action, Phase, Plan
    from helm_enterprise.strategy.resource import call_webhook
    from helm_enterprise.strategy.runner import Rollout
    from helm_enterprise.strategy.traffic import KubeTraffic

    api = _api(kubeconfig, context)
    try:
        current = _request(api, namespace, release, "aborts", (Phase.PAUSED, Phase.PROGRESSING))
        rollout = Rollout(
            release=release,
            namespace=namespace,
            strategy=validate_model(StrategyConfig, current.strategy, "strategy"),
            plan=Plan(Action.ROLLOUT, current.active, current.target),
            digest=current.target_digest or "",
            traffic=KubeTraffic(api, namespace, release),
            load=lambda: store.read(api, namespace, release),
            save=lambda change: store.update(api, namespace, release, change),
            measure=lambda _metric: Sample(error="an abort measures nothing"),
            record=emit,
            webhook=call_webhook,
        )
        try:
            rollout.abort("aborted by `helm-enterprise abort`")
        except RolloutError as done:
            out.print(str(done), highlight=False)
    finally:
        api.close()
