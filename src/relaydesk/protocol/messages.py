"""Typed messages carried in frame bodies (docs/protocol.md §3-§4).

Each wire record (a message, or a part of one: a roster entry, a tile, a sealed key, a
ticket...) is declared once, as a frozen ``msgspec.Struct`` whose fields carry their
bounds (``Annotated[..., Meta(...)]``). Its body is a MessagePack array of its fields in
declaration order (``array_like``), and both directions are derived from that one
declaration: ``encode`` writes it, ``decode`` reads it with a decoder made for the type.

Decoding is strict and bounded: every field's type and range is checked while the value
is built (a bool is never an integer and an integer never a bool, an enumeration value
outside its enum is refused, an array announcing more items than its bound is refused
before they are read), an array of fields with one too many or one too few is refused
(defaults are for callers, never for the wire), and any failure is a ``MessageError``.
"""

from __future__ import annotations

import re
from enum import IntEnum
from typing import Annotated, Any, ClassVar, Protocol, TypeVar, dataclass_transform

import msgspec
from msgspec import Meta

from relaydesk import limits
from relaydesk.errors import MessageError
from relaydesk.protocol.frames import MAX_MEMBER_ID, FrameType

U32 = 0xFFFFFFFF
U64 = 0xFFFFFFFFFFFFFFFF
SIDE = limits.MAX_SCREEN_SIDE

# Field types: each names its wire type and its bounds --------------------------------

Member = Annotated[int, Meta(ge=1, le=MAX_MEMBER_ID)]
"""A member id (1..MAX_MEMBER_ID)."""
MemberOrNone = Annotated[int, Meta(ge=0, le=MAX_MEMBER_ID)]
"""A member id, or 0 for "nobody"."""
UInt32 = Annotated[int, Meta(ge=0, le=U32)]
UInt64 = Annotated[int, Meta(ge=0)]  # MessagePack integers end at 2^64 - 1
Coordinate = Annotated[int, Meta(ge=0, le=SIDE)]
"""A position on a screen, edges included."""
Extent = Annotated[int, Meta(ge=1, le=SIDE)]
"""A width or a height."""
TicketBlob = Annotated[bytes, Meta(max_length=limits.MAX_TICKET_BYTES)]
Bytes16 = Annotated[bytes, Meta(min_length=16, max_length=16)]
Bytes32 = Annotated[bytes, Meta(min_length=32, max_length=32)]
Bytes48 = Annotated[bytes, Meta(min_length=48, max_length=48)]
Enc = Annotated[bytes, Meta(min_length=1120, max_length=1120)]
"""A hybrid KEM's encapsulation: ML-KEM-768 ciphertext || X25519 ephemeral (§6.2)."""
AgreementPublic = Annotated[bytes, Meta(min_length=1216, max_length=1216)]
"""A hybrid public key: ML-KEM-768 encapsulation key || X25519 public key (§6.2)."""
Bytes64 = Annotated[bytes, Meta(min_length=64, max_length=64)]
WheelSteps = Annotated[int, Meta(ge=-limits.MAX_WHEEL_STEPS, le=limits.MAX_WHEEL_STEPS)]


# Every record is frozen: say so to type checkers too (they read each subclass's own
# class arguments otherwise, and would take the records for mutable).
@dataclass_transform(frozen_default=True, field_specifiers=(msgspec.field,))
class Record(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """A wire record: on the wire, the MessagePack array of its fields in order."""

    def to_fields(self) -> list[Any]:
        """The field array as any MessagePack reader without a schema sees it (nested
        records as arrays, enumerations as integers)."""
        fields: list[Any] = msgspec.msgpack.decode(pack(_wire_value(self)))
        return fields


class Message(Protocol):
    TYPE: ClassVar[FrameType]


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


class WaitReason(IntEnum):
    """Why a member waits in the lobby (§3.21)."""

    APPROVAL = 1  # a host admits each joiner
    HOST_ABSENT = 2  # join before host is off and no host is in yet


class ChatRule(IntEnum):
    """Who may chat with whom: the presenter (or a host) decides (§5.5). Presenters and
    hosts may always chat, with everyone or privately."""

    EVERYONE = 1  # anyone with anyone, with everyone or privately
    PRESENTER = 2  # attendees only privately, with the presenter or a host
    NOBODY = 3  # attendees not at all


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
    SITE_POLICY = 7  # the member's fresh ticket forbids it (§7.2: NO_SHARING, NO_CONTROL)


class TileEncoding(IntEnum):
    """How a screen tile's pixels are carried (§4.1)."""

    RAW = 0  # BGRX, 4 bytes a pixel, rows top to bottom
    ZLIB = 1  # RAW compressed with zlib (RFC 1950)
    PNG = 2
    JPEG = 3
    COPY = 4  # copy a rectangle of the previous picture: data = src x, src y (u32 each)
    FILL = 5  # one colour for the whole tile: data = blue, green, red (3 bytes)
    ZLIB_GREY = 6  # grey pixels, one byte each (blue = green = red), compressed with zlib


class ShareMode(IntEnum):
    """What the presenter lets viewers see (§4.1, SHARE_STATE)."""

    LIVE = 1  # the screen, as it changes
    PAUSED = 2  # frozen: viewers keep the last picture; nothing is sent
    HIDDEN = 3  # hidden: viewers show a neutral card; nothing is sent


class FileEndReason(IntEnum):
    """How a file transfer ended (§4.5, FILE_END)."""

    COMPLETE = 1  # the receiver checked the SHA-256 and kept the file
    CANCELLED = 2  # either side gave up
    INTEGRITY_FAILED = 3  # the bytes do not hash to the offered SHA-256: nothing kept
    FAILED = 4  # the receiver could not take it (out of order, disk full, ...)


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


class AnnotationKind(IntEnum):
    """How a stroke is drawn (§4.4)."""

    PEN = 1  # the polyline, opaque
    ARROW = 2  # a line from the first point to the last, with a head at the last
    HIGHLIGHT = 3  # the polyline, wide and translucent


# Control messages (plain; the relay reads them) --------------------------------------


RelayName = Annotated[
    str,
    Meta(min_length=1, max_length=limits.MAX_RELAY_NAME_CHARS, pattern="^[a-z0-9-]+$"),
]


class Challenge(Record):
    """The relay's first frame on a new link: HELLO must sign ``nonce`` (§3.25, §7.1)."""

    TYPE: ClassVar[FrameType] = FrameType.CHALLENGE
    nonce: Bytes32  # fresh random bytes, one per link
    relay: RelayName  # the relay's own name: what the member expects is what it signs


class Hello(Record):
    """First frame from a member: the broker-signed ticket and the proof that the sender
    holds its signing key, over the relay's challenge (§7.1)."""

    TYPE: ClassVar[FrameType] = FrameType.HELLO
    ticket: TicketBlob
    proof: Bytes64  # Ed25519 by the ticket's ed25519 key over tickets.hello_message


class RosterEntry(Record):
    member_id: Member
    role: Role
    ticket: TicketBlob  # broker-signed: every member checks every other member's keys


class Roster(Record):
    """The whole session as the relay sees it; sent after Hello is accepted (§7.1)."""

    TYPE: ClassVar[FrameType] = FrameType.ROSTER
    you: Member
    members: Annotated[tuple[RosterEntry, ...], Meta(max_length=limits.MAX_MEMBERS)]
    presenter: MemberOrNone  # 0: nobody presents
    control_holder: MemberOrNone  # 0: nobody
    locked: bool
    epoch: UInt32  # the newest epoch the relay forwarded a commit for (0: none yet)
    # Members waiting for admission (§3.21); the default keeps callers short, the wire
    # always carries the field.
    lobby: Annotated[tuple[RosterEntry, ...], Meta(max_length=limits.MAX_MEMBERS)] = ()
    recording: MemberOrNone = 0  # the host recording the session (§3.23); 0: nobody


class MemberJoined(Record):
    """On the wire, the three fields of ``entry`` directly, not nested (§3.3)."""

    TYPE: ClassVar[FrameType] = FrameType.MEMBER_JOINED
    entry: RosterEntry


class MemberLeft(Record):
    TYPE: ClassVar[FrameType] = FrameType.MEMBER_LEFT
    member_id: Member
    reason: LeaveReason


class RoleChange(Record):
    """A host asks to change a member's role; the relay announces the change."""

    TYPE: ClassVar[FrameType] = FrameType.ROLE_CHANGE
    member_id: Member
    role: Role


class PresenterRequest(Record):
    """Host or presenter asks ``member_id`` to present (a host naming itself takes over)."""

    TYPE: ClassVar[FrameType] = FrameType.PRESENTER_REQUEST
    member_id: Member


class ControlRequest(Record):
    """A viewer asks the presenter for remote control."""

    TYPE: ClassVar[FrameType] = FrameType.CONTROL_REQUEST


class ConsentPrompt(Record):
    """The relay asks the person concerned; their client must ask the human."""

    TYPE: ClassVar[FrameType] = FrameType.CONSENT_PROMPT
    kind: ConsentKind
    asked_by: Member


class ConsentAnswer(Record):
    TYPE: ClassVar[FrameType] = FrameType.CONSENT_ANSWER
    kind: ConsentKind
    granted: bool


class ConsentOutcome(Record):
    """How a consent request ended; sent to the asker and the person asked."""

    TYPE: ClassVar[FrameType] = FrameType.CONSENT_OUTCOME
    kind: ConsentKind
    asked_by: Member
    subject: Member  # the member whose consent was asked
    result: ConsentResult


class Grant(Record):
    """Announcement: ``member_id`` now presents (PRESENT) or holds control (CONTROL)."""

    TYPE: ClassVar[FrameType] = FrameType.GRANT
    kind: ConsentKind
    member_id: Member


class Revoke(Record):
    """Request (stop presenting / revoke control) and the announcement that it happened."""

    TYPE: ClassVar[FrameType] = FrameType.REVOKE
    kind: ConsentKind
    member_id: Member
    reason: RevokeReason


class Lock(Record):
    TYPE: ClassVar[FrameType] = FrameType.LOCK
    locked: bool


class Expel(Record):
    TYPE: ClassVar[FrameType] = FrameType.EXPEL
    member_id: Member


class End(Record):
    TYPE: ClassVar[FrameType] = FrameType.END
    reason: EndReason


class SealedKey(Record):
    """The epoch secret sealed to one member with HPKE (§6.2)."""

    member_id: Member
    enc: Enc  # the hybrid KEM encapsulation: ML-KEM-768 ciphertext || X25519 ephemeral
    ciphertext: Bytes48  # 32-byte secret + 16-byte tag


class CommitContent(Record):
    """What the key leader signs when it starts an epoch (§6.2)."""

    session_uid: Bytes16
    epoch: Annotated[int, Meta(ge=1, le=U32)]
    leader: Member
    # sorted member ids of the epoch's roster
    members: Annotated[tuple[Member, ...], Meta(max_length=limits.MAX_MEMBERS)]
    roster_hash: Bytes32
    sealed: Annotated[tuple[SealedKey, ...], Meta(max_length=limits.MAX_MEMBERS)]


class KeyCommit(Record):
    """A new epoch: ``content`` is the encoded CommitContent exactly as signed."""

    TYPE: ClassVar[FrameType] = FrameType.KEY_COMMIT
    content: Annotated[bytes, Meta(max_length=limits.MAX_CONTROL_BODY)]
    signature: Bytes64


class Error(Record):
    """Why the relay refused a request or is about to close the connection."""

    TYPE: ClassVar[FrameType] = FrameType.ERROR
    code: Annotated[int, Meta(ge=0, le=4999)]
    text: Annotated[str, Meta(max_length=limits.MAX_ERROR_TEXT_CHARS)]


class Ping(Record):
    TYPE: ClassVar[FrameType] = FrameType.PING
    nonce: UInt64


class Pong(Record):
    TYPE: ClassVar[FrameType] = FrameType.PONG
    nonce: UInt64


class Refresh(Record):
    """A full picture is needed for ``member_id`` (a viewer that joined or fell behind).

    A viewer sends it to the relay (``member_id`` is then ignored: it is the sender); the
    relay sends it to the presenter, who answers with a KEYFRAME update to that member.
    """

    TYPE: ClassVar[FrameType] = FrameType.REFRESH
    member_id: MemberOrNone


class Admit(Record):
    """A host lets a member waiting in the lobby in (or refuses it); the relay announces
    the decision to every admitted member (§3.20)."""

    TYPE: ClassVar[FrameType] = FrameType.ADMIT
    member_id: Member
    admitted: bool


class Permissions(Record):
    """What attendees may do, as the presenter or a host sets it; the relay announces it
    to everyone and to each newcomer (§3.22). The relay enforces ``chat`` and
    ``annotators`` by routing (and receivers check again); ``may_save`` and
    ``may_record`` bind honest clients only."""

    TYPE: ClassVar[FrameType] = FrameType.PERMISSIONS
    chat: ChatRule
    annotators: Annotated[tuple[Member, ...], Meta(max_length=limits.MAX_MEMBERS)]
    may_save: bool  # save or print a snapshot of the shared screen
    may_record: bool


DEFAULT_PERMISSIONS = Permissions(ChatRule.EVERYONE, (), may_save=True, may_record=False)


class Recording(Record):
    """A host starts (``active``) or stops recording on its own client; the relay
    announces it to everyone, the lobby too, and keeps it in the ROSTER (§3.23). Only a
    host records itself, and only while a presenter who is no host allows it."""

    TYPE: ClassVar[FrameType] = FrameType.RECORDING
    member_id: Member  # who records (a request names the sender itself)
    active: bool


class VideoLayers(Record):
    """A viewer asks the relay for the first ``layers`` layers of video only: 1 when its
    frames come late, to catch up at half the frame rate; 2 again once they come on
    time (§4.1, §5.4)."""

    TYPE: ClassVar[FrameType] = FrameType.VIDEO_LAYERS
    layers: Annotated[int, Meta(ge=1, le=limits.VIDEO_LAYERS)]


class Waiting(Record):
    """Someone waits in the lobby: to the admitted members, and to the waiting member
    itself (then ``entry`` is its own). Encoded as [[member_id, role, ticket], reason]."""

    TYPE: ClassVar[FrameType] = FrameType.WAITING
    entry: RosterEntry
    reason: WaitReason


# Content messages (sealed end to end; the relay sees only their type and size) -------


class Tile(Record):
    x: Annotated[int, Meta(ge=0, le=SIDE - 1)]
    y: Annotated[int, Meta(ge=0, le=SIDE - 1)]
    width: Extent
    height: Extent
    encoding: TileEncoding
    data: Annotated[bytes, Meta(max_length=limits.MAX_FRAME_BODY)]


class ScreenUpdate(Record):
    """Changed rectangles of the presenter's picture; ``full`` when it repaints all (§4.1)."""

    TYPE: ClassVar[FrameType] = FrameType.SCREEN_UPDATE
    width: Extent
    height: Extent
    full: bool
    tiles: Annotated[tuple[Tile, ...], Meta(max_length=limits.MAX_TILES_PER_UPDATE)]


class VideoFrame(Record):
    """One H.264 access unit of a video-like region of the presenter's picture (§4.1).

    Frame ``number`` of a ``stream`` belongs to layer ``number % VIDEO_LAYERS``; each layer
    is an H.264 stream of its own, whose frames predict only from that layer's previous
    frame (``number - VIDEO_LAYERS``). Layer 1 is sent DISCARDABLE: a viewer given only
    layer 0 sees half the frame rate, never a broken picture."""

    TYPE: ClassVar[FrameType] = FrameType.VIDEO_FRAME
    stream: UInt32  # one encoder run: a new region or size starts a new stream
    number: UInt32  # 0, 1, 2, ... in the order frames are shown
    # The presenter's clock when it sent the frame, in ms (any origin, modulo 2^32):
    # viewers compare frames' delays with each other, never with their own clock.
    sent_at: UInt32
    keyframe: bool  # an IDR access unit with its SPS and PPS: the layer can start here
    x: Annotated[int, Meta(ge=0, le=SIDE - 2)]
    y: Annotated[int, Meta(ge=0, le=SIDE - 2)]
    width: Annotated[int, Meta(ge=2, le=SIDE, multiple_of=2)]  # 4:2:0: even sides
    height: Annotated[int, Meta(ge=2, le=SIDE, multiple_of=2)]
    data: Annotated[bytes, Meta(min_length=1, max_length=limits.MAX_FRAME_BODY)]


class Cursor(Record):
    TYPE: ClassVar[FrameType] = FrameType.CURSOR
    x: Coordinate
    y: Coordinate
    visible: bool


class ShareState(Record):
    """What the presenter shares now: live, paused or hidden, and whether parts of the
    picture are masked (§4.1). Only a state: never what is masked, nor where."""

    TYPE: ClassVar[FrameType] = FrameType.SHARE_STATE
    mode: ShareMode
    only_window: bool  # one application only: everything else is masked
    masked: bool  # parts are masked: chosen applications, the desktop, panels


class InputEvent(Record):
    """One mouse or keyboard action of the controller, in presenter-screen pixels (§4.2).

    Fields a kind does not use are zero or empty (the defaults; the wire has all ten).
    """

    TYPE: ClassVar[FrameType] = FrameType.INPUT_EVENT
    kind: InputKind
    x: Coordinate = 0
    y: Coordinate = 0
    button: Annotated[int, Meta(ge=0, le=32)] = 0  # 1 left, 2 middle, 3 right
    pressed: bool = False
    dx: WheelSteps = 0  # wheel steps, positive right / down
    dy: WheelSteps = 0
    keysym: Annotated[int, Meta(ge=0, le=0x1FFFFFFF)] = 0  # X11 keysym
    modifiers: Annotated[int, Meta(ge=0, le=15)] = 0  # Modifier bits
    text: Annotated[str, Meta(max_length=limits.MAX_TYPED_TEXT_CHARS)] = ""


class Chat(Record):
    """A chat line; the frame's target says whether it is private (§4.3). ``id`` counts
    the sender's lines from 1 (0: none, never deduplicated): a line sent again after a
    reconnect keeps its id, and receivers show each (sender, id) once (§11).
    ``to_everyone``: the line was for the whole session (a replay to one member keeps
    showing it as public)."""

    TYPE: ClassVar[FrameType] = FrameType.CHAT
    text: Annotated[str, Meta(min_length=1, max_length=limits.MAX_CHAT_CHARS)]
    id: UInt32 = 0
    to_everyone: bool = False


class Notes(Record):
    """The host's own notes, sent to everyone just before ending the meeting (§4.3)."""

    TYPE: ClassVar[FrameType] = FrameType.NOTES
    text: Annotated[str, Meta(min_length=1, max_length=limits.MAX_NOTES_CHARS)]


class Point(Record):
    x: Coordinate
    y: Coordinate


class Annotation(Record):
    """A stroke drawn over the shared screen; ``clear`` wipes the sender's strokes."""

    TYPE: ClassVar[FrameType] = FrameType.ANNOTATION
    stroke_id: UInt32
    color: Annotated[int, Meta(ge=0, le=0xFFFFFF)]  # 0xRRGGBB
    width: Annotated[int, Meta(ge=1, le=64)]
    points: Annotated[tuple[Point, ...], Meta(max_length=limits.MAX_ANNOTATION_POINTS)]
    clear: bool = False
    kind: AnnotationKind = AnnotationKind.PEN


FileName = Annotated[str, Meta(min_length=1, max_length=limits.MAX_FILE_NAME_CHARS)]
TransferId = Annotated[int, Meta(ge=1, le=U32)]
"""A transfer id: chosen at random by the sender, one per file (§4.5)."""
FileOffset = Annotated[int, Meta(ge=0, le=limits.MAX_FILE_BYTES)]


class FileOffer(Record):
    """The sender offers one file to one member; the receiver's person is asked (§4.5).
    Offered again with the same id and digest after a reconnect: the receiver resumes."""

    TYPE: ClassVar[FrameType] = FrameType.FILE_OFFER
    transfer_id: TransferId
    name: FileName  # as the sender calls it: the receiver sanitises it
    size: FileOffset
    sha256: Bytes32  # of the whole file
    chunk_size: Annotated[int, Meta(ge=1, le=limits.MAX_FILE_CHUNK)]


class FileAnswer(Record):
    """The receiver's answer to an offer, then its acknowledgements: ``offset`` is how
    many bytes it holds (where the sender starts, or resumes, and what paces it)."""

    TYPE: ClassVar[FrameType] = FrameType.FILE_ANSWER
    transfer_id: TransferId
    accepted: bool
    offset: FileOffset


class FileChunk(Record):
    """Part of an accepted file, in order of ``offset`` (§4.5)."""

    TYPE: ClassVar[FrameType] = FrameType.FILE_CHUNK
    transfer_id: TransferId
    offset: FileOffset
    data: Annotated[bytes, Meta(min_length=1, max_length=limits.MAX_FILE_CHUNK)]


class FileEnd(Record):
    """A transfer is over: kept (from the receiver), cancelled (either side), refused."""

    TYPE: ClassVar[FrameType] = FrameType.FILE_END
    transfer_id: TransferId
    reason: FileEndReason


ControlMessage = (
    Challenge
    | Hello
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
    | Admit
    | Waiting
    | Permissions
    | Recording
    | VideoLayers
)
ContentMessage = (
    ScreenUpdate
    | VideoFrame
    | Cursor
    | ShareState
    | InputEvent
    | Chat
    | Notes
    | Annotation
    | FileChunk
    | FileOffer
    | FileAnswer
    | FileEnd
)
AnyMessage = ControlMessage | ContentMessage

MESSAGE_CLASSES: dict[FrameType, type[AnyMessage]] = {
    cls.TYPE: cls
    for cls in (
        Challenge, Hello, Roster, MemberJoined, MemberLeft, RoleChange, PresenterRequest,
        ControlRequest, ConsentPrompt, ConsentAnswer, ConsentOutcome, Grant, Revoke, Lock,
        Expel, End, KeyCommit, Error, Ping, Pong, Refresh, Admit, Waiting, Permissions,
        Recording, VideoLayers, ScreenUpdate, VideoFrame, Cursor, ShareState, InputEvent, Chat,
        Annotation, FileChunk, FileOffer, FileAnswer, FileEnd, Notes,
    )
}  # fmt: skip

# The codec: derived from the declarations above ----------------------------------------

_R = TypeVar("_R", bound=Record)
_ENCODER = msgspec.msgpack.Encoder()
_DECODERS: dict[type[Record], msgspec.msgpack.Decoder[Any]] = {}


def _wire_value(record: Record) -> Record:
    """What goes on the wire for ``record``: MEMBER_JOINED carries its entry's fields."""
    return record.entry if isinstance(record, MemberJoined) else record


def _wire_type(cls: type[Record]) -> type[Record]:
    return RosterEntry if cls is MemberJoined else cls


def pack(value: object) -> bytes:
    """MessagePack-encode a record (its field array) or plain values (bin for bytes,
    str for text, arrays for lists and tuples, integers for enumerations)."""
    return _ENCODER.encode(value)


def _field_count(cls: type[Record]) -> int:
    """How many items the array of a record has: its fields, and its tag if it has one
    (a ticket's version)."""
    tagged = cls.__struct_config__.tag is not None
    return len(cls.__struct_fields__) + int(tagged)


def _array_length(data: bytes) -> int | None:
    """The item count a MessagePack array header at the start of ``data`` announces."""
    if not data:
        return None
    first = data[0]
    if 0x90 <= first <= 0x9F:
        return first & 0x0F
    size = {0xDC: 2, 0xDD: 4}.get(first)
    if size is None or len(data) < 1 + size:
        return None
    return int.from_bytes(data[1 : 1 + size], "big")


_LENGTH = re.compile(r"Expected `array` of (?:at most |at least |)length (\d+), got (\d+)")
_NOT_ARRAY = re.compile(r"Expected `array`, got `(\w+)`$")


def _refusal(what: str, error: msgspec.MsgspecError) -> MessageError:
    """A MessageError that says what was wrong where, in the words of §3.0."""
    text, _, path = str(error).partition(" - at `$")
    fields = re.findall(r"\d+", path)
    where = f" (field {'.'.join(fields)})" if fields else ""
    if not isinstance(error, msgspec.ValidationError):  # (a ValidationError is a DecodeError)
        return MessageError(f"{what}: not a valid encoding ({text})")
    if (length := _LENGTH.match(text)) is not None:
        expected, got = int(length[1]), int(length[2])
        if got > expected:
            return MessageError(f"{what}: {got - expected} unexpected fields{where}")
        return MessageError(f"{what}: missing field {got}{where}")
    if (wrong := _NOT_ARRAY.match(text)) is not None:
        return MessageError(f"{what}: expected an array of fields, got {wrong[1]}{where}")
    return MessageError(f"{what}: {text.replace('`', '')}{where}")


def unpack(data: bytes, cls: type[_R], what: str) -> _R:
    """Decode one record of ``cls``, strictly and bounded; raises only MessageError.

    Every array of fields must have exactly the record's fields: trailing fields with a
    default (a caller's convenience) must be on the wire all the same.
    """
    expected = _field_count(cls)
    announced = _array_length(data)
    if announced is not None and announced < expected:
        raise MessageError(f"{what}: missing field {announced}")
    if announced is not None and announced > expected:
        raise MessageError(f"{what}: {announced - expected} unexpected fields")
    decoder = _DECODERS.get(cls)
    if decoder is None:
        decoder = _DECODERS[cls] = msgspec.msgpack.Decoder(cls)
    try:
        record: _R = decoder.decode(data)
    except msgspec.MsgspecError as error:
        raise _refusal(what, error) from None
    return record


def encode(message: AnyMessage) -> bytes:
    return pack(_wire_value(message))


def decode(frame_type: FrameType, body: bytes) -> AnyMessage:
    """Decode a (plaintext) body of ``frame_type``; raises only MessageError."""
    cls = MESSAGE_CLASSES[frame_type]
    wire = unpack(body, _wire_type(cls), frame_type.name)
    if cls is MemberJoined:
        assert isinstance(wire, RosterEntry)
        return MemberJoined(wire)
    return wire  # type: ignore[return-value]  # unpack of cls gives a cls
