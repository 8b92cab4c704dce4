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
            "cycle a -> b -> a",
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
