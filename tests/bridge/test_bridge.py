"""Two real RelayHubs bridged over a real nats-server, in one process (docs §9)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Coroutine
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from relaydesk.errors import CloseCode, HelloProofInvalid
from relaydesk.protocol.frames import (
    EVERYONE,
    HEADER_SIZE,
    RELAY,
    Frame,
    FrameType,
    Header,
    parse_header,
)
from relaydesk.protocol.messages import (
    Challenge,
    Hello,
    LeaveReason,
    Lock,
    MemberJoined,
    MemberLeft,
    Role,
    Roster,
    decode,
    encode,
)
from relaydesk.protocol.tickets import Ticket, prove_hello, sign_ticket
from relaydesk.relay.bridge import NatsBridge
from relaydesk.relay.hub import Connection, RelayHub
from relaydesk.relay.records import RecordSink
from support.nats import nats_server

BROKER = Ed25519PrivateKey.generate()
UID = os.urandom(16)
EVENTUALLY = 15.0


class NoRecords:
    """The hub's records are not what these tests look at."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def no_records() -> RecordSink:
    return cast("RecordSink", NoRecords())  # duck-typed: every call does nothing


# A ticket holder's HELLO, given the relay's challenge and the relay name it signs.
MakeHello = Callable[[bytes, str], bytes]


def hello(member_id: int, role: Role, home: str) -> MakeHello:
    signing = Ed25519PrivateKey.generate()
    ed25519 = signing.public_key().public_bytes_raw()
    ticket = Ticket(
        UID, member_id, f"m{member_id}", role, bytes(1216), ed25519, home, int(time.time()) + 600
    )
    blob = sign_ticket(ticket, BROKER)
    header = Header(FrameType.HELLO, UID, 0, member_id, RELAY, 1)

    def make(nonce: bytes, relay: str) -> bytes:
        proof = prove_hello(signing, nonce, blob, relay)
        return Frame(header, encode(Hello(blob, proof))).serialize()

    return make


class Client:
    """What a WebSocket driver would do with a Connection, minus the socket: take the
    relay's CHALLENGE, answer with a HELLO signed for ``signs_for`` (default: the name
    the challenge gives)."""

    def __init__(self, hub: RelayHub, make_hello: MakeHello, signs_for: str = "") -> None:
        self.connection = Connection()
        self.frames: list[bytes] = []
        challenge = decode(FrameType.CHALLENGE, hub.challenge(self.connection)[HEADER_SIZE:])
        assert isinstance(challenge, Challenge)
        self.hello = make_hello(challenge.nonce, signs_for or challenge.relay)
        hub.admit(self.connection, self.hello)

    def read(self) -> list[tuple[FrameType, bytes]]:
        self.frames += self.connection.outbox.take()
        return [(parse_header(f[:HEADER_SIZE])[0].type, f[HEADER_SIZE:]) for f in self.frames]

    def got(self, frame: bytes) -> bool:
        self.read()
        return frame in self.frames

    def messages(self, kind: FrameType) -> list[object]:
        return [decode(t, body) for t, body in self.read() if t is kind]


async def eventually(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + EVENTUALLY
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.02)


def run(test: Callable[[str], Coroutine[Any, Any, None]]) -> None:
    with nats_server() as url:
        asyncio.run(test(url))


async def relays(url: str) -> tuple[RelayHub, NatsBridge, RelayHub, NatsBridge]:
    a = RelayHub(BROKER.public_key(), no_records(), name="relay-a")
    b = RelayHub(BROKER.public_key(), no_records(), name="relay-b")
    return (
        a,
        await NatsBridge.connect(url, "relay-a", a),
        b,
        await NatsBridge.connect(url, "relay-b", b),
    )


def test_members_on_two_relays_share_one_session() -> None:
    async def scenario(url: str) -> None:
        a, bridge_a, b, bridge_b = await relays(url)
        host = Client(a, hello(1, Role.HOST, "relay-a"))
        await asyncio.sleep(0.2)  # the home subscribed to its subjects
        guest = Client(b, hello(2, Role.PARTICIPANT, "relay-a"))
        assert b.sessions == {}  # relay-b only forwards: the rules live on relay-a
        await eventually(lambda: bool(guest.messages(FrameType.ROSTER)))
        roster = guest.messages(FrameType.ROSTER)[0]
        assert isinstance(roster, Roster) and {m.member_id for m in roster.members} == {1, 2}
        await eventually(lambda: bool(host.messages(FrameType.MEMBER_JOINED)))
        joined = host.messages(FrameType.MEMBER_JOINED)[0]
        assert isinstance(joined, MemberJoined) and joined.entry.member_id == 2

        # Content crosses both ways as the very bytes sent.
        chat = Frame(Header(FrameType.CHAT, UID, 0, 2, EVERYONE, 5), b"sealed").serialize()
        b.receive(guest.connection, chat)
        await eventually(lambda: host.got(chat))
        back = Frame(Header(FrameType.CHAT, UID, 0, 1, EVERYONE, 6), b"sealed2").serialize()
        a.receive(host.connection, back)
        await eventually(lambda: guest.got(back))

        # The home's rules apply to the remote member: a participant may not lock.
        end = Frame(Header(FrameType.LOCK, UID, 0, 2, RELAY, 7), encode(Lock(True))).serialize()
        b.receive(guest.connection, end)
        await eventually(lambda: bool(guest.messages(FrameType.ERROR)))
        assert 2 in a.sessions[UID].connections

        # The guest leaves: the home is told.
        b.disconnect(guest.connection, LeaveReason.LEFT)
        await eventually(
            lambda: any(
                isinstance(m, MemberLeft) and m.member_id == 2
                for m in host.messages(FrameType.MEMBER_LEFT)
            )
        )
        await bridge_a.close()
        await bridge_b.close()

    run(scenario)


def test_a_silent_relays_members_leave_and_a_silent_home_moves_its_members() -> None:
    async def scenario(url: str) -> None:
        a, bridge_a, b, bridge_b = await relays(url)
        host = Client(a, hello(1, Role.HOST, "relay-a"))
        await asyncio.sleep(0.2)
        guest = Client(b, hello(2, Role.PARTICIPANT, "relay-a"))
        await eventually(lambda: bool(guest.messages(FrameType.ROSTER)))
        await eventually(lambda: 2 in a.sessions[UID].connections)
        await bridge_b.close()  # relay-b dies: it says nothing more
        await eventually(lambda: 2 not in a.sessions[UID].connections)
        await eventually(lambda: bool(host.messages(FrameType.MEMBER_LEFT)))

        # And the other way round: the home dies, the forwarded member is told to move.
        bridge_b = await NatsBridge.connect(url, "relay-b", b)
        guest = Client(b, hello(3, Role.PARTICIPANT, "relay-a"))
        await eventually(lambda: bool(guest.messages(FrameType.ROSTER)))
        await bridge_a.close()
        await eventually(lambda: guest.connection.close_code is CloseCode.MOVED)
        await bridge_b.close()

    run(scenario)


def test_a_higher_claim_moves_the_members_with_moved() -> None:
    async def scenario(url: str) -> None:
        a, bridge_a, _b, bridge_b = await relays(url)
        host = Client(a, hello(1, Role.HOST, "relay-a"))
        await asyncio.sleep(0.2)
        # The broker placed the session again on relay-b (placement 1): relay-b claims it.
        bridge_b.hosting(UID, 1)
        await eventually(lambda: host.connection.close_code is CloseCode.MOVED)
        assert UID not in a.sessions
        await bridge_a.close()
        await bridge_b.close()

    run(scenario)


def test_the_relay_a_member_is_on_checks_its_proof() -> None:
    """A forwarded member proves its key to the relay it is connected to (relay-b), for
    that relay's name and challenge: a HELLO signed for relay-a, or one that answered
    another challenge, is refused there and never reaches the home."""

    async def scenario(url: str) -> None:
        a, bridge_a, b, bridge_b = await relays(url)
        host = Client(a, hello(1, Role.HOST, "relay-a"))
        await asyncio.sleep(0.2)  # the home subscribed to its subjects
        guest = hello(2, Role.PARTICIPANT, "relay-a")
        with pytest.raises(HelloProofInvalid):
            Client(b, guest, signs_for="relay-a")  # a proof made for another relay
        admitted = Client(b, guest)
        replayed = Connection()
        b.challenge(replayed)  # a new link: a new challenge the old HELLO did not sign
        with pytest.raises(HelloProofInvalid):
            b.admit(replayed, admitted.hello)
        await eventually(lambda: bool(admitted.messages(FrameType.ROSTER)))
        await asyncio.sleep(0.2)  # a refused HELLO that was forwarded would arrive by now
        joined = host.messages(FrameType.MEMBER_JOINED)
        assert [m.entry.member_id for m in joined if isinstance(m, MemberJoined)] == [2]
        assert set(a.sessions[UID].connections) == {1, 2}
        await bridge_a.close()
        await bridge_b.close()

    run(scenario)
