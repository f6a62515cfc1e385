"""The VNC peers of the screen benchmark, measured on the same xterm workload in the same
run (PERFORMANCE.md "The peers"): TigerVNC's Xvnc (an X server that knows what it draws,
so it sends scrolls as copies) and x11vnc (which polls an Xvfb screen, as our agent does),
both asked for ZRLE and CopyRect.

A minimal RFB 3.8 viewer (``RfbViewer``) keeps one incremental update request outstanding,
as real viewers do, and parses just enough of each update to know where it ends (no pixel
is decoded). It reaches the server through ``CountingProxy``, a TCP proxy counting the
bytes the server sends: what the peer puts on the wire for the workload. Neither peer
encrypts; relaydesk's figures are its frames (header + sealed body) before TLS.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator

from relaydesk.screen.xvfb import Xvfb

ZRLE, COPY_RECT, RAW = 16, 1, 0
QUIET_SECONDS = 0.25  # the viewer is up to date once nothing came for this long
QUIET_TIMEOUT = 10.0
PIXEL_FORMAT = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)
VNC_STOP_SECONDS = 5.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Xvnc(Xvfb):
    """TigerVNC's Xvnc: an X server and a VNC server in one, on 127.0.0.1:``rfb_port``."""

    EXECUTABLE = "Xvnc"
    INSTALL_HINT = "apt install tigervnc-standalone-server"
    CAPTURE_BACKEND = "xlib"  # mss's XShm path refuses Xvnc's root visual

    def __init__(self, width: int, height: int, depth: int = 24) -> None:
        super().__init__(width, height, depth)
        self.rfb_port = free_port()

    def screen_arguments(self) -> list[str]:
        return [
            "-geometry", f"{self.width}x{self.height}", "-depth", str(self.depth),
            "-rfbport", str(self.rfb_port), "-localhost", "-SecurityTypes", "None",
            "-AlwaysShared",
        ]  # fmt: skip


@contextlib.contextmanager
def x11vnc(server: Xvfb) -> Iterator[int]:
    """x11vnc polling ``server``'s screen (its defaults); yields its RFB port."""
    port = free_port()
    process = subprocess.Popen(
        ["x11vnc", "-display", server.display, "-rfbport", str(port), "-localhost",
         "-nopw", "-shared", "-forever", "-quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("x11vnc did not start")
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(VNC_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def peers_installed() -> list[str]:
    """Those of the peers whose programs are here."""
    return [name for name in ("Xvnc", "x11vnc") if shutil.which(name)]


class CountingProxy:
    """127.0.0.1:``port`` → 127.0.0.1:``target``, one connection, counting the bytes the
    target sends (``down``)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.down = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        accept = threading.Thread(target=self._accept, daemon=True)
        accept.start()
        self._threads.append(accept)

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            client, _ = self._listener.accept()
            server = socket.create_connection(("127.0.0.1", self.target))
            self._sockets += [client, server]
            for source, sink, counted in ((client, server, False), (server, client, True)):
                pump = threading.Thread(
                    target=self._pump, args=(source, sink, counted), daemon=True
                )
                pump.start()
                self._threads.append(pump)

    def _pump(self, source: socket.socket, sink: socket.socket, counted: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if counted:
                    self.down += len(data)
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        for sock in (self._listener, *self._sockets):
            with contextlib.suppress(OSError):
                sock.close()


class RfbViewer:
    """An RFB 3.8 viewer asking for ZRLE and CopyRect, one incremental request always
    outstanding. ``updates`` counts the framebuffer updates received; ``last_byte`` is
    when anything last arrived."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.updates = 0
        self.rects: dict[int, int] = {}  # encoding -> rectangles received
        self.last_byte = time.monotonic()
        self.error: BaseException | None = None
        self.width, self.height = self._handshake()
        self._request(incremental=False)  # the first whole picture
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _exact(self, count: int) -> bytes:
        data = bytearray()
        while len(data) < count:
            chunk = self.sock.recv(min(count - len(data), 1 << 20))
            if not chunk:
                raise ConnectionError("the VNC server closed the connection")
            data += chunk
            self.last_byte = time.monotonic()
        return bytes(data)

    def _handshake(self) -> tuple[int, int]:
        version = self._exact(12)
        if not version.startswith(b"RFB 003."):
            raise ConnectionError(f"not an RFB server: {version!r}")
        self.sock.sendall(b"RFB 003.008\n")
        (count,) = self._exact(1)
        if 1 not in self._exact(count):
            raise ConnectionError("the VNC server wants authentication")
        self.sock.sendall(b"\x01")  # security type None
        (result,) = struct.unpack(">I", self._exact(4))
        if result != 0:
            raise ConnectionError("the VNC server refused the connection")
        self.sock.sendall(b"\x01")  # shared
        width, height = struct.unpack(">HH", self._exact(4))
        self._exact(16)  # its pixel format
        (name_length,) = struct.unpack(">I", self._exact(4))
        self._exact(name_length)
        self.sock.sendall(b"\x00\x00\x00\x00" + PIXEL_FORMAT)
        encodings = (ZRLE, COPY_RECT)
        self.sock.sendall(struct.pack(f">BxH{len(encodings)}i", 2, len(encodings), *encodings))
        return width, height

    def _request(self, incremental: bool) -> None:
        self.sock.sendall(struct.pack(">BBHHHH", 3, incremental, 0, 0, self.width, self.height))

    def _read(self) -> None:
        try:
            while True:
                (kind,) = self._exact(1)
                if kind == 0:
                    self._update()
                    self.updates += 1
                    self._request(incremental=True)
                elif kind == 1:  # colour map entries
                    _, _, count = struct.unpack(">xHH", self._exact(5))
                    self._exact(6 * count)
                elif kind == 2:  # bell
                    pass
                elif kind == 3:  # cut text
                    (length,) = struct.unpack(">3xI", self._exact(7))
                    self._exact(length)
                else:
                    raise ConnectionError(f"unknown RFB server message {kind}")
        except BaseException as error:  # kept for the caller (wait_quiet) to raise
            self.error = error

    def _update(self) -> None:
        (count,) = struct.unpack(">xH", self._exact(3))
        for _ in range(count):
            _, _, width, height, encoding = struct.unpack(">HHHHi", self._exact(12))
            self.rects[encoding] = self.rects.get(encoding, 0) + 1
            if encoding == ZRLE:
                (length,) = struct.unpack(">I", self._exact(4))
                self._exact(length)
            elif encoding == COPY_RECT:
                self._exact(4)
            elif encoding == RAW:
                self._exact(width * height * 4)
            else:
                raise ConnectionError(f"unrequested RFB encoding {encoding}")

    def wait_quiet(self, since_updates: int | None = None) -> None:
        """Wait until nothing arrived for QUIET_SECONDS (after at least one update more
        than ``since_updates``, if given)."""
        deadline = time.monotonic() + QUIET_TIMEOUT
        while time.monotonic() < deadline:
            if self.error is not None:
                raise RuntimeError(f"the VNC viewer failed: {self.error}")
            fresh = since_updates is None or self.updates > since_updates
            if fresh and time.monotonic() - self.last_byte >= QUIET_SECONDS:
                return
            time.sleep(0.01)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
