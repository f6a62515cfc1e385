"""Helpers for the integration tests: real processes, a real X server, real sockets.

Nothing here stands in for a part of relaydesk. The CLI runs as the installed console
script; a server runs either as ``relaydesk server`` in a subprocess or as the real
``EmbeddedServer`` on its own event loop in a background thread (when a test must look
inside the relay); screens are drawn on Xvfb by real X clients (xsetroot, xterm,
python-xlib windows) and grabbed independently of relaydesk with python-xlib
(``support.screen``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import ssl
import subprocess
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np

from relaydesk.client.api import BrokerApi, CreatedSession, broker_refresher
from relaydesk.client.member import Member, Received, Reconnected, Rejected
from relaydesk.client.profile import Profile
from relaydesk.client.trust import trust_server
from relaydesk.errors import RelayClosed
from relaydesk.protocol.frames import FrameType
from relaydesk.protocol.keys import MemberKeys
from relaydesk.protocol.messages import PresenterRequest, ScreenUpdate
from support.processes import RELAYDESK, Background
from support.screen import RGB

CLI_TIMEOUT = 90.0  # one CLI command; generous: the CI machine has two slow cores
LIVENESS_TIMEOUT = 60.0  # anything that must happen "eventually"
ORGANIZER = "alice"
ORGANIZER_PASSWORD = "correct horse battery staple"

T = TypeVar("T")


def run_async(job: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(job)`` in a thread of its own, so that it works even when something
    left an event loop running in the main thread (Playwright's sync API, which the
    browser tests keep open for the whole session, does)."""
    with ThreadPoolExecutor(1, thread_name_prefix="integration-client") as pool:
        return pool.submit(asyncio.run, job).result()


# The command line ------------------------------------------------------------------


def relaydesk(
    *args: str | Path,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = CLI_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run ``relaydesk ARGS`` to completion. Standard input is never a terminal: it is
    ``stdin`` through a pipe, or /dev/null."""
    return subprocess.run(
        [str(RELAYDESK), *map(str, args)],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def check(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """``result`` if it succeeded, else an AssertionError showing everything it said."""
    assert result.returncode == 0, (
        f"{result.args} exited {result.returncode}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result


@dataclass
class ServerProcess:
    """``relaydesk server --data DIR --port 0`` in a subprocess."""

    data: Path
    process: Background
    url: str
    fingerprint: str

    @classmethod
    def start(cls, data: Path) -> ServerProcess:
        process = Background("server", "--data", data, "--port", "0")
        try:
            url = process.wait_for_line(r"^relaydesk server ready at (https://\S+)$").group(1)
            fingerprint = process.wait_for_line(
                r"^TLS certificate SHA-256 fingerprint: ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})$"
            ).group(1)
        except BaseException:
            process.kill()
            raise
        return cls(data, process, url, fingerprint)


def add_organizer(data: Path, name: str = ORGANIZER, password: str = ORGANIZER_PASSWORD) -> None:
    """``relaydesk admin --data DIR user add NAME --password-stdin``."""
    check(relaydesk("admin", "--data", data, "user", "add", name, "--password-stdin",
                    stdin=password + "\n"))  # fmt: skip


# A server inside the test process -----------------------------------------------------


# Library clients ------------------------------------------------------------------------


async def until(
    condition: Callable[[], bool], what: str, timeout: float = LIVENESS_TIMEOUT
) -> None:
    """Wait (polling) until ``condition()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.01)


class Peer:
    """A library ``Member`` whose messages are read by a task and kept in ``received``
    (screen updates only counted: tests push many megabytes of them).

    ``on_message`` (optional) runs for each message as it arrives: a host uses it to ask
    to present, a viewer to paint its framebuffer.
    """

    def __init__(
        self,
        member: Member,
        name: str,
        on_message: Callable[[Peer, Received], Awaitable[None]] | None = None,
    ) -> None:
        self.member = member
        self.name = name
        self.received: list[Received] = []
        self.screen_updates = 0
        self.rejected: list[Rejected] = []
        self.reconnects: list[Reconnected] = []  # a member with a refresher came back
        self.on_reconnect: Callable[[], None] | None = None  # told when it came back
        self.closed: RelayClosed | None = None
        self.on_message = on_message
        self._task: asyncio.Task[None] | None = None

    @property
    def member_id(self) -> int:
        return self.member.member_id

    async def connect(self, read: bool = True) -> Peer:
        """Connect; unless ``read`` is false, start reading (see ``start_reading``)."""
        await self.member.connect()
        if read:
            self.start_reading()
        return self

    def start_reading(self) -> None:
        assert self._task is None, "already reading"
        self._task = asyncio.create_task(self._read(), name=f"reader {self.name}")

    async def _read(self) -> None:
        try:
            async for item in self.member.messages():
                if isinstance(item, Reconnected):
                    self.reconnects.append(item)
                    if self.on_reconnect is not None:
                        self.on_reconnect()
                    continue
                if isinstance(item, Rejected):
                    self.rejected.append(item)
                    continue
                if isinstance(item.message, ScreenUpdate):
                    self.screen_updates += 1
                else:
                    self.received.append(item)
                if self.on_message is not None:
                    await self.on_message(self, item)
        except RelayClosed as closed:
            self.closed = closed

    def messages_of(self, kind: type[T]) -> list[tuple[Received, T]]:
        return [(r, r.message) for r in self.received if isinstance(r.message, kind)]

    @property
    def epoch_members(self) -> frozenset[int]:
        epoch = self.member.e2e.current
        return frozenset() if epoch is None else epoch.members

    async def keys_for(self, *peers: Peer) -> None:
        """Wait until this member's current epoch covers exactly itself and ``peers``."""
        wanted = frozenset([self.member_id, *(p.member_id for p in peers)])
        await until(lambda: self.epoch_members == wanted, f"{self.name} has keys for {wanted}")

    async def close(self) -> None:
        await self.member.close()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 10)
            except TimeoutError:
                self._task.cancel()
            if self._task.done() and not self._task.cancelled():
                self._task.result()  # a reader that crashed fails the test


class Crowd:
    """Closes every peer added to it when the block ends, however it ends (a failed test
    must not leave connections for the next one)."""

    def __init__(self) -> None:
        self.peers: list[Peer] = []

    def add(self, peer: Peer) -> Peer:
        self.peers.append(peer)
        return peer

    async def __aenter__(self) -> Crowd:
        return self

    async def __aexit__(self, exc_type: object, *exc: object) -> None:
        for peer in reversed(self.peers):
            if exc_type is None:
                await peer.close()
            else:
                with contextlib.suppress(Exception):
                    await peer.close()


_attendees = itertools.count()


def attendee_api(url: str, context: ssl.SSLContext, token: str = "") -> BrokerApi:
    """The broker's API as one attendee reaches it: from an address of its own
    (127.0.0.2 to 127.0.0.254 in turn; all loopback on Linux), as the people of a real
    meeting do, so the broker's per-address join limit applies to each alone."""
    address = f"127.0.0.{next(_attendees) % 253 + 2}"
    transport = httpx.AsyncHTTPTransport(verify=context, local_address=address)
    return BrokerApi(url, context, token, transport=transport)


async def join_peer(
    url: str,
    context: ssl.SSLContext,
    session_id: str,
    name: str,
    *,
    token: str = "",
    password: str | None = None,
    email: str | None = None,
    on_message: Callable[[Peer, Received], Awaitable[None]] | None = None,
    connect: bool = True,
    read: bool = True,
    refresh: bool = False,
    relay: str | None = None,
) -> Peer:
    """Join through the broker's API (as ``relaydesk join`` does) and, unless
    ``connect`` is false, connect. With ``refresh``, the member comes back after a drop
    as the CLI's does (a refreshed ticket); ``relay`` names the relay to try first (one
    that cannot reach the home relay directly, as behind a firewall, is bridged to it)."""
    keys = MemberKeys.generate(os.urandom)
    async with attendee_api(url, context, token) as api:
        joined = await api.join(
            session_id, name, keys.agreement_public, keys.ed25519_public, password, email=email
        )
    if relay is not None:
        first = [r for r in joined.relays if r.name == relay]
        joined = replace(joined, relays=(*first, *(r for r in joined.relays if r.name != relay)))
    refresher = broker_refresher(url, context, session_id, keys.signing) if refresh else None
    peer = Peer(Member(joined, keys, context, refresher=refresher), name, on_message)
    return await peer.connect(read) if connect else peer


async def present_when_admitted(peer: Peer, item: Received) -> None:
    """A host's hook: ask to present (itself) as soon as the roster arrives."""
    if item.header.type is FrameType.ROSTER:
        await peer.member.send(PresenterRequest(peer.member_id))


def pinned_context(url: str, fingerprint: str, profile_dir: Path) -> ssl.SSLContext:
    """A TLS context pinned to the server's certificate, as the CLI makes it."""
    return trust_server(url, Profile(profile_dir), fingerprint, None)


async def log_in(url: str, context: ssl.SSLContext) -> str:
    """The organizer's bearer token (``POST /api/login``)."""
    async with BrokerApi(url, context) as api:
        return await api.login(ORGANIZER, ORGANIZER_PASSWORD)


async def host_session(
    url: str,
    context: ssl.SSLContext,
    token: str,
    password: str | None = None,
    on_message: Callable[[Peer, Received], Awaitable[None]] | None = present_when_admitted,
) -> tuple[CreatedSession, Peer]:
    """Create a session as the organizer and join it as host (presenting, by default)."""
    async with BrokerApi(url, context, token) as api:
        created = await api.create_session(None, password)
    host = await join_peer(
        url, context, created.session_id, "Hannah Host", token=token, on_message=on_message
    )
    return created, host


# Pictures ------------------------------------------------------------------------------


def png_rgb(path: Path) -> RGB:
    from PIL import Image  # noqa: PLC0415

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).copy()


def differing_pixels(a: RGB, b: RGB) -> int:
    assert a.shape == b.shape, f"{a.shape} != {b.shape}"
    return int(np.any(a != b, axis=2).sum())


# Searching for content at rest --------------------------------------------------------


def needles(marker: str, *patterns: bytes) -> dict[str, bytes]:
    """The forms in which a marker could be found: UTF-8, UTF-16-LE, raw pixel bytes."""
    found = {"utf-8": marker.encode(), "utf-16-le": marker.encode("utf-16-le")}
    found.update({f"pixels {i}": pattern for i, pattern in enumerate(patterns)})
    return found


def files_under(directory: Path) -> Iterator[Path]:
    for root, _, names in os.walk(directory):
        for name in names:
            yield Path(root) / name


def places_holding(forms: dict[str, bytes], blobs: dict[str, bytes]) -> list[str]:
    """``"what in where"`` for each form found in each blob; empty when none is."""
    return [
        f"{what} in {where}"
        for where, blob in blobs.items()
        for what, needle in forms.items()
        if needle in blob
    ]


def read_tree(directory: Path) -> dict[str, bytes]:
    return {str(path): path.read_bytes() for path in files_under(directory)}


def terminate(process: Background) -> None:
    """Teardown: stop a background command whatever state it is in."""
    with contextlib.suppress(Exception):
        if process.process.poll() is None:
            process.process.send_signal(signal.SIGTERM)
            try:
                process.process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
