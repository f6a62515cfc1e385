"""A ``relaydesk`` command in a real terminal (a pseudo-terminal, through pexpect): the
test reads what a person would see and types what a person would type, such as the
answer to a consent prompt."""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
from pathlib import Path

import pexpect

from support.processes import RELAYDESK

TIMEOUT = 60.0  # anything that must appear "eventually"; two slow cores


class Terminal:
    def __init__(self, *args: str | Path, env: dict[str, str] | None = None) -> None:
        self.args = [str(arg) for arg in args]
        self.transcript = io.StringIO()
        self.child = pexpect.spawn(
            str(RELAYDESK), self.args, env=env if env is not None else dict(os.environ),
            encoding="utf-8", codec_errors="replace", dimensions=(50, 200), echo=False,
            timeout=TIMEOUT,
        )  # fmt: skip
        self.child.logfile_read = self.transcript

    def expect(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        """Wait until the screen shows ``pattern`` (a regex; ``^`` and ``$`` match at line
        boundaries), after what earlier calls matched; its match."""
        regex = re.compile(pattern, re.MULTILINE)
        try:
            self.child.expect(regex, timeout=timeout)
        except (pexpect.TIMEOUT, pexpect.EOF) as error:
            what = "exited" if isinstance(error, pexpect.EOF) else f"after {timeout:.0f} s"
            raise AssertionError(
                f"relaydesk {' '.join(self.args)} never showed {pattern!r} ({what}); "
                f"it showed:\n{self.transcript.getvalue()}"
            ) from None
        match = self.child.match
        assert isinstance(match, re.Match)
        return match

    def type(self, line: str) -> None:
        """Type a line and press Enter."""
        self.child.sendline(line)

    def shown(self) -> str:
        """Everything shown so far."""
        return self.transcript.getvalue()

    def stop(self, how: signal.Signals = signal.SIGINT, timeout: float = 30.0) -> int | None:
        """Ctrl+C (or ``how``) and wait for the exit; the exit status."""
        if self.child.isalive():
            with contextlib.suppress(OSError):
                self.child.kill(how)
            with contextlib.suppress(pexpect.TIMEOUT, pexpect.EOF):
                self.child.expect(pexpect.EOF, timeout=timeout)
        self.child.close(force=True)
        return self.child.exitstatus
