"""The relay's links on real sockets (relay/link.py, relay/tcp.py, relay/endpoint.py;
docs/protocol.md §1, §2.6, §5.4).

The real EmbeddedServer runs in-process, on asyncio's own event loop and on uvloop's (as
``relaydesk server`` runs). Members are written here on raw TLS streams, direct TLS and
WebSocket (an RFC 6455 client by hand), so that every byte the relay writes is seen:
frames arrive whole and in order at every receiver, a WebSocket frame is exactly the RFC
6455 server frame of the relaydesk frame and the same for every receiver, the relay's
byte counts match what was read, and a receiver that reads nothing is bounded, paused
and delays nobody.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import uvloop
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from websockets.frames import Frame as WsFrame
from websockets.frames import Opcode

from integration.helpers import add_organizer, log_in, pinned_context
from relaydesk import limits
from relaydesk.client.api import BrokerApi, JoinResult
from relaydesk.protocol.frames import (
    EVERYONE,
    HEADER_SIZE,
    RELAY,
    Flags,
    Frame,
    FrameType,
    Header,
)
from relaydesk.protocol.keys import MemberKeys
from relaydesk.protocol.messages import (
    Challenge,
    Hello,
    LeaveReason,
    MemberLeft,
    PresenterRequest,
    decode,
    encode,
)
from relaydesk.protocol.tickets import prove_hello, verify_ticket
from relaydesk.relay.link import SocketLink
from support.servers import LiveServer

TIMEOUT = 60.0
LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


@pytest.fixture(scope="module", params=list(LOOPS))
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, ssl.SSLContext, str]]:
    data = tmp_path_factory.mktemp("links") / "data"
    add_organizer(data)
    live = LiveServer(data, new_loop=LOOPS[request.param]).start()
    try:
        context = pinned_context(live.url, live.fingerprint, data.parent / "profile")
        token = asyncio.run(log_in(live.url, context))
        yield live, context, token
    finally:
        live.stop()


# A member on a raw TLS stream -----------------------------------------------------------


@dataclass
class Link:
    """One member's raw link. ``frames``: every relaydesk frame read, whole; for a
    WebSocket link, ``wire``: each WebSocket frame exactly as it came."""

    joined: JoinResult
    keys: MemberKeys
    kind: str  # "direct" or "websocket"
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    frames: list[bytes] = field(default_factory=list)
    wire: list[bytes] = field(default_factory=list)
    closes: list[int] = field(default_factory=list)  # WebSocket close codes received
    pongs: list[bytes] = field(default_factory=list)
    _buffer: bytearray = field(default_factory=bytearray)
    _sequence: int = 1
    challenge: bytes = b""  # the nonce of the relay's CHALLENGE, the link's first frame

    @classmethod
    async def open(
        cls,
        server: LiveServer,
        context: ssl.SSLContext,
        joined: Joined,
        kind: str,
        rcvbuf: int | None = None,
        path: str = "/relay",
    ) -> Link:
        host, port = "127.0.0.1", server.port
        if kind == "direct":
            port = int(server.server.tcp_address.rsplit(":", 1)[1])
        sock = socket.socket()
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.connect((host, port))
        reader, writer = await asyncio.open_connection(
            sock=sock, ssl=context, server_hostname=host, limit=1 << 20
        )
        link = cls(joined.result, joined.keys, kind, reader, writer)
        if kind == "websocket":
            status = await link.upgrade(path)
            assert status == 101, status
        await link.read_until(lambda: bool(link.frames))
        challenge = decode(FrameType.CHALLENGE, link.frames[0][HEADER_SIZE:])
        assert isinstance(challenge, Challenge)
        link.challenge = challenge.nonce
        return link

    async def upgrade(self, path: str) -> int:
        key = base64.b64encode(os.urandom(16))
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n".encode()
            + b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key
            + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )  # fmt: skip
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        status = int(head.split(b" ", 2)[1])
        if status == 101:
            guid = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
            accept = base64.b64encode(hashlib.sha1(key + guid).digest())
            assert accept in head
        return status

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    def ws(self, payload: bytes, opcode: int = Opcode.BINARY, fin: bool = True) -> bytes:
        """A masked client frame (RFC 6455 §5.2)."""
        frame = WsFrame(Opcode(opcode), payload, fin=fin)
        return frame.serialize(mask=True)

    def send(self, frame: bytes) -> None:
        self.send_raw(frame if self.kind == "direct" else self.ws(frame))

    def header(self, kind: FrameType, target: int = RELAY, flags: Flags = Flags.NONE) -> Header:
        self._sequence += 1
        joined = self.joined
        return Header(kind, joined.session_uid, 1, joined.member_id, target, self._sequence, flags)

    def hello_frame(self) -> bytes:
        joined = self.joined
        header = Header(FrameType.HELLO, joined.session_uid, 0, joined.member_id, RELAY, 1)
        broker = Ed25519PublicKey.from_public_bytes(joined.broker_public_key)
        relay = verify_ticket(joined.ticket, broker, now=0).relay
        proof = prove_hello(self.keys.signing, self.challenge, joined.ticket, relay)
        return Frame(header, encode(Hello(joined.ticket, proof))).serialize()

    async def hello(self) -> None:
        self.send(self.hello_frame())
        await self.read_until(lambda: any(f[1] == FrameType.ROSTER for f in self.frames))

    async def read_until(self, done: Callable[[], bool], timeout: float = TIMEOUT) -> None:
        async with asyncio.timeout(timeout):
            while not done():
                data = await self.reader.read(1 << 16)
                if not data:
                    raise ConnectionError("the relay ended the link")
                self._take(data)

    async def read_to_end(self) -> None:
        async with asyncio.timeout(TIMEOUT):
            while data := await self.reader.read(1 << 16):
                self._take(data)

    def _take(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if self.kind == "direct":
            while len(buffer) >= HEADER_SIZE:
                end = HEADER_SIZE + int.from_bytes(buffer[40:44], "big")
                if len(buffer) < end:
                    break
                self.frames.append(bytes(buffer[:end]))
                del buffer[:end]
            return
        while len(buffer) >= 2:
            length, head = buffer[1] & 0x7F, 2
            if length == 126:
                length, head = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                length, head = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < head + length:
                break
            assert not buffer[1] & 0x80, "a server frame is never masked"
            wire, payload = bytes(buffer[: head + length]), bytes(buffer[head : head + length])
            del buffer[: head + length]
            opcode = wire[0] & 0x0F
            if opcode == Opcode.BINARY:
                self.frames.append(payload)
                self.wire.append(wire)
            elif opcode == Opcode.CLOSE:
                self.closes.append(int.from_bytes(payload[:2], "big") if payload else 1005)
            elif opcode == Opcode.PONG:
                self.pongs.append(payload)

    def of_type(self, kind: FrameType) -> list[bytes]:
        return [frame for frame in self.frames if frame[1] == kind]

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):  # the relay may have ended it first
            await asyncio.wait_for(self.writer.wait_closed(), TIMEOUT)


@dataclass(frozen=True)
class Joined:
    """A join answer and the keys the member joined with (HELLO proves it holds them)."""

    result: JoinResult
    keys: MemberKeys


async def join(
    server: LiveServer, context: ssl.SSLContext, session_id: str, name: str, token: str = ""
) -> Joined:
    keys = MemberKeys.generate(os.urandom)
    async with BrokerApi(server.url, context, token) as api:
        result = await api.join(session_id, name, keys.agreement_public, keys.ed25519_public)
    return Joined(result, keys)


async def meeting(
    server: LiveServer, context: ssl.SSLContext, token: str, kinds: list[str]
) -> tuple[str, Link, list[Link]]:
    """A session (its ID): its organizer presenting over direct TLS, and one receiver
    per kind."""
    async with BrokerApi(server.url, context, token) as api:
        created = await api.create_session(None, None)
    host = await Link.open(
        server, context, await join(server, context, created.session_id, "Host", token), "direct"
    )
    await host.hello()
    host.send(Frame(host.header(FrameType.PRESENTER_REQUEST), encode(
        PresenterRequest(host.joined.member_id))).serialize())  # fmt: skip
    receivers = []
    for number, kind in enumerate(kinds):
        joined = await join(server, context, created.session_id, f"Viewer {number}")
        receivers.append(await Link.open(server, context, joined, kind))
        await receivers[-1].hello()
    return created.session_id, host, receivers


def screen_frames(host: Link, sizes: list[int]) -> list[bytes]:
    """SCREEN_UPDATEs with bodies of random bytes (the relay reads only headers), the
    first a KEYFRAME: a newcomer waits for one (§5.4)."""
    frames = []
    for number, size in enumerate(sizes):
        flags = Flags.KEYFRAME if number == 0 else Flags.NONE
        header = host.header(FrameType.SCREEN_UPDATE, EVERYONE, flags)
        frames.append(Frame(header, os.urandom(size)).serialize())
    return frames


# A burst to receivers of both kinds ------------------------------------------------------


@dataclass
class Burst:
    sent: list[bytes]
    host: Link
    receivers: list[Link]
    bytes_out: dict[int, int]  # member id -> the relay's count
    bytes_in: dict[int, int]


BURST_SIZES = [300 * limits.KIB, 10, 1000, 70_000, 64 * limits.KIB, 125, 126, 65_535, 65_536]


@pytest.fixture(scope="module")
def burst(server: tuple[LiveServer, ssl.SSLContext, str]) -> Burst:
    live, context, token = server

    async def run() -> Burst:
        _, host, receivers = await meeting(live, context, token, ["direct", "websocket"] * 3)
        try:
            sizes = BURST_SIZES + [(n * 977) % 5000 for n in range(300)]
            sent = screen_frames(host, sizes)
            host.send_raw(b"".join(sent))  # one write: the relay reads them in a few turns
            for receiver in receivers:
                await receiver.read_until(
                    lambda r=receiver: len(r.of_type(FrameType.SCREEN_UPDATE)) >= len(sent)
                )
            await host.read_until(lambda: len(host.of_type(FrameType.REFRESH)) >= len(receivers))

            def counts() -> tuple[dict[int, int], dict[int, int]]:
                uid = host.joined.session_uid
                connections = live.hub.sessions[uid].connections
                return (
                    {m: c.bytes_out for m, c in connections.items()},
                    {m: c.bytes_in for m, c in connections.items()},
                )

            bytes_out, bytes_in = live.inspect(counts)
            return Burst(sent, host, receivers, bytes_out, bytes_in)
        finally:
            for link in [host, *receivers]:
                await link.close()

    return asyncio.run(run())


def test_every_receiver_gets_every_frame_whole_and_in_order(burst: Burst) -> None:
    for receiver in burst.receivers:
        assert receiver.of_type(FrameType.SCREEN_UPDATE) == burst.sent


def test_a_websocket_frame_is_the_server_frame_of_its_relaydesk_frame(burst: Burst) -> None:
    """What a WebSocket receiver reads is, byte for byte, what the websockets library
    makes of each relaydesk frame as a server (unmasked, unfragmented), and the same for
    every receiver: built once, the same for all."""
    expected = [WsFrame(Opcode.BINARY, frame).serialize(mask=False) for frame in burst.sent]
    websockets = [receiver for receiver in burst.receivers if receiver.kind == "websocket"]
    assert len(websockets) == 3
    for receiver in websockets:
        screens = [
            wire
            for frame, wire in zip(receiver.frames, receiver.wire, strict=True)
            if frame[1] == FrameType.SCREEN_UPDATE
        ]
        assert screens == expected


def test_the_relay_counts_the_bytes_each_member_read_and_sent(burst: Burst) -> None:
    """bytes_out is what the member read (relaydesk frames, not the WebSocket or TLS
    around them); bytes_in what it sent."""
    for receiver in burst.receivers:
        read = sum(len(frame) for frame in receiver.frames)
        assert burst.bytes_out[receiver.joined.member_id] == read
    host = burst.host
    assert burst.bytes_out[host.joined.member_id] == sum(len(f) for f in host.frames)
    sent_control = (
        len(host.hello_frame()) + HEADER_SIZE + len(encode(PresenterRequest(host.joined.member_id)))
    )
    assert burst.bytes_in[host.joined.member_id] == sent_control + sum(map(len, burst.sent))


# A receiver that reads nothing ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["direct", "websocket"])
def test_a_receiver_that_reads_nothing_is_bounded_and_delays_nobody(
    server: tuple[LiveServer, ssl.SSLContext, str], kind: str
) -> None:
    """A viewer with a small socket buffer that reads nothing while 40 MiB of screen
    updates go to a viewer that reads: the reader gets all of them at its own pace; the
    relay holds for the stalled one at most its screen backlog in the queue and about a
    write batch in the transport, has paused writing to it, dropped its deltas and waits
    for a keyframe for it; the link stays open."""
    live, context, token = server
    asyncio.run(_stalled(live, context, token, kind, update=256 * limits.KIB, count=160))


async def _stalled(
    live: LiveServer, context: ssl.SSLContext, token: str, kind: str, update: int, count: int
) -> None:
    async with BrokerApi(live.url, context, token) as api:
        created = await api.create_session(None, None)
    host = await Link.open(
        live, context, await join(live, context, created.session_id, "Host", token), "direct"
    )
    await host.hello()
    host.send(Frame(host.header(FrameType.PRESENTER_REQUEST), encode(
        PresenterRequest(host.joined.member_id))).serialize())  # fmt: skip
    stalled = await Link.open(
        live, context, await join(live, context, created.session_id, "Stalled"), kind, 4096
    )
    await stalled.hello()
    reader = await Link.open(
        live, context, await join(live, context, created.session_id, "Reader"), kind
    )
    await reader.hello()
    uid, stalled_id = host.joined.session_uid, stalled.joined.member_id

    def stalled_link() -> SocketLink:
        link = live.hub.sessions[uid].connections[stalled_id]
        assert isinstance(link, SocketLink)
        return link

    def sample() -> tuple[int, int]:
        link = stalled_link()
        assert link.transport is not None
        return link.outbox.screen_bytes, link.transport.get_write_buffer_size()

    largest_queue = largest_buffer = 0
    try:
        frames = screen_frames(host, [update] * count)
        for number, frame in enumerate(frames):
            host.send_raw(frame)
            await host.writer.drain()
            await reader.read_until(
                lambda n=number: len(reader.of_type(FrameType.SCREEN_UPDATE)) >= n - 4
            )
            queue, buffered = live.inspect(sample)
            largest_queue, largest_buffer = max(largest_queue, queue), max(largest_buffer, buffered)
        await reader.read_until(lambda: len(reader.of_type(FrameType.SCREEN_UPDATE)) >= count)

        def state() -> tuple[int, bool, bool, int | None]:
            link = stalled_link()
            return (
                link.outbox.dropped_updates,
                link.outbox.awaiting_keyframe,
                link.write_paused,
                link.close_code,
            )

        dropped, awaiting, paused, close_code = live.inspect(state)
    finally:
        for link in (host, stalled, reader):
            await link.close()
    assert reader.of_type(FrameType.SCREEN_UPDATE) == frames
    assert largest_queue <= limits.RELAY_SCREEN_BACKLOG
    # the transport holds at most what was written past its high-water mark: one batch
    assert largest_buffer <= 2 * limits.RELAY_WRITE_BATCH + update
    assert paused and dropped > 0 and awaiting
    assert close_code is None


# WebSocket, as RFC 6455 has it --------------------------------------------------------------


def test_websocket_fragments_pings_and_a_clean_close(
    server: tuple[LiveServer, ssl.SSLContext, str],
) -> None:
    """A HELLO in three fragments with a ping between them is one message; the ping is
    answered with its payload; the member's close 1000 is answered with 1000, and the
    others are told it left (not that it was disconnected)."""
    live, context, token = server

    async def run() -> tuple[list[bytes], list[int], list[MemberLeft], int]:
        session_id, host, _ = await meeting(live, context, token, [])
        joined = await join(live, context, session_id, "Fragmented")
        link = await Link.open(live, context, joined, "websocket")
        hello = link.hello_frame()
        link.send_raw(link.ws(hello[:10], Opcode.BINARY, fin=False))
        link.send_raw(link.ws(b"are you there", Opcode.PING))
        link.send_raw(link.ws(hello[10:50], Opcode.CONT, fin=False))
        link.send_raw(link.ws(hello[50:], Opcode.CONT, fin=True))
        await link.read_until(lambda: bool(link.of_type(FrameType.ROSTER)) and bool(link.pongs))
        link.send_raw(link.ws((1000).to_bytes(2, "big") + b"bye", Opcode.CLOSE))
        await link.read_to_end()
        await link.close()
        left: list[MemberLeft] = []

        def told() -> bool:
            left[:] = [
                message
                for frame in host.of_type(FrameType.MEMBER_LEFT)
                if isinstance(
                    message := decode(FrameType.MEMBER_LEFT, frame[HEADER_SIZE:]), MemberLeft
                )
            ]
            return any(m.member_id == joined.result.member_id for m in left)

        await host.read_until(told)
        await host.close()
        return link.pongs, link.closes, left, joined.result.member_id

    pongs, closes, left, member = asyncio.run(run())
    assert pongs == [b"are you there"]
    assert closes == [1000]
    assert [m.reason for m in left if m.member_id == member] == [LeaveReason.LEFT]


@pytest.mark.parametrize(
    ("what", "frame", "code"),
    [
        ("unmasked", b"\x82\x05hello", 1002),
        ("reserved bit", None, 1002),
        ("long control frame", None, 1002),
        ("unknown opcode", None, 1002),
        ("continuation of nothing", None, 1002),
    ],
)
def test_a_broken_websocket_frame_closes_with_1002(
    server: tuple[LiveServer, ssl.SSLContext, str], what: str, frame: bytes | None, code: int
) -> None:
    live, context, token = server

    async def run() -> list[int]:
        _, host, (viewer,) = await meeting(live, context, token, ["websocket"])
        await host.close()
        broken = frame
        if what == "reserved bit":
            good = bytearray(viewer.ws(b"x" * 50))
            good[0] |= 0x40
            broken = bytes(good)
        elif what == "long control frame":
            # a ping with 126 bytes (16-bit length), masked with zeros
            broken = bytes([0x89, 0x80 | 126]) + (126).to_bytes(2, "big") + bytes(4) + b"x" * 126
        elif what == "unknown opcode":
            broken = bytes([0x83, 0x80]) + os.urandom(4)
        elif what == "continuation of nothing":
            broken = viewer.ws(b"x" * 10, Opcode.CONT)
        assert broken is not None
        viewer.send_raw(broken)
        await viewer.read_to_end()
        await viewer.close()
        return viewer.closes

    assert asyncio.run(run()) == [code]


def test_other_websocket_paths_are_the_applications(
    server: tuple[LiveServer, ssl.SSLContext, str],
) -> None:
    """Only /relay is the relay's: an upgrade anywhere else is answered by the web
    application (which has no other WebSocket), not accepted."""
    live, context, _ = server

    async def run() -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", live.port, ssl=context)
        nobody = JoinResult(b"", 0, bytes(16), "", b"")
        link = Link(nobody, MemberKeys.generate(os.urandom), "websocket", reader, writer)
        try:
            return await link.upgrade("/relayx")
        finally:
            await link.close()

    assert asyncio.run(run()) != 101
