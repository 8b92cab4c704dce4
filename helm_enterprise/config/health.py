"""Health checks of a release beyond Kubernetes readiness (T2.4).

::

    health:
      checks:
        - {type: http, name: web, url: https://web.shop/healthz, expectStatus: [200],
           bodyContains: ok, maxLatency: 500ms, caFile: /etc/ssl/shop-ca.pem}
        - {type: prometheus, name: errors, address: http://prometheus:9090,
           query: 'sum(rate(http_errors_total[1m]))', below: 0.05}
        - {type: dependency, name: db, release: postgres, namespace: data}
      retries: {initialDelay: 2s, maxDelay: 30s, multiplier: 2}
      deadline: 5m            # default: the release's readiness timeout
      rollbackOnFailure: true # roll back to the previous revision when a check fails
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlparse

from pydantic import BeforeValidator, Field, field_validator, model_validator

from helm_enterprise.config._base import Duration, Model, first_duplicate

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$")


def _millis(value: object) -> object:
    """``500ms`` → 500; durations like ``2s`` → 2000; plain numbers are milliseconds."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("ms") and text[:-2].isdigit():
            return int(text[:-2])
        if text.endswith("s") and text[:-1].replace(".", "", 1).isdigit():
            return int(float(text[:-1]) * 1000)
    return value


Millis = Annotated[int, BeforeValidator(_millis), Field(gt=0, le=600_000)]


class _Check(Model):
    name: str

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(
                f"{v!r} is not a check name (lowercase letters, digits, '-', '_', '.')"
            )
        return v


class HttpCheck(_Check):
    """GET ``url``; healthy when the status, body and latency are as expected."""

    type: Literal["http"] = "http"
    url: str
    expect_status: list[int] = Field(default_factory=lambda: [200])
    body_contains: str | None = None
    body_regex: str | None = None
    max_latency: Millis | None = None
    timeout: Millis = 5000
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure_skip_tls_verify: bool = False

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parsed = urlparse(v)
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v

    @field_validator("body_regex")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as err:
                raise ValueError(f"not a valid regular expression: {err}") from None
        return v

    @model_validator(mode="after")
    def _pair(self) -> HttpCheck:
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError("certFile and keyFile go together")
        return self


class PrometheusCheck(_Check):
    """An instant query; healthy when its (first) value is below/above the threshold."""

    type: Literal["prometheus"] = "prometheus"
    address: str
    query: str
    below: float | None = None
    above: float | None = None
    timeout: Millis = 5000
    missing_is_healthy: bool = False

    @model_validator(mode="after")
    def _threshold(self) -> PrometheusCheck:
        if (self.below is None) == (self.above is None):
            raise ValueError("give exactly one threshold: below or above")
        if not self.address.startswith(("http://", "https://")):
            raise ValueError(f"address {self.address!r} is not an http(s) URL")
        return self


class DependencyCheck(_Check):
    """Another release is deployed (its latest Helm revision) and its workloads are ready."""

    type: Literal["dependency"] = "dependency"
    release: str
    namespace: str | None = None


HealthCheck = Annotated[HttpCheck | PrometheusCheck | DependencyCheck, Field(discriminator="type")]


class Backoff(Model):
    initial_delay: Duration = 2
    max_delay: Duration = 30
    multiplier: float = Field(default=2.0, ge=1.0, le=10.0)


class HealthPolicy(Model):
    checks: list[HealthCheck] = Field(min_length=1)
    retries: Backoff = Field(default_factory=Backoff)
    deadline: Duration | None = None
    rollback_on_failure: bool = True

    @field_validator("checks")
    @classmethod
    def _unique(
        cls, v: list[HttpCheck | PrometheusCheck | DependencyCheck]
    ) -> list[HttpCheck | PrometheusCheck | DependencyCheck]:
        if (dupe := first_duplicate([c.name for c in v])) is not None:
            raise ValueError(f"check name {dupe!r} is used twice")
        return v
