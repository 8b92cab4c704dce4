"""SLO rules (T4.3): Sloth's names, the burn-rate table as data, OpenSLO export."""

from __future__ import annotations

from typing import Any

import pytest

from helm_enterprise.config._base import validate_model
from helm_enterprise.config.slo import GOOGLE_30D, SloConfig, prometheus_duration
from helm_enterprise.errors import ConfigError
from helm_enterprise.slo.openslo import documents
from helm_enterprise.slo.rules import alert_name, burn_factor, release_rules, windows

EVENTS = {
    "errorQuery": 'sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))',
    "totalQuery": "sum(rate(http_requests_total[{{.window}}]))",
}


def slo(**extra: Any) -> SloConfig:
    return validate_model(
        SloConfig, {"name": "availability", "objective": 99.9, "sli": {"events": EVENTS}, **extra}
    )


def test_google_table_gives_googles_factors() -> None:
    assert [burn_factor(r, 30 * 86400) for r in GOOGLE_30D] == [14.4, 6.0, 3.0, 1.0]
    # 28 days: Sloth's google-28d factors.
    assert [round(burn_factor(r, 28 * 86400), 2) for r in GOOGLE_30D] == [13.44, 5.6, 2.8, 0.93]


def test_recordings_for_every_window_with_sloths_names_and_labels() -> None:
    groups = release_rules("shop", [slo()])["groups"]
    assert [g["name"] for g in groups] == [
        "sloth-slo-sli-recordings-shop-availability",
        "sloth-slo-meta-recordings-shop-availability",
        "sloth-slo-alerts-shop-availability",
    ]
    sli = groups[0]["rules"]
    assert [r["record"] for r in sli] == [
        f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")
    ]
    five = sli[0]
    assert five["expr"] == (
        '(sum(rate(http_requests_total{code=~"5.."}[5m])))\n/\n(sum(rate(http_requests_total[5m])))'
    )
    assert five["labels"] == {
        "sloth_id": "shop-availability",
        "sloth_service": "shop",
        "sloth_slo": "availability",
        "sloth_window": "5m",
    }
    meta = {r["record"]: r for r in groups[1]["rules"]}
    assert meta["slo:error_budget:ratio"]["expr"] == "vector(0.001)"
    assert meta["slo:objective:ratio"]["expr"] == "vector(0.999)"
    assert meta["slo:time_period:days"]["expr"] == "vector(30.0)"
    assert meta["slo:period_error_budget_remaining:ratio"]["expr"] == (
        '1 - slo:period_burn_rate:ratio{sloth_id="shop-availability", sloth_service="shop", '
        'sloth_slo="availability"}'
    )
    assert "slo:sli_error:ratio_rate30d" in meta["slo:period_burn_rate:ratio"]["expr"]


def test_alerts_pair_short_and_long_windows_per_severity() -> None:
    alerts = release_rules("shop", [slo(alerting={"labels": {"team": "shop"}})])["groups"][2]
    page, ticket = alerts["rules"]
    assert page["alert"] == ticket["alert"] == "ShopAvailabilityBurnRate"
    assert page["labels"]["sloth_severity"] == "page" and page["labels"]["team"] == "shop"
    expr = page["expr"]
    assert "slo:sli_error:ratio_rate5m{" in expr and "> (14.4 * 0.001)" in expr
    assert "slo:sli_error:ratio_rate6h{" in expr and "> (6.0 * 0.001)" in expr
    assert expr.count("\nor\n") == 1 and "without (sloth_window)" in expr
    assert "> (3.0 * 0.001)" in ticket["expr"] and "> (1.0 * 0.001)" in ticket["expr"]


def test_a_custom_table_and_a_disabled_ticket_alert() -> None:
    custom = slo(
        objective=99,
        window="1h",
        windows=[
            {"severity": "page", "budgetPercent": 24, "longWindow": "1m", "shortWindow": "15s"}
        ],
        alerting={"name": "Fast", "ticketAlert": {"disable": True}},
    )
    assert windows(custom) == [15, 60, 300, 3600]
    assert [prometheus_duration(w) for w in windows(custom)] == ["15s", "1m", "5m", "1h"]
    [alerts] = [g for g in release_rules("shop", [custom])["groups"] if "alerts" in g["name"]]
    [page] = alerts["rules"]
    assert page["alert"] == "Fast" and "> (14.4 * 0.01)" in page["expr"]


@pytest.mark.parametrize(
    ("extra", "path", "message"),
    [
        ({"objective": 100}, "objective", "less than 100"),
        ({"sli": {}}, "sli", "exactly one of sli.events"),
        ({"window": "30x"}, "window", "not a duration"),
        (
            {
                "windows": [
                    {
                        "severity": "page",
                        "budgetPercent": 2,
                        "longWindow": "5m",
                        "shortWindow": "1h",
                    }
                ]
            },
            "windows[0]",
            "shortWindow must be shorter",
        ),
        (
            {
                "window": "1d",
                "windows": [
                    {
                        "severity": "page",
                        "budgetPercent": 2,
                        "longWindow": "3d",
                        "shortWindow": "1h",
                    }
                ],
            },
            "windows[0].longWindow",
            "longer than the SLO window 1d",
        ),
    ],
)
def test_invalid_slos_name_the_field(extra: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        slo(**extra)
    assert any(p.startswith(path) and message in m for p, m in err.value.issues), err.value.issues


def test_default_alert_name_is_camel_case() -> None:
    assert alert_name("web-shop", slo(name="p99_latency")) == "WebShopP99LatencyBurnRate"


def test_openslo_document() -> None:
    [doc] = documents("shop", [slo(description="requests succeed")])
    assert doc["apiVersion"] == "openslo/v1" and doc["kind"] == "SLO"
    spec = doc["spec"]
    assert spec["service"] == "shop" and spec["budgetingMethod"] == "Occurrences"
    assert spec["timeWindow"] == [{"duration": "30d", "isRolling": True}]
    assert spec["objectives"] == [{"displayName": "availability", "target": 0.999}]
    ratio = spec["indicator"]["spec"]["ratioMetric"]
    assert ratio["bad"]["metricSource"]["spec"]["query"].endswith("[30d]))")
