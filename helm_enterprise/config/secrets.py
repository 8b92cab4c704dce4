"""References to secret values: Vault, Kubernetes Secrets and Pulumi secrets.

A credential or secret value is never a literal. It is one of:

* ``VaultRef`` — ``{vault: {path: secret/app, key: password, version: 3}}`` or the string
  shorthand ``"vault:secret/app#password"`` (``@3`` appended pins a KV v2 version);
* ``SecretKeyRef`` — a key of a Kubernetes Secret:
  ``{secretKeyRef: {name: repo-creds, key: password, namespace: ci}}`` or
  ``"k8s:ci/repo-creds#password"``;
* ``ConfigRef`` — a *secret* Pulumi stack config value: ``{config: repoPassword}`` after
  ``pulumi config set --secret repoPassword ...``;
* ``BackendRef`` — any other store registered on the ``Platform`` under a scheme:
  ``"env:DB_PASSWORD"`` and ``"file:/run/secrets/db.yaml#password"`` (``file:/path`` alone
  is the whole file) are built in, ``"<scheme>:<path>#<key>"`` reaches a custom backend;
* in Python, a ``pulumi.Output`` (wrapped as a secret by the component).

Values may also embed Vault references as templates: ``"postgres://app:${vault:secret/db#pw}@db"``.
A value containing a template is resolved at deploy time and becomes a Pulumi secret as a
whole. ``$${`` writes a literal ``${``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import pulumi
from pydantic import BeforeValidator, Field, field_validator, model_validator

from helm_enterprise.config._base import Model

_VAULT_SHORT = re.compile(r"^vault:(?P<path>[^#@\s]+)#(?P<key>[^#@\s]+)(?:@(?P<version>\d+))?$")
_K8S_SHORT = re.compile(
    r"^k8s:(?:(?P<ns>[a-z0-9-]+)/)?(?P<name>[a-z0-9.-]+)#(?P<key>[-._a-zA-Z0-9]+)$"
)
# env:VAR, file:/path[#key], and <scheme>:<path>#<key> for a backend the program registers.
# URLs (``https://host/x#y``) are not references: a custom path must not start with ``//``.
_ENV_SHORT = re.compile(r"^env:(?P<path>[A-Za-z_][A-Za-z0-9_]*)$")
_FILE_SHORT = re.compile(r"^file:(?P<path>[^#\s]+)(?:#(?P<key>[^#\s]+))?$")
_CUSTOM_SHORT = re.compile(
    r"^(?P<scheme>[a-z][a-z0-9]*(?:-[a-z0-9]+)*):(?!//)(?P<path>[^#\s]+)#(?P<key>[^#\s]+)$"
)
# Schemes with a meaning of their own, never a custom backend's.
_RESERVED = frozenset({"vault", "k8s", "env", "file", "config", "http", "https", "ssh", "git"})
WHOLE = ""  # the key of a BackendRef that means "the whole value" (env:VAR, file:/path)
TEMPLATE = re.compile(r"(?<!\$)\$\{\s*(vault:[^}\s]+)\s*\}")
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class VaultRef(Model):
    """A key of a Vault KV secret.

    ``path`` is the logical path including the mount (``secret/app``, not
    ``secret/data/app``); ``mount`` is only needed when the mount itself contains slashes.
    ``version`` pins a KV v2 version (KV v1 has none).
    """

    kind: Literal["vault"] = "vault"
    path: str
    key: str
    version: int | None = Field(default=None, ge=1)
    mount: str | None = None

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        v = v.strip("/")
        if not v or "/" not in v:
            raise ValueError(
                f"Vault path {v!r} must include the mount and the secret, e.g. 'secret/app'"
            )
        if "/data/" in f"/{v}/" and v.split("/", 2)[1] == "data":
            raise ValueError(
                f"use the logical path without '/data/' (e.g. '{v.replace('/data/', '/', 1)}'); "
                "the KV version is detected from the mount"
            )
        return v

    @model_validator(mode="after")
    def _mount_prefix(self) -> VaultRef:
        if self.mount and not self.path.startswith(self.mount.strip("/") + "/"):
            raise ValueError(f"path {self.path!r} does not start with mount {self.mount!r}")
        return self

    @property
    def mount_point(self) -> str:
        return (self.mount or self.path.split("/", 1)[0]).strip("/")

    @property
    def secret_path(self) -> str:
        return self.path[len(self.mount_point) + 1 :]

    def describe(self) -> str:
        """Printable form: names the path and key, never a value."""
        version = f"@{self.version}" if self.version else ""
        return f"vault:{self.path}#{self.key}{version}"


class SecretKeyRef(Model):
    """A key of a Kubernetes Secret (namespace defaults to the release's namespace)."""

    kind: Literal["secretKeyRef"] = "secretKeyRef"
    name: str
    key: str
    namespace: str | None = None

    @field_validator("name", "namespace")
    @classmethod
    def _dns(cls, v: str | None) -> str | None:
        if v is not None and not _DNS1123.match(v.replace(".", "-")):
            raise ValueError(f"{v!r} is not a valid Kubernetes name")
        return v

    def describe(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"k8s:{ns}{self.name}#{self.key}"


class ConfigRef(Model):
    """A secret value of this stack's Pulumi config (``pulumi config set --secret``)."""

    kind: Literal["config"] = "config"
    config: str

    def describe(self) -> str:
        return f"config:{self.config}"


class BackendRef(Model):
    """A key at a path of a store registered on the Platform under ``scheme``.

    ``env:VAR`` is ``BackendRef(scheme="env", path="VAR")``; ``file:/p#k`` and ``file:/p``
    (the whole file) use the built-in file backend; any other scheme is a backend the
    program passes to ``Platform(secret_backends=...)``. ``key`` ``""`` is the whole value.
    """

    kind: Literal["backend"] = "backend"
    scheme: str
    path: str
    key: str = WHOLE

    def describe(self) -> str:
        """Printable form: names the scheme, path and key, never a value."""
        key = f"#{self.key}" if self.key != WHOLE else ""
        return f"{self.scheme}:{self.path}{key}"


class OutputRef(Model):
    """A Pulumi Output given in Python; always treated (and wrapped) as a secret."""

    kind: Literal["output"] = "output"
    output: Any

    @field_validator("output")
    @classmethod
    def _is_output(cls, v: Any) -> Any:
        if not isinstance(v, pulumi.Output):
            raise ValueError("expected a pulumi.Output")
        return v

    def describe(self) -> str:
        return "pulumi-secret"


SecretRef = Annotated[
    VaultRef | SecretKeyRef | ConfigRef | BackendRef | OutputRef, Field(discriminator="kind")
]

LITERAL_HINT = (
    "credentials must not be literals: use a Vault reference ('vault:secret/app#password'), "
    "a Kubernetes Secret ('k8s:namespace/name#key'), an environment variable ('env:NAME'), "
    "a file ('file:/path#key'), a secret stack config value "
    "({config: name} after `pulumi config set --secret name ...`) or a pulumi.Output secret"
)


def coerce_secret_ref(value: object) -> object:
    """Normalise the accepted spellings into the tagged form pydantic validates.

    Raises ValueError (which becomes a ConfigError naming the field) for literals.
    """
    if isinstance(value, VaultRef | SecretKeyRef | ConfigRef | BackendRef | OutputRef):
        return value
    if isinstance(value, pulumi.Output):
        return {"kind": "output", "output": value}
    if isinstance(value, str):
        m = _VAULT_SHORT.match(value.strip())
        if m:
            ref: dict[str, object] = {"kind": "vault", "path": m["path"], "key": m["key"]}
            if m["version"]:
                ref["version"] = int(m["version"])
            return ref
        m = _K8S_SHORT.match(value.strip())
        if m:
            return {
                "kind": "secretKeyRef",
                "name": m["name"],
                "key": m["key"],
                "namespace": m["ns"],
            }
        backend = _backend_short(value.strip())
        if backend is not None:
            return backend
        raise ValueError(LITERAL_HINT)
    if isinstance(value, dict):
        if "kind" in value:
            return value
        keys = set(value)
        if keys == {"vault"} and isinstance(value["vault"], dict):
            return {"kind": "vault", **value["vault"]}
        if keys == {"secretKeyRef"} and isinstance(value["secretKeyRef"], dict):
            return {"kind": "secretKeyRef", **value["secretKeyRef"]}
        if keys == {"config"}:
            return {"kind": "config", "config": value["config"]}
        raise ValueError(
            "a secret reference is one of {vault: {path, key}}, {secretKeyRef: {name, key}}, "
            f"{{config: name}}; got keys {sorted(map(str, keys))}"
        )
    raise ValueError(LITERAL_HINT)


Secret = Annotated[SecretRef, BeforeValidator(coerce_secret_ref)]
"""A model field holding a secret reference, in any spelling :func:`coerce_secret_ref`
accepts."""

AnySecretRef = VaultRef | SecretKeyRef | ConfigRef | BackendRef | OutputRef
_MODELS: dict[str, type[AnySecretRef]] = {
    "vault": VaultRef,
    "secretKeyRef": SecretKeyRef,
    "config": ConfigRef,
    "backend": BackendRef,
    "output": OutputRef,
}


def parse_secret_ref(value: object) -> AnySecretRef:
    """The one parser of a secret reference outside a model field: any spelling
    :func:`coerce_secret_ref` accepts (``"vault:secret/app#pw"``, ``"k8s:ns/name#key"``,
    ``"env:NAME"``, ``{vault: {...}}``, a ``pulumi.Output`` ...) as its validated model.

    Raises ValueError for a literal or a malformed reference (pydantic's
    ``ValidationError``, a ValueError, for a reference whose fields are invalid).
    """
    coerced = coerce_secret_ref(value)
    if not isinstance(coerced, dict):
        assert isinstance(coerced, AnySecretRef)
        return coerced
    return _MODELS[str(coerced.get("kind"))].model_validate(coerced)


def names_reference(text: str) -> bool:
    """Whether ``text`` is how a reference is printed (:meth:`describe` of a Vault,
    Kubernetes, ``env:``/``file:`` or stack config reference), so it may stand where a
    secret would: it names the secret, it is not its value. A custom backend's scheme does
    not count (``word:word#word`` may well be a password)."""
    text = text.strip()
    if text.startswith("config:"):
        return len(text) > len("config:") and not any(c.isspace() for c in text)
    if _VAULT_SHORT.match(text) or _K8S_SHORT.match(text):
        return True
    backend = _backend_short(text)
    return backend is not None and backend["scheme"] in ("env", "file")


def is_reference(text: str) -> bool:
    """Whether a string is written as a reference (``vault:...#key``, ``k8s:...#key``)."""
    text = text.strip()
    return bool(_VAULT_SHORT.match(text) or _K8S_SHORT.match(text) or _backend_short(text))


def _backend_short(text: str) -> dict[str, object] | None:
    """The tagged form of ``env:``, ``file:`` and custom-scheme references, else None."""
    m = _ENV_SHORT.match(text)
    if m:
        return {"kind": "backend", "scheme": "env", "path": m["path"]}
    m = _FILE_SHORT.match(text)
    if m:
        return {"kind": "backend", "scheme": "file", "path": m["path"], "key": m["key"] or WHOLE}
    m = _CUSTOM_SHORT.match(text)
    if m and m["scheme"] not in _RESERVED:
        return {"kind": "backend", "scheme": m["scheme"], "path": m["path"], "key": m["key"]}
    return None


def find_templates(text: str) -> list[VaultRef]:
    """Vault references embedded in a string value as ``${vault:path#key}``."""
    refs = []
    for m in TEMPLATE.finditer(text):
        ref = parse_secret_ref(m.group(1))
        assert isinstance(ref, VaultRef)  # TEMPLATE only captures vault: references
        refs.append(ref)
    return refs


def render_template(text: str, resolved: dict[str, str]) -> str:
    """Substitute resolved values (keyed by ``VaultRef.describe()``) into a template."""

    def sub(m: re.Match[str]) -> str:
        return resolved[parse_secret_ref(m.group(1)).describe()]

    return TEMPLATE.sub(sub, text).replace("$${", "${")


def walk_templates(values: Any, path: str = "") -> list[tuple[str, VaultRef]]:
    """Every (value path, reference) of templates inside a values tree."""
    found: list[tuple[str, VaultRef]] = []
    if isinstance(values, str):
        found += [(path, r) for r in find_templates(values)]
    elif isinstance(values, dict):
        for k, v in values.items():
            found += walk_templates(v, f"{path}.{k}" if path else str(k))
    elif isinstance(values, list):
        for i, v in enumerate(values):
            found += walk_templates(v, f"{path}[{i}]")
    return found
