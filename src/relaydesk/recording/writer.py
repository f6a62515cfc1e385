"""The recorder's side: frames as the host's client received (or sent) them, the epoch
secrets it applied and the tickets, in one hash chain signed as it goes (docs/protocol.md
§12).

The file is content at rest on the host's own machine: it is created new (never over
another file), readable by its owner only (mode 0600), and holds the epoch secrets the
recorder's client applied, so whoever can read it can read the session. A CHECKPOINT is
signed at least every ``RECORDING_CHECKPOINT_ENTRIES`` entries or
``RECORDING_CHECKPOINT_SECONDS``; the END when the recording stops.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from relaydesk import limits
from relaydesk.errors import RecordingError
from relaydesk.protocol.frames import HEADER_SIZE, FrameType
from relaydesk.protocol.messages import RosterEntry, pack
from relaydesk.recording.format import (
    ENTRY_HEAD,
    FILE_HEADER,
    EntryKind,
    EpochSecret,
    Signature,
    Start,
    Tickets,
    body_limit,
    chain_seed,
    signed_bytes,
)

# Frames a recording leaves out: keep-alives, and files (they go to one member each and
# are kept by the file feature itself, docs/meetings.md).
SKIPPED = frozenset(
    {
        FrameType.PING,
        FrameType.PONG,
        FrameType.FILE_OFFER,
        FrameType.FILE_ANSWER,
        FrameType.FILE_CHUNK,
        FrameType.FILE_END,
    }
)


def recorded(frame: bytes) -> bool:
    """Does a recording keep this frame? (Its type byte, read without parsing.)"""
    return len(frame) >= HEADER_SIZE and frame[1] not in SKIPPED


class RecordingWriter:
    """One recording file, open from ``start`` until ``finish``."""

    def __init__(
        self,
        path: Path,
        recorder_key: Ed25519PrivateKey,
        start: Start,
        tickets: Iterable[RosterEntry],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self._key = recorder_key
        self._clock = clock
        try:  # a new file only, its owner's alone: it holds the session's keys
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as error:
            raise RecordingError(f"cannot create the recording {path}: {error}") from None
        self._file = os.fdopen(fd, "wb")
        self._file.write(FILE_HEADER)
        self._previous = chain_seed()
        self.entries = 0
        self.bytes = len(FILE_HEADER)
        self._since_checkpoint = 0
        self._checkpoint_at = clock()
        self.closed = False
        self._append(EntryKind.START, pack(start))
        self._append(EntryKind.TICKETS, pack(Tickets(tuple(tickets))))

    def frame(self, data: bytes, sent: bool) -> None:
        """A frame exactly as received from the relay (or sent to it)."""
        if not self.closed and recorded(data):
            self._append(EntryKind.FRAME_OUT if sent else EntryKind.FRAME_IN, data)

    def epoch(self, number: int, leader: int, members: Iterable[int], secret: bytes) -> None:
        """An epoch secret as the recorder's client applied it."""
        if not self.closed:
            body = pack(EpochSecret(number, leader, tuple(sorted(members)), secret))
            self._append(EntryKind.EPOCH, body)

    def finish(self) -> None:
        """The END entry, signed; then the file is flushed to disk and closed."""
        if self.closed:
            return
        self._signed(EntryKind.END)
        self.closed = True
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def _append(self, kind: EntryKind, body: bytes) -> None:
        self._write(kind, body)
        self._since_checkpoint += 1
        now = self._clock()
        if (
            self._since_checkpoint >= limits.RECORDING_CHECKPOINT_ENTRIES
            or now - self._checkpoint_at >= limits.RECORDING_CHECKPOINT_SECONDS
        ):
            self._signed(EntryKind.CHECKPOINT)
            self._file.flush()  # what is signed is on its way to the disk

    def _signed(self, kind: EntryKind) -> None:
        index = self.entries
        signature = self._key.sign(signed_bytes(kind, self._previous, index))
        self._write(kind, pack(Signature(index, signature)))
        self._since_checkpoint = 0
        self._checkpoint_at = self._clock()

    def _write(self, kind: EntryKind, body: bytes) -> None:
        """One entry (format.encode_entry's bytes), written in three pieces: a frame of
        megabytes is hashed and written where it lies, never copied."""
        if len(body) > body_limit(kind):
            raise RecordingError(f"a {kind.name} body of {len(body)} bytes is above its limit")
        head = ENTRY_HEAD.pack(kind, int(self._clock() * 1000), len(body))
        digest = hashlib.sha256(self._previous)
        digest.update(head)
        digest.update(body)
        self._previous = digest.digest()
        self._file.write(head)
        self._file.write(body)
        self._file.write(self._previous)
        self.entries += 1
        self.bytes += len(head) + len(body) + len(self._previous)
