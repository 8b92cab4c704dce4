from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helm_enterprise.components.context import Platform, set_default_platform
from helm_enterprise.config import ClusterConfig

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def platform() -> Platform:
    """A platform with no Vault and an unreachable cluster (pre-apply checks skip: the
    explicit opt-out ``unreachable: warn``)."""
    p = Platform(
        cluster=ClusterConfig(kubeconfig="/nonexistent/kubeconfig", unreachable="warn"),
        base_dir=REPO,
    )
    set_default_platform(p)
    yield p
    set_default_platform(None)


@pytest.fixture(autouse=True)
def _private_audit_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Audit events of the unit tier go to a log of the test's own, never the user's."""
    from helm_enterprise.audit import set_auditor

    monkeypatch.setenv("HELM_ENTERPRISE_AUDIT_LOG", str(tmp_path / "audit" / "audit.jsonl"))
    set_auditor(None)
    yield
    set_auditor(None)
