"""Shared test helpers: Hypothesis profiles, a deterministic RNG and a session builder.

The builder makes a broker key, members with fresh keys and broker-signed tickets, and
one ``EndToEnd`` per member, then plays the relay's part by hand: it shows tickets to
members, carries KEY_COMMIT frames (serialized and parsed, as on the wire) and moves a
fake clock. Nothing here replaces a real part of the protocol.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, settings

from relaydesk.protocol import keys as ks
from relaydesk.protocol.e2e import EndToEnd, Epoch
from relaydesk.protocol.frames import Frame, FrameType
from relaydesk.protocol.messages import KeyCommit, Role, decode
from relaydesk.protocol.tickets import Ticket, sign_ticket
from vectors.generate import Drbg

# The machine running CI has two cores: keep the default run short, allow a longer one.
# No deadlines and no "too slow" health check: CI's 2 cores are shared with real servers,
# Xvfb and Chromium, and a slow example is no failure of the code under test.
_PATIENT = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("relaydesk", max_examples=60, **_PATIENT)
settings.register_profile("thorough", max_examples=1000, **_PATIENT)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "relaydesk"))


@pytest.fixture(scope="session", autouse=True)
def _session_logs_stay_in_the_test_run(tmp_path_factory: pytest.TempPathFactory) -> None:
    """``relaydesk start`` and ``join`` write a session log when they end (by default in
    the user's data folder): in tests, into a folder of the run's own, inherited by every
    command the tests start. Tests that look at the log pass ``--log-dir``."""
    os.environ.setdefault("RELAYDESK_LOG_DIR", str(tmp_path_factory.mktemp("client-session-logs")))


SESSION_UID = bytes.fromhex("5e55104e5e55104e5e55104e5e55104e")
RELAY_URL = "wss://relay.example.org/relay"
START = 1_800_000_000.0  # the fake clock's first reading (Unix seconds)
TICKET_LIFETIME = 3600


@dataclass
class Member:
    member_id: int
    role: Role
    keys: ks.MemberKeys
    ticket: Ticket
    blob: bytes  # the signed ticket as the broker hands it out
    e2e: EndToEnd


class FakeSession:
    """A broker key and the members of one session, wired together by hand."""

    def __init__(
        self,
        seed: bytes,
        session_uid: bytes = SESSION_UID,
        broker_key: Ed25519PrivateKey | None = None,
    ) -> None:
        self.rng = Drbg(seed)
        self.session_uid = session_uid
        self.broker_key = broker_key or Ed25519PrivateKey.from_private_bytes(self.rng(32))
        self.broker_public = self.broker_key.public_key()
        self.now = START
        self.members: dict[int, Member] = {}

    def issue(
        self,
        member_id: int,
        role: Role = Role.PARTICIPANT,
        keys: ks.MemberKeys | None = None,
        *,
        name: str | None = None,
        session_uid: bytes | None = None,
        expires_at: int | None = None,
        broker_key: Ed25519PrivateKey | None = None,
    ) -> tuple[ks.MemberKeys, Ticket, bytes]:
        """A ticket as the broker (or, with ``broker_key``, another broker) signs it."""
        keys = keys or ks.MemberKeys.generate(self.rng)
        ticket = Ticket(
            session_uid=self.session_uid if session_uid is None else session_uid,
            member_id=member_id,
            display_name=name or f"Member {member_id}",
            role=role,
            agreement=keys.agreement_public,
            ed25519=keys.ed25519_public,
            relay=RELAY_URL,
            expires_at=int(self.now) + TICKET_LIFETIME if expires_at is None else expires_at,
        )
        return keys, ticket, sign_ticket(ticket, broker_key or self.broker_key)

    def join(
        self, role: Role = Role.PARTICIPANT, member_id: int | None = None, name: str | None = None
    ) -> Member:
        """A member is admitted: it sees the roster (itself included), everyone sees it."""
        member_id = member_id or max(self.members, default=0) + 1
        keys, ticket, blob = self.issue(member_id, role, name=name)
        e2e = EndToEnd(self.session_uid, member_id, keys, self.broker_public)
        member = Member(member_id, role, keys, ticket, blob, e2e)
        self.members[member_id] = member
        for other in self.members.values():
            e2e.add_member(other.blob, self.now)
            if other is not member:
                other.e2e.add_member(blob, self.now)
        return member

    def view(self, member: Member, blobs: list[bytes]) -> EndToEnd:
        """A fresh client state for ``member`` that the relay showed exactly ``blobs``."""
        e2e = EndToEnd(self.session_uid, member.member_id, member.keys, self.broker_public)
        for blob in blobs:
            e2e.add_member(blob, self.now)
        return e2e

    def leave(self, member: Member) -> None:
        """The relay tells everyone else that ``member`` left (or was expelled)."""
        del self.members[member.member_id]
        for other in self.members.values():
            other.e2e.remove_member(member.member_id)

    def rekey(self, leader: Member, *, deliver: bool = True) -> Frame:
        """The leader starts an epoch; the commit reaches every other present member."""
        frame = self.wire(leader.e2e.start_epoch(self.rng, self.now))
        if deliver:
            for member in self.members.values():
                if member is not leader:
                    self.deliver(member, frame)
        return frame

    def deliver(self, member: Member, frame: Frame) -> Epoch:
        """``member`` receives a KEY_COMMIT frame."""
        return member.e2e.apply_commit(frame.header, self.commit_of(frame), self.now)

    @staticmethod
    def wire(frame: Frame) -> Frame:
        """What the receiving side parses from the bytes the sending side wrote."""
        return Frame.parse(frame.serialize())

    @staticmethod
    def commit_of(frame: Frame) -> KeyCommit:
        assert frame.header.type is FrameType.KEY_COMMIT
        commit = decode(FrameType.KEY_COMMIT, frame.body)
        assert isinstance(commit, KeyCommit)
        return commit


@pytest.fixture
def make_e2e_session() -> Callable[..., FakeSession]:
    """Build a FakeSession; seeds keep every run identical."""
    return FakeSession


@pytest.fixture
def e2e_session() -> FakeSession:
    return FakeSession(b"relaydesk tests: session")


@pytest.fixture
def trio(e2e_session: FakeSession) -> tuple[FakeSession, Member, Member, Member]:
    """A host (the key leader) and two participants, all in epoch 1."""
    session = e2e_session
    host = session.join(Role.HOST)
    alice = session.join(name="Alice")
    bob = session.join(name="Bob")
    session.rekey(host)
    return session, host, alice, bob
