"""The organizer's sign-in at /host, as a person uses it: a wrong password, signing in
and out (the token only ever in the HttpOnly cookie, never in the page's storage), a
sign-in that ended elsewhere (the next request answers 401: the sign-in form comes back
and says why), and two-step login: enrolment with the QR code and the key, the code
computed by an authenticator (pyotp here), recovery codes shown once and copied, a
sign-in that needs the one-time code, and turning it off (issue 8).

These tests sign in several times: they run on a server of their own (sign-ins are
rate limited per address)."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect

from browser.helpers import LiveServer, organizer_server, relaydesk
from browser.meeting_pages import (
    COOKIE,
    NEEDS_CODE,
    WRONG_LOGIN,
    Pages,
    clipboard,
    pages,
    shot,
    sign_in,
    signed_in,
)

__all__ = ["pages"]  # fixtures

EXPIRED = "Your sign-in has ended or expired. Sign in again to go on."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with organizer_server(tmp_path_factory.mktemp("login-server")) as live:
        yield live


def new_account(server: LiveServer) -> tuple[str, str]:
    """An organizer account of its own (``relaydesk admin user add``)."""
    username, password = f"org{secrets.token_hex(3)}", f"pass phrase {secrets.token_hex(4)}"
    relaydesk("admin", "--data", server.data, "user", "add", username, "--password-stdin",
              stdin=password + "\n")  # fmt: skip
    return username, password


def token_cookies(page: Any) -> list[dict[str, Any]]:
    return [c for c in page.context.cookies() if c["name"] == COOKIE]


def nothing_stored(page: Any) -> None:
    """The page keeps no token of its own: not in storage, not readable as a cookie."""
    stored = page.evaluate("[localStorage.length, sessionStorage.length, document.cookie]")
    assert stored == [0, 0, ""], stored


def test_a_wrong_password_then_signing_in_and_out(pages: Pages, server: LiveServer) -> None:
    username, password = new_account(server)
    page = pages.open().page
    page.goto(f"{server.url}/host")
    expect(page.get_by_role("heading", name="Organizer sign-in")).to_be_visible()
    expect(page.get_by_label("One-time code")).to_be_hidden()
    shot(page, "login")

    sign_in(page, server, username, "not the password")
    expect(page.get_by_role("alert")).to_have_text(WRONG_LOGIN)
    expect(page.get_by_role("button", name="Sign in")).to_be_enabled()
    shot(page, "login-wrong-password")

    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    signed_in(page)
    expect(page.locator("#account-line")).to_contain_text(f"Signed in as {username}")
    expect(page.locator("#totp-state")).to_have_text("Off: your password alone signs you in.")
    (cookie,) = token_cookies(page)
    wanted = {"httpOnly": True, "secure": True, "sameSite": "Strict", "path": "/api"}
    assert {key: cookie[key] for key in wanted} == wanted
    nothing_stored(page)
    shot(page, "console")

    # Back later (a reload): still signed in, by the cookie alone.
    page.reload()
    signed_in(page)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Organizer sign-in")).to_be_visible()
    expect(page.locator("#login-notice")).to_have_text("You signed out.")
    assert token_cookies(page) == []
    page.reload()
    expect(page.get_by_role("heading", name="Organizer sign-in")).to_be_visible()
    nothing_stored(page)


def test_a_sign_in_ended_elsewhere_brings_the_form_back_with_a_sentence(
    pages: Pages, server: LiveServer
) -> None:
    username, password = new_account(server)
    first = pages.open().page
    sign_in(first, server, username, password)
    signed_in(first)
    # The same sign-in in another window, which signs out: the token is gone everywhere.
    other = pages.open(token_cookies(first)).page
    other.goto(f"{server.url}/host")
    signed_in(other)
    other.get_by_role("button", name="Sign out").click()
    expect(other.get_by_role("heading", name="Organizer sign-in")).to_be_visible()

    # The first window does not know yet; its next request is refused (401).
    first.get_by_role("textbox", name="Title").fill("Too late")
    first.get_by_role("button", name="Start now").click()
    expect(first.get_by_role("heading", name="Organizer sign-in")).to_be_visible()
    expect(first.locator("#login-notice")).to_have_text(EXPIRED)
    expect(first.get_by_label("Username")).to_have_value(username)
    shot(first, "login-expired")

    first.get_by_label("Password", exact=True).fill(password)
    first.get_by_role("button", name="Sign in").click()
    signed_in(first)


def test_two_step_login_from_enrolment_to_turning_it_off(
    pages: Pages, server: LiveServer, tmp_path: Path
) -> None:
    username, password = new_account(server)
    page = pages.open().page
    sign_in(page, server, username, password)
    signed_in(page)

    # Enrolment: the server's QR code as an image (from a blob: URL), the key as text.
    page.get_by_role("button", name="Turn on two-step login").click()
    qr = page.get_by_role("img", name="QR code of your two-step login key")
    expect(qr).to_be_visible()
    expect(qr).to_have_attribute("src", re.compile(r"^blob:https://127\.0\.0\.1:\d+/"))
    page.wait_for_function(
        "document.getElementById('totp-qr').complete && "
        "document.getElementById('totp-qr').naturalWidth > 0"
    )
    secret = str(page.locator("#totp-secret").text_content()).replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret
    shot(page, "totp-enrol")
    authenticator = pyotp.TOTP(secret)

    # A wrong code first: the server's sentence, still enrolling.
    page.get_by_label("The 6-digit code the app shows").fill(
        f"{(int(authenticator.now()) + 1) % 10**6:06d}"
    )
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#totp-error")).not_to_be_empty()
    expect(qr).to_be_visible()

    page.get_by_label("The 6-digit code the app shows").fill(authenticator.now())
    page.get_by_role("button", name="Confirm").click()
    codes_list = page.get_by_role("list", name="Recovery codes")
    expect(codes_list.get_by_role("listitem")).to_have_count(10)
    codes = [str(text) for text in codes_list.get_by_role("listitem").all_text_contents()]
    assert len(set(codes)) == 10, codes
    expect(qr).to_be_hidden()
    shot(page, "totp-recovery-codes")
    page.get_by_role("button", name="Copy the codes").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert clipboard(page) == "\n".join(codes)
    page.get_by_role("button", name="I saved them").click()
    expect(codes_list).to_be_hidden()
    expect(page.locator("#totp-state")).to_have_text(
        "On: signing in asks for a code from your authenticator app."
    )
    assert codes[0] not in str(page.locator("body").text_content())  # shown once

    # Signing in now asks for the one-time code (the next step's: no code is used twice).
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, server, username, password)
    expect(page.get_by_label("One-time code")).to_be_visible()
    expect(page.get_by_label("One-time code")).to_be_focused()
    expect(page.locator("#login-notice")).to_have_text(NEEDS_CODE)
    shot(page, "login-code-asked")
    page.get_by_label("One-time code").fill(authenticator.at(time.time() + 30))
    page.get_by_role("button", name="Sign in").click()
    signed_in(page)
    nothing_stored(page)

    # Turned off with a recovery code (the phone is lost, say).
    page.get_by_role("button", name="Turn off two-step login").click()
    page.get_by_label("Code from your app (or a recovery code)").fill(codes[0])
    page.get_by_role("button", name="Turn off", exact=True).click()
    expect(page.locator("#totp-state")).to_have_text("Off: your password alone signs you in.")
    shot(page, "totp-off")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, server, username, password)
    signed_in(page)
