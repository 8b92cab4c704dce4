"""No secret value reaches a record: known values, secret-looking fields, Outputs."""

from __future__ import annotations

import secrets
from pathlib import Path

import pulumi

from helm_enterprise.audit import AuditLog, Auditor, emit, register_secret
from helm_enterprise.audit.redact import REDACTED, scrub, secret_name

PASSWORD = f"pw-{secrets.token_hex(8)}"
TOKEN = f"tok-{secrets.token_hex(8)}"


def test_secret_named_fields_keep_references_and_lose_values() -> None:
    event = {
        "release": "web",
        "password": PASSWORD,
        "repository": {"auth": {"username": "ci", "password": "vault:secret/ci#pw"}},
        "secret_values": {"db.password": "vault:secret/db#pw", "api.key": PASSWORD},
        "headers": {"Authorization": f"Bearer {TOKEN}"},
        "apiKey": 12345,
        "references": ["vault:secret/db#pw", "k8s:ops/hec#token"],
    }
    clean = scrub(event, known=frozenset())
    text = repr(clean)
    assert PASSWORD not in text and TOKEN not in text and "12345" not in text
    assert clean["secret_values"]["db.password"] == "vault:secret/db#pw"
    assert clean["repository"]["auth"]["password"] == "vault:secret/ci#pw"
    assert clean["password"] == REDACTED
    assert clean["references"] == ["vault:secret/db#pw", "k8s:ops/hec#token"]
    assert clean["release"] == "web"


def test_known_values_are_cut_out_of_any_string() -> None:
    register_secret(TOKEN)
    clean = scrub({"error": f"HTTP 401: bad token {TOKEN}", "nested": [{"x": f"a{TOKEN}b"}]})
    assert TOKEN not in repr(clean)
    assert clean["error"] == f"HTTP 401: bad token {REDACTED}"


def test_outputs_and_unknowns_never_serialize() -> None:
    from pulumi.output import Unknown

    clean = scrub({"value": pulumi.Output.secret(PASSWORD), "later": Unknown()})
    assert clean == {"value": "[output]", "later": "[unknown]"}


def test_field_names() -> None:
    for name in (
        "password",
        "dbPassword",
        "api_key",
        "privateKey",
        "token",
        "clientKey",
        "Authorization",
        "auth",
        "credentials",
        "hmac_key",
    ):
        assert secret_name(name), name
    for name in ("release", "hash", "prev", "sig", "references", "chart", "who", "revision"):
        assert not secret_name(name), name


def test_emit_scrubs_before_the_record_is_hashed(tmp_path: Path) -> None:
    """The secret never touches the log, so verify stays green and grep finds nothing."""
    log = AuditLog(tmp_path / "audit.jsonl")
    from helm_enterprise.audit import set_auditor

    set_auditor(Auditor(log))
    register_secret(PASSWORD)
    emit(
        "update",
        phase="after",
        result="failed",
        release="web",
        error=f"helm said: password {PASSWORD} rejected",
        values={"db": {"password": PASSWORD}},
        token=TOKEN,
    )
    text = log.path.read_text()
    assert PASSWORD not in text and TOKEN not in text
    assert log.verify().ok
