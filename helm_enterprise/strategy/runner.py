"""Running one rollout: the steps of a blue/green or canary strategy, to the end or a pause.

:class:`Rollout` acts through what it is given — the traffic operations
(:class:`~helm_enterprise.strategy.traffic.KubeTraffic` against a cluster), the rollout
state's load/save, the measuring of metrics, the webhook call and the audit recorder — so
the same steps run inside ``pulumi up`` (the rollout resource) and in unit tests.

Outcomes: the rollout reaches the end (the target colour is active, the old one scaled to
zero), or it pauses (a pause without duration, an Inconclusive analysis, a confirm webhook
that says no, blue/green without auto-promotion: the state says why and ``helm-enterprise
promote`` goes on), or it aborts (a Failed analysis or metric error beyond its limit, a
pre-rollout webhook that says no, ``helm-enterprise abort``): all traffic returns to the
stable colour at once, the target is scaled to zero, and :class:`RolloutError` fails the
run with the measurements that decided it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from helm_enterprise.config.strategy import Analysis, StrategyConfig, Webhook
from helm_enterprise.errors import RolloutError
from helm_enterprise.strategy.analysis import AnalysisRun, Measure, Outcome
from helm_enterprise.strategy.plan import (
    Action,
    Phase,
    Plan,
    State,
    actual_weight,
    canary_replicas,
)
from helm_enterprise.strategy.traffic import Workload


class Traffic(Protocol):
    def workloads(self, colour: str) -> list[Workload]: ...
    def scale(self, name: str, replicas: int) -> None: ...
    def ready(self, colour: str) -> bool: ...
    def route(
        self, service: str, colour: str | None, ports_from: str, labels: Mapping[str, str]
    ) -> bool: ...


Recorder = Callable[..., Any]
WebhookCall = Callable[[Webhook, Mapping[str, Any]], tuple[bool, str]]


class Paused(Exception):
    """Internal: the rollout stops here until promoted."""


@dataclasses.dataclass
class Rollout:
    release: str
    namespace: str
    strategy: StrategyConfig
    plan: Plan
    digest: str
    traffic: Traffic
    load: Callable[[], State | None]
    save: Callable[[Callable[[State | None], State]], State]
    measure: Measure
    record: Recorder
    webhook: WebhookCall
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    ready_timeout: float = 300.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    poll: float = 1.0
    # what this run has seen
    _aborts_at_start: int = 0
    _background: AnalysisRun | None = None
    _last_analysis: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    # -- entry ----------------------------------------------------------------------------

    def run(self) -> State:
        current = self.load()
        self._aborts_at_start = current.aborts if current else 0
        p = self.plan
        if p.action is Action.STEADY or p.action is Action.ABORTED:
            assert p.stable is not None
            self._route_all(p.stable)
            return current or State(active=p.stable, active_digest=self.digest)
        if p.action is Action.INSTALL:
            return self._install()
        assert p.target is not None and p.stable is not None
        retry = current is not None and current.phase is Phase.ABORTED
        self._update(
            lambda s: dataclasses.replace(
                s,
                # A promote that retries an aborted rollout is used up by the retry.
                promotions_used=s.promotions if retry else s.promotions_used,
                strategy=self.strategy.model_dump(mode="json", by_alias=True, exclude_none=True),
                target=p.target,
                target_digest=self.digest,
                phase=Phase.PROGRESSING,
                step=p.resume_step,
                switched=s.switched and s.target_digest == self.digest,
                message="",
            )
        )
        self._step("started", step=p.resume_step)
        try:
            if not self._gate("confirm-rollout"):
                raise Paused("the confirm-rollout webhook has not approved the rollout")
            if not self._call_hooks("pre-rollout"):
                self._abort("a pre-rollout webhook refused the rollout")
            if self.strategy.blue_green is not None:
                self._blue_green()
            else:
                self._canary()
        except Paused as why:
            return self._pause(str(why))
        self._call_hooks("post-rollout")
        return self._state()

    # -- state ----------------------------------------------------------------------------

    def _state(self) -> State:
        return self.load() or State()

    def _update(self, change: Callable[[State], State]) -> State:
        return self.save(lambda s: change(s or State()))

    def _step(self, what: str, **fields: Any) -> None:
        self.record(
            "rollout-step",
            result=what,
            release=self.release,
            namespace=self.namespace,
            strategy=self.strategy.kind,
            stable=self.plan.stable,
            target=self.plan.target,
            **fields,
        )

    def _pause(self, why: str) -> State:
        state = self._update(
            lambda s: dataclasses.replace(
                s, phase=Phase.PAUSED, message=why, last_analysis=self._last_analysis
            )
        )
        self._step("paused", step=state.step, why=why)
        return state

    def _consume_promotion(self) -> bool:
        """Whether a ``promote`` request waits; it is used up by going on."""
        state = self._state()
        if not state.promote_pending:
            return False
        self._update(lambda s: dataclasses.replace(s, promotions_used=s.promotions))
        self.record(
            "promote",
            result="succeeded",
            release=self.release,
            namespace=self.namespace,
            step=state.step,
        )
        return True

    def _abort_requested(self) -> bool:
        return self._state().aborts > self._aborts_at_start

    # -- waiting --------------------------------------------------------------------------

    def _tick(self) -> None:
        """Between steps: a requested abort, and the background analysis."""
        if self._abort_requested():
            self._abort("aborted by `helm-enterprise abort`")
        if self._background is not None:
            self._measured(self._background, self._background.tick(self.clock()))
            outcome = self._background.outcome()
            if outcome in (Outcome.FAILED, Outcome.ERROR):
                self._abort(f"background analysis {outcome.value}: {self._background.why()}")
            if outcome is Outcome.INCONCLUSIVE:
                raise Paused(f"background analysis Inconclusive: {self._background.why()}")

    def _wait(self, seconds: float) -> None:
        end = self.clock() + seconds
        while (left := end - self.clock()) > 0:
            self._tick()
            self.sleep(min(self.poll, left))

    def _wait_ready(self, colour: str, *, abort: bool = True) -> None:
        """Until ``colour`` is ready; past the readiness timeout the rollout aborts (a
        first install, with nothing to return to, fails instead)."""
        deadline = self.clock() + self.ready_timeout
        while not self.traffic.ready(colour):
            if self.clock() > deadline:
                why = (
                    f"{self.release}-{colour} did not become ready within {self.ready_timeout:.0f}s"
                )
                if not abort:
                    raise RolloutError(why)
                self._abort(why)
            if abort:
                self._tick()
            self.sleep(self.poll)

    # -- analysis -------------------------------------------------------------------------

    def _measured(self, run: AnalysisRun, taken: list[Any]) -> None:
        for m in taken:
            self.record(
                "analysis",
                result=m.outcome.value,
                release=self.release,
                namespace=self.namespace,
                metric=m.metric,
                value=m.value,
                message=m.message,
                target=self.plan.target,
            )
        if taken:
            self._last_analysis = run.last()

    def _analyse(self, analysis: Analysis, what: str) -> None:
        run = AnalysisRun(analysis, self.measure, self.clock())
        while True:
            self._measured(run, run.tick(self.clock()))
            outcome = run.outcome()
            if outcome in (Outcome.FAILED, Outcome.ERROR):
                self._abort(f"{what} {outcome.value}: {run.why()}")
            if outcome is Outcome.INCONCLUSIVE:
                if self._consume_promotion():
                    return
                raise Paused(f"{what} Inconclusive: {run.why()}")
            if outcome is Outcome.SUCCESSFUL:
                return
            due = run.next_due()
            self._wait(max(0.0, (due if due is not None else self.clock()) - self.clock()))

    # -- webhooks -------------------------------------------------------------------------

    def _payload(self, kind: str) -> dict[str, Any]:
        state = self._state()
        return {
            "name": self.release,
            "namespace": self.namespace,
            "phase": state.phase.value,
            "type": kind,
            "metadata": {
                "stable": self.plan.stable or "",
                "target": self.plan.target or "",
                "step": str(state.step),
            },
        }

    def _call_hooks(self, kind: str) -> bool:
        ok_all = True
        for hook in (w for w in self.strategy.webhooks if w.type == kind):
            ok, detail = self.webhook(hook, self._payload(kind))
            self._step(f"webhook {kind}", webhook=hook.name, passed=ok, detail=detail)
            ok_all = ok_all and ok
        return ok_all

    def _gate(self, kind: str) -> bool:
        """A confirm webhook: a promote request overrides a "no"."""
        return self._call_hooks(kind) or self._consume_promotion()

    # -- aborting -------------------------------------------------------------------------

    def abort(self, why: str) -> None:
        """Return all traffic to stable now (``helm-enterprise abort``); raises
        :class:`RolloutError` saying so."""
        self._abort(why)

    def _abort(self, why: str) -> None:
        p = self.plan
        assert p.stable is not None and p.target is not None
        started = self.clock()
        self._route_all(p.stable)
        for w in self.traffic.workloads(p.stable):
            self.traffic.scale(w.name, w.declared)
        for w in self.traffic.workloads(p.target):
            self.traffic.scale(w.name, 0)
        self._update(
            lambda s: dataclasses.replace(
                s,
                phase=Phase.ABORTED,
                message=why,
                switched=False,
                weights={"stable": 100, "canary": 0},
                last_analysis=self._last_analysis,
                aborts=max(s.aborts, self._aborts_at_start),
            )
        )
        self.record(
            "abort",
            result="succeeded",
            release=self.release,
            namespace=self.namespace,
            why=why,
            stable=p.stable,
            target=p.target,
            seconds_to_stable=round(self.clock() - started, 2),
        )
        self._call_hooks("rollback")
        raise RolloutError(
            f"{self.namespace}/{self.release}: rollout of {self.release}-{p.target} aborted, "
            f"all traffic is back on {self.release}-{p.stable}: {why}"
        )

    # -- routing --------------------------------------------------------------------------

    def _services(self) -> tuple[str, str | None]:
        if self.strategy.blue_green is not None:
            bg = self.strategy.blue_green
            return bg.active_service or self.release, bg.preview_service
        assert self.strategy.canary is not None
        return self.strategy.canary.service or self.release, None

    def _route_all(self, colour: str) -> None:
        """All traffic to ``colour``: the active (or canary) Service selects only it."""
        service, preview = self._services()
        if self.strategy.blue_green is not None:
            self.traffic.route(service, colour, colour, self.labels)
            if preview is not None:
                self.traffic.route(preview, colour, colour, self.labels)
        else:  # both tracks stay selected; the canary has no Pods
            self.traffic.route(service, None, colour, self.labels)

    def _install(self) -> State:
        target = self.plan.target
        assert target is not None
        for w in self.traffic.workloads(target):
            if w.replicas != w.declared:
                self.traffic.scale(w.name, w.declared)
        self._wait_ready(target, abort=False)
        self._route_all(target)
        state = self._activate(target, {"stable": 100, "canary": 0})
        self._step("installed", active=target)
        return state

    def _activate(self, colour: str, weights: Mapping[str, int]) -> State:
        """``colour`` serves this run's digest: the rollout is over."""
        return self._update(
            lambda s: dataclasses.replace(
                s,
                active=colour,
                active_digest=self.digest,
                target=None,
                target_digest=None,
                phase=Phase.HEALTHY,
                step=0,
                switched=False,
                message="",
                weights=dict(weights),
                last_analysis=self._last_analysis,
            )
        )

    def _promoted(self, weights: Mapping[str, int]) -> None:
        assert self.plan.target is not None
        self._activate(self.plan.target, weights)
        self._step("promoted", active=self.plan.target)

    # -- blue/green -----------------------------------------------------------------------

    def _blue_green(self) -> None:
        bg = self.strategy.blue_green
        p = self.plan
        assert bg is not None and p.target is not None and p.stable is not None
        active, preview = self._services()
        self._wait_ready(p.target)
        if preview is not None:
            self.traffic.route(preview, p.target, p.target, self.labels)
        if not self._state().switched:
            if bg.pre_promotion_analysis is not None:
                self._analyse(bg.pre_promotion_analysis, "pre-promotion analysis")
            if not bg.auto_promotion_enabled and not self._consume_promotion():
                raise Paused("waiting for `helm-enterprise promote` (autoPromotionEnabled: false)")
            if bg.auto_promotion_seconds:
                self._wait(bg.auto_promotion_seconds)
            if not self._gate("confirm-promotion"):
                raise Paused("the confirm-promotion webhook has not approved the switch")
            for w in self.traffic.workloads(p.target):  # previewReplicaCount → full size
                if w.replicas != w.declared:
                    self.traffic.scale(w.name, w.declared)
            self._wait_ready(p.target)
            self.traffic.route(active, p.target, p.target, self.labels)
            self._update(
                lambda s: dataclasses.replace(
                    s, switched=True, step=1, weights={"stable": 0, "canary": 100}
                )
            )
            self._step("switched", service=active, to=p.target)
        switched_at = self.clock()
        if bg.post_promotion_analysis is not None:
            self._analyse(bg.post_promotion_analysis, "post-promotion analysis")
        self._wait(max(0.0, switched_at + bg.scale_down_delay_seconds - self.clock()))
        for w in self.traffic.workloads(p.stable):
            self.traffic.scale(w.name, 0)
        self._step("scaled-down", colour=p.stable)
        self._promoted({"stable": 0, "canary": 100})

    # -- canary ---------------------------------------------------------------------------

    def _set_weight(self, weight: int) -> dict[str, int]:
        p = self.plan
        assert p.target is not None and p.stable is not None
        stable = {w.pair_key(self.release, p.stable): w for w in self.traffic.workloads(p.stable)}
        canary_total = stable_total = 0
        for w in self.traffic.workloads(p.target):
            partner = stable.get(w.pair_key(self.release, p.target))
            c, s = canary_replicas(w.declared, weight)
            # Grow first, then shrink: the number of ready Pods never drops below the total.
            self.traffic.scale(w.name, c)
            self._wait_ready(p.target)
            if partner is not None:
                self.traffic.scale(partner.name, s)
            canary_total, stable_total = canary_total + c, stable_total + s
        self._wait_ready(p.stable)
        share = actual_weight(canary_total, stable_total)
        return {"stable": 100 - share, "canary": share}

    def _canary(self) -> None:
        canary = self.strategy.canary
        p = self.plan
        assert canary is not None and p.stable is not None and p.target is not None
        service, _ = self._services()
        self.traffic.route(service, None, p.stable, self.labels)
        if canary.analysis is not None:
            self._background = AnalysisRun(canary.analysis, self.measure, self.clock())
        start = p.resume_step
        # A resumed rollout first restores the weight its last setWeight left.
        previous = [s.set_weight for s in canary.steps[:start] if s.set_weight is not None]
        if previous:
            self._weights(self._set_weight(previous[-1]), start)
        for index in range(start, len(canary.steps)):
            step = canary.steps[index]
            self._at_step(index)
            if step.set_weight is not None:
                self._weights(self._set_weight(step.set_weight), index + 1)
            elif step.pause is not None:
                if step.pause.duration is None:
                    if not self._consume_promotion():
                        raise Paused(f"paused at step {index + 1} (pause without duration)")
                else:
                    self._step("pause", step=index + 1, seconds=step.pause.duration)
                    self._wait(step.pause.duration)
            else:
                assert step.analysis is not None
                self._analyse(step.analysis, f"analysis of step {index + 1}")
            self._tick()
        if not self._gate("confirm-promotion"):
            raise Paused("the confirm-promotion webhook has not approved the promotion")
        self._at_step(len(canary.steps))  # the promotion is a step of its own
        weights = self._set_weight(100)
        if self._background is not None:
            self._measured(self._background, [])
        self._promoted(weights)

    def _at_step(self, index: int) -> None:
        self._update(lambda s: dataclasses.replace(s, step=index))

    def _weights(self, weights: dict[str, int], step: int) -> None:
        self._update(lambda s: dataclasses.replace(s, weights=weights, step=step))
        self._step("set-weight", step=step, weights=weights)
