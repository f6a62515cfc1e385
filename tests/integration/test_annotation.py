"""Drawing on the shared screen and the host's notes at the relay and at every receiver
(issue 9; docs/protocol.md §4.3 NOTES, §4.4, §5.3, §5.5).

Real EmbeddedServer (shared), real Python members over real TLS WebSockets, a session
of their own per test: who may draw is enforced by the relay (ERROR) and again by each
receiver (a stroke forged past the relay is dropped); ``clear`` removes only its
sender's strokes; notes go only from a leader, only to everyone, and arrive before END.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import numpy as np
import pytest

from integration.helpers import (
    add_organizer,
    log_in,
    pinned_context,
    run_async,
    until,
)
from integration.test_meeting_controls import OpenMeeting, got, meeting_opener
from relaydesk.client.member import Rejected
from relaydesk.errors import NotPermitted
from relaydesk.protocol.messages import (
    Annotation,
    AnnotationKind,
    ChatRule,
    End,
    EndReason,
    Error,
    Notes,
    Permissions,
    Point,
)
from relaydesk.screen.drawings import Drawings
from support.servers import LiveServer

RED, BLUE = 0xE53935, 0x1E88E5


# A server of this module's own: its joins do not count against the shared server's
# per-address join limit, which the other modules' sessions use up.
@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("annotation-server")
    add_organizer(data)
    server = LiveServer(data).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def own_context(own_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    profile = tmp_path_factory.mktemp("annotation-profile")
    return pinned_context(own_server.url, own_server.fingerprint, profile)


@pytest.fixture
def open_meeting(own_server: LiveServer, own_context: ssl.SSLContext) -> OpenMeeting:
    """``async with open_meeting() as m``: a new session on this module's server."""
    return meeting_opener(own_server, own_context, run_async(log_in(own_server.url, own_context)))


def stroke(
    stroke_id: int, color: int = RED, kind: AnnotationKind = AnnotationKind.PEN
) -> Annotation:
    return Annotation(stroke_id, color, 4, (Point(10, 10), Point(60, 10)), kind=kind)


def errors(peer: object) -> list[str]:
    return [e.text for e in got(peer, Error)]  # type: ignore[arg-type, attr-defined]


def test_only_leaders_and_those_let_draw_annotate_and_clear_wipes_only_the_sender(
    open_meeting: OpenMeeting,
) -> None:
    async def scenario() -> None:
        async with open_meeting() as m:
            host, ann, ben = await m.host_and_two_guests()

            # Not let draw: the relay refuses Ann's stroke; nobody gets it.
            await ann.member.send_content(stroke(1))
            await until(lambda: any("annotate" in t for t in errors(ann)), "Ann is refused")
            # A relay that forwarded it anyway gains nothing: Ben drops it.
            forged = ann.member.e2e.seal(stroke(2))
            outcome = await ben.member._handle(forged.serialize())
            assert isinstance(outcome, Rejected) and isinstance(outcome.error, NotPermitted)

            # The host lets Ann draw: her strokes reach everyone, the host's too.
            rule = Permissions(ChatRule.EVERYONE, (ann.member_id,), may_save=True, may_record=False)
            await host.member.send(rule)
            await until(lambda: ben.member.permissions == rule, "Ben hears who may draw")
            await until(lambda: ann.member.permissions == rule, "Ann hears she may draw")
            await ann.member.send_content(stroke(3))
            await ann.member.send_content(stroke(4, kind=AnnotationKind.HIGHLIGHT))
            await host.member.send_content(stroke(5, BLUE, AnnotationKind.ARROW))
            await until(lambda: len(got(ben, Annotation)) == 3, "Ben gets three strokes")
            await until(lambda: len(got(host, Annotation)) == 2, "the host gets Ann's two")
            assert [a.stroke_id for a in got(ben, Annotation)] == [3, 4, 5]  # type: ignore[attr-defined]
            assert not ben.rejected

            # Ann clears her drawings: only hers go, at every receiver.
            await ann.member.send_content(Annotation(0, 0, 1, (), clear=True))
            await until(lambda: len(got(ben, Annotation)) == 4, "Ben gets the clear")
            drawings = Drawings()
            for received, message in ben.messages_of(Annotation):
                drawings.apply(received.header.sender, message)
            assert drawings.count(ann.member_id) == 0
            assert drawings.count(host.member_id) == 1

            # Stopped again: refused again.
            stop = Permissions(ChatRule.EVERYONE, (), may_save=True, may_record=False)
            await host.member.send(stop)
            await until(lambda: ann.member.permissions == stop, "Ann hears she may not draw")
            before = len(errors(ann))
            await ann.member.send_content(stroke(6))
            await until(lambda: len(errors(ann)) == before + 1, "Ann is refused again")
            assert len(got(ben, Annotation)) == 4

    run_async(scenario())


def test_a_stroke_is_drawn_over_the_picture_where_it_was_drawn() -> None:
    picture = np.zeros((40, 80, 3), np.uint8)
    drawings = Drawings()
    drawings.apply(7, stroke(1))  # red, y = 10, x 10..60, 4 wide
    drawings.apply(
        8,
        Annotation(1, 0xFFFF00, 24, (Point(10, 30), Point(60, 30)), kind=AnnotationKind.HIGHLIGHT),
    )
    drawn = drawings.draw_over(picture)
    assert tuple(drawn[10, 35]) == (0xE5, 0x39, 0x35)
    assert tuple(drawn[15, 35]) == (0, 0, 0)  # between the pen (8..12) and the highlight (18..42)
    highlight = drawn[30, 35]  # yellow at 35 % over black
    assert 80 <= highlight[0] <= 100 and 80 <= highlight[1] <= 100 and highlight[2] == 0
    drawings.apply(7, Annotation(0, 0, 1, (), clear=True))
    again = drawings.draw_over(picture)
    assert tuple(again[10, 35]) == (0, 0, 0) and tuple(again[30, 35]) == tuple(highlight)


def test_notes_go_from_a_leader_to_everyone_just_before_the_end(
    open_meeting: OpenMeeting,
) -> None:
    async def scenario() -> None:
        async with open_meeting() as m:
            host, ann, ben = await m.host_and_two_guests()

            # An attendee cannot send notes; nor can a host send them to one member.
            await ann.member.send_content(Notes("mine"))
            await until(lambda: any("notes" in t for t in errors(ann)), "Ann is refused")
            await host.member.send_content(Notes("just for Ben"), ben.member_id)
            await until(lambda: any("everyone" in t for t in errors(host)), "one member: refused")
            forged = ann.member.e2e.seal(Notes("past the relay"))
            outcome = await ben.member._handle(forged.serialize())
            assert isinstance(outcome, Rejected) and isinstance(outcome.error, NotPermitted)

            text = "Decisions:\n- ship on Friday ✅"
            await host.member.send_content(Notes(text))
            await host.member.send(End(EndReason.ENDED_BY_HOST))
            for peer in (ann, ben):
                await until(lambda p=peer: bool(got(p, End)), f"{peer.name} hears the end")
                kinds = [
                    type(r.message) for r in peer.received if isinstance(r.message, Notes | End)
                ]
                assert kinds == [Notes, End]
                assert [n.text for n in got(peer, Notes)] == [text]  # type: ignore[attr-defined]

    run_async(scenario())
