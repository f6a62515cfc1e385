"""Chat between the browser and a Python client (``relaydesk join`` reading lines from
its standard input), both ways, end-to-end encrypted: the relay, tapped, never sees a
browser-sent message in plaintext (issue 4)."""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import expect

from browser.helpers import (
    LiveServer,
    Process,
    Share,
    Watched,
    join_and_agree,
    send_from_browser,
    until,
)
from relaydesk.errors import MessageError
from relaydesk.protocol.frames import Frame, FrameType
from relaydesk.protocol.messages import decode


def test_chat_goes_both_ways_between_the_browser_and_a_python_client(
    share: Share, python_viewer: Process, browser_page: Watched
) -> None:
    page = browser_page.page
    join_and_agree(page, share, python_viewer, "Cleo Chat")
    log = page.get_by_role("log", name="Chat")

    to_browser = f"hello from the terminal {secrets.token_hex(4)}"
    python_viewer.type_line(to_browser)
    expect(log).to_contain_text(f"Pat Python: {to_browser}")

    to_python = f"hello from the browser {secrets.token_hex(4)} — ünïcødé ✓"
    after = len(python_viewer.stdout_lines)
    send_from_browser(page, to_python)
    python_viewer.wait_for_line(rf"^\[chat\] Cleo Chat: {re.escape(to_python)}$", after=after)
    expect(log).to_contain_text(f"You: {to_python}")
    expect(page.get_by_label("Message")).to_have_value("")
    # The host reads it too (it goes to everyone).
    share.process.wait_for_line(rf"^\[chat\] Cleo Chat: {re.escape(to_python)}$")


def test_the_relay_sees_no_plaintext_of_a_browser_chat(
    share: Share, python_viewer: Process, server: LiveServer, browser_page: Watched
) -> None:
    page = browser_page.page
    name = "Mara Marker"
    join_and_agree(page, share, python_viewer, name)
    member_id = server.members()[name]
    marker = f"relaydesk-browser-marker-{secrets.token_hex(8)}"
    tapped_from = len(server.tap)
    after = len(python_viewer.stdout_lines)
    send_from_browser(page, f"the marker is {marker}")
    # It went through the relay: the Python viewer read it.
    python_viewer.wait_for_line(rf"^\[chat\] {name}: the marker is {marker}$", after=after)

    # The tap saw the real traffic: the browser's CHAT frame is among what it recorded...
    frames = [Frame.parse(data) for data in server.tap.since(tapped_from)]
    chats = [f for f in frames if f.header.type is FrameType.CHAT and f.header.sender == member_id]
    assert len(chats) == 1, f"the tap recorded {len(chats)} chat frames from the browser"
    # ...sealed: its body does not decode as a chat message...
    with pytest.raises(MessageError):
        decode(FrameType.CHAT, chats[0].body)
    # ...and no frame the relay ever received in this run holds the marker.
    forms = {"utf-8": marker.encode(), "utf-16-le": marker.encode("utf-16-le")}
    everything = server.tap.since(0)
    assert len(everything) > len(frames) > 0
    found = [
        (index, form) for index, data in enumerate(everything)
        for form, needle in forms.items() if needle in data
    ]  # fmt: skip
    assert found == []
    # The search finds what the relay may see in plaintext: the display name, in the
    # broker-signed ticket of the browser's HELLO.
    assert any(name.encode() in data for data in everything)
    until(lambda: name in server.members(), "the browser is still connected")
