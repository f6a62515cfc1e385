"""The recording file: entries in one hash chain, signed by the recorder (docs/protocol.md
§12).

A file is a 12-byte header (magic, version) and entries, each::

    kind u8 | time_ms u64 | length u32 | body (length bytes) | hash (32 bytes)
    hash_i = SHA-256(hash_{i-1} || kind || time_ms || length || body)
    hash_{-1} = SHA-256("relaydesk/v1 recording" || the 12-byte file header)

Every entry's hash covers the one before it, so a changed, removed, inserted or
reordered byte breaks the chain at that entry; CHECKPOINT and END entries carry the
recorder's Ed25519 signature over the hash before them, so a chain rewritten from some
entry on fails at the next signature, and a file cut short has no END.

``read_entries`` checks the framing (kind, length within its limit, the whole entry
present) and the chain while it reads, with every length checked before a byte of the
body is read; it raises only ``RecordingMalformed`` (not a recording) and
``RecordingTampered`` (where the chain breaks). Pure apart from the stream it is given.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated, BinaryIO, TypeVar

from msgspec import Meta

from relaydesk import limits
from relaydesk.errors import MessageError, RecordingMalformed, RecordingTampered
from relaydesk.protocol.messages import (
    Bytes16,
    Bytes32,
    Bytes64,
    Member,
    MemberOrNone,
    Record,
    RosterEntry,
    UInt64,
    unpack,
)

MAGIC = b"\x89RDR\r\n\x1a\n"  # like PNG's: a text-mode copy or a truncated transfer shows
VERSION = 1
FILE_HEADER = MAGIC + struct.pack(">HH", VERSION, 0)  # version, flags (none yet)
ENTRY_HEAD = struct.Struct(">BQI")  # kind, time (Unix milliseconds), body length
HASH_SIZE = 32
CHAIN_LABEL = b"relaydesk/v1 recording"
CHECKPOINT_LABEL = b"relaydesk/v1 recording checkpoint"
END_LABEL = b"relaydesk/v1 recording end"


class EntryKind(IntEnum):
    START = 1  # who records which session, with which key (always entry 0)
    TICKETS = 2  # the roster's tickets when the recording started
    EPOCH = 3  # an epoch secret as the recorder's client applied it
    FRAME_IN = 4  # a frame exactly as received from the relay
    FRAME_OUT = 5  # a frame exactly as this client sent it
    CHECKPOINT = 6  # the recorder's signature over the chain so far
    END = 7  # the last entry: the recorder's signature over the whole chain


def body_limit(kind: EntryKind) -> int:
    """The largest body an entry of ``kind`` may have (checked before it is read)."""
    if kind in (EntryKind.FRAME_IN, EntryKind.FRAME_OUT):
        return limits.MAX_RECORDING_ENTRY_BODY
    return limits.MAX_CONTROL_BODY


def chain_seed() -> bytes:
    return hashlib.sha256(CHAIN_LABEL + FILE_HEADER).digest()


def entry_hash(previous: bytes, head: bytes, body: bytes) -> bytes:
    return hashlib.sha256(previous + head + body).digest()


def signed_bytes(kind: EntryKind, previous: bytes, index: int) -> bytes:
    """What a CHECKPOINT or END entry at ``index`` signs: its label, the hash of the
    entry before it, and its own index."""
    label = END_LABEL if kind is EntryKind.END else CHECKPOINT_LABEL
    return label + previous + struct.pack(">Q", index)


# Entry bodies (MessagePack arrays, §3.0) ----------------------------------------------

Name = Annotated[str, Meta(min_length=1, max_length=limits.MAX_DISPLAY_NAME_CHARS)]


class Start(Record):
    session_uid: Bytes16
    session_id: Annotated[str, Meta(max_length=16)]  # the 9-digit ID people type
    recorder: Member  # the recorder's member id in the session
    recorder_name: Name
    recorder_key: Bytes32  # Ed25519: the recorder's long-term key, which signs the chain
    broker_key: Bytes32  # Ed25519: the broker's key, which signs every ticket
    presenter: MemberOrNone  # who presented when the recording started (0: nobody)


class Tickets(Record):
    members: Annotated[tuple[RosterEntry, ...], Meta(max_length=limits.MAX_MEMBERS)]


class EpochSecret(Record):
    number: Annotated[int, Meta(ge=1, le=0xFFFFFFFF)]
    leader: Member
    members: Annotated[tuple[Member, ...], Meta(max_length=limits.MAX_MEMBERS)]
    secret: Bytes32


class Signature(Record):
    """A CHECKPOINT's or the END's body: its own index and the recorder's signature."""

    index: UInt64
    signature: Bytes64


_B = TypeVar("_B", bound=Record)


@dataclass(frozen=True, slots=True)
class Entry:
    index: int
    offset: int  # where the entry starts in the file
    kind: EntryKind
    time_ms: int
    body: bytes
    previous: bytes  # the hash of the entry before it (what a signature covers)
    hash: bytes

    @property
    def end(self) -> int:
        return self.offset + ENTRY_HEAD.size + len(self.body) + HASH_SIZE

    def decode(self, cls: type[_B]) -> _B:
        try:
            return unpack(self.body, cls, self.kind.name)
        except MessageError as error:
            raise RecordingMalformed(str(error), self.index, self.offset) from None


def encode_entry(previous: bytes, kind: EntryKind, time_ms: int, body: bytes) -> bytes:
    """One entry's bytes, its hash last (the next entry's ``previous``)."""
    if len(body) > body_limit(kind):
        raise RecordingMalformed(f"a {kind.name} body of {len(body)} bytes is above its limit")
    head = ENTRY_HEAD.pack(kind, time_ms, len(body))
    return head + body + entry_hash(previous, head, body)


def _read(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    return data if data is not None else b""


def read_entries(stream: BinaryIO) -> Iterator[Entry]:
    """The entries of a recording, each checked against the chain as it is read."""
    header = _read(stream, len(FILE_HEADER))
    if header[: len(MAGIC)] != MAGIC or len(header) < len(FILE_HEADER):
        raise RecordingMalformed("not a relaydesk recording (no magic header)", -1, 0)
    if header != FILE_HEADER:
        version = struct.unpack(">H", header[len(MAGIC) : len(MAGIC) + 2])[0]
        raise RecordingMalformed(
            f"a recording of format {version} with flags this client does not read "
            f"(it reads {VERSION})",
            -1,
            0,
        )
    previous, offset, index = chain_seed(), len(FILE_HEADER), 0
    while True:
        head = _read(stream, ENTRY_HEAD.size)
        if not head:
            return
        if len(head) < ENTRY_HEAD.size:
            raise RecordingTampered("the entry is cut short", index, offset)
        kind_code, time_ms, length = ENTRY_HEAD.unpack(head)
        try:
            kind = EntryKind(kind_code)
        except ValueError:
            raise RecordingTampered(f"unknown entry kind {kind_code}", index, offset) from None
        if length > body_limit(kind):
            raise RecordingTampered(
                f"a {kind.name} entry of {length} bytes is above its limit", index, offset
            )
        body = _read(stream, length)
        stored = _read(stream, HASH_SIZE)
        if len(body) < length or len(stored) < HASH_SIZE:
            raise RecordingTampered("the entry is cut short", index, offset)
        computed = entry_hash(previous, head, body)
        if computed != stored:
            raise RecordingTampered(
                "the hash chain breaks here: this entry or one before it was changed, "
                "removed, inserted or reordered",
                index,
                offset,
            )
        entry = Entry(index, offset, kind, time_ms, body, previous, computed)
        yield entry
        previous, offset, index = computed, entry.end, index + 1
