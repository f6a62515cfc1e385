"""The host's live view: from the browser the host asks a member (``relaydesk join`` in a
real terminal, on a real X display) to present; the member answers yes in the terminal;
the host's page shows that screen pixel for pixel, asks for remote control (yes again,
in the terminal), then stops the share for everyone (issue 8)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from browser.helpers import LiveServer, canvas_shows
from browser.meeting_pages import (
    CONTROL_PROMPT,
    PRESENT_PROMPT,
    Pages,
    chat_log,
    invite_url,
    member,
    organizer_cookies,
    pages,
    shot,
    start_meeting,
    terminals,
)
from relaydesk.screen.xvfb import Xvfb
from support.screen import Screen
from support.terminal import Terminal

__all__ = ["organizer_cookies", "pages", "terminals"]  # fixtures

PRESENTER = "Pia Presenter"


def test_the_host_asks_a_member_to_present_watches_controls_and_stops_the_share(
    pages: Pages,
    server: LiveServer,
    organizer_cookies: list[dict[str, Any]],
    terminals: Callable[..., Terminal],
    xvfb: Xvfb,
    screen: Screen,
    tmp_path: Path,
) -> None:
    host = pages.open(organizer_cookies).page
    start_meeting(host, server, title="Design review", name="Olga")
    expect(host.locator("#stage-empty")).to_have_text(
        "Nobody is sharing a screen. Ask someone in the list to present."
    )
    pia = terminals(server, invite_url(host), PRESENTER, tmp_path / "pia", xvfb)
    row = member(host, PRESENTER)
    expect(row).to_contain_text("Participant")

    # Asking changes nothing until the member says yes, in their own terminal.
    row.get_by_role("button", name=f"Ask {PRESENTER} to present").click()
    expect(row.get_by_role("button", name="Asked to present…")).to_be_disabled()
    pia.expect(PRESENT_PROMPT.format("Olga"))
    expect(host.locator("#presenter-line")).to_have_text("Nobody is presenting right now")
    pia.type("y")
    expect(host.locator("#presenter-line")).to_have_text(f"{PRESENTER} is presenting")
    expect(row).to_contain_text("Participant, presenting")
    expect(chat_log(host)).to_contain_text(f"{PRESENTER} said yes: you asked to present.")
    canvas_shows(host, screen.settle())
    expect(host.get_by_role("img", name="Shared screen", exact=True)).to_be_visible()
    expect(host.locator("#stage-empty")).to_be_hidden()

    # Remote control, with the presenter's yes.
    host.get_by_role("button", name="Request control").click()
    pia.expect(CONTROL_PROMPT.format("Olga"))
    pia.type("y")
    expect(host.get_by_role("button", name="Give back control")).to_be_visible()
    expect(row).to_contain_text("presenting")
    expect(member(host, "Olga")).to_contain_text("Host, in control")
    pia.expect("Olga now controls your mouse and keyboard")
    shot(host, "host-live-view-in-control")

    # Stop sharing for all: the share ends everywhere, control with it.
    host.get_by_role("button", name="Stop sharing for all").click()
    pia.expect(r"stopped presenting \(by host\)")
    expect(host.locator("#presenter-line")).to_have_text("Nobody is presenting right now")
    expect(host.get_by_role("img", name="Shared screen", exact=True)).to_be_hidden()
    expect(host.locator("#control")).to_be_hidden()
    expect(host.get_by_role("button", name="Stop sharing for all")).to_be_disabled()
    expect(row).not_to_contain_text("presenting")
    expect(chat_log(host)).to_contain_text("Remote control ended")
    shot(host, "host-after-stop-sharing")
