"""Typed messages carried in frame bodies (docs/protocol.md §3-§4).

Each message is a frozen dataclass whose body is a MessagePack array of its fields in
declaration order. Decoding is bounded (msgpack refuses oversized strings, binaries and
arrays before building them) and checks every field's type and range; any failure is a
``MessageError``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar, Protocol, Self, TypeVar

import msgpack

from relaydesk import limits
from relaydesk.errors import MessageError
from relaydesk.protocol.frames import MAX_MEMBER_ID, FrameType, max_body

U32 = 0xFFFFFFFF
U64 = 0xFFFFFFFFFFFFFFFF
_E = TypeVar("_E", bound=IntEnum)
_T = TypeVar("_T")


class Fields:
    """Reads one message's field array, checking each field as it is taken."""

    def __init__(self, items: object, what: str) -> None:
        if not isinstance(items, list):
            raise MessageError(f"{what}: expected an array of fields")
        self._items: list[object] = items
        self._index = 0
        self._what = what

    def _take(self) -> object:
        if self._index >= len(self._items):
            raise MessageError(f"{self._what}: missing field {self._index}")
        item = self._items[self._index]
        self._index += 1
        return item

    def _fail(self, expected: str) -> MessageError:
        return MessageError(f"{self._what}: field {self._index - 1} must be {expected}")

    def integer(self, low: int = 0, high: int = U32) -> int:
        value = self._take()
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self._fail(f"an integer in [{low}, {high}]")
        return value

    def member(self, allow_none: bool = False) -> int:
        """A member id (1..MAX_MEMBER_ID); 0 means "nobody" where ``allow_none``."""
        return self.integer(0 if allow_none else 1, MAX_MEMBER_ID)

    def boolean(self) -> bool:
        value = self._take()
        if not isinstance(value, bool):
            raise self._fail("true or false")
        return value

    def text(self, max_chars: int, min_chars: int = 0) -> str:
        value = self._take()
        if not isinstance(value, str) or not min_chars <= len(value) <= max_chars:
            raise self._fail(f"text of {min_chars} to {max_chars} characters")
        return value

    def binary(self, max_len: int, exact: int | None = None) -> bytes:
        value = self._take()
        if not isinstance(value, bytes) or len(value) > max_len:
            raise self._fail(f"binary of at most {max_len} bytes")
        if exact is not None and len(value) != exact:
            raise self._fail(f"binary of exactly {exact} bytes")
        return value

    def enum(self, enum_type: type[_E]) -> _E:
        value = self.integer(0, U64)
        try:
            return enum_type(value)
        except ValueError:
            raise self._fail(f"a {enum_type.__name__} value") from None

    def array(self, max_items: int, parse: Callable[[Fields], _T]) -> tuple[_T, ...]:
        value = self._take()
        if not isinstance(value, list) or len(value) > max_items:
            raise self._fail(f"an array of at most {max_items} items")
        items = []
        for item in value:
            fields = Fields(item, self._what)
            items.append(parse(fields))
            fields.done()
        return tuple(items)

    def member_array(self, max_items: int) -> tuple[int, ...]:
        value = self._take()
        if not isinstance(value, list) or len(value) > max_items:
            raise self._fail(f"an array of at most {max_items} member ids")
        items = Fields(value, self._what)
        return tuple(items.member() for _ in value)

    def done(self) -> None:
        if self._index != len(self._items):
            raise MessageError(f"{self._what}: {len(self._items) - self._index} unexpected fields")


class Message(Protocol):
    TYPE: ClassVar[FrameType]

    def to_fields(self) -> list[Any]: ...

    @classmethod
    def from_fields(cls, fields: Fields) -> Self: ...


# Shared enumerations ----------------------------------------------------------------


class Role(IntEnum):
    """A member's role; presenting and control are positions, not roles (§5)."""

    HOST = 1
    PARTICIPANT = 2


class ConsentKind(IntEnum):
    PRESENT = 1  # the person is asked to show their screen
    CONTROL = 2  # the presenter is asked to hand over mouse and keyboard


class ConsentResult(IntEnum):
    GRANTED = 1
    DENIED = 2
    TIMED_OUT = 3
    CANCELLED = 4  # the request became moot: someone left, the presenter changed, ...


class LeaveReason(IntEnum):
    LEFT = 1
    EXPELLED = 2
    DISCONNECTED = 3


class EndReason(IntEnum):
    ENDED_BY_HOST = 1
    ENDED_BY_PRESENTER = 2
    TWO_PARTY_LEFT = 3
    SERVER_SHUTDOWN = 4


class RevokeReason(IntEnum):
    BY_PRESENTER = 1  # the presenter's hotkey or UI
    RELINQUISHED = 2  # the holder gave it back
    PRESENTER_CHANGED = 3
    LEFT = 4
    BY_HOST = 5
    SESSION_ENDED = 6


class TileEncoding(IntEnum):
    """How a screen tile's pixels are carried (§4.1)."""

    RAW = 0  # BGRX, 4 bytes a pixel, rows top to bottom
    ZLIB = 1  # RAW compressed with zlib (RFC 1950)
    PNG = 2
    JPEG = 3
    COPY = 4  # copy a rectangle of the previous picture: data = src x, src y (u32 each)


class InputKind(IntEnum):
    POINTER_MOVE = 1
    BUTTON = 2
    WHEEL = 3
    KEY = 4
    TEXT = 5


class Modifier(IntEnum):
    SHIFT = 1
    CONTROL = 2
    ALT = 4
    META = 8


# Control messages (plain; the relay reads them) --------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    """First frame on a connection: the broker-signed ticket (§7.1)."""

    TYPE: ClassVar[FrameType] = FrameType.HELLO
    ticket: bytes

    def to_fields(self) -> list[Any]:
        return [self.ticket]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(fields.binary(limits.MAX_TICKET_BYTES))


@dataclass(frozen=True, slots=True)
class RosterEntry:
    member_id: int
    role: Role
    ticket: bytes  # broker-signed: every member checks every other member's keys

    def to_fields(self) -> list[Any]:
        return [self.member_id, self.role, self.ticket]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(fields.member(), fields.enum(Role), fields.binary(limits.MAX_TICKET_BYTES))


@dataclass(frozen=True, slots=True)
class Roster:
    """The whole session as the relay sees it; sent after Hello is accepted (§7.1)."""

    TYPE: ClassVar[FrameType] = FrameType.ROSTER
    you: int
    members: tuple[RosterEntry, ...]
    presenter: int  # 0: nobody presents
    control_holder: int  # 0: nobody
    locked: bool
    epoch: int  # the newest epoch the relay forwarded a commit for (0: none yet)

    def to_fields(self) -> list[Any]:
        members = [entry.to_fields() for entry in self.members]
        return [self.you, members, self.presenter, self.control_holder, self.locked, self.epoch]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(
            you=fields.member(),
            members=fields.array(limits.MAX_MEMBERS, RosterEntry.from_fields),
            presenter=fields.member(allow_none=True),
            control_holder=fields.member(allow_none=True),
            locked=fields.boolean(),
            epoch=fields.integer(0, U32),
        )


@dataclass(frozen=True, slots=True)
class MemberJoined:
    TYPE: ClassVar[FrameType] = FrameType.MEMBER_JOINED
    entry: RosterEntry

    def to_fields(self) -> list[Any]:
        return self.entry.to_fields()

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(RosterEntry.from_fields(fields))


@dataclass(frozen=True, slots=True)
class MemberLeft:
    TYPE: ClassVar[FrameType] = FrameType.MEMBER_LEFT
    member_id: int
    reason: LeaveReason

    def to_fields(self) -> list[Any]:
        return [self.member_id, self.reason]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(fields.member(), fields.enum(LeaveReason))


@dataclass(frozen=True, slots=True)
class RoleChange:
    """A host asks to change a member's role; the relay announces the change."""

    TYPE: ClassVar[FrameType] = FrameType.ROLE_CHANGE
    member_id: int
    role: Role

    def to_fields(self) -> list[Any]:
        return [self.member_id, self.role]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(fields.member(), fields.enum(Role))


@dataclass(frozen=True, slots=True)
class PresenterRequest:
    """Host or presenter asks ``member_id`` to present (a host naming itself takes over)."""

    TYPE: ClassVar[FrameType] = FrameType.PRESENTER_REQUEST
    member_id: int

    def to_fields(self) -> list[Any]:
        return [self.member_id]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(fields.member())


@dataclass(frozen=True, slots=True)
class ControlRequest:
    """A viewer asks the presenter for remote control."""

    TYPE: ClassVar[FrameType] = FrameType.CONTROL_REQUEST

    def to_fields(self) -> list[Any]:
        return []

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls()


@dataclass(frozen=True, slots=True)
class ConsentPrompt:
    """The relay asks the person concerned; their client must ask the human."""

    TYPE: ClassVar[FrameType] = FrameType.CONSENT_PROMPT
    kind: ConsentKind
    asked_by: int

    def to_fields(self) -> list[Any]:
        return [self.kind, self.asked_by]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(fields.enum(ConsentKind), fields.member())


@dataclass(frozen=True, slots=True)
class ConsentAnswer:
    TYPE: ClassVar[FrameType] = FrameType.CONSENT_ANSWER
    kind: ConsentKind
    granted: bool

    def to_fields(self) -> list[Any]:
        return [self.kind, self.granted]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(fields.enum(ConsentKind), fields.boolean())


@dataclass(frozen=True, slots=True)
class ConsentOutcome:
    """How a consent request ended; sent to the asker and the person asked."""

    TYPE: ClassVar[FrameType] = FrameType.CONSENT_OUTCOME
    kind: ConsentKind
    asked_by: int
    subject: int  # the member whose consent was asked
    result: ConsentResult

    def to_fields(self) -> list[Any]:
        return [self.kind, self.asked_by, self.subject, self.result]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(
            fields.enum(ConsentKind), fields.member(), fields.member(), fields.enum(ConsentResult)
        )


@dataclass(frozen=True, slots=True)
class Grant:
    """Announcement: ``member_id`` now presents (PRESENT) or holds control (CONTROL)."""

    TYPE: ClassVar[FrameType] = FrameType.GRANT
    kind: ConsentKind
    member_id: int

    def to_fields(self) -> list[Any]:
        return [self.kind, self.member_id]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(fields.enum(ConsentKind), fields.member())


@dataclass(frozen=True, slots=True)
class Revoke:
    """Request (stop presenting / revoke control) and the announcement that it happened."""

    TYPE: ClassVar[FrameType] = FrameType.REVOKE
    kind: ConsentKind
    member_id: int
    reason: RevokeReason

    def to_fields(self) -> list[Any]:
        return [self.kind, self.member_id, self.reason]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(fields.enum(ConsentKind), fields.member(), fields.enum(RevokeReason))


@dataclass(frozen=True, slots=True)
class Lock:
    TYPE: ClassVar[FrameType] = FrameType.LOCK
    locked: bool

    def to_fields(self) -> list[Any]:
        return [self.locked]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(fields.boolean())


@dataclass(frozen=True, slots=True)
class Expel:
    TYPE: ClassVar[FrameType] = FrameType.EXPEL
    member_id: int

    def to_fields(self) -> list[Any]:
        return [self.member_id]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(fields.member())


@dataclass(frozen=True, slots=True)
class End:
    TYPE: ClassVar[FrameType] = FrameType.END
    reason: EndReason

    def to_fields(self) -> list[Any]:
        return [self.reason]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(fields.enum(EndReason))


@dataclass(frozen=True, slots=True)
class SealedKey:
    """The epoch secret sealed to one member with HPKE (§6.2)."""

    member_id: int
    enc: bytes  # the HPKE encapsulated key (X25519 public key)
    ciphertext: bytes  # 32-byte secret + 16-byte tag

    def to_fields(self) -> list[Any]:
        return [self.member_id, self.enc, self.ciphertext]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(fields.member(), fields.binary(32, exact=32), fields.binary(48, exact=48))


@dataclass(frozen=True, slots=True)
class CommitContent:
    """What the key leader signs when it starts an epoch (§6.2)."""

    session_uid: bytes
    epoch: int
    leader: int
    members: tuple[int, ...]  # sorted member ids of the epoch's roster
    roster_hash: bytes
    sealed: tuple[SealedKey, ...]

    def to_fields(self) -> list[Any]:
        sealed = [key.to_fields() for key in self.sealed]
        return [
            self.session_uid,
            self.epoch,
            self.leader,
            list(self.members),
            self.roster_hash,
            sealed,
        ]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(
            session_uid=fields.binary(16, exact=16),
            epoch=fields.integer(1, U32),
            leader=fields.member(),
            members=fields.member_array(limits.MAX_MEMBERS),
            roster_hash=fields.binary(32, exact=32),
            sealed=fields.array(limits.MAX_MEMBERS, SealedKey.from_fields),
        )


@dataclass(frozen=True, slots=True)
class KeyCommit:
    """A new epoch: ``content`` is the encoded CommitContent exactly as signed."""

    TYPE: ClassVar[FrameType] = FrameType.KEY_COMMIT
    content: bytes
    signature: bytes

    def to_fields(self) -> list[Any]:
        return [self.content, self.signature]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(fields.binary(limits.MAX_CONTROL_BODY), fields.binary(64, exact=64))


@dataclass(frozen=True, slots=True)
class Error:
    """Why the relay refused a request or is about to close the connection."""

    TYPE: ClassVar[FrameType] = FrameType.ERROR
    code: int
    text: str

    def to_fields(self) -> list[Any]:
        return [self.code, self.text]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(fields.integer(0, 4999), fields.text(limits.MAX_ERROR_TEXT_CHARS))


@dataclass(frozen=True, slots=True)
class Ping:
    TYPE: ClassVar[FrameType] = FrameType.PING
    nonce: int

    def to_fields(self) -> list[Any]:
        return [self.nonce]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(fields.integer(0, U64))


@dataclass(frozen=True, slots=True)
class Pong:
    TYPE: ClassVar[FrameType] = FrameType.PONG
    nonce: int

    def to_fields(self) -> list[Any]:
        return [self.nonce]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(fields.integer(0, U64))


@dataclass(frozen=True, slots=True)
class Refresh:
    """A full picture is needed for ``member_id`` (a viewer that joined or fell behind).

    A viewer sends it to the relay (``member_id`` is then ignored: it is the sender); the
    relay sends it to the presenter, who answers with a KEYFRAME update to that member.
    """

    TYPE: ClassVar[FrameType] = FrameType.REFRESH
    member_id: int

    def to_fields(self) -> list[Any]:
        return [self.member_id]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(fields.member(allow_none=True))


# Content messages (sealed end to end; the relay sees only their type and size) -------


@dataclass(frozen=True, slots=True)
class Tile:
    x: int
    y: int
    width: int
    height: int
    encoding: TileEncoding
    data: bytes

    def to_fields(self) -> list[Any]:
        return [self.x, self.y, self.width, self.height, self.encoding, self.data]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        side = limits.MAX_SCREEN_SIDE
        return cls(
            fields.integer(0, side - 1),
            fields.integer(0, side - 1),
            fields.integer(1, side),
            fields.integer(1, side),
            fields.enum(TileEncoding),
            fields.binary(limits.MAX_FRAME_BODY),
        )


@dataclass(frozen=True, slots=True)
class ScreenUpdate:
    """Changed rectangles of the presenter's picture; ``full`` when it repaints all (§4.1)."""

    TYPE: ClassVar[FrameType] = FrameType.SCREEN_UPDATE
    width: int
    height: int
    full: bool
    tiles: tuple[Tile, ...]

    def to_fields(self) -> list[Any]:
        return [self.width, self.height, self.full, [tile.to_fields() for tile in self.tiles]]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        side = limits.MAX_SCREEN_SIDE
        return cls(
            fields.integer(1, side),
            fields.integer(1, side),
            fields.boolean(),
            fields.array(limits.MAX_TILES_PER_UPDATE, Tile.from_fields),
        )


@dataclass(frozen=True, slots=True)
class Cursor:
    TYPE: ClassVar[FrameType] = FrameType.CURSOR
    x: int
    y: int
    visible: bool

    def to_fields(self) -> list[Any]:
        return [self.x, self.y, self.visible]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        side = limits.MAX_SCREEN_SIDE
        return cls(fields.integer(0, side), fields.integer(0, side), fields.boolean())


@dataclass(frozen=True, slots=True)
class InputEvent:
    """One mouse or keyboard action of the controller, in presenter-screen pixels (§4.2).

    Fields a kind does not use are zero or empty.
    """

    TYPE: ClassVar[FrameType] = FrameType.INPUT_EVENT
    kind: InputKind
    x: int = 0
    y: int = 0
    button: int = 0  # 1 left, 2 middle, 3 right
    pressed: bool = False
    dx: int = 0  # wheel steps, positive right / down
    dy: int = 0
    keysym: int = 0  # X11 keysym
    modifiers: int = 0  # Modifier bits
    text: str = ""

    def to_fields(self) -> list[Any]:
        return [
            self.kind,
            self.x,
            self.y,
            self.button,
            self.pressed,
            self.dx,
            self.dy,
            self.keysym,
            self.modifiers,
            self.text,
        ]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        side = limits.MAX_SCREEN_SIDE
        return cls(
            kind=fields.enum(InputKind),
            x=fields.integer(0, side),
            y=fields.integer(0, side),
            button=fields.integer(0, 32),
            pressed=fields.boolean(),
            dx=fields.integer(-limits.MAX_WHEEL_STEPS, limits.MAX_WHEEL_STEPS),
            dy=fields.integer(-limits.MAX_WHEEL_STEPS, limits.MAX_WHEEL_STEPS),
            keysym=fields.integer(0, 0x1FFFFFFF),
            modifiers=fields.integer(0, 15),
            text=fields.text(limits.MAX_TYPED_TEXT_CHARS),
        )


@dataclass(frozen=True, slots=True)
class Chat:
    """A chat line; the frame's target says whether it is private (§4.3)."""

    TYPE: ClassVar[FrameType] = FrameType.CHAT
    text: str

    def to_fields(self) -> list[Any]:
        return [self.text]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(fields.text(limits.MAX_CHAT_CHARS, min_chars=1))


@dataclass(frozen=True, slots=True)
class Point:
    x: int
    y: int

    def to_fields(self) -> list[Any]:
        return [self.x, self.y]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        side = limits.MAX_SCREEN_SIDE
        return cls(fields.integer(0, side), fields.integer(0, side))


@dataclass(frozen=True, slots=True)
class Annotation:
    """A stroke drawn over the shared screen; ``clear`` wipes the sender's strokes."""

    TYPE: ClassVar[FrameType] = FrameType.ANNOTATION
    stroke_id: int
    color: int  # 0xRRGGBB
    width: int
    points: tuple[Point, ...]
    clear: bool = False

    def to_fields(self) -> list[Any]:
        points = [point.to_fields() for point in self.points]
        return [self.stroke_id, self.color, self.width, points, self.clear]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(
            stroke_id=fields.integer(0, U32),
            color=fields.integer(0, 0xFFFFFF),
            width=fields.integer(1, 64),
            points=fields.array(limits.MAX_ANNOTATION_POINTS, Point.from_fields),
            clear=fields.boolean(),
        )


@dataclass(frozen=True, slots=True)
class FileChunk:
    """Part of a file; the first chunk names it, the last carries its SHA-256 (§4.5)."""

    TYPE: ClassVar[FrameType] = FrameType.FILE_CHUNK
    transfer_id: int
    offset: int
    data: bytes
    name: str = ""  # only in the chunk at offset 0
    size: int = 0  # only in the chunk at offset 0
    sha256: bytes = b""  # only in the last chunk

    def to_fields(self) -> list[Any]:
        return [self.transfer_id, self.offset, self.data, self.name, self.size, self.sha256]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        chunk = cls(
            transfer_id=fields.integer(0, U32),
            offset=fields.integer(0, U64),
            data=fields.binary(limits.MAX_FILE_CHUNK),
            name=fields.text(limits.MAX_FILE_NAME_CHARS),
            size=fields.integer(0, U64),
            sha256=fields.binary(32),
        )
        if len(chunk.sha256) not in (0, 32):
            raise MessageError("FILE_CHUNK: sha256 is empty or 32 bytes")
        return chunk


ControlMessage = (
    Hello
    | Roster
    | MemberJoined
    | MemberLeft
    | RoleChange
    | PresenterRequest
    | ControlRequest
    | ConsentPrompt
    | ConsentAnswer
    | ConsentOutcome
    | Grant
    | Revoke
    | Lock
    | Expel
    | End
    | KeyCommit
    | Error
    | Ping
    | Pong
    | Refresh
)
ContentMessage = ScreenUpdate | Cursor | InputEvent | Chat | Annotation | FileChunk
AnyMessage = ControlMessage | ContentMessage

MESSAGE_CLASSES: dict[FrameType, type[AnyMessage]] = {
    cls.TYPE: cls
    for cls in (
        Hello, Roster, MemberJoined, MemberLeft, RoleChange, PresenterRequest, ControlRequest,
        ConsentPrompt, ConsentAnswer, ConsentOutcome, Grant, Revoke, Lock, Expel, End,
        KeyCommit, Error, Ping, Pong, Refresh,
        ScreenUpdate, Cursor, InputEvent, Chat, Annotation, FileChunk,
    )
}  # fmt: skip


def pack(fields: list[Any]) -> bytes:
    """MessagePack-encode a field array (binary as bin, text as str)."""
    packed: bytes = msgpack.packb(fields, use_bin_type=True)
    return packed


def unpack(data: bytes, max_len: int, what: str) -> Fields:
    """Bounded MessagePack decode of a field array: no maps, no extension types."""
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            max_str_len=max_len,
            max_bin_len=max_len,
            max_array_len=limits.MAX_MEMBERS * 8,
            max_map_len=0,
            max_ext_len=0,
        )
    except Exception as error:  # msgpack raises many types; all mean "not our encoding"
        raise MessageError(f"{what}: not a valid encoding ({type(error).__name__})") from None
    return Fields(value, what)


def encode(message: AnyMessage) -> bytes:
    return pack(message.to_fields())


def decode(frame_type: FrameType, body: bytes) -> AnyMessage:
    """Decode a (plaintext) body of ``frame_type``; raises only MessageError."""
    cls = MESSAGE_CLASSES[frame_type]
    fields = unpack(body, max_body(frame_type), frame_type.name)
    message = cls.from_fields(fields)
    fields.done()
    return message
