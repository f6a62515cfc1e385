"""The page keeps its promises for a whole session (join, watch, chat both ways, leave):
nothing is requested from anywhere but the server, the page is served with a strict
Content-Security-Policy and runs no inline script, and nothing goes wrong in its console
(issue 4: "no external requests (no CDN), strict Content-Security-Policy, no inline
scripts")."""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from playwright.sync_api import expect

from browser.helpers import (
    Process,
    Share,
    Watched,
    canvas_shows,
    join_and_agree,
    send_from_browser,
)
from support.screen import Screen

NAME = "Quinn Quality"


def test_a_whole_session_stays_on_the_server_under_a_strict_policy(
    share: Share, screen: Screen, python_viewer: Process, browser_page: Watched
) -> None:
    page = browser_page.page
    responses: dict[str, dict[str, str]] = {}
    page.on("response", lambda response: responses.setdefault(response.url, response.headers))

    join_and_agree(page, share, python_viewer, NAME)
    canvas_shows(page, screen.settle())
    python_viewer.type_line(f"ping {secrets.token_hex(3)}")
    expect(page.get_by_role("log", name="Chat")).to_contain_text("Pat Python: ping")
    text = f"pong {secrets.token_hex(3)}"
    send_from_browser(page, text)
    python_viewer.wait_for_line(rf"^\[chat\] {NAME}: {text}$")
    page.get_by_role("button", name="Actual size").click()
    expect(page.get_by_role("button", name="Actual size")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="Leave").click()
    expect(page.locator("#status")).to_have_text("You left the session.")
    python_viewer.wait_for_line(rf"^- {NAME} left \(left\)$")

    # Every request, the WebSocket included, went to the server the invite names.
    server = urlsplit(share.invite_url).netloc
    assert browser_page.requests, "no request was recorded: the recorder is broken"
    away = [url for url in browser_page.requests + browser_page.websockets
            if urlsplit(url).netloc != server or urlsplit(url).hostname != "127.0.0.1"]  # fmt: skip
    assert away == []
    assert browser_page.websockets == [f"wss://{server}/relay"]

    # The page itself: a strict policy, and only scripts loaded from the server.
    headers = responses[share.invite_url]
    policy = headers.get("content-security-policy", "")
    directives = dict(
        (part.split()[0], part.split()[1:]) for part in policy.split(";") if part.strip()
    )
    assert directives.get("default-src") == ["'none'"], policy
    assert directives.get("script-src") == ["'self'"], policy
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert re.search(r"frame-ancestors 'none'", policy)
    assert page.locator("script:not([src])").count() == 0
    assert page.locator("script[src]").count() >= 1
    scripts = [url for url in browser_page.requests if url.endswith(".js")]
    assert scripts and all("content-security-policy" in responses[url] for url in scripts)

    # Nothing went wrong: no console error, no uncaught exception, no CSP violation.
    assert browser_page.page_errors == []
    assert browser_page.console_of("error") == []
    assert [t for t in browser_page.console_of("warning") if "relaydesk" in t] == []
