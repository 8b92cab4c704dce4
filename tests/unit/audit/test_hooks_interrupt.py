"""Issue 10: a program that serves hooks is ended by the engine with SIGINT when an update
fails; it must stop without Python's KeyboardInterrupt traceback."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from helm_enterprise.audit import hooks as audit_hooks
from helm_enterprise.audit.hooks import exit_quietly_when_interrupted, lifecycle_hooks
from tests.unit.pulumi_harness import run_program


@pytest.fixture(autouse=True)
def restore_sigint() -> Iterator[None]:
    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_the_engines_interrupt_ends_the_program_without_a_traceback() -> None:
    """In a process of its own, as a program the engine interrupts while the SDK's coroutine
    waits for the shutdown signal (its cleanup awaits again: with SystemExit that printed
    "Exception ignored in: <coroutine ...> RuntimeError: no running event loop")."""
    import subprocess
    import sys

    code = """
import asyncio, os, signal
from helm_enterprise.audit.hooks import exit_quietly_when_interrupted

async def run_in_stack():
    try:
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.sleep(30)  # the SDK waiting for the engine's shutdown signal
    finally:
        await asyncio.sleep(0)  # cleanup that needs the loop
        print("cleanup ran without a loop")

exit_quietly_when_interrupted()
print("program output", flush=True)
asyncio.run(run_in_stack())
"""
    default = subprocess.run(
        [sys.executable, "-c", code.replace("exit_quietly_when_interrupted()", "")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "KeyboardInterrupt" in default.stderr  # Python's default: a traceback
    quiet = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    # 32 tells the language host the error was already shown; nothing more is printed.
    assert quiet.returncode == 32
    assert quiet.stdout == "program output\n" and quiet.stderr == ""


def test_a_handler_someone_else_installed_is_kept() -> None:
    def theirs(_signum: int, _frame: Any) -> None:
        return None

    signal.signal(signal.SIGINT, theirs)
    exit_quietly_when_interrupted()
    assert signal.getsignal(signal.SIGINT) is theirs


def test_nothing_changes_from_another_thread() -> None:
    worker = threading.Thread(target=exit_quietly_when_interrupted)
    worker.start()
    worker.join()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_under_the_sdks_mocks_sigint_is_left_alone() -> None:
    """Unit tests run programs under mocks, with no engine to interrupt them."""
    audit_hooks.reset()
    try:
        run_program(lambda: lifecycle_hooks("web", {"namespace": "shop"}))
    finally:
        audit_hooks.reset()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
