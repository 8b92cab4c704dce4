"""``helm-enterprise drift``: drift detection over one or many stacks (T3.3).

Per stack:

1. **Policy** — stack config ``helm-enterprise:drift`` (mode, confirm, ignore rules),
   overridden by :class:`DriftOptions`; ``helm-enterprise:cluster`` says which cluster.
2. **Inventory** — the stack's state (``export_stack``; it holds decrypted secrets, so only
   names, namespaces and labels are read from it and nothing is printed).
3. **Chart mode** (every Kubernetes object that is a Pulumi resource) —
   ``pulumi refresh --preview-only`` through :meth:`Stack.preview_refresh` with
   ``show_secrets=False``; each ``ResOutputsEvent`` with op ``update``/``delete`` becomes a
   finding (:func:`helm_enterprise.drift.compare.decide_refresh`).
4. **Release mode** (every ``helm.v3.Release``) — the deployed revision against the one
   the state says the stack applied (:mod:`helm_enterprise.drift.revision`: a hand
   ``helm rollback``), and Helm's stored manifest against the live objects
   (:mod:`helm_enterprise.drift.release`): refresh cannot see those edits.
5. **Act** — every drifted object is a ``drift-found`` audit event; then report, warn, or
   remediate: a release someone else rolled back or upgraded by ``pulumi up --target``
   of its Helm resource (the component sees the foreign revision and upgrades back: no
   refresh needed), the objects of the other releases by forced server-side apply of the
   manifest objects, chart mode
   by ``pulumi up --refresh --target <drifted URNs>`` with forced applies
   (``PULUMI_K8S_ENABLE_PATCH_FORCE``: the provider would otherwise stop at the field
   conflict with whoever edited the object). A second check confirms the result.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from helm_enterprise import ownership
from helm_enterprise.automation.errors import message as command_message
from helm_enterprise.automation.errors import pulumi_command as translate_command_errors
from helm_enterprise.automation.verbosity import check_pulumi_verbosity
from helm_enterprise.config._base import validate_model
from helm_enterprise.config.drift import DriftIgnoreRule, DriftMode, DriftPolicy
from helm_enterprise.config.stack import ClusterConfig
from helm_enterprise.drift import act, inventory, release, revision
from helm_enterprise.drift.compare import decide_refresh, unknown
from helm_enterprise.drift.findings import DriftState, ObjectFinding, ObjectRef
from helm_enterprise.drift.report import Action, DriftRun, RemediationResult, StackReport
from helm_enterprise.drift.rules import RuleSet
from helm_enterprise.errors import ConfigError, HelmEnterpriseError, truncate
from helm_enterprise.kube.client import ClusterAccess
from helm_enterprise.kube.live import KubeCluster, ScaleTarget

CONFIG_KEY = "helm-enterprise:drift"
CLUSTER_KEY = "helm-enterprise:cluster"
PATCH_FORCE_ENV = "PULUMI_K8S_ENABLE_PATCH_FORCE"

Confirm = Callable[[str], bool]
Progress = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class DriftOptions:
    """Overrides of the stacks' ``helm-enterprise:drift`` config (None: keep the stack's).

    ``ignore`` rules are added to the stack's; ``assume_yes`` answers confirmations;
    ``access`` overrides ``helm-enterprise:cluster`` for release mode; ``verify`` runs a
    second check after a remediation."""

    mode: DriftMode | None = None
    confirm: bool | None = None
    assume_yes: bool = False
    ignore: Sequence[DriftIgnoreRule] = ()
    default_ignores: bool | None = None
    access: ClusterAccess | None = None
    verify: bool = True


def _noop(_: str) -> None:
    return None


def _structured(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def stack_policy(config: Mapping[str, auto.ConfigValue]) -> DriftPolicy:
    """``helm-enterprise:drift`` of a stack, validated (ConfigError names the field)."""
    value = config.get(CONFIG_KEY)
    if value is None:
        return DriftPolicy()
    return validate_model(DriftPolicy, _structured(value.value), "helm-enterprise:drift")


def stack_access(config: Mapping[str, auto.ConfigValue], work_dir: str | None) -> ClusterAccess:
    """The cluster the stack deploys to: ``helm-enterprise:cluster`` or the ambient one."""
    value = config.get(CLUSTER_KEY)
    if value is None:
        return ClusterAccess()
    cfg = validate_model(ClusterConfig, _structured(value.value), "helm-enterprise:cluster")
    kubeconfig = cfg.kubeconfig
    if kubeconfig and work_dir and not Path(kubeconfig).expanduser().is_absolute():
        kubeconfig = str(Path(work_dir) / kubeconfig)
    return ClusterAccess(kubeconfig, cfg.context)


class _StackCheck:
    """One stack: detect, act, verify."""

    def __init__(
        self, stack: auto.Stack, options: DriftOptions, confirm: Confirm | None, progress: Progress
    ) -> None:
        self.stack = stack
        self.options = options
        self.confirm = confirm
        self.progress = progress
        self.report = StackReport(stack=stack.name)
        self.policy = DriftPolicy()
        self.access = ClusterAccess()
        self.inventory = inventory.Inventory()
        self.rules = RuleSet()
        self.releases: list[release.ReleaseDrift] = []

    def say(self, text: str) -> None:
        self.progress(f"{self.stack.name}: {text}")

    # -- setup ------------------------------------------------------------------------

    def load(self) -> None:
        ws = self.stack.workspace
        try:
            self.report.project = ws.project_settings().name
        except Exception:  # a project file we cannot read is not fatal for drift
            self.report.project = None
        config = self.stack.get_all_config()
        self.policy = stack_policy(config)
        self.report.mode = self.options.mode or self.policy.mode
        self.access = self.options.access or stack_access(config, ws.work_dir)
        self.load_inventory()

    def load_inventory(self) -> None:
        deployment = self.stack.export_stack().deployment or {}
        self.inventory = inventory.from_state(deployment.get("resources") or [])

    def build_rules(self, cluster: KubeCluster | None) -> None:
        defaults = (
            self.policy.default_ignores
            if self.options.default_ignores is None
            else self.options.default_ignores
        )
        targets: list[ScaleTarget] = list(self.inventory.scale_targets)
        if defaults and cluster is not None:
            for ns in sorted(self.inventory.namespaces):
                targets += cluster.scale_targets(ns)
        self.rules = RuleSet.build(
            [*self.policy.ignore, *self.options.ignore], defaults=defaults, scale_targets=targets
        )

    # -- detect -----------------------------------------------------------------------

    def detect(self, cluster: KubeCluster | None) -> list[ObjectFinding]:
        findings: list[ObjectFinding] = []
        if self.inventory.objects:
            self.say(f"pulumi refresh --preview-only ({len(self.inventory.objects)} objects)")
            findings += self.refresh_findings()
        self.releases = []
        for rel in self.inventory.helm_releases:
            self.say(f"release {rel.namespace}/{rel.name}: manifest against the cluster")
            if cluster is None:
                ref = ObjectRef("helm.sh/v3", "Release", rel.name, rel.namespace, rel.release)
                findings.append(unknown(ref, f"cluster {self.access.describe()} is not reachable"))
                continue
            level = self.revision_finding(cluster, rel)
            if level is not None:
                findings.append(level)
            drift = release.detect(cluster, rel.namespace, rel.name, self.rules)
            drift.findings = [
                dataclasses.replace(f, ref=dataclasses.replace(f.ref, release=rel.release))
                for f in drift.findings
            ]
            drift.desired = {
                dataclasses.replace(ref, release=rel.release): obj
                for ref, obj in drift.desired.items()
            }
            self.releases.append(drift)
            findings += drift.findings
        return findings

    def revision_finding(
        self, cluster: KubeCluster, rel: inventory.HelmReleaseRef
    ) -> ObjectFinding | None:
        """The release itself: deployed revision against the one the stack applied."""
        ref = ObjectRef(
            "helm.sh/v3", "Release", rel.name, rel.namespace, rel.release, "release", rel.urn
        )
        try:
            history = cluster.history(rel.namespace, rel.name)
        except HelmEnterpriseError as err:
            return unknown(ref, str(err))
        owner = ownership.owner_id(self.report.project or "", self.stack.name, rel.name)
        applied = revision.Applied(rel.revision, rel.chart_version, owner)
        return revision.decide(history, applied, ref)

    def refresh_findings(self) -> list[ObjectFinding]:
        events: list[Any] = []

        def on_event(event: auto.EngineEvent) -> None:
            if event.res_outputs_event is not None:
                events.append(event.res_outputs_event.metadata)

        try:
            self.stack.preview_refresh(
                on_event=on_event, on_output=_noop, show_secrets=False, color="never"
            )
        except auto.errors.CommandError as err:
            self.report.errors.append(
                command_message(err, operation="refresh --preview-only", stack=self.stack.name)
            )
            return []
        findings = []
        for meta in events:
            urn = str(meta.urn)
            if urn not in self.inventory.objects:
                continue
            old_inputs = meta.old.inputs if meta.old is not None else None
            new_inputs = meta.new.inputs if meta.new is not None else None
            ref = inventory.refresh_ref(
                urn, str(meta.type), old_inputs, self.inventory.release_of(urn)
            )
            findings.append(
                decide_refresh(
                    getattr(meta.op, "value", str(meta.op)),
                    old_inputs,
                    new_inputs,
                    self.rules,
                    ref,
                    detailed_diff=list(meta.detailed_diff or {}),
                    live=meta.new.outputs if meta.new is not None else None,
                )
            )
        return findings

    # -- act --------------------------------------------------------------------------

    def decide(self) -> Action:
        confirm = self.policy.confirm if self.options.confirm is None else self.options.confirm
        action = act.plan(self.report.findings, self.report.mode, confirm)
        if action is not Action.CONFIRM:
            return action
        if self.options.assume_yes:
            return Action.REMEDIATE
        n = len(self.report.drifted)
        question = f"stack {self.stack.name}: re-apply the desired state of {n} drifted object(s)?"
        if self.confirm is not None and self.confirm(question):
            return Action.REMEDIATE
        self.report.notes.append(
            "remediation not confirmed: nothing was re-applied (answer the prompt in a "
            "terminal, or pass --yes)"
        )
        return Action.DECLINED

    def remediate(self, cluster: KubeCluster | None) -> None:
        results: list[RemediationResult] = []
        drifted = self.report.drifted
        foreign = [f for f in drifted if f.ref.via == "release" and f.ref.urn]
        upgraded = {(f.ref.namespace, f.ref.name) for f in foreign}
        if foreign:
            results += self.upgrade_back(foreign)
        for drift in self.releases:
            if (drift.namespace, drift.release) in upgraded:
                continue  # the upgrade applied the desired manifest; the check below tells
            mine = [f for f in drifted if f.ref in drift.desired]
            if mine and cluster is not None:
                self.say(f"re-applying {len(mine)} object(s) of release {drift.release}")
                for r in release.remediate(cluster, drift, mine):
                    results.append(RemediationResult(r.ref, r.ok, r.message))
        targets = [f for f in drifted if f.ref.via == "refresh" and f.ref.urn]
        if targets:
            results += self.pulumi_up(targets)
        self.report.remediation = results

    def upgrade_back(self, targets: list[ObjectFinding]) -> list[RemediationResult]:
        """``pulumi up`` of the Helm resources (and what depends on them, health checks)
        whose deployed revision someone else made: the component sees that revision and
        upgrades back to the desired chart and values (rollback/outofband.py)."""
        urns = [str(f.ref.urn) for f in targets]
        self.say(f"pulumi up --target ({len(urns)} Helm release(s) to upgrade back)")
        try:
            self.stack.up(
                target=urns,
                target_dependents=True,
                show_secrets=False,
                color="never",
                on_output=_noop,
            )
        except auto.errors.CommandError as err:
            message = command_message(err, operation="up", stack=self.stack.name)
            return [RemediationResult(f.ref, False, message) for f in targets]
        return [RemediationResult(f.ref, True, "pulumi up (upgraded back)") for f in targets]

    def pulumi_up(self, targets: list[ObjectFinding]) -> list[RemediationResult]:
        urns = [str(f.ref.urn) for f in targets]
        self.say(f"pulumi up --refresh --target ({len(urns)} resource(s))")
        ws = self.stack.workspace
        before = ws.env_vars
        # Only this run forces: the drifted fields belong to whoever edited them now.
        ws.env_vars = {**before, PATCH_FORCE_ENV: "true"}
        try:
            self.stack.up(
                target=urns, refresh=True, show_secrets=False, color="never", on_output=_noop
            )
        except auto.errors.CommandError as err:
            message = command_message(err, operation="up --refresh", stack=self.stack.name)
            return [RemediationResult(f.ref, False, message) for f in targets]
        finally:
            ws.env_vars = before
        return [RemediationResult(f.ref, True, "pulumi up") for f in targets]

    # -- the whole check --------------------------------------------------------------

    def run(self) -> StackReport:
        try:
            self.load()
        except (HelmEnterpriseError, auto.errors.CommandError) as err:
            message = (
                str(err)
                if isinstance(err, HelmEnterpriseError)
                else command_message(err, operation="config/stack export", stack=self.stack.name)
            )
            self.report.errors.append(message)
            return self.report
        api = None
        if self.inventory.helm_releases or self.inventory.namespaces:
            try:
                api = self.access.reachable_client()
            except HelmEnterpriseError as err:  # 401/403: this stack's error, not "no cluster"
                self.report.errors.append(str(err))
                return self.report
        cluster = KubeCluster(api) if api is not None else None
        try:
            self.build_rules(cluster)
            self.report.findings = self.detect(cluster)
            act.record_findings(
                self.report.findings,
                stack=self.stack.name,
                project=self.report.project,
                mode=self.report.mode,
            )
            self.report.action = self.decide()
            if self.report.action is Action.REMEDIATE:
                self.remediate(cluster)
                remaining = self.report.outstanding
                if self.options.verify:
                    self.say("checking again")
                    if any(r.ref.via == "release" for r in self.report.remediation):
                        # A `pulumi up` ran: the applied revisions are in the new state.
                        self.load_inventory()
                    remaining = [
                        f for f in self.detect(cluster) if f.state is not DriftState.IN_SYNC
                    ]
                    self.report.remaining = remaining
                act.record_remediation(
                    self.report.remediation,
                    stack=self.stack.name,
                    project=self.report.project,
                    remaining=len([f for f in remaining if f.drifted]),
                )
        except HelmEnterpriseError as err:
            self.report.errors.append(str(err))
        except Exception as err:  # one broken stack must not hide the others' reports
            self.report.errors.append(f"{type(err).__name__}: {truncate(str(err))}")
        finally:
            if api is not None:
                api.close()
        return self.report


def check_stack(
    stack: auto.Stack,
    options: DriftOptions | None = None,
    *,
    confirm: Confirm | None = None,
    progress: Progress | None = None,
) -> StackReport:
    """Detect (and, by policy, act on) drift of one stack. Never raises for a problem of
    the stack: it is in :attr:`StackReport.errors`. ``confirm`` is asked before a
    remediation that needs confirmation; without it the remediation is declined."""
    return _StackCheck(stack, options or DriftOptions(), confirm, progress or _noop).run()


def list_stacks(
    work_dir: Path, *, env: Mapping[str, str] | None = None, pulumi_command: Any = None
) -> list[str]:
    """Every stack of the project in ``work_dir``."""
    ws = _workspace(work_dir, env, pulumi_command)
    with translate_command_errors("stack ls", "", env=env):
        return sorted(s.name for s in ws.list_stacks())


def _workspace(
    work_dir: Path, env: Mapping[str, str] | None, pulumi_command: Any
) -> auto.LocalWorkspace:
    return auto.LocalWorkspace(
        work_dir=str(work_dir),
        env_vars={**os.environ, **(env or {})},
        pulumi_command=pulumi_command,
    )


def run(
    work_dir: Path,
    stacks: Sequence[str],
    options: DriftOptions | None = None,
    *,
    env: Mapping[str, str] | None = None,
    pulumi_command: Any = None,
    confirm: Confirm | None = None,
    progress: Progress | None = None,
    parallel: int = 1,
) -> DriftRun:
    """Check every stack in ``stacks`` of the project in ``work_dir`` (``parallel`` at a
    time; each in its own workspace). Stacks are reported in the order given."""
    if not stacks:
        raise ConfigError("no stacks to check", path="--stack", hint="name one, or use --all")
    check_pulumi_verbosity(env)
    say = progress or _noop

    def one(name: str) -> StackReport:
        say(f"{name}: checking")
        try:
            stack = auto.Stack.select(name, _workspace(work_dir, env, pulumi_command))
        except auto.errors.StackNotFoundError:
            return StackReport(stack=name, errors=[f"stack {name} does not exist"])
        except auto.errors.CommandError as err:
            return StackReport(
                stack=name, errors=[command_message(err, operation="stack select", stack=name)]
            )
        report = check_stack(stack, options, confirm=confirm, progress=say)
        say(f"{name}: done ({_summary_line(report)})")
        return report

    if parallel <= 1 or len(stacks) == 1:
        return DriftRun([one(s) for s in stacks])
    with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
        return DriftRun(list(pool.map(one, stacks)))


def _summary_line(report: StackReport) -> str:
    s = report.summary()
    parts = [f"{v} {k}" for k, v in s.items() if v]
    if report.errors:
        parts.append(f"{len(report.errors)} error(s)")
    return ", ".join(parts) or "no objects"
