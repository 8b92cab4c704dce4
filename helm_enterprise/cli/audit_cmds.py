"""``helm-enterprise audit ...``: verify, export, flush, schema (T2.3, journey 5).

The log, the signing method and the key come from ``--config`` (or
``HELM_ENTERPRISE_AUDIT_CONFIG``): the same document as ``helm-enterprise:audit``. Options
override it. Keys are given as references (``vault:secret/audit#key``,
``k8s:ops/audit#key``, ``env:NAME``, ``file:PATH``), never on the command line.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from helm_enterprise.cli import JsonOpt, audit_app, emit_json, err, handle_errors, out
from helm_enterprise.config.audit import AuditConfig
from helm_enterprise.errors import AuditError, ConfigError

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Audit config (YAML/JSON, the value of helm-enterprise:audit); default: "
        "$HELM_ENTERPRISE_AUDIT_CONFIG.",
    ),
]
LogOpt = Annotated[
    Path | None, typer.Option("--log", help="Audit log file (default: from the config).")
]


def _config(path: Path | None) -> AuditConfig | None:
    from helm_enterprise.audit.setup import CONFIG_ENV, load_config_file

    chosen = path or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    return load_config_file(chosen.expanduser()) if chosen else None


def _log_path(log: Path | None, config: AuditConfig | None) -> Path:
    from helm_enterprise.audit.log import default_log_path

    if log is not None:
        return log
    if config is not None and config.log:
        return Path(config.log).expanduser()
    return default_log_path()


def _read_key(spec: str) -> str:
    """Key material from ``env:NAME``, ``file:PATH`` or a Vault / Kubernetes reference."""
    from helm_enterprise.audit.setup import KeyReader
    from helm_enterprise.config.secrets import SecretKeyRef, VaultRef, parse_secret_ref

    if spec.startswith("env:"):
        value = os.environ.get(spec[4:], "")
        if not value:
            raise ConfigError(f"environment variable {spec[4:]} is not set", path="--key")
        return value.strip()
    if spec.startswith("file:"):
        try:
            return Path(spec[5:]).expanduser().read_text().strip()
        except OSError as e:
            raise ConfigError(f"cannot read {spec[5:]}: {e.strerror}", path="--key") from None
    try:
        ref = parse_secret_ref(spec)
    except ValueError:
        ref = None
    if not isinstance(ref, VaultRef | SecretKeyRef):
        raise ConfigError(
            "not a key reference",
            path="--key",
            hint="use vault:path#key, k8s:namespace/name#key, env:NAME or file:PATH",
        )
    return KeyReader()(ref)


@audit_app.command("verify")
@handle_errors
def audit_verify(
    log: LogOpt = None,
    config: ConfigOpt = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help="Signing key to check signatures with: vault:path#key, k8s:ns/name#key, "
            "env:NAME or file:PATH (HMAC key, or the Ed25519 private key).",
        ),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", help="Ed25519 public key (PEM or base64) to check with."),
    ] = None,
    method: Annotated[
        str | None, typer.Option("--method", help="hmac or ed25519 (default: from the config).")
    ] = None,
    require_signatures: Annotated[
        bool, typer.Option("--require-signatures", help="Every record must be signed.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Prove the audit log is intact; names the first altered record otherwise (exit 1)."""
    from helm_enterprise.audit.log import AuditLog
    from helm_enterprise.audit.setup import KeyReader
    from helm_enterprise.audit.signing import (
        Ed25519Verifier,
        Verifier,
        ed25519_private,
        ed25519_public,
        hmac_key,
    )

    cfg = _config(config)
    signing = cfg.signing if cfg else None
    chosen = method or (signing.method if signing else None)
    verifier: Verifier | None = None
    # An unusable key is bad usage (exit 2), not a finding about the log (exit 1).
    option = "--public-key" if public_key is not None else "--key" if key else "signing.key"
    try:
        if public_key is not None:
            verifier = Ed25519Verifier(ed25519_public(public_key.read_text()))
        elif key is not None or signing is not None:
            if key is not None:
                material = _read_key(key)
            else:
                assert signing is not None
                material = KeyReader()(signing.key)
            if (chosen or "hmac") == "hmac":
                verifier = hmac_key(material, "")
            else:
                verifier = Ed25519Verifier(ed25519_private(material).public_key())
    except AuditError as e:
        raise ConfigError(str(e), path=option) from None
    except OSError as e:
        raise ConfigError(f"cannot read {public_key}: {e.strerror}", path=option) from None
    path = _log_path(log, cfg)
    if not path.exists() and not AuditLog(path).segments():
        raise ConfigError(f"no audit log at {path}", path="--log")
    result = AuditLog(path).verify(verifier, require_signatures=require_signatures)
    if as_json:
        emit_json(result.to_dict())
    elif result.ok:
        out.print(result.describe(), highlight=False)
        for note in result.notes:
            err.print(f"note: {note}", highlight=False)
    else:
        out.print(f"[red]{result.describe()}[/red]", highlight=False)
    raise typer.Exit(0 if result.ok else 1)


@audit_app.command("export")
@handle_errors
def audit_export(
    since: Annotated[
        str | None,
        typer.Option("--since", help="From (inclusive): 2025-07-01, 2025-07-01T12:00Z or 90d."),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Up to (exclusive), same forms as --since.")
    ] = None,
    stack: Annotated[str | None, typer.Option("--stack", "-s", help="Only this stack.")] = None,
    release: Annotated[str | None, typer.Option("--release", help="Only this release.")] = None,
    action: Annotated[
        list[str] | None, typer.Option("--action", help="Only these actions (repeatable).")
    ] = None,
    include_previews: Annotated[
        bool, typer.Option("--include-previews", help="Also events of previews (dry runs).")
    ] = False,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="json (with the chain's verification) or csv.")
    ] = "json",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    log: LogOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Records for auditors: who, what, when, chart version or Git commit, result."""
    from helm_enterprise.audit.export import Filters, parse_when, select, to_csv, to_json
    from helm_enterprise.audit.log import AuditLog

    if fmt not in ("json", "csv"):
        raise ConfigError(f"unknown format {fmt!r}", path="--format", hint="json or csv")
    filters = Filters(
        since=parse_when(since, option="--since") if since else None,
        until=parse_when(until, option="--until") if until else None,
        stack=stack,
        release=release,
        actions=tuple(action or ()),
        include_previews=include_previews,
    )
    audit_log = AuditLog(_log_path(log, _config(config)))
    records = list(select(audit_log.records(), filters))
    text = to_json(records, filters, audit_log.verify()) if fmt == "json" else to_csv(records)
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        output.write_text(text)
        err.print(f"{len(records)} records written to {output}", highlight=False)


@audit_app.command("flush")
@handle_errors
def audit_flush(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Send what the sinks' disk buffers hold now (exit 1 when something is still pending)."""
    from helm_enterprise.audit.setup import build_auditor

    cfg = _config(config)
    if cfg is None or not cfg.sinks:
        raise ConfigError(
            "no sinks configured", path="--config", hint="give the audit config with its sinks"
        )
    auditor = build_auditor(cfg)
    try:
        pending = auditor.flush()
    finally:
        auditor.close(timeout=1.0)
    if as_json:
        emit_json({"pending_bytes": pending})
    else:
        for name, left in pending.items():
            out.print(
                f"{name}: " + ("delivered" if not left else f"{left} bytes still pending"),
                highlight=False,
            )
    raise typer.Exit(1 if any(pending.values()) else 0)


@audit_app.command("schema")
def audit_schema() -> None:
    """Print the JSON Schema of audit records."""
    from helm_enterprise.audit.schema import EVENT_SCHEMA

    sys.stdout.write(json.dumps(EVENT_SCHEMA, indent=2) + "\n")


@audit_app.command("metrics")
@handle_errors
def audit_metrics(
    serve: Annotated[
        int | None,
        typer.Option("--serve", help="Serve /metrics on this port (127.0.0.1) until stopped."),
    ] = None,
    address: Annotated[
        str, typer.Option("--address", help="Address to serve on (with --serve).")
    ] = "127.0.0.1",
    log: LogOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Deployment metrics (helm_enterprise_*) from the audit log, in Prometheus' text
    format: printed once, or served for Prometheus to scrape (read again on every scrape)."""
    from helm_enterprise.audit.log import AuditLog
    from helm_enterprise.audit.metrics import exposition

    path = _log_path(log, _config(config))
    if serve is None:
        sys.stdout.write(exposition(AuditLog(path).records()).decode())
        return
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404, "only /metrics")
                return
            body = exposition(AuditLog(path).records())
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # scrapes every few seconds: not worth a line each

    server = http.server.ThreadingHTTPServer((address, serve), Handler)
    err.print(f"serving {path} as metrics on http://{address}:{serve}/metrics", highlight=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
