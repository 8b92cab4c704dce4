from __future__ import annotations

from pathlib import Path

import pytest

from helm_enterprise.components.context import Platform, set_default_platform
from helm_enterprise.config import ClusterConfig

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def platform() -> Platform:
    """A platform with no Vault and an unreachable cluster (pre-apply checks skip)."""
    p = Platform(cluster=ClusterConfig(kubeconfig="/nonexistent/kubeconfig"), base_dir=REPO)
    set_default_platform(p)
    yield p
    set_default_platform(None)
