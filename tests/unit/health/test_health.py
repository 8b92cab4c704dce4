"""Health checks: decide (pure, table), HTTP measurement against a local endpoint, retries."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helm_enterprise.config import validate_model
from helm_enterprise.config.health import HealthPolicy, HttpCheck
from helm_enterprise.errors import ConfigError
from helm_enterprise.health import HealthState, Measurement, decide, evaluate, measure


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
