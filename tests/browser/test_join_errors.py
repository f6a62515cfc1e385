"""The join form's refusals: a wrong password and an unknown session ID show the broker's
one sentence (the same for both, so that nobody can probe IDs), and a session with a
password is joined with the right one (issue 4)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from browser.helpers import (
    JOIN_REFUSED,
    LiveServer,
    Share,
    Watched,
    canvas_shows,
    join_in_browser,
)
from relaydesk.screen.xvfb import Xvfb
from support.screen import Screen

PASSWORD = f"open sesame {secrets.token_hex(4)}"


@pytest.fixture(scope="module")
def locked_share(organizer_profile: Path, xvfb: Xvfb, screen: Screen) -> Iterator[Share]:
    """``relaydesk start --password-stdin``: a session with a password."""
    started = Share(organizer_profile, xvfb, "Olga Organizer", password=PASSWORD)
    try:
        yield started
    finally:
        started.stop()


def refused_with(page: object) -> str:
    """The join form is still there, nothing connected, and the alert says why."""
    alert = page.get_by_role("alert")  # type: ignore[attr-defined]
    expect(alert).not_to_be_empty()
    expect(page.locator("#leave")).to_be_hidden()  # type: ignore[attr-defined]
    expect(page.get_by_role("button", name="Join")).to_be_enabled()  # type: ignore[attr-defined]
    expect(page.locator("#status")).to_have_text("Not connected")  # type: ignore[attr-defined]
    return str(alert.text_content())


def test_a_wrong_password_and_an_unknown_session_show_the_same_message(
    locked_share: Share, server: LiveServer, browser_page: Watched
) -> None:
    page = browser_page.page
    join_in_browser(page, locked_share.invite_url, "Wanda Wrong", password="not the password")
    wrong_password = refused_with(page)
    assert wrong_password == JOIN_REFUSED

    # An ID nobody uses, typed into the form at /j (the page without an ID in its path).
    taken = locked_share.session_id.replace(" ", "")
    unknown = taken
    while unknown == taken:
        unknown = f"{secrets.randbelow(10**9):09d}"
    page.goto(f"{server.url}/j")
    page.get_by_label("Session ID").fill(f"{unknown[:3]} {unknown[3:6]} {unknown[6:]}")
    page.get_by_label("Your name").fill("Uma Unknown")
    page.get_by_label("Session password").fill("anything")
    page.get_by_role("button", name="Join").click()
    assert refused_with(page) == wrong_password


def test_the_right_password_joins(
    locked_share: Share, screen: Screen, browser_page: Watched
) -> None:
    page = browser_page.page
    join_in_browser(page, locked_share.invite_url, "Rita Right", password=PASSWORD)
    expect(page.locator("#status")).to_have_text("Connected")
    expect(page.locator("#join-error")).to_be_empty()
    roster = page.get_by_role("list", name="Participants")
    expect(roster).to_contain_text("Olga Organizer")
    expect(roster).to_contain_text("Host, presenting")
    expect(roster).to_contain_text("Rita Right (you)")
    locked_share.process.wait_for_line(r"^\+ Rita Right joined$")
    canvas_shows(page, screen.settle())


def test_only_the_join_form_shows_before_joining(share: Share, browser_page: Watched) -> None:
    page = browser_page.page
    page.goto(share.invite_url)
    expect(page.get_by_role("button", name="Join")).to_be_visible()
    assert not page.locator("#session-view").is_visible()
