"""Sinks: RFC 5424 framing, the bounded disk buffer, and a broken sink that neither blocks
nor loses anything (closed ports, a collector that comes back, a full buffer)."""

from __future__ import annotations

import json
import logging
import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from helm_enterprise.audit import AuditLog, Auditor, emit, set_auditor
from helm_enterprise.audit.buffer import DiskBuffer
from helm_enterprise.audit.sinks import (
    FileSink,
    HttpSink,
    SyslogSink,
    buffer_key,
    rfc5424,
)
from helm_enterprise.config.audit import FileSinkConfig, HttpSinkConfig, SyslogSinkConfig

FAST = {"attempts": 2, "initialDelay": 0.01, "maxDelay": 0.02}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


class Collector:
    """An httpx transport standing in for the collector's network: up or down."""

    def __init__(self) -> None:
        self.up = False
        self.bodies: list[bytes] = []
        self.headers: list[httpx.Headers] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            raise httpx.ConnectError("connection refused", request=request)
        self.bodies.append(request.content)
        self.headers.append(request.headers)
        return httpx.Response(200, json={"text": "Success", "code": 0})

    def events(self) -> list[dict[str, object]]:
        return [json.loads(line)["event"] for b in self.bodies for line in b.splitlines()]


def http_config(url: str, **extra: object) -> HttpSinkConfig:
    return HttpSinkConfig.model_validate({"url": url, "retry": FAST, "timeout": 1, **extra})


@pytest.fixture
def buffers(tmp_path: Path) -> Path:
    return tmp_path / "buffer"


def make_auditor(
    tmp_path: Path, sink: object, max_bytes: int = 1 << 20
) -> tuple[Auditor, DiskBuffer]:
    buffer = DiskBuffer(tmp_path / "buffer" / f"{buffer_key(sink)}.jsonl", max_bytes)  # type: ignore[arg-type]
    a = Auditor(AuditLog(tmp_path / "audit.jsonl"), [(sink, buffer)], flush_timeout=1)  # type: ignore[list-item]
    set_auditor(a)
    return a, buffer


@pytest.fixture
def cleanup() -> Iterator[None]:
    yield
    set_auditor(None)


def test_rfc5424_message() -> None:
    record = {
        "seq": 7,
        "hash": "ab" * 32,
        "action": "update",
        "result": "failed",
        "correlation_id": "run-1",
        "time": "2025-07-01T10:00:00.123Z",
        "who": "dana",
    }
    msg = rfc5424(record, facility="local0", hostname="host-1", procid=42)
    header, _, body = msg.partition(b"\xef\xbb\xbf")
    # facility local0 (16) * 8 + severity warning (4) for a failed result
    assert re.match(
        rb"^<132>1 2025-07-01T10:00:00\.123Z host-1 helm-enterprise 42 update "
        rb'\[audit@32473 seq="7" hash="(ab)+" correlation="run-1" action="update" '
        rb'result="failed"\] $',
        header,
    ), header
    assert json.loads(body) == record
    ok = rfc5424({**record, "result": "succeeded"}, hostname="h", procid=1)
    assert ok.startswith(b"<134>1 ")


def test_disk_buffer_positions_survive_compaction(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.jsonl", 4096)
    for seq in range(1, 6):
        buf.append(json.dumps({"seq": seq, "pad": "x" * 300}).encode() + b"\n")
    records, position = buf.peek(2)
    assert [r["seq"] for r in records] == [1, 2]
    # Meanwhile another writer overflows the buffer: the oldest go, the file is compacted.
    for seq in range(6, 16):
        buf.append(json.dumps({"seq": seq, "pad": "x" * 300}).encode() + b"\n")
    buf.commit(position)  # a stale position must not skip pending records
    pending = [r["seq"] for r in buf.pending()]
    assert pending == sorted(pending) and pending[-1] == 15
    assert buf.pending_bytes() <= 4096


def test_disk_buffer_overflow_drops_the_oldest_and_says_so(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.jsonl", 4096)
    dropped = None
    for seq in range(1, 40):
        d = buf.append(json.dumps({"seq": seq, "pad": "y" * 200}).encode() + b"\n")
        dropped = dropped or d
    assert dropped is not None and dropped.first_seq == 1 and dropped.count >= 1
    assert buf.pending()[-1]["seq"] == 39


def test_http_sink_on_a_closed_port_buffers_and_never_blocks(
    tmp_path: Path, cleanup: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="helm_enterprise.audit")
    sink = HttpSink("siem", http_config(f"http://127.0.0.1:{closed_port()}/collector"))
    auditor, buffer = make_auditor(tmp_path, sink)
    started = time.monotonic()
    for i in range(3):
        emit("update", phase="after", result="succeeded", release=f"r{i}")
    assert time.monotonic() - started < 2.0, "emitting must not wait for the sink"
    wait_for(lambda: not auditor.forwarders[0].healthy)
    wait_for(lambda: any(r["action"] == "sink-failed" for r in auditor.log.records()))
    failed = next(r for r in auditor.log.records() if r["action"] == "sink-failed")
    assert failed["sink"] == "siem" and failed["result"] == "failed"
    assert "audit sink siem" in caplog.text and "failed" in caplog.text
    wait_for(lambda: failed["seq"] in [r["seq"] for r in buffer.pending()])
    assert [r["seq"] for r in buffer.pending()][:3] == [1, 2, 3]
    assert auditor.log.verify().ok


def test_syslog_tcp_sink_on_a_closed_port_buffers(tmp_path: Path, cleanup: None) -> None:
    cfg = SyslogSinkConfig.model_validate(
        {"host": "127.0.0.1", "port": closed_port(), "protocol": "tcp", "retry": FAST}
    )
    auditor, buffer = make_auditor(tmp_path, SyslogSink("syslog", cfg))
    emit("create", phase="before", result="started", release="web")
    wait_for(lambda: not auditor.forwarders[0].healthy)
    assert [r["action"] for r in buffer.pending()][:1] == ["create"]


def test_a_collector_that_comes_back_gets_everything_in_order(
    tmp_path: Path, cleanup: None
) -> None:
    collector = Collector()
    sink = HttpSink(
        "hec",
        http_config("https://hec.example:8088/services/collector/event", token="k8s:ops/hec#t"),
        token="hec-token-value",
        transport=httpx.MockTransport(collector),
    )
    auditor, buffer = make_auditor(tmp_path, sink)
    for i in range(5):
        emit("update", phase="after", result="succeeded", release=f"r{i}")
    wait_for(lambda: not auditor.forwarders[0].healthy)
    collector.up = True
    auditor.flush()
    wait_for(lambda: any(e["action"] == "sink-recovered" for e in collector.events()))
    seqs = [e["seq"] for e in collector.events()]
    assert seqs == sorted(seqs) and seqs[:5] == [1, 2, 3, 4, 5]
    assert {e["action"] for e in collector.events()} >= {"update", "sink-failed", "sink-recovered"}
    assert collector.headers[0]["authorization"] == "Splunk hec-token-value"
    assert buffer.pending_bytes() == 0
    # HEC framing: one JSON object per event, with time, sourcetype and the record.
    first = json.loads(collector.bodies[0].splitlines()[0])
    assert first["sourcetype"] == "helm-enterprise:audit" and isinstance(first["time"], float)


def test_a_full_buffer_is_recorded_and_nothing_leaves_the_log(
    tmp_path: Path, cleanup: None
) -> None:
    sink = HttpSink("tiny", http_config(f"http://127.0.0.1:{closed_port()}/c"))
    auditor, buffer = make_auditor(tmp_path, sink, max_bytes=4096)
    for i in range(30):
        emit("update", phase="after", result="succeeded", release=f"release-{i}", pad="z" * 100)
    overflow = [r for r in auditor.log.records() if r["action"] == "buffer-overflow"]
    assert overflow and overflow[0]["sink"] == "tiny" and overflow[0]["dropped"] >= 1
    assert overflow[0]["dropped_from_seq"] == 1
    assert buffer.pending_bytes() <= 4096
    # The overflow record itself is queued for the sink, so the collector learns of it.
    assert any(r["action"] == "buffer-overflow" for r in buffer.pending())
    assert len([r for r in auditor.log.records() if r["action"] == "update"]) == 30


def test_pending_records_of_an_earlier_process_are_shipped_at_start(
    tmp_path: Path, cleanup: None
) -> None:
    collector = Collector()
    sink = HttpSink(
        "hec", http_config("https://hec.example/c"), transport=httpx.MockTransport(collector)
    )
    buffer = DiskBuffer(tmp_path / "buffer" / f"{buffer_key(sink)}.jsonl", 1 << 20)
    buffer.append(b'{"seq": 1, "action": "update"}\n')
    collector.up = True
    a = Auditor(AuditLog(tmp_path / "audit.jsonl"), [(sink, buffer)])
    set_auditor(a)
    wait_for(lambda: buffer.pending_bytes() == 0)
    assert collector.events() == [{"seq": 1, "action": "update"}]


def test_file_sink_rotates_and_prunes(tmp_path: Path) -> None:
    cfg = FileSinkConfig.model_validate(
        {"path": str(tmp_path / "siem" / "helm.jsonl"), "rotateBytes": 1024, "retentionDays": 1}
    )
    sink = FileSink("file", cfg)
    for i in range(20):
        sink.send([{"seq": i, "pad": "p" * 100}])
    files = sorted((tmp_path / "siem").glob("helm*.jsonl"))
    assert len(files) > 2
    old = files[0]
    stale = time.time() - 3 * 86400
    import os

    os.utime(old, (stale, stale))
    for i in range(20, 40):
        sink.send([{"seq": i, "pad": "p" * 100}])
    assert not old.exists()
