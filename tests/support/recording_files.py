"""A recording file made without a network, for the recording tests and the fuzzer: a
host (the recorder) and Alice, who presents, each with a real ``EndToEnd`` and a ticket
signed by a broker key made here; the frames are real sealed and signed frames, the
relay's control frames real encodings, written by the real ``RecordingWriter``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from relaydesk.protocol import keys as ks
from relaydesk.protocol.e2e import EndToEnd
from relaydesk.protocol.frames import EVERYONE, RELAY, Flags, Frame, FrameType, Header
from relaydesk.protocol.messages import (
    Annotation,
    Chat,
    ConsentKind,
    ControlMessage,
    Grant,
    KeyCommit,
    Point,
    Recording,
    Role,
    Roster,
    RosterEntry,
    decode,
    encode,
)
from relaydesk.protocol.tickets import Ticket, sign_ticket
from relaydesk.recording.format import Start
from relaydesk.recording.writer import RecordingWriter
from relaydesk.screen.codec import encode_update

RECORDER_SEED = bytes(range(32))
SESSION_UID = bytes(range(16))
START = 1_800_000_000.0  # the clock's first reading (Unix seconds)


@dataclass
class Party:
    member_id: int
    role: Role
    blob: bytes  # the ticket as the broker signed it
    e2e: EndToEnd

    @property
    def entry(self) -> RosterEntry:
        return RosterEntry(self.member_id, self.role, self.blob)


class Session:
    """Two members with broker-signed tickets, in one epoch that the host leads."""

    def __init__(self) -> None:
        counter = iter(range(1, 1 << 30))
        self.rng = lambda n: bytes((next(counter) * 7 + i) % 256 for i in range(n))
        self.broker_key = Ed25519PrivateKey.from_private_bytes(self.rng(32))
        self.session_uid = SESSION_UID
        self.host = self._party(1, Role.HOST, "Hannah")
        self.alice = self._party(2, Role.PARTICIPANT, "Alice")
        for party in (self.host, self.alice):
            for other in (self.host, self.alice):
                party.e2e.add_member(other.blob, START)
        commit = Frame.parse(self.host.e2e.start_epoch(self.rng, START).serialize())
        message = decode(FrameType.KEY_COMMIT, commit.body)
        assert isinstance(message, KeyCommit)
        self.alice.e2e.apply_commit(commit.header, message, START)

    def _party(self, member_id: int, role: Role, name: str) -> Party:
        keys = ks.MemberKeys.generate(self.rng)
        ticket = Ticket(
            SESSION_UID, member_id, name, role, keys.agreement_public, keys.ed25519_public,
            "embedded", int(START) + 3600,
        )  # fmt: skip
        blob = sign_ticket(ticket, self.broker_key)
        e2e = EndToEnd(SESSION_UID, member_id, keys, self.broker_key.public_key())
        return Party(member_id, role, blob, e2e)


@dataclass
class Made:
    path: Path
    key: Ed25519PrivateKey
    session: Session
    pictures: list[tuple[float, np.ndarray]]  # (seconds after the start, BGRX picture)


class _Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def relay_frame(message: ControlMessage, target: int, seq: int) -> bytes:
    header = Header(message.TYPE, SESSION_UID, 0, RELAY, target, seq)
    return Frame(header, encode(message)).serialize()


def pictures(width: int, height: int, count: int) -> Iterator[np.ndarray]:
    """Plain pictures that differ: a coloured bar moving down a grey screen."""
    for i in range(count):
        picture = np.full((height, width, 4), 90, np.uint8)
        top = (i * height // max(count, 1)) % height
        picture[top : top + max(2, height // 8), :, :3] = (40 * i % 256, 200, 255 - 30 * i % 256)
        yield picture


def make_recording(
    path: Path,
    *,
    updates: int = 6,
    width: int = 64,
    height: int = 48,
    chats: int = 3,
    seconds_apart: float = 0.5,
) -> Made:
    """Write a finished recording to ``path``: START, TICKETS, the epoch, the relay's
    announcement, then ``updates`` screen updates from Alice (the first whole), chat lines
    and a stroke; END. Returns what was shown when."""
    session = Session()
    host, alice = session.host, session.alice
    clock = _Clock(START)
    key = Ed25519PrivateKey.from_private_bytes(RECORDER_SEED)
    start = Start(
        SESSION_UID, "123456789", host.member_id, "Hannah",
        key.public_key().public_bytes_raw(),
        session.broker_key.public_key().public_bytes_raw(), alice.member_id,
    )  # fmt: skip
    entries = [host.entry, alice.entry]
    writer = RecordingWriter(path, key, start, entries, clock)
    epoch = host.e2e.current
    assert epoch is not None
    writer.epoch(epoch.number, epoch.leader, epoch.members, epoch.secret)
    seq = 0

    def relay(message: ControlMessage) -> None:
        nonlocal seq
        seq += 1
        writer.frame(relay_frame(message, host.member_id, seq), sent=False)

    relay(Recording(host.member_id, True))
    relay(Roster(host.member_id, tuple(entries), alice.member_id, 0, False, 1, (), 1))
    relay(Grant(ConsentKind.PRESENT, alice.member_id))
    shown: list[tuple[float, np.ndarray]] = []
    previous = None
    for i, picture in enumerate(pictures(width, height, updates)):
        clock.now += seconds_apart
        for update in encode_update(previous, picture):
            flags = Flags.KEYFRAME if update.full else Flags.NONE
            frame = alice.e2e.seal(update, EVERYONE, flags)
            writer.frame(frame.serialize(), sent=False)
        previous = picture
        shown.append((clock.now - START, picture))
        if i < chats:
            chat = alice.e2e.seal(Chat(f"line {i}", i + 1, True))
            writer.frame(chat.serialize(), sent=False)
            mine = host.e2e.seal(Chat(f"answer {i}", i + 1, True))
            writer.frame(mine.serialize(), sent=True)
    stroke = Annotation(1, 0xFF0000, 4, (Point(2, 2), Point(width - 3, height - 3)))
    writer.frame(host.e2e.seal(stroke).serialize(), sent=True)
    clock.now += seconds_apart
    relay(Recording(host.member_id, False))
    writer.finish()
    return Made(path, key, session, shown)
