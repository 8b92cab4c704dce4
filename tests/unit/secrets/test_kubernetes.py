"""KubernetesSecretBackend's error mapping, with a fake only at the kubernetes client
boundary (reads from a real API server are covered by the e2e tier)."""

from __future__ import annotations

import base64
from typing import Any

import kubernetes.client
import pytest
from kubernetes.client.exceptions import ApiException

from helm_enterprise import ClusterAccess, KubernetesSecretBackend, SecretBackend
from helm_enterprise.errors import SecretBackendError


class _Api:
    closed = False

    def close(self) -> None:
        _Api.closed = True


def _core(result: Any) -> type:
    class FakeCoreV1:
        def __init__(self, api: object) -> None:
            pass

        def read_namespaced_secret(self, name: str, namespace: str, **_: object) -> Any:
            if isinstance(result, Exception):
                raise result
            return result

    return FakeCoreV1


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> KubernetesSecretBackend:
    monkeypatch.setattr(ClusterAccess, "reachable_client", lambda self, timeout=3.0: _Api())
    return KubernetesSecretBackend(ClusterAccess(kubeconfig="/k/config", context="mgmt"))


def test_reads_and_decodes_every_key(
    backend: KubernetesSecretBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(backend, SecretBackend)
    secret = kubernetes.client.V1Secret(data={"token": base64.b64encode(b"t0k").decode()})
    monkeypatch.setattr(kubernetes.client, "CoreV1Api", _core(secret))
    _Api.closed = False
    assert backend.read("ci/creds").data == {"token": "t0k"}
    assert _Api.closed


def test_missing_secret_names_it(
    backend: KubernetesSecretBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kubernetes.client, "CoreV1Api", _core(ApiException(status=404)))
    with pytest.raises(SecretBackendError) as err:
        backend.read("ci/creds")
    assert str(err.value) == "Kubernetes at /k/config (context mgmt) has no Secret ci/creds"
    assert err.value.reference == "k8s:ci/creds"


def test_unreachable_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ClusterAccess, "reachable_client", lambda self, timeout=3.0: None)
    backend = KubernetesSecretBackend(ClusterAccess(kubeconfig="/k/config"))
    with pytest.raises(SecretBackendError, match=r"unreachable \(Secret default/creds\)"):
        backend.read("creds")
