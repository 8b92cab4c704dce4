"""helm-enterprise:audit: validation with field paths, and the auditor built from it."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from helm_enterprise.audit import emit
from helm_enterprise.audit.setup import build_auditor, from_environment, install
from helm_enterprise.config import StackConfig, validate_model
from helm_enterprise.config.audit import AuditConfig, parse_size
from helm_enterprise.config.secrets import ConfigRef, SecretKeyRef, VaultRef
from helm_enterprise.errors import AuditError, ConfigError

HMAC = secrets.token_hex(24)


def test_sizes() -> None:
    assert parse_size("64Mi") == 64 * 1024**2 and parse_size("1k") == 1000
    with pytest.raises(ValueError, match="not a size"):
        parse_size("lots")


@pytest.mark.parametrize(
    ("audit", "path", "message"),
    [
        (
            {"signing": {"method": "hmac", "key": "s3cr3t"}},
            "audit.signing.key",
            "must not be literals",
        ),
        (
            {"sinks": [{"type": "http", "url": "http://siem.corp/c", "token": "k8s:o/t#k"}]},
            "audit.sinks[0]",
            "clear text",
        ),
        (
            {
                "sinks": [
                    {
                        "type": "http",
                        "url": "https://x/c",
                        "headers": {"Authorization": "Splunk abc"},
                    }
                ]
            },
            "audit.sinks[0]",
            "would carry a credential",
        ),
        (
            {
                "sinks": [
                    {"type": "syslog", "host": "a"},
                    {"type": "syslog", "host": "b", "name": "syslog-0"},
                ]
            },
            "audit.sinks[1].name",
            "already used",
        ),
        ({"sinks": [{"type": "kafka"}]}, "audit.sinks[0]", ""),
        ({"retentionDays": 0}, "audit.retentionDays", ""),
        ({"rotateBytes": "huge"}, "audit.rotateBytes", "not a size"),
        (
            {"sinks": [{"type": "syslog", "host": "a", "protocl": "tls"}]},
            "audit.sinks[0]",
            "protocl",
        ),
    ],
)
def test_invalid_audit_config_names_the_field(audit: object, path: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate_model(StackConfig, {"audit": audit})
    assert err.value.path.startswith(path), (err.value.path, str(err.value))
    assert message in str(err.value)


def test_stack_config_accepts_a_full_audit_config() -> None:
    cfg = validate_model(
        StackConfig,
        {
            "audit": {
                "log": "/var/log/he/audit.jsonl",
                "retentionDays": 400,
                "rotateBytes": "16Mi",
                "recordDeletes": True,
                "signing": {
                    "method": "ed25519",
                    "key": "vault:secret/audit#signing",
                    "keyId": "2025",
                },
                "sinks": [
                    {"type": "file", "path": "/var/log/siem/he.jsonl", "retentionDays": 30},
                    {"type": "syslog", "host": "siem.corp", "protocol": "tls", "caFile": "/ca.pem"},
                    {
                        "type": "http",
                        "url": "https://hec.corp:8088/services/collector/event",
                        "token": {
                            "secretKeyRef": {"name": "hec", "key": "token", "namespace": "ops"}
                        },
                    },
                ],
            }
        },
    )
    assert cfg.audit is not None
    assert isinstance(cfg.audit.signing.key if cfg.audit.signing else None, VaultRef)
    assert cfg.audit.sinks[1].effective_port == 6514  # type: ignore[union-attr]
    assert isinstance(cfg.audit.sinks[2].token, SecretKeyRef)  # type: ignore[union-attr]


def test_build_reads_keys_through_the_reader_and_never_records_them(tmp_path: Path) -> None:
    reads: list[str] = []

    def reader(ref: VaultRef | SecretKeyRef | ConfigRef) -> str:
        reads.append(ref.describe())
        return HMAC

    config = validate_model(
        AuditConfig,
        {
            "log": str(tmp_path / "a.jsonl"),
            "signing": {"method": "hmac", "key": "vault:secret/audit#hmac"},
            "actor": "release-bot",
        },
    )
    auditor = install(config, reader)
    assert install(config, reader) is auditor  # idempotent
    rec = emit("update", phase="after", result="succeeded", note=f"key is {HMAC}")
    assert reads == ["vault:secret/audit#hmac"]
    assert rec["sig"]["kid"] == "vault:secret/audit#hmac"
    assert rec["who"] == "tester@example.com"  # HELM_ENTERPRISE_ACTOR wins over config
    assert HMAC not in (tmp_path / "a.jsonl").read_text()


def test_configured_actor_is_used_without_an_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HELM_ENTERPRISE_ACTOR")
    install(validate_model(AuditConfig, {"log": str(tmp_path / "a.jsonl"), "actor": "bot"}))
    assert emit("update")["who"] == "bot"


def test_an_unreadable_key_is_a_warning_and_a_record_not_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def reader(ref: VaultRef | SecretKeyRef | ConfigRef) -> str:
        raise AuditError(f"{ref.describe()}: permission denied")

    config = validate_model(
        AuditConfig,
        {
            "log": str(tmp_path / "a.jsonl"),
            "signing": {"method": "hmac", "key": "vault:secret/audit#hmac"},
            "sinks": [{"type": "http", "url": "https://hec/c", "token": "vault:secret/hec#t"}],
        },
    )
    auditor = build_auditor(config, reader)
    try:
        problems = [r for r in auditor.log.records() if r["action"] == "audit-config-error"]
        assert len(problems) == 2 and "permission denied" in problems[0]["error"]
        assert "signing disabled" in caplog.text
        assert auditor.log.signer is None and auditor.forwarders == []
    finally:
        auditor.close()


def test_other_processes_read_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "audit.yaml"
    path.write_text(f"log: {tmp_path / 'x.jsonl'}\nactor: ci\n")
    monkeypatch.setenv("HELM_ENTERPRISE_AUDIT_CONFIG", str(path))
    auditor = from_environment()
    assert auditor.log.path == tmp_path / "x.jsonl" and auditor.actor == "ci"
    path.write_text(json.dumps({"sinks": [{"type": "nope"}]}))
    broken = from_environment()  # a broken file: local log, and a record of the problem
    assert any(r["action"] == "audit-config-error" for r in broken.log.records())
