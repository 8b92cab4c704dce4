"""Helm 3 release records as stored in the cluster (the "secrets" storage driver).

Each revision of release ``NAME`` is a Secret ``sh.helm.release.v1.NAME.vREV`` of type
``helm.sh/release.v1`` labelled ``owner=helm, name=NAME, status=..., version=REV``; its
``release`` key holds base64(gzip(JSON)). Reading these lets helm_enterprise see history,
stuck operations and manifests without the helm binary; the only write is the one Flux's
helm-controller also performs for a stuck release: marking a pending revision as failed.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import gzip
import hashlib
import hmac
import json
import secrets
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from helm_enterprise.kube.client import api_error

PENDING = ("pending-install", "pending-upgrade", "pending-rollback")


@dataclasses.dataclass(frozen=True)
class HelmRecord:
    """One revision of a Helm release. No values (they may hold secrets): only
    ``values_checksum``, a digest of the user-supplied values Helm stored, to tell whether
    two revisions were deployed with the same values."""

    name: str
    namespace: str
    revision: int
    status: str
    chart: str
    chart_version: str
    description: str
    updated: dt.datetime | None
    secret_name: str
    manifest: str = dataclasses.field(repr=False, default="")
    values_checksum: str = ""


def decode(data: str) -> dict[str, Any]:
    """Decode the ``release`` value of a release Secret (as returned by the API)."""
    raw = base64.b64decode(base64.b64decode(data))
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    result: dict[str, Any] = json.loads(raw)
    return result


def encode(release: dict[str, Any]) -> str:
    raw = gzip.compress(json.dumps(release, separators=(",", ":")).encode())
    return base64.b64encode(base64.b64encode(raw)).decode()


def _time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


# Keyed per process: two records read by one process compare, but a digest that reaches a
# report or log cannot be checked offline against guessed (low-entropy secret) values.
_DIGEST_KEY = secrets.token_bytes(32)


def values_checksum(values: Any) -> str:
    """A digest of values (canonical JSON), comparable within this process only."""
    text = json.dumps(values or {}, sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(_DIGEST_KEY, text.encode(), hashlib.sha256).hexdigest()[:32]


def _record(secret: Any, body: dict[str, Any]) -> HelmRecord:
    info = body.get("info") or {}
    meta = (body.get("chart") or {}).get("metadata") or {}
    return HelmRecord(
        name=str(body.get("name", "")),
        namespace=str(body.get("namespace", "")),
        revision=int(body.get("version", 0)),
        status=str(info.get("status", "unknown")),
        chart=str(meta.get("name", "")),
        chart_version=str(meta.get("version", "")),
        description=str(info.get("description", "")),
        updated=_time(info.get("last_deployed")),
        secret_name=secret.metadata.name,
        manifest=str(body.get("manifest", "")),
        values_checksum=values_checksum(body.get("config")),
    )


def history(api: k8s.ApiClient, namespace: str, name: str) -> list[HelmRecord]:
    """All stored revisions of a release, oldest first ([] when it does not exist)."""
    core = k8s.CoreV1Api(api)
    try:
        secrets = core.list_namespaced_secret(
            namespace, label_selector=f"owner=helm,name={name}", _request_timeout=15
        )
    except ApiException as err:
        if err.status == 404:
            return []
        # 401/403 name the identity and the missing permission (never "no history").
        raise api_error(err, api, f"list Helm's release records of {namespace}/{name}") from err
    records = []
    for s in secrets.items:
        if (s.data or {}).get("release"):
            records.append(_record(s, decode(s.data["release"])))
    return sorted(records, key=lambda r: r.revision)


def mark_failed(api: k8s.ApiClient, record: HelmRecord, reason: str) -> None:
    """Mark a (stuck, pending) revision as failed so Helm accepts the next operation."""
    core = k8s.CoreV1Api(api)
    secret = core.read_namespaced_secret(record.secret_name, record.namespace, _request_timeout=15)
    body = decode(secret.data["release"])
    info = body.setdefault("info", {})
    info["status"] = "failed"
    info["description"] = reason
    secret.data["release"] = encode(body)
    secret.metadata.labels = {**(secret.metadata.labels or {}), "status": "failed"}
    core.replace_namespaced_secret(
        record.secret_name, record.namespace, secret, _request_timeout=15
    )
