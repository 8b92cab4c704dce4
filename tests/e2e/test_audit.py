"""The audit trail (T2.3, journey 5) on the real engine: lifecycle events of a real
``pulumi up`` through resource hooks reach a syslog (RFC 5424 over TCP) and an HTTP
(HEC-style) collector; a collector that goes away mid-run neither fails the deployment nor
loses anything; ``audit verify`` proves the log (signed with an HMAC key from Vault) and
names the first bad record of an edited copy; no secret value reaches any sink.

The syslog and HTTP listeners are the test's own receivers (the collectors of the issue).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import secrets as pysecrets
import shutil
import socket
import socketserver
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from helm_enterprise.audit import AuditLog
from helm_enterprise.sandbox.vault import VaultServer
from tests.e2e.conftest import REPO, Env, Project, run_cli
from tests.e2e.test_release import hello
from tests.e2e.test_secrets import approle, write


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# -- the collectors -------------------------------------------------------------------------


class SyslogListener:
    """RFC 5425/6587 octet-counted RFC 5424 messages over TCP."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        listener = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                while True:
                    length = b""
                    while (c := self.rfile.read(1)) not in (b" ", b""):
                        length += c
                    if not length:
                        return
                    listener.messages.append(self.rfile.read(int(length)))

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def records(self) -> list[dict[str, Any]]:
        out = []
        for msg in self.messages:
            header, _, body = msg.partition(b"\xef\xbb\xbf")
            assert re.match(rb"^<\d{1,3}>1 \S+ \S+ helm-enterprise \d+ [a-z-]+ \[audit@", header)
            out.append(json.loads(body))
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class HttpCollector:
    """A HEC-style collector on a fixed port that can go away and come back."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.bodies: list[bytes] = []
        self.stop_after: Callable[[list[dict[str, Any]]], bool] | None = None
        self.server: ThreadingHTTPServer | None = None
        self.start()

    def start(self) -> None:
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Authorization") != f"Splunk {collector.token}":
                    self.send_response(401)
                    self.end_headers()
                    return
                collector.bodies.append(body)
                events = [json.loads(line)["event"] for line in body.splitlines()]
                if collector.stop_after and collector.stop_after(events):
                    # Gone mid-request: no acknowledgement, then nothing listens any more.
                    collector.stop_after = None
                    self.close_connection = True
                    threading.Thread(target=collector.stop, daemon=True).start()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"text":"Success","code":0}')

            def log_message(self, *args: object) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line)["event"] for b in self.bodies for line in b.splitlines()]


# -- the project ---------------------------------------------------------------------------


@pytest.fixture
def audit_project(sb: Env, tmp_path: Path) -> Iterator[Project]:
    """The root program (Release binds the audit hooks when helm-enterprise:audit is set)
    with the checkout's charts; destroyed with the program run, as recordDeletes needs."""
    root = tmp_path / "program"
    root.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(REPO / "charts", root / "charts")
    (root / ".venv").symlink_to(Path(sys.prefix))
    env = dict(sb.env)
    command = auto.PulumiCommand(root=str(sb.sandbox.toolchain().layout.root))
    stack = auto.Stack.create(
        f"audit-{uuid.uuid4().hex[:6]}",
        auto.LocalWorkspace(work_dir=str(root), env_vars=env, pulumi_command=command),
    )
    p = Project(root, stack, env)
    yield p
    try:
        # Delete hooks are bound (recordDeletes), so destroy runs the program; on a stack
        # already destroyed that would register the program's components again.
        if p.stack.export_stack().deployment.get("resources"):
            p.stack.destroy(on_output=p._out, color="never", show_secrets=False, run_program=True)
    finally:
        p.stack.workspace.remove_stack(p.stack.name)


@pytest.fixture
def syslog() -> Iterator[SyslogListener]:
    listener = SyslogListener()
    yield listener
    listener.close()


def test_lifecycle_events_reach_the_collectors_and_survive_an_outage(
    sb: Env,
    vault: VaultServer,
    audit_project: Project,
    syslog: SyslogListener,
    namespace: str,
    tmp_path: Path,
) -> None:
    p = audit_project
    # Known secret values: the release's own secret, the signing key, the collector token.
    release_secret = f"pw-{pysecrets.token_hex(8)}"
    hmac_key = pysecrets.token_hex(24)
    hec_token = f"hec-{pysecrets.token_hex(12)}"
    write(vault, f"e2e/{namespace}/db", {"password": release_secret})
    write(vault, f"e2e/{namespace}/audit", {"hmac": hmac_key})
    sb.kubectl("create", "namespace", f"{namespace}-ops")
    sb.kubectl(
        "-n", f"{namespace}-ops", "create", "secret", "generic", "hec",
        f"--from-literal=token={hec_token}",
    )  # fmt: skip
    collector = HttpCollector(free_port(), hec_token)
    log = tmp_path / "audit" / "audit.jsonl"
    audit_config = {
        "log": str(log),
        "bufferDir": str(tmp_path / "buffer"),
        "recordDeletes": True,
        "flushTimeout": 5,
        "signing": {"method": "hmac", "key": f"vault:secret/e2e/{namespace}/audit#hmac"},
        "sinks": [
            {"type": "file", "name": "siem-file", "path": str(tmp_path / "siem" / "he.jsonl")},
            {"type": "syslog", "name": "siem-syslog", "host": "127.0.0.1", "port": syslog.port,
             "protocol": "tcp"},
            {"type": "http", "name": "siem-http",
             "url": f"http://127.0.0.1:{collector.port}/services/collector/event",
             "token": f"k8s:{namespace}-ops/hec#token", "timeout": 2,
             "retry": {"attempts": 2, "initialDelay": 0.2, "maxDelay": 0.5}},
        ],
    }  # fmt: skip
    config_file = tmp_path / "audit.json"
    config_file.write_text(json.dumps(audit_config))
    approle(p, vault)
    p.config("helm-enterprise:audit", audit_config)
    release = hello(
        namespace,
        secretValues={"secret.password": f"vault:secret/e2e/{namespace}/db#password"},
        values={"replicaCount": 1},
    )
    p.releases([release])

    # 1. A preview: events marked as a dry run, nothing applied.
    p.preview()
    wait_for(lambda: any(r.get("dry_run") for r in collector.records()), "preview events")
    previews = [r for r in AuditLog(log).records() if r.get("dry_run")]
    assert {(r["action"], r["phase"], r["result"]) for r in previews} >= {
        ("create", "before", "started"),
        ("create", "after", "planned"),
    }

    # 2. The first up: create, before and after, in every sink.
    out = p.up().outputs["releases"].value["hello"]
    assert out["status"] == "deployed" and out["revision"] == 1
    created = [r for r in AuditLog(log).records() if r["action"] == "create" and not r["dry_run"]]
    assert [(r["phase"], r["result"]) for r in created] == [
        ("before", "started"),
        ("after", "succeeded"),
    ]
    after = created[-1]
    assert after["release"] == "hello" and after["namespace"] == namespace
    assert after["chart"] == "hello" and after["chart_version"] == "0.1.0"
    assert after["revision"] == 1 and after["duration_seconds"] > 0
    assert after["stack"] == p.stack.name and after["project"] == "helm-enterprise"
    assert after["source"].endswith("charts/hello") and after["sig"]["alg"] == "hmac-sha256"
    assert created[0]["correlation_id"] == after["correlation_id"]
    assert created[0]["correlation_id"] != previews[0]["correlation_id"]
    wait_for(
        lambda: after["hash"] in {r["hash"] for r in collector.records()}, "create at the collector"
    )
    wait_for(lambda: after["hash"] in {r["hash"] for r in syslog.records()}, "create at syslog")

    # 3. An upgrade during which the collector goes away (while taking the "before" event).
    collector.stop_after = lambda events: any(
        e["action"] == "update" and e["phase"] == "before" for e in events
    )
    release["values"] = {"replicaCount": 1, "message": "v2"}
    p.releases([release])
    out = p.up().outputs["releases"].value["hello"]
    assert out["status"] == "deployed" and out["revision"] == 2, "the deployment succeeded"
    assert collector.server is None, "the collector was stopped mid-run"
    records = list(AuditLog(log).records())
    updated = next(r for r in records if r["action"] == "update" and r["phase"] == "after")
    assert updated["result"] == "succeeded" and updated["from_revision"] == 1
    failed = [r for r in records if r["action"] == "sink-failed"]
    assert failed and failed[0]["sink"] == "siem-http"
    assert "audit sink siem-http failed" in p.text, "the outage is a warning in the run"
    assert updated["hash"] not in {r["hash"] for r in collector.records()}
    buffered = "".join(f.read_text() for f in (tmp_path / "buffer").glob("siem-http-*.jsonl"))
    assert updated["hash"] in buffered
    # The other sinks were not affected.
    wait_for(lambda: updated["hash"] in {r["hash"] for r in syslog.records()}, "syslog update")

    # 4. The collector is back: a flush delivers everything, in order, nothing lost.
    collector.start()
    cli_env = {
        **sb.env,
        "VAULT_ADDR": vault.address,
        "VAULT_TOKEN": vault.root_token,
        "HELM_ENTERPRISE_AUDIT_CONFIG": str(config_file),
    }
    flushed = run_cli("audit", "flush", "--json", env=cli_env, timeout=300, cwd=REPO)
    assert flushed.returncode == 0, flushed.stderr
    assert json.loads(flushed.stdout)["pending_bytes"]["siem-http"] == 0
    at_collector = [r["seq"] for r in collector.records()]
    in_log = [r["seq"] for r in AuditLog(log).records()]
    assert set(in_log) <= set(at_collector), sorted(set(in_log) - set(at_collector))
    assert any(r["action"] == "sink-recovered" for r in collector.records())

    # 5. Destroy: delete events (the program runs, so its delete hooks do).
    p.stack.destroy(on_output=p._out, color="never", show_secrets=False, run_program=True)
    deleted = [r for r in AuditLog(log).records() if r["action"] == "delete"]
    assert [(r["phase"], r["result"]) for r in deleted] == [
        ("before", "started"),
        ("after", "succeeded"),
    ]

    # 6. verify: intact with valid signatures; edited, deleted, reordered, inserted fail.
    ok = run_cli("audit", "verify", "--json", env=cli_env, timeout=300, cwd=REPO)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    report = json.loads(ok.stdout)
    assert report["ok"] and report["signatures"] == report["records"] > 8
    lines = log.read_text().splitlines()
    target = next(
        i for i, line in enumerate(lines) if '"action": "update"' in line and '"after"' in line
    )
    seq = json.loads(lines[target])["seq"]
    copies = {
        "edited": [
            *lines[:target],
            lines[target].replace('"succeeded"', '"failed"'),
            *lines[target + 1 :],
        ],
        "deleted": lines[:target] + lines[target + 1 :],
        "reordered": [*lines[:target], lines[target + 1], lines[target], *lines[target + 2 :]],
    }
    for kind, content in copies.items():
        copy = tmp_path / f"{kind}.jsonl"
        copy.write_text("\n".join(content) + "\n")
        bad = run_cli(
            "audit", "verify", "--log", str(copy), "--json", env=cli_env, timeout=300, cwd=REPO
        )
        assert bad.returncode == 1, (kind, bad.stdout)
        result = json.loads(bad.stdout)
        assert result["first_bad"] == target + 1, (kind, result)
        assert result["seq"] == (seq if kind == "edited" else seq + 1), (kind, result)
    # An inserted record (a replay of the update's record right after it) is named too.
    copy = tmp_path / "inserted.jsonl"
    copy.write_text("\n".join([*lines[: target + 1], lines[target], *lines[target + 1 :]]) + "\n")
    bad = run_cli(
        "audit", "verify", "--log", str(copy), "--json", env=cli_env, timeout=300, cwd=REPO
    )
    assert bad.returncode == 1 and json.loads(bad.stdout)["first_bad"] == target + 2, bad.stdout

    # 7. Journey 5: the changes to this stack, as CSV, with who/what/when/version/result.
    exported = run_cli(
        "audit",
        "export",
        "--since",
        "1d",
        "--stack",
        p.stack.name,
        "--format",
        "csv",
        env=cli_env,
        timeout=300,
        cwd=REPO,
    )
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    changes = [(r["action"], r["phase"], r["result"]) for r in rows]
    assert ("create", "after", "succeeded") in changes and (
        "delete",
        "after",
        "succeeded",
    ) in changes
    assert all(r["dry_run"] == "false" and r["who"] and r["time"] for r in rows)
    assert {r["chart_version"] for r in rows if r["action"] == "update"} == {"0.1.0"}

    # 8. No secret value reached any sink, buffer, log, export or the engine's output.
    outputs = {
        "log": "".join(f.read_text() for f in log.parent.glob("*.jsonl")),
        "file sink": "".join(f.read_text() for f in (tmp_path / "siem").glob("*")),
        "syslog": b"".join(syslog.messages).decode(errors="replace"),
        "http": b"".join(collector.bodies).decode(errors="replace"),
        "buffers": "".join(f.read_text() for f in (tmp_path / "buffer").glob("*")),
        "export": exported.stdout,
        "engine": p.text,
        "cli": flushed.stdout + flushed.stderr + ok.stdout + ok.stderr,
    }
    for secret in (release_secret, hmac_key, hec_token):
        encoded = base64.b64encode(secret.encode()).decode()
        hits = [where for where, text in outputs.items() if secret in text or encoded in text]
        assert hits == [], f"a secret value reached: {hits}"
    collector.stop()
    sb.kubectl("delete", "namespace", f"{namespace}-ops", "--wait=false", check=False)


def test_a_failed_upgrade_is_recorded_as_failed(
    audit_project: Project, namespace: str, tmp_path: Path
) -> None:
    """The error hook: Helm's atomic upgrade times out, the run fails, the trail says so."""
    p = audit_project
    log = tmp_path / "audit.jsonl"
    p.config("helm-enterprise:audit", {"log": str(log), "recordPreviews": False})
    p.releases([hello(namespace, values={"replicaCount": 1})])
    p.up()
    p.releases(
        [
            hello(
                namespace,
                values={"replicaCount": 1, "sandbox": {"neverReady": True}},
                timeouts={"readiness": "30s"},
            )
        ]
    )
    p.up_fails()
    events = [(r["action"], r["phase"], r["result"]) for r in AuditLog(log).records()]
    assert events[:3] == [
        ("create", "before", "started"),
        ("create", "after", "succeeded"),
        ("update", "before", "started"),
    ]
    # Two error hooks: the failure, and the rollback Helm's atomic upgrade then performed
    # (its from/to/why are checked by test_release.py's readiness test).
    assert sorted(events[3:]) == [
        ("rollback", "after", "succeeded"),
        ("rollback", "before", "started"),
        ("update", "after", "failed"),
    ]
    (failed,) = [
        r for r in AuditLog(log).records() if r["action"] == "update" and r["result"] == "failed"
    ]
    assert failed["duration_seconds"] >= 30 and failed["error"]
    assert failed["release"] == "hello" and failed["from_revision"] == 1
    assert AuditLog(log).verify().ok
