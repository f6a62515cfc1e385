"""Generate relaydesk's golden vectors: tests/vectors/*.json (format: README.md).

Run from the repository root::

    .venv/bin/python tests/vectors/generate.py          # rewrite the files
    .venv/bin/python tests/vectors/generate.py --check  # exit 1 if a file is stale

Every random value comes from ``Drbg`` with a fixed seed per file, so the output is the
same on every run; tests/protocol/test_vectors.py fails if a committed file differs
from what this script produces now. Changing a vector on purpose means changing the
wire format or the cryptography: say so in docs/protocol.md and in the commit message.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from msgspec.structs import replace

from relaydesk import errors, limits
from relaydesk.protocol import hpke
from relaydesk.protocol import keys as ks
from relaydesk.protocol.e2e import CONTENT_LABEL, EndToEnd, nonce
from relaydesk.protocol.frames import (
    EVERYONE,
    HEADER_SIZE,
    MAX_MEMBER_ID,
    RELAY,
    VERSION,
    Channel,
    Flags,
    Frame,
    FrameType,
    Header,
)
from relaydesk.protocol.messages import (
    DEFAULT_PERMISSIONS,
    U32,
    U64,
    Admit,
    Annotation,
    AnnotationKind,
    Challenge,
    Chat,
    ChatRule,
    ConsentAnswer,
    ConsentKind,
    ConsentOutcome,
    ConsentPrompt,
    ConsentResult,
    ControlRequest,
    Cursor,
    End,
    EndReason,
    Error,
    Expel,
    FileAnswer,
    FileChunk,
    FileEnd,
    FileEndReason,
    FileOffer,
    Grant,
    Hello,
    InputEvent,
    InputKind,
    KeyCommit,
    LeaveReason,
    Lock,
    MemberJoined,
    MemberLeft,
    Modifier,
    Notes,
    Permissions,
    Ping,
    Point,
    Pong,
    PresenterRequest,
    Recording,
    Refresh,
    Revoke,
    RevokeReason,
    Role,
    RoleChange,
    Roster,
    RosterEntry,
    ScreenUpdate,
    ShareMode,
    ShareState,
    Tile,
    TileEncoding,
    VideoFrame,
    VideoLayers,
    Waiting,
    WaitReason,
    decode,
    encode,
    pack,
)
from relaydesk.protocol.session import chat_allowed
from relaydesk.protocol.tickets import (
    HELLO_LABEL,
    REFRESH_LABEL,
    TICKET_LABEL,
    TICKET_VERSION,
    Ticket,
    TicketRule,
    hello_message,
    refresh_message,
    sign_ticket,
)
from relaydesk.screen.video import LayerChoice

VECTORS_DIR = Path(__file__).resolve().parent
MAX_SAFE_INTEGER = 2**53 - 1  # JavaScript's Number.MAX_SAFE_INTEGER

SESSION_UID = bytes.fromhex("7265_6c61_7964_6573_6b00_0000_0000_0001".replace("_", ""))
NOW = 1_800_000_000  # the clock reading every vector is made at (Unix seconds)
EXPIRES_AT = NOW + 3600
RELAY_URL = "wss://relay.example.org/relay"
XWING_LABEL = b"\\.//^\\"  # the X-Wing combiner's label, 6 bytes


class Drbg:
    """The vectors' deterministic RNG: a SHA-256 counter DRBG.

    The byte stream is SHA-256(seed || u64be(0)) || SHA-256(seed || u64be(1)) || ...;
    each call returns the next ``n`` bytes of it. Not for production (it is a test
    fixture that must be easy to re-implement, not a vetted generator).
    """

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self._counter = 0
        self._buffer = b""

    def __call__(self, n: int) -> bytes:
        while len(self._buffer) < n:
            block = struct.pack(">Q", self._counter)
            self._buffer += hashlib.sha256(self._seed + block).digest()
            self._counter += 1
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out


def seed(name: str) -> bytes:
    """The DRBG seed of one vector file."""
    return b"relaydesk/v1 test vectors " + name.encode()


# JSON helpers ------------------------------------------------------------------------


def number(value: int) -> int | str:
    """An integer as JSON: a number, or a decimal string above 2^53 - 1 (use BigInt)."""
    return value if abs(value) <= MAX_SAFE_INTEGER else str(value)


def to_json(value: Any) -> Any:
    """A MessagePack field value as typed JSON: bytes as {"bin": hex}, integers beyond
    2^53 - 1 as {"int": decimal}; booleans, strings and arrays as themselves."""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value) if abs(value) <= MAX_SAFE_INTEGER else {"int": str(value)}
    if isinstance(value, bytes):
        return {"bin": value.hex()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    raise TypeError(f"no JSON form for {type(value).__name__}")


def from_json(value: Any) -> Any:
    """The inverse of ``to_json``."""
    if isinstance(value, dict):
        if set(value) == {"bin"}:
            return bytes.fromhex(value["bin"])
        if set(value) == {"int"}:
            return int(value["int"])
        raise ValueError(f"unknown typed value {value}")
    if isinstance(value, list):
        return [from_json(item) for item in value]
    return value


def header_json(header: Header) -> dict[str, Any]:
    return {
        "version": VERSION,
        "type": header.type.name,
        "type_code": int(header.type),
        "flags": int(header.flags),
        "session_uid": header.session_uid.hex(),
        "epoch": header.epoch,
        "sender": header.sender,
        "target": header.target,
        "sequence": number(header.sequence),
    }


def header_from_json(data: dict[str, Any]) -> Header:
    return Header(
        type=FrameType[data["type"]],
        session_uid=bytes.fromhex(data["session_uid"]),
        epoch=data["epoch"],
        sender=data["sender"],
        target=data["target"],
        sequence=int(data["sequence"]),
        flags=Flags(data["flags"]),
    )


def ticket_json(ticket: Ticket) -> dict[str, Any]:
    return {
        "session_uid": ticket.session_uid.hex(),
        "member_id": ticket.member_id,
        "display_name": ticket.display_name,
        "role": ticket.role.name,
        "role_code": int(ticket.role),
        "agreement": ticket.agreement.hex(),
        "ed25519": ticket.ed25519.hex(),
        "relay": ticket.relay,
        "expires_at": number(ticket.expires_at),
        "email": ticket.email,
        "rules": int(ticket.rules),
        "rule_names": [rule.name for rule in TicketRule if rule in ticket.rules],
        "placement": ticket.placement,
    }


def ticket_from_json(data: dict[str, Any]) -> Ticket:
    return Ticket(
        session_uid=bytes.fromhex(data["session_uid"]),
        member_id=data["member_id"],
        display_name=data["display_name"],
        role=Role[data["role"]],
        agreement=bytes.fromhex(data["agreement"]),
        ed25519=bytes.fromhex(data["ed25519"]),
        relay=data["relay"],
        expires_at=int(data["expires_at"]),
        email=data["email"],
        rules=TicketRule(data["rules"]),
        placement=data["placement"],
    )


def ed25519_private(key: Ed25519PrivateKey) -> str:
    return key.private_bytes_raw().hex()


def message_json(message: Any) -> dict[str, Any]:
    return {"type": message.TYPE.name, "fields": to_json(message.to_fields())}


# frames.json -------------------------------------------------------------------------


def frames_vectors() -> dict[str, Any]:
    rng = Drbg(seed("frames"))
    uid = rng(16)
    cases = [
        ("a ticket to the relay", Header(FrameType.HELLO, uid, 0, 7, RELAY, 1), rng(12)),
        ("an empty body", Header(FrameType.PING, uid, 0, 7, RELAY, 2), b""),
        (
            "a screen update: both flags, sequence above 2^53",
            Header(
                FrameType.SCREEN_UPDATE, uid, 3, 1, EVERYONE, 2**53 + 5,
                Flags.KEYFRAME | Flags.SUPERSEDABLE,
            ),
            rng(40),
        ),
        (
            "a cursor: largest epoch, sender and sequence",
            Header(FrameType.CURSOR, uid, U32, MAX_MEMBER_ID, 2, U64, Flags.SUPERSEDABLE),
            rng(3),
        ),
        ("a private chat", Header(FrameType.CHAT, uid, 9, 2, 5, 300, Flags.NONE), rng(97)),
        ("a relay error", Header(FrameType.ERROR, uid, 0, RELAY, 7, 0x01020304), rng(5)),
    ]  # fmt: skip
    valid = []
    stream = b""
    for name, header, body in cases:
        data = Frame(header, body).serialize()
        stream += data
        valid.append(
            {
                "name": name,
                "header": header_json(header),
                "body": body.hex(),
                "body_length": len(body),
                "frame": data.hex(),
            }
        )

    good = Frame(Header(FrameType.CHAT, uid, 1, 2, EVERYONE, 1), rng(8)).serialize()

    def patched(offset: int, value: bytes, data: bytes = good) -> bytes:
        return data[:offset] + value + data[offset + len(value) :]

    def announcing(frame_type: FrameType, length: int) -> bytes:
        return Header(frame_type, uid, 0, 1, 0, 1).pack(length)

    invalid = [
        ("version 0", patched(0, b"\x00"), "FrameError"),
        ("version 2", patched(0, b"\x02"), "FrameError"),
        ("unknown type 0x00", patched(1, b"\x00"), "FrameError"),
        ("unknown type 0x1a", patched(1, b"\x1a"), "FrameError"),
        ("unknown type 0x3f", patched(1, b"\x3f"), "FrameError"),
        ("unknown type 0x49", patched(1, b"\x49"), "FrameError"),
        ("unknown type 0xff", patched(1, b"\xff"), "FrameError"),
        ("unknown flag 0x0008", patched(2, b"\x00\x08"), "FrameError"),
        ("unknown flag 0x8000", patched(2, b"\x80\x00"), "FrameError"),
        ("body one byte shorter than announced", good[:-1], "FrameError"),
        ("body one byte longer than announced", good + b"\x00", "FrameError"),
        ("no body at all", good[:HEADER_SIZE], "FrameError"),
        ("header of 43 bytes", good[: HEADER_SIZE - 1], "FrameError"),
        ("empty", b"", "FrameError"),
        (
            "control body of 1 MiB + 1 announced (header only)",
            announcing(FrameType.KEY_COMMIT, limits.MAX_CONTROL_BODY + 1),
            "FrameTooLarge",
        ),
        (
            "content body of 4 MiB + 1 announced (header only)",
            announcing(FrameType.SCREEN_UPDATE, limits.MAX_FRAME_BODY + 1),
            "FrameTooLarge",
        ),
        (
            "body of 2^32 - 1 announced (header only)",
            announcing(FrameType.CHAT, U32),
            "FrameTooLarge",
        ),
    ]
    at_limit = [
        ("largest control body", announcing(FrameType.KEY_COMMIT, limits.MAX_CONTROL_BODY)),
        ("largest content body", announcing(FrameType.SCREEN_UPDATE, limits.MAX_FRAME_BODY)),
    ]
    return {
        "description": (
            "Frames (docs/protocol.md §2): a 44-byte big-endian header (u8 version, u8 type, "
            "u16 flags, 16-byte session uid, u32 epoch, u32 sender, u32 target, u64 sequence, "
            "u32 body length) and the body. 'valid': header fields and body -> exact bytes. "
            "'invalid': bytes a parser must refuse, with the error class; FrameTooLarge cases "
            "are a header alone, refused before any body arrives. 'headers_at_limit': headers "
            "announcing the largest allowed body. 'stream': all valid frames back to back."
        ),
        "header_size": HEADER_SIZE,
        "max_control_body": limits.MAX_CONTROL_BODY,
        "max_content_body": limits.MAX_FRAME_BODY,
        "flags": {flag.name: int(flag) for flag in (Flags.KEYFRAME, Flags.SUPERSEDABLE)},
        "types": {frame_type.name: int(frame_type) for frame_type in FrameType},
        "valid": valid,
        "invalid": [{"name": n, "frame": data.hex(), "error": e} for n, data, e in invalid],
        "headers_at_limit": [
            {
                "name": name,
                "header": data.hex(),
                "type": FrameType(data[1]).name,
                "body_length": int.from_bytes(data[-4:]),
            }
            for name, data in at_limit
        ],
        "stream": {"bytes": stream.hex(), "frames": len(valid)},
    }


# messages.json -----------------------------------------------------------------------


def message_samples(rng: Callable[[int], bytes]) -> list[tuple[str, Any]]:
    """One or more messages of every type, edge values included."""
    entry = RosterEntry(3, Role.PARTICIPANT, rng(40))
    waiting = RosterEntry(4, Role.PARTICIPANT, bytes(range(20)))  # no draw: later ones keep
    return [
        ("ticket and proof", Hello(rng(24), bytes(range(64)))),  # no draw: later ones keep
        ("the relay's challenge", Challenge(bytes(range(100, 132)), "relay-7")),
        (
            "roster",
            Roster(
                you=3,
                members=(RosterEntry(1, Role.HOST, rng(30)), entry),
                presenter=1,
                control_holder=0,
                locked=False,
                epoch=7,
                lobby=(waiting,),
            ),
        ),
        (
            "empty roster, largest ids",
            Roster(MAX_MEMBER_ID, (), MAX_MEMBER_ID, 0, True, 0xFFFFFFFF, ()),
        ),
        ("member joined", MemberJoined(entry)),
        ("member expelled", MemberLeft(4, LeaveReason.EXPELLED)),
        ("made host", RoleChange(2, Role.HOST)),
        ("asked to present", PresenterRequest(2)),
        ("control request (no fields)", ControlRequest()),
        ("consent prompt", ConsentPrompt(ConsentKind.CONTROL, 5)),
        ("consent answer", ConsentAnswer(ConsentKind.PRESENT, True)),
        ("consent outcome", ConsentOutcome(ConsentKind.CONTROL, 5, 1, ConsentResult.TIMED_OUT)),
        ("grant", Grant(ConsentKind.CONTROL, 5)),
        ("revoke", Revoke(ConsentKind.CONTROL, 5, RevokeReason.BY_PRESENTER)),
        ("lock", Lock(True)),
        ("expel", Expel(9)),
        ("end", End(EndReason.ENDED_BY_HOST)),
        ("key commit", KeyCommit(rng(50), rng(64))),
        ("error", Error(4004, "Only the host can do that — désolé")),
        ("ping, largest nonce", Ping(U64)),
        ("pong", Pong(0x1234)),
        ("refresh for a member", Refresh(4)),
        ("refresh asked by a viewer", Refresh(0)),
        ("admit", Admit(4, True)),
        ("refuse entry", Admit(MAX_MEMBER_ID, False)),
        ("waiting for approval", Waiting(waiting, WaitReason.APPROVAL)),
        ("waiting for a host", Waiting(entry, WaitReason.HOST_ABSENT)),
        ("permissions, the usual", DEFAULT_PERMISSIONS),
        (
            "permissions: chat with the presenter, two annotators",
            Permissions(ChatRule.PRESENTER, (3, MAX_MEMBER_ID), may_save=False, may_record=True),
        ),
        (
            "screen update",
            ScreenUpdate(
                1920,
                1080,
                False,
                (
                    Tile(0, 0, 2, 1, TileEncoding.RAW, rng(8)),
                    Tile(64, 128, 64, 64, TileEncoding.COPY, struct.pack(">II", 0, 64)),
                ),
            ),
        ),
        (
            "video frame (an H.264 access unit)",
            VideoFrame(7, 3, 123456, False, 320, 180, 1280, 720, rng(40)),
        ),
        ("video keyframe, largest stream", VideoFrame(U32, 0, U32, True, 0, 0, 2, 2, rng(3))),
        ("video layers: layer 0 alone", VideoLayers(1)),
        ("cursor", Cursor(100, 200, True)),
        (
            "input: key press",
            InputEvent(
                InputKind.KEY,
                keysym=0x61,
                pressed=True,
                modifiers=Modifier.CONTROL | Modifier.SHIFT,
            ),
        ),
        ("input: wheel", InputEvent(InputKind.WHEEL, x=10, y=20, dx=-3, dy=100)),
        ("input: text", InputEvent(InputKind.TEXT, text="grüße 🌍")),
        ("chat", Chat("Hello, world! 👋")),
        ("chat: line 7, public, sent again to one member", Chat("again", 7, True)),
        ("chat: the largest id", Chat("last", U32, False)),
        (
            "annotation",
            Annotation(7, 0xFF8800, 3, (Point(0, 0), Point(16384, 16384)), clear=False),
        ),
        ("file chunk", FileChunk(1, 0, rng(10))),
        # Added with issue 10 (privacy): after every draw, so the vectors above stay.
        ("share state: paused", ShareState(ShareMode.PAUSED, False, False)),
        ("share state: hidden", ShareState(ShareMode.HIDDEN, False, True)),
        ("share state: live, one application only", ShareState(ShareMode.LIVE, True, True)),
        # Added with issue 9 (files): after every draw above.
        ("file offer", FileOffer(0x12345678, "report.pdf", 10, rng(32), limits.MAX_FILE_CHUNK)),
        ("file offer, empty file", FileOffer(U32, "empty.txt", 0, hashlib.sha256().digest(), 1)),
        ("file answer: accepted, resume at 262144", FileAnswer(0x12345678, True, 262144)),
        ("file answer: declined", FileAnswer(1, False, 0)),
        ("file end: complete", FileEnd(0x12345678, FileEndReason.COMPLETE)),
        ("file end: integrity failed", FileEnd(1, FileEndReason.INTEGRITY_FAILED)),
        # Added with issue 9 (annotation, host notes): after every draw above.
        (
            "annotation: arrow",
            Annotation(8, 0x0000FF, 4, (Point(10, 20), Point(300, 400)), kind=AnnotationKind.ARROW),
        ),
        (
            "annotation: highlight",
            Annotation(9, 0xFFFF00, 24, (Point(5, 5), Point(50, 5)), kind=AnnotationKind.HIGHLIGHT),
        ),
        ("annotation: clear", Annotation(0, 0, 1, (), clear=True)),
        ("notes", Notes("Decisions:\n- ship on Friday ✅")),
        # Added with issue 13 (recording): no draws.
        ("recording: a host starts", Recording(1, True)),
        ("recording: stopped", Recording(MAX_MEMBER_ID, False)),
        (
            "roster while member 1 records",
            Roster(2, (), 0, 0, False, 3, (), recording=1),
        ),
    ]


def messages_vectors() -> dict[str, Any]:
    rng = Drbg(seed("messages"))
    valid = [
        {
            "name": name,
            "type": message.TYPE.name,
            "type_code": int(message.TYPE),
            "fields": to_json(message.to_fields()),
            "body": encode(message).hex(),
        }
        for name, message in message_samples(rng)
    ]
    invalid_fields: list[tuple[str, FrameType, Any]] = [
        ("an extra field", FrameType.LOCK, [True, 1]),
        ("a missing field", FrameType.MEMBER_LEFT, [4]),
        ("a field where there are none", FrameType.CONTROL_REQUEST, [0]),
        ("not an array", FrameType.PING, 5),
        ("nil for an integer", FrameType.PING, [None]),
        ("true for an integer", FrameType.EXPEL, [True]),
        ("1 for a boolean", FrameType.LOCK, [1]),
        ("a float for an integer", FrameType.PING, [1.0]),
        ("text for binary", FrameType.HELLO, ["ticket", bytes(64)]),
        ("hello without its proof (before proofs)", FrameType.HELLO, [b"ticket"]),
        ("hello: proof of 63 bytes", FrameType.HELLO, [b"ticket", bytes(63)]),
        ("challenge: nonce of 31 bytes", FrameType.CHALLENGE, [bytes(31), "r1"]),
        ("challenge: no relay name", FrameType.CHALLENGE, [bytes(32), ""]),
        ("challenge: a relay name in capitals", FrameType.CHALLENGE, [bytes(32), "R1"]),
        ("challenge: a relay name of 33 characters", FrameType.CHALLENGE, [bytes(32), "r" * 33]),
        ("binary for text", FrameType.CHAT, [b"hi", 1, False]),
        ("member id 0", FrameType.EXPEL, [0]),
        ("member id 2^32 - 1 (everyone)", FrameType.EXPEL, [U32]),
        ("negative member id", FrameType.EXPEL, [-1]),
        ("unknown enumeration value", FrameType.END, [99]),
        ("empty chat", FrameType.CHAT, ["", 1, False]),
        ("chat of 4001 characters", FrameType.CHAT, ["x" * (limits.MAX_CHAT_CHARS + 1), 1, False]),
        ("chat: id above 2^32 - 1", FrameType.CHAT, ["hi", U32 + 1, False]),
        ("chat: 1 for to_everyone", FrameType.CHAT, ["hi", 1, 1]),
        ("chat without its id (before ids)", FrameType.CHAT, ["hi"]),
        ("signature of 63 bytes", FrameType.KEY_COMMIT, [b"", bytes(63)]),
        ("cursor beyond the largest screen", FrameType.CURSOR, [16385, 0, True]),
        ("tile of width 0", FrameType.SCREEN_UPDATE, [1, 1, True, [[0, 0, 0, 1, 0, b""]]]),
        ("video frame of odd width", FrameType.VIDEO_FRAME, [1, 0, 0, True, 0, 0, 3, 2, b"x"]),
        ("video frame of height 0", FrameType.VIDEO_FRAME, [1, 0, 0, True, 0, 0, 2, 0, b"x"]),
        ("video frame without data", FrameType.VIDEO_FRAME, [1, 0, 0, True, 0, 0, 2, 2, b""]),
        (
            "video frame number above 2^32 - 1",
            FrameType.VIDEO_FRAME,
            [1, U32 + 1, 0, False, 0, 0, 2, 2, b"x"],
        ),
        ("video frame without sent_at", FrameType.VIDEO_FRAME, [1, 0, True, 0, 0, 2, 2, b"x"]),
        ("video layers 0", FrameType.VIDEO_LAYERS, [0]),
        ("video layers 3", FrameType.VIDEO_LAYERS, [3]),
        ("file chunk: transfer id 0", FrameType.FILE_CHUNK, [0, 0, b"x"]),
        ("file chunk: no data", FrameType.FILE_CHUNK, [1, 0, b""]),
        ("file chunk: the old six fields", FrameType.FILE_CHUNK, [1, 0, b"x", "", 0, b""]),
        ("file offer: sha256 of 31 bytes", FrameType.FILE_OFFER, [1, "a", 1, bytes(31), 1]),
        ("file offer: empty name", FrameType.FILE_OFFER, [1, "", 1, bytes(32), 1]),
        (
            "file offer: over 2 GiB",
            FrameType.FILE_OFFER,
            [1, "a", limits.MAX_FILE_BYTES + 1, bytes(32), 1],
        ),
        ("file offer: chunk size 0", FrameType.FILE_OFFER, [1, "a", 1, bytes(32), 0]),
        ("file answer: 1 for a boolean", FrameType.FILE_ANSWER, [1, 1, 0]),
        ("file end: unknown reason", FrameType.FILE_END, [1, 5]),
        ("a roster entry with an extra field", FrameType.MEMBER_JOINED, [1, 1, b"", 0]),
        ("a tile with a missing field", FrameType.SCREEN_UPDATE, [1, 1, True, [[0, 0, 1, 1, 0]]]),
        ("a point with an extra field", FrameType.ANNOTATION, [0, 0, 1, [[0, 0, 0]], False, 1]),
        ("annotation: unknown kind", FrameType.ANNOTATION, [0, 0, 1, [[0, 0]], False, 4]),
        ("annotation without its kind", FrameType.ANNOTATION, [0, 0, 1, [[0, 0]], False]),
        ("empty notes", FrameType.NOTES, [""]),
        ("notes over 100000 characters", FrameType.NOTES, ["x" * (limits.MAX_NOTES_CHARS + 1)]),
        ("roster without its epoch", FrameType.ROSTER, [1, [], 0, 0, False]),
        ("roster without its lobby", FrameType.ROSTER, [1, [], 0, 0, False, 0]),
        ("roster without its recorder", FrameType.ROSTER, [1, [], 0, 0, False, 0, []]),
        ("recording: member 0", FrameType.RECORDING, [0, True]),
        ("recording: 1 for active", FrameType.RECORDING, [1, 1]),
        ("admit with 1 for a boolean", FrameType.ADMIT, [4, 1]),
        ("admit of member 0", FrameType.ADMIT, [0, True]),
        ("waiting: entry fields not nested", FrameType.WAITING, [4, 2, b"", 1]),
        ("waiting: unknown reason", FrameType.WAITING, [[4, 2, b""], 3]),
        ("waiting without its reason", FrameType.WAITING, [[4, 2, b""]]),
        ("share state: mode 0", FrameType.SHARE_STATE, [0, False, False]),
        ("share state: unknown mode", FrameType.SHARE_STATE, [4, False, False]),
        ("share state: 1 for a boolean", FrameType.SHARE_STATE, [1, 1, False]),
        ("share state without masked", FrameType.SHARE_STATE, [1, False]),
    ]
    invalid = [
        {"name": name, "type": frame_type.name, "body": pack(fields).hex(), "error": "MessageError"}
        for name, frame_type, fields in invalid_fields
    ]
    invalid_bytes = [
        ("truncated", FrameType.PING, pack([5])[:-1]),
        ("trailing bytes", FrameType.PING, pack([5]) + b"\x00"),
        ("a map", FrameType.PING, b"\x81\x00\x00"),
        ("an extension type", FrameType.PING, b"\x91\xd4\x01\x00"),
        ("invalid UTF-8 text", FrameType.CHAT, b"\x93\xa2\xc3\x28\x01\xc2"),
        (
            "binary announcing 2^32 - 1 bytes",
            FrameType.HELLO,
            b"\x91\xc6\xff\xff\xff\xff",
        ),
        ("empty body", FrameType.LOCK, b""),
    ]
    invalid += [
        {"name": name, "type": frame_type.name, "body": body.hex(), "error": "MessageError"}
        for name, frame_type, body in invalid_bytes
    ]
    return {
        "description": (
            "Message bodies (docs/protocol.md §3-§4): a MessagePack array of the fields in "
            "declaration order; binary as bin, text as str, enumerations as integers. "
            '\'fields\' is typed JSON: {"bin": hex} for binary, {"int": decimal} for '
            "integers beyond 2^53 - 1. 'valid': fields -> exact body (and back). 'invalid': "
            "bodies a decoder of that frame type must refuse."
        ),
        "valid": valid,
        "invalid": invalid,
    }


# hkdf.json ---------------------------------------------------------------------------

RFC5869 = [
    {
        "name": "RFC 5869 A.1",
        "ikm": "0b" * 22,
        "salt": "000102030405060708090a0b0c",
        "info": "f0f1f2f3f4f5f6f7f8f9",
        "length": 42,
    },
    {"name": "RFC 5869 A.3 (no salt, no info)", "ikm": "0b" * 22, "salt": "", "info": "",
     "length": 42},
]  # fmt: skip


def hkdf_vectors() -> dict[str, Any]:
    rng = Drbg(seed("hkdf"))
    extract_cases = [(case["name"], case["salt"], case["ikm"]) for case in RFC5869]
    extract_cases.append(("session uid as salt", rng(16).hex(), rng(32).hex()))
    extract = [
        {
            "name": name,
            "salt": salt,
            "ikm": ikm,
            "prk": hpke.extract(bytes.fromhex(salt), bytes.fromhex(ikm)).hex(),
        }
        for name, salt, ikm in extract_cases
    ]
    expand_cases = [
        (e["name"], e["prk"], c["info"], c["length"])
        for e, c in zip(extract, RFC5869, strict=False)
    ]
    expand_cases.append(("one byte", rng(32).hex(), "00", 1))
    expand_cases.append(("three blocks", rng(32).hex(), rng(20).hex(), 80))
    expand = [
        {
            "name": name,
            "prk": prk,
            "info": info,
            "length": length,
            "okm": hpke.expand(bytes.fromhex(prk), bytes.fromhex(info), length).hex(),
        }
        for name, prk, info, length in expand_cases
    ]
    session_uid, epoch_secret = rng(16), rng(32)
    inputs = [(session_uid, epoch_secret, 1, 1, channel) for channel in Channel]
    inputs += [
        (session_uid, epoch_secret, 2, 1, Channel.SCREEN),
        (session_uid, epoch_secret, 1, 2, Channel.SCREEN),
        (session_uid, epoch_secret, U32, MAX_MEMBER_ID, Channel.FILE),
        (rng(16), epoch_secret, 1, 1, Channel.SCREEN),
        (session_uid, rng(32), 1, 1, Channel.SCREEN),
    ]
    content_keys = []
    for uid, secret, epoch, sender, channel in inputs:
        info = ks.CONTENT_KEY_LABEL + struct.pack(">IIB", epoch, sender, channel)
        content_keys.append(
            {
                "session_uid": uid.hex(),
                "epoch_secret": secret.hex(),
                "epoch": epoch,
                "sender": sender,
                "channel": int(channel),
                "channel_name": channel.name,
                "prk": hpke.extract(uid, secret).hex(),
                "info": info.hex(),
                "key": ks.content_key(uid, secret, epoch, sender, channel).hex(),
            }
        )
    return {
        "description": (
            "HKDF-SHA256 (RFC 5869). 'extract': salt, ikm -> prk (an empty salt means 32 zero "
            "bytes). 'expand': prk, info, length -> okm. 'content_key' (docs/protocol.md §6.3): "
            "prk = Extract(salt = session uid, ikm = epoch secret); key = Expand(prk, info = "
            "'relaydesk/v1 content key' || u32be epoch || u32be sender || u8 channel, 32)."
        ),
        "content_key_label": ks.CONTENT_KEY_LABEL.decode(),
        "channels": {channel.name: int(channel) for channel in Channel},
        "extract": extract,
        "expand": expand,
        "content_key": content_keys,
    }


# hpke.json ---------------------------------------------------------------------------

LOW_ORDER_POINTS = [
    "00" * 32,  # 0
    "01" + "00" * 31,  # 1
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",  # order 8
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",  # order 8
    "ec" + "ff" * 30 + "7f",  # p - 1
    "ed" + "ff" * 30 + "7f",  # p (non-canonical 0)
    "ee" + "ff" * 30 + "7f",  # p + 1 (non-canonical 1)
]


def stored(name: str) -> dict[str, Any]:
    """A vector file as it is now ({} if there is none). Sealing draws randomness inside
    ``cryptography``'s HPKE, so a sealed box is made once and kept while it still opens:
    what is checked is that it opens, with the recorded private key, to its plaintext."""
    path = VECTORS_DIR / name
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    return loaded


def xwing_shared_secret(recipient: hpke.AgreementKey, enc: bytes) -> bytes:
    """The MLKEM768-X25519 (X-Wing) combiner, written out to document it and to check the
    library against it: SHA3-256(ss_mlkem || ss_x25519 || ct_x25519 || pk_x25519 || label)."""
    ct_mlkem, ct_x25519 = enc[: hpke.MLKEM_CIPHERTEXT_SIZE], enc[hpke.MLKEM_CIPHERTEXT_SIZE :]
    ss_mlkem = recipient.mlkem.decapsulate(ct_mlkem)
    ss_x25519 = recipient.x25519.exchange(X25519PublicKey.from_public_bytes(ct_x25519))
    pk_x25519 = recipient.x25519.public_key().public_bytes_raw()
    return hashlib.sha3_256(ss_mlkem + ss_x25519 + ct_x25519 + pk_x25519 + XWING_LABEL).digest()


def key_schedule(shared_secret: bytes, info: bytes) -> tuple[bytes, bytes]:
    """RFC 9180 §5.1, base mode, for suite (0x647A, 0x0001, 0x0002): key, base nonce."""
    suite = b"HPKE" + struct.pack(">HHH", hpke.KEM_ID, hpke.KDF_ID, hpke.AEAD_ID)

    def labeled_extract(salt: bytes, label: bytes, ikm: bytes) -> bytes:
        return hpke.extract(salt, b"HPKE-v1" + suite + label + ikm)

    def labeled_expand(prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
        labeled = struct.pack(">H", length) + b"HPKE-v1" + suite + label + info
        return hpke.expand(prk, labeled, length)

    context = b"\x00" + labeled_extract(b"", b"psk_id_hash", b"")
    context += labeled_extract(b"", b"info_hash", info)
    secret = labeled_extract(shared_secret, b"secret", b"")
    return labeled_expand(secret, b"key", context, 32), labeled_expand(
        secret, b"base_nonce", context, 12
    )


def agreement_json(key: hpke.AgreementKey) -> dict[str, str]:
    return {
        "mlkem_seed": key.mlkem.private_bytes_raw().hex(),
        "x25519_private": key.x25519.private_bytes_raw().hex(),
        "public": key.public_bytes().hex(),
    }


def hpke_vectors() -> dict[str, Any]:
    rng = Drbg(seed("hpke"))
    kept = {case["name"]: case for case in stored("hpke.json").get("valid", [])}
    cases = [
        (
            "an epoch secret as a key commit seals it",
            ks.EPOCH_SECRET_LABEL + SESSION_UID + struct.pack(">II", 1, 2),
            rng(32),
        ),
        ("empty info and plaintext", b"", b""),
        ("a longer plaintext", rng(7), rng(100)),
    ]
    valid = []
    for name, info, plaintext in cases:
        recipient = hpke.AgreementKey.from_private_bytes(rng(64), rng(32))
        old = kept.get(name, {})
        enc, ciphertext = (
            bytes.fromhex(old.get("enc", "")),
            bytes.fromhex(old.get("ciphertext", "")),
        )
        try:
            assert hpke.open_(recipient, enc, info, ciphertext) == plaintext
        except (AssertionError, errors.DecryptionFailed):  # new, or made for other inputs
            enc, ciphertext = hpke.seal(hpke.public_key(recipient.public_bytes()), info, plaintext)
        shared_secret = xwing_shared_secret(recipient, enc)
        key, base_nonce = key_schedule(shared_secret, info)
        assert AESGCM(key).decrypt(base_nonce, ciphertext, b"") == plaintext  # the library's
        valid.append(
            {
                "name": name,
                "recipient": agreement_json(recipient),
                "info": info.hex(),
                "plaintext": plaintext.hex(),
                "enc": enc.hex(),
                "shared_secret": shared_secret.hex(),
                "key": key.hex(),
                "base_nonce": base_nonce.hex(),
                "ciphertext": ciphertext.hex(),
            }
        )
    first = valid[0]

    def variant(name: str, **changes: Any) -> dict[str, Any]:
        case = {key: first[key] for key in ("recipient", "enc", "info", "ciphertext")}
        case.update(changes)
        return {"name": name, **case, "error": "DecryptionFailed"}

    def flipped(hex_text: str, index: int) -> str:
        data = bytearray.fromhex(hex_text)
        data[index] ^= 0x01
        return data.hex()

    mlkem_hex = 2 * hpke.MLKEM_CIPHERTEXT_SIZE
    invalid = [
        variant("a changed bit in the ciphertext", ciphertext=flipped(first["ciphertext"], 0)),
        variant("a changed bit in the tag", ciphertext=flipped(first["ciphertext"], -1)),
        variant("a changed bit in enc's ML-KEM ciphertext", enc=flipped(first["enc"], 5)),
        variant("a changed bit in enc's X25519 key", enc=flipped(first["enc"], -3)),
        variant("other info", info=flipped(first["info"], -1)),
        variant("enc's X25519 key is the all-zero (low-order) point",
                enc=first["enc"][:mlkem_hex] + "00" * 32),
        variant("enc's X25519 key is the point of order 8",
                enc=first["enc"][:mlkem_hex] + LOW_ORDER_POINTS[2]),
        variant("enc one byte short", enc=first["enc"][:-2]),
        variant("another recipient", recipient=valid[1]["recipient"]),
    ]  # fmt: skip
    return {
        "description": (
            "HPKE (RFC 9180) base mode, single shot: MLKEM768-X25519 (X-Wing) 0x647A, "
            "HKDF-SHA256 0x0001, AES-256-GCM 0x0002, empty aad. Open-only: the encapsulation "
            "randomness is the library's, so 'valid' gives a recipient key (ML-KEM-768 seed "
            "d || z, X25519 private key; public = ML-KEM encapsulation key || X25519 public), "
            "info, enc (ML-KEM ciphertext || ephemeral X25519 public) and ciphertext, which "
            "must open to plaintext, with the intermediate shared_secret = SHA3-256(ss_mlkem "
            "|| ss_x25519 || enc_x25519 || pk_x25519 || '\\.//^\\'), key and base_nonce. "
            "'invalid': inputs open must refuse with the error class."
        ),
        "kem_id": hpke.KEM_ID,
        "kdf_id": hpke.KDF_ID,
        "aead_id": hpke.AEAD_ID,
        "xwing_label": XWING_LABEL.hex(),
        "valid": valid,
        "invalid": invalid,
    }


# tickets.json ------------------------------------------------------------------------


def tickets_vectors() -> dict[str, Any]:
    rng = Drbg(seed("tickets"))
    broker = Ed25519PrivateKey.from_private_bytes(rng(32))
    other_broker = Ed25519PrivateKey.from_private_bytes(rng(32))
    tickets = [
        Ticket(SESSION_UID, 1, "Hélène", Role.HOST, rng(1216), rng(32), RELAY_URL, EXPIRES_AT),
        Ticket(
            SESSION_UID, 2, "李雷", Role.PARTICIPANT, rng(1216), rng(32), RELAY_URL, EXPIRES_AT,
            email="li.lei@example.org", rules=TicketRule.WAIT_IN_LOBBY | TicketRule.TWO_PARTY,
        ),
        Ticket(
            SESSION_UID, MAX_MEMBER_ID, "x" * limits.MAX_DISPLAY_NAME_CHARS, Role.PARTICIPANT,
            rng(1216), rng(32), "", U64, email="y" * limits.MAX_EMAIL_CHARS,
            rules=TicketRule.WAIT_IN_LOBBY | TicketRule.TWO_PARTY | TicketRule.JOIN_BEFORE_HOST,
            placement=U32,
        ),
        Ticket(
            SESSION_UID, 3, "Noor", Role.PARTICIPANT, rng(1216), rng(32), "r1", EXPIRES_AT,
            rules=TicketRule.NO_SHARING | TicketRule.NO_CONTROL | TicketRule.JOIN_BEFORE_HOST,
            placement=2,
        ),
    ]  # fmt: skip
    valid = []
    for ticket in tickets:
        blob = sign_ticket(ticket, broker)
        content = pack(ticket.to_fields())
        valid.append(
            {
                "fields": ticket_json(ticket),
                "content": content.hex(),
                "signature": broker.sign(TICKET_LABEL + content).hex(),
                "ticket": blob.hex(),
            }
        )
    base = tickets[0]
    blob = sign_ticket(base, broker)
    content = pack(base.to_fields())
    signature = broker.sign(TICKET_LABEL + content)
    flipped_content = bytearray(content)
    flipped_content[-10] ^= 0x01
    flipped_signature = bytearray(signature)
    flipped_signature[0] ^= 0x80
    base_fields = base.to_fields()
    version_one = pack([1, *base_fields[1:9]])  # before email and rules were added
    version_two = pack([2, *base_fields[1:-1]])  # before placement was added
    # before the hybrid agreement key: a 32-byte X25519 key
    version_three = pack([3, *base_fields[1:5], base_fields[5][-32:], *base_fields[6:]])

    def signed(fields: list[Any]) -> bytes:
        content = pack(fields)
        return pack([content, broker.sign(TICKET_LABEL + content)])

    def check(
        name: str,
        data: bytes,
        error: str | None,
        now: int = NOW,
        session_uid: bytes | None = SESSION_UID,
        check_expiry: bool = True,
    ) -> dict[str, Any]:
        return {
            "name": name,
            "ticket": data.hex(),
            "now": now,
            "session_uid": None if session_uid is None else session_uid.hex(),
            "check_expiry": check_expiry,
            "error": error,
        }

    other_uid = bytes(16)
    checks = [
        check("valid", blob, None),
        check("valid, no session given", blob, None, session_uid=None),
        check("valid one second before expiry", blob, None, now=EXPIRES_AT - 1),
        check("expired: now equals expires_at", blob, "TicketExpired", now=EXPIRES_AT),
        check("expired, expiry not checked", blob, None, now=EXPIRES_AT + 10**6,
              check_expiry=False),
        check("another session", blob, "TicketWrongSession", session_uid=other_uid),
        check("another session and expired: the session is checked first", blob,
              "TicketWrongSession", now=EXPIRES_AT, session_uid=other_uid),
        check("signed by another broker", sign_ticket(base, other_broker),
              "TicketSignatureInvalid"),
        check("a changed bit in the content", pack([bytes(flipped_content), signature]),
              "TicketSignatureInvalid"),
        check("a changed bit in the signature", pack([content, bytes(flipped_signature)]),
              "TicketSignatureInvalid"),
        check("forged and expired: the signature is checked first",
              pack([content, bytes(flipped_signature)]), "TicketSignatureInvalid",
              now=EXPIRES_AT),
        check("ticket version 1, properly signed",
              pack([version_one, broker.sign(TICKET_LABEL + version_one)]), "TicketError"),
        check("ticket version 2, properly signed",
              pack([version_two, broker.sign(TICKET_LABEL + version_two)]), "TicketError"),
        check("ticket version 3 (an X25519 agreement key), properly signed",
              pack([version_three, broker.sign(TICKET_LABEL + version_three)]), "TicketError"),
        check("ticket version 4 with a 32-byte agreement key, properly signed",
              signed([4, *base_fields[1:5], base_fields[5][-32:], *base_fields[6:]]),
              "TicketError"),
        check(f"ticket version {TICKET_VERSION + 1}, properly signed",
              signed([TICKET_VERSION + 1, *base_fields[1:]]), "TicketError"),
        check("an unknown rule bit, properly signed",
              signed([*base_fields[:-2], 32, 0]), "TicketError"),
        check("placement missing, properly signed", signed(base_fields[:-1]), "TicketError"),
        check("placement above u32, properly signed",
              signed([*base_fields[:-1], 2**32]), "TicketError"),
        check("e-mail of 255 characters, properly signed",
              signed([*base_fields[:-3], "e" * (limits.MAX_EMAIL_CHARS + 1), 0, 0]),
              "TicketError"),
        check("not MessagePack", b"\xc1garbage", "TicketError"),
        check("truncated", blob[:-1], "TicketError"),
        check("signature of 63 bytes", pack([content, signature[:63]]), "TicketError"),
        check("empty", b"", "TicketError"),
    ]  # fmt: skip
    return {
        "description": (
            "Join tickets (docs/protocol.md §7): content = MessagePack [version 4, session uid, "
            "member id, display name, role, agreement public (ML-KEM-768 || X25519, 1216 bytes), "
            "ed25519 public, relay, expires_at, email, rules, placement]; rules is a u32 of "
            "TicketRule bits (WAIT_IN_LOBBY 1, TWO_PARTY 2, JOIN_BEFORE_HOST 4, NO_SHARING 8, "
            "NO_CONTROL 16; any other bit is refused); signature = "
            "Ed25519(broker, 'relaydesk/v1 ticket' || content); ticket = MessagePack "
            "[content, signature]. 'checks': verify with the broker public key at 'now', for "
            "'session_uid' (null: any), expecting 'error' (null: accepted). Checks run in "
            "this order: format, signature, session, expiry."
        ),
        "label": TICKET_LABEL.decode(),
        "broker_private": ed25519_private(broker),
        "broker_public": broker.public_key().public_bytes_raw().hex(),
        "valid": valid,
        "checks": checks,
        "refresh": refresh_vector(rng, broker),
        "hello": hello_vector(rng, broker),
    }


def refresh_vector(rng: Drbg, broker: Ed25519PrivateKey) -> dict[str, Any]:
    """A member asks for a fresh ticket (§7.3): it signs the label, its ticket and the
    Unix seconds (u64 big-endian) with the ticket's own Ed25519 key."""
    member = Ed25519PrivateKey.from_private_bytes(rng(32))
    ticket = Ticket(
        SESSION_UID, 3, "Rita Refresh", Role.PARTICIPANT, rng(1216),
        member.public_key().public_bytes_raw(), RELAY_URL, EXPIRES_AT,
    )  # fmt: skip
    blob = sign_ticket(ticket, broker)
    message = refresh_message(blob, NOW)
    return {
        "label": REFRESH_LABEL.decode(),
        "member_private": ed25519_private(member),
        "member_public": member.public_key().public_bytes_raw().hex(),
        "ticket": blob.hex(),
        "timestamp": NOW,
        "message": message.hex(),
        "signature": member.sign(message).hex(),
    }


def hello_vector(rng: Drbg, broker: Ed25519PrivateKey) -> dict[str, Any]:
    """A member proves it holds its ticket's key (§7.1): it signs the label, the relay's
    challenge, the SHA-256 of its ticket and the relay's name with the ticket's own
    Ed25519 key. 'refused': proofs the relay named 'relay' must refuse."""
    member = Ed25519PrivateKey.from_private_bytes(rng(32))
    ticket = Ticket(
        SESSION_UID, 4, "Holly Hello", Role.PARTICIPANT, rng(1216),
        member.public_key().public_bytes_raw(), "relay-a", EXPIRES_AT,
    )  # fmt: skip
    blob = sign_ticket(ticket, broker)
    challenge, relay = rng(32), "relay-a"
    message = hello_message(challenge, blob, relay)
    thief = Ed25519PrivateKey.from_private_bytes(rng(32))
    refused = [
        ("signed for another relay", member.sign(hello_message(challenge, blob, "relay-b"))),
        ("signed over another challenge", member.sign(hello_message(rng(32), blob, relay))),
        ("signed by another key (a stolen ticket)", thief.sign(message)),
    ]
    return {
        "label": HELLO_LABEL.decode(),
        "member_private": ed25519_private(member),
        "member_public": member.public_key().public_bytes_raw().hex(),
        "ticket": blob.hex(),
        "challenge": challenge.hex(),
        "relay": relay,
        "message": message.hex(),
        "proof": member.sign(message).hex(),
        "refused": [{"name": name, "proof": proof.hex()} for name, proof in refused],
    }


# commit.json and content.json share one session --------------------------------------

MEMBERS = [(1, "Hélène", Role.HOST), (2, "Bob", Role.PARTICIPANT), (5, "李雷", Role.PARTICIPANT)]


class Recorder:
    """Wraps an RNG and keeps what it handed out, so the vectors can list it."""

    def __init__(self, rng: Callable[[int], bytes]) -> None:
        self._rng = rng
        self.draws: list[bytes] = []

    def __call__(self, n: int) -> bytes:
        value = self._rng(n)
        self.draws.append(value)
        return value


@functools.cache
def _session() -> dict[str, Any]:
    """The session of commit.json and content.json: broker, members, epoch 1. The commit
    is kept from commit.json while every member still opens it (see ``stored``)."""
    rng = Drbg(seed("session"))
    broker = Ed25519PrivateKey.from_private_bytes(rng(32))
    people = []
    for member_id, name, role in MEMBERS:
        keys = ks.MemberKeys.generate(rng)
        ticket = Ticket(
            SESSION_UID, member_id, name, role, keys.agreement_public, keys.ed25519_public,
            RELAY_URL, EXPIRES_AT,
        )  # fmt: skip
        blob = sign_ticket(ticket, broker)
        people.append({"id": member_id, "keys": keys, "ticket": ticket, "blob": blob})

    def members() -> None:
        for person in people:
            person["e2e"] = EndToEnd(SESSION_UID, person["id"], person["keys"], broker.public_key())
            for other in people:
                person["e2e"].add_member(other["blob"], NOW)

    def apply(frame: Frame, to: list[dict[str, Any]]) -> None:
        commit = decode(FrameType.KEY_COMMIT, frame.body)
        assert isinstance(commit, KeyCommit)
        for person in to:
            person["e2e"].apply_commit(frame.header, commit, NOW)

    members()
    kept = stored("commit.json").get("frame")
    try:
        frame = Frame.parse(bytes.fromhex(kept or ""))
        apply(frame, people)  # the leader too: it opens its own copy
    except (errors.RelaydeskError, ValueError):
        members()
        frame = people[0]["e2e"].start_epoch(rng, NOW)
        apply(frame, people[1:])
    epoch = people[0]["e2e"].current
    return {"broker": broker, "people": people, "frame": frame, "epoch_secret": epoch.secret}


def _member_json(person: dict[str, Any]) -> dict[str, Any]:
    keys: ks.MemberKeys = person["keys"]
    ticket: Ticket = person["ticket"]
    return {
        "member_id": ticket.member_id,
        "display_name": ticket.display_name,
        "role": ticket.role.name,
        "agreement": agreement_json(keys.agreement),
        "ed25519_private": ed25519_private(keys.signing),
        "ed25519_public": keys.ed25519_public.hex(),
        "ticket": person["blob"].hex(),
    }


def commit_vectors() -> dict[str, Any]:
    setup = _session()
    broker: Ed25519PrivateKey = setup["broker"]
    people = setup["people"]
    frame: Frame = setup["frame"]
    commit = decode(FrameType.KEY_COMMIT, frame.body)
    assert isinstance(commit, KeyCommit)
    content = ks.read_commit(commit)
    epoch_secret: bytes = setup["epoch_secret"]
    leader_e2e: EndToEnd = people[0]["e2e"]
    assert leader_e2e.current is not None
    sealing = [
        {
            "member_id": sealed.member_id,
            "info": ks._epoch_secret_info(SESSION_UID, content.epoch, sealed.member_id).hex(),
            "enc": sealed.enc.hex(),
            "ciphertext": sealed.ciphertext.hex(),
        }
        for sealed in content.sealed
    ]
    members = []
    for person in people:
        epoch = person["e2e"].current
        members.append({**_member_json(person), "epoch_secret": epoch.secret.hex()})

    def frame_with(header: Header, body: bytes = frame.body) -> str:
        return Frame(header, body).serialize().hex()

    h = frame.header
    signature = bytearray(commit.signature)
    signature[10] ^= 0x04
    forged = encode(KeyCommit(commit.content, bytes(signature)))
    bob_keys: ks.MemberKeys = people[1]["keys"]
    by_bob = encode(
        KeyCommit(commit.content, bob_keys.signing.sign(ks.COMMIT_LABEL + commit.content))
    )
    rejected = [
        ("a changed bit in the signature", frame_with(h, forged)),
        (
            "signed by member 2, header names the leader",
            frame_with(h, by_bob),
        ),
        (
            "signed by member 2, header names member 2",
            frame_with(Header(h.type, h.session_uid, h.epoch, 2, h.target, h.sequence), by_bob),
        ),
        (
            "header epoch 2, content epoch 1",
            frame_with(Header(h.type, h.session_uid, 2, h.sender, h.target, h.sequence)),
        ),
        (
            "header of another session",
            frame_with(Header(h.type, bytes(16), h.epoch, h.sender, h.target, h.sequence)),
        ),
    ]
    return {
        "description": (
            "A key commit (docs/protocol.md §6.2) by the key leader (the host, member 1) for "
            "members 1, 2 and 5. The leader draws the epoch secret and seals it to each member "
            "in member id order with HPKE (hpke.json: the hybrid KEM draws its own randomness, "
            "so 'sealing' is open-only) under info = 'relaydesk/v1 epoch secret' || session "
            "uid || u32be epoch || u32be member id and empty aad. commit_content = "
            "MessagePack [session uid, epoch, leader, [member ids], roster hash, [[member id, "
            "enc, ciphertext], ...]]; commit_signature = Ed25519(leader, 'relaydesk/v1 commit' || "
            "commit_content); the KEY_COMMIT body is MessagePack [commit_content, signature]. "
            "Every member (tickets shown in full) must accept the frame and find "
            "epoch_secret; 'rejected' frames must be refused (CommitRejected) by member 2 "
            "with no epoch yet."
        ),
        "session_uid": SESSION_UID.hex(),
        "now": NOW,
        "broker_private": ed25519_private(broker),
        "broker_public": broker.public_key().public_bytes_raw().hex(),
        "labels": {
            "commit": ks.COMMIT_LABEL.decode(),
            "epoch_secret": ks.EPOCH_SECRET_LABEL.decode(),
            "roster": ks.ROSTER_LABEL.decode(),
            "security_code": ks.SECURITY_CODE_LABEL.decode(),
        },
        "members": members,
        "leader": content.leader,
        "epoch": content.epoch,
        "epoch_secret": epoch_secret.hex(),
        "sealing": sealing,
        "roster_hash": content.roster_hash.hex(),
        "security_code": leader_e2e.current.security_code,
        "commit_content": commit.content.hex(),
        "commit_signature": commit.signature.hex(),
        "header": header_json(frame.header),
        "frame": frame.serialize().hex(),
        "rejected": [
            {"name": name, "frame": data, "receiver": 2, "error": "CommitRejected"}
            for name, data in rejected
        ],
    }


def content_vectors() -> dict[str, Any]:
    setup = _session()
    people = {person["id"]: person for person in setup["people"]}
    sends: list[tuple[str, int, Any, int, Flags]] = [
        ("a chat line to everyone", 2, Chat("Hello, world! 👋", 1, True), EVERYONE, Flags.NONE),
        ("a private chat line", 2, Chat("Only for you", 2), 5, Flags.NONE),
        (
            "a key press from the controller to the presenter",
            5,
            InputEvent(InputKind.KEY, keysym=0xFF0D, pressed=True, modifiers=Modifier.CONTROL),
            1,
            Flags.NONE,
        ),
        (
            "a screen update (keyframe)",
            1,
            ScreenUpdate(4, 2, True, (Tile(0, 0, 4, 2, TileEncoding.RAW, bytes(range(32))),)),
            EVERYONE,
            Flags.KEYFRAME,
        ),
        (
            "a video frame of the enhancement layer (the screen channel's second frame)",
            1,
            VideoFrame(3, 1, 1000, False, 0, 0, 2, 2, bytes(range(12))),
            EVERYONE,
            Flags.DISCARDABLE,
        ),
        (
            "the share paused (the screen channel's third frame)",
            1,
            ShareState(ShareMode.PAUSED, False, True),
            EVERYONE,
            Flags.SUPERSEDABLE,
        ),
    ]
    frames = []
    for name, sender, message, target, flags in sends:
        e2e: EndToEnd = people[sender]["e2e"]
        frame = e2e.seal(message, target, flags)
        header = frame.header
        header_bytes = frame.serialize()[:HEADER_SIZE]
        assert e2e.current is not None
        channel = header.type.channel
        key = ks.content_key(SESSION_UID, e2e.current.secret, header.epoch, sender, channel)
        ciphertext, signature = frame.body[:-64], frame.body[-64:]
        frames.append(
            {
                "name": name,
                "message": message_json(message),
                "plaintext": encode(message).hex(),
                "header": header_json(header),
                "channel": int(channel),
                "content_key": key.hex(),
                "nonce": nonce(header.sequence).hex(),
                "aad": header_bytes.hex(),
                "ciphertext": ciphertext.hex(),
                "signature": signature.hex(),
                "frame": frame.serialize().hex(),
            }
        )
    first_plaintext = bytes.fromhex(frames[0]["plaintext"])
    assert (
        AESGCM(bytes.fromhex(frames[0]["content_key"]))
        .encrypt(
            bytes.fromhex(frames[0]["nonce"]), first_plaintext, bytes.fromhex(frames[0]["aad"])
        )
        .hex()
        == frames[0]["ciphertext"]
    )
    return {
        "description": (
            "Sealed content frames (docs/protocol.md §6.3) in the session of commit.json, "
            "epoch 1. plaintext = the message body (messages.json); key = content key of "
            "(session uid, epoch secret, epoch, sender, channel) as in hkdf.json; nonce = "
            "4 zero bytes || u64be sequence; aad = the 44-byte header as sent (its body "
            "length counts ciphertext, tag and signature); ciphertext = AES-256-GCM with the "
            "16-byte tag appended; signature = Ed25519(sender, 'relaydesk/v1 content' || aad "
            "|| ciphertext); frame = aad || ciphertext || signature. A member that applied "
            "commit_frame opens each frame to its message; sequence numbers count per sender "
            "and channel from 1."
        ),
        "label": CONTENT_LABEL.decode(),
        "session_uid": SESSION_UID.hex(),
        "now": NOW,
        "broker_public": setup["broker"].public_key().public_bytes_raw().hex(),
        "members": [_member_json(person) for person in setup["people"]],
        "commit_frame": setup["frame"].serialize().hex(),
        "epoch": setup["frame"].header.epoch,
        "epoch_secret": setup["epoch_secret"].hex(),
        "frames": frames,
    }


# security_code.json ------------------------------------------------------------------


def security_code_vectors() -> dict[str, Any]:
    rng = Drbg(seed("security code"))

    def ticket(member_id: int, name: str, role: Role = Role.PARTICIPANT) -> Ticket:
        return Ticket(SESSION_UID, member_id, name, role, rng(1216), rng(32), RELAY_URL, NOW)

    honest = [ticket(1, "Hélène", Role.HOST), ticket(2, "Bob"), ticket(5, "李雷")]
    bob = honest[1]
    substituted = [honest[0], replace(bob, agreement=rng(1216)), honest[2]]
    resigned = [honest[0], replace(bob, ed25519=rng(32)), honest[2]]
    renamed = [honest[0], replace(bob, display_name="Bob "), honest[2]]
    ghost = [*honest, ticket(6, "Bob")]
    rosters = [
        ("honest", honest),
        ("honest, listed in another order", [honest[2], honest[0], honest[1]]),
        ("member 2's agreement key substituted", substituted),
        ("member 2's signing key substituted", resigned),
        ("member 2's display name changed", renamed),
        ("a ghost member 6 added", ghost),
        ("member 5 missing", honest[:2]),
        ("empty", []),
    ]
    roster_hashes = [
        {
            "name": name,
            "members": [
                {
                    "member_id": t.member_id,
                    "display_name": t.display_name,
                    "agreement": t.agreement.hex(),
                    "ed25519": t.ed25519.hex(),
                }
                for t in tickets
            ],
            "roster_hash": ks.roster_hash(tickets).hex(),
        }
        for name, tickets in rosters
    ]
    leader_key = honest[0].ed25519
    codes_input = [
        ("honest", SESSION_UID, leader_key, ks.roster_hash(honest)),
        ("member 2's agreement key substituted", SESSION_UID, leader_key,
         ks.roster_hash(substituted)),
        ("a ghost member added", SESSION_UID, leader_key, ks.roster_hash(ghost)),
        ("another leader key", SESSION_UID, rng(32), ks.roster_hash(honest)),
        ("another session", bytes(16), leader_key, ks.roster_hash(honest)),
        ("all zero", bytes(16), bytes(32), bytes(32)),
    ]  # fmt: skip
    codes = []
    for name, uid, leader, roster in codes_input:
        digest = hashlib.sha256(ks.SECURITY_CODE_LABEL + uid + leader + roster).digest()
        codes.append(
            {
                "name": name,
                "session_uid": uid.hex(),
                "leader_ed25519": leader.hex(),
                "roster_hash": roster.hex(),
                "digest": digest.hex(),
                "security_code": ks.security_code(uid, leader, roster),
            }
        )
    return {
        "description": (
            "Roster hash and security code (docs/protocol.md §6.4-§6.5). roster_hash = "
            "SHA-256('relaydesk/v1 roster' || for each member by ascending id: u32be id || "
            "agreement (1216) || ed25519 || u16be len(utf8 name) || utf8 name). digest = SHA-256("
            "'relaydesk/v1 security code' || session uid || leader ed25519 || roster hash); "
            "code = first 8 bytes of digest as u64be mod 10^16, 16 zero-padded digits in "
            "groups of four separated by single spaces."
        ),
        "roster_hash": roster_hashes,
        "security_code": codes,
    }


def chat_rules_vectors() -> dict[str, Any]:
    """Every case of the chat rule (docs/protocol.md §5.5), as the relay and each
    receiving client decide it: protocol.session.chat_allowed and its JS twin."""
    cases = []
    for rule in ChatRule:
        for sender_leads in (False, True):
            for target in ("everyone", "member"):
                for target_leads in (False, True) if target == "member" else (False,):
                    to = EVERYONE if target == "everyone" else 7
                    cases.append(
                        {
                            "rule": rule.name,
                            "sender_leads": sender_leads,
                            "target": number(to),
                            "target_leads": target_leads,
                            "allowed": chat_allowed(rule, sender_leads, to, target_leads),
                        }
                    )
    return {
        "description": (
            "Who may send a chat line where. A member 'leads' when it presents or is a "
            "host; target is EVERYONE (0xFFFFFFFF) or one member's id."
        ),
        "cases": cases,
    }


def video_layers_vectors() -> dict[str, Any]:
    """When a viewer asks for one video layer or both (VIDEO_LAYERS, docs/protocol.md
    §4.1): screen.video.LayerChoice and its JS twin, over recorded arrivals."""
    fps = 30.0
    offset = 0xFFFFF000  # the presenter's clock wraps around 2^32 ms during the cases

    def arrivals(queue_ms: Callable[[int], float], count: int, start: float = 5.0) -> list:
        frames = []
        for n in range(count):
            sent = start + n / fps
            frames.append([(offset + round(sent * 1000)) & U32, sent + 0.004 + queue_ms(n) / 1000])
        return frames

    cases = {
        "on time: nothing to ask": arrivals(lambda n: (n * 7) % 20, 90),
        "a queue growing 25 ms a frame, then draining for four seconds": arrivals(
            lambda n: 25.0 * n if n < 20 else max(0.0, 500 - 60.0 * (n - 20)), 160
        ),
        "one late frame alone asks nothing": arrivals(lambda n: 400.0 if n == 10 else 0.0, 30),
    }
    out = []
    for name, frames in cases.items():
        choice = LayerChoice()
        out.append(
            {
                "name": name,
                "frames": [[sent, round(now, 6)] for sent, now in frames],
                "asks": [choice.observe(sent, round(now, 6)) for sent, now in frames],
            }
        )
    return {
        "description": (
            "frames: [sent_at (the presenter's ms, modulo 2^32), arrival (the viewer's "
            "seconds)]; asks: what LayerChoice.observe returns for each (null: nothing)"
        ),
        "cases": out,
    }


def _stored_zlib(data: bytes) -> bytes:
    """``data`` as a zlib stream (RFC 1950) of one stored deflate block (RFC 1951 §3.2.4):
    the same bytes whatever zlib is installed."""
    assert len(data) <= 0xFFFF
    block = b"\x01" + struct.pack("<HH", len(data), len(data) ^ 0xFFFF) + data
    return b"\x78\x01" + block + struct.pack(">I", zlib.adler32(data))


def tiles_vectors() -> dict[str, Any]:
    """Tiles of the pixel encodings (docs/protocol.md §4.1, TileEncoding) and the pixels
    they paint, or the TileError a viewer refuses them with: screen.framebuffer and
    js/tiles.js decode the same bytes."""
    rng = Drbg(seed("tiles"))
    levels = rng(12)  # a 4x3 grey tile
    bgrx = rng(2 * 3 * 4)  # a 2x3 coloured tile

    def bgr_of_bgrx(data: bytes) -> str:
        return b"".join(data[i : i + 3] for i in range(0, len(data), 4)).hex()

    def tile(name: str, width: int, height: int, encoding: TileEncoding, data: bytes) -> dict:
        return {
            "name": name,
            "width": width,
            "height": height,
            "encoding": encoding.name,
            "encoding_code": int(encoding),
            "data": data.hex(),
        }

    grey_pixels = bytes(level for level in levels for _ in range(3)).hex()
    valid = [
        {**tile("RAW", 2, 3, TileEncoding.RAW, bgrx), "pixels": bgr_of_bgrx(bgrx)},
        {**tile("ZLIB", 2, 3, TileEncoding.ZLIB, _stored_zlib(bgrx)), "pixels": bgr_of_bgrx(bgrx)},
        {**tile("FILL", 3, 2, TileEncoding.FILL, bytes([0x10, 0x20, 0x30])),
         "pixels": "102030" * 6},
        {**tile("FILL of one pixel", 1, 1, TileEncoding.FILL, bytes([0, 0, 0xFF])),
         "pixels": "0000ff"},
        {**tile("ZLIB_GREY, one stored block", 4, 3, TileEncoding.ZLIB_GREY,
                _stored_zlib(levels)), "pixels": grey_pixels},
        {**tile("ZLIB_GREY, a run of white (fixed Huffman codes)", 4, 3, TileEncoding.ZLIB_GREY,
                bytes.fromhex("78dafbff1f01004dbe0bf5")),
         "pixels": "ff" * 36},
    ]  # fmt: skip
    invalid = [
        tile("FILL of 4 bytes", 2, 2, TileEncoding.FILL, bytes(4)),
        tile("FILL of 2 bytes", 2, 2, TileEncoding.FILL, bytes(2)),
        tile("FILL of nothing", 2, 2, TileEncoding.FILL, b""),
        tile("ZLIB_GREY of 4 bytes a pixel", 4, 3, TileEncoding.ZLIB_GREY,
             _stored_zlib(bgrx + bytes(24))),
        tile("ZLIB_GREY one byte short", 4, 3, TileEncoding.ZLIB_GREY, _stored_zlib(levels[:11])),
        tile("ZLIB_GREY one byte too many", 4, 3, TileEncoding.ZLIB_GREY,
             _stored_zlib(levels + b"\x00")),
        tile("ZLIB_GREY with bytes after the stream", 4, 3, TileEncoding.ZLIB_GREY,
             _stored_zlib(levels) + b"\x00"),
        tile("ZLIB_GREY cut short", 4, 3, TileEncoding.ZLIB_GREY, _stored_zlib(levels)[:-1]),
        tile("ZLIB_GREY, wrong checksum", 4, 3, TileEncoding.ZLIB_GREY,
             _stored_zlib(levels)[:-1] + bytes([_stored_zlib(levels)[-1] ^ 1])),
        tile("ZLIB_GREY, not zlib", 4, 3, TileEncoding.ZLIB_GREY, levels),
        tile("ZLIB of grey levels (1 byte a pixel, not 4)", 4, 3, TileEncoding.ZLIB,
             _stored_zlib(levels)),
    ]  # fmt: skip
    for case in invalid:
        case["error"] = "TileError"
    return {
        "description": (
            "valid: a tile (width, height, encoding, data) and the pixels it paints, blue, "
            "green, red a pixel, rows top to bottom (the fourth byte of BGRX means nothing); "
            "invalid: tiles a viewer refuses with `error`, painting nothing"
        ),
        "valid": valid,
        "invalid": invalid,
    }


# Output ------------------------------------------------------------------------------

BUILDERS: dict[str, Callable[[], dict[str, Any]]] = {
    "frames.json": frames_vectors,
    "messages.json": messages_vectors,
    "hkdf.json": hkdf_vectors,
    "hpke.json": hpke_vectors,
    "tickets.json": tickets_vectors,
    "commit.json": commit_vectors,
    "content.json": content_vectors,
    "security_code.json": security_code_vectors,
    "chat_rules.json": chat_rules_vectors,
    "video_layers.json": video_layers_vectors,
    "tiles.json": tiles_vectors,
}


def render(vectors: dict[str, Any]) -> str:
    return json.dumps(vectors, indent=2, ensure_ascii=False) + "\n"


def build_all() -> dict[str, str]:
    """File name -> the exact text the file must hold."""
    return {name: render(build()) for name, build in BUILDERS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    stale = []
    for name, text in build_all().items():
        path = VECTORS_DIR / name
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    verb = "stale" if args.check else "written"
    for name in stale:
        print(f"{verb}: {VECTORS_DIR / name}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
