"""The protocol suite runs alone in the process: no server thread left over from another
suite may run beside it. Hypothesis rightly fails a test when global state such as
``random`` changes during a draw, and a live server's keep-alive pings do change it."""

from __future__ import annotations

import threading
import time

import pytest


@pytest.fixture(scope="package", autouse=True)
def no_stray_threads() -> None:
    deadline = time.monotonic() + 10
    while stray := [t for t in threading.enumerate() if t is not threading.main_thread()]:
        if time.monotonic() > deadline:
            names = ", ".join(t.name for t in stray)
            pytest.fail(f"threads left running by an earlier suite: {names}")
        time.sleep(0.05)
