"""Where audit records go besides the local log: a file, syslog, an HTTP collector.

Each configured sink gets a :class:`Forwarder`: records are written to the sink's
:class:`~helm_enterprise.audit.buffer.DiskBuffer` first and shipped by a background
thread, with retries and exponential backoff (``tenacity``) inside an attempt and a growing
pause between attempts while the sink is down. Nothing here can block or fail a deployment:
every network call has a timeout, shipping happens off the caller's thread, and at exit the
process waits at most ``flush_timeout`` seconds (not at all for a sink already known to be
down). What is not delivered stays in the buffer for the next process with the same sink
(the next run, or ``helm-enterprise audit flush``).

Delivery is at least once: a batch whose acknowledgement was lost is sent again. Every
record carries ``seq`` and ``hash``, so a collector can drop duplicates.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx
import tenacity

from helm_enterprise.audit.buffer import DiskBuffer, Dropped
from helm_enterprise.audit.redact import scrub_text
from helm_enterprise.config.audit import (
    FileSinkConfig,
    HttpSinkConfig,
    RetryPolicy,
    SyslogSinkConfig,
)
from helm_enterprise.errors import AuditError, truncate

FACILITIES = {
    "kern": 0,
    "user": 1,
    "daemon": 3,
    "auth": 4,
    "authpriv": 10,
    "audit": 13,
    **{f"local{i}": 16 + i for i in range(8)},
}
_WARNING_ACTIONS = {
    "validation-failed",
    "policy-violation",
    "drift-found",
    "sink-failed",
    "buffer-overflow",
    "audit-config-error",
}
_UDP_MAX = 65000


class SinkError(AuditError):
    """A sink did not accept records (after its retries). The message names the sink and
    the destination, never a token."""


class _Transient(Exception):
    """Worth retrying within one attempt (connection errors, 429, 5xx)."""


class Sink(Protocol):
    """Something that accepts audit records."""

    name: str
    batch_size: int

    def destination(self) -> str:
        """Where records go, for messages and the buffer key (no credentials)."""
        ...

    def send(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Deliver records in order; raise :class:`SinkError` when they were not accepted."""
        ...

    def close(self) -> None: ...


def _retrying(policy: RetryPolicy) -> tenacity.Retrying:
    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.attempts),
        wait=tenacity.wait_exponential(multiplier=policy.initial_delay, max=policy.max_delay),
        retry=tenacity.retry_if_exception_type(_Transient),
        reraise=True,
    )


def _with_retries(sink: Sink, policy: RetryPolicy, action: Callable[[], None]) -> None:
    try:
        _retrying(policy)(action)
    except _Transient as err:
        raise SinkError(
            f"audit sink {sink.name} ({sink.destination()}): {scrub_text(str(err))}"
        ) from None


def _line(record: Mapping[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, ensure_ascii=False)


# -- file ----------------------------------------------------------------------------------


class FileSink:
    """Appends records as JSON Lines to ``path``; rotates by size, prunes by age."""

    def __init__(self, name: str, config: FileSinkConfig) -> None:
        self.name = name
        self.config = config
        self.batch_size = 500
        self.path = Path(config.path).expanduser()

    def destination(self) -> str:
        return f"file {self.path}"

    def send(self, records: Sequence[Mapping[str, Any]]) -> None:
        data = "".join(_line(r) + "\n" for r in records).encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if (
                self.path.exists()
                and self.path.stat().st_size + len(data) > self.config.rotate_bytes
            ):
                self._rotate()
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
            with os.fdopen(fd, "ab") as fh:
                fh.write(data)
        except OSError as err:
            raise SinkError(
                f"audit sink {self.name} ({self.destination()}): {err.strerror or err}"
            ) from None

    def _rotate(self) -> None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        self.path.rename(self.path.with_name(f"{self.path.stem}.{stamp}{self.path.suffix}"))
        if self.config.retention_days:
            cutoff = time.time() - self.config.retention_days * 86400
            for old in self.path.parent.glob(f"{self.path.stem}.*{self.path.suffix}"):
                if old.stat().st_mtime < cutoff:
                    old.unlink()

    def close(self) -> None:
        pass


# -- syslog (RFC 5424) -------------------------------------------------------------------------


def _sd_escape(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _printable(value: object, limit: int) -> str:
    text = "".join(c for c in str(value) if 33 <= ord(c) <= 126)
    return text[:limit] or "-"


def severity(record: Mapping[str, Any]) -> int:
    """Syslog severity: 4 (warning) for failures and findings, 6 (informational) else."""
    if record.get("result") in ("failed", "unhealthy") or record.get("action") in _WARNING_ACTIONS:
        return 4
    return 6


def rfc5424(
    record: Mapping[str, Any],
    *,
    facility: str = "local0",
    app_name: str = "helm-enterprise",
    enterprise_id: int = 32473,
    hostname: str | None = None,
    procid: int | None = None,
) -> bytes:
    """One RFC 5424 message: the record as JSON in MSG (UTF-8 with BOM), its chain position
    in structured data (``[audit@<enterprise id> seq= hash= ...]``)."""
    pri = FACILITIES[facility] * 8 + severity(record)
    timestamp = str(record.get("time") or dt.datetime.now(dt.UTC).isoformat())
    host = _printable(hostname or socket.gethostname(), 255)
    sd_params = {
        "seq": record.get("seq"),
        "hash": record.get("hash"),
        "correlation": record.get("correlation_id"),
        "action": record.get("action"),
        "result": record.get("result"),
    }
    sd = "".join(f' {k}="{_sd_escape(v)}"' for k, v in sd_params.items() if v is not None)
    header = (
        f"<{pri}>1 {_printable(timestamp, 64)} {host} {_printable(app_name, 48)} "
        f"{procid if procid is not None else os.getpid()} "
        f"{_printable(record.get('action', '-'), 32)} [audit@{enterprise_id}{sd}] "
    )
    return header.encode() + b"\xef\xbb\xbf" + _line(record).encode()


class SyslogSink:
    """RFC 5424 over UDP (one datagram per record), TCP with octet counting (RFC 6587),
    or TLS (RFC 5425). UDP cannot tell whether anything arrived; prefer TCP or TLS."""

    def __init__(self, name: str, config: SyslogSinkConfig) -> None:
        self.name = name
        self.config = config
        self.batch_size = 200

    def destination(self) -> str:
        c = self.config
        return f"syslog+{c.protocol}://{c.host}:{c.effective_port}"

    def _message(self, record: Mapping[str, Any]) -> bytes:
        c = self.config
        return rfc5424(
            record, facility=c.facility, app_name=c.app_name, enterprise_id=c.enterprise_id
        )

    def _tls(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.config.ca_file)
        if not self.config.tls_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def send(self, records: Sequence[Mapping[str, Any]]) -> None:
        messages = [self._message(r) for r in records]
        _with_retries(self, self.config.retry, lambda: self._send(messages))

    def _send(self, messages: list[bytes]) -> None:
        c = self.config
        try:
            if c.protocol == "udp":
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                    sock.settimeout(c.timeout)
                    sock.connect((c.host, c.effective_port))
                    for msg in messages:
                        sock.send(msg[:_UDP_MAX])
                return
            with socket.create_connection((c.host, c.effective_port), timeout=c.timeout) as raw:
                conn: socket.socket = raw
                if c.protocol == "tls":
                    conn = self._tls().wrap_socket(raw, server_hostname=c.host)
                payload = b"".join(f"{len(m)} ".encode() + m for m in messages)
                conn.sendall(payload)
                if isinstance(conn, ssl.SSLSocket):
                    conn.unwrap()
        except ssl.SSLCertVerificationError as err:
            raise SinkError(
                f"audit sink {self.name} ({self.destination()}): TLS certificate not trusted "
                f"({err.verify_message}); set caFile"
            ) from None
        except OSError as err:
            raise _Transient(f"{type(err).__name__}: {err.strerror or err}") from None

    def close(self) -> None:
        pass


# -- HTTP ---------------------------------------------------------------------------------------


class HttpSink:
    """POSTs batches of records as JSON: Splunk HEC events or a JSON array."""

    def __init__(
        self,
        name: str,
        config: HttpSinkConfig,
        token: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.batch_size = config.batch_size
        self._token = token
        self._transport = transport
        self._client: httpx.Client | None = None

    def __repr__(self) -> str:
        return f"HttpSink(name={self.name!r}, destination={self.destination()!r})"

    def destination(self) -> str:
        url = httpx.URL(self.config.url)
        return str(url.copy_with(query=None, fragment=None, username=None, password=None))

    def client(self) -> httpx.Client:
        if self._client is None:
            c = self.config
            verify: ssl.SSLContext | bool = c.tls_verify
            if c.ca_file and c.tls_verify:
                verify = ssl.create_default_context(cafile=c.ca_file)
            headers = {"Content-Type": "application/json", **c.headers}
            if self._token:
                headers["Authorization"] = f"{c.auth_scheme} {self._token}".strip()
            self._client = httpx.Client(
                timeout=c.timeout, verify=verify, headers=headers, transport=self._transport
            )
        return self._client

    def body(self, records: Sequence[Mapping[str, Any]]) -> bytes:
        c = self.config
        if c.format == "json":
            return json.dumps(list(records), sort_keys=True, ensure_ascii=False).encode()
        events = []
        host = socket.gethostname()
        for r in records:
            when = r.get("time")
            epoch = None
            if isinstance(when, str):
                try:
                    epoch = dt.datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()
                except ValueError:
                    epoch = None
            event: dict[str, Any] = {
                "host": host,
                "source": "helm-enterprise",
                "sourcetype": c.sourcetype,
                "event": r,
            }
            if epoch is not None:
                event["time"] = round(epoch, 3)
            if c.index:
                event["index"] = c.index
            events.append(json.dumps(event, sort_keys=True, ensure_ascii=False))
        return "\n".join(events).encode()

    def send(self, records: Sequence[Mapping[str, Any]]) -> None:
        body = self.body(records)
        _with_retries(self, self.config.retry, lambda: self._post(body))

    def _post(self, body: bytes) -> None:
        try:
            resp = self.client().post(self.config.url, content=body)
        except httpx.TransportError as err:
            raise _Transient(f"{type(err).__name__}: {scrub_text(str(err))}") from None
        if resp.status_code == 429 or resp.status_code >= 500:
            raise _Transient(f"HTTP {resp.status_code}: {truncate(scrub_text(resp.text), 200)}")
        if resp.status_code >= 300:
            raise SinkError(
                f"audit sink {self.name} ({self.destination()}): HTTP {resp.status_code}: "
                f"{truncate(scrub_text(resp.text), 200)}"
            )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


# -- forwarding ---------------------------------------------------------------------------------

Report = Callable[[str, dict[str, Any]], None]


def buffer_key(sink: Sink) -> str:
    """File name stem of a sink's buffer: its name and a digest of its destination, so two
    stacks that use one name for different collectors never mix their records."""
    digest = hashlib.sha256(sink.destination().encode()).hexdigest()[:10]
    return f"{sink.name}-{digest}"


class Forwarder:
    """Ships one sink's buffer in a background thread (see the module docs)."""

    def __init__(
        self,
        sink: Sink,
        buffer: DiskBuffer,
        report: Report,
        *,
        min_pause: float = 1.0,
        max_pause: float = 60.0,
    ) -> None:
        self.sink = sink
        self.buffer = buffer
        self._report = report
        self._min_pause = min_pause
        self._max_pause = max_pause
        self.healthy = True
        self.last_error = ""
        self._failures = 0
        self._next_attempt = 0.0
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # Marks a sink that failed in some process, so whichever process delivers to it
        # next records the recovery.
        self._down_marker = buffer.path.with_suffix(".down")

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"audit-sink-{self.sink.name}", daemon=True
            )
            self._thread.start()
        self._wake.set()  # ship what earlier runs left in the buffer

    def submit(self, line: bytes) -> Dropped | None:
        """Queue one serialized record; the background thread ships it."""
        dropped = self.buffer.append(line)
        self._wake.set()
        return dropped

    def _run(self) -> None:
        while not self._closing.is_set():
            pause = max(0.0, self._next_attempt - time.monotonic())
            self._wake.wait(timeout=pause if not self.healthy else None)
            self._wake.clear()
            if self._closing.is_set():
                break
            if self.healthy or time.monotonic() >= self._next_attempt:
                self.flush_once()
        if self.healthy:  # one last try at exit, bounded by close()'s join timeout
            self.flush_once()

    def flush_once(self) -> bool:
        """Ship everything pending now; True when the buffer is empty afterwards."""
        with self._lock:
            if not self.buffer.try_ship_lock():
                return False  # another process is shipping this buffer
            delivered = 0
            try:
                while True:
                    records, end = self.buffer.peek(self.sink.batch_size)
                    if not records:
                        if end:
                            self.buffer.commit(end)
                        break
                    self.sink.send(records)
                    self.buffer.commit(end)
                    delivered += len(records)
            except SinkError as err:
                self._down(str(err))
                return False
            except Exception as err:
                self._down(f"audit sink {self.sink.name}: {type(err).__name__}: {err}")
                return False
            finally:
                self.buffer.release_ship_lock()
            self._up(delivered)
            return True

    def drain(self, timeout: float) -> bool:
        """Ship until the buffer is empty (True), the sink fails or ``timeout`` passes
        (False). Waits while another thread or process holds the buffer."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            failures = self._failures
            if self.flush_once() and self.buffer.pending_bytes() == 0:
                return True
            if self._failures > failures:
                return False  # this attempt failed; the buffer keeps the records
            time.sleep(0.05)  # another thread or process is shipping
        return self.buffer.pending_bytes() == 0

    def _down(self, message: str) -> None:
        message = scrub_text(message)
        self._failures += 1
        pause = min(self._max_pause, self._min_pause * 2 ** (self._failures - 1))
        self._next_attempt = time.monotonic() + pause
        was_healthy, self.healthy, self.last_error = self.healthy, False, message
        with contextlib.suppress(OSError):
            self._down_marker.write_text(message)
        if was_healthy:
            self._report(
                "sink-failed",
                {
                    "sink": self.sink.name,
                    "destination": self.sink.destination(),
                    "error": message,
                    "buffer": str(self.buffer.path),
                    "pending_bytes": self.buffer.pending_bytes(),
                },
            )

    def _up(self, delivered: int) -> None:
        was_down = not self.healthy or self._down_marker.exists()
        self.healthy, self._failures, self.last_error = True, 0, ""
        if was_down:
            self._down_marker.unlink(missing_ok=True)
            self._report(
                "sink-recovered",
                {
                    "sink": self.sink.name,
                    "destination": self.sink.destination(),
                    "delivered": delivered,
                },
            )

    def close(self, timeout: float) -> None:
        """Stop the thread, giving a healthy sink up to ``timeout`` seconds to take what is
        pending; the rest stays in the buffer."""
        self._closing.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout if self.healthy else min(timeout, 0.5))
        if self._thread is None or not self._thread.is_alive():
            self.sink.close()
