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
import hashlib
import json
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from msgspec.structs import replace

from relaydesk import limits
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
    Waiting,
    WaitReason,
    decode,
    encode,
    pack,
)
from relaydesk.protocol.session import chat_allowed
from relaydesk.protocol.tickets import (
    TICKET_LABEL,
    TICKET_VERSION,
    Ticket,
    TicketRule,
    sign_ticket,
)

VECTORS_DIR = Path(__file__).resolve().parent
MAX_SAFE_INTEGER = 2**53 - 1  # JavaScript's Number.MAX_SAFE_INTEGER

SESSION_UID = bytes.fromhex("7265_6c61_7964_6573_6b00_0000_0000_0001".replace("_", ""))
NOW = 1_800_000_000  # the clock reading every vector is made at (Unix seconds)
EXPIRES_AT = NOW + 3600
RELAY_URL = "wss://relay.example.org/relay"


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
        "x25519": ticket.x25519.hex(),
        "ed25519": ticket.ed25519.hex(),
        "relay": ticket.relay,
        "expires_at": number(ticket.expires_at),
        "email": ticket.email,
        "rules": int(ticket.rules),
        "rule_names": [rule.name for rule in TicketRule if rule in ticket.rules],
    }


def ticket_from_json(data: dict[str, Any]) -> Ticket:
    return Ticket(
        session_uid=bytes.fromhex(data["session_uid"]),
        member_id=data["member_id"],
        display_name=data["display_name"],
        role=Role[data["role"]],
        x25519=bytes.fromhex(data["x25519"]),
        ed25519=bytes.fromhex(data["ed25519"]),
        relay=data["relay"],
        expires_at=int(data["expires_at"]),
        email=data["email"],
        rules=TicketRule(data["rules"]),
    )


def ed25519_private(key: Ed25519PrivateKey) -> str:
    return key.private_bytes_raw().hex()


def x25519_private(key: X25519PrivateKey) -> str:
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
        ("unknown type 0x18", patched(1, b"\x18"), "FrameError"),
        ("unknown type 0x3f", patched(1, b"\x3f"), "FrameError"),
        ("unknown type 0x49", patched(1, b"\x49"), "FrameError"),
        ("unknown type 0xff", patched(1, b"\xff"), "FrameError"),
        ("unknown flag 0x0004", patched(2, b"\x00\x04"), "FrameError"),
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
        ("ticket", Hello(rng(24))),
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
        ("text for binary", FrameType.HELLO, ["ticket"]),
        ("binary for text", FrameType.CHAT, [b"hi"]),
        ("member id 0", FrameType.EXPEL, [0]),
        ("member id 2^32 - 1 (everyone)", FrameType.EXPEL, [U32]),
        ("negative member id", FrameType.EXPEL, [-1]),
        ("unknown enumeration value", FrameType.END, [99]),
        ("empty chat", FrameType.CHAT, [""]),
        ("chat of 4001 characters", FrameType.CHAT, ["x" * (limits.MAX_CHAT_CHARS + 1)]),
        ("signature of 63 bytes", FrameType.KEY_COMMIT, [b"", bytes(63)]),
        ("cursor beyond the largest screen", FrameType.CURSOR, [16385, 0, True]),
        ("tile of width 0", FrameType.SCREEN_UPDATE, [1, 1, True, [[0, 0, 0, 1, 0, b""]]]),
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
        ("invalid UTF-8 text", FrameType.CHAT, b"\x91\xa2\xc3\x28"),
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


def hpke_vectors() -> dict[str, Any]:
    rng = Drbg(seed("hpke"))
    cases = [
        (
            "an epoch secret as a key commit seals it",
            ks.EPOCH_SECRET_LABEL + SESSION_UID + struct.pack(">II", 1, 2),
            b"",
            rng(32),
        ),
        ("with associated data", b"relaydesk test", b"header", b"Hello, HPKE"),
        ("empty info and plaintext", b"", b"", b""),
        ("a longer plaintext", rng(7), rng(9), rng(100)),
    ]
    valid = []
    for name, info, aad, plaintext in cases:
        recipient = X25519PrivateKey.from_private_bytes(rng(32))
        ephemeral = X25519PrivateKey.from_private_bytes(rng(32))
        recipient_public = recipient.public_key().public_bytes_raw()
        enc, ciphertext = hpke.seal(recipient_public, info, aad, plaintext, ephemeral)
        shared_secret = hpke._shared_secret(
            ephemeral.exchange(recipient.public_key()), enc, recipient_public
        )
        key, base_nonce = hpke._key_schedule(shared_secret, info)
        valid.append(
            {
                "name": name,
                "recipient_private": x25519_private(recipient),
                "recipient_public": recipient_public.hex(),
                "ephemeral_private": x25519_private(ephemeral),
                "info": info.hex(),
                "aad": aad.hex(),
                "plaintext": plaintext.hex(),
                "enc": enc.hex(),
                "shared_secret": shared_secret.hex(),
                "key": key.hex(),
                "base_nonce": base_nonce.hex(),
                "ciphertext": ciphertext.hex(),
            }
        )
    first = valid[0]

    def variant(name: str, **changes: str) -> dict[str, Any]:
        case = {key: first[key] for key in ("recipient_private", "enc", "info", "aad")}
        case["ciphertext"] = first["ciphertext"]
        case.update(changes)
        return {"name": name, **case, "error": "DecryptionFailed"}

    def flipped(hex_text: str, index: int) -> str:
        data = bytearray.fromhex(hex_text)
        data[index] ^= 0x01
        return data.hex()

    invalid = [
        variant("a changed bit in the ciphertext", ciphertext=flipped(first["ciphertext"], 0)),
        variant("a changed bit in the tag", ciphertext=flipped(first["ciphertext"], -1)),
        variant("a changed bit in enc", enc=flipped(first["enc"], 5)),
        variant("other info", info=flipped(first["info"], -1)),
        variant("other associated data", aad="00"),
        variant("enc is the all-zero (low-order) point", enc="00" * 32),
        variant("enc is the point of order 8", enc=LOW_ORDER_POINTS[2]),
        variant("another recipient", recipient_private=valid[1]["recipient_private"]),
    ]
    return {
        "description": (
            "HPKE (RFC 9180) base mode, single shot: DHKEM(X25519, HKDF-SHA256) 0x0020, "
            "HKDF-SHA256 0x0001, AES-256-GCM 0x0002. 'valid': recipient key, ephemeral key, "
            "info, aad, plaintext -> enc, ciphertext (with intermediate shared_secret, key, "
            "base_nonce). 'invalid': inputs open must refuse with the error class."
        ),
        "kem_id": hpke.KEM_ID,
        "kdf_id": hpke.KDF_ID,
        "aead_id": hpke.AEAD_ID,
        "valid": valid,
        "invalid": invalid,
    }


# tickets.json ------------------------------------------------------------------------


def tickets_vectors() -> dict[str, Any]:
    rng = Drbg(seed("tickets"))
    broker = Ed25519PrivateKey.from_private_bytes(rng(32))
    other_broker = Ed25519PrivateKey.from_private_bytes(rng(32))
    tickets = [
        Ticket(SESSION_UID, 1, "Hélène", Role.HOST, rng(32), rng(32), RELAY_URL, EXPIRES_AT),
        Ticket(
            SESSION_UID, 2, "李雷", Role.PARTICIPANT, rng(32), rng(32), RELAY_URL, EXPIRES_AT,
            email="li.lei@example.org", rules=TicketRule.WAIT_IN_LOBBY | TicketRule.TWO_PARTY,
        ),
        Ticket(
            SESSION_UID, MAX_MEMBER_ID, "x" * limits.MAX_DISPLAY_NAME_CHARS, Role.PARTICIPANT,
            rng(32), rng(32), "", U64, email="y" * limits.MAX_EMAIL_CHARS,
            rules=TicketRule.WAIT_IN_LOBBY | TicketRule.TWO_PARTY | TicketRule.JOIN_BEFORE_HOST,
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
        check("ticket version 3, properly signed",
              signed([TICKET_VERSION + 1, *base_fields[1:]]), "TicketError"),
        check("an unknown rule bit, properly signed",
              signed([*base_fields[:-1], 8]), "TicketError"),
        check("rules missing, properly signed", signed(base_fields[:-1]), "TicketError"),
        check("e-mail of 255 characters, properly signed",
              signed([*base_fields[:-2], "e" * (limits.MAX_EMAIL_CHARS + 1), 0]),
              "TicketError"),
        check("not MessagePack", b"\xc1garbage", "TicketError"),
        check("truncated", blob[:-1], "TicketError"),
        check("signature of 63 bytes", pack([content, signature[:63]]), "TicketError"),
        check("empty", b"", "TicketError"),
    ]  # fmt: skip
    return {
        "description": (
            "Join tickets (docs/protocol.md §7): content = MessagePack [version 2, session uid, "
            "member id, display name, role, x25519 public, ed25519 public, relay url, "
            "expires_at, email, rules]; rules is a u32 of TicketRule bits (WAIT_IN_LOBBY 1, "
            "TWO_PARTY 2, JOIN_BEFORE_HOST 4; any other bit is refused); signature = "
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


def _session() -> dict[str, Any]:
    """The session of commit.json and content.json: broker, members, epoch 1."""
    rng = Drbg(seed("session"))
    broker = Ed25519PrivateKey.from_private_bytes(rng(32))
    people = []
    for member_id, name, role in MEMBERS:
        keys = ks.MemberKeys.generate(rng)
        ticket = Ticket(
            SESSION_UID, member_id, name, role, keys.x25519_public, keys.ed25519_public,
            RELAY_URL, EXPIRES_AT,
        )  # fmt: skip
        blob = sign_ticket(ticket, broker)
        e2e = EndToEnd(SESSION_UID, member_id, keys, broker.public_key())
        people.append({"id": member_id, "keys": keys, "ticket": ticket, "blob": blob, "e2e": e2e})
    for person in people:
        for other in people:
            person["e2e"].add_member(other["blob"], NOW)
    leader = people[0]
    recorder = Recorder(rng)
    frame = leader["e2e"].start_epoch(recorder, NOW)
    for person in people[1:]:
        commit = decode(FrameType.KEY_COMMIT, frame.body)
        assert isinstance(commit, KeyCommit)
        person["e2e"].apply_commit(frame.header, commit, NOW)
    return {"broker": broker, "people": people, "frame": frame, "draws": recorder.draws}


def _member_json(person: dict[str, Any]) -> dict[str, Any]:
    keys: ks.MemberKeys = person["keys"]
    ticket: Ticket = person["ticket"]
    return {
        "member_id": ticket.member_id,
        "display_name": ticket.display_name,
        "role": ticket.role.name,
        "x25519_private": x25519_private(keys.agreement),
        "x25519_public": keys.x25519_public.hex(),
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
    epoch_secret, *ephemerals = setup["draws"]
    leader_e2e: EndToEnd = people[0]["e2e"]
    assert leader_e2e.current is not None
    sealing = [
        {
            "member_id": sealed.member_id,
            "ephemeral_private": ephemeral.hex(),
            "info": ks._epoch_secret_info(SESSION_UID, content.epoch, sealed.member_id).hex(),
            "enc": sealed.enc.hex(),
            "ciphertext": sealed.ciphertext.hex(),
        }
        for sealed, ephemeral in zip(content.sealed, ephemerals, strict=True)
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
            "members 1, 2 and 5. The leader draws the epoch secret, then one ephemeral X25519 "
            "key per member in member id order, and seals the secret to each member with HPKE "
            "(hpke.json) under info = 'relaydesk/v1 epoch secret' || session uid || u32be "
            "epoch || u32be member id and empty aad. commit_content = MessagePack [session "
            "uid, epoch, leader, [member ids], roster hash, [[member id, enc, ciphertext], "
            "...]]; commit_signature = Ed25519(leader, 'relaydesk/v1 commit' || "
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
        ("a chat line to everyone", 2, Chat("Hello, world! 👋"), EVERYONE, Flags.NONE),
        ("a private chat line", 2, Chat("Only for you"), 5, Flags.NONE),
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
            "the share paused (the screen channel's second frame)",
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
        "epoch_secret": setup["draws"][0].hex(),
        "frames": frames,
    }


# security_code.json ------------------------------------------------------------------


def security_code_vectors() -> dict[str, Any]:
    rng = Drbg(seed("security code"))

    def ticket(member_id: int, name: str, role: Role = Role.PARTICIPANT) -> Ticket:
        return Ticket(SESSION_UID, member_id, name, role, rng(32), rng(32), RELAY_URL, NOW)

    honest = [ticket(1, "Hélène", Role.HOST), ticket(2, "Bob"), ticket(5, "李雷")]
    bob = honest[1]
    substituted = [honest[0], replace(bob, x25519=rng(32)), honest[2]]
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
                    "x25519": t.x25519.hex(),
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
            "x25519 || ed25519 || u16be len(utf8 name) || utf8 name). digest = SHA-256("
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
