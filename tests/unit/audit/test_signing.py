"""Signatures over record hashes: HMAC and Ed25519, checked by verify."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from helm_enterprise.audit import AuditLog
from helm_enterprise.audit.log import record_hash
from helm_enterprise.audit.signing import (
    Ed25519Verifier,
    Signer,
    ed25519_private,
    ed25519_public,
    hmac_key,
    make_signer,
)
from helm_enterprise.errors import AuditError

HMAC = secrets.token_hex(24)


def signed_log(path: Path, signer: Signer | None, n: int = 4) -> AuditLog:
    log = AuditLog(path, signer=signer)
    for i in range(n):
        log.append({"action": "update", "who": "x", "release": f"r{i}"})
    return log


def test_hmac_signed_log_verifies_with_the_key_only(tmp_path: Path) -> None:
    log = signed_log(tmp_path / "a.jsonl", make_signer("hmac", HMAC, "vault:secret/audit#hmac"))
    rec = next(log.records())
    assert rec["sig"]["alg"] == "hmac-sha256" and rec["sig"]["kid"] == "vault:secret/audit#hmac"
    ok = log.verify(hmac_key(HMAC, ""))
    assert ok.ok and ok.signatures == 4
    wrong = log.verify(hmac_key(secrets.token_hex(24), ""))
    assert not wrong.ok and wrong.first_bad == 1 and "signature invalid" in wrong.reason
    # Without a key the chain still verifies, with a note.
    plain = log.verify()
    assert plain.ok and plain.notes
    assert HMAC not in log.path.read_text()


def test_a_rechained_rewrite_is_caught_by_the_signature(tmp_path: Path) -> None:
    """Someone rewrites record 2 and recomputes every hash after it: the chain alone is
    fine, the signature of record 2 is not."""
    log = signed_log(tmp_path / "a.jsonl", make_signer("hmac", HMAC, "k"))
    recs = [json.loads(line) for line in log.path.read_text().splitlines()]
    recs[1]["release"] = "evil"
    for i in range(1, len(recs)):
        recs[i]["prev"] = recs[i - 1]["hash"]
        recs[i]["hash"] = record_hash(recs[i])
    log.path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    assert log.verify().ok  # no key: undetectable by the chain
    result = log.verify(hmac_key(HMAC, ""))
    assert not result.ok and result.seq == 2 and "signature invalid" in result.reason


def test_a_stripped_signature_is_caught_without_a_key(tmp_path: Path) -> None:
    log = signed_log(tmp_path / "a.jsonl", make_signer("hmac", HMAC, "k"))
    recs = [json.loads(line) for line in log.path.read_text().splitlines()]
    del recs[2]["sig"]
    log.path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    result = log.verify()
    assert not result.ok and result.seq == 3 and "signature missing" in result.reason


def test_unsigned_records_fail_when_signatures_are_required(tmp_path: Path) -> None:
    log = signed_log(tmp_path / "a.jsonl", None, 2)
    result = log.verify(require_signatures=True)
    assert not result.ok and result.first_bad == 1


@pytest.mark.parametrize("form", ["pem", "raw"])
def test_ed25519_signed_log_verifies_with_the_public_key(tmp_path: Path, form: str) -> None:
    private = Ed25519PrivateKey.generate()
    if form == "pem":
        material = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
    else:
        material = base64.b64encode(
            private.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
        ).decode()
    signer = make_signer("ed25519", material, "")
    assert signer.kid.startswith("ed25519:")
    log = signed_log(tmp_path / "a.jsonl", signer)
    public_pem = Ed25519Verifier(ed25519_private(material).public_key()).pem()
    result = log.verify(Ed25519Verifier(ed25519_public(public_pem)))
    assert result.ok and result.signatures == 4
    other = Ed25519Verifier(Ed25519PrivateKey.generate().public_key())
    assert not log.verify(other).ok
    assert not log.verify(hmac_key(HMAC, "")).ok  # wrong algorithm


def test_bad_keys_are_clear_errors_without_the_key_in_them() -> None:
    with pytest.raises(AuditError, match="shorter than 16"):
        hmac_key("short", "")
    with pytest.raises(AuditError) as err:
        ed25519_private("not-a-key-at-all")
    assert "not-a-key-at-all" not in str(err.value)
    with pytest.raises(AuditError):
        make_signer("rsa", HMAC, "")
