"""HashiCorp Vault backend (T1.2) on hvac: token, AppRole, Kubernetes and JWT/OIDC login;
KV v1 and v2 (optionally a pinned v2 version).

hvac errors are mapped in one place, :func:`classify`, into :class:`SecretBackendError`
messages that name Vault's address and the path, never a value.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import requests

from helm_enterprise.config.stack import (
    AppRoleAuth,
    CredentialSource,
    JwtAuth,
    KubernetesAuth,
    TokenAuth,
    VaultConfig,
)
from helm_enterprise.errors import ConfigError, SecretBackendError, truncate
from helm_enterprise.secrets._backend import SecretData

CredentialReader = Callable[[CredentialSource], str]


def read_credential(source: CredentialSource) -> str:
    """Default reader for env/file credentials; ``config`` needs the Pulumi runtime and is
    supplied by the component layer (see
    :func:`helm_enterprise.components.context.read_pulumi_credential`)."""
    if source.env:
        value = os.environ.get(source.env)
        if not value:
            raise ConfigError(
                f"environment variable {source.env} is not set",
                path="vault.auth",
                hint="export it, or point the credential at a file or a secret stack config key",
            )
        return value.strip()
    if source.file:
        try:
            return Path(source.file).expanduser().read_text().strip()
        except OSError as err:
            raise ConfigError(
                f"cannot read Vault credential file {source.file}: {err.strerror}",
                path="vault.auth",
            ) from None
    raise ConfigError(
        f"credential {source.describe()} needs the Pulumi runtime (stack config)",
        path="vault.auth",
    )


class VaultBackend:
    """Reads KV secrets from one Vault. Logs in lazily, once, on the first read."""

    scheme = "vault"

    def __init__(
        self,
        config: VaultConfig,
        credentials: CredentialReader = read_credential,
        client_factory: Callable[..., Any] = hvac.Client,
    ) -> None:
        address = config.address or os.environ.get("VAULT_ADDR")
        if not address:
            raise ConfigError(
                "no Vault address",
                path="vault.address",
                hint="set helm-enterprise:vault.address or VAULT_ADDR",
            )
        self.config = config
        self.address = address.rstrip("/")
        self._credentials = credentials
        self._client_factory = client_factory
        self._client: Any = None
        self._lock = threading.Lock()
        self._kv_versions: dict[str, int] = {}
        self.reads = 0  # number of secret reads sent to Vault (benchmarks assert on it)

    def describe(self) -> str:
        return f"Vault at {self.address}"

    # -- login ----------------------------------------------------------------------------

    def _new_client(self) -> Any:
        verify: bool | str = True
        if self.config.tls_skip_verify:
            verify = False
        elif self.config.ca_file:
            verify = self.config.ca_file
        return self._client_factory(
            url=self.address,
            namespace=self.config.namespace,
            verify=verify,
            timeout=self.config.timeout,
        )

    def client(self, for_path: str = "") -> Any:
        """The logged-in client; ``for_path`` names the secret being read in errors."""
        with self._lock:
            if self._client is None:
                client = self._new_client()
                self._login(client, for_path)
                self._client = client
            return self._client

    def _login(self, client: Any, for_path: str) -> None:
        auth = self.config.auth
        where = f"{self.describe()} ({auth.method} login)"
        try:
            if isinstance(auth, TokenAuth):
                client.token = self._credentials(auth.token)
                client.auth.token.lookup_self()
            elif isinstance(auth, AppRoleAuth):
                client.auth.approle.login(
                    role_id=auth.role_id,
                    secret_id=self._credentials(auth.secret_id),
                    mount_point=auth.mount,
                )
            elif isinstance(auth, KubernetesAuth):
                client.auth.kubernetes.login(
                    role=auth.role, jwt=self._credentials(auth.jwt), mount_point=auth.mount
                )
            elif isinstance(auth, JwtAuth):
                client.auth.jwt.jwt_login(
                    role=auth.role, jwt=self._credentials(auth.jwt), path=auth.mount
                )
        except requests.ConnectionError as err:
            raise classify(err, where=self.describe(), path=for_path or "login") from err
        except (hvac.exceptions.VaultError, requests.RequestException) as err:
            raise classify(
                err, where=where, path=f"auth/{getattr(auth, 'mount', 'token')}"
            ) from err

    # -- reads ----------------------------------------------------------------------------

    def kv_version(self, mount: str, for_path: str = "") -> int:
        """KV version of ``mount`` (config ``kvVersion`` wins; else asked once per mount).

        An identity that may not read ``sys/internal/ui/mounts`` gets KV v2 (the default
        engine since Vault 1.1); the read that follows then reports the real problem.
        """
        if self.config.kv_version:
            return self.config.kv_version
        with self._lock:
            cached = self._kv_versions.get(mount)
        if cached:
            return cached
        client = self.client(for_path or mount)
        try:
            resp = client.adapter.get(f"/v1/sys/internal/ui/mounts/{mount}")
            data = resp.get("data", {}) if isinstance(resp, dict) else {}
            options = data.get("options") or {}
            version = int(options.get("version", 1))
        except hvac.exceptions.Forbidden:
            version = 2
        except (hvac.exceptions.VaultError, requests.RequestException) as err:
            raise classify(err, where=self.describe(), path=for_path or mount) from err
        with self._lock:
            self._kv_versions[mount] = version
        return version

    def read(self, path: str, version: int | None = None) -> SecretData:
        mount, _, secret_path = path.partition("/")
        return self.read_mount(mount, secret_path, version)

    def read_mount(self, mount: str, secret_path: str, version: int | None = None) -> SecretData:
        full = f"{mount}/{secret_path}"
        client = self.client(full)  # log in first, so login errors name this secret
        kv = self.kv_version(mount, full)
        if kv == 1 and version is not None:
            raise SecretBackendError(
                f"{full} is in a KV v1 mount, which has no versions; remove the version",
                reference=full,
                backend=self.describe(),
            )
        self.reads += 1
        try:
            if kv == 2:
                resp = client.secrets.kv.v2.read_secret_version(
                    path=secret_path,
                    mount_point=mount,
                    version=version,
                    raise_on_deleted_version=True,
                )
                body = resp["data"]
                data = body.get("data") or {}
                meta_version = (body.get("metadata") or {}).get("version")
                return SecretData(_stringify(data), int(meta_version) if meta_version else None)
            resp = client.secrets.kv.v1.read_secret(path=secret_path, mount_point=mount)
            return SecretData(_stringify(resp.get("data") or {}), None)
        except (hvac.exceptions.VaultError, requests.RequestException) as err:
            where = self.describe()
            suffix = f" version {version}" if version else ""
            raise classify(err, where=where, path=full + suffix) from err


def _stringify(data: dict[str, Any]) -> dict[str, str]:
    return {str(k): v if isinstance(v, str) else str(v) for k, v in data.items()}


def classify(err: Exception, *, where: str, path: str) -> SecretBackendError:
    """Map an hvac/requests error to one clear message (the single classifier)."""
    if isinstance(err, requests.ConnectionError | requests.Timeout):
        msg = f"{where} unreachable (path {path})"
    elif isinstance(err, hvac.exceptions.Forbidden):
        msg = f"{where} denied access to {path} (permission denied for this identity)"
    elif isinstance(err, hvac.exceptions.InvalidPath):
        msg = f"{where} has no secret at {path}"
    elif isinstance(err, hvac.exceptions.Unauthorized):
        msg = f"{where} rejected the login (path {path}): check the credential"
    elif isinstance(err, hvac.exceptions.VaultDown):
        msg = f"{where} is sealed or in maintenance (path {path})"
    elif isinstance(err, hvac.exceptions.VaultError):
        errors = getattr(err, "errors", None) or [str(err)]
        detail = truncate("; ".join(str(e) for e in errors))
        msg = f"{where} refused {path}: {detail}"
    else:
        msg = f"{where} request failed for {path}: {type(err).__name__}"
    return SecretBackendError(msg, reference=path, backend=where)
