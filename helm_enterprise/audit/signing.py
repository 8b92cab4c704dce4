"""Signatures over audit records: HMAC-SHA256 or Ed25519 (``cryptography``).

A signature covers the record's ``hash``, which covers every other field and, through
``prev``, the whole chain before it. So a valid signature on the last record vouches for the
log up to it, and someone without the key cannot rewrite the log and re-chain it.

* ``hmac``: one shared key signs and verifies. Whoever verifies can also sign.
* ``ed25519``: the private key signs (PEM, or base64 of the 32-byte seed); auditors
  verify with the public key alone (PEM, or base64 of the 32 raw bytes).

Key material never appears in records or messages: the key id (``kid``) is the
configured ``keyId``, else the key's *reference* (HMAC) or the public key's fingerprint
(Ed25519).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from helm_enterprise.errors import AuditError

HMAC_ALG = "hmac-sha256"
ED25519_ALG = "ed25519"


class Signer(Protocol):
    """Signs a record hash."""

    @property
    def alg(self) -> str: ...

    @property
    def kid(self) -> str: ...

    def sign(self, digest: str) -> str: ...


class Verifier(Protocol):
    """Checks a signature made by the matching :class:`Signer`."""

    @property
    def alg(self) -> str: ...

    def verify(self, digest: str, signature: str) -> bool: ...


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as err:
        raise AuditError("signature key or value is not valid base64") from err


@dataclasses.dataclass(frozen=True, repr=False)
class HmacKey:
    """HMAC-SHA256 with a shared key (both a Signer and a Verifier)."""

    key: bytes
    kid: str
    alg: str = HMAC_ALG

    def __repr__(self) -> str:
        return f"HmacKey(kid={self.kid!r})"

    def sign(self, digest: str) -> str:
        return _b64(hmac.new(self.key, digest.encode(), hashlib.sha256).digest())

    def verify(self, digest: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(digest), signature)


@dataclasses.dataclass(frozen=True, repr=False)
class Ed25519Signer:
    private: Ed25519PrivateKey
    kid: str
    alg: str = ED25519_ALG

    def __repr__(self) -> str:
        return f"Ed25519Signer(kid={self.kid!r})"

    def sign(self, digest: str) -> str:
        return _b64(self.private.sign(digest.encode()))

    def public(self) -> Ed25519Verifier:
        return Ed25519Verifier(self.private.public_key())


@dataclasses.dataclass(frozen=True)
class Ed25519Verifier:
    public_key: Ed25519PublicKey
    alg: str = ED25519_ALG

    def verify(self, digest: str, signature: str) -> bool:
        try:
            self.public_key.verify(_unb64(signature), digest.encode())
        except (InvalidSignature, AuditError):
            return False
        return True

    def pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()


def fingerprint(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


def hmac_key(material: str, kid: str) -> HmacKey:
    if len(material) < 16:
        raise AuditError("the HMAC key is shorter than 16 characters; use a random key")
    return HmacKey(material.encode(), kid)


def ed25519_private(material: str) -> Ed25519PrivateKey:
    text = material.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise AuditError("the signing key is a PEM key, but not an Ed25519 one")
            return key
        return Ed25519PrivateKey.from_private_bytes(_unb64(text))
    except ValueError as err:
        raise AuditError("the signing key is not an Ed25519 private key") from err


def ed25519_public(material: str) -> Ed25519PublicKey:
    text = material.strip()
    try:
        if text.startswith("-----BEGIN"):
            if "PRIVATE KEY" in text:
                return ed25519_private(text).public_key()
            key = serialization.load_pem_public_key(text.encode())
            if not isinstance(key, Ed25519PublicKey):
                raise AuditError("the public key is a PEM key, but not an Ed25519 one")
            return key
        raw = _unb64(text)
        if len(raw) == 32:
            return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as err:
        raise AuditError("not an Ed25519 public key") from err
    raise AuditError("not an Ed25519 public key (PEM, or base64 of 32 bytes)")


def make_signer(method: str, material: str, kid: str) -> Signer:
    """A signer for ``method`` (``hmac`` or ``ed25519``) from key material."""
    if method == "hmac":
        return hmac_key(material, kid)
    if method == "ed25519":
        private = ed25519_private(material)
        return Ed25519Signer(private, kid or fingerprint(private.public_key()))
    raise AuditError(f"unknown signing method {method!r} (hmac or ed25519)")


def signature(signer: Signer, digest: str) -> dict[str, str]:
    """The ``sig`` field of a record whose hash is ``digest``."""
    return {"alg": signer.alg, "kid": signer.kid, "value": signer.sign(digest)}


def check(record: Mapping[str, Any], verifier: Verifier) -> str | None:
    """Why the record's signature does not hold, or None when it does."""
    sig = record.get("sig")
    if not isinstance(sig, Mapping):
        return "signature missing"
    if sig.get("alg") != verifier.alg:
        return f"signed with {sig.get('alg')!r}, verifying with {verifier.alg!r}"
    if not verifier.verify(str(record.get("hash", "")), str(sig.get("value", ""))):
        return f"signature invalid (key id {sig.get('kid')!r})"
    return None
