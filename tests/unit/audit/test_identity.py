"""Who acted, and which run it was: resolution order and the shared correlation id."""

from __future__ import annotations

import pytest

from helm_enterprise.audit import identity
from helm_enterprise.audit.identity import _ci_identity, _ci_run_id, resolve_actor


def test_order_explicit_env_configured_then_ambient(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_actor("sam@corp", "bot") == "sam@corp"
    monkeypatch.setenv("HELM_ENTERPRISE_ACTOR", "env@corp")
    assert resolve_actor(None, "bot") == "env@corp"
    monkeypatch.delenv("HELM_ENTERPRISE_ACTOR")
    assert resolve_actor(None, "bot") == "bot"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_ACTOR", "octo")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/infra")
    assert resolve_actor() == "github:octo@acme/infra"


def test_self_managed_backends_do_not_ask_pulumi_whoami() -> None:
    assert identity.pulumi_identity({"PULUMI_BACKEND_URL": "file:///state"}) is None
    assert identity.pulumi_identity({"PULUMI_BACKEND_URL": "s3://bucket"}) is None


@pytest.mark.parametrize(
    ("env", "who", "run"),
    [
        (
            {
                "GITLAB_CI": "1",
                "GITLAB_USER_LOGIN": "dana",
                "CI_PROJECT_PATH": "g/p",
                "CI_PIPELINE_ID": "77",
                "CI_JOB_ID": "9",
            },
            "gitlab:dana@g/p",
            "gitlab-77-9",
        ),
        (
            {"TF_BUILD": "True", "BUILD_REQUESTEDFOREMAIL": "a@corp", "BUILD_BUILDID": "5"},
            "azure:a@corp",
            "azure-5",
        ),
        (
            {"JENKINS_URL": "x", "BUILD_USER_ID": "jo", "BUILD_TAG": "jenkins-job-3"},
            "jenkins:jo",
            "jenkins-jenkins-job-3",
        ),
        (
            {
                "BUILDKITE": "true",
                "BUILDKITE_BUILD_CREATOR_EMAIL": "b@corp",
                "BUILDKITE_BUILD_ID": "u-1",
            },
            "buildkite:b@corp",
            "buildkite-u-1",
        ),
        (
            {
                "GITHUB_ACTIONS": "true",
                "GITHUB_RUN_ID": "42",
                "GITHUB_RUN_ATTEMPT": "2",
                "GITHUB_ACTOR": "o",
                "GITHUB_REPOSITORY": "a/b",
            },
            "github:o@a/b",
            "github-42-2",
        ),
        ({}, None, None),
    ],
)
def test_ci_identities_and_run_ids(env: dict[str, str], who: str | None, run: str | None) -> None:
    assert _ci_identity(env) == who
    assert _ci_run_id(env) == run


def test_the_correlation_id_is_overridable_and_stable(monkeypatch: pytest.MonkeyPatch) -> None:
    identity.run_id.cache_clear()
    monkeypatch.setenv("HELM_ENTERPRISE_CORRELATION_ID", "change-1234")
    try:
        assert identity.run_id() == "change-1234"
        monkeypatch.setenv("HELM_ENTERPRISE_CORRELATION_ID", "other")
        assert identity.run_id() == "change-1234"  # one id per process
    finally:
        identity.run_id.cache_clear()
