"""Private chart repositories (T1.1) through the real engine: every auth method, and a
wrong credential failing with a message that names the repository and the method."""

from __future__ import annotations

import pytest

from helm_enterprise.sandbox.chartrepo import ChartRepository
from tests.e2e.conftest import Env, tls_client_pems


def release(namespace: str, repository: str, **chart: object) -> dict[str, object]:
    return {
        "name": "hello",
        "namespace": namespace,
        "createNamespace": True,
        "chart": {"name": "hello", "version": "0.2.0", "repository": repository, **chart},
        "values": {"replicaCount": 1},
    }


def repositories(charts: ChartRepository) -> dict[str, object]:
    ca = str(charts.ca_file)
    secret = {"config": "helm-enterprise:repoPassword"}
    return {
        "basic": {
            "url": charts.url("basic"),
            "auth": [{"method": "basic", "username": charts.username, "password": secret}],
        },
        "bearer": {
            "url": charts.url("bearer"),
            "auth": [{"method": "bearer", "token": {"config": "helm-enterprise:repoToken"}}],
        },
        "mtls": {
            "url": charts.url("mtls"),
            "caFile": ca,
            "auth": [
                {
                    "method": "tls",
                    "cert": {"config": "helm-enterprise:tlsCert"},
                    "key": {"config": "helm-enterprise:tlsKey"},
                }
            ],
        },
        "mtls-basic": {
            "url": charts.url("tls-basic"),
            "caFile": ca,
            "auth": [
                {
                    "method": "tls",
                    "cert": {"config": "helm-enterprise:tlsCert"},
                    "key": {"config": "helm-enterprise:tlsKey"},
                },
                {"method": "basic", "username": charts.username, "password": secret},
            ],
        },
        "oci": {
            "url": charts.url("oci"),
            "caFile": ca,
            "auth": [{"method": "basic", "username": charts.username, "password": secret}],
        },
    }


def configure(
    p, charts: ChartRepository, password: str | None = None, token: str | None = None
) -> None:
    cert, key = tls_client_pems()
    p.config("helm-enterprise:repositories", repositories(charts))
    p.config("helm-enterprise:repoPassword", password or charts.password, secret=True)
    p.config("helm-enterprise:repoToken", token or charts.token, secret=True)
    p.config("helm-enterprise:tlsCert", cert, secret=True)
    p.config("helm-enterprise:tlsKey", key, secret=True)


@pytest.mark.parametrize("method", ["basic", "bearer", "mtls", "mtls-basic", "oci"])
def test_pull_with_each_auth_method(
    sb: Env, charts: ChartRepository, project, namespace: str, method: str
) -> None:
    p = project()
    configure(p, charts)
    p.releases([release(namespace, method)])
    out = p.up().outputs["releases"].value["hello"]
    assert out["status"] == "deployed"
    assert out["version"] == "0.2.0"
    assert (
        sb.kubectl_json("-n", namespace, "get", "deployment", "hello")["status"]["readyReplicas"]
        == 1
    )
    # Credentials never reach the state or the console in clear text.
    exported = p.export()
    _cert, key = tls_client_pems()
    for value in (charts.password, charts.token, key.strip().splitlines()[1]):
        assert value not in exported
        assert value not in p.text


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("basic", "rejected the credentials (auth: basic"),
        ("bearer", "rejected the credentials (auth: bearer"),
    ],
)
def test_wrong_credential_names_repo_and_method(
    charts: ChartRepository, project, namespace: str, method: str, expected: str
) -> None:
    p = project()
    configure(p, charts, password="wrong-password-1", token="wrong-token-1")
    p.releases([release(namespace, method)])
    # The dry-run schema check fetches the chart with the same credentials, so the
    # preview already fails, before anything is applied.
    error = p.preview_fails()
    assert f"repository {charts.url(method)} {expected}" in error
    assert "Traceback" not in error
    assert "wrong-password-1" not in error and "wrong-token-1" not in error
