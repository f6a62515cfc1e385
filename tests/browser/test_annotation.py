"""Drawing on the shared screen, and the host's notes at the end (issue 9), as people do
it: a member (``relaydesk join`` in a real terminal, on a real X display) presents; the
host (Chromium, signed in) lets an attendee draw from the participants list; that
attendee draws with the pen, the arrow and the highlighter on the overlay; every other
viewer's overlay shows each stroke at the same place of the picture (overlay pixels
read back, whatever each page's scale and letterboxing); a stroke forged past the relay
is dropped by the pages; "Clear my drawings" removes only that sender's strokes; the
presenter's terminal tells who drew and its ``--snapshot`` has the strokes drawn over
its screen. At "End meeting for all" the host sends their notes (or declines: then
nothing is sent), and attendees get them on the final card, with a download."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from browser.helpers import LiveServer, Watched, canvas_shows, until
from browser.meeting_pages import (
    PRESENT_PROMPT,
    Pages,
    chat_log,
    final,
    invite_url,
    join_meeting,
    member,
    on_display,
    organizer_cookies,
    pages,
    session_id,
    shot,
    start_meeting,
)
from integration.helpers import join_peer, pinned_context, png_rgb, run_async
from integration.helpers import until as until_async
from relaydesk.protocol.frames import Header
from relaydesk.protocol.messages import Annotation, Point
from relaydesk.relay.hub import LiveSession
from relaydesk.screen.xvfb import Xvfb
from support.screen import Screen
from support.terminal import Terminal

__all__ = ["organizer_cookies", "pages"]  # fixtures

PRESENTER = "Pia Presenter"
RED, BLUE, YELLOW = (0xE5, 0x39, 0x35), (0x1E, 0x88, 0xE5), (0xFD, 0xD8, 0x35)
NOTES = "Decisions:\n- ship on Friday\n- Ann draws the new logo"
READ_PIXEL = """([x, y]) => Array.from(
  document.getElementById("annotations").getContext("2d").getImageData(x, y, 1, 1).data)"""
DROPPED = "dropped a stroke from a member not let draw"


@pytest.fixture
def presenter(
    server: LiveServer, xvfb: Xvfb, tmp_path: Path
) -> Iterator[Callable[[str], Terminal]]:
    """``relaydesk join INVITE --snapshot FILE`` in a real terminal, on the X display."""
    started: list[Terminal] = []

    def join(invite: str) -> Terminal:
        terminal = Terminal(
            "join", invite, "--name", PRESENTER, "--fingerprint", server.fingerprint,
            "--config-dir", tmp_path / "pia", "--snapshot", tmp_path / "pia.png",
            env=on_display(xvfb),
        )  # fmt: skip
        started.append(terminal)
        terminal.expect(rf"Joined session .* as {re.escape(PRESENTER)}\.")
        return terminal

    try:
        yield join
    finally:
        for terminal in started:
            terminal.stop()


def pixel(page: Any, x: int, y: int) -> tuple[int, int, int, int]:
    """The overlay's pixel at presenter-screen (x, y): RGBA."""
    return tuple(page.evaluate(READ_PIXEL, [x, y]))  # type: ignore[return-value]


def shows(page: Any, x: int, y: int, rgb: tuple[int, int, int] | None, alpha: int = 255) -> None:
    """Wait until the overlay at (x, y) is ``rgb`` at ``alpha`` (None: nothing drawn)."""

    def right() -> bool:
        *colour, a = pixel(page, x, y)
        if rgb is None:
            return a == 0
        # Translucent pixels come back un-premultiplied: a rounding step off, at most.
        close = all(
            abs(c - w) <= (0 if alpha == 255 else 4) for c, w in zip(colour, rgb, strict=True)
        )
        return abs(a - alpha) <= 2 and close

    until(right, f"the overlay at ({x}, {y}) shows {rgb}")


def client_point(page: Any, x: int, y: int) -> tuple[float, float]:
    """Where presenter-screen pixel (x, y) is on the page: the picture is scaled to fit
    and centred (letterboxed) in the overlay's box."""
    box = page.locator("#annotations").bounding_box()
    width, height = page.evaluate(
        "() => [document.getElementById('annotations').width,"
        " document.getElementById('annotations').height]"
    )
    scale = min(box["width"] / width, box["height"] / height)
    left = box["x"] + (box["width"] - width * scale) / 2
    top = box["y"] + (box["height"] - height * scale) / 2
    return left + (x + 0.5) * scale, top + (y + 0.5) * scale


def draw(page: Any, start: tuple[int, int], end: tuple[int, int]) -> None:
    page.locator("#annotations").scroll_into_view_if_needed()  # the mouse acts in view only
    page.mouse.move(*client_point(page, *start))
    page.mouse.down()
    page.mouse.move(*client_point(page, *end), steps=12)
    page.mouse.up()


def forget_drop_warnings(*watched: Watched) -> None:
    """The pages warned of the forged stroke on purpose: not a failure of the page."""
    for one in watched:
        one.console[:] = [(k, t) for k, t in one.console if DROPPED not in t]


def live_session(server: LiveServer, meeting: str) -> LiveSession:
    info = server.broker.store.live_session(meeting)
    assert info is not None
    return server.hub.sessions[info.session_uid]


async def forge_a_stroke(server: LiveServer, meeting: str, tmp_path: Path) -> None:
    """Mallory, let draw by nobody, sends a stroke while the relay is made to let it
    through, then leaves (the relay is put right again). Each page handles frames in
    order: once it shows that Mallory left, it has handled the stroke."""
    context = pinned_context(server.url, server.fingerprint, tmp_path / "mallory")
    mallory = await join_peer(server.url, context, meeting, "Mallory")
    try:
        await until_async(lambda: len(mallory.epoch_members) == 5, "Mallory has the keys")
        live = server.inspect(lambda: live_session(server, meeting))
        checks = live.rules.check_route

        def lenient(header: Header) -> None:
            if header.sender != mallory.member_id:
                checks(header)

        server.inspect(lambda: setattr(live.rules, "check_route", lenient))
        try:
            forged = Annotation(9, 0x00FF00, 8, (Point(100, 50), Point(300, 50)))
            await mallory.member.send_content(forged)
            await mallory.close()  # after the stroke, on the same link: the relay has it
        finally:
            server.inspect(lambda: delattr(live.rules, "check_route"))
    finally:
        await mallory.close()


def end_with_notes(
    host: Any, attendees: list[Any], pia: Terminal, tmp_path: Path, picture: Any
) -> None:
    """The host ends the meeting and sends their notes; the attendees' final card shows
    them (and saves them); the presenter's terminal prints them and its snapshot has the
    host's arrow (the only stroke left) drawn over its screen."""
    ann = attendees[0]
    host.get_by_role("textbox", name="Your notes").fill(NOTES)
    host.get_by_role("button", name="End meeting for all").click()
    host.get_by_role("button", name="End for all").click()
    question = host.get_by_role("group", name="Send your notes to everyone?")
    expect(question).to_be_visible()
    shot(host, "notes-question")
    question.get_by_role("button", name="Send notes and end").click()
    for page in attendees:
        expect(page.locator("#final-view #final-title")).to_have_text("The meeting has ended")
        card = page.get_by_role("region", name="Notes from the host")
        expect(card).to_be_visible()
        expect(card.locator("#final-notes-text")).to_have_text(NOTES)
        expect(card).to_contain_text("From Olga")
    with ann.expect_download() as download:
        ann.get_by_role("link", name="Save as text").click()
    saved = tmp_path / "notes.txt"
    download.value.save_as(saved)
    assert saved.read_text(encoding="utf-8") == NOTES
    shot(ann, "notes-final-card")

    # The presenter's terminal printed the notes, and its snapshot has the arrow on it.
    pia.expect(r"--- Notes from Olga ---")
    for line in NOTES.splitlines():
        pia.expect(re.escape(line))
    pia.expect(r"Snapshot written to .*, with 1 strokes drawn over it")
    snapshot = png_rgb(tmp_path / "pia.png")
    assert tuple(snapshot[350, 200]) == BLUE
    assert (snapshot[150, 200] == picture[150, 200]).all()  # Ann's line was cleared
    assert (snapshot[50, 200] == picture[50, 200]).all()  # Mallory's never counted
    assert (snapshot[:300] == picture[:300]).all()  # nothing else drawn above the arrow


def presenting_meeting(
    host: Any,
    attendees: list[Any],
    server: LiveServer,
    presenter: Callable[[str], Terminal],
    screen: Screen,
) -> tuple[str, Terminal, Any]:
    """The host starts a meeting, asks the terminal member to present (yes, typed), and
    the attendees join: everyone sees the screen; nobody but leaders may draw yet."""
    meeting = start_meeting(host, server, title="Logo review", name="Olga")
    pia = presenter(invite_url(host))
    member(host, PRESENTER).get_by_role("button", name=f"Ask {PRESENTER} to present").click()
    pia.expect(PRESENT_PROMPT.format("Olga"))
    pia.type("y")
    picture = screen.settle()
    canvas_shows(host, picture)
    for page, name in zip(attendees, ("Ann", "Ben"), strict=True):
        join_meeting(page, server, meeting, name)
    for page in attendees:
        canvas_shows(page, picture)
        expect(page.get_by_role("button", name="Draw", exact=True)).to_be_hidden()
    return meeting, pia, picture


def test_an_attendee_let_draw_draws_for_everyone_and_clears_only_their_own(
    pages: Pages,
    server: LiveServer,
    organizer_cookies: list[dict[str, Any]],
    presenter: Callable[[str], Terminal],
    screen: Screen,
    tmp_path: Path,
) -> None:
    host_watched, ann_watched, ben_watched = (
        pages.open(organizer_cookies),
        pages.open(),
        pages.open(),
    )
    host, ann, ben = host_watched.page, ann_watched.page, ben_watched.page
    meeting, pia, picture = presenting_meeting(host, [ann, ben], server, presenter, screen)

    # The host lets Ann draw, from her row in the list; Ben may not.
    ann_row = member(host, "Ann")
    ann_row.get_by_role("button", name="Let Ann draw").click()
    expect(ann_row.get_by_role("button", name="Stop Ann drawing")).to_be_visible()
    expect(ann.get_by_role("button", name="Draw", exact=True)).to_be_visible()
    expect(ben.get_by_role("button", name="Draw", exact=True)).to_be_hidden()

    # Ann draws a red pen line: every other viewer shows it at the same pixels.
    ann.get_by_role("button", name="Draw", exact=True).click()
    tools = ann.get_by_role("toolbar", name="Drawing tools")
    expect(tools).to_be_visible()
    expect(tools.get_by_role("button", name="Pen")).to_have_attribute("aria-pressed", "true")
    draw(ann, (100, 150), (300, 150))
    for page in (ann, ben, host):
        shows(page, 200, 150, RED)
        shows(page, 200, 170, None)
    pia.expect(r"\* Ann drew on the screen \(1 stroke\)")
    # A highlight: wide and translucent.
    tools.get_by_role("button", name="Highlight").click()
    tools.get_by_label("Colour").select_option(label="Yellow")
    draw(ann, (100, 250), (300, 250))
    shows(ben, 200, 250, YELLOW, alpha=round(0.35 * 255))
    shows(ben, 200, 260, YELLOW, alpha=round(0.35 * 255))  # 24 pixels wide
    pia.expect(r"\* Ann drew on the screen \(2 strokes\)")
    shot(ann, "annotation-toolbar")

    # The host (a leader) draws a blue arrow.
    host.get_by_role("button", name="Draw", exact=True).click()
    host_tools = host.get_by_role("toolbar", name="Drawing tools")
    host_tools.get_by_role("button", name="Arrow").click()
    host_tools.get_by_label("Colour").select_option(label="Blue")
    draw(host, (100, 350), (300, 350))
    for page in (ann, ben):
        shows(page, 200, 350, BLUE)
    pia.expect(r"\* Olga drew on the screen \(1 stroke\)")
    shot(ben, "annotation-overlay")

    # A stroke from a member nobody let draw, forged past the relay: the pages drop it.
    run_async(forge_a_stroke(server, meeting, tmp_path))
    for watched in (ann_watched, ben_watched, host_watched):
        expect(chat_log(watched.page)).to_contain_text("Mallory left")
        assert DROPPED in " ".join(watched.console_of("warning"))
        assert pixel(watched.page, 200, 50)[3] == 0
    forget_drop_warnings(ann_watched, ben_watched, host_watched)

    # Ann clears her drawings: hers go everywhere, the host's arrow stays.
    tools.get_by_role("button", name="Clear my drawings").click()
    for page in (ann, ben, host):
        shows(page, 200, 150, None)
        shows(page, 200, 250, None)
    for page in (ann, ben):
        shows(page, 200, 350, BLUE)
    pia.expect(r"\* Ann cleared their drawings")
    # Drawing and remote control are exclusive: Ann stops drawing, the overlay lets go.
    ann.get_by_role("button", name="Stop drawing", exact=True).click()
    expect(tools).to_be_hidden()

    end_with_notes(host, [ann, ben], pia, tmp_path, picture)


def test_declining_to_send_the_notes_sends_nothing(
    pages: Pages, server: LiveServer, organizer_cookies: list[dict[str, Any]]
) -> None:
    host = pages.open(organizer_cookies).page
    meeting = start_meeting(host, server, title="No notes", name="Olga")
    ann = pages.open().page
    join_meeting(ann, server, meeting, "Ann")
    expect(ann.get_by_role("region", name="Notes")).to_be_hidden()  # only hosts have notes
    host.get_by_role("textbox", name="Your notes").fill("private: do not send")

    live = server.inspect(lambda: live_session(server, meeting))
    checks = live.rules.check_route
    seen: list[int] = []

    def watching(header: Header) -> None:
        seen.append(header.type)
        checks(header)

    server.inspect(lambda: setattr(live.rules, "check_route", watching))
    try:
        expect(ann.locator("#security-code")).to_have_text(re.compile(r"^\d{4} "))
        host.get_by_role("button", name="End meeting for all").click()
        host.get_by_role("button", name="End for all").click()
        host.get_by_role("button", name="End without sending").click()
        final(ann, "The meeting has ended")
        expect(ann.get_by_role("region", name="Notes from the host")).to_be_hidden()
        assert session_id(host) == meeting
        assert not [t for t in seen if t == 0x51], seen  # no NOTES frame reached the relay
    finally:
        server.inspect(lambda: delattr(live.rules, "check_route"))
