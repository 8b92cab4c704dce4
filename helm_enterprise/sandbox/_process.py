"""Background service processes of the sandbox: start, readiness, stop, log tails.

Every sandbox component (etcd, kube-apiserver, Vault, nginx, ...) is a :class:`Service`:
a command line, a log file and a pid file under the sandbox state dir, plus a readiness
probe. Services outlive the Python process that started them (``start_new_session``), so
``sandbox up`` can return and ``sandbox down`` (or a later test session) can find and stop
them from their pid files, even after a crash.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from helm_enterprise.errors import SandboxError

Probe = Callable[[], bool]
_children: list[subprocess.Popen[bytes]] = []


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 25) -> str:
    """The last lines of a log file (for error messages about crashed components)."""
    try:
        data = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(data[-lines:])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still "exists"; reap it if we can.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def ever_started(names: Sequence[str], pid_dir: Path, log_dir: Path) -> bool:
    """Whether any of the services ``names`` was ever started in this sandbox: a start
    leaves a pid file (removed by stop) and a log (kept). A component that never started
    has nothing to stop and nothing to report, and reading its configuration would need
    binaries and certificates that may not exist (``sandbox status``/``down``)."""
    return any((pid_dir / f"{n}.pid").exists() or (log_dir / f"{n}.log").exists() for n in names)


def not_started(name: str) -> dict[str, object]:
    """The status entry of a service that never started (same keys as ``describe``)."""
    return {
        "name": name,
        "pid": None,
        "running": False,
        "ready": False,
        "state": "not started",
        "log": "",
    }


@dataclasses.dataclass
class Service:
    """One long-running process of the sandbox."""

    name: str
    argv: Sequence[str | Path]
    state_dir: Path
    log_dir: Path
    probe: Probe
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    ports: Sequence[int] = ()
    ready_timeout: float = 60.0

    @property
    def pid_file(self) -> Path:
        return self.state_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def running(self) -> bool:
        return self.pid() is not None

    def start(self) -> None:
        """Start unless already running; wait for the probe; raise with the log tail."""
        if self.running():
            if self._wait_ready(self.ready_timeout):
                return
            raise SandboxError(
                f"{self.name} is running but not ready; log tail:\n{tail(self.log_file)}",
                log_path=self.log_file,
            )
        for port in self.ports:
            if port_open(port):
                raise SandboxError(
                    f"{self.name}: port {port} is already in use by another process; stop it "
                    "or choose other ports (HELM_ENTERPRISE_SANDBOX_PORT_BASE)"
                )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        with self.log_file.open("ab") as log:
            log.write(f"\n=== start {time.strftime('%Y-%m-%dT%H:%M:%S')} ===\n".encode())
            log.flush()
            proc = subprocess.Popen(
                [str(a) for a in self.argv],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.cwd,
                env=env,
                start_new_session=True,
            )
        # The process outlives this call by design; keeping its handle for the life of the
        # interpreter lets waitpid() reap it and keeps Popen from warning that it still runs.
        _children.append(proc)
        self.pid_file.write_text(str(proc.pid))
        if not self._wait_ready(self.ready_timeout, proc):
            alive = proc.poll() is None
            self.stop()
            state = "did not become ready" if alive else f"exited with {proc.returncode}"
            raise SandboxError(
                f"{self.name} {state} within {self.ready_timeout:.0f}s; "
                f"log {self.log_file}, tail:\n{tail(self.log_file)}",
                log_path=self.log_file,
            )

    def _wait_ready(self, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                return False
            with contextlib.suppress(Exception):  # a probe failing means "not yet"
                if self.probe():
                    return True
            time.sleep(0.3)
        return False

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL after ``grace`` seconds."""
        pid = self.pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and pid_alive(pid):
                time.sleep(0.2)
            if pid_alive(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
                while pid_alive(pid) and time.monotonic() < deadline + 5:
                    time.sleep(0.1)
        with contextlib.suppress(FileNotFoundError):
            self.pid_file.unlink()

    def describe(self) -> dict[str, object]:
        pid = self.pid()
        ready = False
        if pid is not None:
            try:
                ready = bool(self.probe())
            except Exception:
                ready = False
        return {
            "name": self.name,
            "pid": pid,
            "running": pid is not None,
            "ready": ready,
            "state": "ready" if ready else "running" if pid is not None else "stopped",
            "log": str(self.log_file),
        }
