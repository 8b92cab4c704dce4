"""``helm_enterprise.Release``: one Helm release with what production needs.

Two modes:

* ``release`` (default) wraps ``kubernetes.helm.v3.Release``: a real Helm release with
  history, hooks, atomic upgrades and rollback.
* ``chart`` wraps ``kubernetes.helm.v4.Chart``: every rendered object becomes its own
  Pulumi resource, so ``pulumi refresh`` sees per-object drift and policies see every
  object; there is no Helm history (and no Helm rollback) in this mode.

Construction order (validate first, then build): config model → secret references
resolved (batched Vault reads, Pulumi secrets) → chart source resolved → pre-apply
checks against the cluster when it is reachable (ownership, stuck-release recovery) →
children registered (namespace, the Helm resource; in chart mode an ownership record).
Values checked against the chart's values.schema.json gate the Helm resource, so a schema
violation fails ``pulumi preview`` before anything is applied. So do the checks of the
rendered chart (tenancy, server dry run, chart mode's Helm hooks), sharing one render.
"""

import base64
import copy
import dataclasses
import datetime as dt
import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s
from kubernetes.client.exceptions import ApiException

from helm_enterprise import ownership
from helm_enterprise._values import merge
from helm_enterprise.audit import emit
from helm_enterprise.audit.hooks import (
    lifecycle_hooks,
    merge_hooks,
    once_per_run,
    record_validation_failure,
    start_callback_server,
    unique_hook_name,
)
from helm_enterprise.components.autoscaling import autoscalers, with_chart_hpa
from helm_enterprise.components.context import Platform, default_platform
from helm_enterprise.components.group import ReleaseGroup, stack_dependency_gate
from helm_enterprise.components.policy_summary import PolicySummary
from helm_enterprise.components.progressive import (
    decide,
    digest,
    progressive_children,
    read_state,
)
from helm_enterprise.components.slo import slo_rules_and_gate
from helm_enterprise.config._base import component_config, format_duration
from helm_enterprise.config.release import (
    ReleaseConfig,
    ReleaseMode,
    SloGateLevel,
    effective_timeouts,
)
from helm_enterprise.config.secrets import SecretKeyRef
from helm_enterprise.errors import (
    ClusterUnavailableError,
    ConfigError,
    HelmEnterpriseError,
    OwnershipConflictError,
    SecretBackendError,
    ValidationError,
)
from helm_enterprise.health.resource import HealthCheckResource
from helm_enterprise.health.rollout import RolloutWatch, RolloutWatches, watch_cluster
from helm_enterprise.kube import helm_hooks, helm_storage, postrender, reach
from helm_enterprise.kube.client import NO_ANSWER, api_error
from helm_enterprise.kube.render import Rendered, render_captured, rendered_output
from helm_enterprise.policy.render import policy_summary
from helm_enterprise.rollback import outofband, recovery
from helm_enterprise.rollback.helm import (
    HistoryReader,
    cluster_history,
    record_automatic_rollback,
)
from helm_enterprise.secrets.inject import SecretInjector
from helm_enterprise.sources import ResolvedChart, SourceContext, resolve_chart, scope_for
from helm_enterprise.sources.chartfile import may_mention, read_chart
from helm_enterprise.strategy.resource import RolloutResource
from helm_enterprise.strategy.traffic import LABEL_COLOUR, LABEL_ROLLOUT, colour_release
from helm_enterprise.tenancy.checks import check_untenanted_release
from helm_enterprise.tenancy.gate import check_transformed, gate_values, release_scope
from helm_enterprise.tenancy.live import read_namespace
from helm_enterprise.validation import Finding, check_schema, errors, report
from helm_enterprise.validation.server import server_dry_run

TYPE_TOKEN = "helm-enterprise:index:Release"  # noqa: S105 - a type token, not a secret


class ReleaseArgs(TypedDict, total=False):
    """Arguments of :class:`Release` (the same fields as a ``helm-enterprise:releases``
    entry in stack config, in snake_case). Only ``chart`` is required; ``name`` defaults
    to the resource name."""

    name: str
    namespace: str
    create_namespace: bool
    mode: ReleaseMode
    chart: dict[str, Any]
    values: dict[str, Any]
    secret_values: dict[str, Any]
    timeouts: dict[str, Any]
    rollback: dict[str, Any]
    validation: dict[str, Any]
    roll_on_secret_change: dict[str, Any]
    chart_mode: dict[str, Any]
    wait: bool
    wait_for_jobs: bool
    description: str
    labels: dict[str, str]
    depends_on: list[Any]
    health: dict[str, Any]
    slos: list[dict[str, Any]]
    slo_gate: SloGateLevel
    autoscaling: dict[str, Any]
    vpa: dict[str, Any]
    strategy: dict[str, Any]
    adopt: bool
    tenant: str
    protect: bool
    retain_on_delete: bool


def atomic_rollback_recorder(
    cfg: ReleaseConfig, history: HistoryReader, window_seconds: int
) -> Callable[[pulumi.ErrorHookArgs], None]:
    """What runs after a failed update of the Helm resource: Helm's ``atomic`` upgrade may
    have rolled the release back inside the provider, which the engine reports only as the
    update's error. Helm's history tells (see :func:`rollback.helm.automatic_rollback`);
    when it did, a ``rollback`` record pair is written. ``window_seconds`` (the update's
    timeout) keeps an older rollback from being recorded again."""

    def after_failed_update(args: pulumi.ErrorHookArgs) -> None:
        status = (args.old_outputs or {}).get("status")
        revision = status.get("revision") if isinstance(status, Mapping) else None
        before = int(revision) if isinstance(revision, int | float) else None
        record_automatic_rollback(
            cfg.name,
            cfg.namespace,
            before_revision=before,
            error=args.errors[0] if args.errors else "the update failed",
            history=history,
            record=emit,
            not_before=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=window_seconds + 60),
        )

    return after_failed_update


def rollout_binding(
    start: pulumi.ResourceHook, finish: pulumi.ResourceHook, failed: pulumi.ErrorHook
) -> pulumi.ResourceHookBinding:
    """The rollout watch's hooks on a Helm release (see :meth:`Release._rollout_watch`)."""
    return pulumi.ResourceHookBinding(
        before_create=[start],
        before_update=[start],
        after_create=[finish],
        after_update=[finish],
        on_error=[failed],
    )


def _shared_rollout_hooks() -> tuple[RolloutWatches, pulumi.ResourceHookBinding]:
    """The program-wide rollout-watch hooks, registered once per program run."""

    def build() -> tuple[RolloutWatches, pulumi.ResourceHookBinding]:
        start_callback_server()  # before any hook exists (see helm_enterprise.audit.hooks)
        watches = RolloutWatches()
        binding = rollout_binding(
            pulumi.ResourceHook("helm-enterprise-rollout-start", watches.start),
            pulumi.ResourceHook("helm-enterprise-rollout-end", watches.finish),
            pulumi.ErrorHook("helm-enterprise-rollout-failed", watches.failed),
        )
        return watches, binding

    return once_per_run("rollout-watch", build)


class Release(pulumi.ComponentResource):
    """A Helm release (``helm-enterprise:index:Release``).

    Outputs:
        status: Helm status (``deployed``, ``failed``...); ``deployed`` in chart mode once
            every object is ready.
        revision: Helm revision number (``None`` in chart mode, which has no history).
        namespace: the namespace the release lives in.
        chart_name / chart_version: what Helm deployed.
        resolved_source: where the chart came from (repository URL, OCI reference,
            local path, Git commit) — recorded for audit.
        values_checksum: digest of the injected secrets' identities (``None`` when the
            release injects no secrets); changes when a secret rotates.
        references: the secret references injected (never their values).
        health: the last health check (state and measurements) when checks are declared.
        commit: the Git commit deployed (Git sources only; immutable, for audit).

    Raises:
        ConfigError: invalid arguments (before any resource is registered).
        SecretBackendError: a secret reference could not be read.
        ValidationError: dry-run checks failed (schema, ownership, tenancy).
    """

    status: pulumi.Output[str]
    revision: pulumi.Output[int | None]
    namespace: pulumi.Output[str]
    chart_name: pulumi.Output[str]
    chart_version: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        args: ReleaseArgs | ReleaseConfig,
        opts: pulumi.ResourceOptions | None = None,
        *,
        platform: Platform | None = None,
        field: str = "",
        group: ReleaseGroup | None = None,
    ) -> None:
        # Validate before registering anything: a ConfigError leaves no trace in state.
        cfg = component_config(ReleaseConfig, resource_name, args, field)
        platform = platform or default_platform()
        # T3.4: dependencies by name are releases of the group, declared before this one.
        named_deps = (
            group.dependencies(cfg.name, cfg.local_dependencies, field)
            if group is not None
            else _no_group(cfg, field)
        )
        # Tenancy (T2.2): the release stays inside its tenant (helm_enterprise.tenancy.gate).
        self._tenancy = release_scope(cfg, platform.tenants, platform.tiers, field)
        super().__init__(TYPE_TOKEN, resource_name, None, opts)
        self.config = cfg
        self._field = field  # where this release is in stack config, for messages
        self._name = resource_name
        self._base_dir = platform.base_dir
        self._secret_reads: dict[tuple[str, str], k8s.core.v1.Secret] = {}
        project, stack = pulumi.get_project(), pulumi.get_stack()
        owner = ownership.owner_id(project, stack, cfg.name)
        self._labels = {
            **cfg.labels,
            **ownership.ownership_labels(project, stack, cfg.name, cfg.tenant),
        }
        self._annotations = ownership.ownership_annotations(project, stack, cfg.name)
        user_deps = [
            *((opts.depends_on if opts and isinstance(opts.depends_on, list) else []) or []),
            *named_deps,
        ]

        injector = SecretInjector(platform.resolver(), self._read_k8s_secret, cfg.namespace)
        injected = injector.inject(cfg)
        chart = resolve_chart(
            cfg.chart,
            SourceContext(
                injector=injector,
                repositories=platform.repositories,
                scope=scope_for(project, stack, cfg.name),
                field=f"{field}.chart" if field else "chart",
                base_dir=platform.base_dir,
            ),
        )

        replace, revision = self._pre_apply_checks(platform, owner)

        timeouts_install = effective_timeouts("install", platform.timeouts, cfg.timeouts)
        timeouts_upgrade = effective_timeouts("upgrade", platform.timeouts, cfg.timeouts)
        timeouts_delete = effective_timeouts("uninstall", platform.timeouts, cfg.timeouts)
        custom_timeouts = pulumi.CustomTimeouts(
            create=f"{timeouts_install.deploy_start + timeouts_install.readiness}s",
            update=f"{timeouts_upgrade.deploy_start + timeouts_upgrade.readiness}s",
            delete=f"{timeouts_delete.cleanup}s",
        )
        helm_timeout = max(timeouts_install.readiness, timeouts_upgrade.readiness)
        if group is not None:
            group.add(
                self,
                access=platform.cluster_access,
                rollback_timeout=effective_timeouts(
                    "rollback", platform.timeouts, cfg.timeouts
                ).readiness,
                settle_seconds=timeouts_upgrade.deploy_start + timeouts_upgrade.readiness,
            )
        self._group = group

        values: pulumi.Input[dict[str, Any]] = with_chart_hpa(cfg, injected.values)
        if cfg.stack_dependencies:  # T3.4: releases of other stacks must be ready first
            values = stack_dependency_gate(self, cfg, values, field)
        slo_gate: pulumi.ResourceHookBinding | None = None
        if cfg.slos or cfg.slo_gate != "none":  # T4.3: rules where Prometheus reads them
            values, slo_gate = slo_rules_and_gate(self, cfg, platform, values, field, self._labels)
        if cfg.validation.schema_:
            values = self._gate_on_schema(chart, values)
        # Dry-run checks that need the rendered objects share one render (kube/render.py).
        rendered: pulumi.Output[Rendered] | None = None
        policy_on = self._policy_enabled(cfg, platform)
        # The server-side dry run only runs during preview (release mode).
        server_gate = (
            cfg.validation.server_dry_run and cfg.mode == "release" and pulumi.runtime.is_dry_run()
        )
        if self._tenancy is not None or policy_on or server_gate:
            rendered = rendered_output(
                chart.local_files(), values, release=cfg.name, namespace=cfg.namespace, parent=self
            )
        if self._tenancy is not None:  # T2.2: every rendered object fits the tenant first
            values = gate_values(
                self, cfg.name, cfg.namespace, self._tenancy, chart.local_files(), values, rendered
            )
        if rendered is not None and server_gate:
            values = self._gate_on_server_dry_run(platform, rendered, values)
        if cfg.mode == "chart":  # helm.v4.Chart leaves Helm hooks out: say so, or refuse
            values = self._gate_on_hooks(chart, values, rendered, field)
        self.policy_summary: PolicySummary | None = None
        if policy_on:
            # What the policy pack checks (T4.2): release facts and, in release mode, the
            # rendered objects CrossGuard cannot see otherwise. The Helm resource takes its
            # values through the summary's gate, so a mandatory violation stops `pulumi up`
            # before Helm runs.
            self.policy_summary = PolicySummary(
                f"{resource_name}-policy",
                policy_summary(cfg, chart, values, self._labels, self, rendered),
                pulumi.ResourceOptions(parent=self),
            )
            values = self.policy_summary.gate(values)

        pulumi.log.info(
            f"{cfg.mode} mode, chart {chart.kind} source, readiness timeout "
            f"{format_duration(helm_timeout)}, atomic={cfg.rollback.atomic}",
            resource=self,
        )

        child_opts = pulumi.ResourceOptions(
            parent=self,
            protect=cfg.protect or None,
            retain_on_delete=cfg.retain_on_delete or None,
        )
        namespace_res = None
        if cfg.create_namespace:
            namespace_res = k8s.core.v1.Namespace(
                f"{resource_name}-namespace",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=cfg.namespace, labels=self._labels, annotations=self._annotations
                ),
                opts=pulumi.ResourceOptions.merge(
                    child_opts,
                    pulumi.ResourceOptions(
                        depends_on=user_deps,
                        custom_timeouts=pulumi.CustomTimeouts(delete=f"{timeouts_delete.cleanup}s"),
                    ),
                ),
            )
        ordering: list[pulumi.Resource] = [namespace_res] if namespace_res else user_deps
        if cfg.mode == "chart":
            # Chart mode has no Helm release to carry ownership: keep a record (see
            # helm_enterprise.ownership). Release mode reads it from Helm's manifest.
            ordering = [
                k8s.core.v1.ConfigMap(
                    f"{resource_name}-owner",
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        name=ownership.record_name(cfg.name),
                        namespace=cfg.namespace,
                        labels=self._labels,
                        annotations=self._annotations,
                    ),
                    data={"owner": owner, "project": project, "stack": stack, "release": cfg.name},
                    opts=pulumi.ResourceOptions.merge(
                        child_opts, pulumi.ResourceOptions(depends_on=ordering)
                    ),
                )
            ]
        helm_opts = _with(
            child_opts,
            depends_on=ordering,
            custom_timeouts=custom_timeouts,
            hooks=(
                self._hooks(
                    f"{resource_name}-release",
                    merge_hooks(
                        self._audit_hooks(cfg, chart, platform),
                        slo_gate,
                        # Not for the colours of a strategy: its analysis judges them.
                        self._rollout_watch(cfg, helm_timeout, platform)
                        if cfg.wait and cfg.strategy is None
                        else None,
                    ),
                )
                if cfg.mode == "release"
                else None
            ),
        )

        self.rollout: RolloutResource | None = None
        if cfg.mode == "release" and cfg.strategy is not None:
            # T3.1/T3.2: two colours and the rollout between them (components/progressive.py).
            state = read_state(cfg, platform.cluster_access, self)
            release_digest = digest(cfg, chart, injected.checksum)

            def colour(
                name: str, workload: Mapping[str, Any], ignore: list[str]
            ) -> k8s.helm.v3.Release:
                return self._release(
                    cfg,
                    chart,
                    values,
                    helm_timeout,
                    replace,
                    revision,
                    helm_opts,
                    colour=name,
                    workload=workload,
                    ignore=ignore,
                )

            rel, self.rollout = progressive_children(
                self,
                resource_name,
                cfg,
                decide(state, release_digest),
                state,
                release_digest,
                colour,
                labels=self._labels,
                access=platform.cluster_access,
                ready_timeout=timeouts_upgrade.readiness,
                prometheus=platform.prometheus.address if platform.prometheus else None,
            )
        elif cfg.mode == "release":
            rel = self._release(cfg, chart, values, helm_timeout, replace, revision, helm_opts)
        if cfg.mode == "release":
            self.status = rel.status.status
            self.revision = rel.status.revision
            self.namespace = rel.status.namespace
            self.chart_name = rel.status.chart
            self.chart_version = rel.status.version
            self.helm_release: k8s.helm.v3.Release | None = rel
            self.chart: k8s.helm.v4.Chart | None = None
        else:
            ch = self._chart(cfg, chart, values, helm_opts, custom_timeouts)
            self.status = ch.resources.apply(lambda _: "deployed")
            self.revision = pulumi.Output.from_input(None)
            self.namespace = pulumi.Output.from_input(cfg.namespace)
            self.chart_name = pulumi.Output.from_input(
                cfg.chart.name or Path(cfg.chart.path or "").name
            )
            self.chart_version = pulumi.Output.from_input(cfg.chart.version or "")
            self.helm_release = None
            self.chart = ch
        if cfg.autoscaling is not None or cfg.vpa is not None:  # T3.5, after the workload
            workload: pulumi.Resource = self.helm_release or ch
            autoscalers(self, cfg, platform, self._labels, [workload], child_opts)
        # Plain (or already Output) facts: Outputs are made only when read, which keeps
        # constructing a release cheap (see benchmarks/bench_release_construction.py).
        self._facts: dict[str, Any] = {
            "resolvedSource": chart.source,
            "valuesChecksum": injected.checksum,
            "references": injected.references,
            "commit": chart.commit,
            "health": self._health(cfg, platform, helm_timeout, values),
            "strategy": self._strategy_output(),
        }
        self.register_outputs(
            {
                "status": self.status,
                "revision": self.revision,
                "namespace": self.namespace,
                "chartName": self.chart_name,
                "chartVersion": self.chart_version,
                **self._facts,
            }
        )

    @property
    def resolved_source(self) -> pulumi.Output[str]:
        """Where the chart came from (repository URL, OCI reference, local path, Git)."""
        return pulumi.Output.from_input(self._facts["resolvedSource"])

    @property
    def values_checksum(self) -> pulumi.Output[str | None]:
        """Digest of the injected secrets' identities (None without secrets)."""
        return pulumi.Output.from_input(self._facts["valuesChecksum"])

    @property
    def references(self) -> pulumi.Output[list[str]]:
        """The secret references injected (never their values)."""
        return pulumi.Output.from_input(self._facts["references"])

    @property
    def health(self) -> pulumi.Output[dict[str, Any] | None]:
        """The last health check (state and measurements) when checks are declared."""
        return pulumi.Output.from_input(self._facts["health"])

    @property
    def strategy(self) -> pulumi.Output[dict[str, Any] | None]:
        """The rollout of a release with a strategy: ``phase`` (Progressing, Paused,
        Healthy, Aborted), ``step``, ``weights`` (stable/canary percent), ``active`` colour,
        ``message`` (why it paused or aborted) and ``lastAnalysis``; None without one."""
        return pulumi.Output.from_input(self._facts["strategy"])

    def _strategy_output(self) -> pulumi.Output[dict[str, Any]] | None:
        r = self.rollout
        if r is None:
            return None
        keys = ("phase", "step", "weights", "active", "message", "lastAnalysis")
        return pulumi.Output.all(
            r.phase, r.step, r.weights, r.active, r.message, r.lastAnalysis
        ).apply(lambda v: dict(zip(keys, v, strict=True)))

    @property
    def commit(self) -> pulumi.Output[str | None]:
        """The Git commit deployed (Git sources only)."""
        return pulumi.Output.from_input(self._facts["commit"])

    # -- children ---------------------------------------------------------------------

    def _release(
        self,
        cfg: ReleaseConfig,
        chart: ResolvedChart,
        values: pulumi.Input[dict[str, Any]],
        helm_timeout: int,
        replace: bool,
        revision: outofband.Decision,
        opts: pulumi.ResourceOptions,
        *,
        colour: str | None = None,
        workload: Mapping[str, Any] | None = None,
        ignore: list[str] | None = None,
    ) -> k8s.helm.v3.Release:
        """The Helm release; with ``colour``, that colour of a release with a strategy
        (``<release>-<colour>``, its objects and Pod templates labelled with the colour,
        ``ignore`` naming inputs Pulumi keeps as they were)."""
        native = chart.repository_opts(False)
        repo_opts = k8s.helm.v3.RepositoryOptsArgs(**native) if native else None
        helm_name = colour_release(cfg.name, colour) if colour else cfg.name
        labels = self._labels
        if colour:
            labels = {**labels, LABEL_ROLLOUT: cfg.name, LABEL_COLOUR: colour}
        # `replace` only matters for the install that recovers a failed first install;
        # ignoring it in diffs keeps later runs from upgrading for nothing. The recorded
        # description is kept unless a new one restores an out-of-band revision.
        kept = ["replace", *(["description"] if revision.keep_recorded else []), *(ignore or [])]
        return k8s.helm.v3.Release(
            f"{self._name}-release" + (f"-{colour}" if colour else ""),
            k8s.helm.v3.ReleaseArgs(
                name=helm_name,
                namespace=cfg.namespace,
                chart=chart.chart,
                version=chart.version,
                repository_opts=repo_opts,
                values=values,
                atomic=cfg.rollback.atomic,
                cleanup_on_fail=cfg.rollback.cleanup_on_fail,
                max_history=cfg.rollback.history_limit,
                timeout=helm_timeout,
                skip_await=not cfg.wait,
                wait_for_jobs=cfg.wait_for_jobs,
                # This stack's mark (rollback/outofband.py): a revision without it was made
                # by someone else and is upgraded back.
                description=revision.description,
                replace=replace or None,
                create_namespace=False,
                # Every object Helm applies gets the ownership labels (X.6).
                postrender=postrender.install(
                    self._base_dir, helm_name, labels, self._annotations, workload
                ),
            ),
            opts=_with(opts, ignore_changes=list(dict.fromkeys(kept))),
        )

    def _hooks(
        self, resource_name: str, binding: pulumi.ResourceHookBinding | None = None
    ) -> pulumi.ResourceHookBinding | None:
        """``binding`` plus the group's error hook, which starts the coordinated rollback
        when this step fails (T3.4)."""
        watch = self._group.watch(self.config.name, resource_name) if self._group else None
        return merge_hooks(binding, watch)

    @staticmethod
    def _audit_hooks(
        cfg: ReleaseConfig, chart: ResolvedChart, platform: Platform
    ) -> pulumi.ResourceHookBinding | None:
        """With ``helm-enterprise:audit`` set, the Helm release records before/after events
        of each create, update (and optionally delete) through resource hooks (T2.3)."""
        if platform.audit is None or cfg.mode != "release":
            return None
        details = {
            "namespace": cfg.namespace,
            "mode": cfg.mode,
            "chart": chart.chart,
            "chart_version": chart.version,
            "source": chart.source,
            "commit": chart.commit,
            "tenant": cfg.tenant,
        }
        upgrade = effective_timeouts("upgrade", platform.timeouts, cfg.timeouts)
        return lifecycle_hooks(
            cfg.name,
            {k: v for k, v in details.items() if v is not None},
            delete=platform.audit.record_deletes,
            after_failed_update=(
                atomic_rollback_recorder(
                    cfg,
                    cluster_history(platform.cluster_access),
                    upgrade.deploy_start + upgrade.readiness,
                )
                if cfg.rollback.atomic
                else None
            ),
        )

    def _chart(
        self,
        cfg: ReleaseConfig,
        chart: ResolvedChart,
        values: pulumi.Input[dict[str, Any]],
        opts: pulumi.ResourceOptions,
        custom_timeouts: pulumi.CustomTimeouts,
    ) -> k8s.helm.v4.Chart:
        labels, annotations = self._labels, self._annotations
        tenancy = self._tenancy

        def own(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
            # Every rendered object carries the ownership labels and the release timeouts.
            if not args.type_.startswith("kubernetes:") or args.type_.startswith(
                "kubernetes:helm.sh"
            ):
                return None
            props: dict[str, Any] = dict(args.props)
            if tenancy is not None:  # T2.2: what is registered stays inside the tenant
                check_transformed(tenancy, cfg.name, props)
            meta = dict(props.get("metadata") or {})
            meta["labels"] = {**(meta.get("labels") or {}), **labels}
            meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}
            props["metadata"] = meta
            child = pulumi.ResourceOptions.merge(
                args.opts, pulumi.ResourceOptions(custom_timeouts=custom_timeouts)
            )
            return pulumi.ResourceTransformResult(props=props, opts=child)

        native = chart.repository_opts(True)
        repo_opts = k8s.helm.v4.RepositoryOptsArgs(**native) if native else None
        return k8s.helm.v4.Chart(
            f"{self._name}-chart",
            k8s.helm.v4.ChartArgs(
                chart=chart.chart,
                version=chart.version,
                namespace=cfg.namespace,
                repository_opts=repo_opts,
                values=values,
                skip_await=not cfg.wait,
                name=cfg.name,
            ),
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(transforms=[own])),
        )

    def _rollout_watch(
        self, cfg: ReleaseConfig, readiness: int, platform: Platform
    ) -> pulumi.ResourceHookBinding:
        """Hooks of the Helm release that name the Pods' reasons when they cannot become
        Ready (an image that cannot be pulled, a crash loop), which Helm's timeout does not
        (health/rollout.py): they watch while Helm installs or upgrades."""
        access = platform.cluster_access

        def run(stop: threading.Event) -> str:
            return watch_cluster(cfg.name, cfg.namespace, readiness, access, stop)

        def report(message: str) -> None:
            # Without a resource the engine gets it synchronously: the program may be
            # ended right after the failed step (audit/hooks.exit_quietly_when_interrupted).
            pulumi.log.error(message)

        watch = RolloutWatch(run, report)
        watches, shared = _shared_rollout_hooks()
        if watches.add(f"{self._name}-release", watch):
            return shared
        # Another Helm resource of this program has the same name: hooks of its own.
        start = pulumi.ResourceHook(unique_hook_name(f"rollout-{self._name}-start"), watch.start)
        finish = pulumi.ResourceHook(unique_hook_name(f"rollout-{self._name}-end"), watch.finish)
        failed = pulumi.ErrorHook(unique_hook_name(f"rollout-{self._name}-failed"), watch.failed)
        return rollout_binding(start, finish, failed)

    def _health(
        self,
        cfg: ReleaseConfig,
        platform: Platform,
        readiness: int,
        values: pulumi.Input[dict[str, Any]],
    ) -> pulumi.Input[dict[str, Any]] | None:
        """Health checks after readiness (T2.4), as a step that runs on each new revision."""
        if cfg.health is None:
            return None
        if self.helm_release is not None:
            trigger: pulumi.Input[Any] = self.helm_release.status.revision
            policy = cfg.health
            parent_dep: pulumi.Resource = self.helm_release
        else:
            # No Helm history in chart mode: a digest of what was applied marks a new
            # "revision", and there is nothing to roll back to.
            assert self.chart is not None
            trigger = pulumi.Output.secret(values).apply(
                lambda v: hashlib.sha256(
                    json.dumps(v, sort_keys=True, default=str).encode()
                ).hexdigest()[:16]
            )
            policy = cfg.health.model_copy(update={"rollback_on_failure": False})
            parent_dep = self.chart
        check = HealthCheckResource(
            f"{self._name}-health",
            release=cfg.name,
            namespace=cfg.namespace,
            revision=trigger,
            policy=policy,
            deadline=cfg.health.deadline or readiness,
            # An automatic rollback waits as long as the rollback timeouts say (T1.3).
            rollback_timeout=effective_timeouts(
                "rollback", platform.timeouts, cfg.timeouts
            ).readiness,
            access=platform.cluster_access,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[parent_dep], hooks=self._hooks(f"{self._name}-health")
            ),
        )
        return pulumi.Output.all(check.state, check.measurements).apply(
            lambda sm: {"state": sm[0], "measurements": sm[1]}
        )

    def _read_k8s_secret(self, ref: SecretKeyRef) -> pulumi.Output[str]:
        """Read one key of a Kubernetes Secret through Pulumi (stays secret in state)."""
        ns = ref.namespace or self.config.namespace
        key = (ns, ref.name)
        if key not in self._secret_reads:
            self._secret_reads[key] = k8s.core.v1.Secret.get(
                f"{self._name}-read-{ns}-{ref.name}",
                f"{ns}/{ref.name}",
                opts=pulumi.ResourceOptions(parent=self),
            )
        secret = self._secret_reads[key]

        def pick(data: Mapping[str, str] | None) -> str:
            data = data or {}
            if ref.key not in data:
                keys = ", ".join(sorted(data)) or "none"
                raise SecretBackendError(
                    f"Kubernetes Secret {ns}/{ref.name} has no key {ref.key!r} "
                    f"(keys there: {keys})",
                    reference=ref.describe(),
                )
            return base64.b64decode(data[ref.key]).decode()

        return pulumi.Output.secret(secret.data.apply(pick))

    # -- checks -----------------------------------------------------------------------

    def _refused(
        self,
        message: str,
        findings: list[Finding],
        check: str,
        error: type[ValidationError] = ValidationError,
    ) -> ValidationError:
        """The error that stops this release, recorded first in the audit trail (T2.3)."""
        record_validation_failure(
            self.config.name, findings, check=check, namespace=self.config.namespace
        )
        return error(message, findings=findings)

    def _gate_on_schema(
        self, chart: ResolvedChart, values: pulumi.Input[dict[str, Any]]
    ) -> pulumi.Output[dict[str, Any]]:
        """Return ``values`` only once they pass the chart's values.schema.json."""
        release = self.config.name

        def check(args: list[Any]) -> dict[str, Any]:
            path, vals = args
            files = read_chart(Path(path))
            if files.schema is not None:
                findings = check_schema(release, files.schema, merge(files.values, vals))
                report(findings)
                if errors(findings):
                    raise self._refused(
                        f"{release}: values do not match the chart's values.schema.json:\n  "
                        + "\n  ".join(f.line() for f in findings),
                        findings,
                        "schema",
                    )
            result: dict[str, Any] = vals
            return result

        return pulumi.Output.all(chart.local_files(), values).apply(check)

    @staticmethod
    def _policy_enabled(cfg: ReleaseConfig, platform: Platform) -> bool:
        """The policy summary is on per release (``validation.policy``) or stack-wide
        (``helm-enterprise:policySummary``)."""
        return (
            cfg.validation.policy if cfg.validation.policy is not None else platform.policy_summary
        )

    def _gate_on_server_dry_run(
        self,
        platform: Platform,
        rendered: pulumi.Output[Rendered],
        values: pulumi.Input[dict[str, Any]],
    ) -> pulumi.Output[dict[str, Any]]:
        """During preview, ``values`` once the API server accepted every rendered object in
        a dry run (RBAC, quota, admission); skipped with a warning when unreachable."""
        cfg = self.config

        def check(args: list[Any]) -> dict[str, Any]:
            result, vals = args
            if result.objects is None:
                out: dict[str, Any] = vals
                return out
            api = platform.cluster_access.reachable_client()
            if api is None:
                pulumi.log.warn("server-side dry run skipped: cluster not reachable", resource=self)
                return vals  # type: ignore[no-any-return]
            try:
                findings = server_dry_run(api, result.objects, cfg.name, cfg.namespace)
            except Exception as err:  # the check is advisory when it cannot run at all
                # Only the type: a client's message may quote rendered values (secrets).
                pulumi.log.warn(
                    f"server-side dry run could not complete ({type(err).__name__}); skipped",
                    resource=self,
                )
                return vals  # type: ignore[no-any-return]
            finally:
                api.close()
            report(findings)
            for f in findings:
                if f.severity != "error":
                    pulumi.log.warn(f.line(), resource=self)
            if errors(findings):
                raise self._refused(
                    f"{cfg.name}: the API server would refuse the release (dry run):\n  "
                    + "\n  ".join(f.line() for f in findings),
                    findings,
                    "server-dry-run",
                )
            return vals  # type: ignore[no-any-return]

        return pulumi.Output.all(rendered, values).apply(check)

    def _gate_on_hooks(
        self,
        chart: ResolvedChart,
        values: pulumi.Input[dict[str, Any]],
        rendered: pulumi.Output[Rendered] | None,
        field: str,
    ) -> pulumi.Output[dict[str, Any]]:
        """Chart mode: ``values`` once the chart's Helm hooks (which ``helm.v4.Chart`` does
        not run) were reported — a warning naming each one (``chartMode.hooks: warn``) or
        a ConfigError (``refuse``). Uses the release's render when there is one; otherwise
        renders only a chart whose files (or values) mention ``helm.sh/hook`` at all."""
        cfg = self.config
        setting = f"{field}.chartMode.hooks" if field else "chartMode.hooks"

        async def check(args: list[Any]) -> dict[str, Any]:
            path, vals, result = args
            out: dict[str, Any] = vals
            if result is None:
                mentioned = may_mention(Path(path), helm_hooks.HOOK_ANNOTATION) or (
                    helm_hooks.HOOK_ANNOTATION in json.dumps(vals, default=str)
                )
                if not mentioned:
                    return out
                result = await render_captured(
                    path, vals, release=cfg.name, namespace=cfg.namespace, parent=self
                )
            if result.objects is None:
                # Not the error text: it may quote values. The Chart resource fails with it.
                pulumi.log.warn(
                    "the chart could not be rendered to look for Helm hooks", resource=self
                )
                return out
            finding = helm_hooks.decide(
                cfg.name, helm_hooks.hooks_in(result.objects), cfg.chart_mode.hooks, setting
            )
            if finding is None:
                return out
            report([finding])
            if finding.severity == "error":
                record_validation_failure(
                    cfg.name, [finding], check=finding.check, namespace=cfg.namespace
                )
                raise ConfigError(f"{cfg.name}: {finding.message}", path=setting, hint=finding.hint)
            pulumi.log.warn(finding.line(), resource=self)
            return out

        return pulumi.Output.all(chart.local_files(), values, rendered).apply(check)

    def _pre_apply_checks(self, platform: Platform, owner: str) -> tuple[bool, outofband.Decision]:
        """Ownership, stuck-release and out-of-band-revision checks against the live
        cluster; returns whether the install must re-use a failed release's name
        (``replace``) and what the deployed revision is (its description input)."""
        cfg = self.config
        unread = outofband.decide(
            None, owner=owner, base=cfg.description, restore=cfg.rollback.restore_out_of_band
        )
        if not (
            cfg.validation.ownership
            or cfg.rollback.recover_pending
            or cfg.rollback.recover_failed_install
            or (cfg.mode == "release" and cfg.rollback.restore_out_of_band)
        ):
            # Nothing reads the cluster: the description follows the config alone.
            return False, dataclasses.replace(unread, keep_recorded=False)
        access = platform.cluster_access
        setting = platform.cluster.unreachable if platform.cluster else "warn-on-preview"

        def unreachable(err: Exception | None) -> tuple[bool, outofband.Decision]:
            # Skip or stop: kube/reach.py decides (a 401/403 never gets here: it raises).
            decision = reach.decide(
                reach.Reach.UNREACHABLE,
                preview=pulumi.runtime.is_dry_run(),
                unreachable=setting,
                ownership=cfg.validation.ownership,
                where=access.describe(),
                reason=type(err).__name__ if err is not None else "",
            )
            if decision.action is reach.Action.FAIL:
                raise ClusterUnavailableError(f"{cfg.name}: {decision.message}") from err
            pulumi.log.warn(decision.message, resource=self)
            return False, unread

        api = access.reachable_client()  # ClusterAccessDeniedError on 401/403
        if api is None:
            return unreachable(None)
        try:
            findings: list[Finding] = []
            if cfg.validation.ownership:
                findings = ownership.check_release(api, cfg.namespace, cfg.name, owner, cfg.adopt)
                report(findings)
            if errors(findings):
                raise self._refused(
                    "\n".join(f.line() for f in findings),
                    findings,
                    "ownership",
                    OwnershipConflictError,
                )
            if cfg.validation.ownership and cfg.tenant is None:
                # Not the Tenant gate (this release has none): whose namespace is it?
                live = read_namespace(api, cfg.namespace)
                untenanted = check_untenanted_release(cfg, live, self._field)
                if untenanted is not None:
                    report([untenanted])
                    pulumi.log.warn(untenanted.line(), resource=self)
            if cfg.mode != "release":
                return False, unread
            history = helm_storage.history(api, cfg.namespace, cfg.name)
            revision = outofband.decide(
                history, owner=owner, base=cfg.description, restore=cfg.rollback.restore_out_of_band
            )
            if revision.state is outofband.RevisionState.OUT_OF_BAND:
                pulumi.log.warn(f"{cfg.namespace}/{cfg.name}: {revision.message}", resource=self)
            owners = ownership.manifest_owners(history[-1].manifest) if history else set()
            timeouts = effective_timeouts("upgrade", platform.timeouts, cfg.timeouts)
            decision = recovery.decide(
                history,
                owned_by_us=owner in owners,
                now=dt.datetime.now(dt.UTC),
                stale_after=dt.timedelta(seconds=timeouts.deploy_start + timeouts.readiness),
                recover_pending=cfg.rollback.recover_pending,
                recover_failed_install=cfg.rollback.recover_failed_install,
            )
            return self._act(api, decision), revision
        except HelmEnterpriseError:
            raise  # among them ClusterAccessDeniedError: unauthorised is not unreachable
        except ApiException as err:
            raise api_error(err, api, f"run the pre-apply checks of {cfg.name}") from err
        except NO_ANSWER as err:  # the cluster went away during the checks
            return unreachable(err)
        except Exception as err:
            pulumi.log.warn(
                f"pre-apply checks could not complete: {type(err).__name__}: {err}", resource=self
            )
            return False, unread
        finally:
            api.close()

    def _act(self, api: Any, decision: recovery.Decision) -> bool:
        if decision.action is recovery.Action.NONE:
            return False
        if decision.action is recovery.Action.WAIT:
            raise ValidationError(
                f"{self.config.name}: {decision.message}; another operation may be running. "
                "Retry later or recover it with `helm-enterprise rollback`."
            )
        if pulumi.runtime.is_dry_run():
            pulumi.log.warn(f"{decision.message} (will be recovered by `pulumi up`)", resource=self)
            return decision.replace
        if decision.action in (
            recovery.Action.MARK_FAILED,
            recovery.Action.MARK_FAILED_AND_REPLACE,
        ):
            assert decision.record is not None
            helm_storage.mark_failed(
                api, decision.record, f"marked failed by helm-enterprise: {decision.message}"
            )
        pulumi.log.warn(f"recovered: {decision.message}", resource=self)
        return decision.replace


def _with(opts: pulumi.ResourceOptions, **fields: Any) -> pulumi.ResourceOptions:
    """``opts`` with ``fields`` set, options ``opts`` leaves unset: what
    ``ResourceOptions.merge`` would give, as a copy (a merge per release is measurable at
    scale)."""
    extended = copy.copy(opts)
    for name, value in fields.items():
        setattr(extended, name, value)
    return extended


def _no_group(cfg: ReleaseConfig, field: str) -> list[pulumi.Resource]:
    """Without a group, a dependency by name has nothing to name: say how to declare it."""
    if cfg.local_dependencies:
        where = f"{field}.dependsOn" if field else "dependsOn"
        raise ConfigError(
            f"{cfg.name}: depends on {', '.join(map(repr, cfg.local_dependencies))} by name, "
            "but the release belongs to no group",
            path=where,
            hint="pass group=ReleaseGroup(...) to both releases, or depend on the Release "
            "object itself: pulumi.ResourceOptions(depends_on=[db])",
        )
    return []


__all__ = ["Release", "ReleaseArgs"]
