"""The audit trail's settings (T2.3): ``helm-enterprise:audit`` in stack config.

::

    helm-enterprise:audit:
      log: /var/log/helm-enterprise/audit.jsonl   # default: ~/.cache/helm-enterprise/audit/
      rotateBytes: 64Mi        # also rotated daily (UTC)
      retentionDays: 400       # rotated segments older than this are removed (and recorded)
      recordDeletes: true      # delete events too; `pulumi destroy` then needs --run-program
      signing: {method: ed25519, key: "vault:secret/audit#signing-key", keyId: audit-2025}
      sinks:
        - {type: file, path: /var/log/siem/helm.jsonl, rotateBytes: 16Mi, retentionDays: 30}
        - {type: syslog, host: siem.corp, protocol: tls, caFile: /etc/ssl/corp-ca.pem}
        - {type: http, url: "https://splunk.corp:8088/services/collector/event",
           token: "k8s:ops/splunk-hec#token"}

The same document (YAML or JSON) in the file named by ``HELM_ENTERPRISE_AUDIT_CONFIG``
configures processes that are not a Pulumi program (the CLI, provider plugins, CI jobs).
Keys and tokens are references (Vault, Kubernetes Secret, secret stack config), never
values.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal
from urllib.parse import urlparse

from pydantic import BeforeValidator, Field, field_validator, model_validator

from helm_enterprise.config._base import Model
from helm_enterprise.config.secrets import ConfigRef, SecretKeyRef, VaultRef, coerce_secret_ref

_SIZE = re.compile(r"^(\d+)\s*(k|ki|kb|m|mi|mb|g|gi|gb)?$", re.I)
_UNITS = {
    "": 1,
    "k": 1000,
    "kb": 1000,
    "ki": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mi": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gi": 1024**3,
}
_SINK_NAME = re.compile(r"^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$")
MIB = 1024**2


def parse_size(value: object) -> int:
    """Bytes from ``1048576``, ``"512Ki"``, ``"64Mi"``, ``"1G"``; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("expected a size like '64Mi' or a number of bytes")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        m = _SIZE.match(value.strip())
        if m:
            return int(m.group(1)) * _UNITS[(m.group(2) or "").lower()]
    raise ValueError(f"{value!r} is not a size; use e.g. '64Mi', '512Ki' or a number of bytes")


ByteSize = Annotated[int, BeforeValidator(parse_size)]


def _key_ref(value: object) -> object:
    coerced = coerce_secret_ref(value)
    if isinstance(coerced, dict) and coerced.get("kind") == "output":
        raise ValueError(
            "audit keys and tokens are read while the deployment runs, so they must be a "
            "Vault reference, a Kubernetes Secret reference or secret stack config "
            "(not a pulumi.Output)"
        )
    return coerced


KeyRef = Annotated[
    VaultRef | SecretKeyRef | ConfigRef, Field(discriminator="kind"), BeforeValidator(_key_ref)
]


class RetryPolicy(Model):
    """Retries of one delivery attempt (exponential backoff between ``initialDelay`` and
    ``maxDelay`` seconds). After the last attempt the records stay in the disk buffer and
    are sent later."""

    attempts: int = Field(default=3, ge=1, le=20)
    initial_delay: float = Field(default=0.5, gt=0, le=60)
    max_delay: float = Field(default=5.0, gt=0, le=600)


class _Sink(Model):
    name: str | None = None
    timeout: float = Field(default=5.0, gt=0, le=120)
    buffer_max_bytes: ByteSize = Field(default=16 * MIB, ge=4096)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is not None and not _SINK_NAME.match(v):
            raise ValueError(f"{v!r} is not a sink name (lowercase letters, digits, '-', '_', '.')")
        return v


class FileSinkConfig(_Sink):
    """A JSON Lines copy of every record, for a log shipper; rotated and pruned."""

    type: Literal["file"] = "file"
    path: str
    rotate_bytes: ByteSize = Field(default=64 * MIB, ge=1024)
    retention_days: int | None = Field(default=None, ge=1, le=36500)


class SyslogSinkConfig(_Sink):
    """RFC 5424 syslog over UDP, TCP (octet counting, RFC 6587) or TLS (RFC 5425)."""

    type: Literal["syslog"] = "syslog"
    host: str
    port: int | None = Field(default=None, ge=1, le=65535)
    protocol: Literal["udp", "tcp", "tls"] = "tcp"
    facility: Literal[
        "kern", "user", "daemon", "auth", "authpriv", "audit", "local0", "local1", "local2",
        "local3", "local4", "local5", "local6", "local7",
    ] = "local0"  # fmt: skip
    app_name: str = Field(default="helm-enterprise", min_length=1, max_length=48)
    enterprise_id: int = Field(default=32473, ge=1)
    ca_file: str | None = None
    tls_verify: bool = True

    @property
    def effective_port(self) -> int:
        return self.port or (6514 if self.protocol == "tls" else 514)


class HttpSinkConfig(_Sink):
    """JSON over HTTP(S): Splunk HEC style (``format: hec``) or a JSON array of records
    (``format: json``). The token is sent as ``Authorization: <authScheme> <token>``."""

    type: Literal["http"] = "http"
    url: str
    format: Literal["hec", "json"] = "hec"
    token: KeyRef | None = None
    auth_scheme: str = "Splunk"
    headers: dict[str, str] = Field(default_factory=dict)
    ca_file: str | None = None
    tls_verify: bool = True
    batch_size: int = Field(default=100, ge=1, le=10000)
    sourcetype: str = "helm-enterprise:audit"
    index: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parsed = urlparse(v)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v

    @field_validator("headers")
    @classmethod
    def _headers(cls, v: dict[str, str]) -> dict[str, str]:
        for name in v:
            if name.lower() in ("authorization", "proxy-authorization", "cookie"):
                raise ValueError(
                    f"header {name!r} would carry a credential in plain config; use token"
                )
        return v

    @model_validator(mode="after")
    def _no_token_in_clear(self) -> HttpSinkConfig:
        parsed = urlparse(self.url)
        if self.token is not None and parsed.scheme == "http" and not _loopback(parsed.hostname):
            raise ValueError(
                "url: a token would travel in clear text over http://; use https:// "
                "(plain http is accepted for loopback collectors only)"
            )
        return self


def _loopback(host: str | None) -> bool:
    if host in (None, "localhost"):
        return True
    try:
        return ipaddress.ip_address(str(host)).is_loopback
    except ValueError:
        return False


SinkConfig = Annotated[
    FileSinkConfig | SyslogSinkConfig | HttpSinkConfig, Field(discriminator="type")
]


class SigningConfig(Model):
    """Signatures over each record's hash: ``hmac`` (HMAC-SHA256, a shared key) or
    ``ed25519`` (the key is the private key, PEM or base64 of the 32-byte seed; auditors
    verify with the public key alone). ``keyId`` is recorded in every signature."""

    method: Literal["hmac", "ed25519"]
    key: KeyRef
    key_id: str | None = Field(default=None, min_length=1, max_length=128)


class AuditConfig(Model):
    """Everything under ``helm-enterprise:audit``. Every field is optional: with none, the
    trail is one local hash-chained log and no sinks."""

    log: str | None = None
    rotate_bytes: ByteSize = Field(default=64 * MIB, ge=1024)
    retention_days: int | None = Field(default=None, ge=1, le=36500)
    signing: SigningConfig | None = None
    sinks: list[SinkConfig] = Field(default_factory=list)
    actor: str | None = Field(default=None, min_length=1)
    record_previews: bool = True
    record_deletes: bool = False
    flush_timeout: float = Field(default=5.0, ge=0, le=300)
    buffer_dir: str | None = None

    @model_validator(mode="after")
    def _unique_sinks(self) -> AuditConfig:
        seen: dict[str, int] = {}
        for i, sink in enumerate(self.sinks):
            name = sink_name(sink, i)
            if name in seen:
                raise ValueError(
                    f"sinks[{i}].name: sink name {name!r} is already used by sinks[{seen[name]}]"
                )
            seen[name] = i
        return self


def sink_name(sink: FileSinkConfig | SyslogSinkConfig | HttpSinkConfig, index: int) -> str:
    """The sink's name: as configured, else ``<type>-<index>``."""
    return sink.name or f"{sink.type}-{index}"
