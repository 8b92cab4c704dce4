"""Configuration models shared by the Python API and stack config (X.3).

Pure: imports nothing else of the package but :mod:`helm_enterprise.errors`. Every entry
point validates through :func:`validate_model`, which turns pydantic's errors into one
:class:`~helm_enterprise.errors.ConfigError` naming each field path.
"""

from __future__ import annotations

from helm_enterprise.config._base import Duration, format_duration, parse_duration, validate_model
from helm_enterprise.config.audit import AuditConfig
from helm_enterprise.config.git import GitAuth, GitSource
from helm_enterprise.config.release import (
    BasicAuth,
    BearerAuth,
    ChartSpec,
    EffectiveTimeouts,
    ReleaseConfig,
    RepositoryConfig,
    RollbackPolicy,
    RollOnSecretChange,
    TimeoutConfig,
    TimeoutValues,
    TlsAuth,
    ValidationPolicy,
    effective_timeouts,
)
from helm_enterprise.config.secrets import (
    BackendRef,
    ConfigRef,
    OutputRef,
    SecretKeyRef,
    SecretRef,
    VaultRef,
)
from helm_enterprise.config.stack import (
    AppRoleAuth,
    ClusterConfig,
    CredentialSource,
    JwtAuth,
    KubernetesAuth,
    StackConfig,
    TokenAuth,
    VaultConfig,
    find_cycle,
)

__all__ = [
    "AppRoleAuth",
    "AuditConfig",
    "BackendRef",
    "BasicAuth",
    "BearerAuth",
    "ChartSpec",
    "ClusterConfig",
    "ConfigRef",
    "CredentialSource",
    "Duration",
    "EffectiveTimeouts",
    "GitAuth",
    "GitSource",
    "JwtAuth",
    "KubernetesAuth",
    "OutputRef",
    "ReleaseConfig",
    "RepositoryConfig",
    "RollOnSecretChange",
    "RollbackPolicy",
    "SecretKeyRef",
    "SecretRef",
    "StackConfig",
    "TimeoutConfig",
    "TimeoutValues",
    "TlsAuth",
    "TokenAuth",
    "ValidationPolicy",
    "VaultConfig",
    "VaultRef",
    "effective_timeouts",
    "find_cycle",
    "format_duration",
    "parse_duration",
    "validate_model",
]
