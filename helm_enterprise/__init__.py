"""helm_enterprise: Pulumi components that run Helm releases the way enterprises need.

Public API (everything else is internal)::

    from helm_enterprise import Release

    Release("web", {
        "namespace": "shop",
        "chart": {"name": "podinfo", "version": "6.5.0",
                  "repository": {"url": "https://charts.corp", "auth": [{
                      "method": "basic", "username": "ci",
                      "password": "vault:secret/charts#password"}]}},
        "secret_values": {"db.password": "vault:secret/shop/db#password"},
    })
"""

from __future__ import annotations

from helm_enterprise.components.context import Platform
from helm_enterprise.components.group import ReleaseGroup
from helm_enterprise.components.multicluster import MultiClusterRelease, MultiClusterReleaseArgs
from helm_enterprise.components.release import Release, ReleaseArgs
from helm_enterprise.components.tenant import Tenant, TenantArgs, check_tenants
from helm_enterprise.config import (
    BackendRef,
    ConfigRef,
    ReleaseConfig,
    RepositoryConfig,
    SecretKeyRef,
    StackConfig,
    VaultConfig,
    VaultRef,
)
from helm_enterprise.config.tenant import TenantConfig, TierConfig
from helm_enterprise.errors import (
    ChartSourceError,
    ConfigError,
    DependencyError,
    HelmEnterpriseError,
    RepositoryAuthError,
    SecretBackendError,
    ValidationError,
)
from helm_enterprise.kube.client import ClusterAccess
from helm_enterprise.secrets import (
    EnvBackend,
    FileBackend,
    KubernetesSecretBackend,
    SecretBackend,
    SecretData,
    VaultBackend,
)

__all__ = [
    "BackendRef",
    "ChartSourceError",
    "ClusterAccess",
    "ConfigError",
    "ConfigRef",
    "DependencyError",
    "EnvBackend",
    "FileBackend",
    "HelmEnterpriseError",
    "KubernetesSecretBackend",
    "MultiClusterRelease",
    "MultiClusterReleaseArgs",
    "Platform",
    "Release",
    "ReleaseArgs",
    "ReleaseConfig",
    "ReleaseGroup",
    "RepositoryAuthError",
    "RepositoryConfig",
    "SecretBackend",
    "SecretBackendError",
    "SecretData",
    "SecretKeyRef",
    "StackConfig",
    "Tenant",
    "TenantArgs",
    "TenantConfig",
    "TierConfig",
    "ValidationError",
    "VaultBackend",
    "VaultConfig",
    "VaultRef",
    "check_tenants",
]
