"""The service proxy: the API path, and who answered (the Service or the API server)."""

from __future__ import annotations

import pytest

from helm_enterprise.errors import ClusterUnavailableError
from helm_enterprise.kube.client import ClusterAccess
from helm_enterprise.kube.proxy import Answered, ServiceProxyClient, classify, service_proxy_path
from tests.unit.kube.statuses import status_body


@pytest.mark.parametrize(
    ("port", "path", "expected"),
    [
        ("http", "/healthz", "/api/v1/namespaces/shop/services/web:http/proxy/healthz"),
        (8080, "/", "/api/v1/namespaces/shop/services/web:8080/proxy/"),
        ("http", "/status?x=1", "/api/v1/namespaces/shop/services/web:http/proxy/status?x=1"),
        (None, "/readyz", "/api/v1/namespaces/shop/services/web/proxy/readyz"),
        ("http", "env", "/api/v1/namespaces/shop/services/web:http/proxy/env"),
    ],
)
def test_service_proxy_path(port: str | int | None, path: str, expected: str) -> None:
    assert service_proxy_path("shop", "web", port, path) == expected


def status(code: int, reason: str, message: str, **details: str) -> bytes:
    return status_body(code, reason, message, **details).encode()


@pytest.mark.parametrize(
    ("code", "body", "answered", "message"),
    [
        (200, b"ok", Answered.SERVICE, ""),
        (500, b"boom", Answered.SERVICE, ""),
        # The Service's own 503 (podinfo's /readyz while it is unready): not the proxy's.
        (503, b'{"status": "unready"}', Answered.SERVICE, ""),
        (
            503,
            status(503, "ServiceUnavailable", 'no endpoints available for service "web"'),
            Answered.NO_ENDPOINTS,
            'no endpoints available for service "web"',
        ),
        (
            404,
            status(404, "NotFound", 'services "web" not found', name="web", kind="services"),
            Answered.NOT_FOUND,
            'services "web" not found',
        ),
        # A 404 from the app that happens to be a Status of something else: the app's.
        (404, status(404, "NotFound", 'x "y" not found', kind="x"), Answered.SERVICE, ""),
        (
            503,
            status(
                503,
                "ServiceUnavailable",
                "error trying to reach service: dial tcp 10.1.0.5:8080: connect: refused",
            ),
            Answered.UNREACHABLE,
            "error trying to reach service: dial tcp 10.1.0.5:8080: connect: refused",
        ),
        (
            403,
            status(403, "Forbidden", 'services "web" is forbidden: User "bob" cannot get ...'),
            Answered.DENIED,
            'services "web" is forbidden: User "bob" cannot get ...',
        ),
        # A Status whose code is not the response's: a body the app returned.
        (503, status(404, "NotFound", "no endpoints available"), Answered.SERVICE, ""),
    ],
)
def test_classify(code: int, body: bytes, answered: Answered, message: str) -> None:
    assert classify(code, body) == (answered, message)


def test_no_kubeconfig_is_a_clear_error(tmp_path) -> None:
    proxy = ServiceProxyClient(ClusterAccess(str(tmp_path / "missing.yaml")))
    with pytest.raises(
        ClusterUnavailableError, match=r"no kubeconfig at .* to reach service shop/web"
    ):
        proxy("shop", "web", "http", "/", 1.0)
