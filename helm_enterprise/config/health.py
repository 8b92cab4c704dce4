"""Health checks of a release beyond Kubernetes readiness (T2.4).

::

    health:
      checks:
        - {type: http, name: web, url: https://web.shop/healthz, expectStatus: [200],
           bodyContains: ok, maxLatency: 500ms, caFile: /etc/ssl/shop-ca.pem}
        - {type: http, name: api, service: shop-api, port: http, path: /readyz}
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

from helm_enterprise.config._base import Duration, Model, first_duplicate, is_namespace_name

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$")
# Kubernetes names: a Service is a DNS-1035 label, a port name an IANA service name (at
# most 15 characters, at least one letter).
_SERVICE = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_PORT_NAME = re.compile(r"^(?=.*[a-z])[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$")
# The TLS options of a url check; a service check speaks to the API server with the
# cluster's own credentials instead.
_TLS_FIELDS = (
    ("ca_file", "caFile"),
    ("cert_file", "certFile"),
    ("key_file", "keyFile"),
    ("insecure_skip_tls_verify", "insecureSkipTlsVerify"),
)


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
    """GET an endpoint; healthy when the status, body and latency are as expected.

    The endpoint is exactly one of:

    * ``url``: any http(s) URL, reached directly (``caFile``, ``certFile``/``keyFile``,
      ``insecureSkipTlsVerify`` for its TLS);
    * ``service``: a Service of the release's cluster, reached through the Kubernetes API
      server's service proxy with the release's own cluster credentials — ``port`` (a port
      name or number of the Service; default its first port), ``path`` (default ``/``) and
      ``namespace`` (default the release's). It works from wherever the API server is
      reachable, needs no kube-proxy or route to pod IPs, and sees exactly the pods the
      Service selects.
    """

    type: Literal["http"] = "http"
    url: str | None = None
    service: str | None = None
    port: int | str | None = None
    path: str = "/"
    namespace: str | None = None
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
    def _url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        parsed = urlparse(v)
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v

    @field_validator("service")
    @classmethod
    def _service(cls, v: str | None) -> str | None:
        if v is not None and not _SERVICE.match(v):
            raise ValueError(
                f"{v!r} is not a Service name (lowercase letters, digits and '-', "
                "starting with a letter, at most 63 characters)"
            )
        return v

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, v: str | None) -> str | None:
        if v is not None and not is_namespace_name(v):
            raise ValueError(
                f"{v!r} is not a namespace name (lowercase letters, digits and '-', "
                "at most 63 characters)"
            )
        return v

    @field_validator("port", mode="before")
    @classmethod
    def _port(cls, v: object) -> object:
        if v is None:
            return v
        if isinstance(v, str) and v.strip().isdigit():
            v = int(v.strip())
        if isinstance(v, int) and not isinstance(v, bool):
            if not 1 <= v <= 65535:
                raise ValueError(f"port {v} is outside 1..65535")
            return v
        if isinstance(v, str) and _PORT_NAME.match(v.strip()):
            return v.strip()
        raise ValueError(
            f"{v!r} is not a Service port: give its name (e.g. http) or its number (e.g. 80)"
        )

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not v.startswith("/") or any(c.isspace() for c in v) or "#" in v:
            raise ValueError(
                f"{v!r} is not a request path: start it with '/', no spaces or '#' "
                "(e.g. /healthz or /status?verbose=1)"
            )
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
    def _target(self) -> HttpCheck:
        # Messages start with the field they are about: the ConfigError's path names it.
        if self.url is None and self.service is None:
            raise ValueError(
                "url: give exactly one of url (an http(s) URL) or service (a Service of "
                "the release's cluster, reached through the API server)"
            )
        if self.url is not None and self.service is not None:
            raise ValueError(
                "service: give either url or service, not both (service reaches the "
                "Service through the API server; url is any other endpoint)"
            )
        # By value, not by "was it given": the provider re-validates the policy from its
        # JSON dump, where every field is present.
        if self.url is not None:
            given = {"port": self.port is not None, "path": self.path != "/"}
            given["namespace"] = self.namespace is not None
            for alias, is_set in given.items():
                if is_set:
                    raise ValueError(
                        f"{alias}: only applies to a service check; with url, put it in "
                        "the URL itself"
                    )
        else:
            for field, alias in _TLS_FIELDS:
                if getattr(self, field):
                    raise ValueError(
                        f"{alias}: only applies to a url check; a service check goes "
                        "through the API server with the cluster's credentials (remove it)"
                    )
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
