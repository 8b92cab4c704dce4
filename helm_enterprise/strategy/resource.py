"""The rollout resource: runs a release's strategy inside ``pulumi up``.

A dynamic resource that depends on the target colour's Helm release, so it starts once
Helm installed the new colour (ready at its preview size), and drives the steps of
:class:`~helm_enterprise.strategy.runner.Rollout` against the cluster: a step of its own
in the plan, with the rollout's phase, step, weights and last analysis as outputs, and a
failure (an aborted rollout) that fails the ``pulumi up`` at this step. Its inputs are the
plan, the digest of the release's declared state and the counts of ``promote``/``abort``
requests read by the program, so it runs exactly when there is something to do: a new
digest, a plan that changed (steady → rollout), or a new request.

Deleting it (``pulumi destroy`` of the release) deletes the Services it created and the
rollout's state.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
import pulumi
import pulumi.dynamic as dyn

from helm_enterprise.audit import emit
from helm_enterprise.config._base import validate_model
from helm_enterprise.config.strategy import Metric, StrategyConfig, Webhook
from helm_enterprise.errors import ClusterUnavailableError, HelmEnterpriseError, message_only
from helm_enterprise.health import measure as measure_check
from helm_enterprise.kube.client import ClusterAccess
from helm_enterprise.kube.proxy import ServiceProxyClient
from helm_enterprise.slo import prometheus as prom
from helm_enterprise.strategy import state as store
from helm_enterprise.strategy.analysis import Measure, Sample
from helm_enterprise.strategy.plan import Action, Phase, Plan, State
from helm_enterprise.strategy.runner import Rollout
from helm_enterprise.strategy.traffic import KubeTraffic, colour_release

__all__ = ["RolloutResource", "call_webhook", "measurer"]


def substitute(text: str, variables: Mapping[str, str]) -> str:
    for key, value in variables.items():
        text = text.replace("{{" + key + "}}", value).replace("{{ " + key + " }}", value)
    return text


def measurer(
    namespace: str, variables: Mapping[str, str], default_address: str | None, access: ClusterAccess
) -> Measure:
    """How the rollout measures a metric: a Prometheus query (``{{canary}}`` and the other
    variables replaced) or T2.4's HTTP check (a Service through the API server)."""
    proxy = ServiceProxyClient(access)

    def measure(metric: Metric) -> Sample:
        if metric.http is not None:
            m = measure_check(metric.http, namespace, service=proxy)
            if not m.ok and m.value is None:
                return Sample(error=m.detail)
            return Sample(
                values=(m.value,) if m.value is not None else (), ok=m.ok, detail=m.detail
            )
        assert metric.prometheus is not None
        address = metric.prometheus.address or default_address
        if not address:
            return Sample(
                error="no Prometheus address: set prometheus.address on the metric or the "
                "stack's helm-enterprise:prometheus"
            )
        try:
            samples = prom.query(address, substitute(metric.prometheus.query, variables))
        except HelmEnterpriseError as err:
            return Sample(error=str(err))
        return Sample(values=tuple(v for _, v in samples))

    return measure


def call_webhook(hook: Webhook, payload: Mapping[str, Any]) -> tuple[bool, str]:
    """POST the rollout's facts; only a 2xx passes (Flagger's rule)."""
    try:
        resp = httpx.post(hook.url, json=dict(payload), timeout=hook.timeout, trust_env=False)
    except httpx.HTTPError as err:
        return False, f"{hook.url}: {type(err).__name__}"
    return 200 <= resp.status_code < 300, f"{hook.url} answered {resp.status_code}"


def run_rollout(props: Mapping[str, Any]) -> dict[str, Any]:
    strategy = validate_model(StrategyConfig, json.loads(props["strategy"]), "strategy")
    plan_data = json.loads(props["plan"])
    plan = Plan(
        Action(plan_data["action"]), plan_data["stable"], plan_data["target"], plan_data["resume"]
    )
    release, namespace = props["release"], props["namespace"]
    access = ClusterAccess(props.get("kubeconfig") or None, props.get("context") or None)
    api = access.api_client()
    if api is None:
        raise ClusterUnavailableError(
            f"{namespace}/{release}: no cluster access ({access.describe()}) to run the rollout"
        )
    labels = json.loads(props.get("labels") or "{}")
    variables = {
        "release": release,
        "namespace": namespace,
        "stable": colour_release(release, plan.stable) if plan.stable else "",
        "canary": colour_release(release, plan.target) if plan.target else "",
    }
    try:
        rollout = Rollout(
            release=release,
            namespace=namespace,
            strategy=strategy,
            plan=plan,
            digest=props["digest"],
            traffic=KubeTraffic(api, namespace, release),
            load=lambda: store.read(api, namespace, release),
            save=lambda change: store.update(api, namespace, release, change, labels),
            measure=measurer(namespace, variables, props.get("prometheus") or None, access),
            record=emit,
            webhook=call_webhook,
            labels=labels,
            ready_timeout=float(props.get("readyTimeout") or 300),
        )
        final: State = rollout.run()
    finally:
        api.close()
    return {**props, **outputs(final, plan)}


def outputs(state: State, plan: Plan) -> dict[str, Any]:
    """The rollout's outputs: ``phase``, ``step``, ``weights``, ``active``, ``message`` and
    ``lastAnalysis`` (the release shows them as its ``strategy`` output)."""
    message = state.message
    if state.phase is Phase.PAUSED:
        message = f"paused at step {state.step} ({state.message})"
    elif plan.action is Action.ABORTED:
        message = (
            f"the rollout of this state was aborted ({state.message}); serving "
            f"{state.active}. Change the release or run `helm-enterprise promote` to retry"
        )
    return {
        "phase": state.phase.value,
        "step": state.step,
        "weights": dict(state.weights),
        "active": state.active,
        "message": message,
        "lastAnalysis": list(state.last_analysis),
    }


class RolloutProvider(dyn.ResourceProvider):
    serialize_as_secret_always = False

    @message_only
    def create(self, props: dict[str, Any]) -> dyn.CreateResult:
        return dyn.CreateResult(
            id_=f"{props['namespace']}/{props['release']}", outs=run_rollout(props)
        )

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.DiffResult:
        keys = ("digest", "plan", "strategy", "requests", "release", "namespace")
        changed = [k for k in keys if olds.get(k) != news.get(k)]
        return dyn.DiffResult(
            changes=bool(changed), replaces=[], stables=[], delete_before_replace=False
        )

    @message_only
    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dyn.UpdateResult:
        return dyn.UpdateResult(outs=run_rollout(news))

    @message_only
    def delete(self, _id: str, props: dict[str, Any]) -> None:
        access = ClusterAccess(props.get("kubeconfig") or None, props.get("context") or None)
        api = access.reachable_client()
        if api is None:
            return
        try:
            strategy = validate_model(StrategyConfig, json.loads(props["strategy"]), "strategy")
            traffic = KubeTraffic(api, props["namespace"], props["release"])
            for service in services(strategy, props["release"]):
                traffic.delete_service(service)
            store.delete(api, props["namespace"], props["release"])
        finally:
            api.close()


def services(strategy: StrategyConfig, release: str) -> list[str]:
    """The Services a strategy routes through (created by the rollout)."""
    if strategy.blue_green is not None:
        bg = strategy.blue_green
        return [bg.active_service or release, *([bg.preview_service] if bg.preview_service else [])]
    assert strategy.canary is not None
    return [strategy.canary.service or release]


class RolloutResource(dyn.Resource):
    """One release's progressive rollout (``helm-enterprise`` dynamic resource)."""

    phase: pulumi.Output[str]
    step: pulumi.Output[int]
    weights: pulumi.Output[dict[str, int]]
    active: pulumi.Output[str]
    message: pulumi.Output[str]
    lastAnalysis: pulumi.Output[list[dict[str, Any]]]

    def __init__(
        self,
        name: str,
        *,
        release: str,
        namespace: str,
        strategy: StrategyConfig,
        plan: Plan,
        digest: str,
        requests: State | None,
        labels: Mapping[str, str],
        ready_timeout: int,
        prometheus: str | None,
        access: ClusterAccess,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            RolloutProvider(),
            name,
            {
                "release": release,
                "namespace": namespace,
                "strategy": json.dumps(
                    strategy.model_dump(mode="json", by_alias=True, exclude_none=True),
                    sort_keys=True,
                ),
                "plan": json.dumps(
                    {
                        "action": plan.action.value,
                        "stable": plan.stable,
                        "target": plan.target,
                        "resume": plan.resume_step,
                    },
                    sort_keys=True,
                ),
                "digest": digest,
                "requests": (
                    f"{requests.promotions}/{requests.aborts}" if requests is not None else "0/0"
                ),
                "labels": json.dumps(dict(labels), sort_keys=True),
                "readyTimeout": ready_timeout,
                "prometheus": prometheus,
                "kubeconfig": access.kubeconfig,
                "context": access.context,
                "phase": None,
                "step": None,
                "weights": None,
                "active": None,
                "message": None,
                "lastAnalysis": None,
            },
            opts,
        )
