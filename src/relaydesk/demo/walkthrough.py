"""``relaydesk demo``: the protocol core at work in one process, nothing mocked.

A broker key signs tickets for a host and two participants; the host's client leads the
keys; every frame passes through the relay's routing rules as bytes. It prints what the
relay sees (headers and ciphertext) next to what members read, then expels a member and
shows that they cannot read the next epoch.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from relaydesk.errors import RelaydeskError
from relaydesk.protocol.e2e import EndToEnd
from relaydesk.protocol.frames import EVERYONE, Frame
from relaydesk.protocol.keys import MemberKeys
from relaydesk.protocol.messages import (
    Chat,
    KeyCommit,
    Role,
    ScreenUpdate,
    Tile,
    TileEncoding,
    decode,
)
from relaydesk.protocol.session import Session
from relaydesk.protocol.tickets import Ticket, sign_ticket

Say = Callable[[str], None]


class _Demo:
    def __init__(self, say: Say) -> None:
        self.say = say
        self.broker = Ed25519PrivateKey.generate()
        self.session_uid = os.urandom(16)
        self.relay = Session()
        self.clients: dict[int, EndToEnd] = {}
        self.names: dict[int, str] = {}
        self.tickets: dict[int, bytes] = {}

    def join(self, member_id: int, name: str, role: Role) -> None:
        keys = MemberKeys.generate(os.urandom)
        ticket = Ticket(
            self.session_uid, member_id, name, role, keys.agreement_public, keys.ed25519_public,
            "wss://127.0.0.1:8443/relay", int(time.time()) + 300,
        )  # fmt: skip
        blob = sign_ticket(ticket, self.broker)
        self.relay.join(member_id, role, blob)
        self.tickets[member_id] = blob
        self.names[member_id] = name
        client = EndToEnd(self.session_uid, member_id, keys, self.broker.public_key())
        for other, other_blob in self.tickets.items():
            client.add_member(other_blob, time.time())
            if other != member_id:
                self.clients[other].add_member(blob, time.time())
        self.clients[member_id] = client
        self.say(f"+ {name} joins as {role.name.lower()} (member {member_id})")

    def rekey(self) -> None:
        leader = next(c for c in self.clients.values() if c.is_leader)
        frame = self.switch(leader.start_epoch(os.urandom, time.time()))
        commit = decode(frame.header.type, frame.body)
        assert isinstance(commit, KeyCommit)
        for member_id, client in self.clients.items():
            if member_id != leader.member_id:
                client.apply_commit(frame.header, commit, time.time())
        self.say(f"  epoch {frame.header.epoch} from {self.names[leader.member_id]}:")
        for member_id, client in self.clients.items():
            self.say(f"    {self.names[member_id]:<6} security code {client.security_code}")

    def switch(self, frame: Frame) -> Frame:
        """What the relay does: parse bytes, apply the routing rules, forward bytes."""
        wire = frame.serialize()
        parsed = Frame.parse(wire)
        self.relay.check_route(parsed.header)
        h = parsed.header
        target = "everyone" if h.target == EVERYONE else f"member {h.target}"
        self.say(
            f"  relay sees {h.type.name} epoch={h.epoch} from member {h.sender} to {target} "
            f"seq={h.sequence}, {len(parsed.body)} body bytes: {parsed.body[:16].hex()}..."
        )
        return parsed

    def chat(self, sender: int, text: str) -> None:
        frame = self.switch(self.clients[sender].seal(Chat(text)))
        for member_id, client in self.clients.items():
            if member_id != sender:
                message = client.open(frame, time.time())
                assert isinstance(message, Chat)
                self.say(f"    {self.names[member_id]} reads: {message.text!r}")

    def run(self) -> None:
        self.say("relaydesk demo: end-to-end encryption through a relay that cannot read\n")
        self.join(1, "Hannah", Role.HOST)
        self.join(2, "Paul", Role.PARTICIPANT)
        self.join(3, "Eve", Role.PARTICIPANT)
        self.rekey()
        self.say("\nPaul sends a chat message; the relay forwards ciphertext only:")
        self.chat(2, "hello from Paul")
        self.say("\nEve tries to send a screen update although she does not present:")
        tile = Tile(0, 0, 1, 1, TileEncoding.RAW, b"\x00\x00\xff\x00")
        forged = self.clients[3].seal(ScreenUpdate(1, 1, True, (tile,)))
        try:
            self.relay.check_route(forged.header)
        except RelaydeskError as error:
            self.say(f"  relay refuses it: {type(error).__name__}: {error}")
        self.say("\nHannah expels Eve; a new epoch is sealed to the remaining members:")
        self.relay.expel(1, 3)
        eve = self.clients.pop(3)
        for client in self.clients.values():
            client.remove_member(3)
        self.rekey()
        frame = self.switch(self.clients[2].seal(Chat("Eve is gone")))
        try:
            eve.open(frame, time.time())
        except RelaydeskError as error:
            self.say(f"    Eve cannot read it: {type(error).__name__}: {error}")
        self.say("\nEverything above went through the real protocol code; see docs/protocol.md.")


def run(say: Say = print) -> None:
    _Demo(say).run()
