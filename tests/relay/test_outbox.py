"""One receiver's queue: screen updates may be dropped for a keyframe, nothing else is."""

from __future__ import annotations

from relaydesk.protocol.frames import EVERYONE, Flags, FrameType, Header
from relaydesk.relay.outbox import Outbox

UID = bytes(16)
PRESENTER, OTHER = 1, 2


def frame(kind: FrameType, size: int, flags: Flags = Flags.NONE, sender: int = PRESENTER):
    header = Header(kind, UID, 1, sender, EVERYONE, 1, flags)
    return header, bytes([kind]) * size


def test_frames_come_out_in_order() -> None:
    box = Outbox(screen_limit=1000, total_limit=10_000)
    items = [frame(FrameType.SCREEN_UPDATE, 10), frame(FrameType.CHAT, 5, sender=OTHER)]
    for header, data in items:
        assert box.put(header, data) is False
    assert box.take() == [data for _, data in items]
    assert box.take() == []


def test_a_backlog_of_screen_updates_is_dropped_and_a_keyframe_requested() -> None:
    box = Outbox(screen_limit=100, total_limit=10_000)
    chat = frame(FrameType.CHAT, 30, sender=OTHER)
    box.put(*frame(FrameType.SCREEN_UPDATE, 60))
    box.put(*chat)
    assert box.put(*frame(FrameType.SCREEN_UPDATE, 60)) is True  # over the limit
    assert box.awaiting_keyframe
    # deltas are useless until a whole picture arrives: dropped without asking again
    assert box.put(*frame(FrameType.SCREEN_UPDATE, 10)) is False
    key = frame(FrameType.SCREEN_UPDATE, 50, Flags.KEYFRAME)
    box.put(*key)
    after = frame(FrameType.SCREEN_UPDATE, 7)
    box.put(*after)
    assert box.take() == [chat[1], key[1], after[1]]  # chat survived, order kept
    assert box.dropped_updates == 3


def test_a_keyframe_supersedes_queued_updates_of_its_sender() -> None:
    box = Outbox(screen_limit=10_000, total_limit=100_000)
    box.put(*frame(FrameType.SCREEN_UPDATE, 10))
    box.put(*frame(FrameType.SCREEN_UPDATE, 10))
    key = frame(FrameType.SCREEN_UPDATE, 20, Flags.KEYFRAME)
    box.put(*key)
    assert box.take() == [key[1]]


def test_supersedable_frames_keep_only_the_newest() -> None:
    box = Outbox()
    box.put(*frame(FrameType.CURSOR, 3, Flags.SUPERSEDABLE))
    chat = frame(FrameType.CHAT, 4, sender=OTHER)
    box.put(*chat)
    newest = (frame(FrameType.CURSOR, 3, Flags.SUPERSEDABLE)[0], b"new")
    box.put(*newest)
    assert box.take() == [chat[1], b"new"]


def test_undroppable_backlog_overflows() -> None:
    box = Outbox(screen_limit=100, total_limit=100)
    box.put(*frame(FrameType.CHAT, 60, sender=OTHER))
    assert not box.overflowing
    box.put(*frame(FrameType.CHAT, 60, sender=OTHER))
    assert box.overflowing


def test_new_receivers_wait_for_a_whole_picture() -> None:
    box = Outbox(awaiting_keyframe=True)
    box.put(*frame(FrameType.SCREEN_UPDATE, 10))
    assert box.take() == []
    key = frame(FrameType.SCREEN_UPDATE, 10, Flags.KEYFRAME)
    box.put(*key)
    assert box.take() == [key[1]]
