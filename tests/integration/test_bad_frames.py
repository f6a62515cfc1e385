"""Malformed and oversized frames from ticket holders close only their own connections
(issue 3; SECURITY.md "Bad input — the rule"; docs/protocol.md §9).

One session on the shared EmbeddedServer: a host (presenting) and a well-behaved member
read normally throughout. Each misbehaving member joins through the broker's API with
a real ticket, speaks to the relay over a raw WebSocket with hand-made frames, and is
answered as docs/protocol.md §9 says: an ERROR frame with the close code, then the
close; a refused action (a screen update from a non-presenter) only an ERROR. Finally
the well-behaved member is still there and still decrypts what the host sends.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import cast

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from integration.helpers import (
    LIVENESS_TIMEOUT,
    Crowd,
    Peer,
    host_session,
    join_peer,
    run_async,
    until,
)
from relaydesk import limits
from relaydesk.client.api import BrokerApi, JoinResult
from relaydesk.errors import CloseCode
from relaydesk.protocol.frames import EVERYONE, RELAY, Frame, FrameType, Header
from relaydesk.protocol.keys import MemberKeys
from relaydesk.protocol.messages import (
    Challenge,
    Chat,
    Error,
    Hello,
    MemberLeft,
    Ping,
    Pong,
    decode,
    encode,
    pack,
)
from relaydesk.protocol.tickets import prove_hello
from support.servers import LiveServer


@dataclass
class Outcome:
    """What one misbehaving connection saw, from its first misdeed to its end."""

    frames: list[Frame] = field(default_factory=list)  # received after the misdeed
    close_code: int | None = None  # None: still open when the case was over
    close_reason: str = ""
    pong: bool = False  # it answered a PING afterwards (still connected, still served)

    @property
    def errors(self) -> list[Error]:
        found = []
        for frame in self.frames:
            if frame.header.type is FrameType.ERROR:
                message = decode(FrameType.ERROR, frame.body)
                assert isinstance(message, Error)
                found.append(message)
        return found


class RawLink:
    """A ticket holder's WebSocket to the relay, speaking in hand-made frames. The
    relay's CHALLENGE (its first frame) is read on opening."""

    def __init__(
        self, joined: JoinResult, keys: MemberKeys, socket: ClientConnection, challenge: Challenge
    ) -> None:
        self.joined = joined
        self.keys = keys
        self.socket = socket
        self.challenge = challenge
        self.sequence = 0

    @classmethod
    async def join(cls, url: str, context: ssl.SSLContext, session_id: str, name: str) -> RawLink:
        keys = MemberKeys.generate(os.urandom)
        async with BrokerApi(url, context) as api:
            joined = await api.join(session_id, name, keys.agreement_public, keys.ed25519_public)
        return await cls.open(joined, keys, context)

    @classmethod
    async def open(cls, joined: JoinResult, keys: MemberKeys, context: ssl.SSLContext) -> RawLink:
        """A new link for this ticket (and its keys): a new challenge."""
        # No size limit on what this side receives: only the relay's limits are tested.
        socket = await connect(joined.relay_url, ssl=context, compression=None, max_size=None)
        async with asyncio.timeout(LIVENESS_TIMEOUT):
            first = Frame.parse(cast(bytes, await socket.recv()))
        assert first.header.type is FrameType.CHALLENGE
        challenge = decode(FrameType.CHALLENGE, first.body)
        assert isinstance(challenge, Challenge)
        return cls(joined, keys, socket, challenge)

    def hello_frame(self, ticket: bytes | None = None, relay: str | None = None) -> bytes:
        """A HELLO with a proof over this link's challenge, by this link's keys, for
        ``relay`` (default: the name the challenge gives)."""
        ticket = self.joined.ticket if ticket is None else ticket
        relay = self.challenge.relay if relay is None else relay
        proof = prove_hello(self.keys.signing, self.challenge.nonce, ticket, relay)
        return Frame(self.header(FrameType.HELLO), encode(Hello(ticket, proof))).serialize()

    def header(
        self, kind: FrameType, *, sender: int | None = None, target: int = RELAY, epoch: int = 0
    ) -> Header:
        self.sequence += 1
        sender = self.joined.member_id if sender is None else sender
        return Header(kind, self.joined.session_uid, epoch, sender, target, self.sequence)

    async def hello(self) -> None:
        """Present the ticket and wait for the ROSTER: admitted."""
        await self.socket.send(self.hello_frame())
        while (await self.receive()).header.type is not FrameType.ROSTER:
            pass

    async def receive(self) -> Frame:
        async with asyncio.timeout(LIVENESS_TIMEOUT):
            data = await self.socket.recv()
        assert isinstance(data, bytes)
        return Frame.parse(data)

    async def outcome(self, check_open: bool = False) -> Outcome:
        """Read until the relay closes the connection; with ``check_open``, until it
        answers a PING instead (then it is still open)."""
        seen = Outcome()
        nonce = 0x5EED
        if check_open:
            ping = Frame(self.header(FrameType.PING), encode(Ping(nonce)))
            await self.socket.send(ping.serialize())
        try:
            while True:
                frame = await self.receive()
                seen.frames.append(frame)
                if frame.header.type is FrameType.PONG and check_open:
                    message = decode(FrameType.PONG, frame.body)
                    seen.pong = message == Pong(nonce)
                    if seen.pong:
                        return seen
        except ConnectionClosed as closed:
            seen.close_code = closed.rcvd.code if closed.rcvd else 1006
            seen.close_reason = closed.rcvd.reason if closed.rcvd else ""
        return seen

    async def close(self) -> None:
        await self.socket.close()


# Each case: how a member misbehaves after its HELLO was accepted.
Misdeed = Callable[[RawLink, Peer], Awaitable[None]]


async def garbage(link: RawLink, host: Peer) -> None:
    await link.socket.send(b"\x00 this is not a relaydesk frame \xff")


async def bad_version(link: RawLink, host: Peer) -> None:
    frame = Frame(link.header(FrameType.PING), encode(Ping(1))).serialize()
    await link.socket.send(b"\x63" + frame[1:])  # protocol version 99


async def text_message(link: RawLink, host: Peer) -> None:
    await link.socket.send("a text message")


async def announces_oversized_body(link: RawLink, host: Peer) -> None:
    """A header announcing one byte more than a content body may have; the message
    itself is small. Refused on the header, before anything more is looked at."""
    header = link.header(FrameType.SCREEN_UPDATE, target=EVERYONE)
    await link.socket.send(header.pack(limits.MAX_FRAME_BODY + 1) + bytes(100))


async def oversized_message(link: RawLink, host: Peer) -> None:
    """A WebSocket message longer than the largest frame: the relay's WebSocket layer
    (max_size = 44 + MAX_FRAME_BODY) refuses it before the relay sees any of it."""
    body = bytes(limits.MAX_FRAME_BODY + 1)
    header = link.header(FrameType.CHAT, target=EVERYONE)
    await link.socket.send(header.pack(len(body)) + body)


async def oversized_control(link: RawLink, host: Peer) -> None:
    """A control frame's body may be 1 MiB at most, even though it fits a WebSocket
    message."""
    body = bytes(limits.MAX_CONTROL_BODY + 1)
    await link.socket.send(link.header(FrameType.PING).pack(len(body)) + body)


async def forged_sender(link: RawLink, host: Peer) -> None:
    """A chat frame whose header claims it comes from the host."""
    header = link.header(FrameType.CHAT, sender=host.member_id, target=EVERYONE, epoch=1)
    await link.socket.send(Frame(header, os.urandom(200)).serialize())


async def undecodable_body(link: RawLink, host: Peer) -> None:
    await link.socket.send(Frame(link.header(FrameType.PING), b"\xc1\xc1").serialize())


async def garbage_instead_of_hello(link: RawLink, host: Peer) -> None:
    await link.socket.send(b"\x01 not a HELLO")


async def tampered_ticket(link: RawLink, host: Peer) -> None:
    ticket = bytearray(link.joined.ticket)
    ticket[-1] ^= 0x01  # one bit of the broker's signature
    await link.socket.send(link.hello_frame(bytes(ticket)))


async def no_proof(link: RawLink, host: Peer) -> None:
    """A HELLO of the format before the proof, [ticket]: it does not decode."""
    frame = Frame(link.header(FrameType.HELLO), pack([link.joined.ticket]))
    await link.socket.send(frame.serialize())


async def proof_for_another_relay(link: RawLink, host: Peer) -> None:
    """Signed over this link's challenge, but for a relay named r1: not this one."""
    await link.socket.send(link.hello_frame(relay="r1"))


async def screen_from_non_presenter(link: RawLink, host: Peer) -> None:
    """Well-formed, but only the presenter may send the screen: refused, not closed."""
    header = link.header(FrameType.SCREEN_UPDATE, target=EVERYONE, epoch=1)
    await link.socket.send(Frame(header, os.urandom(500)).serialize())


# Misdeeds instead of a proper HELLO: such a member is never admitted.
UNADMITTED = {"garbage_instead_of_hello", "tampered_ticket", "no_proof", "proof_for_another_relay"}

# name: (misdeed, the ERROR code expected first (None: no ERROR frame), close code or
# None when the connection must stay open)
CASES: dict[str, tuple[Misdeed, int | None, int | None]] = {
    "garbage_instead_of_hello": (
        garbage_instead_of_hello,
        CloseCode.PROTOCOL_ERROR,
        CloseCode.PROTOCOL_ERROR,
    ),
    "tampered_ticket": (tampered_ticket, CloseCode.BAD_TICKET, CloseCode.BAD_TICKET),
    "no_proof": (no_proof, CloseCode.BAD_MESSAGE, CloseCode.BAD_MESSAGE),
    "proof_for_another_relay": (
        proof_for_another_relay,
        CloseCode.BAD_TICKET,
        CloseCode.BAD_TICKET,
    ),
    "garbage": (garbage, CloseCode.PROTOCOL_ERROR, CloseCode.PROTOCOL_ERROR),
    "bad_version": (bad_version, CloseCode.PROTOCOL_ERROR, CloseCode.PROTOCOL_ERROR),
    # The endpoint refuses a text message without an ERROR frame (relay/endpoint.py).
    "text_message": (text_message, None, CloseCode.PROTOCOL_ERROR),
    "announces_oversized_body": (
        announces_oversized_body,
        CloseCode.FRAME_TOO_LARGE,
        CloseCode.FRAME_TOO_LARGE,
    ),
    # RFC 6455 1009 "message too big", from the WebSocket layer: no ERROR frame.
    "oversized_message": (oversized_message, None, 1009),
    "oversized_control": (oversized_control, CloseCode.FRAME_TOO_LARGE, CloseCode.FRAME_TOO_LARGE),
    "forged_sender": (forged_sender, CloseCode.PROTOCOL_ERROR, CloseCode.PROTOCOL_ERROR),
    "undecodable_body": (undecodable_body, CloseCode.BAD_MESSAGE, CloseCode.BAD_MESSAGE),
    "screen_from_non_presenter": (screen_from_non_presenter, CloseCode.NOT_PERMITTED, None),
}


@dataclass
class Scenario:
    outcomes: dict[str, Outcome]
    bystander: Peer
    host: Peer
    left_reported: set[int]
    bad_members: dict[str, int]
    still_connected: set[int]
    chats_read: list[str]


def has_read(peer: Peer, words: str) -> bool:
    return any(message.text == words for _, message in peer.messages_of(Chat))


async def misbehave(server: LiveServer, context: ssl.SSLContext, token: str) -> Scenario:
    async with Crowd() as crowd:
        created, host = await host_session(server.url, context, token)
        crowd.add(host)
        bystander = crowd.add(
            await join_peer(server.url, context, created.session_id, "Wendy Well-behaved")
        )
        await bystander.keys_for(host)
        outcomes: dict[str, Outcome] = {}
        bad_members: dict[str, int] = {}
        for name, (misdeed, _, expected_close) in CASES.items():
            link = await RawLink.join(server.url, context, created.session_id, name)
            bad_members[name] = link.joined.member_id
            try:
                if name not in UNADMITTED:
                    await link.hello()
                await misdeed(link, host)
                outcomes[name] = await link.outcome(check_open=expected_close is None)
            finally:
                await link.close()
            # Meanwhile the host's chat keeps reaching the bystander, end to end.
            words = f"still here after {name}"
            await host.member.send_content(Chat(words))
            await until(partial(has_read, bystander, words), f"the bystander reads {words!r}")
        # Every misbehaving member is gone from the session (the one refused an action
        # left by itself); the host and the bystander are not.
        bad_ids = {bad_members[name] for name in CASES if name not in UNADMITTED}
        await until(
            lambda: bad_ids <= {m.member_id for _, m in bystander.messages_of(MemberLeft)},
            "the bystander hears that every misbehaving member left",
        )
        await bystander.keys_for(host)
        await host.keys_for(bystander)
        uid = created.session_uid
        still_connected = server.inspect(lambda: set(server.hub.sessions[uid].connections))
        words = "still here after all that"
        await host.member.send_content(Chat(words))
        await until(partial(has_read, bystander, words), "the bystander reads the last chat")
        return Scenario(
            outcomes=outcomes,
            bystander=bystander,
            host=host,
            left_reported={m.member_id for _, m in bystander.messages_of(MemberLeft)},
            bad_members=bad_members,
            still_connected=still_connected,
            chats_read=[message.text for _, message in bystander.messages_of(Chat)],
        )


@pytest.fixture(scope="module")
def scenario(
    shared_server: LiveServer, shared_context: ssl.SSLContext, organizer_token: str
) -> Scenario:
    return run_async(misbehave(shared_server, shared_context, organizer_token))


@pytest.mark.parametrize("case", list(CASES))
def test_the_offender_is_answered_with_its_close_code(scenario: Scenario, case: str) -> None:
    """The ERROR frame (if any) carries the close code and comes before the close; frames
    queued for the member before it may still come after it."""
    _, expected_error, expected_close = CASES[case]
    outcome = scenario.outcomes[case]
    codes = [error.code for error in outcome.errors]
    if expected_error is None:
        assert codes == [], outcome
    else:
        assert codes == [expected_error], outcome
    if expected_close is None:
        assert outcome.close_code is None
        assert outcome.pong, "the connection must stay open and served"
    else:
        assert outcome.close_code == expected_close, outcome


def test_nothing_of_the_offenders_was_forwarded(scenario: Scenario) -> None:
    """The forged and the refused frames never reached anyone: nothing the members
    could not open (which forwarding them would have caused), and no chat or screen
    from the misbehaving members."""
    for peer in (scenario.bystander, scenario.host):
        assert peer.rejected == []
        bad = set(scenario.bad_members.values())
        assert not [r for r in peer.received if r.header.sender in bad]
        assert peer.screen_updates == 0


def test_everyone_else_carries_on(scenario: Scenario) -> None:
    """The host and the bystander stayed connected through it all; after each case and
    at the end the bystander decrypted the host's chat (waited for as the scenario ran)."""
    assert scenario.bystander.closed is None
    assert scenario.host.closed is None
    assert scenario.still_connected == {
        scenario.host.member_id,
        scenario.bystander.member_id,
    }
    assert scenario.chats_read == [
        *(f"still here after {name}" for name in CASES),
        "still here after all that",
    ]
    admitted = {m for name, m in scenario.bad_members.items() if name not in UNADMITTED}
    assert admitted <= scenario.left_reported
