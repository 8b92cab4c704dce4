"""Chart mode and Helm hooks: helm.v4.Chart does not run them, so the Release says which
(``chartMode.hooks: warn``) or refuses (``refuse``) — checked on what the engine receives
and logs, with the provider's template invoke answered by Pulumi's mocks."""

from __future__ import annotations

import json
import logging
from typing import Any

import pulumi
import pytest

from helm_enterprise import ConfigError, Release
from helm_enterprise.components.context import Platform
from helm_enterprise.kube.render import TEMPLATE_INVOKE
from tests.unit.pulumi_harness import Mocks, run_program

CHART = "kubernetes:helm.sh/v4:Chart"
HOOKS = {"path": "tests/fixtures/charts/hooks"}
HELLO = {"path": "charts/hello"}


def _obj(kind: str, name: str, hook: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "demo"}
    if hook:
        meta["annotations"] = {"helm.sh/hook": hook}
    return {"apiVersion": "v1", "kind": kind, "metadata": meta}


# What the provider's `helm template` returns for the fixture chart (hooks included).
RENDERED = [
    _obj("ConfigMap", "web-config"),
    _obj("Job", "web-migrate", "pre-install"),
    _obj("ConfigMap", "web-notify", "post-install,post-upgrade"),
    _obj("Pod", "web-test", "test"),
]


class TemplateMocks(Mocks):
    def __init__(self, objects: list[dict[str, Any]]) -> None:
        super().__init__()
        self.objects = objects
        self.created: list[str] = []

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        self.created.append(args.typ)
        return super().new_resource(args)

    def call(self, args: pulumi.runtime.MockCallArgs) -> Any:
        self.calls.append(args)
        if args.token == TEMPLATE_INVOKE:
            return {"result": self.objects}
        return {}


def _renders(mocks: Mocks) -> list[dict[str, Any]]:
    return [json.loads(c.args["jsonOpts"]) for c in mocks.calls if c.token == TEMPLATE_INVOKE]


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_chart_mode_warns_with_each_hook(
    platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    mocks = TemplateMocks(RENDERED)
    run = run_program(
        lambda: Release("web", {"mode": "chart", "namespace": "demo", "chart": HOOKS}),
        mocks=mocks,
        preview=True,
    )
    assert run.one(CHART).inputs["chart"] == "tests/fixtures/charts/hooks"  # still deployed
    [render] = _renders(mocks)
    assert render["release_name"] == "web" and render["namespace"] == "demo"
    [line] = [w for w in _warnings(caplog) if "chart-hooks" in w]
    assert (
        "chart mode does not run the chart's Helm hooks; not applied: "
        "ConfigMap/web-notify (post-install, post-upgrade), Job/web-migrate (pre-install)"
    ) in line
    assert "web-test" not in line  # `helm test` hooks are not lost by chart mode


def test_refuse_fails_before_the_chart_with_one_line(platform: Platform) -> None:
    mocks = TemplateMocks(RENDERED)
    with pytest.raises(ConfigError) as err:
        run_program(
            lambda: Release(
                "web",
                {"mode": "chart", "chart": HOOKS, "chart_mode": {"hooks": "refuse"}},
                field="releases[0]",
            ),
            mocks=mocks,
            preview=True,
        )
    assert err.value.path == "releases[0].chartMode.hooks"
    text = str(err.value)
    assert text.startswith(
        "releases[0].chartMode.hooks: web: the chart has Helm hooks that chart mode does not "
        "run: ConfigMap/web-notify (post-install, post-upgrade), Job/web-migrate (pre-install)"
    )
    assert "\n" not in text
    assert len(_renders(mocks)) == 1
    assert CHART not in mocks.created  # refused before the Chart existed


def test_refuse_without_hooks_deploys(platform: Platform) -> None:
    mocks = TemplateMocks([_obj("ConfigMap", "web-config")])
    run = run_program(
        lambda: Release("web", {"mode": "chart", "chart": HOOKS, "chartMode": {"hooks": "refuse"}}),
        mocks=mocks,
    )
    run.one(CHART)
    assert CHART in mocks.created


def test_a_chart_without_hooks_is_not_rendered_again(
    platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    # charts/hello mentions no hook: the check costs no render (X.4).
    mocks = TemplateMocks(RENDERED)
    run_program(lambda: Release("web", {"mode": "chart", "chart": HELLO}), mocks=mocks)
    assert _renders(mocks) == []
    assert not [w for w in _warnings(caplog) if "chart-hooks" in w]


def test_the_render_is_shared_with_the_policy_summary(
    platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    mocks = TemplateMocks(RENDERED)
    run_program(
        lambda: Release("web", {"mode": "chart", "chart": HOOKS, "validation": {"policy": True}}),
        mocks=mocks,
    )
    assert len(_renders(mocks)) == 1  # one render serves the policy summary and the hooks
    assert [w for w in _warnings(caplog) if "Job/web-migrate (pre-install)" in w]


def test_release_mode_runs_hooks_and_rejects_chart_mode_settings(platform: Platform) -> None:
    mocks = TemplateMocks(RENDERED)
    run_program(lambda: Release("web", {"chart": HOOKS}), mocks=mocks)
    assert _renders(mocks) == []  # Helm runs the hooks itself: nothing to check
    with pytest.raises(ConfigError) as err:
        run_program(lambda: Release("web", {"chart": HOOKS, "chartMode": {"hooks": "refuse"}}))
    assert "chartMode: applies to mode: chart only" in str(err.value)
