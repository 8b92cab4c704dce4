"""Health checks: decide (pure, table), HTTP measurement against a local endpoint, retries,
and HTTP checks of a Service (the model, and the verdict on what the proxy answered)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helm_enterprise.config import validate_model
from helm_enterprise.config.health import HealthPolicy, HttpCheck
from helm_enterprise.errors import ClusterAccessDeniedError, ConfigError
from helm_enterprise.health import HealthState, Measurement, decide, evaluate, measure
from helm_enterprise.kube.proxy import Answered, ServiceAnswer


def m(ok: bool) -> Measurement:
    return Measurement("c", "http", ok, None, "")


@pytest.mark.parametrize(
    ("oks", "state"),
    [
        ([], HealthState.UNHEALTHY),
        ([True], HealthState.HEALTHY),
        ([True, True], HealthState.HEALTHY),
        ([True, False], HealthState.UNHEALTHY),
        ([False], HealthState.UNHEALTHY),
    ],
)
def test_decide(oks: list[bool], state: HealthState) -> None:
    assert decide([m(o) for o in oks]) is state


@pytest.fixture
def endpoint() -> Iterator[dict[str, object]]:
    """A local HTTP endpoint whose answers the test sets (the thing being checked)."""
    state: dict[str, object] = {"status": 200, "body": b"ok", "calls": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state["calls"] = int(state["calls"]) + 1  # type: ignore[call-overload]
            body = state["body"]
            assert isinstance(body, bytes)
            self.send_response(int(state["status"]))  # type: ignore[call-overload]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/healthz"
    yield state
    server.shutdown()
    server.server_close()


def test_http_measurement(endpoint: dict[str, object]) -> None:
    check = HttpCheck(name="web", url=str(endpoint["url"]), body_contains="ok")
    good = measure(check, "ns")
    assert good.ok and good.value is not None and "status 200" in good.detail
    endpoint["status"], endpoint["body"] = 503, b"secret-body-content"
    bad = measure(check, "ns")
    assert not bad.ok
    assert "status 503, expected [200]" in bad.detail and "body lacks 'ok'" in bad.detail
    assert "secret-body-content" not in bad.detail  # bodies are never echoed


def test_unreachable_is_a_failed_measurement_not_an_exception() -> None:
    check = HttpCheck(name="web", url="http://127.0.0.1:9/healthz", timeout=500)
    result = measure(check, "ns")
    assert not result.ok and "ConnectError" in result.detail


def test_evaluate_retries_until_healthy(endpoint: dict[str, object]) -> None:
    endpoint["status"] = 500
    policy = validate_model(
        HealthPolicy,
        {
            "checks": [{"type": "http", "name": "web", "url": endpoint["url"]}],
            "retries": {"initialDelay": 1, "maxDelay": 1},
        },
    )
    timer = threading.Timer(1.5, lambda: endpoint.__setitem__("status", 200))
    timer.start()
    report = evaluate(policy, "ns", deadline_seconds=20)
    assert report.state is HealthState.HEALTHY
    assert report.attempts >= 2


def test_evaluate_gives_up_at_the_deadline(endpoint: dict[str, object]) -> None:
    endpoint["status"] = 500
    policy = validate_model(
        HealthPolicy,
        {
            "checks": [{"type": "http", "name": "web", "url": endpoint["url"]}],
            "retries": {"initialDelay": 1, "maxDelay": 1},
        },
    )
    report = evaluate(policy, "ns", deadline_seconds=2.5)
    assert report.state is HealthState.UNHEALTHY
    assert 2 <= report.attempts <= 4
    assert "web: status 500" in report.summary()


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"checks": []}, "at least 1 item"),
        ({"checks": [{"type": "http", "name": "a", "url": "ftp://x"}]}, "not an http(s) URL"),
        (
            {"checks": [{"type": "prometheus", "name": "p", "address": "http://p", "query": "up"}]},
            "exactly one threshold",
        ),
        (
            {
                "checks": [
                    {"type": "http", "name": "a", "url": "http://x"},
                    {"type": "http", "name": "a", "url": "http://y"},
                ]
            },
            "used twice",
        ),
        ({"checks": [{"type": "tcp", "name": "a"}]}, "tag 'tcp'"),
    ],
)
def test_config_errors(data: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        validate_model(HealthPolicy, data, "health")


# -- HTTP checks of a Service ------------------------------------------------------------

HTTP = "health.checks[0].http"


@pytest.mark.parametrize(
    ("check", "field", "fragment"),
    [
        ({}, "url", "give exactly one of url (an http(s) URL) or service"),
        ({"url": "http://x", "service": "web"}, "service", "give either url or service"),
        ({"url": "http://x", "port": "http"}, "port", "only applies to a service check"),
        ({"url": "http://x", "path": "/healthz"}, "path", "only applies to a service check"),
        ({"url": "http://x", "namespace": "shop"}, "namespace", "only applies to a service"),
        ({"service": "web", "caFile": "/ca.pem"}, "caFile", "only applies to a url check"),
        ({"service": "web", "insecureSkipTlsVerify": True}, "insecureSkipTlsVerify", "url"),
        ({"service": "Web"}, "service", "'Web' is not a Service name"),
        ({"service": "web", "namespace": "Shop"}, "namespace", "'Shop' is not a namespace"),
        ({"service": "web", "port": 0}, "port", "port 0 is outside 1..65535"),
        ({"service": "web", "port": "HTTP"}, "port", "is not a Service port"),
        ({"service": "web", "port": "a-very-long-port-name"}, "port", "is not a Service port"),
        ({"service": "web", "path": "healthz"}, "path", "start it with '/'"),
    ],
)
def test_service_target_config_errors(check: dict[str, object], field: str, fragment: str) -> None:
    data = {"checks": [{"type": "http", "name": "web", **check}]}
    with pytest.raises(ConfigError) as err:
        validate_model(HealthPolicy, data, "health")
    assert err.value.path == f"{HTTP}.{field}"
    assert fragment in str(err.value)


@pytest.mark.parametrize(
    ("check", "port", "path", "namespace"),
    [
        ({"service": "web"}, None, "/", None),
        ({"service": "web", "port": "http", "path": "/readyz"}, "http", "/readyz", None),
        ({"service": "web", "port": "8080", "namespace": "data"}, 8080, "/", "data"),
        ({"service": "web", "port": 80, "path": "/status?x=1"}, 80, "/status?x=1", None),
    ],
)
def test_service_target_defaults_and_round_trip(
    check: dict[str, object], port: object, path: str, namespace: str | None
) -> None:
    policy = validate_model(HealthPolicy, {"checks": [{"type": "http", "name": "w", **check}]})
    parsed = policy.checks[0]
    assert isinstance(parsed, HttpCheck)
    assert (parsed.url, parsed.port, parsed.path, parsed.namespace) == (None, port, path, namespace)
    # The provider gets the policy as JSON with every field: it must validate again.
    dumped = policy.model_dump(mode="json", by_alias=True)
    assert validate_model(HealthPolicy, dumped) == policy
    url_policy = validate_model(
        HealthPolicy, {"checks": [{"type": "http", "name": "u", "url": "http://x"}]}
    )
    assert (
        validate_model(HealthPolicy, url_policy.model_dump(mode="json", by_alias=True))
        == url_policy
    )


class Proxy:
    """Records what the check asked the service proxy, answers what the test set (the real
    client is exercised against the sandbox's API server by the e2e tier)."""

    def __init__(self, answer: ServiceAnswer | Exception) -> None:
        self.answer = answer
        self.calls: list[tuple[str, str, object, str, float]] = []

    def __call__(
        self, namespace: str, service: str, port: str | int | None, path: str, timeout: float
    ) -> ServiceAnswer:
        self.calls.append((namespace, service, port, path, timeout))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def service_check(**extra: object) -> HttpCheck:
    return validate_model(HttpCheck, {"name": "web", "service": "hello", **extra})


def test_service_check_asks_for_the_target_in_the_release_namespace() -> None:
    proxy = Proxy(ServiceAnswer(Answered.SERVICE, 200, "ok", "http", 0.012))
    result = measure(service_check(bodyContains="ok"), "shop", service=proxy)
    assert result.ok and result.value == 12.0
    assert result.detail == "service shop/hello:http /: status 200 in 12ms"
    assert proxy.calls == [("shop", "hello", None, "/", 5.0)]
    other = Proxy(ServiceAnswer(Answered.SERVICE, 200, "", "8080", 0.001))
    measure(
        service_check(namespace="data", port=8080, path="/readyz", timeout="2s"),
        "shop",
        service=other,
    )
    assert other.calls == [("data", "hello", 8080, "/readyz", 2.0)]


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        (
            ServiceAnswer(Answered.SERVICE, 500, "secret-body-content", "http", 0.003),
            "service shop/hello:http /env: status 500, expected [200]; body lacks 'ok'",
        ),
        (
            ServiceAnswer(Answered.SERVICE, 200, "ok", "http", 0.9),
            "service shop/hello:http /env: latency 900ms > 100ms",
        ),
        (
            ServiceAnswer(
                Answered.NO_ENDPOINTS,
                503,
                "",
                "http",
                0.002,
                'no endpoints available for service "hello"',
            ),
            "no ready endpoints behind service shop/hello:http (the API server answered 503: "
            'no endpoints available for service "hello")',
        ),
        (
            ServiceAnswer(Answered.NOT_FOUND, 404, "", "", 0.0, 'services "hello" not found'),
            'service shop/hello /env: not found (the API server answered 404: services "hello" '
            "not found)",
        ),
        (
            ServiceAnswer(
                Answered.UNREACHABLE, 503, "", "http", 0.0, "error trying to reach service: x"
            ),
            "service shop/hello:http /env: the API server could not reach it (the API server "
            "answered 503: error trying to reach service: x)",
        ),
    ],
)
def test_service_check_verdicts(answer: ServiceAnswer, detail: str) -> None:
    check = service_check(path="/env", bodyContains="ok", maxLatency="100ms")
    result = measure(check, "shop", service=Proxy(answer))
    assert not result.ok
    assert result.detail == detail
    assert "secret-body-content" not in result.detail  # bodies are never echoed


def test_service_check_without_cluster_access_fails_clearly() -> None:
    denied = ClusterAccessDeniedError(
        'cluster https://a: user "bob" may not get services/proxy', status=403
    )
    result = measure(service_check(), "shop", service=Proxy(denied))
    assert not result.ok
    assert result.detail.startswith("GET service shop/hello / failed: cluster https://a: user")
    assert measure(service_check(), "shop").detail == "service shop/hello /: no cluster access"
