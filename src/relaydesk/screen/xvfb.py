"""Start and stop a private Xvfb X server, for tests, benchmarks and headless sharing.

Xvfb picks a free display number itself (``-displayfd``) and writes it once it accepts
connections, so two test runs never race for the same number; we also wait for its
socket in ``/tmp/.X11-unix``. TCP is off: only local clients can connect. ``-noreset``:
the server keeps running, and keeps what is drawn, when its last client disconnects.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import NoReturn, Self

from relaydesk.closing import Closing
from relaydesk.errors import CaptureError

SOCKET_DIR = Path("/tmp/.X11-unix")
START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 5.0


class Xvfb(Closing):
    """One Xvfb server: ``with Xvfb(640, 480) as x: ... x.display ... x.env``.

    Another X server started the same way (``-displayfd``) subclasses it, setting
    ``EXECUTABLE`` and ``screen_arguments()`` (the benchmarks' Xvnc does).
    """

    EXECUTABLE = "Xvfb"
    INSTALL_HINT = "apt install xvfb"
    CAPTURE_BACKEND = "default"  # mss's backend for grabbing this server's screen

    def __init__(self, width: int = 1280, height: int = 720, depth: int = 24) -> None:
        self.width = width
        self.height = height
        self.depth = depth
        self.display = ""  # ":N" once started
        self._process: subprocess.Popen[bytes] | None = None
        # The server's output, read only to explain a failed start; lives as long as we do.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115

    @property
    def env(self) -> dict[str, str]:
        """This process's environment with ``DISPLAY`` set to this server."""
        return {**os.environ, "DISPLAY": self.display}

    def start(self) -> str:
        """Start the server; return its display name. Raises ``CaptureError``."""
        executable = shutil.which(self.EXECUTABLE)
        if executable is None:
            raise CaptureError(
                f"{self.EXECUTABLE} is not installed (Debian, Ubuntu: {self.INSTALL_HINT})"
            )
        read_end, write_end = os.pipe()
        try:
            self._process = subprocess.Popen(
                [executable, "-displayfd", str(write_end), "-nolisten", "tcp", "-noreset",
                 *self.screen_arguments()],
                pass_fds=(write_end,), stdin=subprocess.DEVNULL, stdout=self._log,
                stderr=self._log,
            )  # fmt: skip
            os.close(write_end)
            write_end = -1
            number = self._read_display_number(read_end)
        finally:
            os.close(read_end)
            if write_end != -1:
                os.close(write_end)
        socket = SOCKET_DIR / f"X{number}"
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not socket.exists():
            if time.monotonic() > deadline:
                self._fail(f"{self.EXECUTABLE} :{number} did not create {socket}")
            time.sleep(0.01)
        self.display = f":{number}"
        return self.display

    def screen_arguments(self) -> list[str]:
        return ["-screen", "0", f"{self.width}x{self.height}x{self.depth}"]

    def _read_display_number(self, read_end: int) -> int:
        received = b""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not received.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._fail(f"{self.EXECUTABLE} did not start in time")
            readable, _, _ = select.select([read_end], [], [], remaining)
            if readable:
                chunk = os.read(read_end, 16)
                if not chunk:
                    self._fail(f"{self.EXECUTABLE} exited before it was ready")
                received += chunk
        try:
            return int(received)
        except ValueError:
            self._fail(f"{self.EXECUTABLE} wrote {received!r} instead of a display number")

    def _fail(self, reason: str) -> NoReturn:
        self.stop()
        self._log.seek(0)
        log = self._log.read().decode(errors="replace").strip()
        raise CaptureError(f"{reason}; its output: {log[-2000:] or '(none)'}")

    def stop(self) -> None:
        """Stop the server (and wait for it); harmless if it is not running."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def close(self) -> None:
        self.stop()
        self._log.close()

    def __enter__(self) -> Self:
        if self._process is None:
            self.start()
        return self
