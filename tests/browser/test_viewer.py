"""A participant joins by the invite URL in real headless Chromium and sees the
presenter's screen, pixel for pixel, and follows its changes; the security code the page
shows is the one the Python host and the Python viewer print (issue 4)."""

from __future__ import annotations

import secrets
import subprocess

from playwright.sync_api import expect

from browser.helpers import (
    HEIGHT,
    WIDTH,
    LiveServer,
    Process,
    Share,
    Watched,
    canvas_rgb,
    canvas_shows,
    codes_agree,
    join_in_browser,
    until,
)
from support.screen import Screen


def test_the_canvas_shows_the_presenters_screen_and_follows_it(
    share: Share, screen: Screen, browser_page: Watched
) -> None:
    page = browser_page.page
    join_in_browser(page, share.invite_url, "Vera Viewer")
    expect(page.locator("#status")).to_have_text("Connected")
    canvas = page.get_by_role("img", name="Shared screen", exact=True)
    expect(canvas).to_be_visible()
    expect(page.locator("#presenter-line")).to_have_text("Olga Organizer is presenting")

    before = screen.settle()
    canvas_shows(page, before)
    assert canvas_rgb(page).shape == (HEIGHT, WIDTH, 3)

    # A real X client draws something new: a window in a colour of this run's own, over
    # the known picture, and a new background around it.
    colour = secrets.randbits(24) | 0x010101
    screen.rectangle(150, 200, 180, 90, colour)
    screen.background(secrets.randbits(24))
    after = screen.settle(changed_from=before)
    canvas_shows(page, after)
    assert tuple(canvas_rgb(page)[245, 240]) == (colour >> 16, (colour >> 8) & 0xFF, colour & 0xFF)


def test_the_security_code_is_the_python_clients_code(
    share: Share, python_viewer: Process, server: LiveServer, browser_page: Watched
) -> None:
    page = browser_page.page
    joined_at = len(python_viewer.stdout_lines)
    join_in_browser(page, share.invite_url, "Sam Secure")
    expect(page.locator("#status")).to_have_text("Connected")
    python_viewer.wait_for_line(r"^\+ Sam Secure joined$", after=joined_at)
    code = codes_agree(page, share, python_viewer)
    # The code is the new epoch's, made after the browser joined: the Python viewer
    # printed it after it saw the browser join.
    assert f"Security code: {code}" in python_viewer.stdout_lines[joined_at:]
    everyone = {"Olga Organizer", "Pat Python", "Sam Secure"}
    until(lambda: set(server.members()) == everyone, "the relay has just these three")
    assert codes_agree(page, share, python_viewer) == code


def test_the_presenters_pointer_is_drawn_over_the_canvas(
    share: Share, screen: Screen, browser_page: Watched
) -> None:
    """The capture holds no cursor: the presenter sends CURSOR messages and the page
    places its pointer mark at the same spot of the (scaled) canvas."""
    page = browser_page.page
    join_in_browser(page, share.invite_url, "Pia Pointer")
    expect(page.locator("#status")).to_have_text("Connected")
    canvas_shows(page, screen.settle())
    cursor = page.locator("#cursor")
    for x, y in ((120, 90), (500, 400)):
        subprocess.run(
            ["xdotool", "mousemove", str(x), str(y)], env=screen.server.env, check=True, timeout=10
        )
        expected = (x / WIDTH, y / HEIGHT)

        def placed(expected: tuple[float, float] = expected) -> bool:
            spot = page.evaluate(
                """() => {
                    const c = document.getElementById("screen").getBoundingClientRect();
                    const m = document.getElementById("cursor");
                    if (m.hidden) return null;
                    const r = m.getBoundingClientRect();
                    const cx = r.left + r.width / 2, cy = r.top + r.height / 2;
                    return [(cx - c.left) / c.width, (cy - c.top) / c.height];
                }"""
            )
            return spot is not None and all(
                abs(got - want) < 0.02 for got, want in zip(spot, expected, strict=True)
            )

        until(placed, f"the pointer mark at {x},{y} of the shared screen")
    expect(cursor).to_be_visible()
