"""A real HTTP CONNECT proxy for tests: Debian's tinyproxy, with its own config file,
on a free port of 127.0.0.1, optionally with Basic authentication and allowed ports."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

TINYPROXY = "/usr/bin/tinyproxy"
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class RunningProxy:
    port: int
    user: str | None
    password: str | None

    def url(self, user: str | None = None, password: str | None = None) -> str:
        """http://user:password@127.0.0.1:PORT, with this proxy's own credentials by
        default (pass others to try wrong ones)."""
        user = user if user is not None else self.user
        password = password if password is not None else self.password
        auth = f"{user}:{password}@" if user is not None else ""
        return f"http://{auth}127.0.0.1:{self.port}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def tinyproxy(
    directory: Path,
    *,
    user: str | None = None,
    password: str | None = None,
    connect_ports: list[int] | None = None,
) -> Iterator[RunningProxy]:
    """Run tinyproxy in the foreground until the block ends. ``connect_ports``: the only
    ports CONNECT may reach (None: any)."""
    port = _free_port()
    lines = [
        f"Port {port}",
        "Listen 127.0.0.1",
        "Timeout 60",
        "MaxClients 50",
        "LogLevel Info",
        f'LogFile "{directory / "tinyproxy.log"}"',
        f'PidFile "{directory / "tinyproxy.pid"}"',
        "Allow 127.0.0.1",
    ]
    if user is not None:
        lines.append(f"BasicAuth {user} {password}")
    # Without any ConnectPort line tinyproxy allows CONNECT to every port.
    lines += [f"ConnectPort {p}" for p in connect_ports or []]
    config = directory / "tinyproxy.conf"
    config.write_text("\n".join(lines) + "\n")
    process = subprocess.Popen([TINYPROXY, "-d", "-c", str(config)])
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"tinyproxy did not start: {config.read_text()}") from None
                time.sleep(0.05)
        yield RunningProxy(port, user, password)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
