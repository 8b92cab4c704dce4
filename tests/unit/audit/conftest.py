from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helm_enterprise.audit import AuditLog, Auditor, set_auditor


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Caches (disk buffers) and the default log in the test's own directory; no ambient
    audit config; a fixed actor unless a test resolves it itself."""
    monkeypatch.setenv("HELM_ENTERPRISE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HELM_ENTERPRISE_AUDIT_LOG", str(tmp_path / "default-audit.jsonl"))
    monkeypatch.delenv("HELM_ENTERPRISE_AUDIT_CONFIG", raising=False)
    monkeypatch.setenv("HELM_ENTERPRISE_ACTOR", "tester@example.com")
    yield
    set_auditor(None)


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    return AuditLog(tmp_path / "audit.jsonl")


@pytest.fixture
def auditor(log: AuditLog) -> Iterator[Auditor]:
    a = Auditor(log)
    set_auditor(a)
    yield a
    set_auditor(None)
