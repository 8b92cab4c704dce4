"""GET a Service through the Kubernetes API server's service proxy.

``/api/v1/namespaces/<ns>/services/<name>:<port>/proxy/<path>``: the API server picks a
ready endpoint of the Service and forwards the request to it. So the caller needs nothing
but API access with its own kubeconfig — no kube-proxy, no route to pod IPs, no port
forward — it works from any machine that reaches the API server, and it sees exactly the
pods the Service selects (a pod that is not Ready is not an endpoint).

The API server also answers some of these requests itself, with a ``Status`` object: no
ready endpoint (503 ``no endpoints available for service``), no such Service (404), the
pod could not be reached (503 ``error trying to reach service``), the caller may not use
the proxy (401/403). :func:`classify` tells those apart from the Service's own answer
(pure, table-tested); :class:`ServiceProxyClient` is the real client behind the
:class:`ServiceProxy` seam that health checks use.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import time
from typing import Any, Protocol

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from helm_enterprise.errors import ClusterUnavailableError, truncate
from helm_enterprise.kube.client import NO_ANSWER, ClusterAccess, api_error, hide_values


def service_proxy_path(namespace: str, service: str, port: str | int | None, path: str) -> str:
    """The API path that proxies ``path`` (``/healthz``, ``/status?x=1``) to ``port`` (a
    port name or number of the Service; ``None``: the API server's choice) of
    ``namespace/service``."""
    target = service if port is None or port == "" else f"{service}:{port}"
    rest = path if path.startswith("/") else f"/{path}"
    return f"/api/v1/namespaces/{namespace}/services/{target}/proxy{rest}"


class Answered(enum.StrEnum):
    """Who answered a service-proxy GET, and what that means."""

    SERVICE = "service"  # a pod behind the Service: its status and body
    NO_ENDPOINTS = "no-endpoints"  # no ready pod behind the Service
    NOT_FOUND = "not-found"  # the Service (or its port) does not exist
    UNREACHABLE = "unreachable"  # the API server could not reach the chosen pod
    DENIED = "denied"  # the caller may not use the proxy (401/403)


def _status_object(status: int, body: bytes) -> dict[str, Any] | None:
    """The API server's ``Status`` object, when ``body`` is one for ``status``."""
    if not body.startswith(b"{") or len(body) > 65536:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if (
        isinstance(data, dict)
        and data.get("kind") == "Status"
        and data.get("apiVersion") == "v1"
        and data.get("code") == status
    ):
        return data
    return None


def classify(status: int, body: bytes) -> tuple[Answered, str]:
    """Who answered (the Service, or the API server about the Service) and, for the API
    server, its message (values hidden, truncated)."""
    obj = _status_object(status, body) if status in (401, 403, 404, 503) else None
    if obj is None:
        return Answered.SERVICE, ""
    message = truncate(hide_values(str(obj.get("message", ""))), 200)
    details = obj.get("details")
    kind = details.get("kind") if isinstance(details, dict) else None
    if status in (401, 403):
        return Answered.DENIED, message
    if status == 404 and obj.get("reason") == "NotFound" and kind == "services":
        return Answered.NOT_FOUND, message
    if status == 503 and "no endpoints available" in message:
        return Answered.NO_ENDPOINTS, message
    if status == 503 and obj.get("reason") == "ServiceUnavailable":
        return Answered.UNREACHABLE, message
    return Answered.SERVICE, ""


@dataclasses.dataclass(frozen=True)
class ServiceAnswer:
    """One GET through the service proxy. ``port`` is the Service port used (its first
    port when none was asked for; ``""`` when the Service was not found); ``seconds`` the
    proxied request's round trip (API server hop included); ``message`` the API server's
    own message when it, not the Service, answered."""

    answered: Answered
    status: int
    text: str
    port: str
    seconds: float
    message: str = ""


class ServiceProxy(Protocol):
    """GET ``path`` of ``namespace/service`` on ``port`` (None: its first port).

    Raises :class:`~helm_enterprise.errors.HelmEnterpriseError` when the API server cannot
    be used at all (no kubeconfig, no answer, credentials refused)."""

    def __call__(
        self, namespace: str, service: str, port: str | int | None, path: str, timeout: float
    ) -> ServiceAnswer: ...


@dataclasses.dataclass(frozen=True)
class ServiceProxyClient:
    """The real :class:`ServiceProxy`: the official client with ``access``'s kubeconfig."""

    access: ClusterAccess

    def __call__(
        self, namespace: str, service: str, port: str | int | None, path: str, timeout: float
    ) -> ServiceAnswer:
        api = self.access.api_client()
        if api is None:
            raise ClusterUnavailableError(
                f"no kubeconfig at {self.access.describe()} to reach service {namespace}/{service}"
            )
        doing = f"GET {path} of service {namespace}/{service} through the API server"
        try:
            if port is None:
                found = _first_port(api, namespace, service, timeout)
                if isinstance(found, ServiceAnswer):
                    return found
                port = found
            return _get(api, service_proxy_path(namespace, service, port, path), str(port), timeout)
        except ApiException as err:
            if not err.status:  # the client's way of saying TLS to the API server failed
                raise ClusterUnavailableError(
                    f"cannot {doing}: {truncate(str(err.reason or 'TLS failed'))}"
                ) from err
            raise api_error(err, api, doing) from err
        except NO_ANSWER as err:
            raise api_error(err, api, doing) from err
        finally:
            api.close()


def _first_port(api: Any, namespace: str, service: str, timeout: float) -> str | ServiceAnswer:
    """The Service's first port (its name, else its number), or the answer saying why not."""
    try:
        svc = k8s.CoreV1Api(api).read_namespaced_service(
            service, namespace, _request_timeout=timeout
        )
    except ApiException as err:
        if err.status == 404:
            return ServiceAnswer(
                Answered.NOT_FOUND, 404, "", "", 0.0, f'services "{service}" not found'
            )
        raise
    ports = (svc.spec.ports if svc.spec else None) or []
    if not ports:
        return ServiceAnswer(Answered.NOT_FOUND, 404, "", "", 0.0, "the Service has no ports")
    return str(ports[0].name or ports[0].port)


def _get(api: Any, resource_path: str, port: str, timeout: float) -> ServiceAnswer:
    method, url, headers, _body, _post = api.param_serialize(
        "GET", resource_path, header_params={"Accept": "*/*"}, auth_settings=["BearerToken"]
    )
    start = time.perf_counter()
    resp = api.call_api(method, url, headers, _request_timeout=timeout)
    body = resp.read() or b""
    seconds = time.perf_counter() - start
    status = int(resp.status)
    answered, message = classify(status, body)
    if answered is Answered.DENIED:  # the caller classifies it (identity, permission)
        raise ApiException(status=status, reason=resp.reason, body=body.decode(errors="replace"))
    return ServiceAnswer(answered, status, body.decode(errors="replace"), port, seconds, message)


__all__ = [
    "Answered",
    "ServiceAnswer",
    "ServiceProxy",
    "ServiceProxyClient",
    "classify",
    "service_proxy_path",
]
