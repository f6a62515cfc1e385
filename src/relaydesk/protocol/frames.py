"""Frames: a fixed plaintext routing header and a body (docs/protocol.md §2).

The header is all the relay may read. Content bodies are sealed (``protocol.e2e``);
control bodies are plain message encodings the relay interprets.
"""

from __future__ import annotations

import struct
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import NamedTuple

from relaydesk import limits
from relaydesk.errors import FrameError, FrameTooLarge

VERSION = 1
SESSION_UID_SIZE = 16

# Member ids are assigned by the broker from 1 upwards; two values are reserved.
RELAY = 0  # sender of the relay's own messages; target of requests to the relay
EVERYONE = 0xFFFFFFFF  # target of a broadcast
MAX_MEMBER_ID = 0xFFFFFFFE

_HEADER = struct.Struct(">BBH16sIIIQI")
HEADER_SIZE = _HEADER.size  # 44


class FrameType(IntEnum):
    """What a frame carries. 0x01-0x3F control (plain), 0x40-0x7F content (sealed)."""

    HELLO = 0x01
    ROSTER = 0x02
    MEMBER_JOINED = 0x03
    MEMBER_LEFT = 0x04
    ROLE_CHANGE = 0x05
    PRESENTER_REQUEST = 0x06
    CONTROL_REQUEST = 0x07
    CONSENT_PROMPT = 0x08
    CONSENT_ANSWER = 0x09
    CONSENT_OUTCOME = 0x0A
    GRANT = 0x0B
    REVOKE = 0x0C
    LOCK = 0x0D
    EXPEL = 0x0E
    END = 0x0F
    KEY_COMMIT = 0x10
    ERROR = 0x11
    PING = 0x12
    PONG = 0x13
    REFRESH = 0x14
    ADMIT = 0x15
    WAITING = 0x16
    PERMISSIONS = 0x17
    RECORDING = 0x18
    VIDEO_LAYERS = 0x19
    CHALLENGE = 0x1F  # relay -> member, the first frame of a link (§3.25)

    SCREEN_UPDATE = 0x40
    CURSOR = 0x41
    SHARE_STATE = 0x42
    VIDEO_FRAME = 0x43
    INPUT_EVENT = 0x48
    CHAT = 0x50
    NOTES = 0x51
    ANNOTATION = 0x58
    FILE_CHUNK = 0x60
    FILE_OFFER = 0x61
    FILE_ANSWER = 0x62
    FILE_END = 0x63

    @property
    def is_content(self) -> bool:
        return self >= 0x40

    @property
    def channel(self) -> Channel:
        """The key channel of a content type (docs/protocol.md §6.3)."""
        try:
            return _CHANNELS[self]
        except KeyError:
            raise ValueError(f"{self.name} is a control type and has no channel") from None


class Channel(IntEnum):
    """Each sender has one content key and one sequence counter per channel and epoch."""

    SCREEN = 1
    INPUT = 2
    CHAT = 3
    ANNOTATION = 4
    FILE = 5


_CHANNELS = {
    FrameType.SCREEN_UPDATE: Channel.SCREEN,
    FrameType.CURSOR: Channel.SCREEN,
    FrameType.SHARE_STATE: Channel.SCREEN,
    FrameType.VIDEO_FRAME: Channel.SCREEN,
    FrameType.INPUT_EVENT: Channel.INPUT,
    FrameType.CHAT: Channel.CHAT,
    FrameType.NOTES: Channel.CHAT,
    FrameType.ANNOTATION: Channel.ANNOTATION,
    FrameType.FILE_CHUNK: Channel.FILE,
    FrameType.FILE_OFFER: Channel.FILE,
    FrameType.FILE_ANSWER: Channel.FILE,
    FrameType.FILE_END: Channel.FILE,
}


class Flags(IntFlag):
    """Plaintext hints for the relay's queues; they change nothing else."""

    NONE = 0
    KEYFRAME = 0x0001  # a whole picture: everything queued before it of this type is moot
    SUPERSEDABLE = 0x0002  # a newer frame of the same type from the same sender replaces it
    # No frame of the sender's stream depends on this one but later DISCARDABLE ones: the
    # relay may drop it, and then those, for a receiver that is behind (§5.4).
    DISCARDABLE = 0x0004


KNOWN_FLAGS = Flags.KEYFRAME | Flags.SUPERSEDABLE | Flags.DISCARDABLE


class Header(NamedTuple):
    """A frame's routing header (§2.1). A named tuple, not a dataclass: the relay makes
    one for every frame it reads, and a tuple is made several times faster."""

    type: FrameType
    session_uid: bytes
    epoch: int
    sender: int
    target: int
    sequence: int
    flags: Flags = Flags.NONE

    def pack(self, body_length: int) -> bytes:
        return _HEADER.pack(
            VERSION,
            self.type,
            self.flags,
            self.session_uid,
            self.epoch,
            self.sender,
            self.target,
            self.sequence,
            body_length,
        )


@dataclass(frozen=True, slots=True)
class Frame:
    header: Header
    body: bytes

    def serialize(self) -> bytes:
        return self.header.pack(len(self.body)) + self.body

    @classmethod
    def parse(cls, data: bytes) -> Frame:
        """Parse exactly one frame (a WebSocket message)."""
        header, length = parse_header(data[:HEADER_SIZE])
        if len(data) != HEADER_SIZE + length:
            raise FrameError(
                f"frame announces {length} body bytes but carries {len(data) - HEADER_SIZE}"
            )
        return cls(header, bytes(data[HEADER_SIZE:]))


def max_body(frame_type: FrameType) -> int:
    return limits.MAX_FRAME_BODY if frame_type.is_content else limits.MAX_CONTROL_BODY


# Every header the relay reads goes through parse_header: the enum members it yields are
# looked up in dicts made once (calling an enum class costs several times more), and the
# tuple is made without the named tuple's Python-level __new__ (half the cost).
_new_header = tuple.__new__
_TYPES = {int(frame_type): frame_type for frame_type in FrameType}
_FLAGS = {bits: Flags(bits) for bits in range(int(KNOWN_FLAGS) + 1) if not bits & ~int(KNOWN_FLAGS)}
_MAX_BODY = {frame_type: max_body(frame_type) for frame_type in FrameType}


def parse_header(data: bytes) -> tuple[Header, int]:
    """Parse a 44-byte header; return it and the body length it announces."""
    if len(data) != HEADER_SIZE:
        raise FrameError(f"a frame header is {HEADER_SIZE} bytes, got {len(data)}")
    version, type_, flags, uid, epoch, sender, target, sequence, length = _HEADER.unpack(data)
    if version != VERSION:
        raise FrameError(f"unsupported protocol version {version} (this side speaks {VERSION})")
    frame_type = _TYPES.get(type_)
    if frame_type is None:
        raise FrameError(f"unknown frame type 0x{type_:02x}")
    known = _FLAGS.get(flags)
    if known is None:
        raise FrameError(f"unknown flags 0x{flags:04x}")
    if length > _MAX_BODY[frame_type]:
        raise FrameTooLarge(f"{frame_type.name} body of {length} bytes exceeds the limit")
    fields = (frame_type, uid, epoch, sender, target, sequence, known)
    return _new_header(Header, fields), length


# Incremental decoding for the direct TLS transport: frames back to back on a byte stream.
# The parser is a generator that asks for exact byte counts, as in websockets' streams.

_Parser = Generator[int, None, Frame]


def _parse_frame(buffer: bytearray) -> _Parser:
    # Suspend once even if a whole frame is already buffered: the decoder primes each new
    # parser with next(), which must not finish a frame (StopIteration would escape).
    yield HEADER_SIZE
    while len(buffer) < HEADER_SIZE:
        yield HEADER_SIZE
    header, length = parse_header(bytes(buffer[:HEADER_SIZE]))
    while len(buffer) < HEADER_SIZE + length:
        yield HEADER_SIZE + length
    body = bytes(buffer[HEADER_SIZE : HEADER_SIZE + length])
    del buffer[: HEADER_SIZE + length]
    return Frame(header, body)


class StreamDecoder:
    """Turns a byte stream into frames, whatever the split points.

    ``receive_data`` buffers at most one header plus one body (a limit checked when the
    header is read). After an error the decoder is broken and refuses more data: the
    connection must be closed with the error's close code.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._parser: _Parser = _parse_frame(self._buffer)
        self._wanted = next(self._parser)
        self._frames: list[Frame] = []
        self._error: FrameError | None = None

    def receive_data(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._buffer += data
        try:
            while len(self._buffer) >= self._wanted:
                try:
                    self._wanted = self._parser.send(None)
                except StopIteration as done:
                    self._frames.append(done.value)
                    self._parser = _parse_frame(self._buffer)
                    self._wanted = next(self._parser)
        except FrameError as error:
            self._error = error
            self._buffer.clear()
            raise

    def frames_received(self) -> Iterator[Frame]:
        frames, self._frames = self._frames, []
        return iter(frames)

    @property
    def buffered(self) -> int:
        return len(self._buffer)
