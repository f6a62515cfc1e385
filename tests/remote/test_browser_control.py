"""Remote control from the browser: the "Request control" button, the presenter's
typed yes, then clicks and typing on the canvas land on the presenter's screen at the
right place, whatever the canvas's scale; Ctrl+F12 there ends it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from browser.helpers import join_in_browser, open_page
from relaydesk.screen.xvfb import Xvfb
from support.input_recorder import Recorder

from .conftest import HEIGHT, LEFT, TOP, WIDTH, Share, xdotool
from .test_control import CONTROL_PROMPT, SETTLE_SECONDS, collect, typed


@pytest.fixture
def page(chromium: Any, share: Share) -> Iterator[Any]:
    watched = open_page(chromium)
    try:
        join_in_browser(watched.page, share.invite_url, "Bea")
        expect(watched.page.locator("#status")).to_have_text("Connected")
        share.terminal.expect(r"\+ Bea joined")
        yield watched.page
        assert watched.page_errors == []
    finally:
        watched.context.close()


def click_screen_at(page: Any, x: int, y: int) -> None:
    """Click the canvas where it shows pixel (x, y) of the presenter's screen."""
    box = page.locator("#screen").bounding_box()
    scale = box["width"] / WIDTH
    assert abs(box["height"] / HEIGHT - scale) < 0.01  # the picture keeps its shape
    page.mouse.click(box["x"] + (x + 0.5) * scale, box["y"] + (y + 0.5) * scale)


def test_browser_controls_only_after_yes_until_ctrl_f12(
    page: Any, share: Share, recorder: Recorder, presenter_screen: Xvfb
) -> None:
    button = page.locator("#control")
    expect(button).to_have_text("Request control")
    click_screen_at(page, 300, 200)  # no control: nothing is sent
    button.click()
    expect(button).to_have_text("Waiting for an answer…")
    share.terminal.expect(CONTROL_PROMPT.format("Bea"))
    time.sleep(SETTLE_SECONDS)
    assert recorder.events() == []

    share.terminal.type("y")
    expect(button).to_have_text("Give back control")
    expect(page.locator("#chat-log")).to_contain_text(
        "Olga said yes: you asked for remote control."
    )
    click_screen_at(page, 300, 200)
    page.keyboard.type("Hi!")
    page.keyboard.press("Enter")
    wanted = [ord(c) for c in "Hi!"] + [0xFF0D]
    events = collect(recorder, lambda events: typed(events) == wanted)
    (press,) = [e for e in events if e["type"] == "button_press"]
    assert (press["root_x"], press["root_y"], press["detail"]) == (300, 200, 1)
    assert (press["x"], press["y"]) == (300 - LEFT, 200 - TOP)

    xdotool(presenter_screen, "key", "ctrl+F12")
    share.terminal.expect(r"Remote control revoked \(Ctrl\+F12\)\.")
    expect(page.locator("#chat-log")).to_contain_text(
        "Remote control ended (the presenter took it back)."
    )
    expect(button).to_have_text("Request control")
    recorder.events()  # the Ctrl+F12 itself
    click_screen_at(page, 100, 100)
    page.keyboard.type("late")
    time.sleep(SETTLE_SECONDS)
    assert recorder.events() == []
