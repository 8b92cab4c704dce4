"""Lifecycle hooks under Pulumi's mocks: what is bound to the Helm resource, and what each
hook records (durations, preview vs up, failures, no secrets)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi.runtime._callbacks import _CallbackServicer

from helm_enterprise.audit import AuditLog, Auditor, set_auditor
from helm_enterprise.audit import hooks as audit_hooks
from helm_enterprise.audit.hooks import (
    HOOK_KINDS,
    audit_transform,
    lifecycle_hooks,
    record_validation_failure,
)
from helm_enterprise.audit.schema import validate_record
from helm_enterprise.components.context import Platform, set_default_platform
from helm_enterprise.components.release import Release
from helm_enterprise.config import ClusterConfig
from helm_enterprise.config.audit import AuditConfig
from helm_enterprise.errors import ValidationError
from helm_enterprise.validation import Finding
from tests.unit.conftest import REPO
from tests.unit.pulumi_harness import Mocks, RecordingMonitor, run_program

SECRET = f"s3cr3t-{secrets.token_hex(8)}"
LOCAL = {"path": "charts/hello"}
URN = "urn:pulumi:dev::proj::kubernetes:helm.sh/v3:Release::web-release"


class HookMonitor(RecordingMonitor):
    """Also keeps the hook names bound to each registered resource."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.hooks: dict[str, dict[str, list[str]]] = {}
        # Each hook registration: (hook name, callback server it names, servers then).
        self.hook_registrations: list[tuple[str, str, int]] = []

    def _hook(self, request: Any) -> None:
        servers = len(_CallbackServicer._servicers)
        self.hook_registrations.append((request.name, request.callback.target, servers))

    def RegisterResourceHook(self, request: Any) -> Any:
        self._hook(request)
        return super().RegisterResourceHook(request)

    def RegisterErrorHook(self, request: Any) -> Any:
        self._hook(request)
        return super().RegisterErrorHook(request)

    def RegisterResource(self, request: Any) -> Any:
        result = super().RegisterResource(request)
        if request.HasField("hooks"):
            b = request.hooks
            self.hooks[request.name] = {kind: list(getattr(b, kind)) for kind in HOOK_KINDS}
        return result


@pytest.fixture(autouse=True)
def trail(log: AuditLog) -> Iterator[AuditLog]:
    audit_hooks.reset()
    set_auditor(Auditor(log))
    yield log
    set_auditor(None)
    audit_hooks.reset()


def helm_inputs(**extra: Any) -> dict[str, Any]:
    return {
        "name": "web",
        "namespace": "shop",
        "chart": "hello",
        "version": "0.1.0",
        "repositoryOpts": {"repo": "https://charts.corp"},
        "values": {"password": pulumi.Output.secret(SECRET)},
        **extra,
    }


def helm_outputs(revision: int, version: str = "0.1.0") -> dict[str, Any]:
    return {
        "status": {
            "name": "web",
            "namespace": "shop",
            "chart": "hello",
            "version": version,
            "revision": revision,
            "status": "deployed",
        }
    }


def args(**kw: Any) -> pulumi.ResourceHookArgs:
    return pulumi.ResourceHookArgs(
        URN, "web-id", "web-release", "kubernetes:helm.sh/v3:Release", **kw
    )


def program(binding: dict[str, pulumi.ResourceHookBinding], delete: bool = True) -> None:
    hooks = lifecycle_hooks(
        "web",
        {
            "mode": "release",
            "source": pulumi.Output.from_input("https://charts.corp/hello"),
            "leak": pulumi.Output.secret(SECRET),
        },
        delete=delete,
    )
    binding["hooks"] = hooks
    k8s.helm.v3.Release(
        "web-release",
        k8s.helm.v3.ReleaseArgs(chart="hello", namespace="shop", name="web"),
        opts=pulumi.ResourceOptions(hooks=hooks),
    )


def run(
    preview: bool = False, delete: bool = True
) -> tuple[pulumi.ResourceHookBinding, HookMonitor]:
    holder: dict[str, pulumi.ResourceHookBinding] = {}
    monitor = run_hooked(lambda: program(holder, delete), preview)
    return holder["hooks"], monitor


def run_hooked(body: Callable[[], Any], preview: bool = False) -> HookMonitor:
    """Run ``body`` under the mocks, keeping the hooks bound to each resource."""
    mocks = Mocks()
    monitor_holder: dict[str, HookMonitor] = {}

    class M(HookMonitor):
        def __init__(self, m: Mocks) -> None:
            super().__init__(m)
            monitor_holder["m"] = self

    import tests.unit.pulumi_harness as harness

    original = harness.RecordingMonitor
    harness.RecordingMonitor = M  # type: ignore[misc]
    try:
        run_program(body, preview=preview, mocks=mocks)
    finally:
        harness.RecordingMonitor = original  # type: ignore[misc]
    return monitor_holder["m"]


def audited_platform() -> Platform:
    p = Platform(
        cluster=ClusterConfig(kubeconfig="/nonexistent/kubeconfig", unreachable="warn"),
        base_dir=REPO,
        audit=AuditConfig(record_deletes=False),
    )
    set_default_platform(p)
    return p


def test_release_binds_the_hooks_when_audit_is_configured() -> None:
    try:
        audited_platform()
        monitor = run_hooked(lambda: Release("web", {"namespace": "shop", "chart": LOCAL}))
    finally:
        set_default_platform(None)
    bound = monitor.hooks["web-release"]
    assert bound["before_create"] == ["audit-web-before-create", "helm-enterprise-rollout-start"]
    assert bound["after_update"] == ["audit-web-after-update", "helm-enterprise-rollout-end"]
    assert bound["before_delete"] == []  # recordDeletes off: destroy needs no program


def test_a_plain_release_has_only_the_rollout_watch(platform: Platform) -> None:
    monitor = run_hooked(lambda: Release("web", {"namespace": "shop", "chart": LOCAL}))
    bound = monitor.hooks["web-release"]
    assert bound["before_create"] == bound["before_update"] == ["helm-enterprise-rollout-start"]
    assert bound["after_create"] == bound["after_update"] == ["helm-enterprise-rollout-end"]
    assert bound["on_error"] == ["helm-enterprise-rollout-failed"]
    assert bound["before_delete"] == bound["after_delete"] == []
    unwatched = run_hooked(
        lambda: Release("web", {"namespace": "shop", "chart": LOCAL, "wait": False})
    )
    assert not any(unwatched.hooks["web-release"].values())


def test_release_records_a_refused_schema_check(trail: AuditLog) -> None:
    try:
        audited_platform()
        with pytest.raises(ValidationError):
            run_hooked(
                lambda: Release(
                    "web", {"namespace": "shop", "chart": LOCAL, "values": {"replicaCount": "x"}}
                )
            )
    finally:
        set_default_platform(None)
    (record,) = [r for r in trail.records() if r["action"] == "validation-failed"]
    assert record["release"] == "web" and record["check"] == "schema"
    assert record["result"] == "failed" and "replicaCount" in record["error"]


def test_the_helm_resource_gets_named_hooks() -> None:
    _binding, monitor = run()
    bound = monitor.hooks["web-release"]
    assert bound["before_create"] == ["audit-web-before-create"]
    assert bound["after_update"] == ["audit-web-after-update"]
    # Delete and error hooks are program-wide, so removed releases are still recorded.
    assert bound["before_delete"] == ["audit-before-delete"]
    assert bound["on_error"] == ["audit-on-error"]


def test_one_callback_server_is_running_before_any_hook_registers() -> None:
    """Issue 10: the SDK starts its callback server lazily, once per hook registration task,
    and a program error in those first event-loop turns stopped servers still starting
    (SIGSEGV in grpc, exit code -1). The hooks now find one server, started in the program
    body before the first of them registers."""
    servers_in_body: list[int] = []

    def body() -> None:
        lifecycle_hooks("web", {"namespace": "shop"}, delete=True)
        lifecycle_hooks("api", {"namespace": "shop"})
        servers_in_body.append(len(_CallbackServicer._servicers))

    monitor = run_hooked(body)
    assert servers_in_body == [1]  # started synchronously, while the body ran
    registered = monitor.hook_registrations
    # 4 hooks per release, plus the program-wide before/after delete and on-error hooks.
    assert len(registered) == 2 * 4 + 3
    assert len({target for _name, target, _servers in registered}) == 1
    assert {servers for _name, _target, servers in registered} == {1}


def test_without_deletes_destroy_needs_no_program() -> None:
    _binding, monitor = run(delete=False)
    assert monitor.hooks["web-release"]["before_delete"] == []


def test_create_and_update_are_recorded_with_duration_and_versions(trail: AuditLog) -> None:
    binding, _m = run()
    assert binding.before_create and binding.after_create
    binding.before_create[0](args(new_inputs=helm_inputs()))
    binding.after_create[0](args(new_inputs=helm_inputs(), new_outputs=helm_outputs(1)))
    assert binding.before_update and binding.after_update
    binding.before_update[0](
        args(new_inputs=helm_inputs(version="0.2.0"), old_outputs=helm_outputs(1))
    )
    binding.after_update[0](
        args(
            new_inputs=helm_inputs(version="0.2.0"),
            new_outputs=helm_outputs(2, "0.2.0"),
            old_outputs=helm_outputs(1),
        )
    )
    events = list(trail.records())
    assert [(e["action"], e["phase"], e["result"]) for e in events] == [
        ("create", "before", "started"),
        ("create", "after", "succeeded"),
        ("update", "before", "started"),
        ("update", "after", "succeeded"),
    ]
    created, updated = events[1], events[3]
    assert created["release"] == "web" and created["namespace"] == "shop"
    assert created["chart"] == "hello" and created["chart_version"] == "0.1.0"
    assert created["revision"] == 1 and created["duration_seconds"] >= 0
    assert created["source"] == "https://charts.corp/hello" and created["mode"] == "release"
    assert created["project"] == "proj" and created["stack"] == "dev"
    assert created["dry_run"] is False and created["resource"] == URN
    assert (updated["from_revision"], updated["revision"]) == (1, 2)
    assert (updated["from_chart_version"], updated["chart_version"]) == ("0.1.0", "0.2.0")
    assert len({e["correlation_id"] for e in events}) == 1
    for e in events:
        assert validate_record(e) == [], e
    text = trail.path.read_text()
    assert SECRET not in text and "[secret]" in text


def test_preview_events_are_marked_as_such(trail: AuditLog) -> None:
    binding, _m = run(preview=True)
    assert binding.before_create and binding.after_create
    binding.before_create[0](args(new_inputs=helm_inputs()))
    binding.after_create[0](args(new_inputs=helm_inputs()))
    events = list(trail.records())
    assert all(e["dry_run"] is True for e in events)
    assert events[-1]["result"] == "planned"


def test_previews_can_be_left_out(log: AuditLog) -> None:
    set_auditor(Auditor(log, record_previews=False))
    binding, _m = run(preview=True)
    assert binding.before_create
    binding.before_create[0](args(new_inputs=helm_inputs()))
    assert list(log.records()) == []


def test_delete_of_a_release_no_longer_in_the_program(trail: AuditLog) -> None:
    binding, _m = run()
    assert binding.before_delete and binding.after_delete
    gone = {"name": "old", "namespace": "shop", "chart": "hello", "version": "0.1.0"}
    binding.before_delete[0](args(old_inputs=gone, old_outputs=helm_outputs(3)))
    binding.after_delete[0](args(old_inputs=gone, old_outputs=helm_outputs(3)))
    events = list(trail.records())
    assert [(e["action"], e["phase"]) for e in events] == [
        ("delete", "before"),
        ("delete", "after"),
    ]
    assert events[1]["revision"] == 3 and events[1]["duration_seconds"] is not None


def test_a_failed_operation_is_recorded_and_not_retried(trail: AuditLog) -> None:
    binding, _m = run()
    assert binding.before_update and binding.on_error
    binding.before_update[0](args(new_inputs=helm_inputs(), old_outputs=helm_outputs(1)))
    retry = binding.on_error[0](
        pulumi.ErrorHookArgs(
            URN,
            "web-id",
            "web-release",
            "kubernetes:helm.sh/v3:Release",
            new_inputs=helm_inputs(),
            old_outputs=helm_outputs(1),
            failed_operation="update",
            errors=["timed out waiting for the condition"],
        )
    )
    assert retry is False
    failed = list(trail.records())[-1]
    assert (failed["action"], failed["phase"], failed["result"]) == ("update", "after", "failed")
    assert failed["error"] == "timed out waiting for the condition"
    assert failed["duration_seconds"] is not None


def test_an_atomic_release_follows_a_failed_update_up() -> None:
    """With atomic upgrades the Release binds a second error hook, which records the
    rollback Helm performed (tests/unit/rollback/test_helm.py); without, it does not."""
    try:
        audited_platform()
        atomic = run_hooked(lambda: Release("web", {"namespace": "shop", "chart": LOCAL}))
        plain = run_hooked(
            lambda: Release(
                "api", {"namespace": "shop", "chart": LOCAL, "rollback": {"atomic": False}}
            )
        )
    finally:
        set_default_platform(None)
    assert atomic.hooks["web-release"]["on_error"] == [
        "audit-on-error",
        "audit-web-after-failed-update",
        "helm-enterprise-rollout-failed",
    ]
    assert plain.hooks["api-release"]["on_error"] == [
        "audit-on-error",
        "helm-enterprise-rollout-failed",
    ]


def test_the_follow_up_of_a_failed_update_runs_once_and_never_fails(
    trail: AuditLog, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    def follow_up(a: pulumi.ErrorHookArgs) -> None:
        seen.append(a.failed_operation)
        raise RuntimeError("cluster gone")

    holder: dict[str, pulumi.ResourceHookBinding] = {}

    def body() -> None:
        holder["b"] = lifecycle_hooks("web", {"namespace": "shop"}, after_failed_update=follow_up)

    run_hooked(body)
    hooks = holder["b"].on_error or []
    assert [h.name for h in hooks] == ["audit-on-error", "audit-web-after-failed-update"]
    for operation in ("create", "update"):
        failed = pulumi.ErrorHookArgs(
            URN,
            "web-id",
            "web-release",
            "kubernetes:helm.sh/v3:Release",
            new_inputs=helm_inputs(),
            failed_operation=operation,
            errors=["boom"],
        )
        assert hooks[1](failed) is False
    assert seen == ["update"]
    assert "after the failed update of web: cluster gone" in caplog.text


def test_a_broken_log_never_fails_the_hook(tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    set_auditor(Auditor(AuditLog(blocked / "audit.jsonl")))
    binding, _m = run()
    assert binding.before_create
    binding.before_create[0](args(new_inputs=helm_inputs()))  # no exception
    assert "could not record create of web" in caplog.text


def test_audit_transform_binds_once(trail: AuditLog) -> None:
    transform = audit_transform(lambda a: {"mode": "release"})
    opts = pulumi.ResourceOptions()
    result = transform(
        pulumi.ResourceTransformArgs(
            custom=True,
            type_="kubernetes:helm.sh/v3:Release",
            name="web-release",
            props={"name": "web", "namespace": "shop"},
            opts=opts,
        )
    )
    assert result is not None and result.opts is not None and result.opts.hooks is not None
    again = transform(
        pulumi.ResourceTransformArgs(
            custom=True,
            type_="kubernetes:helm.sh/v3:Release",
            name="web-release",
            props={"name": "web"},
            opts=result.opts,
        )
    )
    assert again is None  # the hooks are there already (e.g. bound by the component)
    assert (
        transform(
            pulumi.ResourceTransformArgs(
                custom=True, type_="kubernetes:core/v1:ConfigMap", name="c", props={}, opts=opts
            )
        )
        is None
    )


def test_validation_failure_is_recorded_without_values(trail: AuditLog) -> None:
    findings = [Finding("error", "schema", "web", "values.replicaCount", "must be of type integer")]
    record = record_validation_failure("web", findings, namespace="shop")
    assert record is not None and record["action"] == "validation-failed"
    assert record["findings"][0]["field"] == "values.replicaCount"
    assert "must be of type integer" in record["error"]


def test_group_and_slo_gate_hooks_join_the_audit_hooks(tmp_path: Path) -> None:
    """A release of a group with coordinated rollback, and with an SLO gate: the group's
    error hook is bound to each step that can fail, the gate to Helm's create/update,
    next to the audit trail's hooks."""
    import dataclasses

    from helm_enterprise import ReleaseGroup
    from helm_enterprise.config.stack import PrometheusConfig

    slo = {"name": "up", "objective": 99, "sli": {"raw": {"errorRatioQuery": "x"}}}
    health = {"checks": [{"type": "http", "name": "web", "url": "http://web.invalid/"}]}
    try:
        set_default_platform(
            dataclasses.replace(
                audited_platform(),
                prometheus=PrometheusConfig(
                    address="http://p.invalid", rule_files_dir=str(tmp_path)
                ),
            )
        )
        group = ReleaseGroup("shop", rollback="group")
        monitor = run_hooked(
            lambda: Release(
                "web",
                {
                    "namespace": "shop",
                    "chart": LOCAL,
                    "health": health,
                    "slos": [slo],
                    "slo_gate": "page",
                },
                group=group,
            )
        )
    finally:
        set_default_platform(None)
    helm = monitor.hooks["web-release"]
    assert helm["on_error"][-1] == "helm-enterprise-shop-coordinated"
    assert "audit-on-error" in helm["on_error"]
    assert helm["before_create"] == [
        "audit-web-before-create",
        "slo-gate-web",
        "helm-enterprise-rollout-start",
    ]
    assert helm["before_update"] == [
        "audit-web-before-update",
        "slo-gate-web",
        "helm-enterprise-rollout-start",
    ]
    assert "helm-enterprise-rollout-failed" in helm["on_error"]
    assert monitor.hooks["web-health"]["on_error"] == ["helm-enterprise-shop-coordinated"]
    assert "web-rollout" not in monitor.hooks  # the watch is hooks now, not a resource
