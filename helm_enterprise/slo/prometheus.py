"""The Prometheus HTTP API calls of the SLO features: instant queries, ``/-/reload``, the
loaded rule groups and the firing alerts. Errors become :class:`SloError` naming the
address and what was asked, with the (truncated) answer."""

from __future__ import annotations

import math
from typing import Any

import httpx

from helm_enterprise.errors import SloError, truncate

TIMEOUT = 10.0


def _get(address: str, path: str, params: dict[str, str] | None = None) -> Any:
    try:
        resp = httpx.get(f"{address}{path}", params=params, timeout=TIMEOUT, trust_env=False)
    except httpx.HTTPError as err:
        raise SloError(f"Prometheus at {address} did not answer: {type(err).__name__}") from None
    if resp.status_code != 200:
        raise SloError(
            f"Prometheus at {address} answered {path} with {resp.status_code}: "
            f"{truncate(resp.text, 300)}"
        )
    body = resp.json()
    if body.get("status") != "success":
        raise SloError(f"Prometheus at {address}: {truncate(str(body.get('error')), 300)}")
    return body["data"]


def query(address: str, promql: str, at: float | None = None) -> list[tuple[dict[str, str], float]]:
    """An instant query, now or at the Unix time ``at``: ``(labels, value)`` per series
    (NaN values left out)."""
    params = {"query": promql} if at is None else {"query": promql, "time": f"{at:.3f}"}
    data = _get(address, "/api/v1/query", params)
    samples = []
    for item in data.get("result") or []:
        value = float(item["value"][1])
        if not math.isnan(value):
            samples.append((dict(item.get("metric") or {}), value))
    return samples


def reload(address: str) -> None:
    """``POST /-/reload`` (Prometheus started with ``--web.enable-lifecycle``); a rule file
    Prometheus refuses makes this fail with its reason."""
    try:
        resp = httpx.post(f"{address}/-/reload", timeout=30.0, trust_env=False)
    except httpx.HTTPError as err:
        raise SloError(f"Prometheus at {address} did not answer: {type(err).__name__}") from None
    if resp.status_code != 200:
        hint = (
            " (start Prometheus with --web.enable-lifecycle, or set prometheus.reload: false)"
            if resp.status_code in (403, 404)
            else ""
        )
        raise SloError(
            f"Prometheus at {address} refused to reload: {resp.status_code} "
            f"{truncate(resp.text, 300)}{hint}"
        )


def rule_groups(address: str) -> set[str]:
    """The names of the rule groups Prometheus has loaded."""
    data = _get(address, "/api/v1/rules")
    return {str(g.get("name")) for g in data.get("groups") or []}


def firing_alerts(address: str, service: str, severities: tuple[str, ...]) -> list[dict[str, str]]:
    """The SLO burn-rate alerts of ``service`` (a release) firing now, by severity."""
    wanted = "|".join(severities)
    promql = f'ALERTS{{sloth_service="{service}", alertstate="firing", sloth_severity=~"{wanted}"}}'
    return [labels for labels, _value in query(address, promql)]
