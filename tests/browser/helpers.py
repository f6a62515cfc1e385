"""Helpers for the browser tests: real processes, a real X server, real Chromium.

Nothing here stands in for a part of relaydesk. The presenter and the Python viewer run
as the installed ``relaydesk`` console script; the server is the real ``EmbeddedServer``
on its own event loop in a background thread (so a test can tap the relay); screens are
drawn on Xvfb by real X clients and grabbed with a plain X GetImage request
(``support.screen``), a path independent of relaydesk's capture (mss over XShm) and of
the browser; the browser is Debian's Chromium driven by Playwright.
"""

from __future__ import annotations

import base64
import contextlib
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from playwright.sync_api import expect

from relaydesk.protocol.frames import Header
from relaydesk.relay.hub import Connection, RelayHub
from relaydesk.screen.xvfb import Xvfb
from support import servers
from support.processes import RELAYDESK, Background
from support.screen import RGB

CLI_TIMEOUT = 90.0  # one CLI command to completion; two slow cores
LIVENESS_TIMEOUT = 45.0  # anything that must happen "eventually"
ORGANIZER = "olga"
ORGANIZER_PASSWORD = "browser tests are real"  # >= 12 characters
SECURITY_CODE = r"^Security code: (\d{4} \d{4} \d{4} \d{4})$"
WIDTH, HEIGHT = 640, 480  # the presenter's Xvfb screen
CODE = re.compile(r"^\d{4} \d{4} \d{4} \d{4}$")
JOIN_REFUSED = "No session with that ID and password."  # the broker's 403 sentence

# Debian's Chromium, never a downloaded one (issue 4).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

T = TypeVar("T")


def until(condition: Callable[[], T], what: str, timeout: float = LIVENESS_TIMEOUT) -> T:
    """Poll ``condition()`` until it returns something true; return that."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting until {what}")
        time.sleep(0.05)


# The command line ------------------------------------------------------------------


def relaydesk(*args: str | Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``relaydesk ARGS`` to completion; fails the test (showing its output) if it failed."""
    result = subprocess.run(
        [str(RELAYDESK), *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, (
        f"{result.args} exited {result.returncode}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result


class Process(Background):
    """A long-running ``relaydesk`` command with a pipe to its standard input."""

    def __init__(self, *args: str | Path, env: dict[str, str] | None = None) -> None:
        super().__init__(*args, env=env, stdin=True)

    def stop(self, how: signal.Signals = signal.SIGTERM, timeout: float = 20.0) -> int:
        """SIGTERM (the CLI then ends the session cleanly); killed if it does not exit."""
        try:
            return super().stop(how, timeout)
        except AssertionError:  # killed: teardown goes on
            return -9


class Share:
    """``relaydesk start`` sharing an X display: the session it created."""

    def __init__(self, profile: Path, xvfb: Xvfb, name: str, password: str | None = None) -> None:
        extra = ["--password-stdin"] if password is not None else []
        self.process = Process(
            "start", "--config-dir", profile, "--name", name, *extra, env=xvfb.env
        )
        try:
            if password is not None:
                self.process.type_line(password)
            self.session_id = self.process.wait_for_line(
                r"^Session ID: (\d{3} \d{3} \d{3})$"
            ).group(1)
            self.invite_url = self.process.wait_for_line(r"^Invite URL: (https://\S+)$").group(1)
            self.process.wait_for_line(SECURITY_CODE)  # it holds the keys: it is sharing
        except BaseException:
            self.process.stop()
            raise
        self.name = name

    def stop(self) -> None:
        self.process.stop()


# The server, inside the test process ---------------------------------------------------


class Tap:
    """Records every frame the relay's switch is handed: the WebSocket endpoint calls
    ``hub.admit`` with a connection's first frame and ``hub.receive`` with each later one.
    Instance attributes shadow the methods, so the real ones still do the work."""

    def __init__(self, hub: RelayHub) -> None:
        self.frames: list[bytes] = []
        self._lock = threading.Lock()
        admit, receive = hub.admit, hub.receive

        def tapped_admit(connection: Connection, data: bytes) -> None:
            self._record(data)
            admit(connection, data)

        def tapped_receive(
            connection: Connection, data: bytes, header: Header | None = None
        ) -> None:
            self._record(data)
            receive(connection, data, header)

        setattr(hub, "admit", tapped_admit)  # noqa: B010
        setattr(hub, "receive", tapped_receive)  # noqa: B010

    def _record(self, data: bytes) -> None:
        with self._lock:
            self.frames.append(bytes(data))

    def since(self, start: int) -> list[bytes]:
        with self._lock:
            return self.frames[start:]

    def __len__(self) -> int:
        with self._lock:
            return len(self.frames)


class LiveServer(servers.LiveServer):
    """The in-process server, with a ``Tap`` on the relay's input."""

    tap: Tap

    def start(self) -> LiveServer:
        super().start()
        self.tap = self.inspect(lambda: Tap(self.server.hub))
        return self

    def members(self) -> dict[str, int]:
        """Display name -> member ID of everyone connected to the relay now."""

        def names() -> dict[str, int]:
            found = {}
            for live in self.server.hub.sessions.values():
                for member_id, connection in live.connections.items():
                    if connection.ticket is not None:
                        found[connection.ticket.display_name] = member_id
            return found

        return self.inspect(names)


@contextlib.contextmanager
def organizer_server(data: Path) -> Iterator[LiveServer]:
    """The in-process server, with an organizer account made by the admin CLI."""
    relaydesk("admin", "--data", data, "user", "add", ORGANIZER, "--password-stdin",
              stdin=ORGANIZER_PASSWORD + "\n")  # fmt: skip
    live = LiveServer(data).start()
    try:
        yield live
    finally:
        live.stop()


def organizer_login(server: LiveServer, profile: Path) -> Path:
    """``relaydesk login`` into ``profile``, pinning the certificate (logins are rate
    limited: once per suite)."""
    relaydesk(
        "login", server.url, ORGANIZER, "--password-stdin",
        "--fingerprint", server.fingerprint, "--config-dir", profile,
        stdin=ORGANIZER_PASSWORD + "\n",
    )  # fmt: skip
    return profile


# A network that can drop ---------------------------------------------------------------


class TcpProxy:
    """A plain TCP relay from 127.0.0.1:``port`` to the server: the browser's network.
    ``drop()`` is a network failure (every connection cut, nothing listening);
    ``restore()`` brings the same port back."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.connections = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> TcpProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # dropped
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), 10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self.connections += 1
                self._sockets.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                pump = threading.Thread(target=self._pump, args=(source, sink), daemon=True)
                pump.start()
                self._threads.append(pump)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def drop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(10)
        self._threads = [t for t in self._threads if t.is_alive()]
        for sock in sockets:
            sock.close()

    def restore(self) -> None:
        self.start()

    def close(self) -> None:
        self.drop()


# Pictures ------------------------------------------------------------------------------


def differing_pixels(a: RGB, b: RGB) -> int:
    if a.shape != b.shape:
        return a.size + b.size
    return int(np.any(a != b, axis=2).sum())


# The browser ---------------------------------------------------------------------------


@dataclass
class Watched:
    """A page and what it did: every request, WebSocket, console message and error."""

    page: Any
    context: Any
    requests: list[str] = field(default_factory=list)
    websockets: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)  # (type, text)
    page_errors: list[str] = field(default_factory=list)

    def console_of(self, *types: str) -> list[str]:
        return [text for kind, text in self.console if kind in types]


def open_page(chromium: Any) -> Watched:
    context = chromium.new_context(
        ignore_https_errors=True,  # the server's self-signed certificate
        viewport={"width": 1280, "height": 800},
    )
    context.set_default_timeout(30_000)
    page = context.new_page()
    watched = Watched(page, context)
    page.on("request", lambda request: watched.requests.append(request.url))
    page.on("websocket", lambda socket: watched.websockets.append(socket.url))
    page.on("console", lambda message: watched.console.append((message.type, message.text)))
    page.on("pageerror", lambda error: watched.page_errors.append(str(error)))
    return watched


# The canvas as the page holds it (getImageData: the canvas's own pixels, whatever its
# CSS size), base64 of RGBA so that 1 MB crosses the bridge as one string.
READ_CANVAS = """() => {
  const canvas = document.getElementById("screen");
  const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  let text = "";
  for (let i = 0; i < data.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, data.subarray(i, i + 0x8000));
  }
  return { width: canvas.width, height: canvas.height, rgba: btoa(text) };
}"""


def canvas_rgb(page: Any) -> RGB:
    """The page's "Shared screen" canvas as (height, width, 3) RGB."""
    shot = page.evaluate(READ_CANVAS)
    rgba = np.frombuffer(base64.b64decode(shot["rgba"]), np.uint8)
    return rgba.reshape(shot["height"], shot["width"], 4)[:, :, :3]


def canvas_shows(page: Any, expected: RGB, timeout: float = LIVENESS_TIMEOUT) -> None:
    """Wait until the canvas equals ``expected`` pixel for pixel; fail showing how far."""
    last: list[int] = []

    def equal() -> bool:
        differing = differing_pixels(canvas_rgb(page), expected)
        last[:] = [differing]
        return differing == 0

    try:
        until(equal, "the canvas shows the presenter's screen", timeout)
    except AssertionError as error:
        raise AssertionError(f"{error}: {last[0] if last else '?'} pixels differ") from None


def join_in_browser(page: Any, invite_url: str, name: str, password: str = "") -> Any:
    """Open the invite URL, fill the join form as a person does, press Join. Returns the
    response for the page itself."""
    response = page.goto(invite_url)
    page.get_by_label("Your name").fill(name)
    if password:
        page.get_by_label("Session password").fill(password)
    page.get_by_role("button", name="Join").click()
    return response


# Several members ------------------------------------------------------------------------


def codes_agree(page: Any, share: Share, python_viewer: Process) -> str:
    """Wait until the page, ``relaydesk start`` and ``relaydesk join`` show the same
    security code last (each shows a new one whenever someone joins or leaves)."""
    seen: dict[str, str | None] = {}

    def same() -> str | None:
        seen["browser"] = page.locator("#security-code").text_content()
        seen["start"] = share.process.last(SECURITY_CODE)
        seen["join"] = python_viewer.last(SECURITY_CODE)
        values = set(seen.values())
        return values.pop() if len(values) == 1 and CODE.match(str(seen["browser"])) else None

    try:
        return until(same, "the three security codes agree")
    except AssertionError as error:
        raise AssertionError(f"{error}: {seen}") from None


def join_and_agree(page: Any, share: Share, python_viewer: Process, name: str) -> None:
    """Join, then wait until everyone holds the keys of the epoch that includes ``name``."""
    join_in_browser(page, share.invite_url, name)
    expect(page.locator("#status")).to_have_text("Connected")
    python_viewer.wait_for_line(rf"^\+ {re.escape(name)} joined$")
    codes_agree(page, share, python_viewer)


def send_from_browser(page: Any, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send", exact=True).click()
