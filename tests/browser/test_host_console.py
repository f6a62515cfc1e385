"""The organizer's console at /host: "Start a meeting" with every setting, the host in
the meeting in the same page, the invite link copied, a listed meeting on the join page,
a meeting that asks for an e-mail address, and a chosen ID already in use (issue 8)."""

from __future__ import annotations

import secrets
from typing import Any

from playwright.sync_api import expect

from browser.helpers import LiveServer
from browser.meeting_pages import (
    EMAIL_NEEDED,
    ID_TAKEN,
    Pages,
    clipboard,
    fill_start_form,
    in_meeting,
    invite_url,
    member,
    organizer_cookies,
    pages,
    shot,
    signed_in,
)

__all__ = ["organizer_cookies", "pages"]  # fixtures


def fresh_id() -> str:
    return f"{secrets.randbelow(9 * 10**8) + 10**8}"


def test_start_a_meeting_with_its_settings_then_join_it_from_the_list(
    pages: Pages, server: LiveServer, organizer_cookies: list[dict[str, Any]]
) -> None:
    host = pages.open(organizer_cookies).page
    title = f"Quarterly review {secrets.token_hex(3)}"
    wanted = fresh_id()
    host.goto(f"{server.url}/host")
    signed_in(host)
    fill_start_form(
        host, title=title, meeting_id=f"{wanted[:3]} {wanted[3:6]} {wanted[6:]}",
        password="let me in please", name="Olga Host", listed=True, require_email=True,
        lobby=False, join_before_host=True, two_party=False,
    )  # fmt: skip
    shot(host, "console-start-form")
    host.get_by_role("button", name="Start now").click()
    in_meeting(host)

    # The host is in, with the host controls, in the same page.
    expect(host.locator("#meeting-title")).to_have_text(title)
    expect(host.locator("#info-id")).to_have_text(f"{wanted[:3]} {wanted[3:6]} {wanted[6:]}")
    expect(member(host, "Olga Host")).to_contain_text("Host")
    expect(host.get_by_role("button", name="Lock meeting")).to_be_visible()
    expect(host.get_by_role("button", name="End meeting for all")).to_be_visible()
    expect(host.locator("#info-flags")).to_contain_text("Listed on the join page")
    assert invite_url(host) == f"{server.url}/j/{wanted}"
    host.get_by_role("button", name="Copy link").click()
    expect(host.get_by_role("button", name="Copied")).to_be_visible()
    assert clipboard(host) == f"{server.url}/j/{wanted}"
    shot(host, "meeting-host-alone")

    # The join page lists it (title and organizer); picking it fills in its ID.
    guest = pages.open().page
    guest.goto(f"{server.url}/j")
    listed = guest.get_by_role("list", name="Open meetings")
    entry = listed.get_by_role("button", name=title)
    expect(entry).to_contain_text("hosted by olga")
    shot(guest, "join-listed")
    entry.click()
    expect(guest.get_by_label("Session ID")).to_have_value(
        f"{wanted[:3]} {wanted[3:6]} {wanted[6:]}"
    )

    # It asks for an e-mail address: the broker's sentence, and the field says so.
    guest.get_by_label("Your name").fill("Gina Guest")
    guest.get_by_label("Session password").fill("let me in please")
    guest.get_by_role("button", name="Join").click()
    expect(guest.get_by_role("alert")).to_have_text(EMAIL_NEEDED)
    expect(guest.locator("#email-note")).to_have_text("(required for this session)")
    expect(guest.get_by_role("textbox", name="E-mail")).to_be_focused()
    shot(guest, "join-email-required")
    guest.get_by_role("textbox", name="E-mail").fill("gina@example.org")
    guest.get_by_role("button", name="Join").click()
    in_meeting(guest)

    # The host sees who came, with the e-mail address from the ticket.
    expect(member(host, "Gina Guest")).to_contain_text("gina@example.org")
    expect(member(host, "Gina Guest")).to_contain_text("Participant")
    expect(guest.locator("#meeting-title")).to_have_text(title)
    expect(member(guest, "Gina Guest")).not_to_contain_text("gina@example.org")  # hosts only
    shot(host, "meeting-host-with-guest")

    host.get_by_role("button", name="End meeting for all").click()
    host.get_by_role("button", name="End for all").click()
    expect(guest.locator("#final-view")).to_be_visible()
    # Ended: no longer listed.
    guest.goto(f"{server.url}/j")
    expect(guest.get_by_role("heading", name="Join a session")).to_be_visible()
    expect(guest.get_by_role("button", name=title)).to_have_count(0)


def test_a_chosen_id_in_use_shows_the_brokers_sentence_next_to_the_field(
    pages: Pages, server: LiveServer, organizer_cookies: list[dict[str, Any]]
) -> None:
    host = pages.open(organizer_cookies).page
    taken = fresh_id()
    host.goto(f"{server.url}/host")
    signed_in(host)
    fill_start_form(host, title="Planning", meeting_id=taken)
    host.get_by_role("button", name="Create for later").click()
    created = host.get_by_role("list", name="Meetings created here")
    expect(created).to_contain_text("Planning")
    expect(created).to_contain_text(f"{taken[:3]} {taken[3:6]} {taken[6:]}")
    expect(host.get_by_role("textbox", name="Title")).to_have_value("")  # ready for the next

    fill_start_form(host, title="Clash", meeting_id=taken)
    host.get_by_role("button", name="Start now").click()
    field_error = host.locator("#start-id-error")
    expect(field_error).to_have_text(ID_TAKEN)
    expect(host.get_by_role("textbox", name="Meeting ID")).to_have_attribute("aria-invalid", "true")
    expect(host.locator("#console-view")).to_be_visible()
    shot(host, "console-id-taken")

    # Typing a new ID clears the complaint; the one made for later can still be joined.
    host.get_by_role("textbox", name="Meeting ID").fill("")
    expect(field_error).to_be_empty()
    created.get_by_role("button", name="Copy the invite link of Planning").click()
    assert clipboard(host) == f"{server.url}/j/{taken}"
    created.get_by_role("button", name="Join Planning as host").click()
    in_meeting(host)
    expect(host.locator("#info-id")).to_have_text(f"{taken[:3]} {taken[3:6]} {taken[6:]}")
    host.get_by_role("button", name="End meeting for all").click()
    host.get_by_role("button", name="End for all").click()
    expect(host.locator("#final-title")).to_have_text("The meeting has ended")
    expect(host.get_by_role("link", name="Back to the console")).to_be_visible()


def test_the_pages_are_served_under_the_strict_policy(pages: Pages, server: LiveServer) -> None:
    """The server's own address leads to the join page; /host and /j/ID are the same
    page under the same Content-Security-Policy (no inline script or style)."""
    page = pages.open().page
    answers = {
        path: page.goto(f"{server.url}{path}") for path in ("/", "/j", "/j/123456789", "/host")
    }
    assert page.url == f"{server.url}/host"
    assert answers["/"].url == f"{server.url}/j"  # redirected
    for path, answer in answers.items():
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "img-src 'self' blob:;" in policy, path
        assert "unsafe-inline" not in policy, path
        assert answer.headers["x-content-type-options"] == "nosniff", path
    assert page.locator("script:not([src]), style, [style]").count() == 0
    expect(page.get_by_role("heading", name="Organizer sign-in")).to_be_visible()
