"""The stack-per-tenant/cluster runner: fan-out, bounds, summary, pre-flight, CLI."""

from __future__ import annotations

import importlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from helm_enterprise import ConfigError
from helm_enterprise.audit import AuditLog, Auditor, set_auditor
from helm_enterprise.automation import stacks as runner
from helm_enterprise.automation.stacks import (
    StackEvent,
    StackFailed,
    error_line,
    run_stacks,
    stack_config,
)
from helm_enterprise.cli import app
from helm_enterprise.config import validate_model
from helm_enterprise.config.catalogue import StackCatalogue
from helm_enterprise.errors import ClusterUnavailableError
from helm_enterprise.kube.client import ClusterAccess
from helm_enterprise.kube.clusters import ClusterHealth, ClusterState

importlib.import_module("helm_enterprise.cli.stacks_cmds")


@pytest.fixture(autouse=True)
def audit_log(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "audit.jsonl"
    set_auditor(Auditor(AuditLog(path)))
    yield path
    set_auditor(None)


class Operator:
    """Records calls; fails the stacks in ``fail``; sleeps to expose concurrency."""

    def __init__(self, fail: set[str] = frozenset(), delay: float = 0.0) -> None:  # type: ignore[assignment]
        self.fail = fail
        self.delay = delay
        self.calls: list[tuple[str, dict[str, tuple[str, bool]], str]] = []
        self.running = 0
        self.max_running = 0
        self.lock = threading.Lock()

    def run(
        self,
        stack: str,
        config: Mapping[str, tuple[str, bool]],
        operation: str,
        on_event: Callable[[str], None],
    ) -> Mapping[str, int]:
        with self.lock:
            self.calls.append((stack, dict(config), operation))
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            time.sleep(self.delay)
            on_event(f"create kubernetes:helm.sh/v3:Release {stack}-release done")
            if stack in self.fail:
                raise StackFailed(f"{stack}: the release did not become ready")
            return {"create": 2, "same": 1}
        finally:
            with self.lock:
                self.running -= 1


def catalogue(*names: str, **extra: Any) -> StackCatalogue:
    return validate_model(StackCatalogue, {"stacks": [{"name": n} for n in names], **extra})


def test_summary_reports_every_stack_in_catalogue_order() -> None:
    events: list[StackEvent] = []
    summary = run_stacks(catalogue("t1", "t2", "t3"), Operator(fail={"t2"}), on_event=events.append)
    assert [(r.stack, r.result) for r in summary.results] == [
        ("t1", "succeeded"),
        ("t2", "failed"),
        ("t3", "succeeded"),
    ]
    assert not summary.ok
    data = summary.to_dict()
    assert data["counts"] == {"succeeded": 2, "failed": 1, "excluded": 0, "cancelled": 0}
    assert data["stacks"][1]["error"] == "t2: the release did not become ready"
    assert data["stacks"][0]["changes"] == {"create": 2, "same": 1}
    assert json.dumps(data)  # JSON-ready for --json
    kinds = {(e.stack, e.kind) for e in events}
    assert {("t1", "started"), ("t1", "progress"), ("t1", "succeeded"), ("t2", "failed")} <= kinds


def test_parallelism_is_bounded() -> None:
    op = Operator(delay=0.2)
    summary = run_stacks(catalogue(*(f"t{i}" for i in range(6))), op, parallel=2)
    assert summary.ok and summary.count("succeeded") == 6
    assert op.max_running == 2
    assert summary.duration < 6 * 0.2  # really in parallel


def test_stop_on_failure_cancels_what_has_not_started() -> None:
    op = Operator(fail={"eu-1"})
    summary = run_stacks(catalogue("eu-1", "eu-2", "eu-3"), op, parallel=1, stop_on_failure=True)
    assert [r.result for r in summary.results] == ["failed", "cancelled", "cancelled"]
    assert [c[0] for c in op.calls] == ["eu-1"]  # rolling: eu-2 never started


def test_config_shared_then_own_then_cluster_then_secrets(monkeypatch: Any) -> None:
    monkeypatch.setenv("T1_DB", "s3cret")
    cat = validate_model(
        StackCatalogue,
        {
            "config": {"helm-enterprise:timeouts": {"readiness": "5m"}, "app:tier": "small"},
            "stacks": [
                {
                    "name": "t1",
                    "config": {"app:tier": "large"},
                    "cluster": {"kubeconfig": "/kube/eu-1", "context": "c"},
                    "secrets": {"app:db": {"env": "T1_DB"}},
                }
            ],
        },
    )
    assert stack_config(cat, 0) == {
        "helm-enterprise:timeouts": ('{"readiness": "5m"}', False),
        "app:tier": ("large", False),
        "helm-enterprise:cluster": ('{"kubeconfig": "/kube/eu-1", "context": "c"}', False),
        "app:db": ("s3cret", True),
    }
    monkeypatch.delenv("T1_DB")
    with pytest.raises(ConfigError) as err:
        stack_config(cat, 0)
    assert err.value.path == "stacks[0].secrets.app:db"


def probe_by_kubeconfig(states: dict[str, ClusterHealth]) -> Any:
    def check(access: ClusterAccess, timeout: float) -> ClusterHealth:
        return states[access.kubeconfig or ""]

    return check


DOWN = ClusterHealth(ClusterState.UNREACHABLE, "[Errno 111] Connection refused", "https://b")
OK = ClusterHealth(ClusterState.HEALTHY)


def per_cluster(**extra: Any) -> StackCatalogue:
    return validate_model(
        StackCatalogue,
        {
            "stacks": [
                {"name": "eu-1", "cluster": {"kubeconfig": "a"}},
                {"name": "eu-2", "cluster": {"kubeconfig": "b"}},
            ],
            **extra,
        },
    )


def test_unhealthy_cluster_excludes_its_stack(audit_log: Path) -> None:
    op = Operator()
    summary = run_stacks(
        per_cluster(unreachable="exclude"), op, probe=probe_by_kubeconfig({"a": OK, "b": DOWN})
    )
    assert [c[0] for c in op.calls] == ["eu-1"]
    assert [(r.stack, r.result) for r in summary.results] == [
        ("eu-1", "succeeded"),
        ("eu-2", "excluded"),
    ]
    assert summary.ok  # an exclusion is a decision, not a failure
    assert summary.results[1].error == (
        "excluded: cluster unreachable (https://b): [Errno 111] Connection refused"
    )
    actions = [e["action"] for e in AuditLog(audit_log).records()]
    assert actions.count("cluster-health") == 2
    assert "stack-excluded" in actions
    assert actions[-1] == "stack-fanout"


def test_unhealthy_cluster_with_fail_starts_nothing() -> None:
    op = Operator()
    with pytest.raises(ClusterUnavailableError, match="eu-2: cluster unreachable"):
        run_stacks(
            per_cluster(),
            op,
            probe=probe_by_kubeconfig({"a": OK, "b": DOWN}),  # fail: default
        )
    assert op.calls == []


def test_a_crashing_operator_is_a_failed_stack_not_a_crash() -> None:
    class Broken(Operator):
        def run(self, stack: str, *args: Any) -> Mapping[str, int]:
            raise RuntimeError("boom")

    summary = run_stacks(catalogue("t1"), Broken())
    assert summary.results[0].result == "failed"
    assert summary.results[0].error == "RuntimeError: boom"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (
            "Updating (t1):\n  pulumi:pulumi:Stack  error: update failed\n"
            "    error: web: eu-1 is unreachable (unreachable: fail)\n",
            "web: eu-1 is unreachable (unreachable: fail)",
        ),
        ("code: 255\nstderr: error: update failed\n", "update failed"),
        ("something odd\nlast words\n", "last words"),
        ("", "failed (no output)"),
    ],
)
def test_error_line(text: str, line: str) -> None:
    assert error_line(text) == line


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"stacks": []}, "stacks"),
        ({"stacks": [{"name": "a"}, {"name": "a"}]}, "stacks[1].name"),
        ({"stacks": [{"name": "a b"}]}, "stacks[0].name"),
        ({"stacks": [{"name": "a", "config": {"bad key": 1}}]}, "stacks[0].config"),
        ({"stacks": [{"name": "a", "secrets": {"k": "literal"}}]}, "stacks[0].secrets.k"),
        ({"stacks": [{"name": "a"}], "parallel": 0}, "parallel"),
    ],
)
def test_catalogue_errors_name_the_field(data: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate_model(StackCatalogue, data)
    assert err.value.path == path, str(err.value)


def test_cli_json_summary_and_exit_code(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: x\nruntime: python\n")
    (tmp_path / "catalogue.yaml").write_text("parallel: 2\nstacks:\n  - name: t1\n  - name: t2\n")
    fake = Operator(fail={"t2"})
    monkeypatch.setattr(runner, "AutomationOperator", lambda project, **kw: fake)
    result = CliRunner().invoke(
        app, ["stacks", "up", "-f", str(tmp_path / "catalogue.yaml"), "--preview", "--json"]
    )
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["operation"] == "preview"
    assert [s["result"] for s in data["stacks"]] == ["succeeded", "failed"]
    assert {c[2] for c in fake.calls} == {"preview"}


def test_cli_bad_catalogue_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "catalogue.yaml").write_text("stacks:\n  - name: t1\n    confg: {}\n")
    result = CliRunner().invoke(app, ["stacks", "up", "-f", str(tmp_path / "catalogue.yaml")])
    assert result.exit_code == 2
    assert "stacks[0].confg" in result.output and "did you mean 'config'" in result.output
