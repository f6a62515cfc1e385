"""Meeting controls at scale: admit -> first frame, and expel -> new epoch in force, for
10 / 100 / 1000 members (issue 8; target: <= 0.5 s at 1000).

Everything on the path is the real code, in one process and one thread: the relay's
switch (``RelayHub``, its rules and per-receiver queues, event records written to a real
SQLite store by the relay's record worker), broker-signed tickets, and each client's
end-to-end state (``EndToEnd``: ticket checks, HPKE sealing and opening, AES-GCM,
Ed25519). What is left out is the network and the TLS/WebSocket framing (the relay
benchmark measures those). The members a step does not wait on are not simulated: their
queues are emptied, not read.

- admit -> first frame: a host clicks Admit for a member waiting in the lobby. The relay
  announces it to the n members and sends the newcomer the roster; the host's client
  (key leader and presenter) starts an epoch for n+1 members and answers the relay's
  refresh with a keyframe for the newcomer (a 1920x1080 screen's worth of encoded text,
  ~120 KiB); the newcomer checks all n+1 tickets, applies the commit and opens the frame.
- expel -> new epoch in force: a host expels a member; the relay tells the others and
  closes the link; the leader starts an epoch for n-1 members; one remaining member
  applies it (every member does so at once on its own machine). The leader's own share
  is printed beside it.

The figures are the sum of the relay's, the leader's and one member's work on one core:
on three machines the parts would overlap little, so it is close to what a person sees
less the network's round trips.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from benchmarks import Row, Section
from relaydesk.broker.store import Store
from relaydesk.protocol.e2e import EndToEnd
from relaydesk.protocol.frames import RELAY, Flags, Frame, Header
from relaydesk.protocol.keys import MemberKeys
from relaydesk.protocol.messages import (
    Admit,
    ControlMessage,
    Expel,
    Hello,
    KeyCommit,
    MemberJoined,
    MemberLeft,
    PresenterRequest,
    Refresh,
    Role,
    Roster,
    ScreenUpdate,
    Tile,
    TileEncoding,
    decode,
    encode,
)
from relaydesk.protocol.tickets import NO_RULES, Ticket, TicketRule, prove_hello, sign_ticket
from relaydesk.relay.hub import Connection, RelayHub
from relaydesk.relay.records import QueuedRecords

TITLE = "meeting controls"
SIZES = (10, 100, 1000)
TARGET_SECONDS = 0.5  # at 1000 members, both measures
KEYFRAME_BYTES = 120 * 1024  # a whole 1080p text screen, encoded (docs/screen.md)
UID = bytes(range(16))
HOST_ID, WITNESS_ID = 1, 2  # the first two to arrive: the host, and the member that
# follows everything (whose client applies the new epoch after an expel)


@dataclass
class Link:
    """One simulated client: its keys, its end-to-end state and its relay connection."""

    member_id: int
    keys: MemberKeys
    ticket: bytes
    connection: Connection
    e2e: EndToEnd


class Meeting:
    """A relay with a host (key leader, presenting) and ``size - 1`` participants."""

    def __init__(self, size: int, waiting: int, store: Store) -> None:
        self.broker_key = Ed25519PrivateKey.generate()
        self.records = QueuedRecords(store)
        self.hub = RelayHub(self.broker_key.public_key(), self.records)
        self.links: dict[int, Link] = {}
        self.next_id = 1
        self.host = self.arrive(Role.HOST)
        for _ in range(size - 1):
            self.arrive(Role.PARTICIPANT)
        self.waiting = [self.arrive(Role.PARTICIPANT, TicketRule.WAIT_IN_LOBBY) for _ in
                        range(waiting)]  # fmt: skip
        self.host_handles()  # the roster so far, and the first epoch
        self.hub.receive(self.host.connection, self.control(HOST_ID, PresenterRequest(HOST_ID)))
        self.host_handles()
        self.member_handles(self.links[WITNESS_ID])
        self.empty_queues()

    def arrive(self, role: Role, rules: TicketRule = NO_RULES) -> Link:
        member_id, self.next_id = self.next_id, self.next_id + 1
        keys = MemberKeys.generate(os.urandom)
        ticket = sign_ticket(
            Ticket(UID, member_id, f"Member {member_id}", role, keys.agreement_public,
                   keys.ed25519_public, "wss://127.0.0.1/relay", int(time.time()) + 300,
                   rules=rules | TicketRule.JOIN_BEFORE_HOST),
            self.broker_key,
        )  # fmt: skip
        e2e = EndToEnd(UID, member_id, keys, self.broker_key.public_key())
        link = Link(member_id, keys, ticket, Connection(), e2e)
        self.links[member_id] = link
        self.hub.challenge(link.connection)  # what the relay's driver sends first (§7.1)
        assert link.connection.challenge is not None
        proof = prove_hello(keys.signing, link.connection.challenge, ticket, self.hub.name)
        self.hub.admit(link.connection, self.control(member_id, Hello(ticket, proof)))
        self.empty_queues()
        return link

    def control(self, sender: int, message: ControlMessage) -> bytes:
        header = Header(message.TYPE, UID, 0, sender, RELAY, 1)
        return Frame(header, encode(message)).serialize()

    def empty_queues(self) -> None:
        """Members nobody waits on read nothing; the host and the witness read theirs."""
        for link in self.links.values():
            if link.member_id not in (HOST_ID, WITNESS_ID):
                link.connection.outbox.take()

    def frames_for(self, link: Link) -> Iterator[Frame]:
        for data in link.connection.outbox.take():
            yield Frame.parse(data)

    def host_handles(self, keyframe: bool = False) -> None:
        """The host's client: keep the roster, lead the keys, answer refreshes."""
        host, now = self.host, time.time()
        if not host.e2e.roster:
            for link in self.links.values():
                if link not in self.waiting:
                    host.e2e.add_member(link.ticket, now, self.role(link))
        self.rekey_if_leader()
        for frame in self.frames_for(host):
            message = decode(frame.header.type, frame.body)
            match message:
                case MemberJoined(entry):
                    host.e2e.add_member(entry.ticket, now, entry.role)
                    self.rekey_if_leader()  # as the client does: at once, before a refresh
                case MemberLeft(member_id):
                    host.e2e.remove_member(member_id)
                    self.rekey_if_leader()
                case Refresh(member_id) if keyframe:
                    update = ScreenUpdate(1920, 1080, True, (keyframe_tile(),))
                    sealed = host.e2e.seal(update, member_id, Flags.KEYFRAME)
                    self.hub.receive(host.connection, sealed.serialize())
                case _:
                    pass

    def rekey_if_leader(self) -> None:
        host, now = self.host, time.time()
        if host.e2e.needs_rekey(now):
            commit = host.e2e.start_epoch(os.urandom, now)
            self.hub.receive(host.connection, commit.serialize())

    def role(self, link: Link) -> Role:
        return Role.HOST if link is self.host else Role.PARTICIPANT

    def member_handles(self, link: Link) -> bool:
        """A member's client reads its queue; True once it has opened a screen frame."""
        return self.member_reads(link, link.connection.outbox.take())

    def member_reads(self, link: Link, queued: list[bytes]) -> bool:
        """A member's client handles these frames; True if one was a screen update."""
        now, seen_picture = time.time(), False
        for frame in (Frame.parse(data) for data in queued):
            if frame.header.type.is_content:
                message = link.e2e.open(frame, now)
                seen_picture = seen_picture or isinstance(message, ScreenUpdate)
                continue
            match decode(frame.header.type, frame.body):
                case Roster(members=members):
                    for entry in members:
                        link.e2e.add_member(entry.ticket, now, entry.role)
                case MemberJoined(entry):
                    link.e2e.add_member(entry.ticket, now, entry.role)
                case KeyCommit() as commit:
                    link.e2e.apply_commit(frame.header, commit, now)
                case MemberLeft(member_id):
                    link.e2e.remove_member(member_id)
                case _:
                    pass
        return seen_picture

    def close(self) -> None:
        self.records.close()


def keyframe_tile() -> Tile:
    return Tile(0, 0, 1920, 1080, TileEncoding.ZLIB, os.urandom(KEYFRAME_BYTES))


def admit_to_first_frame(meeting: Meeting) -> tuple[float, float]:
    """(one core, in turn; critical path): the relay's admission, then the newcomer
    reading its roster while the leader seals the new epoch and the keyframe (on their
    own machines these two overlap), then the newcomer opening both."""
    newcomer = meeting.waiting.pop()
    host = meeting.host
    admit = meeting.control(host.member_id, Admit(newcomer.member_id, True))
    started = time.perf_counter()
    meeting.hub.receive(host.connection, admit)
    relayed = time.perf_counter()
    roster_frames = list(newcomer.connection.outbox.take())  # its ROSTER, sent at once
    meeting.member_reads(newcomer, roster_frames)
    roster_read = time.perf_counter()
    meeting.host_handles(keyframe=True)
    sealed = time.perf_counter()
    if not meeting.member_handles(newcomer):
        raise AssertionError("the newcomer saw no picture")
    done = time.perf_counter()
    meeting.host_handles()  # (the host has nothing left to do: its queue is empty)
    meeting.member_handles(meeting.links[WITNESS_ID])
    meeting.empty_queues()
    critical = (relayed - started) + max(roster_read - relayed, sealed - roster_read)
    return done - started, critical + (done - sealed)


def expel_to_new_epoch(meeting: Meeting, victim: int, witness: Link) -> tuple[float, float]:
    host = meeting.host
    before = witness.e2e.current.number if witness.e2e.current else 0
    started = time.perf_counter()
    meeting.hub.receive(host.connection, meeting.control(host.member_id, Expel(victim)))
    leader_started = time.perf_counter()
    meeting.host_handles()
    leader = time.perf_counter() - leader_started
    meeting.member_handles(witness)
    elapsed = time.perf_counter() - started
    now = witness.e2e.current
    if now is None or now.number <= before or victim in now.members:
        raise AssertionError("the new epoch is not in force at the witness")
    meeting.empty_queues()
    del meeting.links[victim]
    return elapsed, leader


@contextmanager
def record_store() -> Iterator[Store]:
    with tempfile.TemporaryDirectory(prefix="relaydesk-bench-") as directory:
        store = Store.open(f"sqlite:///{Path(directory) / 'broker.db'}")
        try:
            owner = store.add_account("bench", "not-a-hash")
            store.create_session("123456789", UID, owner.id, None)
            yield store
        finally:
            store.close()


def measure(size: int, repeats: int) -> tuple[float, float, float, float]:
    with record_store() as store:
        meeting = Meeting(size, waiting=repeats, store=store)
        try:
            admits = [admit_to_first_frame(meeting) for _ in range(repeats)]
            participants = [m for m in meeting.links if m not in (HOST_ID, WITNESS_ID)]
            witness = meeting.links[WITNESS_ID]
            expels = [
                expel_to_new_epoch(meeting, victim, witness) for victim in participants[-repeats:]
            ]
        finally:
            meeting.close()
    return (
        statistics.median(one_core for one_core, _ in admits),
        statistics.median(critical for _, critical in admits),
        statistics.median(e for e, _ in expels),
        statistics.median(leader for _, leader in expels),
    )


def run(quick: bool) -> list[Section]:
    section = Section(f"{TITLE}: admit -> first frame, expel -> new epoch in force")
    for size in SIZES:
        repeats = 2 if quick or size >= 1000 else 5
        admit, critical, expel, leader = measure(size, repeats)
        target = f"<= {TARGET_SECONDS} s" if size == 1000 else ""
        rows = (
            (f"admit -> first frame, {size} members (one core, in turn)", admit, ""),
            ("  critical path (relay, leader, newcomer apart)", critical, target),
            (f"expel -> new epoch in force, {size} members", expel, target),
        )
        for what, seconds, goal in rows:
            verdict = ("met" if seconds <= TARGET_SECONDS else "MISSED") if goal else ""
            section.rows.append(Row(what, f"{seconds * 1000:.1f} ms", "", goal, verdict))
        section.rows.append(
            Row(f"  of which the leader's new epoch, {size - 1} members", f"{leader * 1000:.1f} ms")
        )
    section.notes.append(
        "real code, no network; one core runs the relay, the leader and the member in turn."
        " The critical path counts the newcomer's roster check and the leader's sealing as"
        " overlapping, as they do on two machines."
        f" Medians of {2 if quick else 5} runs (2 at 1000 members)"
    )
    return [section]
