"""relaydesk.protocol.messages: encodings of every message, and bounded, strict decoding."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import strategies as sts
from relaydesk import limits
from relaydesk.errors import MessageError
from relaydesk.protocol.frames import MAX_MEMBER_ID, FrameType
from relaydesk.protocol.messages import (
    MESSAGE_CLASSES,
    U32,
    U64,
    Admit,
    Chat,
    CommitContent,
    EndReason,
    Hello,
    InputEvent,
    InputKind,
    Ping,
    Point,
    Record,
    RevokeReason,
    Role,
    Roster,
    RosterEntry,
    SealedKey,
    Tile,
    Waiting,
    WaitReason,
    decode,
    encode,
    pack,
    unpack,
)
from relaydesk.protocol.tickets import SignedTicket, Ticket

ALL_TYPES = list(FrameType)
CLASSES = list(MESSAGE_CLASSES.values())


def class_id(cls: type[Any]) -> str:
    return cls.__name__


def decodes_or_refuses(frame_type: FrameType, body: bytes) -> None:
    """The decoder either refuses with MessageError or returns a faithful message."""
    try:
        message = decode(frame_type, body)
    except MessageError:
        return
    assert type(message) is MESSAGE_CLASSES[frame_type]
    assert decode(frame_type, encode(message)) == message


def test_every_frame_type_has_a_message_class_and_a_strategy() -> None:
    assert set(MESSAGE_CLASSES) == set(FrameType)
    assert all(cls.TYPE is frame_type for frame_type, cls in MESSAGE_CLASSES.items())
    assert set(sts.MESSAGES) == set(MESSAGE_CLASSES.values())


# Round trips --------------------------------------------------------------------------


@pytest.mark.parametrize("cls", CLASSES, ids=class_id)
@given(data=st.data())
def test_round_trip(cls: type[Any], data: st.DataObject) -> None:
    message = data.draw(sts.MESSAGES[cls])
    body = encode(message)
    assert decode(cls.TYPE, body) == message
    assert encode(decode(cls.TYPE, body)) == body


@given(sts.messages)
def test_body_is_a_msgpack_array_of_the_fields(message: Any) -> None:
    """Independent of our decoder: a plain MessagePack reading of the body is the field
    array, with bytes as bin and text as str (docs/protocol.md §3.0)."""
    value = msgpack.unpackb(encode(message), raw=False)
    assert value == as_lists(message.to_fields())
    assert [type(v) for v in flatten(value)] == [type(v) for v in flatten(message.to_fields())]


def as_lists(value: Any) -> Any:
    return [as_lists(v) for v in value] if isinstance(value, list | tuple) else value


def flatten(value: Any) -> list[Any]:
    """Leaves of a field array, enumerations as plain int (as any decoder reads them)."""
    if isinstance(value, list | tuple):
        return [leaf for item in value for leaf in flatten(item)]
    return [int(value) if isinstance(value, int) and not isinstance(value, bool) else value]


@given(st.one_of(sts.commit_contents, sts.sealed_keys, sts.tickets))
def test_round_trip_of_signed_structures(value: CommitContent | SealedKey | Ticket) -> None:
    body = pack(value)
    assert body == pack(value.to_fields())  # the record is the array of its fields
    assert unpack(body, type(value), "test") == value


# Every record with a default is a whole body (messages, ticket contents): the decoder
# checks their field count itself. Records nested in others must have no defaults, or a
# missing trailing field would be filled in silently.
NESTED_RECORDS = [RosterEntry, SealedKey, Tile, Point, SignedTicket]


@pytest.mark.parametrize("cls", NESTED_RECORDS, ids=class_id)
def test_nested_records_have_no_defaults(cls: type[Record]) -> None:
    assert cls.__struct_defaults__ == ()


def test_records_are_frozen_array_like_and_strict() -> None:
    for cls in [*CLASSES, *NESTED_RECORDS, CommitContent, Ticket]:
        config = cls.__struct_config__
        assert (config.array_like, config.frozen, config.forbid_unknown_fields) == (True,) * 3


def test_enumerations_decode_to_their_enum_members() -> None:
    event = decode(FrameType.INPUT_EVENT, encode(InputEvent(InputKind.TEXT, text="hé")))
    assert isinstance(event, InputEvent)
    assert event.kind is InputKind.TEXT


def test_lobby_messages_on_the_wire() -> None:
    """ADMIT [member_id, admitted]; WAITING [[member_id, role, ticket], reason]; the
    ROSTER's lobby is its last field (docs/protocol.md §3.2, §3.20, §3.21)."""
    entry = RosterEntry(4, Role.PARTICIPANT, b"ticket")
    assert encode(Admit(4, True)) == pack([4, True])
    assert encode(Admit(4, False)) == pack([4, False])
    assert encode(Waiting(entry, WaitReason.APPROVAL)) == pack([[4, 2, b"ticket"], 1])
    assert encode(Waiting(entry, WaitReason.HOST_ABSENT)) == pack([[4, 2, b"ticket"], 2])
    assert (WaitReason.APPROVAL, WaitReason.HOST_ABSENT) == (1, 2)
    assert (FrameType.ADMIT, FrameType.WAITING) == (0x15, 0x16)
    roster = Roster(1, (), 0, 0, False, 3)
    assert roster.lobby == ()  # the default keeps old call sites working
    assert encode(roster) == pack([1, [], 0, 0, False, 3, [], 0])
    waiting = Roster(1, (), 0, 0, True, 3, (entry,))
    assert encode(waiting) == pack([1, [], 0, 0, True, 3, [[4, 2, b"ticket"]], 0])
    assert decode(FrameType.ROSTER, encode(waiting)) == waiting


def test_lobby_messages_match_positionally() -> None:
    entry = RosterEntry(4, Role.PARTICIPANT, b"ticket")
    match decode(FrameType.ADMIT, pack([7, False])):
        case Admit(member_id, admitted):
            assert (member_id, admitted) == (7, False)
        case _:
            pytest.fail("not an Admit")
    match decode(FrameType.WAITING, encode(Waiting(entry, WaitReason.HOST_ABSENT))):
        case Waiting(RosterEntry(member_id, role, _), reason):
            assert (member_id, role, reason) == (4, Role.PARTICIPANT, WaitReason.HOST_ABSENT)
            assert reason is WaitReason.HOST_ABSENT
        case _:
            pytest.fail("not a Waiting")


# Arbitrary input ----------------------------------------------------------------------


@pytest.mark.parametrize("frame_type", ALL_TYPES, ids=lambda t: t.name)
@settings(max_examples=30)
@given(body=st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_message_error(frame_type: FrameType, body: bytes) -> None:
    decodes_or_refuses(frame_type, body)


@pytest.mark.parametrize("frame_type", ALL_TYPES, ids=lambda t: t.name)
@settings(max_examples=30)
@given(value=sts.msgpack_values)
def test_arbitrary_msgpack_values_raise_only_message_error(
    frame_type: FrameType, value: Any
) -> None:
    decodes_or_refuses(frame_type, msgpack.packb(value, use_bin_type=True))


def paths(value: Any, prefix: tuple[int, ...] = ()) -> Iterator[tuple[int, ...]]:
    """Every position in a nested field array, inner arrays included."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from paths(item, (*prefix, index))


def replaced(fields: list[Any], path: tuple[int, ...], value: Any) -> list[Any]:
    result = copy.deepcopy(fields)
    target = result
    for index in path[:-1]:
        target = target[index]
    target[path[-1]] = value
    return result


def wrong_types(value: Any) -> list[Any]:
    """Values of another MessagePack type than ``value`` (bool and int count apart)."""
    if isinstance(value, bool):
        return [0, 1, None, "true"]
    if isinstance(value, int):
        return [True, False, float(value), None, str(value)]
    if isinstance(value, str):
        return [value.encode(), 0, None, [value]]
    if isinstance(value, bytes):
        return [value.hex(), 0, None, [value]]
    if isinstance(value, list):
        return [0, None, b"", "list"]
    raise AssertionError(f"unexpected field value {value!r}")


@pytest.mark.parametrize("cls", CLASSES, ids=class_id)
@settings(max_examples=15)
@given(data=st.data())
def test_wrong_field_types_are_refused(cls: type[Any], data: st.DataObject) -> None:
    fields = data.draw(sts.MESSAGES[cls]).to_fields()
    for path in paths(fields):
        for value in wrong_types(_at(fields, path)):
            with pytest.raises(MessageError):
                decode(cls.TYPE, pack(replaced(fields, path, value)))


def _at(fields: list[Any], path: tuple[int, ...]) -> Any:
    value: Any = fields
    for index in path:
        value = value[index]
    return value


@pytest.mark.parametrize("cls", CLASSES, ids=class_id)
@settings(max_examples=30)
@given(data=st.data())
def test_any_field_replaced_by_anything(cls: type[Any], data: st.DataObject) -> None:
    fields = data.draw(sts.MESSAGES[cls]).to_fields()
    all_paths = list(paths(fields))
    if not all_paths:
        return
    path = data.draw(st.sampled_from(all_paths))
    value = data.draw(sts.msgpack_values)
    decodes_or_refuses(cls.TYPE, pack(replaced(fields, path, value)))


@pytest.mark.parametrize("cls", CLASSES, ids=class_id)
@settings(max_examples=15)
@given(data=st.data())
def test_extra_and_missing_fields_are_refused(cls: type[Any], data: st.DataObject) -> None:
    fields = data.draw(sts.MESSAGES[cls]).to_fields()
    extra = data.draw(sts.msgpack_values)
    with pytest.raises(MessageError, match="unexpected field"):
        decode(cls.TYPE, pack([*fields, extra]))
    for keep in range(len(fields)):
        with pytest.raises(MessageError, match="missing field"):
            decode(cls.TYPE, pack(fields[:keep]))


def test_nested_records_must_have_exactly_their_fields() -> None:
    """Roster entries, tiles and points are field arrays too: no extra, none missing."""
    cases = [
        (FrameType.ROSTER, [1, [[1, 1, b""]], 0, 0, False, 0, [], 0], (1, 0)),
        (FrameType.ROSTER, [1, [], 0, 0, False, 0, [[1, 1, b""]], 0], (6, 0)),
        (FrameType.WAITING, [[1, 1, b""], 1], (0,)),
        (FrameType.MEMBER_JOINED, [1, 1, b""], ()),
        (FrameType.SCREEN_UPDATE, [1, 1, True, [[0, 0, 1, 1, 0, b""]]], (3, 0)),
        (FrameType.ANNOTATION, [0, 0, 1, [[0, 0], [1, 1]], False, 1], (3, 1)),
    ]
    for frame_type, fields, path in cases:
        decode(frame_type, pack(fields))
        record = _at(fields, path) if path else fields
        for changed in ([*record, 0], record[:-1]):
            body = pack(replaced(fields, path, changed) if path else changed)
            with pytest.raises(MessageError, match=r"unexpected field|missing field"):
                decode(frame_type, body)


def test_maps_are_refused() -> None:
    """No field is a map: a map anywhere is refused, whatever it announces."""
    for body in (b"\x81\xa1a\x00", b"\x91\x81\xa1a\x00", b"\x91\xdf\xff\xff\xff\xff"):
        with pytest.raises(MessageError, match=r"(an array of fields|Expected int), got object"):
            decode(FrameType.PING, body)


@pytest.mark.parametrize("frame_type", ALL_TYPES, ids=lambda t: t.name)
@pytest.mark.parametrize("value", [None, 0, "text", b"bin", True], ids=repr)
def test_body_must_be_an_array(frame_type: FrameType, value: Any) -> None:
    with pytest.raises(MessageError, match="array of fields"):
        decode(frame_type, pack(value))


# Ranges and sizes ---------------------------------------------------------------------

TILE = [0, 0, 1, 1, 0, b""]
ENTRY = [1, 1, b""]
BASELINES: dict[FrameType, list[Any]] = {
    FrameType.HELLO: [b"ticket", bytes(64)],
    FrameType.CHALLENGE: [bytes(32), "r1"],
    FrameType.ROSTER: [1, [ENTRY], 0, 0, False, 0, [ENTRY], 0],
    FrameType.RECORDING: [1, True],
    FrameType.MEMBER_LEFT: [1, 1],
    FrameType.ROLE_CHANGE: [1, 1],
    FrameType.CONSENT_PROMPT: [1, 1],
    FrameType.CONSENT_OUTCOME: [1, 1, 1, 1],
    FrameType.REVOKE: [1, 1, 1],
    FrameType.END: [1],
    FrameType.EXPEL: [1],
    FrameType.KEY_COMMIT: [b"", bytes(64)],
    FrameType.ERROR: [4000, "text"],
    FrameType.PING: [0],
    FrameType.REFRESH: [0],
    FrameType.ADMIT: [1, True],
    FrameType.WAITING: [ENTRY, 1],
    FrameType.SCREEN_UPDATE: [1, 1, True, [TILE]],
    FrameType.CURSOR: [0, 0, True],
    FrameType.SHARE_STATE: [1, False, False],
    FrameType.INPUT_EVENT: [1, 0, 0, 0, False, 0, 0, 0, 0, ""],
    FrameType.CHAT: ["hi", 1, False],
    FrameType.ANNOTATION: [0, 0, 1, [[0, 0]], False, 1],
    FrameType.NOTES: ["n"],
    FrameType.FILE_CHUNK: [1, 0, b"x"],
    FrameType.FILE_OFFER: [1, "a", 0, bytes(32), 1],
    FrameType.FILE_ANSWER: [1, True, 0],
    FrameType.FILE_END: [1, 1],
}
SIDE = limits.MAX_SCREEN_SIDE
KIB = limits.KIB

# (frame type, path into the baseline, value at the limit, value beyond it)
LIMITS: list[tuple[FrameType, tuple[int, ...], Any, Any]] = [
    (FrameType.HELLO, (0,), bytes(limits.MAX_TICKET_BYTES), bytes(limits.MAX_TICKET_BYTES + 1)),
    (FrameType.HELLO, (1,), bytes(64), bytes(65)),
    (FrameType.CHALLENGE, (0,), bytes(32), bytes(33)),
    (FrameType.CHALLENGE, (1,), "r" * limits.MAX_RELAY_NAME_CHARS, "r" * 33),
    (FrameType.CHALLENGE, (1,), "relay-1", "relay_1"),
    (FrameType.ROSTER, (0,), 1, 0),
    (FrameType.ROSTER, (0,), MAX_MEMBER_ID, U32),
    (FrameType.ROSTER, (2,), 0, -1),
    (FrameType.ROSTER, (3,), MAX_MEMBER_ID, U32),
    (FrameType.ROSTER, (1, 0, 0), 1, 0),
    (FrameType.ROSTER, (1, 0, 1), 2, 3),
    (FrameType.ROSTER, (1, 0, 1), 1, 0),
    (FrameType.ROSTER, (1,), [ENTRY] * limits.MAX_MEMBERS, [ENTRY] * (limits.MAX_MEMBERS + 1)),
    (FrameType.ROSTER, (5,), U32, U32 + 1),
    (FrameType.ROSTER, (5,), 0, -1),
    (FrameType.ROSTER, (6,), [ENTRY] * limits.MAX_MEMBERS, [ENTRY] * (limits.MAX_MEMBERS + 1)),
    (FrameType.ROSTER, (6, 0, 0), 1, 0),
    (FrameType.ROSTER, (6, 0, 1), 2, 3),
    (FrameType.ROSTER, (7,), MAX_MEMBER_ID, U32),
    (FrameType.ROSTER, (7,), 0, -1),
    (FrameType.RECORDING, (0,), MAX_MEMBER_ID, U32),
    (FrameType.RECORDING, (0,), 1, 0),
    (FrameType.ADMIT, (0,), MAX_MEMBER_ID, MAX_MEMBER_ID + 1),
    (FrameType.ADMIT, (0,), 1, 0),
    (FrameType.WAITING, (0, 0), MAX_MEMBER_ID, 0),
    (FrameType.WAITING, (0, 1), 2, 3),
    (FrameType.WAITING, (0, 2), bytes(limits.MAX_TICKET_BYTES), bytes(limits.MAX_TICKET_BYTES + 1)),
    (FrameType.WAITING, (1,), 2, 3),
    (FrameType.WAITING, (1,), 1, 0),
    (FrameType.MEMBER_LEFT, (1,), 3, 4),
    (FrameType.ROLE_CHANGE, (0,), MAX_MEMBER_ID, MAX_MEMBER_ID + 1),
    (FrameType.CONSENT_PROMPT, (0,), 2, 3),
    (FrameType.CONSENT_OUTCOME, (3,), 4, 5),
    (FrameType.REVOKE, (2,), max(RevokeReason), max(RevokeReason) + 1),
    (FrameType.END, (0,), max(EndReason), max(EndReason) + 1),
    (FrameType.END, (0,), 1, 0),
    (FrameType.EXPEL, (0,), 1, -1),
    (FrameType.KEY_COMMIT, (1,), bytes(64), bytes(63)),
    (FrameType.KEY_COMMIT, (1,), bytes(64), bytes(65)),
    (FrameType.ERROR, (0,), 4999, 5000),
    (FrameType.ERROR, (0,), 0, -1),
    (FrameType.ERROR, (1,), "é" * 500, "é" * 501),
    (FrameType.PING, (0,), U64, -1),
    (FrameType.REFRESH, (0,), MAX_MEMBER_ID, U32),
    (FrameType.SCREEN_UPDATE, (0,), SIDE, SIDE + 1),
    (FrameType.SCREEN_UPDATE, (1,), 1, 0),
    (FrameType.SCREEN_UPDATE, (3, 0, 0), SIDE - 1, SIDE),
    (FrameType.SCREEN_UPDATE, (3, 0, 1), 0, -1),
    (FrameType.SCREEN_UPDATE, (3, 0, 2), SIDE, SIDE + 1),
    (FrameType.SCREEN_UPDATE, (3, 0, 3), 1, 0),
    (FrameType.SCREEN_UPDATE, (3, 0, 4), 6, 7),  # the last TileEncoding, ZLIB_GREY
    (FrameType.SCREEN_UPDATE, (3,), [TILE] * limits.MAX_TILES_PER_UPDATE,
     [TILE] * (limits.MAX_TILES_PER_UPDATE + 1)),
    (FrameType.CURSOR, (0,), SIDE, SIDE + 1),
    (FrameType.CURSOR, (1,), 0, -1),
    (FrameType.SHARE_STATE, (0,), 3, 4),
    (FrameType.SHARE_STATE, (0,), 1, 0),
    (FrameType.INPUT_EVENT, (0,), 5, 6),
    (FrameType.INPUT_EVENT, (0,), 1, 0),
    (FrameType.INPUT_EVENT, (1,), SIDE, SIDE + 1),
    (FrameType.INPUT_EVENT, (3,), 32, 33),
    (FrameType.INPUT_EVENT, (5,), -100, -101),
    (FrameType.INPUT_EVENT, (6,), 100, 101),
    (FrameType.INPUT_EVENT, (7,), 0x1FFFFFFF, 0x20000000),
    (FrameType.INPUT_EVENT, (8,), 15, 16),
    (FrameType.INPUT_EVENT, (9,), "x" * limits.MAX_TYPED_TEXT_CHARS,
     "x" * (limits.MAX_TYPED_TEXT_CHARS + 1)),
    (FrameType.CHAT, (0,), "x", ""),
    (FrameType.CHAT, (0,), "👋" * limits.MAX_CHAT_CHARS, "👋" * (limits.MAX_CHAT_CHARS + 1)),
    (FrameType.CHAT, (1,), U32, U32 + 1),
    (FrameType.CHAT, (1,), 0, -1),
    (FrameType.ANNOTATION, (0,), U32, -1),
    (FrameType.ANNOTATION, (1,), 0xFFFFFF, 0x1000000),
    (FrameType.ANNOTATION, (2,), 64, 65),
    (FrameType.ANNOTATION, (2,), 1, 0),
    (FrameType.ANNOTATION, (3, 0, 1), SIDE, SIDE + 1),
    (FrameType.ANNOTATION, (3,), [[0, 0]] * limits.MAX_ANNOTATION_POINTS,
     [[0, 0]] * (limits.MAX_ANNOTATION_POINTS + 1)),
    (FrameType.ANNOTATION, (5,), 3, 4),
    (FrameType.ANNOTATION, (5,), 1, 0),
    (FrameType.NOTES, (0,), "x", ""),
    (FrameType.NOTES, (0,), "👋" * limits.MAX_NOTES_CHARS, "👋" * (limits.MAX_NOTES_CHARS + 1)),
    (FrameType.FILE_CHUNK, (0,), 1, 0),
    (FrameType.FILE_CHUNK, (0,), U32, U32 + 1),
    (FrameType.FILE_CHUNK, (1,), limits.MAX_FILE_BYTES, limits.MAX_FILE_BYTES + 1),
    (FrameType.FILE_CHUNK, (2,), bytes(limits.MAX_FILE_CHUNK), bytes(limits.MAX_FILE_CHUNK + 1)),
    (FrameType.FILE_CHUNK, (2,), b"x", b""),
    (FrameType.FILE_OFFER, (1,), "n" * limits.MAX_FILE_NAME_CHARS,
     "n" * (limits.MAX_FILE_NAME_CHARS + 1)),
    (FrameType.FILE_OFFER, (1,), "n", ""),
    (FrameType.FILE_OFFER, (2,), limits.MAX_FILE_BYTES, limits.MAX_FILE_BYTES + 1),
    (FrameType.FILE_OFFER, (3,), bytes(32), bytes(33)),
    (FrameType.FILE_OFFER, (3,), bytes(32), bytes(31)),
    (FrameType.FILE_OFFER, (4,), limits.MAX_FILE_CHUNK, limits.MAX_FILE_CHUNK + 1),
    (FrameType.FILE_OFFER, (4,), 1, 0),
    (FrameType.FILE_ANSWER, (2,), limits.MAX_FILE_BYTES, limits.MAX_FILE_BYTES + 1),
    (FrameType.FILE_END, (1,), 4, 5),
]  # fmt: skip


def limit_id(case: tuple[FrameType, tuple[int, ...], Any, Any]) -> str:
    frame_type, path, _, beyond = case
    shown = f"len{len(beyond)}" if isinstance(beyond, bytes | str | list) else repr(beyond)
    return f"{frame_type.name}-{'.'.join(map(str, path))}-{shown}"


@pytest.mark.parametrize("case", LIMITS, ids=limit_id)
def test_limits(case: tuple[FrameType, tuple[int, ...], Any, Any]) -> None:
    frame_type, path, at_limit, beyond = case
    baseline = BASELINES[frame_type]
    accepted = decode(frame_type, pack(replaced(baseline, path, at_limit)))
    assert encode(accepted) == pack(replaced(baseline, path, at_limit))
    with pytest.raises(MessageError):
        decode(frame_type, pack(replaced(baseline, path, beyond)))


def test_every_baseline_decodes() -> None:
    for frame_type, fields in BASELINES.items():
        assert encode(decode(frame_type, pack(fields))) == pack(fields)


@pytest.mark.parametrize(
    ("frame_type", "header"),
    [
        (FrameType.HELLO, b"\xc6"),  # bin 32
        (FrameType.CHAT, b"\xdb"),  # str 32
        (FrameType.ROSTER, b"\xdd"),  # array 32
    ],
    ids=["bin", "str", "array"],
)
def test_announced_sizes_are_refused_before_buffering(frame_type: FrameType, header: bytes) -> None:
    """A huge announced length with no data behind it is refused at once."""
    fields = pack(BASELINES.get(frame_type, ["x"]))
    body = fields[:1] + header + b"\xff\xff\xff\xff"  # the first field: 2^32 - 1 long
    with pytest.raises(MessageError):
        decode(frame_type, body)


def test_strings_and_binaries_above_the_frame_limit_are_refused() -> None:
    big = limits.MAX_CONTROL_BODY + 1
    with pytest.raises(MessageError, match=r"length <= 4096 \(field 0\)"):
        decode(FrameType.HELLO, pack([bytes(big), bytes(64)]))
    with pytest.raises(MessageError, match=r"length <= 500 \(field 1\)"):
        decode(FrameType.ERROR, pack([1, "x" * big]))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        pack([5])[:-1],
        pack([5]) + b"\x00",
        b"\x81\x00\x00",  # a map
        b"\x91\xd4\x01\x00",  # an extension type
        b"\x91\xd7\xff" + bytes(8),  # a timestamp (extension -1)
        b"\xc1",  # never used
        b"\x91" * 100_000 + b"\x90",  # nesting far beyond any message
    ],
    ids=["empty", "truncated", "trailing", "map", "ext", "timestamp", "c1", "deep"],
)
def test_malformed_encodings(body: bytes) -> None:
    with pytest.raises(MessageError) as error:
        decode(FrameType.PING, body)
    assert error.value.close_code == 4002


def test_invalid_utf8_is_refused() -> None:
    with pytest.raises(MessageError):
        decode(FrameType.CHAT, b"\x93\xa2\xc3\x28\x01\xc2")


def test_same_fields_of_another_type() -> None:
    with pytest.raises(MessageError):
        decode(FrameType.CHAT, encode(Ping(5)))
    with pytest.raises(MessageError):
        decode(FrameType.PING, encode(Chat("5")))
    with pytest.raises(MessageError):
        decode(FrameType.HELLO, encode(Chat("ticket")))
    hello = Hello(b"ticket", bytes(64))
    assert decode(FrameType.HELLO, encode(hello)) == hello


def test_errors_report_the_type_and_the_position() -> None:
    with pytest.raises(MessageError, match=r"^ERROR: Expected int, got str \(field 0\)$"):
        decode(FrameType.ERROR, pack(["two", "x"]))
    with pytest.raises(MessageError, match=r"^ROSTER: missing field 2 \(field 1\.0\)$"):
        decode(FrameType.ROSTER, pack([1, [[1, 1]], 0, 0, False, 0, [], 0]))
    with pytest.raises(MessageError, match=r"^ROSTER: 1 unexpected fields \(field 6\.0\)$"):
        decode(FrameType.ROSTER, pack([1, [], 0, 0, False, 0, [[1, 1, b"", 0]], 0]))
    with pytest.raises(MessageError, match=r"^END: Invalid enum value 9 \(field 0\)$"):
        decode(FrameType.END, pack([9]))
    with pytest.raises(MessageError, match=r"^PING: expected an array of fields, got int$"):
        decode(FrameType.PING, pack(5))
    with pytest.raises(MessageError, match=r"^PING: not a valid encoding \("):
        decode(FrameType.PING, b"")


def test_only_message_error_escapes_for_what_msgspec_refuses() -> None:
    """msgspec's own errors (and ValueError from a record's checks) never escape."""
    for frame_type, body in [
        (FrameType.FILE_OFFER, pack([1, "a", 1, bytes(31), 1])),
        (FrameType.PING, b"\xc1"),
        (FrameType.CHAT, b"\x93\xa2\xc3\x28\x01\xc2"),
        (FrameType.PING, b"\x91\xd7\xff" + bytes(8)),
    ]:
        with pytest.raises(MessageError) as error:
            decode(frame_type, body)
        assert type(error.value) is MessageError
        assert error.value.__cause__ is None and error.value.__suppress_context__
