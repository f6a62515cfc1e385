"""The site policy in the browser, as people meet it (docs/operators.md, "Site policy"):
the organizer's start form shows what the site forces, the meeting hides what it turned
off and says why, the join page asks for an account under restricted access and comes
back after signing in, "Forgot your password?" on the sign-in page, and the member's own
session log on the final card. Real Chromium; a server of this module's own, since its
policy reaches every session on it."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from browser.helpers import (
    ORGANIZER,
    ORGANIZER_PASSWORD,
    LiveServer,
    Share,
    organizer_login,
    organizer_server,
    until,
)
from browser.meeting_pages import (
    Pages,
    final,
    in_meeting,
    open_join_form,
    organizer_cookies,
    pages,
    shot,
    sign_in,
    signed_in,
)
from relaydesk.broker.policy import SitePolicy
from relaydesk.relay.records import RecordKind
from relaydesk.screen.xvfb import Xvfb

__all__ = ["organizer_cookies", "pages"]  # fixtures

SHARING_OFF = "Desktop sharing is turned off on this server by its administrator."
CONTROL_OFF = "Remote control is turned off on this server by its administrator."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with organizer_server(tmp_path_factory.mktemp("policy-server")) as live:
        yield live


@pytest.fixture
def policy(server: LiveServer) -> Iterator[Any]:
    """Set the site policy for one test, as an administrator would; none afterwards."""

    def set_rules(**rules: object) -> None:
        server.broker.store.set_policy(SitePolicy().changed(dict(rules)), "test")

    yield set_rules
    server.broker.store.set_policy(SitePolicy(), "test")


def test_the_start_form_shows_what_the_site_forces(
    pages: Pages, server: LiveServer, organizer_cookies: list[dict[str, Any]], policy: Any
) -> None:
    policy(all_unlisted=True, require_attendee_email=True, require_session_password=True,
           min_session_password_chars=10, disable_sharing=True)  # fmt: skip
    host = pages.open(organizer_cookies).page
    host.goto(f"{server.url}/host")
    signed_in(host)
    form = host.locator("#start-form")
    listed = form.get_by_role("checkbox", name="List on the join page", exact=True)
    email = form.get_by_role("checkbox", name="Ask for an e-mail address", exact=True)
    expect(listed).to_be_disabled()
    expect(listed).not_to_be_checked()
    expect(email).to_be_disabled()
    expect(email).to_be_checked()
    expect(form).to_contain_text("Off: this server keeps every meeting unlisted.")
    expect(form).to_contain_text("On: this server asks everyone for one.")
    expect(form.locator("#start-password-note")).to_have_text("(required on this server)")
    expect(form).to_contain_text("At least 10 characters.")
    expect(host.locator("#start-policy")).to_have_text(SHARING_OFF)
    shot(host, "policy-start-form")
    # Without a password the page says so; a short one, the broker names its rule.
    host.get_by_role("button", name="Start now").click()
    expect(host.locator("#start-error")).to_have_text(
        "This server requires a password for every meeting: choose one."
    )
    form.get_by_label("Meeting password").fill("too short")
    host.get_by_role("button", name="Start now").click()
    expect(host.locator("#start-error")).to_contain_text("(rule: length)")
    form.get_by_label("Meeting password").fill("long enough, surely")
    host.get_by_role("button", name="Start now").click()
    in_meeting(host)
    # In the meeting: nobody presents here, and the page says why.
    expect(host.locator("#info-flags")).to_contain_text("Desktop sharing off (site policy)")
    expect(host.locator("#stage-empty")).to_have_text(SHARING_OFF)
    expect(host.get_by_role("button", name="Present my screen")).to_be_hidden()
    shot(host, "policy-meeting-no-sharing")


def test_remote_control_off_is_said_in_the_meeting(
    pages: Pages, server: LiveServer, policy: Any, xvfb: Xvfb, tmp_path: Path
) -> None:
    policy(disable_control=True)
    profile = organizer_login(server, tmp_path / "organizer")
    share = Share(profile, xvfb, "Olga Organizer")  # relaydesk start: it presents
    try:
        guest = pages.open().page
        open_join_form(guest, server, share.session_id.replace(" ", ""), "Gwen Guest")
        in_meeting(guest)
        expect(guest.locator("#presenter-line")).to_have_text("Olga Organizer is presenting")
        button = guest.locator("#control")
        expect(button).to_have_text("Remote control is off")
        expect(button).to_be_disabled()
        expect(button).to_have_attribute("title", CONTROL_OFF)
        expect(guest.locator("#info-flags")).to_contain_text("Remote control off (site policy)")
        shot(guest, "policy-control-off")
    finally:
        share.stop()


def test_the_join_page_asks_for_an_account_and_comes_back_after_signing_in(
    pages: Pages, server: LiveServer, organizer_cookies: list[dict[str, Any]], policy: Any
) -> None:
    host = pages.open(organizer_cookies).page
    host.goto(f"{server.url}/host")
    signed_in(host)
    host.get_by_role("button", name="Start now").click()
    in_meeting(host)
    meeting = str(host.locator("#info-id").text_content()).replace(" ", "")
    policy(restricted_access=True)
    guest = pages.open().page
    open_join_form(guest, server, meeting, "Nadia")
    expect(guest.locator("#join-policy")).to_have_text(
        "Only people with an account on this server can join: sign in first."
    )
    expect(guest.locator("#join-error")).to_contain_text("admits only people with an account")
    shot(guest, "policy-join-needs-account")
    guest.get_by_role("link", name="Sign in with your account").click()
    expect(guest).to_have_url(f"{server.url}/host?next=%2Fj%2F{meeting}")
    guest.get_by_label("Username").fill(ORGANIZER)
    guest.get_by_label("Password", exact=True).fill(ORGANIZER_PASSWORD)
    guest.get_by_role("button", name="Sign in").click()
    expect(guest).to_have_url(f"{server.url}/j/{meeting}")  # back at the join page
    guest.get_by_label("Your name").fill("Nadia")
    guest.get_by_role("button", name="Join").click()
    in_meeting(guest)  # signed in: the join carried the login


def test_forgot_your_password_with_an_administrators_code(pages: Pages, server: LiveServer) -> None:
    store = server.broker.store
    store.add_account("dana", server.broker.passwords.hash("dana's first password"))
    store.add_account("root", server.broker.passwords.hash("the administrator's one"))
    store.set_admin("root", True)
    page = pages.open().page
    page.goto(f"{server.url}/host")
    page.get_by_label("Username").fill("dana")
    page.get_by_role("button", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    expect(page.locator("#reset-ask-username")).to_have_value("dana")
    page.get_by_role("button", name="Ask for a reset").click()
    expect(page.locator("#reset-ask-done")).to_contain_text("an administrator has been asked")
    shot(page, "policy-reset-asked")
    # The administrator approves it (as `relaydesk admin password-reset approve ID` does)
    # and reads the code out by phone.
    [request] = store.password_resets()
    root = store.account("root")
    assert root is not None and request.username == "dana"
    code = server.broker.resets.approve(request.id, root[0]).code
    page.get_by_label("Reset code").fill(code)
    page.get_by_label("New password", exact=True).fill("abcabcabcabc")
    page.get_by_label("The same password again").fill("abcabcabcabc")
    server.broker.store.set_policy(SitePolicy(strong_passwords=True), "test")
    try:
        page.get_by_role("button", name="Set the new password").click()
        expect(page.locator("#reset-set-error")).to_contain_text("(rule: guessable)")
        for field in ("New password", "The same password again"):
            page.get_by_label(field, exact=True).fill("copper lanterns at dusk")
        page.get_by_role("button", name="Set the new password").click()
        expect(page.locator("#login-notice")).to_have_text(
            "Your password was changed. Sign in with it."
        )
    finally:
        server.broker.store.set_policy(SitePolicy(), "test")
    sign_in(page, server, "dana", "copper lanterns at dusk")
    signed_in(page)


def test_the_final_card_offers_the_session_log(
    pages: Pages, server: LiveServer, organizer_cookies: list[dict[str, Any]]
) -> None:
    host = pages.open(organizer_cookies).page
    host.goto(f"{server.url}/host")
    signed_in(host)
    host.get_by_role("button", name="Start now").click()
    in_meeting(host)
    meeting = str(host.locator("#info-id").text_content()).replace(" ", "")
    guest = pages.open().page
    open_join_form(guest, server, meeting, "Liv")
    in_meeting(guest)
    guest.get_by_label("Message").fill("hello from Liv")
    guest.get_by_role("button", name="Send", exact=True).click()
    expect(host.get_by_role("log", name="Chat")).to_contain_text("hello from Liv")
    guest.get_by_role("button", name="Leave").click()
    final(guest, "You left the meeting")
    card = guest.locator("#final-log")
    expect(card).to_be_visible()
    shot(guest, "policy-final-session-log")
    with guest.expect_download() as text_download:
        card.get_by_role("link", name="Save the log as text").click()
    assert re.fullmatch(rf"relaydesk-{meeting}-\d{{8}}-\d{{6}}\.txt",
                        text_download.value.suggested_filename)  # fmt: skip
    text = Path(text_download.value.path()).read_text()
    assert f"Session ID:      {meeting[:3]} {meeting[3:6]} {meeting[6:]}" in text
    assert "You:             Liv (participant" in text and "olga" in text
    with guest.expect_download() as csv_download:
        card.get_by_role("link", name="Save the log as CSV").click()
    [row] = list(csv.DictReader(io.StringIO(Path(csv_download.value.path()).read_text())))
    assert row["session_id"] == meeting and row["display_name"] == "Liv"

    # Counted at the page's link: what the relay counted for it, give or take the frames
    # in flight when it left.
    def left() -> Any:
        return [r for r in server.broker.store.records()
                if r.session_id == meeting and r.kind is RecordKind.LEAVE
                and r.display_name == "Liv"]  # fmt: skip

    [record] = until(left, "the relay reports Liv's leave")
    assert int(row["bytes_sent"]) == record.bytes_in > 0
    assert 0 < int(row["bytes_received"]) <= record.bytes_out
