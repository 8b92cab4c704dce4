"""The sandbox's Vault: a dev-mode server on loopback, configured for the T1.2 tests.

``vault server -dev`` keeps everything in memory and comes up unsealed, which is what a
throwaway test platform wants. :meth:`VaultServer.up` starts it (through
:class:`~helm_enterprise.sandbox._process.Service`, so it outlives the calling process and
``down`` finds it by pid file) and then configures it over the HTTP API with hvac,
idempotently, so ``up`` can be called again at any time:

* KV v2 at ``secret/`` (the dev default) and KV **v1** at ``kv1/``;
* policy ``helm-enterprise-read`` (read on ``secret/data/*``, ``secret/metadata/*``,
  ``kv1/*``) and ``helm-enterprise-denied`` (explicit deny on both mounts, for
  permission-denied tests);
* AppRole auth at ``approle/`` and JWT auth at ``jwt/``, each with a role
  ``helm-enterprise`` (read policy) and a role ``denied`` (denied policy). JWTs are checked
  against a locally generated RSA key (``jwt_validation_pubkeys``), audience
  ``helm-enterprise``, ``user_claim`` ``sub``; :meth:`VaultServer.mint_jwt` signs test
  tokens with the private half.

Kubernetes auth is not configured here: it needs a sandbox cluster's API server and a
token reviewer service account, so the cluster layer will add it once both exist.

Secrets handling. The dev server prints its root token to its log, so that token is a
throwaway: after start the sandbox creates its own root token (random, generated once per
sandbox, kept in the state dir with mode 0600 and never printed) and revokes the printed
one. The JWT signing key lives next to it, also 0600.
"""

from __future__ import annotations

import base64
import functools
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx
import hvac
import hvac.exceptions
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from filelock import FileLock

from helm_enterprise.errors import SandboxError, truncate
from helm_enterprise.sandbox._paths import ServicePorts, logs_dir, state_dir
from helm_enterprise.sandbox._pki import write_private
from helm_enterprise.sandbox._process import Service, ever_started, not_started
from helm_enterprise.sandbox.toolchain import Toolchain

ProgressFn = Callable[[str], None]

ROLE = "helm-enterprise"
DENIED_ROLE = "denied"
AUDIENCE = "helm-enterprise"
ISSUER = "helm-enterprise-sandbox"
READ_POLICY = "helm-enterprise-read"
DENIED_POLICY = "helm-enterprise-denied"

_POLICIES = {
    READ_POLICY: """
path "secret/data/*" { capabilities = ["read"] }
path "secret/metadata/*" { capabilities = ["read"] }
path "kv1/*" { capabilities = ["read"] }
""",
    # A policy must say something; explicit deny makes the intent plain (403 everywhere).
    DENIED_POLICY: """
path "secret/*" { capabilities = ["deny"] }
path "kv1/*" { capabilities = ["deny"] }
""",
}
_ROLES = {ROLE: READ_POLICY, DENIED_ROLE: DENIED_POLICY}
_LOGIN_TTL = "1h"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class VaultServer:
    """The sandbox's dev-mode Vault: start, configure, stop, and credentials for tests."""

    name = "vault"

    def __init__(self, toolchain: Toolchain) -> None:
        self.toolchain = toolchain
        self.state = state_dir(self.name)
        self._service = Service(
            name=self.name,
            # argv and ports are set in up(): binary and port are resolved only when needed
            argv=[],
            state_dir=self.state,
            log_dir=logs_dir(),
            probe=self._healthy,
            ready_timeout=60.0,
        )

    @functools.cached_property
    def port(self) -> int:
        return ServicePorts.default().vault

    # -- where and who --------------------------------------------------------------------

    @property
    def address(self) -> str:
        """``http://127.0.0.1:<port>`` (plain HTTP on loopback only)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def root_token(self) -> str:
        """The sandbox's root token (created on first use, stored 0600; never print it)."""
        path = self.state / "root-token"
        if not path.exists():
            self._private_dir()
            write_private(path, secrets.token_hex(24).encode())
        return path.read_text().strip()

    def _private_dir(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        self.state.chmod(0o700)

    def _signing_key(self) -> rsa.RSAPrivateKey:
        """The RSA key JWT auth trusts (generated once per sandbox, stored 0600)."""
        path = self.state / "jwt-signing-key.pem"
        if not path.exists():
            self._private_dir()
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            write_private(path, pem)
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise SandboxError(f"{path} is not an RSA private key; delete it and run up again")
        return loaded

    def _public_pem(self) -> str:
        return (
            self._signing_key()
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    # -- lifecycle ------------------------------------------------------------------------

    def _healthy(self) -> bool:
        # 200 = initialised, unsealed and active (sys/health's own definition of ready).
        resp = httpx.get(f"{self.address}/v1/sys/health", timeout=2.0)
        return resp.status_code == 200

    def up(self, progress: ProgressFn = print) -> None:
        """Start Vault if needed and (re)apply the sandbox configuration. Idempotent."""
        started = time.monotonic()
        self._private_dir()
        with FileLock(str(self.state / "up.lock")):
            # The token the dev server prints to its log; replaced and revoked below.
            throwaway = secrets.token_hex(16)
            self._service.argv = [
                self.toolchain.path("vault"),
                "server",
                "-dev",
                f"-dev-listen-address=127.0.0.1:{self.port}",
                # Without this the dev server writes its token to ~/.vault-token.
                "-dev-no-store-token",
            ]
            self._service.env = {"VAULT_DEV_ROOT_TOKEN_ID": throwaway, "VAULT_LOG_LEVEL": "info"}
            self._service.ports = (self.port,)
            was_running = self._service.running()
            self._service.start()
            if not self._token_valid(self.root_token):
                if was_running:
                    # Running, but not set up by us (an interrupted up, or a restart of the
                    # process by hand). Dev storage is in memory: restarting loses nothing.
                    progress("vault: running without the sandbox root token; restarting it")
                    self._service.stop()
                    self._service.start()
                self._adopt_root_token(throwaway)
            self._configure()
        progress(f"vault: ready at {self.address} ({time.monotonic() - started:.1f}s)")

    def started(self) -> bool:
        """Whether ``up`` ever started Vault here (see :func:`ever_started`)."""
        return ever_started((self.name,), self.state, logs_dir())

    def down(self) -> None:
        """Stop the server (its in-memory data goes with it; the state dir stays)."""
        self._service.stop()

    def status(self) -> dict[str, object]:
        """Pid, running/ready, log path and address; never raises."""
        if not self.started():
            return not_started(self.name)
        return {**self._service.describe(), "address": self.address}

    # -- clients and credentials for tests --------------------------------------------------

    def client(self, token: str | None = None) -> Any:
        """An hvac client for this Vault, logged in with ``token`` (default: root)."""
        return hvac.Client(url=self.address, token=token or self.root_token, timeout=10)

    def approle_credentials(self, role: str = ROLE) -> tuple[str, str]:
        """``(role_id, secret_id)`` of an AppRole role; every call issues a new secret_id."""
        c = self.client()
        try:
            role_id = c.auth.approle.read_role_id(role_name=role)["data"]["role_id"]
            secret_id = c.auth.approle.generate_secret_id(role_name=role)["data"]["secret_id"]
        except (hvac.exceptions.VaultError, requests.RequestException) as err:
            raise self._error(f"issuing AppRole credentials for role {role}", err) from err
        return str(role_id), str(secret_id)

    def denied_token(self) -> str:
        """A fresh token whose only policy denies every secret read (403 tests)."""
        c = self.client()
        try:
            resp = c.auth.token.create(policies=[DENIED_POLICY], ttl=_LOGIN_TTL)
        except (hvac.exceptions.VaultError, requests.RequestException) as err:
            raise self._error("creating the denied token", err) from err
        return str(resp["auth"]["client_token"])

    def mint_jwt(self, subject: str, *, audience: str = AUDIENCE, ttl: int = 600) -> str:
        """An RS256 JWT that ``jwt/`` accepts (for role ``helm-enterprise`` or ``denied``).

        A JWS is two base64url JSON documents and a signature over them; that is small
        enough not to need a JWT library for signing test tokens.
        """
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT"}
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "aud": audience,
            "iat": now,
            "nbf": now - 5,
            "exp": now + ttl,
        }
        signing_input = ".".join(
            _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        ).encode()
        signature = self._signing_key().sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input.decode()}.{_b64url(signature)}"

    # -- internals ------------------------------------------------------------------------

    def _token_valid(self, token: str) -> bool:
        try:
            self.client(token).auth.token.lookup_self()
        except hvac.exceptions.Forbidden:
            return False
        except (hvac.exceptions.VaultError, requests.RequestException) as err:
            raise self._error("checking the sandbox root token", err) from err
        return True

    def _adopt_root_token(self, throwaway: str) -> None:
        """Create the sandbox's own root token, then revoke the one in the server log."""
        boot = self.client(throwaway)
        try:
            boot.auth.token.create(
                id=self.root_token,
                policies=["root"],
                no_parent=True,
                display_name="helm-enterprise-sandbox",
            )
            boot.auth.token.revoke_self()
        except (hvac.exceptions.VaultError, requests.RequestException) as err:
            raise self._error("creating the sandbox root token", err) from err

    def _configure(self) -> None:
        c = self.client()
        step = "reading mounts"
        try:
            mounts = c.sys.list_mounted_secrets_engines()["data"]
            for path, version in (("secret", "2"), ("kv1", "1")):
                step = f"mounting KV v{version} at {path}/"
                if f"{path}/" not in mounts:
                    c.sys.enable_secrets_engine("kv", path=path, options={"version": version})
            for name, hcl in _POLICIES.items():
                step = f"writing policy {name}"
                c.sys.create_or_update_policy(name=name, policy=hcl.strip())
            auths = c.sys.list_auth_methods()["data"]
            for method in ("approle", "jwt"):
                step = f"enabling {method} auth"
                if f"{method}/" not in auths:
                    c.sys.enable_auth_method(method, path=method)
            step = "configuring JWT auth"
            c.auth.jwt.configure(
                jwt_validation_pubkeys=[self._public_pem()],
                bound_issuer=ISSUER,
                jwt_supported_algs=["RS256"],
                path="jwt",
            )
            for role, policy in _ROLES.items():
                step = f"writing AppRole role {role}"
                c.auth.approle.create_or_update_approle(
                    role_name=role, token_policies=[policy], token_ttl=_LOGIN_TTL
                )
                step = f"writing JWT role {role}"
                c.auth.jwt.create_role(
                    name=role,
                    role_type="jwt",
                    user_claim="sub",
                    allowed_redirect_uris=[],
                    bound_audiences=[AUDIENCE],
                    token_policies=[policy],
                    token_ttl=_LOGIN_TTL,
                    path="jwt",
                )
        except (hvac.exceptions.VaultError, requests.RequestException) as err:
            raise self._error(step, err) from err

    def _error(self, step: str, err: Exception) -> SandboxError:
        return SandboxError(
            f"vault at {self.address}: {step} failed: {truncate(str(err))}",
            log_path=self._service.log_file,
        )
