"""The recording file (docs/protocol.md §12): an intact file verifies; any changed,
removed, inserted, reordered, cut or appended byte is detected and located (the entry
whose bytes hold it, and where that entry starts)."""

from __future__ import annotations

import hashlib
import io
import stat
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relaydesk.errors import RecordingError, RecordingMalformed, RecordingTampered
from relaydesk.recording.format import (
    ENTRY_HEAD,
    FILE_HEADER,
    HASH_SIZE,
    Entry,
    EntryKind,
    encode_entry,
    entry_hash,
    read_entries,
)
from relaydesk.recording.verify import fingerprint, verify_file, verify_stream
from support.recording_files import RECORDER_SEED, Made, make_recording


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    return make_recording(tmp_path_factory.mktemp("recording") / "session.rdrec")


@pytest.fixture(scope="module")
def data(made: Made) -> bytes:
    return made.path.read_bytes()


@pytest.fixture(scope="module")
def entries(data: bytes) -> list[Entry]:
    return list(read_entries(io.BytesIO(data)))


def verify_bytes(data: bytes, key: bytes | None = None) -> None:
    verify_stream(io.BytesIO(data), key)


def entry_holding(entries: list[Entry], position: int) -> int:
    """The index of the entry whose bytes hold ``position`` (-1: the file header)."""
    if position < len(FILE_HEADER):
        return -1
    return next(e.index for e in entries if e.offset <= position < e.end)


def test_an_intact_recording_verifies_with_what_it_holds(made: Made, entries: list[Entry]) -> None:
    summary = verify_file(made.path)
    assert summary.entries == len(entries)
    assert {m: t.display_name for m, t in summary.tickets.items()} == {1: "Hannah", 2: "Alice"}
    assert summary.start.recorder_key == made.key.public_key().public_bytes_raw()
    assert summary.duration == pytest.approx(len(made.pictures) * 0.5 + 0.5)
    assert summary.signatures[2] >= len(made.pictures)  # Alice's screen updates and chat
    assert summary.signatures[1] >= 1  # the recorder's own frames, as sent
    assert entries[0].kind is EntryKind.START and entries[-1].kind is EntryKind.END
    # The pinned key is accepted, another refused.
    verify_file(made.path, made.key.public_key().public_bytes_raw())
    with pytest.raises(RecordingTampered, match=r"entry 0 at byte 12: recorded with the key"):
        verify_file(made.path, bytes(32))


def test_the_file_is_its_owners_alone_and_never_replaces_another(made: Made) -> None:
    assert stat.S_IMODE(made.path.stat().st_mode) == 0o600
    with pytest.raises(RecordingError, match="cannot create"):
        make_recording(made.path)


@settings(max_examples=300)
@given(st.data())
def test_any_changed_byte_is_detected_where_it_is(
    data: bytes, entries: list[Entry], draw: st.DataObject
) -> None:
    position = draw.draw(st.integers(0, len(data) - 1), label="position")
    flip = draw.draw(st.integers(1, 255), label="xor")
    changed = bytearray(data)
    changed[position] ^= flip
    with pytest.raises(RecordingError) as caught:
        verify_bytes(bytes(changed))
    assert caught.value.entry == entry_holding(entries, position)
    assert caught.value.offset == (
        0 if position < len(FILE_HEADER) else entries[caught.value.entry].offset
    )


def test_every_byte_of_the_header_and_of_each_entry_head_is_checked(
    data: bytes, entries: list[Entry]
) -> None:
    """Exhaustive where a flip is most likely to slip through: the file header, and each
    entry's kind, time and length."""
    positions = list(range(len(FILE_HEADER)))
    positions += [e.offset + i for e in entries for i in range(ENTRY_HEAD.size)]
    positions += [e.end - 1 for e in entries]  # the last byte of each stored hash
    for position in positions:
        changed = bytearray(data)
        changed[position] ^= 0x01
        with pytest.raises(RecordingError) as caught:
            verify_bytes(bytes(changed))
        assert caught.value.entry == entry_holding(entries, position), position


def without(data: bytes, entry: Entry) -> bytes:
    return data[: entry.offset] + data[entry.end :]


def test_a_removed_entry_is_detected_where_it_was(data: bytes, entries: list[Entry]) -> None:
    for entry in entries[1:]:
        with pytest.raises(RecordingTampered) as caught:
            verify_bytes(without(data, entry))
        assert (caught.value.entry, caught.value.offset) == (entry.index, entry.offset)


def test_two_swapped_entries_are_detected_at_the_first(data: bytes, entries: list[Entry]) -> None:
    for first, second in [
        (entries[3], entries[4]),
        (entries[5], entries[9]),
        (entries[1], entries[-1]),
    ]:
        a, b = data[first.offset : first.end], data[second.offset : second.end]
        swapped = (
            data[: first.offset] + b + data[first.end : second.offset] + a + data[second.end :]
        )
        with pytest.raises(RecordingTampered) as caught:
            verify_bytes(swapped)
        assert (caught.value.entry, caught.value.offset) == (first.index, first.offset)


def test_an_inserted_entry_is_detected_where_it_went_in(data: bytes, entries: list[Entry]) -> None:
    copy = entries[6]
    inserted = data[: entries[4].offset] + data[copy.offset : copy.end] + data[entries[4].offset :]
    with pytest.raises(RecordingTampered) as caught:
        verify_bytes(inserted)
    assert (caught.value.entry, caught.value.offset) == (4, entries[4].offset)


def test_a_recording_cut_short_anywhere_is_detected(data: bytes, entries: list[Entry]) -> None:
    for entry in entries:
        # Cut at the entry's start: every entry before is whole, but there is no END.
        with pytest.raises(RecordingTampered, match=r"cut short|no entries") as caught:
            verify_bytes(data[: entry.offset])
        assert (caught.value.entry, caught.value.offset) == (entry.index, entry.offset)
        # Cut inside it.
        with pytest.raises(RecordingTampered, match="cut short") as caught:
            verify_bytes(data[: entry.end - 1])
        assert (caught.value.entry, caught.value.offset) == (entry.index, entry.offset)


def test_anything_appended_after_the_end_is_detected(data: bytes, entries: list[Entry]) -> None:
    end = entries[-1]
    # A well-formed entry chained to the END: still refused, it follows the END.
    appended = encode_entry(end.hash, EntryKind.FRAME_IN, end.time_ms, b"more")
    with pytest.raises(RecordingTampered, match="after the END") as caught:
        verify_bytes(data + appended)
    assert (caught.value.entry, caught.value.offset) == (end.index + 1, end.end)
    for garbage in (b"\x04", b"x" * 100, data[len(FILE_HEADER) :]):
        with pytest.raises(RecordingTampered) as caught:
            verify_bytes(data + garbage)
        assert (caught.value.entry, caught.value.offset) == (end.index + 1, end.end)


def test_a_chain_rewritten_from_some_entry_on_fails_the_recorders_signature(
    data: bytes, entries: list[Entry]
) -> None:
    """Whoever changes an entry and computes every hash after it anew still lacks the
    recorder's key: the next signed entry (here the END) names the rewrite."""
    victim = entries[6]  # a screen update of Alice's
    assert victim.kind is EntryKind.FRAME_IN
    body = bytearray(victim.body)
    body[-70] ^= 0x01  # in the sealed content
    rebuilt, previous = bytearray(data[: victim.offset]), victim.previous
    for entry in entries[victim.index :]:
        new_body = bytes(body) if entry.index == victim.index else entry.body
        head = ENTRY_HEAD.pack(entry.kind, entry.time_ms, len(new_body))
        previous = entry_hash(previous, head, new_body)
        rebuilt += head + new_body + previous
    with pytest.raises(RecordingTampered) as caught:
        verify_bytes(bytes(rebuilt))
    # The sender's signature on that frame fails first, at the very entry.
    assert (caught.value.entry, caught.value.offset) == (victim.index, victim.offset)
    # A change no sender signed (a control frame of the relay's) is caught by the
    # recorder's signature at the END.
    relay_entry = entries[5]  # the relay's GRANT
    assert relay_entry.kind is EntryKind.FRAME_IN
    body = bytearray(relay_entry.body)
    body[39] ^= 0x01  # the relay's sequence number: a control header, signed by nobody
    rebuilt, previous = bytearray(data[: relay_entry.offset]), relay_entry.previous
    for entry in entries[relay_entry.index :]:
        new_body = bytes(body) if entry.index == relay_entry.index else entry.body
        head = ENTRY_HEAD.pack(entry.kind, entry.time_ms, len(new_body))
        previous = entry_hash(previous, head, new_body)
        rebuilt += head + new_body + previous
    with pytest.raises(RecordingTampered, match="signature") as caught:
        verify_bytes(bytes(rebuilt))
    assert caught.value.entry == entries[-1].index


def test_an_entry_announcing_more_than_its_limit_is_refused_before_it_is_read() -> None:
    previous = hashlib.sha256(b"x").digest()
    head = ENTRY_HEAD.pack(EntryKind.FRAME_IN, 0, 0xFFFFFFFF)

    class Counting(io.BytesIO):
        asked = 0

        def read(self, size: int | None = -1) -> bytes:
            Counting.asked = max(Counting.asked, size or 0)
            return super().read(size)

    stream = Counting(FILE_HEADER + head + previous)
    with pytest.raises(RecordingTampered, match="above its limit"):
        list(read_entries(stream))
    assert Counting.asked <= HASH_SIZE  # the 4 GiB body was never asked for


def test_not_a_recording_and_other_versions_are_refused(data: bytes) -> None:
    for bad in (b"", b"PK\x03\x04" + bytes(20), data[:7]):
        with pytest.raises(RecordingMalformed, match="not a relaydesk recording"):
            verify_bytes(bad)
    newer = data[:8] + struct.pack(">H", 2) + data[10:]
    with pytest.raises(RecordingMalformed, match="format 2"):
        verify_bytes(newer)


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_recording_errors(garbage: bytes) -> None:
    for data in (garbage, FILE_HEADER + garbage):
        with pytest.raises(RecordingError):
            verify_bytes(data)


def test_the_fingerprint_is_of_the_key(made: Made) -> None:
    public = made.key.public_key().public_bytes_raw()
    assert fingerprint(public).replace(" ", "") == hashlib.sha256(public).hexdigest()[:32]
    assert fingerprint(bytes(32)) != fingerprint(RECORDER_SEED)
