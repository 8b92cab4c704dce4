"""The health-check resource's provider step: how long its automatic rollback waits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from helm_enterprise.errors import HealthCheckError
from helm_enterprise.health import HealthReport, HealthState
from helm_enterprise.health import resource as health_resource

POLICY = {"checks": [{"type": "http", "name": "web", "url": "http://web.invalid/"}]}


def _props(**extra: Any) -> dict[str, Any]:
    return {
        "release": "web",
        "namespace": "shop",
        "revision": 3,
        "policy": json.dumps(POLICY),
        "deadline": 120,
        "rollback": True,
        **extra,
    }


@pytest.mark.parametrize(
    ("extra", "waits"),
    [
        ({"rollbackTimeout": 900}, 900),  # timeouts.rollback.readiness is what it waits
        ({}, 120),  # a state written before the input existed: the check deadline
    ],
)
def test_automatic_rollback_waits_the_rollback_timeout(
    monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any], waits: int
) -> None:
    calls: list[dict[str, Any]] = []

    def rollback(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        raise health_resource.HelmEnterpriseError("stop here")

    monkeypatch.setattr(
        health_resource,
        "evaluate",
        lambda *a, **k: HealthReport(
            state=HealthState.UNHEALTHY, measurements=[], attempts=1, seconds=1.0
        ),
    )
    monkeypatch.setattr(health_resource, "rollback", rollback)
    monkeypatch.setattr(health_resource, "emit", lambda *a, **k: None)
    with pytest.raises(HealthCheckError, match="rollback failed: stop here"):
        health_resource.run_checks(_props(**extra))
    assert [c["timeout_seconds"] for c in calls] == [waits]
