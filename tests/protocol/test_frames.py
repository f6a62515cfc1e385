"""relaydesk.protocol.frames: the header, Frame.parse and the StreamDecoder."""

from __future__ import annotations

import struct

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

import strategies as sts
from relaydesk import limits
from relaydesk.errors import FrameError, FrameTooLarge
from relaydesk.protocol.frames import (
    EVERYONE,
    HEADER_SIZE,
    KNOWN_FLAGS,
    VERSION,
    Channel,
    Flags,
    Frame,
    FrameType,
    Header,
    StreamDecoder,
    max_body,
    parse_header,
)

UID = bytes(range(16))
KNOWN_TYPES = {int(t) for t in FrameType}


def header_bytes(
    version: int = VERSION,
    type_: int = FrameType.CHAT,
    flags: int = 0,
    length: int = 0,
    uid: bytes = UID,
) -> bytes:
    """A header packed by hand, independently of Header.pack."""
    return struct.pack(">BBH16sIIIQI", version, type_, flags, uid, 1, 2, 3, 4, length)


def test_header_layout_is_fixed() -> None:
    header = Header(
        FrameType.SCREEN_UPDATE, UID, 0x01020304, 0x0A0B0C0D, EVERYONE, 0x1122334455667788,
        Flags.KEYFRAME | Flags.SUPERSEDABLE,
    )  # fmt: skip
    assert HEADER_SIZE == 44
    assert header.pack(0x00ABCDEF) == bytes.fromhex(
        "01" "40" "0003" "000102030405060708090a0b0c0d0e0f" "01020304" "0a0b0c0d" "ffffffff"
        "1122334455667788" "00abcdef"
    )  # fmt: skip


@given(sts.frames)
def test_round_trip(frame: Frame) -> None:
    data = frame.serialize()
    assert len(data) == HEADER_SIZE + len(frame.body)
    assert data[HEADER_SIZE:] == frame.body
    parsed = Frame.parse(data)
    assert parsed == frame
    assert parsed.serialize() == data
    assert isinstance(parsed.header.type, FrameType)
    assert isinstance(parsed.header.flags, Flags)


@given(sts.headers, st.integers(0, limits.MAX_CONTROL_BODY))
def test_parse_header_returns_announced_length(header: Header, length: int) -> None:
    assert parse_header(header.pack(length)) == (header, length)


@given(st.integers(0, 255).filter(lambda v: v != VERSION))
def test_rejects_other_versions(version: int) -> None:
    with pytest.raises(FrameError, match="version"):
        Frame.parse(header_bytes(version=version))


@given(st.integers(0, 255).filter(lambda v: v not in KNOWN_TYPES))
@example(0x00)
@example(0x1A)
@example(0x3F)
@example(0x7F)
def test_rejects_unknown_types(type_: int) -> None:
    with pytest.raises(FrameError, match="unknown frame type"):
        Frame.parse(header_bytes(type_=type_))


@given(st.integers(0, 0xFFFF).filter(lambda f: f & ~int(KNOWN_FLAGS)))
@example(0x0008)
@example(0x8000)
def test_rejects_unknown_flags(flags: int) -> None:
    with pytest.raises(FrameError, match="unknown flags"):
        Frame.parse(header_bytes(flags=flags))


@given(st.binary(max_size=50), st.integers(0, 60))
def test_rejects_length_mismatch(body: bytes, announced: int) -> None:
    assume(announced != len(body))
    with pytest.raises(FrameError, match="announces"):
        Frame.parse(header_bytes(length=announced) + body)


@pytest.mark.parametrize("length", [0, 1, HEADER_SIZE - 1, HEADER_SIZE + 1])
def test_rejects_wrong_header_size(length: int) -> None:
    data = (header_bytes() * 2)[:length]
    with pytest.raises(FrameError):
        parse_header(data)
    if length < HEADER_SIZE:
        with pytest.raises(FrameError):
            Frame.parse(data)


@pytest.mark.parametrize("frame_type", list(FrameType))
def test_oversized_length_is_refused_from_the_header_alone(frame_type: FrameType) -> None:
    limit = limits.MAX_FRAME_BODY if frame_type.is_content else limits.MAX_CONTROL_BODY
    assert max_body(frame_type) == limit
    # At the limit: the header is fine (the body is simply missing).
    assert parse_header(header_bytes(type_=frame_type, length=limit))[1] == limit
    with pytest.raises(FrameError) as missing:
        Frame.parse(header_bytes(type_=frame_type, length=limit))
    assert type(missing.value) is FrameError
    # Above it: FrameTooLarge, with no body present at all.
    for length in (limit + 1, 0xFFFFFFFF):
        data = header_bytes(type_=frame_type, length=length)
        with pytest.raises(FrameTooLarge):
            Frame.parse(data)
        decoder = StreamDecoder()
        with pytest.raises(FrameTooLarge):
            decoder.receive_data(data)


def test_frame_too_large_carries_its_close_code() -> None:
    with pytest.raises(FrameTooLarge) as error:
        parse_header(header_bytes(length=limits.MAX_FRAME_BODY + 1))
    assert error.value.close_code == 4001


def test_channels_of_content_types() -> None:
    assert FrameType.SCREEN_UPDATE.channel is FrameType.CURSOR.channel is Channel.SCREEN
    assert FrameType.INPUT_EVENT.channel is Channel.INPUT
    assert FrameType.CHAT.channel is Channel.CHAT
    assert FrameType.ANNOTATION.channel is Channel.ANNOTATION
    assert FrameType.FILE_CHUNK.channel is Channel.FILE
    for frame_type in FrameType:
        assert frame_type.is_content == (frame_type >= 0x40)
        if not frame_type.is_content:
            with pytest.raises(ValueError, match="control type"):
                _ = frame_type.channel


# StreamDecoder ------------------------------------------------------------------------


def decode_in_chunks(data: bytes, cuts: list[int]) -> list[Frame]:
    decoder = StreamDecoder()
    received: list[Frame] = []
    start = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        decoder.receive_data(data[start:cut])
        received.extend(decoder.frames_received())
        start = cut
    assert decoder.buffered == 0
    return received


@given(st.lists(sts.frames, min_size=1, max_size=5), st.data())
def test_stream_split_anywhere(frames: list[Frame], data: st.DataObject) -> None:
    stream = b"".join(frame.serialize() for frame in frames)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12))
    assert decode_in_chunks(stream, cuts) == frames


@given(st.lists(sts.frames, min_size=1, max_size=4))
def test_stream_fed_one_byte_at_a_time(frames: list[Frame]) -> None:
    stream = b"".join(frame.serialize() for frame in frames)
    assert decode_in_chunks(stream, list(range(len(stream)))) == frames


@given(st.lists(sts.frames, min_size=2, max_size=6))
def test_stream_in_one_piece(frames: list[Frame]) -> None:
    """Several complete frames in one receive_data call, empty bodies included."""
    stream = b"".join(frame.serialize() for frame in frames)
    assert decode_in_chunks(stream, []) == frames


def test_two_empty_frames_in_one_call() -> None:
    frame = Frame(Header(FrameType.PING, UID, 0, 1, 0, 1), b"")
    decoder = StreamDecoder()
    decoder.receive_data(frame.serialize() * 3)
    assert list(decoder.frames_received()) == [frame] * 3
    assert list(decoder.frames_received()) == []


def test_decoder_holds_a_partial_frame_back() -> None:
    frame = Frame(Header(FrameType.CHAT, UID, 1, 2, 3, 4), b"sealed body")
    data = frame.serialize()
    decoder = StreamDecoder()
    decoder.receive_data(data[:-1])
    assert list(decoder.frames_received()) == []
    assert decoder.buffered == len(data) - 1
    decoder.receive_data(data[-1:])
    assert list(decoder.frames_received()) == [frame]


@pytest.mark.parametrize(
    "bad",
    [
        header_bytes(version=2),
        header_bytes(type_=0x7F),
        header_bytes(flags=0x0100),
        header_bytes(length=limits.MAX_FRAME_BODY + 1),
    ],
    ids=["version", "type", "flags", "too-large"],
)
def test_decoder_stays_broken_after_an_error(bad: bytes) -> None:
    good = Frame(Header(FrameType.CHAT, UID, 1, 2, 3, 4), b"body").serialize()
    decoder = StreamDecoder()
    with pytest.raises(FrameError) as first:
        decoder.receive_data(good + bad + good)
    assert list(decoder.frames_received()) == [Frame.parse(good)]
    assert decoder.buffered == 0  # nothing half-received is kept
    for data in (good, b"", bad):
        with pytest.raises(FrameError) as again:
            decoder.receive_data(data)
        assert again.value is first.value
    assert list(decoder.frames_received()) == []


def test_decoder_error_in_a_later_chunk() -> None:
    decoder = StreamDecoder()
    bad = header_bytes(type_=0x00)
    decoder.receive_data(bad[:10])
    with pytest.raises(FrameError):
        decoder.receive_data(bad[10:])
    with pytest.raises(FrameError):
        decoder.receive_data(Frame(Header(FrameType.PING, UID, 0, 1, 0, 1), b"").serialize())


# Arbitrary bytes ----------------------------------------------------------------------

# Mostly-valid input finds more than uniform noise: a real header followed by anything,
# or a real frame with a few bytes overwritten.
valid_prefixes = st.builds(
    lambda header, length, tail: header.pack(length) + tail,
    sts.headers,
    st.integers(0, 80),
    st.binary(max_size=100),
)


def overwrite(data: bytes, position: int, value: int) -> bytes:
    position %= len(data)
    return data[:position] + bytes([value]) + data[position + 1 :]


mutated_frames = st.builds(
    lambda frame, position, value: overwrite(frame.serialize(), position, value),
    sts.frames,
    st.integers(0, 1000),
    st.integers(0, 255),
)
hostile_bytes = st.binary(max_size=300) | valid_prefixes | mutated_frames


@given(hostile_bytes)
def test_parse_raises_only_frame_errors(data: bytes) -> None:
    try:
        frame = Frame.parse(data)
    except FrameError:
        return
    assert frame.serialize() == data


@given(st.lists(hostile_bytes, max_size=5))
def test_decoder_raises_only_frame_errors(chunks: list[bytes]) -> None:
    decoder = StreamDecoder()
    received: list[Frame] = []
    try:
        for chunk in chunks:
            decoder.receive_data(chunk)
            received.extend(decoder.frames_received())
    except FrameError:
        return
    stream = b"".join(chunks)
    consumed = b"".join(frame.serialize() for frame in received)
    assert stream.startswith(consumed)
    assert len(stream) - len(consumed) == decoder.buffered
