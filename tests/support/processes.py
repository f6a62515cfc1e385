"""Running ``relaydesk`` commands in tests, as a person would in a terminal."""

from __future__ import annotations

import contextlib
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

RELAYDESK = Path(sys.executable).parent / "relaydesk"
START_TIMEOUT = 60.0  # a background command printing what we wait for


class Background:
    """A long-running ``relaydesk`` command; its output is collected line by line, and
    with ``stdin=True`` lines can be typed to it (the CLI sends them as chat)."""

    def __init__(
        self, *args: str | Path, env: dict[str, str] | None = None, stdin: bool = False
    ) -> None:
        self.args = [str(RELAYDESK), *map(str, args)]
        self.process = subprocess.Popen(
            self.args,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            start_new_session=True,  # a Ctrl+C meant for pytest does not reach it
        )
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self._news: queue.Queue[None] = queue.Queue()
        self._readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in (
                (self.process.stdout, self.stdout_lines),
                (self.process.stderr, self.stderr_lines),
            )
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))
            self._news.put(None)
        stream.close()
        self._news.put(None)

    @property
    def stdout(self) -> str:
        return "\n".join(self.stdout_lines)

    @property
    def stderr(self) -> str:
        return "\n".join(self.stderr_lines)

    def describe(self) -> str:
        return (
            f"{self.args} (exit status {self.process.poll()})\n"
            f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        )

    def wait_for_line(
        self, pattern: str, timeout: float = START_TIMEOUT, after: int = 0
    ) -> re.Match[str]:
        """The first stdout line from line ``after`` on that matches ``pattern`` (a
        regex), waiting for it."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = after
        while True:
            lines = list(self.stdout_lines)
            for line in lines[seen:]:
                match = regex.search(line)
                if match:
                    return match
            seen = len(lines)
            readers_done = not any(reader.is_alive() for reader in self._readers)
            if readers_done and len(self.stdout_lines) == seen:
                raise AssertionError(f"exited before printing {pattern!r}: {self.describe()}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"never printed {pattern!r}: {self.describe()}")
            with contextlib.suppress(queue.Empty):
                self._news.get(timeout=min(remaining, 0.5))

    def type_line(self, text: str) -> None:
        """A line on standard input, as if typed (``stdin=True``)."""
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def last(self, pattern: str) -> str | None:
        """Group 1 of the last stdout line matching ``pattern``, if any."""
        regex = re.compile(pattern)
        for line in reversed(list(self.stdout_lines)):
            if match := regex.search(line):
                return match.group(1)
        return None

    def stop(self, how: signal.Signals = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``how`` and wait for the process to exit; its exit status. The process
        is killed (and the test fails) if it does not exit in time."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        if self.process.poll() is None:
            self.process.send_signal(how)
        try:
            status = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"did not exit on {how.name}: {self.describe()}") from None
        for reader in self._readers:
            reader.join(10)
        return status

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        for reader in self._readers:
            reader.join(10)
