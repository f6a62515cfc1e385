"""Presenting from a browser (issue 9): the host asks a member whose page runs in real
Chromium; the member sees the question in the page, Decline sends nothing, Allow opens
the browser's capture (getDisplayMedia) and the page sends its tab as sealed screen
updates. A browser viewer (the host) and a Python viewer (``relaydesk join``, joining
later: the relay's REFRESH gets it a keyframe) both decode the picture the presenter's
tab shows; remote control is refused with a note; the browser's "Stop sharing" (the
track ending) and "Stop presenting" end the share for everyone.

Chromium captures without a human only with ``--auto-accept-this-tab-capture`` and
``preferCurrentTab: true`` (its own tab, no picker); the presenter's page therefore runs
in a browser of its own, launched with that flag, and an init script adds
``preferCurrentTab`` to the page's request (the page asks for any screen). With the other
flags tried in headless Chromium 156 (``--auto-select-tab-capture-source-by-title``,
``--use-fake-ui-for-media-stream``, ``--auto-select-desktop-capture-source``) the
request did not settle in a one-off probe. The browser's "Stop sharing" control does not
exist headless: the test fires the track's ``ended`` event, which is what it causes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from browser.helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LiveServer,
    Process,
    Watched,
    canvas_rgb,
    until,
)
from browser.meeting_pages import (
    Pages,
    chat_log,
    invite_url,
    join_meeting,
    member,
    organizer_cookies,
    pages,
    shot,
    start_meeting,
    unexpected_console,
)
from relaydesk import limits
from relaydesk.protocol.frames import Flags, Frame, FrameType

__all__ = ["organizer_cookies", "pages"]  # fixtures

PRESENTER = "Bea Browser"
VIEWPORT = {"width": 1024, "height": 640}
# The presenter's tab, covered by four known colours (RGB), one a quadrant.
QUADRANTS = [(220, 40, 40), (40, 180, 60), (40, 70, 220), (230, 210, 40)]
TOLERANCE = 40  # the capture goes through YUV: colours come back within this
# Tab capture needs preferCurrentTab; the page keeps the streams for the test to end.
CAPTURE_SCRIPT = """(() => {
  const devices = navigator.mediaDevices;
  const real = devices.getDisplayMedia.bind(devices);
  window.relaydeskTestStreams = [];
  devices.getDisplayMedia = async (options) => {
    const stream = await real({ ...options, preferCurrentTab: true });
    window.relaydeskTestStreams.push(stream);
    return stream;
  };
})()"""
# The pattern: a fixed layer over the whole page that lets clicks through (CSSOM only:
# the page's CSP allows no inline style attribute).
PATTERN = """(colours) => {
  const layer = document.createElement("div");
  Object.assign(layer.style, { position: "fixed", inset: "0", zIndex: "2147483647",
    pointerEvents: "none", display: "grid", gridTemplate: "1fr 1fr / 1fr 1fr" });
  for (const [r, g, b] of colours) {
    const cell = document.createElement("div");
    cell.style.background = `rgb(${r}, ${g}, ${b})`;
    layer.append(cell);
  }
  document.body.append(layer);
}"""


@pytest.fixture(scope="module")
def capturing_chromium(chromium: Any) -> Iterator[Any]:
    """A Chromium of its own that shares its current tab when asked, without a picker
    (launched by the shared fixture's Playwright: one may run per thread)."""
    browser = chromium.browser_type.launch(
        executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--auto-accept-this-tab-capture"]
    )
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def presenter_page(capturing_chromium: Any) -> Iterator[Watched]:
    context = capturing_chromium.new_context(ignore_https_errors=True, viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    context.add_init_script(CAPTURE_SCRIPT)
    page = context.new_page()
    watched = Watched(page, context)
    page.on("console", lambda message: watched.console.append((message.type, message.text)))
    page.on("pageerror", lambda error: watched.page_errors.append(str(error)))
    try:
        yield watched
        assert watched.page_errors + unexpected_console(watched) == []
    finally:
        context.close()


def matches_pattern(rgb: np.ndarray) -> bool:
    """The picture shows the four colours, each in its quadrant (the centre of each)."""
    height, width = rgb.shape[:2]
    if width < 64 or height < 64:
        return False
    for index, colour in enumerate(QUADRANTS):
        row, column = divmod(index, 2)
        cy, cx = (2 * row + 1) * height // 4, (2 * column + 1) * width // 4
        patch = rgb[cy - 16 : cy + 16, cx - 16 : cx + 16].reshape(-1, 3).astype(int)
        if np.abs(patch - np.array(colour)).max() > TOLERANCE:
            return False
    return True


def screen_frames(server: LiveServer, start: int, sender: int) -> list[Frame]:
    frames = [Frame.parse(data) for data in server.tap.since(start)]
    return [
        f for f in frames if f.header.type is FrameType.SCREEN_UPDATE and f.header.sender == sender
    ]


def meeting_with_bea(
    pages: Pages, server: LiveServer, cookies: list[dict[str, Any]], bea: Any, title: str
) -> tuple[Any, Any, int]:
    """The host's page (a meeting just started) and Bea's row in it, Bea's member ID;
    Bea's tab shows the pattern."""
    host = pages.open(cookies).page
    meeting = start_meeting(host, server, title=title, name="Olga")
    join_meeting(bea, server, meeting, PRESENTER)
    row = member(host, PRESENTER)
    expect(row).to_contain_text("Participant")
    bea.evaluate(PATTERN, QUADRANTS)
    return host, row, server.members()[PRESENTER]


def allow(host: Any, row: Any, bea: Any) -> None:
    """The host asks Bea to present; Bea allows; Bea presents."""
    row.get_by_role("button", name=f"Ask {PRESENTER} to present").click()
    bea.get_by_role("alertdialog").get_by_role("button", name="Allow").click()
    expect(host.locator("#presenter-line")).to_have_text(f"{PRESENTER} is presenting")


def test_decline_sends_nothing_and_nobody_presents(
    pages: Pages,
    server: LiveServer,
    organizer_cookies: list[dict[str, Any]],
    presenter_page: Watched,
) -> None:
    bea = presenter_page.page
    host, row, bea_id = meeting_with_bea(pages, server, organizer_cookies, bea, "Declined")
    consent = bea.get_by_role("alertdialog")
    tapped = len(server.tap)
    row.get_by_role("button", name=f"Ask {PRESENTER} to present").click()
    expect(consent).to_be_visible()
    expect(consent.locator("#present-question")).to_have_text(
        "Olga asks you to show your screen to everyone. Allow?"
    )
    shot(bea, "browser-present-question")
    consent.get_by_role("button", name="Decline").click()
    expect(consent).to_be_hidden()
    expect(chat_log(host)).to_contain_text(f"{PRESENTER} said no: you asked to present.")
    expect(host.locator("#presenter-line")).to_have_text("Nobody is presenting right now")
    expect(bea.get_by_role("region", name="Presenting")).to_be_hidden()
    assert bea.evaluate("window.relaydeskTestStreams.length") == 0  # no capture at all
    assert screen_frames(server, tapped, bea_id) == []


def test_no_answer_is_no_when_the_relay_times_the_question_out(
    pages: Pages,
    server: LiveServer,
    organizer_cookies: list[dict[str, Any]],
    presenter_page: Watched,
) -> None:
    bea = presenter_page.page
    host, row, bea_id = meeting_with_bea(pages, server, organizer_cookies, bea, "Unanswered")
    tapped = len(server.tap)
    row.get_by_role("button", name=f"Ask {PRESENTER} to present").click()
    expect(bea.get_by_role("alertdialog")).to_be_visible()
    # Nobody answers: the relay ends the question (its timeout, not the page's).
    wait = (limits.CONSENT_TIMEOUT_SECONDS + 15) * 1000
    expect(chat_log(host)).to_contain_text(
        f"{PRESENTER} did not answer (that is a no): you asked to present.", timeout=wait
    )
    expect(bea.get_by_role("alertdialog")).to_be_hidden()
    expect(host.locator("#presenter-line")).to_have_text("Nobody is presenting right now")
    assert bea.evaluate("window.relaydeskTestStreams.length") == 0
    assert screen_frames(server, tapped, bea_id) == []


def test_a_browser_member_presents_after_allow_and_every_viewer_sees_it(
    pages: Pages,
    server: LiveServer,
    organizer_cookies: list[dict[str, Any]],
    presenter_page: Watched,
    tmp_path: Path,
) -> None:
    bea = presenter_page.page
    host, row, bea_id = meeting_with_bea(pages, server, organizer_cookies, bea, "Allowed")
    tapped = len(server.tap)
    allow(host, row, bea)
    expect(bea.locator("#presenting-text")).to_have_text(
        "You are presenting: everyone sees what you share."
    )
    expect(bea.get_by_role("region", name="Presenting")).to_contain_text(
        "Remote control needs the relaydesk app"
    )
    expect(host.get_by_role("img", name="Shared screen", exact=True)).to_be_visible()
    until(lambda: matches_pattern(canvas_rgb(host)), "the host's canvas shows Bea's tab")
    shot(host, "browser-present-host-sees")
    frames = screen_frames(server, tapped, bea_id)
    assert frames and frames[0].header.flags & Flags.KEYFRAME  # a full picture first

    # A Python viewer joins later: the relay asks Bea (REFRESH) for a keyframe for it.
    snapshot = tmp_path / "pat-saw.png"
    pat = Process(
        "join", invite_url(host), "--name", "Pat Python", "--fingerprint", server.fingerprint,
        "--config-dir", tmp_path / "pat", "--snapshot", snapshot,
    )  # fmt: skip
    try:
        pat.wait_for_line(rf"Showing {PRESENTER}'s screen, \d+x\d+\.")
    finally:
        pat.stop()
    pat_saw = np.asarray(Image.open(snapshot).convert("RGB"))
    assert matches_pattern(pat_saw)
    keyframes = [
        f for f in screen_frames(server, tapped, bea_id) if f.header.flags & Flags.KEYFRAME
    ]
    assert len(keyframes) >= 2  # everyone's first picture, and Pat's own
    # Both viewers decoded the very same pixels.
    assert np.array_equal(canvas_rgb(host), pat_saw)

    # Remote control of a browser presenter: no, and why.
    host.get_by_role("button", name="Request control").click()
    expect(chat_log(bea)).to_contain_text(
        "Olga asked to control your screen: answered no. Remote control needs the relaydesk app"
    )
    expect(chat_log(host)).to_contain_text(f"{PRESENTER} said no: you asked for remote control.")


def test_ending_the_capture_or_stop_presenting_ends_the_share_for_everyone(
    pages: Pages,
    server: LiveServer,
    organizer_cookies: list[dict[str, Any]],
    presenter_page: Watched,
) -> None:
    bea = presenter_page.page
    host, row, _ = meeting_with_bea(pages, server, organizer_cookies, bea, "Stopped")
    allow(host, row, bea)
    until(lambda: matches_pattern(canvas_rgb(host)), "the host's canvas shows Bea's tab")

    # The browser's own "Stop sharing" ends the track: the share ends for everyone.
    bea.evaluate(
        "window.relaydeskTestStreams[0].getVideoTracks()[0].dispatchEvent(new Event('ended'))"
    )
    expect(host.locator("#presenter-line")).to_have_text("Nobody is presenting right now")
    expect(bea.get_by_role("region", name="Presenting")).to_be_hidden()
    expect(chat_log(bea)).to_contain_text("You stopped sharing in the browser")
    state = "(n) => window.relaydeskTestStreams[n].getVideoTracks()[0].readyState"
    assert bea.evaluate(state, 0) == "ended"

    # Again, then "Stop presenting" in the page.
    allow(host, row, bea)
    bea.get_by_role("button", name="Stop presenting").click()
    expect(host.locator("#presenter-line")).to_have_text("Nobody is presenting right now")
    expect(chat_log(bea)).to_contain_text("You stopped presenting.")
    assert bea.evaluate(state, 1) == "ended"

    # A host's "Stop sharing for all" stops the capture in Bea's browser too.
    allow(host, row, bea)
    host.get_by_role("button", name="Stop sharing for all").click()
    expect(bea.get_by_role("region", name="Presenting")).to_be_hidden()
    expect(chat_log(bea)).to_contain_text("Your screen is no longer shared.")
    assert bea.evaluate(state, 2) == "ended"


def test_a_host_presents_from_the_browser_without_being_asked(
    pages: Pages,
    server: LiveServer,
    organizer_cookies: list[dict[str, Any]],
    capturing_chromium: Any,
) -> None:
    # The host's page in the capturing browser, signed in (the organizer's cookie).
    context = capturing_chromium.new_context(ignore_https_errors=True, viewport=VIEWPORT)
    try:
        context.set_default_timeout(30_000)
        context.add_init_script(CAPTURE_SCRIPT)
        context.add_cookies(organizer_cookies)
        host = context.new_page()
        errors: list[str] = []
        host.on("pageerror", lambda error: errors.append(str(error)))
        meeting = start_meeting(host, server, title="Host presents", name="Olga")
        early = pages.open().page
        join_meeting(early, server, meeting, "Eve Early")
        expect(host.get_by_role("button", name="Request control")).to_be_hidden()
        host.evaluate(PATTERN, QUADRANTS)

        # The take-back rule: a host naming itself presents at once, nobody is asked.
        host.get_by_role("button", name="Present my screen").click()
        expect(early.locator("#presenter-line")).to_have_text("Olga is presenting")
        expect(host.get_by_role("region", name="Presenting")).to_be_visible()
        expect(host.get_by_role("button", name="Present my screen")).to_be_hidden()
        until(lambda: matches_pattern(canvas_rgb(early)), "Eve's canvas shows the host's tab")

        # A viewer who joins later gets a picture of its own (REFRESH, then a keyframe).
        late = pages.open().page
        join_meeting(late, server, meeting, "Lou Late")
        expect(late.locator("#presenter-line")).to_have_text("Olga is presenting")
        until(lambda: matches_pattern(canvas_rgb(late)), "Lou's canvas shows the host's tab")
        assert np.array_equal(canvas_rgb(late), canvas_rgb(early))

        host.get_by_role("button", name="Stop presenting").click()
        expect(late.locator("#presenter-line")).to_have_text("Nobody is presenting right now")
        expect(early.locator("#presenter-line")).to_have_text("Nobody is presenting right now")
        expect(host.get_by_role("button", name="Present my screen")).to_be_visible()
        assert errors == []
    finally:
        context.close()


# What Chromium answers when the person closes its picker without choosing.
CANCELLED_PICKER = """(() => {
  navigator.mediaDevices.getDisplayMedia = () =>
    Promise.reject(new DOMException("Permission denied by user", "NotAllowedError"));
})()"""


def test_a_closed_picker_is_a_no_and_nothing_is_sent(
    pages: Pages, server: LiveServer, organizer_cookies: list[dict[str, Any]]
) -> None:
    host = pages.open(organizer_cookies).page
    meeting = start_meeting(host, server, title="Closed picker", name="Olga")
    watched = pages.open()
    watched.context.add_init_script(CANCELLED_PICKER)
    ida = watched.page
    join_meeting(ida, server, meeting, "Ida Idle")
    ida_id = server.members()["Ida Idle"]
    tapped = len(server.tap)
    member(host, "Ida Idle").get_by_role("button", name="Ask Ida Idle to present").click()
    ida.get_by_role("alertdialog").get_by_role("button", name="Allow").click()
    expect(chat_log(ida)).to_contain_text(
        "No screen was chosen in the browser's picker, so nothing is shared. Answered no."
    )
    expect(chat_log(host)).to_contain_text("Ida Idle said no: you asked to present.")
    expect(ida.get_by_role("alertdialog")).to_be_hidden()
    expect(ida.get_by_role("region", name="Presenting")).to_be_hidden()
    expect(host.locator("#presenter-line")).to_have_text("Nobody is presenting right now")
    assert screen_frames(server, tapped, ida_id) == []


def test_a_browser_presenter_decides_whether_a_host_records_its_screen(
    pages: Pages,
    server: LiveServer,
    organizer_cookies: list[dict[str, Any]],
    presenter_page: Watched,
    tmp_path: Path,
) -> None:
    """Pat, made a host, records from his terminal; when Bea (no host) presents, her
    page's "Recording allowed" decides: off (the default) stops the recording, on lets
    Pat record again, off again stops it. The recording of her screen exports to a video
    that shows her tab."""
    import os  # noqa: PLC0415
    import subprocess  # noqa: PLC0415

    import av  # noqa: PLC0415

    from support.processes import RELAYDESK  # noqa: PLC0415
    from support.terminal import Terminal  # noqa: PLC0415

    bea = presenter_page.page
    host, _, bea_id = meeting_with_bea(pages, server, organizer_cookies, bea, "Recorded")
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    pat = Terminal(
        "join", invite_url(host), "--name", "Pat", "--fingerprint", server.fingerprint,
        "--config-dir", tmp_path / "pat", env=env,
    )  # fmt: skip
    try:
        pat.expect(r"Security code: ")
        member(host, "Pat").get_by_role("button", name="Make Pat the host").click()  # hand over
        pat.expect(r"\* You are now a host")
        first, second = tmp_path / "first.rdrec", tmp_path / "second.rdrec"
        pat.type(f"/record {first}")
        expect(bea.locator("#recording")).to_have_text("Recording by Pat")

        pat.type(f"/present {bea_id}")  # Bea presents; she has not allowed recording
        bea.get_by_role("alertdialog").get_by_role("button", name="Allow").click()
        pat.expect(r"\* You stopped recording")
        expect(bea.locator("#recording")).to_be_hidden()
        expect(chat_log(bea)).to_contain_text("Pat stopped recording")
        pat.type(f"/record {second}")
        pat.expect(r"! the presenter does not allow recording")

        allowed = bea.get_by_label("Recording allowed")
        allowed.check()
        pat.expect(r"recording allowed\.")
        pat.type(f"/record {second}")
        expect(bea.locator("#recording")).to_have_text("Recording by Pat")
        expect(host.locator("#recording")).to_have_text("Recording by Pat")
        until(lambda: matches_pattern(canvas_rgb(host)), "the host's canvas shows Bea's tab")
        allowed.uncheck()  # she changes her mind: it stops at once
        pat.expect(r"Recording written to .*second\.rdrec")
        pat.expect(r"\* You stopped recording")
        expect(bea.locator("#recording")).to_be_hidden()
    finally:
        pat.stop()
    verified = subprocess.run(
        [str(RELAYDESK), "recording", "verify", str(second)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    video = tmp_path / "second.mp4"
    exported = subprocess.run(
        [str(RELAYDESK), "recording", "export", str(second), "--mp4", str(video)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    with av.open(str(video)) as container:
        last = None
        for frame in container.decode(video=0):
            last = frame.to_ndarray(format="rgb24")
    assert last is not None and matches_pattern(last)  # Bea's tab, as her viewers saw it
