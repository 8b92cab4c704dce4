"""Release groups (T3.4): dependencies by name, cross-stack readiness, the rollback hook."""

from __future__ import annotations

from typing import Any

import pytest

from helm_enterprise import ConfigError, Release, ReleaseGroup
from helm_enterprise.components.context import Platform
from helm_enterprise.components.group import stack_dependency_problem
from helm_enterprise.config.release import StackDependency
from tests.unit.pulumi_harness import run_program

LOCAL = {"path": "charts/hello"}
REL = "kubernetes:helm.sh/v3:Release"


def test_depends_on_by_name_waits_for_the_whole_release(platform: Platform) -> None:
    def program() -> object:
        group = ReleaseGroup()
        Release("db", {"chart": LOCAL, "namespace": "demo"}, group=group)
        Release("web", {"chart": LOCAL, "namespace": "demo", "depends_on": ["db"]}, group=group)
        return None

    run = run_program(program)
    db, web = (r for r in run.of_type(REL))
    assert (db.name, web.name) == ("db-release", "web-release")
    # Pulumi expands a dependency on the db component into its children: web's Helm release
    # waits for db's Helm release (and its health checks when declared).
    assert db.urn in web.dependencies


def test_unknown_or_later_dependency_names_the_field(platform: Platform) -> None:
    def program() -> object:
        group = ReleaseGroup("platform")
        Release("web", {"chart": LOCAL, "depends_on": ["db"]}, group=group)
        return None

    with pytest.raises(ConfigError) as err:
        run_program(program)
    assert err.value.path == "dependsOn[0]"
    assert "not a release of group 'platform' (declared so far: none yet)" in str(err.value)


def test_dependency_by_name_without_a_group_says_how(platform: Platform) -> None:
    with pytest.raises(ConfigError) as err:
        run_program(lambda: Release("web", {"chart": LOCAL, "depends_on": ["db"]}))
    assert err.value.path == "dependsOn"
    assert "belongs to no group" in str(err.value)
    assert "ResourceOptions(depends_on=[db])" in str(err.value)


def test_unknown_policy_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="one of: none, dependents, group"):
        ReleaseGroup(rollback="all")  # type: ignore[arg-type]


def test_group_policy_watches_every_step_that_can_fail(platform: Platform) -> None:
    groups: list[ReleaseGroup] = []

    def program() -> object:
        group = ReleaseGroup(rollback="group")
        groups.append(group)
        health = {"checks": [{"type": "http", "name": "web", "url": "http://web.invalid/"}]}
        Release("web", {"chart": LOCAL, "health": health}, group=group)
        return None

    run_program(program, preview=True)
    assert sorted(groups[0]._resources) == ["web-health", "web-release"]
    assert set(groups[0]._resources.values()) == {"web"}


def test_no_policy_adds_no_hook(platform: Platform) -> None:
    groups: list[ReleaseGroup] = []

    def program() -> object:
        groups.append(ReleaseGroup())
        Release("web", {"chart": LOCAL}, group=groups[0])
        return None

    run_program(program)
    assert groups[0]._resources == {} and groups[0]._hook is None


DEP = StackDependency(stack="org/platform/prod", release="db")


@pytest.mark.parametrize(
    ("releases", "problem"),
    [
        ({"db": {"status": "deployed", "revision": 3, "health": None}}, None),
        ({"db": {"status": "deployed", "revision": 3, "health": "healthy"}}, None),
        (
            {"db": {"status": "failed", "revision": 4}},
            "release db of stack org/platform/prod is failed (revision 4)",
        ),
        (
            {"db": {"status": "deployed", "revision": 4, "health": "unhealthy"}},
            "release db of stack org/platform/prod is deployed but its health checks say unhealthy",
        ),
        ({"cache": {}}, "stack org/platform/prod has no release 'db' (it has: cache)"),
        (None, "stack org/platform/prod exports no releases"),
    ],
)
def test_stack_dependency_readiness(releases: Any, problem: str | None) -> None:
    got = stack_dependency_problem(DEP, releases)
    assert got == problem if problem is None else got is not None and got.startswith(problem)


def test_a_chart_mode_link_does_not_cut_the_chain(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``dependents`` walks through a chart-mode release (no Helm history, so not rolled
    back itself) to the releases behind it."""
    from helm_enterprise.rollback import coordinated

    planned: list[list[str]] = []
    monkeypatch.setattr(
        coordinated, "coordinate", lambda plan, **_kw: planned.append([m.name for m in plan]) or []
    )
    groups: list[ReleaseGroup] = []

    def program() -> object:
        group = ReleaseGroup(rollback="dependents")
        groups.append(group)
        Release("a", {"chart": LOCAL, "namespace": "demo"}, group=group)
        Release(
            "b",
            {"chart": LOCAL, "namespace": "demo", "mode": "chart", "depends_on": ["a"]},
            group=group,
        )
        Release("c", {"chart": LOCAL, "namespace": "demo", "depends_on": ["b"]}, group=group)
        return None

    run_program(program, preview=True)
    groups[0].roll_back_for("c", "health checks failed")
    assert planned == [["c", "a"]]
