"""The steps of a rollout (helm_enterprise.strategy.runner) against an in-memory double of
the traffic operations and a fake clock; the real ones run in tests/e2e/test_strategy.py."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from helm_enterprise.config._base import validate_model
from helm_enterprise.config.strategy import Metric, StrategyConfig, Webhook
from helm_enterprise.errors import RolloutError
from helm_enterprise.strategy.analysis import Sample
from helm_enterprise.strategy.plan import Action, Phase, Plan, State
from helm_enterprise.strategy.runner import Rollout
from helm_enterprise.strategy.traffic import Workload

ROLLOUT = Plan(Action.ROLLOUT, "blue", "green")


class Memory:
    """Deployments hello-blue/hello-green and Services, as dicts; every call logged."""

    def __init__(self, declared: int = 10, target_replicas: int = 0) -> None:
        self.declared = declared
        self.replicas = {"hello-blue": declared, "hello-green": target_replicas}
        self.selects: dict[str, str | None] = {}
        self.log: list[tuple[Any, ...]] = []

    def workloads(self, colour: str) -> list[Workload]:
        name = f"hello-{colour}"
        n = self.replicas[name]
        return [Workload(name, self.declared, n, n, True)]

    def scale(self, name: str, replicas: int) -> None:
        self.replicas[name] = replicas
        self.log.append(("scale", name, replicas))

    def ready(self, colour: str) -> bool:
        return True

    def route(
        self, service: str, colour: str | None, ports_from: str, labels: Mapping[str, str]
    ) -> bool:
        changed = self.selects.get(service, "unset") != colour
        self.selects[service] = colour
        if changed:
            self.log.append(("route", service, colour))
        return changed


@dataclasses.dataclass
class Harness:
    strategy: dict[str, Any]
    plan: Plan = ROLLOUT
    state: State | None = dataclasses.field(
        default_factory=lambda: State(active="blue", active_digest="d1")
    )
    samples: Callable[[Metric, float], Sample] = lambda _m, _t: Sample(values=(0.0,))
    hooks: Mapping[str, bool] = dataclasses.field(default_factory=dict)
    traffic: Memory = dataclasses.field(default_factory=Memory)
    now: float = 0.0
    records: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    on_sleep: Callable[[Harness], None] = lambda _h: None

    def rollout(self) -> Rollout:
        def save(change: Callable[[State | None], State]) -> State:
            self.state = change(self.state)
            return self.state

        def sleep(seconds: float) -> None:
            self.now += seconds
            self.on_sleep(self)

        def record(action: str, **fields: Any) -> None:
            self.records.append({"action": action, **fields})

        def webhook(hook: Webhook, payload: Mapping[str, Any]) -> tuple[bool, str]:
            return self.hooks.get(hook.name, True), "answered"

        return Rollout(
            release="hello",
            namespace="demo",
            strategy=validate_model(StrategyConfig, self.strategy, "strategy"),
            plan=self.plan,
            digest="d2",
            traffic=self.traffic,
            load=lambda: self.state,
            save=save,
            measure=lambda m: self.samples(m, self.now),
            record=record,
            webhook=webhook,
            clock=lambda: self.now,
            sleep=sleep,
        )

    def run(self) -> State:
        return self.rollout().run()

    def actions(self, action: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["action"] == action]


def error_ratio(**extra: Any) -> dict[str, Any]:
    return {
        "name": "errors",
        "prometheus": {"query": "q"},
        "successCondition": "result < 0.1",
        **extra,
    }


BLUE_GREEN = {
    "blueGreen": {
        "activeService": "web",
        "previewService": "web-preview",
        "scaleDownDelaySeconds": 30,
        "prePromotionAnalysis": {"metrics": [error_ratio()]},
        "postPromotionAnalysis": {"metrics": [error_ratio(interval=5, count=3)]},
    }
}


def test_blue_green_switches_after_analysis_and_scales_the_old_colour_down() -> None:
    h = Harness(BLUE_GREEN, traffic=Memory(target_replicas=10))
    final = h.run()
    assert final.phase is Phase.HEALTHY and final.active == "green" and final.target is None
    assert final.active_digest == "d2" and final.weights == {"stable": 0, "canary": 100}
    assert h.traffic.log == [
        ("route", "web-preview", "green"),
        ("route", "web", "green"),
        ("scale", "hello-blue", 0),
    ]
    # The old colour went only after the delay (post-promotion analysis counts toward it).
    assert h.now >= 30
    assert [r["result"] for r in h.actions("analysis")] == ["Successful"] * 4
    assert [r["result"] for r in h.actions("rollout-step")] == [
        "started",
        "switched",
        "scaled-down",
        "promoted",
    ]


def test_blue_green_failed_post_promotion_switches_back_at_once() -> None:
    h = Harness(
        BLUE_GREEN,
        traffic=Memory(target_replicas=10),
        samples=lambda _m, t: Sample(values=(0.5 if t >= 5 else 0.0,)),
    )
    with pytest.raises(RolloutError) as err:
        h.run()
    assert "all traffic is back on hello-blue" in str(err.value)
    assert "post-promotion analysis Failed: errors: 0.5: not result < 0.1" in str(err.value)
    assert h.traffic.selects["web"] == "blue"
    assert h.traffic.replicas == {"hello-blue": 10, "hello-green": 0}
    assert h.state is not None and h.state.phase is Phase.ABORTED and h.state.active == "blue"
    [abort] = h.actions("abort")
    assert abort["stable"] == "blue" and abort["seconds_to_stable"] == 0


def test_blue_green_without_auto_promotion_pauses_until_promoted() -> None:
    strategy = {"blueGreen": {"autoPromotionEnabled": False}}
    h = Harness(strategy, traffic=Memory(target_replicas=10))
    paused = h.run()
    assert paused.phase is Phase.PAUSED and "helm-enterprise promote" in paused.message
    assert "hello" not in h.traffic.selects  # nothing switched yet
    assert h.state is not None
    h.state = dataclasses.replace(h.state, promotions=1)
    done = h.run()
    assert done.phase is Phase.HEALTHY and h.traffic.selects["hello"] == "green"
    assert done.promotions_used == 1 and len(h.actions("promote")) == 1


CANARY = {
    "canary": {
        "steps": [
            {"setWeight": 10},
            {"pause": {"duration": "20s"}},
            {"setWeight": 50},
            {"pause": {}},
        ]
    }
}


def test_canary_steps_set_replicas_and_pause_without_duration() -> None:
    h = Harness(CANARY)
    paused = h.run()
    assert paused.phase is Phase.PAUSED and paused.step == 3
    assert paused.message == "paused at step 4 (pause without duration)"
    assert paused.weights == {"stable": 50, "canary": 50}
    assert [e for e in h.traffic.log if e[0] == "scale"] == [
        ("scale", "hello-green", 1),
        ("scale", "hello-blue", 9),
        ("scale", "hello-green", 5),
        ("scale", "hello-blue", 5),
    ]
    assert h.now >= 20
    # A rerun without a promote request stays paused; with one it goes on, from step 4.
    h.plan = Plan(Action.ROLLOUT, "blue", "green", paused.step)
    assert h.run().phase is Phase.PAUSED
    assert h.state is not None
    h.state = dataclasses.replace(h.state, promotions=1)
    done = h.run()
    assert done.phase is Phase.HEALTHY and done.active == "green"
    assert h.traffic.replicas == {"hello-blue": 0, "hello-green": 10}
    assert done.weights == {"stable": 0, "canary": 100}


def test_canary_background_analysis_failure_aborts_during_a_pause() -> None:
    strategy = {
        "canary": {
            "steps": [{"setWeight": 50}, {"pause": {"duration": "60s"}}],
            "analysis": {"metrics": [error_ratio(interval=5, initialDelay=10)]},
        }
    }
    h = Harness(strategy, samples=lambda _m, t: Sample(values=(0.5 if t >= 20 else 0.0,)))
    with pytest.raises(RolloutError, match="background analysis Failed"):
        h.run()
    assert 20 <= h.now < 22  # at the first failing measurement
    assert h.traffic.replicas == {"hello-blue": 10, "hello-green": 0}
    assert h.state is not None and h.state.weights == {"stable": 100, "canary": 0}


def test_an_abort_request_stops_a_running_rollout() -> None:
    def request_abort(h: Harness) -> None:
        if h.now >= 5 and h.state is not None and h.state.aborts == 0:
            h.state = dataclasses.replace(h.state, aborts=1)

    h = Harness(CANARY, on_sleep=request_abort)
    with pytest.raises(RolloutError, match="aborted by `helm-enterprise abort`"):
        h.run()
    assert h.traffic.replicas == {"hello-blue": 10, "hello-green": 0}


def test_webhooks_gate_and_refuse() -> None:
    hooks = [
        {"name": "approve", "type": "confirm-promotion", "url": "http://gate.invalid/ok"},
        {"name": "check", "type": "pre-rollout", "url": "http://gate.invalid/check"},
    ]
    strategy = {"canary": {"steps": [{"setWeight": 50}]}, "webhooks": hooks}
    h = Harness(strategy, hooks={"approve": False})
    paused = h.run()
    assert paused.phase is Phase.PAUSED and "confirm-promotion" in paused.message
    h2 = Harness(strategy, hooks={"check": False})
    with pytest.raises(RolloutError, match="pre-rollout webhook refused"):
        h2.run()


def test_first_install_serves_at_once_and_steady_only_routes() -> None:
    h = Harness(
        CANARY,
        plan=Plan(Action.INSTALL, None, "blue"),
        state=None,
        traffic=Memory(target_replicas=10),
    )
    installed = h.run()
    assert installed.active == "blue" and installed.active_digest == "d2"
    assert installed.phase is Phase.HEALTHY and h.traffic.selects == {"hello": None}
    h.plan = Plan(Action.STEADY, "blue", None)
    assert h.run().active == "blue"
    assert not [e for e in h.traffic.log if e[0] == "scale"]
