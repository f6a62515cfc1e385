"""The relay's direct TLS driver (relay/tcp.py) on the real embedded server: frames back
to back on one TLS stream; a close with a code is an ERROR frame addressed to EVERYONE,
then the end of the stream (docs/protocol.md §2.1). One bad peer harms no other."""

from __future__ import annotations

import asyncio
import os
import ssl
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.helpers import add_organizer, log_in, pinned_context
from relaydesk import limits
from relaydesk.client.api import BrokerApi
from relaydesk.client.transport import open_direct
from relaydesk.errors import CloseCode
from relaydesk.protocol.frames import (
    EVERYONE,
    HEADER_SIZE,
    RELAY,
    Frame,
    FrameType,
    Header,
    StreamDecoder,
)
from relaydesk.protocol.keys import MemberKeys
from relaydesk.protocol.messages import Challenge, Error, Hello, decode, encode
from relaydesk.protocol.tickets import prove_hello
from relaydesk.relay.tcp import closing_frame
from support.servers import LiveServer

TIMEOUT = 60.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("tcp") / "data").start()
    try:
        yield live
    finally:
        live.stop()


def _context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # these tests look at framing, not at pinning
    return context


async def _exchange(server: LiveServer, data: bytes) -> list[Frame]:
    """Send raw bytes, then read every frame until the relay ends the stream."""
    host, port = server.server.tcp_address.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port), ssl=_context())
    writer.write(data)
    await writer.drain()
    decoder = StreamDecoder()
    async with asyncio.timeout(TIMEOUT):
        while chunk := await reader.read(65536):
            decoder.receive_data(chunk)
    writer.close()
    return list(decoder.frames_received())


def _closing(frames: list[Frame]) -> Error:
    """The last frame is the closing ERROR, addressed to EVERYONE from the relay."""
    last = frames[-1]
    assert last.header.type is FrameType.ERROR
    assert (last.header.sender, last.header.target) == (RELAY, EVERYONE)
    message = decode(FrameType.ERROR, last.body)
    assert isinstance(message, Error)
    return message


def _header(frame_type: FrameType = FrameType.HELLO) -> Header:
    return Header(frame_type, bytes(range(16)), 0, 1, RELAY, 1)


def test_unknown_version_closes_with_protocol_error(server: LiveServer) -> None:
    data = bytearray(_header().pack(0))
    data[0] = 9
    frames = asyncio.run(_exchange(server, bytes(data)))
    assert _closing(frames).code == CloseCode.PROTOCOL_ERROR


def test_oversize_announced_body_closes_before_buffering(server: LiveServer) -> None:
    header = _header().pack(0)[:-4] + struct.pack(">I", limits.MAX_CONTROL_BODY + 1)
    assert len(header) == HEADER_SIZE
    frames = asyncio.run(_exchange(server, header))
    assert _closing(frames).code == CloseCode.FRAME_TOO_LARGE


def test_first_frame_not_hello_is_refused(server: LiveServer) -> None:
    ping = Frame(_header(FrameType.PING), bytes(9)).serialize()
    frames = asyncio.run(_exchange(server, ping))
    assert _closing(frames).code == CloseCode.PROTOCOL_ERROR


def test_forged_ticket_closes_with_bad_ticket(server: LiveServer) -> None:
    hello = Frame(_header(), encode(Hello(b"\x03" + bytes(200), bytes(64)))).serialize()
    frames = asyncio.run(_exchange(server, hello))
    assert _closing(frames).code in (CloseCode.BAD_TICKET, CloseCode.BAD_MESSAGE)


def test_the_relay_speaks_first_with_a_challenge(server: LiveServer) -> None:
    """Every link begins with the relay's CHALLENGE: a fresh nonce for each link, and the
    relay's name (§3.25); a HELLO must sign it (§7.1)."""
    first = [asyncio.run(_exchange(server, b""))[0] for _ in range(2)]
    challenges = [decode(FrameType.CHALLENGE, frame.body) for frame in first]
    assert all(isinstance(c, Challenge) and c.relay == "embedded" for c in challenges)
    assert challenges[0] != challenges[1]


def test_no_hello_is_closed_after_the_timeout(server: LiveServer) -> None:
    frames = asyncio.run(_exchange(server, b""))
    closing = _closing(frames)
    assert closing.code == CloseCode.PROTOCOL_ERROR
    assert "HELLO" in closing.text


def test_one_bad_peer_harms_no_other(server: LiveServer) -> None:
    async def both() -> tuple[list[Frame], list[Frame]]:
        bad = bytearray(_header().pack(0))
        bad[1] = 0xEE  # unknown frame type
        ping = Frame(_header(FrameType.PING), bytes(9)).serialize()
        return await asyncio.gather(_exchange(server, bytes(bad)), _exchange(server, ping))

    bad_frames, other = asyncio.run(both())
    assert _closing(bad_frames).code == CloseCode.PROTOCOL_ERROR
    assert _closing(other).code == CloseCode.PROTOCOL_ERROR  # answered, on its own terms


def test_embedded_server_says_where(tmp_path: Path) -> None:
    live = LiveServer(tmp_path / "data").start()
    try:
        host, port = live.server.tcp_address.rsplit(":", 1)
        assert host == "127.0.0.1"
        assert int(port) not in (0, live.port)
    finally:
        live.stop()


def test_member_with_a_ticket_is_served_and_leaves(tmp_path: Path) -> None:
    """A real ticket over direct TLS: the ROSTER arrives as a frame on the stream; the
    member's own closing ERROR (code 1000) is a clean leave, after which the relay
    answers with its closing ERROR and ends the stream."""
    add_organizer(tmp_path / "data")
    live = LiveServer(tmp_path / "data").start()
    try:
        context = pinned_context(live.url, live.fingerprint, tmp_path / "profile")

        async def visit() -> tuple[list[Frame], list[Frame]]:
            token = await log_in(live.url, context)
            keys = MemberKeys.generate(os.urandom)
            async with BrokerApi(live.url, context, token) as api:
                created = await api.create_session(None, None)
                joined = await api.join(
                    created.session_id, "Tess", keys.agreement_public, keys.ed25519_public, None
                )
            host, port = live.server.tcp_address.rsplit(":", 1)
            reader, writer = await asyncio.open_connection(host, int(port), ssl=context)
            decoder = StreamDecoder()
            async with asyncio.timeout(TIMEOUT):
                while not (opening := list(decoder.frames_received())):
                    decoder.receive_data(await reader.read(65536))
            challenge = decode(FrameType.CHALLENGE, opening[0].body)
            assert isinstance(challenge, Challenge)
            proof = prove_hello(keys.signing, challenge.nonce, joined.ticket, challenge.relay)
            header = Header(FrameType.HELLO, joined.session_uid, 0, joined.member_id, RELAY, 1)
            writer.write(Frame(header, encode(Hello(joined.ticket, proof))).serialize())
            async with asyncio.timeout(TIMEOUT):
                while not (first := list(decoder.frames_received())):
                    decoder.receive_data(await reader.read(65536))
                writer.write(closing_frame(joined.session_uid, CloseCode.NORMAL, "bye"))
                while chunk := await reader.read(65536):
                    decoder.receive_data(chunk)
            writer.close()
            return first, list(decoder.frames_received())

        first, rest = asyncio.run(visit())
        assert first[0].header.type is FrameType.ROSTER
        assert _closing(rest).code == CloseCode.NORMAL
        assert live.inspect(lambda: len(live.hub.sessions)) == 0
    finally:
        live.stop()


def test_both_ends_of_a_direct_link_keep_it_alive(server: LiveServer) -> None:
    """A peer whose machine dies sends nothing more; TCP keepalive (on the relay's end
    and the client's) notices: the kernel shows a keepalive timer on both sockets."""

    port = server.server.tcp_address.rsplit(":", 1)[1]

    def sockets() -> list[str]:
        shown = subprocess.run(
            ["ss", "-tno", "state", "established", f"( sport = :{port} or dport = :{port} )"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return [line for line in shown.stdout.splitlines() if "127.0.0.1" in line]

    async def look() -> list[str]:
        link = await open_direct(server.server.tcp_address, _context(), None)
        try:
            # ss shows one timer per socket: a retransmission timer hides the keepalive
            # one while bytes are unacknowledged, so look until the link is idle.
            deadline = time.monotonic() + TIMEOUT
            seen = sockets()
            while not all("timer:(keepalive" in line for line in seen):
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
                seen = sockets()
            return seen
        finally:
            await link.close()

    seen = asyncio.run(look())
    assert len(seen) == 2, seen  # the client's end and the relay's
    assert all("timer:(keepalive" in line for line in seen), seen
