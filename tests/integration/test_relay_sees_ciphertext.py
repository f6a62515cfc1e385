"""The relay sees only ciphertext, and the server keeps no content at rest (issue 3;
SECURITY.md "What the relay may see", "find content at rest on servers").

A real EmbeddedServer of its own runs in a background thread, with a tap on the relay's
input: every frame any member sends (HELLO included) is recorded as the relay received
it. The host shares an Xvfb screen showing a unique marker in an xterm and a distinctive
colour pattern, with the real ``Presenter`` (mss capture, the real codec); a viewer paints
what it receives; both chat the marker. The viewer's picture becomes the screen and the
chat is read on the other side: the tap saw the real traffic. Yet the marker and the
pattern appear in no frame, in no file under the data directory and in no log record
of the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from integration.helpers import (
    Crowd,
    Peer,
    add_organizer,
    differing_pixels,
    host_session,
    join_peer,
    log_in,
    needles,
    pinned_context,
    places_holding,
    read_tree,
    run_async,
    until,
)
from relaydesk.agent.presenter import Presenter
from relaydesk.client.member import Received
from relaydesk.errors import MessageError
from relaydesk.protocol.frames import Frame, FrameType, Header
from relaydesk.protocol.messages import Chat, PresenterRequest, Refresh, ScreenUpdate, decode
from relaydesk.relay.hub import Connection
from relaydesk.screen.capture import ScreenCapture
from relaydesk.screen.framebuffer import FrameBuffer
from support.screen import Screen
from support.servers import LiveServer

MARKER = f"relaydesk-marker-{secrets.token_hex(6)}"
PATTERN = [0x12EF34, 0xA1B2C3, 0x5A0F96, 0xF0E1D2, 0x0BADC0, 0xDE1A5E, 0x7FFF01, 0x3C3C99]
# Server-side loggers, recorded at DEBUG while the server runs. uvicorn configures its
# own loggers when the server starts, so they are hooked after that.
RELAYDESK_LOGGERS = ("relaydesk.relay", "relaydesk.broker", "relaydesk.server")
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.asgi")


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.levelname} {record.getMessage()}")

    @contextlib.contextmanager
    def recording(self, *names: str) -> Iterator[None]:
        loggers = [logging.getLogger(name) for name in names]
        levels = [logger.level for logger in loggers]
        for logger in loggers:
            logger.addHandler(self)
            logger.setLevel(logging.DEBUG)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.removeHandler(self)
                logger.setLevel(level)


@dataclass
class Session:
    tapped: list[bytes]  # every frame the relay received, as received
    screen_seen: np.ndarray  # the screen, grabbed independently
    viewer_saw: np.ndarray  # the viewer's decoded picture (RGB)
    chats_read: dict[str, list[tuple[tuple[int, int], str]]]  # (sender, sequence), text
    pattern: bytes = b""  # one row of the pattern as raw BGRX pixel bytes
    pattern_at: tuple[int, int] = (0, 0)  # (y, x) where that row starts on screen
    data: Path = Path()  # the server's data directory, after it stopped
    log_lines: tuple[str, ...] = ()  # what the server logged, at DEBUG


def reads_marker(peer: Peer) -> bool:
    return any(MARKER in message.text for _, message in peer.messages_of(Chat))


async def share(
    server: LiveServer, context: ssl.SSLContext, screen: Screen, picture: np.ndarray
) -> Session:
    tapped: list[bytes] = []

    def install_tap() -> None:
        """Record every frame the relay's switch is handed (the WebSocket endpoint calls
        ``admit`` with the first one and ``receive`` with each later one)."""
        hub = server.hub
        admit, receive = hub.admit, hub.receive

        def tapped_admit(connection: Connection, data: bytes) -> None:
            tapped.append(bytes(data))
            admit(connection, data)

        def tapped_receive(
            connection: Connection, data: bytes, header: Header | None = None
        ) -> None:
            tapped.append(bytes(data))
            receive(connection, data, header)

        setattr(hub, "admit", tapped_admit)  # noqa: B010 - an instance attribute shadows
        setattr(hub, "receive", tapped_receive)  # noqa: B010

    server.inspect(install_tap)
    token = await log_in(server.url, context)
    viewer_picture = FrameBuffer()
    presenter: Presenter | None = None

    async def host_hook(peer: Peer, item: Received) -> None:
        match item.message:
            case _ if item.header.type is FrameType.ROSTER:
                await peer.member.send(PresenterRequest(peer.member_id))
            case Refresh(member_id) if presenter is not None:
                presenter.want_refresh(member_id)

    async def viewer_hook(peer: Peer, item: Received) -> None:
        if isinstance(item.message, ScreenUpdate):
            viewer_picture.apply(item.message)

    async with Crowd() as crowd:
        created, host = await host_session(server.url, context, token, on_message=host_hook)
        crowd.add(host)
        presenter = Presenter(host.member, partial(ScreenCapture, screen.server.display))
        sharing = asyncio.create_task(presenter.run())
        try:
            viewer = crowd.add(
                await join_peer(
                    server.url,
                    context,
                    created.session_id,
                    "Vic Viewer",
                    on_message=viewer_hook,
                )
            )
            await until(
                lambda: (
                    viewer_picture.ready and differing_pixels(viewer_picture.to_rgb(), picture) == 0
                ),
                "the viewer sees the screen",
            )
            await viewer.keys_for(host)
            await host.keys_for(viewer)
            await viewer.member.send_content(Chat(f"viewer says {MARKER}"))
            await host.member.send_content(Chat(f"host says {MARKER}"), viewer.member_id)
            for peer in (host, viewer):
                await until(partial(reads_marker, peer), f"{peer.name} reads the chat")
        finally:
            sharing.cancel()
            (ended,) = await asyncio.gather(sharing, return_exceptions=True)
            if not isinstance(ended, asyncio.CancelledError):
                raise AssertionError(f"the presenter stopped: {ended!r}") from ended
        chats = {
            peer.name: [
                ((r.header.sender, r.header.sequence), m.text) for r, m in peer.messages_of(Chat)
            ]
            for peer in (host, viewer)
        }
        return Session(tapped, picture, viewer_picture.to_rgb(), chats)


@pytest.fixture(scope="module")
def session(screen: Screen, tmp_path_factory: pytest.TempPathFactory) -> Session:
    screen.background(0x203040)
    y, x = 300, 40
    pattern = screen.stripes(x, y, PATTERN, 16, 40)
    screen.xterm(MARKER, 40, 40)
    picture = screen.settle()
    data = tmp_path_factory.mktemp("tapped-server")
    add_organizer(data)
    server = LiveServer(data)
    logs = Recorder()
    with logs.recording(*RELAYDESK_LOGGERS):
        try:
            server.start()
            context = pinned_context(
                server.url, server.fingerprint, tmp_path_factory.mktemp("profile")
            )
            with logs.recording(*UVICORN_LOGGERS):
                result = run_async(share(server, context, screen, picture))
        finally:
            server.stop()  # records flushed, database closed: what stays on disk is final
    result.pattern, result.pattern_at = pattern, (y, x)
    result.data, result.log_lines = data, tuple(logs.lines)
    return result


def test_the_tap_saw_the_real_traffic(session: Session) -> None:
    assert differing_pixels(session.viewer_saw, session.screen_seen) == 0
    y, x = session.pattern_at
    width = len(session.pattern) // 4
    seen_row = session.viewer_saw[y, x : x + width]
    expected_row = np.frombuffer(session.pattern, np.uint8).reshape(width, 4)[:, 2::-1]
    assert np.array_equal(seen_row, expected_row)
    frames = [Frame.parse(data) for data in session.tapped]
    assert FrameType.SCREEN_UPDATE in {frame.header.type for frame in frames}
    tapped_chats = {
        (f.header.sender, f.header.sequence) for f in frames if f.header.type is FrameType.CHAT
    }
    # Each chat read at the other end is one of the frames the relay received.
    read = [key for chats in session.chats_read.values() for key, text in chats if MARKER in text]
    assert len(read) == 2
    assert set(read) <= tapped_chats


def test_the_relay_received_only_ciphertext(session: Session) -> None:
    blobs = {f"frame {i}": data for i, data in enumerate(session.tapped)}
    assert places_holding(needles(MARKER, session.pattern), blobs) == []
    for data in session.tapped:
        frame = Frame.parse(data)
        if frame.header.type.is_content:
            # A plaintext body would decode as its message; a sealed one does not.
            with pytest.raises(MessageError):
                decode(frame.header.type, frame.body)


def test_nothing_at_rest_in_the_data_directory_or_server_logs(session: Session) -> None:
    forms = needles(MARKER, session.pattern)
    files = read_tree(session.data)
    assert any(path.endswith("relaydesk.db") for path in files)
    assert places_holding(forms, files) == []
    assert session.log_lines, "the server logged nothing at DEBUG: the capture is broken"
    assert places_holding(forms, {"server log": "\n".join(session.log_lines).encode()}) == []
