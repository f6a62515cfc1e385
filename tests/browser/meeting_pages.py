"""The meeting pages as a person uses them: the organizer's console at /host, the join
page, the waiting card and the meeting view, driven in real Chromium by clicking and
typing; plus ``relaydesk join`` in a real terminal for a member who shares a screen.

Fixtures here are imported by the test modules that use them. Every page is opened with
``browser.helpers.open_page`` (its requests, console and errors recorded); an organizer's
page gets the HttpOnly cookie of a real sign-in made once per module through the page
itself (sign-ins are rate limited per address).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from browser.helpers import (
    ORGANIZER,
    ORGANIZER_PASSWORD,
    LiveServer,
    Watched,
    open_page,
)
from relaydesk.screen.xvfb import Xvfb
from support.terminal import Terminal

SHOTS = Path("/tmp/relaydesk-shots")
COOKIE = "relaydesk_token"
# The broker's sentences, shown as they come.
LOCKED = "This meeting is locked: nobody new can join."
EMAIL_NEEDED = "This session asks for your e-mail address."
BOTH_PARTIES = "This support session already has both parties."
ID_TAKEN = "A live session already has that ID; choose another."
NEEDS_CODE = "This account needs its one-time code."
WRONG_LOGIN = "Wrong username or password."
# The checkboxes of "Start a meeting", by the name of the setting in the API.
SETTINGS = {
    "lobby": "Lobby",
    "join_before_host": "Join before host",
    "require_email": "Ask for an e-mail address",
    "listed": "List on the join page",
    "two_party": "Support session",
}
PRESENT_PROMPT = r"\? {} asks you to show your screen to everyone in the session\. Allow\? \[y/N\]"
CONTROL_PROMPT = r"\? {} asks to control your mouse and keyboard\. Allow\? \[y/N\]"
# A failed fetch that is a normal answer (not signed in yet) is logged by Chromium.
EXPECTED_CONSOLE = re.compile(
    r"Failed to load resource: the server responded with a status of 4\d\d"
)


def shot(page: Any, name: str) -> None:
    """A screenshot of the page as it is now, to look at: /tmp/relaydesk-shots/NAME.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def unexpected_console(watched: Watched) -> list[str]:
    """Console errors and relaydesk warnings other than an expected 4xx answer."""
    errors = [t for t in watched.console_of("error") if not EXPECTED_CONSOLE.search(t)]
    return errors + [t for t in watched.console_of("warning") if "relaydesk" in t]


# Opening pages ---------------------------------------------------------------------------


class Pages:
    """Opens pages, each in a fresh browser context (its own cookies), allowed to use the
    clipboard; closes them all at the end and checks none of them broke."""

    def __init__(self, chromium: Any, server: LiveServer) -> None:
        self.chromium = chromium
        self.server = server
        self.opened: list[Watched] = []

    def open(self, cookies: list[dict[str, Any]] | None = None) -> Watched:
        watched = open_page(self.chromium)
        self.opened.append(watched)
        watched.context.grant_permissions(
            ["clipboard-read", "clipboard-write"], origin=self.server.url
        )
        if cookies:
            watched.context.add_cookies(cookies)
        return watched

    def close(self) -> None:
        problems = []
        for watched in self.opened:
            problems += watched.page_errors + unexpected_console(watched)
            watched.context.close()
        assert problems == [], problems


@pytest.fixture
def pages(chromium: Any, server: LiveServer) -> Iterator[Pages]:
    opened = Pages(chromium, server)
    try:
        yield opened
    finally:
        opened.close()


def sign_in(page: Any, server: LiveServer, username: str, password: str) -> None:
    """The sign-in form at /host, filled and sent."""
    page.goto(f"{server.url}/host")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def signed_in(page: Any) -> None:
    expect(page.get_by_role("heading", name="Start a meeting")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


@pytest.fixture(scope="module")
def organizer_cookies(chromium: Any, server: LiveServer) -> list[dict[str, Any]]:
    """The organizer signs in once through the page; its contexts then carry the cookie
    (HttpOnly: the page itself never reads it)."""
    watched = open_page(chromium)
    try:
        sign_in(watched.page, server, ORGANIZER, ORGANIZER_PASSWORD)
        signed_in(watched.page)
        cookies = [c for c in watched.context.cookies() if c["name"] == COOKIE]
        assert cookies and cookies[0]["httpOnly"], watched.context.cookies()
        return cookies
    finally:
        watched.context.close()


# The organizer's console ------------------------------------------------------------------


def fill_start_form(
    page: Any,
    *,
    title: str = "",
    meeting_id: str = "",
    password: str = "",
    name: str = "",
    **settings: bool,
) -> None:
    form = page.locator("#start-form")
    if title:
        form.get_by_role("textbox", name="Title").fill(title)
    if name:
        form.get_by_role("textbox", name="Display name").fill(name)
    if meeting_id:
        form.get_by_role("textbox", name="Meeting ID").fill(meeting_id)
    if password:
        form.get_by_label("Meeting password").fill(password)
    for key, wanted in settings.items():
        form.get_by_role("checkbox", name=SETTINGS[key], exact=True).set_checked(wanted)


def start_meeting(page: Any, server: LiveServer, **form: Any) -> str:
    """At /host (signed in): fill "Start a meeting", press "Start now", wait until in the
    meeting as its host; the session ID."""
    page.goto(f"{server.url}/host")
    signed_in(page)
    fill_start_form(page, **form)
    page.get_by_role("button", name="Start now").click()
    in_meeting(page)
    expect(page.get_by_role("group", name="Host controls")).to_be_visible()
    return session_id(page)


def session_id(page: Any) -> str:
    return str(page.locator("#info-id").text_content()).replace(" ", "")


def invite_url(page: Any) -> str:
    return str(page.get_by_label("Invite link").input_value())


# Joining ------------------------------------------------------------------------------------


def open_join_form(
    page: Any, server: LiveServer, meeting: str, name: str, email: str = "", password: str = ""
) -> None:
    """The invite link, the join form filled in, Join pressed."""
    page.goto(f"{server.url}/j/{meeting}")
    page.get_by_label("Your name").fill(name)
    if email:
        page.get_by_role("textbox", name="E-mail").fill(email)
    if password:
        page.get_by_label("Session password").fill(password)
    page.get_by_role("button", name="Join").click()


def in_meeting(page: Any) -> None:
    expect(page.locator("#status")).to_have_text("Connected")
    expect(page.locator("#session-view")).to_be_visible()


def join_meeting(page: Any, server: LiveServer, meeting: str, name: str, **fields: str) -> None:
    open_join_form(page, server, meeting, name, **fields)
    in_meeting(page)


def waiting(page: Any, title: str) -> None:
    card = page.locator("#waiting-view")
    expect(card).to_be_visible()
    expect(card.get_by_role("heading")).to_have_text(title)


def final(page: Any, title: str, text: str | None = None) -> None:
    card = page.locator("#final-view")
    expect(card).to_be_visible()
    expect(card.get_by_role("heading", level=1)).to_have_text(title)
    if text is not None:
        expect(card.locator("#final-text")).to_have_text(text)


# The meeting view ------------------------------------------------------------------------------


def roster(page: Any) -> Any:
    return page.get_by_role("list", name="Participants")


def member(page: Any, name: str) -> Any:
    """Someone's row in the participants list (their name is the first line)."""
    rows = roster(page).get_by_role("listitem")
    return rows.filter(
        has=page.locator(".name", has_text=re.compile(rf"^{re.escape(name)}( \(you\))?$"))
    )


def lobby_row(page: Any, name: str) -> Any:
    return page.get_by_role("list", name="Lobby").get_by_role("listitem").filter(has_text=name)


def chat_log(page: Any) -> Any:
    return page.get_by_role("log", name="Chat")


def security_code(page: Any) -> str:
    return str(page.locator("#security-code").text_content())


def clipboard(page: Any) -> str:
    return str(page.evaluate("navigator.clipboard.readText()"))


# A member that shares a screen: ``relaydesk join`` in a terminal -------------------------------


def on_display(xvfb: Xvfb) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "DISPLAY"} | xvfb.env


@pytest.fixture
def terminals() -> Iterator[Callable[..., Terminal]]:
    """``relaydesk join URL --name NAME`` in real terminals, stopped at the end."""
    started: list[Terminal] = []

    def join(server: LiveServer, url: str, name: str, profile: Path, xvfb: Xvfb) -> Terminal:
        terminal = Terminal(
            "join", url, "--name", name, "--fingerprint", server.fingerprint,
            "--config-dir", profile, env=on_display(xvfb),
        )  # fmt: skip
        started.append(terminal)
        terminal.expect(rf"Joined session .* as {re.escape(name)}\.")
        return terminal

    try:
        yield join
    finally:
        for terminal in started:
            terminal.stop()
