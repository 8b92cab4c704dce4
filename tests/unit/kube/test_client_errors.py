"""The one classifier of the ``kubernetes`` client's errors (kube/client.py ``api_error``):
unauthorised (401/403) is never "unreachable", and names who we were and what is missing.

The API client here is the real one, built from a real kubeconfig with a real client
certificate; only the server's answer is an ``ApiException`` shaped as kube-apiserver
shapes it (a Status body; forbiddenMessage in k8s.io/apiserver).
"""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import urllib3
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from helm_enterprise import ownership
from helm_enterprise.errors import (
    ClusterAccessDeniedError,
    ClusterUnavailableError,
    HelmEnterpriseError,
)
from helm_enterprise.kube import helm_storage
from helm_enterprise.kube.client import ClusterAccess, api_error, client_identity
from helm_enterprise.tenancy.live import read_namespace, read_namespaces
from tests.unit.kube.statuses import status_body

TOKEN = "s3cr3t-bearer-token-value"  # a canary that must never be printed


def kubeconfig(tmp_path: Path, *, cn: str = "alice", orgs: tuple[str, ...] = ("dev",)) -> Path:
    """A kubeconfig authenticating with a client certificate (CN=cn, O=orgs) against a
    port nothing listens on."""
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    names += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(names))
        .issuer_name(x509.Name(names))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    pem_cert = cert.public_bytes(serialization.Encoding.PEM)
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [
                    {
                        "name": "u",
                        "user": {
                            "client-certificate-data": base64.b64encode(pem_cert).decode(),
                            "client-key-data": base64.b64encode(pem_key).decode(),
                        },
                    }
                ],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    return path


@pytest.fixture
def api(tmp_path: Path) -> Any:
    client = ClusterAccess(str(kubeconfig(tmp_path))).api_client()
    assert client is not None
    yield client
    client.close()


def answer(status: int, message: str, reason: str = "") -> ApiException:
    """An ApiException as the client raises it for a Status answer."""
    reason = reason or {401: "Unauthorized", 403: "Forbidden"}.get(status, "Error")
    err = ApiException(status=status, reason=reason)
    err.headers = {"Authorization": f"Bearer {TOKEN}", "Audit-Id": "x"}
    err.body = status_body(status, reason, message)
    return err


def test_identity_is_the_client_certificates_cn(api: Any) -> None:
    assert client_identity(api) == 'user "alice" (groups dev)'


@pytest.mark.parametrize(
    ("message", "verb", "resource", "namespace", "line"),
    [
        (
            'secrets is forbidden: User "bob" cannot list resource "secrets" in API group "" '
            'in the namespace "shop"',
            "list",
            "secrets",
            "shop",
            'user "bob" may not list secrets in namespace "shop" (403 Forbidden), needed to '
            "list Helm's release records of shop/web; grant it that permission (a Role and "
            "binding) or use a kubeconfig whose identity has it",
        ),
        (
            'configmaps "helm-enterprise-owner-web" is forbidden: User "system:serviceaccount:'
            'ci:deployer" cannot get resource "configmaps" in API group "" in the namespace '
            '"shop": RBAC: role.rbac.authorization.k8s.io "reader" not found',
            "get",
            "configmaps",
            "shop",
            'user "system:serviceaccount:ci:deployer" may not get configmaps in namespace "shop"',
        ),
        (
            'namespaces "shop" is forbidden: User "bob" cannot get resource "namespaces" in '
            'API group "" at the cluster scope',
            "get",
            "namespaces",
            "",
            'user "bob" may not get namespaces at cluster scope (403 Forbidden)',
        ),
        (
            'deployments.apps "web" is forbidden: User "bob" cannot get resource "deployments" '
            'in API group "apps" in the namespace "shop"',
            "get",
            "deployments.apps",
            "shop",
            'user "bob" may not get deployments.apps in namespace "shop"',
        ),
        (
            'forbidden: User "bob" cannot get path "/readyz"',
            "get",
            "path /readyz",
            "",
            'user "bob" may not get path /readyz (403 Forbidden)',
        ),
    ],
)
def test_403_names_the_user_and_the_missing_permission(
    api: Any, message: str, verb: str, resource: str, namespace: str, line: str
) -> None:
    err = api_error(answer(403, message), api, "list Helm's release records of shop/web")
    assert isinstance(err, ClusterAccessDeniedError)
    assert (err.status, err.verb, err.resource, err.namespace) == (403, verb, resource, namespace)
    text = str(err)
    assert text.startswith("cluster https://127.0.0.1:1: user ")
    assert line in text
    assert "\n" not in text and TOKEN not in text and "Audit-Id" not in text


def test_401_names_the_kubeconfig_identity(api: Any) -> None:
    err = api_error(answer(401, "Unauthorized"), api, "read the server version")
    assert isinstance(err, ClusterAccessDeniedError)
    assert err.identity == 'user "alice" (groups dev)'
    assert str(err) == (
        'cluster https://127.0.0.1:1 rejected the credentials of user "alice" (groups dev) '
        "(401 Unauthorized) while trying to read the server version: renew them (an expired "
        "certificate or token?) or use another kubeconfig"
    )


def test_a_403_of_another_shape_keeps_the_servers_words_with_values_hidden(api: Any) -> None:
    message = f'pods "x" is forbidden: spec.env[0].value: Invalid value: "{TOKEN}": admission'
    err = api_error(answer(403, message), api, "read pods")
    assert isinstance(err, ClusterAccessDeniedError) and err.identity.startswith('user "alice"')
    assert TOKEN not in str(err)
    assert "Invalid value: [hidden]: admission" in str(err)


def test_other_statuses_and_no_answer_are_not_denials(api: Any) -> None:
    err = api_error(answer(500, "etcdserver: request timed out"), api, "list secrets")
    assert type(err) is HelmEnterpriseError
    assert str(err) == "cannot list secrets: HTTP 500 etcdserver: request timed out"
    gone = api_error(urllib3.exceptions.MaxRetryError(None, "/version"), api, "list secrets")
    assert type(gone) is ClusterUnavailableError
    assert "did not answer while trying to list secrets (MaxRetryError)" in str(gone)


def test_a_cluster_that_does_not_answer_is_unreachable_not_denied(tmp_path: Path) -> None:
    # A real connection to a port nothing listens on.
    assert ClusterAccess(str(kubeconfig(tmp_path))).reachable_client(timeout=1.0) is None


def test_a_401_on_version_is_raised_not_taken_for_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: Any, **_: Any) -> None:
        raise answer(401, "Unauthorized")

    monkeypatch.setattr(k8s.VersionApi, "get_code", refuse)
    with pytest.raises(ClusterAccessDeniedError, match='credentials of user "alice"'):
        ClusterAccess(str(kubeconfig(tmp_path))).reachable_client()


def _forbid(monkeypatch: pytest.MonkeyPatch, method: str, message: str) -> None:
    def refuse(self: Any, *args: Any, **kwargs: Any) -> None:
        raise answer(403, message)

    monkeypatch.setattr(k8s.CoreV1Api, method, refuse)


def test_ownership_reads_raise_denials_instead_of_skipping(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _forbid(
        monkeypatch,
        "list_namespaced_secret",
        'secrets is forbidden: User "bob" cannot list resource "secrets" in API group "" in '
        'the namespace "shop"',
    )
    with pytest.raises(ClusterAccessDeniedError, match="needed to list Helm's release records"):
        ownership.check_release(api, "shop", "web", "p/s/web", adopt=False)

    _forbid(
        monkeypatch,
        "read_namespaced_config_map",
        'configmaps "helm-enterprise-owner-web" is forbidden: User "bob" cannot get resource '
        '"configmaps" in API group "" in the namespace "shop"',
    )
    monkeypatch.setattr(helm_storage, "history", lambda api, ns, name: [])
    with pytest.raises(ClusterAccessDeniedError) as err:
        ownership.check_release(api, "shop", "web", "p/s/web", adopt=False)
    assert "read the ownership record ConfigMap shop/helm-enterprise-owner-web" in str(err.value)

    _forbid(
        monkeypatch,
        "read_namespace",
        'namespaces "shop" is forbidden: User "bob" cannot get resource "namespaces" in API '
        'group "" at the cluster scope',
    )
    with pytest.raises(ClusterAccessDeniedError, match="may not get namespaces at cluster"):
        read_namespace(api, "shop")

    _forbid(
        monkeypatch,
        "list_namespace",
        'namespaces is forbidden: User "bob" cannot list resource "namespaces" in API group '
        '"" at the cluster scope',
    )
    with pytest.raises(ClusterAccessDeniedError, match="needed to list the namespaces of"):
        read_namespaces(api, "p", "s", "team", ["shop"])


def test_a_404_is_still_absent(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(self: Any, *args: Any, **kwargs: Any) -> None:
        raise answer(404, 'configmaps "x" not found', "Not Found")

    monkeypatch.setattr(k8s.CoreV1Api, "read_namespaced_config_map", missing)
    assert ownership.read_record(api, "shop", "web") is None
