"""One receiver's queue: screen updates may be dropped for a keyframe, nothing else is."""

from __future__ import annotations

from relaydesk import limits
from relaydesk.protocol.frames import EVERYONE, Flags, FrameType, Header
from relaydesk.relay.outbox import Outbox

REASK = limits.RELAY_PICTURE_REASK_DROPS

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


# Video frames (docs/protocol.md §5.4): the second layer goes for a receiver that is behind.

BASE, LAYER = Flags.NONE, Flags.DISCARDABLE


def video(flags: Flags, tag: int, size: int = 10):
    header = Header(FrameType.VIDEO_FRAME, UID, 1, PRESENTER, EVERYONE, 1, flags)
    return header, bytes([tag]) * size


def test_a_receiver_that_keeps_up_gets_both_layers() -> None:
    box = Outbox()
    for number in range(40):
        header, data = video(LAYER if number % 2 else BASE, number)
        assert box.put(header, data) is False
        assert box.take() == [data]  # the writer keeps up: nothing waits
    assert box.dropped_layer_frames == 0 and not box.skipping_layer


def test_a_receiver_behind_loses_the_second_layer_until_its_keyframe() -> None:
    box = Outbox()
    sent = [video(LAYER if n % 2 else BASE, n) for n in range(limits.RELAY_VIDEO_BACKLOG_FRAMES)]
    for header, data in sent:
        box.put(header, data)
    dropped = video(LAYER, 100)
    base = video(BASE, 101)
    box.put(*dropped)
    box.put(*base)
    assert box.skipping_layer
    # The writer catches up, but a second-layer delta would not decode: still dropped.
    assert box.take() == [data for _, data in sent] + [base[1]]
    box.put(*video(LAYER, 102))
    assert box.take() == []
    key = video(LAYER | Flags.KEYFRAME, 103)
    box.put(*key)
    after = video(LAYER, 104)
    box.put(*after)
    assert box.take() == [key[1], after[1]]
    assert not box.skipping_layer
    assert box.dropped_layer_frames == 2
    assert box.dropped_updates == 0  # the base layer and the lossless picture are intact


def test_a_second_layer_keyframe_waits_while_the_receiver_is_behind() -> None:
    box = Outbox()
    for number in range(limits.RELAY_VIDEO_BACKLOG_FRAMES):
        box.put(*video(BASE, number))
    box.put(*video(LAYER | Flags.KEYFRAME, 50))
    assert box.skipping_layer and len(box) == limits.RELAY_VIDEO_BACKLOG_FRAMES


def test_a_base_keyframe_supersedes_queued_video_of_both_layers() -> None:
    box = Outbox()
    box.put(*video(BASE, 1))
    box.put(*video(LAYER, 2))
    chat = frame(FrameType.CHAT, 4, sender=OTHER)
    box.put(*chat)
    key = video(Flags.KEYFRAME, 3)
    box.put(*key)
    assert box.take() == [chat[1], key[1]]
    assert box.skipping_layer  # the second layer lost a frame: it waits for a keyframe


def test_video_waits_for_a_whole_picture_and_overflows_like_screen_updates() -> None:
    box = Outbox(screen_limit=100, awaiting_keyframe=True)
    assert box.put(*video(Flags.KEYFRAME, 1)) is True  # nothing to draw it on: ask for it
    assert len(box) == 0
    picture = frame(FrameType.SCREEN_UPDATE, 50, Flags.KEYFRAME)
    box.put(*picture)
    box.put(*video(BASE, 2, size=40))
    assert box.put(*video(BASE, 3, size=40)) is True  # over the screen limit: a refresh
    assert box.awaiting_keyframe and len(box) == 0


def test_a_receiver_given_a_whole_picture_takes_the_second_layer_up_at_its_keyframe() -> None:
    """A newcomer (or a refreshed receiver) has no layer-1 chain: the presenter restarts
    only layer 0 for it, so layer-1 deltas wait for layer 1's own keyframe here."""
    box = Outbox(awaiting_keyframe=True)
    picture = frame(FrameType.SCREEN_UPDATE, 50, Flags.KEYFRAME)
    base_key, delta = video(Flags.KEYFRAME, 1), video(LAYER, 2)
    for item in (picture, base_key, delta):
        box.put(*item)
    assert box.take() == [picture[1], base_key[1]]
    layer_key, after = video(LAYER | Flags.KEYFRAME, 3), video(LAYER, 4)
    box.put(*layer_key)
    box.put(*after)
    assert box.take() == [layer_key[1], after[1]]
    assert box.dropped_layer_frames == 1
    # A receiver that had its picture all along is not held back by another's.
    steady = Outbox()
    steady.put(*picture)
    steady.put(*delta)
    assert steady.take() == [picture[1], delta[1]]


def test_a_receiver_asking_for_one_layer_loses_the_queued_second_layer_at_once() -> None:
    box = Outbox()
    base, layer = video(BASE, 1), video(LAYER, 2)
    box.put(*base)
    box.put(*layer)
    box.limit_video_layers(1)
    box.put(*video(LAYER | Flags.KEYFRAME, 3))  # even a keyframe: it asked for one layer
    after = video(BASE, 4)
    box.put(*after)
    assert box.take() == [base[1], after[1]]
    box.limit_video_layers(limits.VIDEO_LAYERS)
    box.put(*video(LAYER, 5))  # back from the next layer-1 keyframe only
    key = video(LAYER | Flags.KEYFRAME, 7)
    box.put(*key)
    assert box.take() == [key[1]]


def test_take_with_a_budget_leaves_the_rest_queued_in_order() -> None:
    box = Outbox()
    items = [frame(FrameType.SCREEN_UPDATE, 100) for _ in range(5)]
    for header, data in items:
        box.put(header, data)
    first = box.take(250)  # whole frames, up to the budget (the one that passes it too)
    assert first == [data for _, data in items[:3]]
    assert box.total_bytes == box.screen_bytes == 200
    assert box.take(1) == [items[3][1]]  # at least one, however small the budget
    assert box.take() == [items[4][1]]
    assert not box
    assert box.total_bytes == box.screen_bytes == 0


def test_superseded_frames_do_not_pile_up_for_a_receiver_that_takes_nothing() -> None:
    """Cursor moves replace each other in a queue nobody takes from: what is dropped is
    shed, so the queue stays as short as what it holds."""
    box = Outbox()
    chat = frame(FrameType.CHAT, 4, sender=OTHER)
    box.put(*chat)
    for _ in range(10_000):
        box.put(*frame(FrameType.CURSOR, 3, Flags.SUPERSEDABLE))
    assert len(box) == 2
    assert len(box._queue) <= 4
    assert box.take()[0] == chat[1]


def test_a_receiver_waiting_for_a_picture_asks_for_one_and_asks_again() -> None:
    """A newcomer that came before anyone presented (after a failover, say) gets deltas
    it cannot use: the first one dropped asks the presenter for a whole picture, and so
    does every RELAY_PICTURE_REASK_DROPS-th one after it, until a keyframe comes."""
    box = Outbox(awaiting_keyframe=True)
    asks = [box.put(*frame(FrameType.SCREEN_UPDATE, 10)) for _ in range(2 * REASK + 1)]
    assert asks == [True, *[False] * (REASK - 1), True, *[False] * (REASK - 1), True]
    assert len(box) == 0 and box.dropped_updates == 2 * REASK + 1
    picture = frame(FrameType.SCREEN_UPDATE, 20, Flags.KEYFRAME)
    assert box.put(*picture) is False
    delta = frame(FrameType.SCREEN_UPDATE, 5)
    assert box.put(*delta) is False
    assert box.take() == [picture[1], delta[1]]
