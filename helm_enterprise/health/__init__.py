"""Health checks beyond readiness (T2.4): measure, decide, act.

* :func:`measure` runs one check once and returns a :class:`Measurement` (never raises for
  an unhealthy target: an unreachable endpoint is a failed measurement). An HTTP check's
  target is a URL or a Service, the latter reached through the API server's service proxy
  (:mod:`helm_enterprise.kube.proxy`, behind the ``ServiceProxy`` seam).
* :func:`decide` is pure: measurements → :class:`HealthState` (``HEALTHY``, ``UNHEALTHY``).
* :func:`evaluate` retries with exponential backoff (tenacity) until every check passes or
  the deadline is reached, and returns a :class:`HealthReport`.

Acting on the result (rolling the release back, failing the update) is the job of the
health-check resource (:mod:`helm_enterprise.health.resource`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import re
import ssl
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_exponential

from helm_enterprise.config.health import (
    DependencyCheck,
    HealthPolicy,
    HttpCheck,
    PrometheusCheck,
)
from helm_enterprise.errors import HelmEnterpriseError, truncate
from helm_enterprise.kube.proxy import Answered, ServiceProxy


class HealthState(enum.Enum):
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


@dataclasses.dataclass(frozen=True)
class Measurement:
    """One check's outcome. ``value`` is what was measured (status code, latency in ms,
    metric value); ``detail`` says why it failed. Never contains response bodies beyond a
    short, truncated excerpt."""

    check: str
    kind: str
    ok: bool
    value: float | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class HealthReport:
    state: HealthState
    measurements: list[Measurement]
    attempts: int
    seconds: float

    def failing(self) -> list[Measurement]:
        return [m for m in self.measurements if not m.ok]

    def summary(self) -> str:
        if self.state is HealthState.HEALTHY:
            return f"healthy after {self.attempts} attempt(s) in {self.seconds:.1f}s"
        bad = "; ".join(f"{m.check}: {m.detail}" for m in self.failing())
        return f"unhealthy after {self.attempts} attempt(s) in {self.seconds:.1f}s: {bad}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "attempts": self.attempts,
            "seconds": round(self.seconds, 2),
            "measurements": [m.to_dict() for m in self.measurements],
        }


# -- measuring ---------------------------------------------------------------------------


def _judge(check: HttpCheck, status: int, text: str, latency: float, target: str) -> Measurement:
    """The HTTP check's verdict on one answer (``target`` prefixes the detail when set)."""
    problems = []
    if status not in check.expect_status:
        problems.append(f"status {status}, expected {check.expect_status}")
    if check.body_contains is not None and check.body_contains not in text:
        problems.append(f"body lacks {check.body_contains!r}")
    if check.body_regex is not None and not re.search(check.body_regex, text):
        problems.append(f"body does not match /{check.body_regex}/")
    if check.max_latency is not None and latency > check.max_latency:
        problems.append(f"latency {latency:.0f}ms > {check.max_latency}ms")
    detail = "; ".join(problems) or f"status {status} in {latency:.0f}ms"
    if target:
        detail = f"{target}: {detail}"
    return Measurement(check.name, "http", not problems, round(latency, 1), detail)


def service_target(check: HttpCheck, namespace: str, port: str | int | None = None) -> str:
    """How measurements name a service check's target: ``service ns/name:port path``."""
    ns = check.namespace or namespace
    port = check.port if port is None else port
    where = f"{ns}/{check.service}" + (f":{port}" if port not in (None, "") else "")
    return f"service {where} {check.path}"


def _service_http(check: HttpCheck, namespace: str, proxy: ServiceProxy | None) -> Measurement:
    assert check.service is not None
    ns = check.namespace or namespace
    if proxy is None:
        return Measurement(
            check.name, "http", False, None, f"{service_target(check, ns)}: no cluster access"
        )
    try:
        answer = proxy(ns, check.service, check.port, check.path, check.timeout / 1000)
    except HelmEnterpriseError as err:
        return Measurement(
            check.name, "http", False, None, f"GET {service_target(check, ns)} failed: {err}"
        )
    target = service_target(check, ns, answer.port)
    if answer.answered is Answered.SERVICE:
        return _judge(check, answer.status, answer.text, answer.seconds * 1000, target)
    if answer.answered is Answered.NO_ENDPOINTS:
        why = f"no ready endpoints behind {target.rsplit(' ', 1)[0]}"
    elif answer.answered is Answered.NOT_FOUND:
        why = f"{service_target(check, ns)}: not found"
    else:
        why = f"{target}: the API server could not reach it"
    detail = f"{why} (the API server answered {answer.status}: {answer.message})"
    return Measurement(check.name, "http", False, None, detail)


def _http(check: HttpCheck, namespace: str, proxy: ServiceProxy | None) -> Measurement:
    if check.url is None:
        return _service_http(check, namespace, proxy)
    verify: ssl.SSLContext | bool = True
    if check.insecure_skip_tls_verify:
        verify = False
    elif check.ca_file or check.cert_file:
        ctx = ssl.create_default_context(cafile=check.ca_file)
        if check.cert_file and check.key_file:
            ctx.load_cert_chain(check.cert_file, check.key_file)
        verify = ctx
    start = time.perf_counter()
    try:
        resp = httpx.get(check.url, timeout=check.timeout / 1000, verify=verify, trust_env=False)
    except httpx.HTTPError as err:
        return Measurement(
            check.name,
            "http",
            False,
            None,
            f"GET {check.url} failed: {type(err).__name__}: {truncate(str(err), 120)}",
        )
    latency = (time.perf_counter() - start) * 1000
    return _judge(check, resp.status_code, resp.text, latency, "")


def prometheus_value(check: PrometheusCheck) -> float | None:
    """The query's first sample value (None when the result is empty)."""
    resp = httpx.get(
        f"{check.address.rstrip('/')}/api/v1/query",
        params={"query": check.query},
        timeout=check.timeout / 1000,
        trust_env=False,
    )
    resp.raise_for_status()
    data = resp.json().get("data", {})
    result = data.get("result")
    if data.get("resultType") == "scalar":
        return float(result[1])
    if not result:
        return None
    return float(result[0]["value"][1])


def _prometheus(check: PrometheusCheck) -> Measurement:
    try:
        value = prometheus_value(check)
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as err:
        return Measurement(
            check.name,
            "prometheus",
            False,
            None,
            f"query failed: {type(err).__name__}: {truncate(str(err), 120)}",
        )
    if value is None:
        return Measurement(
            check.name, "prometheus", check.missing_is_healthy, None, "query returned no samples"
        )
    if check.below is not None:
        ok = value < check.below
        detail = f"{value:g} {'<' if ok else '>='} {check.below:g} ({check.query})"
    else:
        assert check.above is not None
        ok = value > check.above
        detail = f"{value:g} {'>' if ok else '<='} {check.above:g} ({check.query})"
    return Measurement(check.name, "prometheus", ok, value, detail)


DependencyProbe = Callable[[str, str], tuple[bool, str]]


def measure(
    check: HttpCheck | PrometheusCheck | DependencyCheck,
    namespace: str,
    dependency: DependencyProbe | None = None,
    service: ServiceProxy | None = None,
) -> Measurement:
    """One check, once. ``dependency`` and ``service`` are the cluster access that
    dependency checks and HTTP checks of a Service need (without it they fail)."""
    if isinstance(check, HttpCheck):
        return _http(check, namespace, service)
    if isinstance(check, PrometheusCheck):
        return _prometheus(check)
    if dependency is None:
        return Measurement(check.name, "dependency", False, None, "no cluster access to check it")
    ok, detail = dependency(check.namespace or namespace, check.release)
    return Measurement(check.name, "dependency", ok, 1.0 if ok else 0.0, detail)


# -- deciding ----------------------------------------------------------------------------


def decide(measurements: Sequence[Measurement]) -> HealthState:
    """Healthy only when every check passed in the same attempt."""
    return (
        HealthState.HEALTHY
        if measurements and all(m.ok for m in measurements)
        else HealthState.UNHEALTHY
    )


def evaluate(
    policy: HealthPolicy,
    namespace: str,
    deadline_seconds: float,
    dependency: DependencyProbe | None = None,
    on_attempt: Callable[[int, list[Measurement]], None] | None = None,
    service: ServiceProxy | None = None,
) -> HealthReport:
    """Measure every check until all pass (exponential backoff) or the deadline passes."""
    start = time.monotonic()
    attempts = 0
    last: list[Measurement] = []

    def attempt() -> list[Measurement]:
        nonlocal attempts, last
        attempts += 1
        last = [measure(c, namespace, dependency, service) for c in policy.checks]
        if on_attempt:
            on_attempt(attempts, last)
        return last

    retrying = Retrying(
        stop=stop_after_delay(deadline_seconds),
        wait=wait_exponential(
            multiplier=policy.retries.initial_delay,
            exp_base=policy.retries.multiplier,
            max=policy.retries.max_delay,
        ),
        retry=retry_if_result(lambda ms: decide(ms) is HealthState.UNHEALTHY),
        reraise=True,
    )
    with contextlib.suppress(RetryError):  # the deadline passed: report the last attempt
        retrying(attempt)
    return HealthReport(decide(last), last, attempts, time.monotonic() - start)
