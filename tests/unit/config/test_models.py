"""Config validation: every user mistake is one ConfigError naming the field."""

from __future__ import annotations

import pytest

from helm_enterprise.config import (
    ReleaseConfig,
    StackConfig,
    TimeoutConfig,
    VaultRef,
    effective_timeouts,
    parse_duration,
    validate_model,
)
from helm_enterprise.errors import ConfigError

CHART = {"path": "charts/hello"}


def rel(**kw: object) -> dict[str, object]:
    return {"name": "web", "chart": CHART, **kw}


TOKEN_REF = {"token": "k8s:ci/git#token"}


def git_chart(**git: object) -> dict[str, object]:
    return {"git": {"url": "git+https://git.example.com/org/charts.git", **git}}


@pytest.mark.parametrize(
    ("data", "path", "fragment"),
    [
        ({"releases": [rel(name="Web_1")]}, "releases[0].name", "not a valid Helm release name"),
        ({"releases": [rel(namespce="x")]}, "releases[0].namespce", "did you mean 'namespace'"),
        ({"releases": [rel(chart={})]}, "releases[0].chart", "exactly one chart source"),
        (
            {"releases": [rel(chart={"path": "a", "name": "oci://r/x"})]},
            "releases[0].chart",
            "path and name (oci://)",
        ),
        (
            {"releases": [rel(chart={"name": "x", "repository": "corp"})]},
            "releases[0].chart.repository",
            "unknown repository 'corp'",
        ),
        (
            {"releases": [rel(chart={"name": "x", "repository": {"url": "ftp://h"}})]},
            "releases[0].chart.repository.url",
            "not a chart repository URL",
        ),
        (
            {
                "releases": [
                    rel(
                        chart={
                            "name": "x",
                            "repository": {
                                "url": "https://h",
                                "auth": [
                                    {"method": "basic", "username": "u", "password": "hunter2"}
                                ],
                            },
                        }
                    )
                ]
            },
            "releases[0].chart.repository.auth[0].basic.password",
            "must not be literals",
        ),
        (
            {
                "releases": [
                    rel(
                        chart={
                            "name": "x",
                            "repository": {
                                "url": "https://h",
                                "auth": [
                                    {"method": "basic", "username": "u", "password": "vault:s/a#p"},
                                    {"method": "bearer", "token": "vault:s/a#t"},
                                ],
                            },
                        }
                    )
                ]
            },
            "releases[0].chart.repository.auth",
            "choose one",
        ),
        (
            {
                "releases": [
                    rel(
                        chart={
                            "name": "x",
                            "repository": {
                                "url": "oci://h/c",
                                "auth": [{"method": "bearer", "token": "vault:s/a#t"}],
                            },
                        }
                    )
                ]
            },
            "releases[0].chart.repository",
            "not supported for oci",
        ),
        (
            {"releases": [rel(timeouts={"readiness": "3h"})]},
            "releases[0].timeouts.readiness",
            "outside 30s..2h",
        ),
        (
            {"releases": [rel(timeouts={"cleanup": "soon"})]},
            "releases[0].timeouts.cleanup",
            "not a duration",
        ),
        (
            {"releases": [rel(timeouts={"upgrade": {"deployStart": 1}})]},
            "releases[0].timeouts.upgrade.deployStart",
            "outside 10s..1h",
        ),
        (
            {"releases": [rel(rollback={"historyLimit": 0})]},
            "releases[0].rollback.historyLimit",
            "greater than or equal to 1",
        ),
        (
            {"releases": [rel(secretValues={"db password": "vault:s/a#p"})]},
            "releases[0].secretValues",
            "not a values path",
        ),
        (
            {"releases": [rel(secretValues={"db.password": "literal"})]},
            "releases[0].secretValues.db.password",
            "must not be literals",
        ),
        ({"releases": [rel(), rel()]}, "releases[1]", "already declared at releases[0]"),
        ({"releases": [rel(dependsOn=["db"])]}, "releases[0].dependsOn", "no release named 'db'"),
        (
            {"releases": [rel(name="a", dependsOn=["b"]), rel(name="b", dependsOn=["a"])]},
            "releases",
            "cycle a → b → a (remove one of these dependsOn)",
        ),
        (
            {"vault": {"auth": {"method": "approle", "roleId": "r", "secretId": "s3"}}},
            "vault.auth.approle.secretId",
            "must not be a literal",
        ),
        ({"vault": {"address": "vault:8200"}}, "vault.address", "not a Vault address"),
        (
            {
                "releases": [
                    rel(chart={"name": "x", "repository": {"url": "https://h"}}, mode="helm")
                ]
            },
            "releases[0].mode",
            "'release' or 'chart'",
        ),
        (
            {
                "releases": [
                    rel(secretValues={"a": {"vault": {"path": "secret/data/app", "key": "k"}}})
                ]
            },
            "releases[0].secretValues.a.vault.path",
            "without '/data/'",
        ),
        # Git chart sources (T2.1)
        (
            {"releases": [rel(chart=git_chart(url="https://ci:tok@h/r.git"))]},
            "releases[0].chart.git.url",
            "must not be part of the URL",
        ),
        (
            {"releases": [rel(chart=git_chart(url="git@h:org/r.git"))]},
            "releases[0].chart.git.url",
            "write it as git+ssh://git@h/org/r.git",
        ),
        (
            {"releases": [rel(chart=git_chart(path="../../etc"))]},
            "releases[0].chart.git.path",
            "leaves the repository",
        ),
        (
            {"releases": [rel(chart=git_chart(path="/etc"))]},
            "releases[0].chart.git.path",
            "absolute path",
        ),
        (
            {"releases": [rel(chart=git_chart(ref="--upload-pack=x"))]},
            "releases[0].chart.git.ref",
            "not a Git ref",
        ),
        (
            {"releases": [rel(chart=git_chart(auth={"token": "ghp_literal"}))]},
            "releases[0].chart.git.auth.token",
            "must not be literals",
        ),
        (
            {"releases": [rel(chart=git_chart(auth=[{"method": "bearer", "token": "k8s:a/b#c"}]))]},
            "releases[0].chart.git.auth",
            "valid dictionary",
        ),
        (
            {
                "releases": [
                    rel(chart=git_chart(auth={"token": "k8s:a/b#c", "sshKey": "k8s:a/b#d"}))
                ]
            },
            "releases[0].chart.git.auth",
            "exactly one of token (git+https) or sshKey",
        ),
        (
            {"releases": [rel(chart=git_chart(url="git+ssh://git@h/r.git", auth=TOKEN_REF))]},
            "releases[0].chart.git.auth.token",
            "for git+ssh:// give sshKey",
        ),
        (
            {
                "releases": [
                    rel(chart=git_chart(auth={"token": "k8s:a/b#c", "knownHosts": "h t k"}))
                ]
            },
            "releases[0].chart.git.auth.knownHosts",
            "only applies to sshKey auth",
        ),
        (
            {
                "releases": [
                    rel(
                        chart=git_chart(
                            url="git+ssh://git@h/r.git",
                            auth={"sshKey": "k8s:a/b#c", "knownHosts": "not-a-line"},
                        )
                    )
                ]
            },
            "releases[0].chart.git.auth.knownHosts",
            "expected known_hosts lines",
        ),
        (
            {"releases": [rel(chart=git_chart(url="git+ssh://git@h/r.git", caFile="/ca.pem"))]},
            "releases[0].chart.git.caFile",
            "only applies to git+https://",
        ),
        (
            {"releases": [rel(chart=git_chart(depth=0))]},
            "releases[0].chart.git.depth",
            "greater than or equal to 1",
        ),
        (
            {"releases": [rel(chart={**git_chart(), "version": "1.0.0"})]},
            "releases[0].chart",
            "version comes from its Chart.yaml",
        ),
    ],
)
def test_errors_name_the_field(data: dict[str, object], path: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate_model(StackConfig, data)
    assert err.value.path == path, str(err.value)
    assert fragment in str(err.value)


def test_both_spellings_and_defaults() -> None:
    a = validate_model(
        ReleaseConfig, rel(createNamespace=True, secretValues={"x": "vault:secret/a#b@3"})
    )
    b = validate_model(
        ReleaseConfig,
        rel(
            create_namespace=True,
            secret_values={"x": {"vault": {"path": "secret/a", "key": "b", "version": 3}}},
        ),
    )
    assert a == b
    assert a.namespace == "default" and a.mode == "release" and a.rollback.atomic
    ref = a.secret_values["x"]
    assert isinstance(ref, VaultRef) and ref.version == 3 and ref.mount_point == "secret"


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("5m", 300), ("1h30m", 5400), (45, 45), ("120", 120)]
)
def test_durations(text: object, seconds: int) -> None:
    assert parse_duration(text) == seconds


def test_timeout_precedence_operation_release_global() -> None:
    glob = TimeoutConfig(readiness=900, cleanup=60, upgrade={"readiness": 1000})  # type: ignore[arg-type]
    release = TimeoutConfig(readiness=1200, upgrade={"cleanup": 30})  # type: ignore[arg-type]
    install = effective_timeouts("install", glob, release)
    upgrade = effective_timeouts("upgrade", glob, release)
    assert (install.deploy_start, install.readiness, install.cleanup) == (300, 1200, 60)
    # Operation overrides beat general values of every layer; the release's beat global.
    assert (upgrade.readiness, upgrade.cleanup) == (1000, 30)
    assert effective_timeouts("uninstall").cleanup == 300


def test_git_source_spellings_and_defaults() -> None:
    a = validate_model(
        ReleaseConfig,
        rel(
            chart={
                "git": {
                    "url": "git+ssh://git@h/org/r.git",
                    "ref": "v1.2.0",
                    "path": "./charts//web/",
                    "auth": {"sshKey": "vault:secret/ci/git#key", "knownHosts": "h ssh-ed25519 K"},
                }
            }
        ),
    )
    git = a.chart.git
    assert git is not None
    assert (git.path, git.depth, git.sparse, git.transport) == ("charts/web", 1, True, "ssh")
    assert git.auth is not None and git.auth.method == "sshKey"
    b = validate_model(
        ReleaseConfig,
        rel(chart={"git": {"url": "https://h/org/r.git", "depth": None, "sparse": False}}),
    )
    assert b.chart.git is not None and b.chart.git.ref == "main" and b.chart.git.depth is None
