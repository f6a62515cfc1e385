"""``relaydesk recording verify``: is a recording whole and unchanged, and whose is it?
(docs/protocol.md §12.3.)

Reads the file once, in order. The chain (recording/format.py) locates a changed,
removed, inserted or reordered byte; the recorder's signatures (CHECKPOINT, END) locate
a chain rewritten from some entry on; a file without END was cut short. Then what the
entries say is checked too: every ticket against the broker's key named in START, and
every content frame against its sender's key in that sender's ticket (the recorder's
client kept only frames it had checked the same way).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from relaydesk.errors import (
    RecordingError,
    RecordingMalformed,
    RecordingTampered,
    RelaydeskError,
)
from relaydesk.protocol.e2e import CONTENT_LABEL, SIGNATURE_SIZE, TAG_SIZE
from relaydesk.protocol.frames import Frame, FrameType
from relaydesk.protocol.messages import MemberJoined, Roster, decode
from relaydesk.protocol.tickets import Ticket, verify_ticket
from relaydesk.recording.format import (
    FILE_HEADER,
    Entry,
    EntryKind,
    EpochSecret,
    Signature,
    Start,
    Tickets,
    read_entries,
    signed_bytes,
)


def fingerprint(public_key: bytes) -> str:
    """How people compare an Ed25519 key: SHA-256 of its 32 bytes, 16 bytes in hex
    groups of four."""
    digest = hashlib.sha256(public_key).hexdigest()[:32]
    return " ".join(digest[i : i + 4] for i in range(0, 32, 4))


@dataclass
class Summary:
    """What a verified recording holds."""

    start: Start
    started_ms: int = 0
    ended_ms: int = 0
    entries: int = 0
    bytes: int = 0
    checkpoints: int = 0
    frames: int = 0
    tickets: dict[int, Ticket] = field(default_factory=dict)
    signatures: Counter[int] = field(default_factory=Counter)  # content frames per sender
    epochs: int = 0

    @property
    def duration(self) -> float:
        return (self.ended_ms - self.started_ms) / 1000

    @property
    def recorder_fingerprint(self) -> str:
        return fingerprint(self.start.recorder_key)

    @property
    def broker_fingerprint(self) -> str:
        return fingerprint(self.start.broker_key)

    def name(self, member_id: int) -> str:
        ticket = self.tickets.get(member_id)
        return ticket.display_name if ticket else f"member {member_id}"


class Verifier:
    """Checks entries one by one (``check``); ``finish`` once the file has ended."""

    def __init__(self, expected_key: bytes | None = None) -> None:
        self._expected_key = expected_key
        self.summary: Summary | None = None
        self._recorder: Ed25519PublicKey | None = None
        self._broker: Ed25519PublicKey | None = None
        self._ended: Entry | None = None
        self._last: Entry | None = None

    def check(self, entry: Entry) -> None:
        self._last = entry
        if self._ended is not None:
            raise RecordingTampered(
                f"an entry after the END of entry {self._ended.index}", entry.index, entry.offset
            )
        if entry.index == 0:
            self._begin(entry)
            return
        summary = self.summary
        assert summary is not None
        summary.entries, summary.bytes = entry.index + 1, entry.end
        summary.ended_ms = entry.time_ms
        match entry.kind:
            case EntryKind.START:
                raise RecordingTampered("a second START", entry.index, entry.offset)
            case EntryKind.TICKETS:
                for roster_entry in entry.decode(Tickets).members:
                    self._ticket(entry, roster_entry.ticket)
            case EntryKind.EPOCH:
                entry.decode(EpochSecret)
                summary.epochs += 1
            case EntryKind.FRAME_IN | EntryKind.FRAME_OUT:
                self._frame(entry)
            case EntryKind.CHECKPOINT | EntryKind.END:
                self._signature(entry)

    def _begin(self, entry: Entry) -> None:
        if entry.kind is not EntryKind.START:
            raise RecordingTampered("the first entry is not START", entry.index, entry.offset)
        start = entry.decode(Start)
        if self._expected_key is not None and start.recorder_key != self._expected_key:
            raise RecordingTampered(
                f"recorded with the key {fingerprint(start.recorder_key)}, not with "
                f"{fingerprint(self._expected_key)}",
                entry.index,
                entry.offset,
            )
        try:
            self._recorder = Ed25519PublicKey.from_public_bytes(start.recorder_key)
            self._broker = Ed25519PublicKey.from_public_bytes(start.broker_key)
        except ValueError:
            raise RecordingMalformed("START names an invalid key", 0, entry.offset) from None
        self.summary = Summary(start, entry.time_ms, entry.time_ms, 1, entry.end)

    def _signature(self, entry: Entry) -> None:
        assert self._recorder is not None and self.summary is not None
        signed = entry.decode(Signature)
        if signed.index != entry.index:
            raise RecordingTampered(
                f"a signature made for entry {signed.index}", entry.index, entry.offset
            )
        try:
            self._recorder.verify(
                signed.signature, signed_bytes(entry.kind, entry.previous, entry.index)
            )
        except InvalidSignature:
            raise RecordingTampered(
                "the recorder's signature does not cover the entries before it: they were "
                "rewritten since the previous checkpoint",
                entry.index,
                entry.offset,
            ) from None
        self.summary.checkpoints += 1
        if entry.kind is EntryKind.END:
            self._ended = entry

    def _ticket(self, entry: Entry, blob: bytes) -> None:
        assert self._broker is not None and self.summary is not None
        try:
            ticket = verify_ticket(
                blob, self._broker, now=0, session_uid=self.summary.start.session_uid,
                check_expiry=False,
            )  # fmt: skip
        except RelaydeskError as error:
            raise RecordingTampered(f"a ticket: {error}", entry.index, entry.offset) from None
        self.summary.tickets[ticket.member_id] = ticket

    def _frame(self, entry: Entry) -> None:
        assert self.summary is not None
        try:
            frame = Frame.parse(entry.body)
        except RelaydeskError as error:
            raise RecordingMalformed(f"not a frame: {error}", entry.index, entry.offset) from None
        self.summary.frames += 1
        header = frame.header
        if header.session_uid != self.summary.start.session_uid:
            raise RecordingTampered("a frame of another session", entry.index, entry.offset)
        if header.type.is_content:
            self._content(entry, frame)
            return
        if header.type not in (FrameType.ROSTER, FrameType.MEMBER_JOINED):
            return
        try:
            message = decode(header.type, frame.body)
        except RelaydeskError as error:
            raise RecordingMalformed(str(error), entry.index, entry.offset) from None
        match message:
            case Roster(members=members):
                for roster_entry in members:
                    self._ticket(entry, roster_entry.ticket)
            case MemberJoined(roster_entry):
                self._ticket(entry, roster_entry.ticket)
            case _:
                pass

    def _content(self, entry: Entry, frame: Frame) -> None:
        """The sender's signature, with the key in its ticket (§6.3, check 6)."""
        assert self.summary is not None
        header, body = frame.header, frame.body
        ticket = self.summary.tickets.get(header.sender)
        if ticket is None:
            raise RecordingTampered(
                f"content from member {header.sender}, whose ticket the recording lacks",
                entry.index,
                entry.offset,
            )
        if len(body) < TAG_SIZE + SIGNATURE_SIZE:
            raise RecordingMalformed("a sealed body too short", entry.index, entry.offset)
        signed = CONTENT_LABEL + header.pack(len(body)) + body[:-SIGNATURE_SIZE]
        try:
            Ed25519PublicKey.from_public_bytes(ticket.ed25519).verify(
                body[-SIGNATURE_SIZE:], signed
            )
        except InvalidSignature:
            raise RecordingTampered(
                f"a {header.type.name} frame not signed by {ticket.display_name} "
                f"(member {header.sender})",
                entry.index,
                entry.offset,
            ) from None
        self.summary.signatures[header.sender] += 1

    def finish(self) -> Summary:
        """The file has ended: it must have had a START and end with END."""
        if self.summary is None:
            raise RecordingTampered("the recording has no entries", 0, self._end_offset())
        if self._ended is None:
            last = self._last
            assert last is not None
            raise RecordingTampered(
                f"no END: the recording was cut short after entry {last.index}",
                last.index + 1,
                last.end,
            )
        return self.summary

    def _end_offset(self) -> int:
        return self._last.end if self._last is not None else len(FILE_HEADER)


def verify_stream(
    stream: BinaryIO,
    expected_key: bytes | None = None,
    progress: Callable[[Entry], None] | None = None,
) -> Summary:
    """Verify a whole recording; RecordingError (with its entry and offset) if not."""
    verifier = Verifier(expected_key)
    for entry in read_entries(stream):
        verifier.check(entry)
        if progress is not None:
            progress(entry)
    return verifier.finish()


def verified_entries(path: Path, expected_key: bytes | None = None) -> Iterator[Entry]:
    """The entries of a recording, each checked as it comes (for export): the caller
    must read to the end to learn whether the whole file verifies."""
    verifier = Verifier(expected_key)
    with path.open("rb") as stream:
        for entry in read_entries(stream):
            verifier.check(entry)
            yield entry
    verifier.finish()


def verify_file(path: Path, expected_key: bytes | None = None) -> Summary:
    try:
        with path.open("rb") as stream:
            return verify_stream(stream, expected_key)
    except OSError as error:
        raise RecordingError(f"cannot read {path}: {error}") from None
