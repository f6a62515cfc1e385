"""Every browser member sees who records (issue 13; protocol §3.23): Rita hosts with the
real ``relaydesk start --lobby`` and records with ``/record``; Ann, in the meeting, sees
"Recording by Rita" in the top bar and a line in the chat; Bo, still waiting in the
lobby (no names known yet), sees "Recording by A host", then Rita's name once let in;
``/record stop`` takes the notice away from both."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from playwright.sync_api import expect

from browser.helpers import LiveServer
from browser.meeting_pages import (
    Pages,
    chat_log,
    in_meeting,
    on_display,
    open_join_form,
    pages,
    shot,
)
from relaydesk.screen.xvfb import Xvfb
from support.processes import RELAYDESK
from support.terminal import Terminal

__all__ = ["pages"]  # a fixture


def test_every_member_sees_who_records_the_lobby_too(
    pages: Pages, server: LiveServer, organizer_profile: Path, xvfb: Xvfb, tmp_path: Path
) -> None:
    host = Terminal("start", "--name", "Rita", "--lobby", "--config-dir", organizer_profile,
                    env=on_display(xvfb))  # fmt: skip
    try:
        session = host.expect(r"Session ID: (\d{3} \d{3} \d{3})").group(1).replace(" ", "")
        host.expect(r"\* now presenting: you")
        ann = pages.open().page
        open_join_form(ann, server, session, "Ann")
        host.expect(r"\* Ann is waiting in the lobby")
        host.type("/admit Ann")
        in_meeting(ann)
        bo = pages.open().page
        open_join_form(bo, server, session, "Bo")
        host.expect(r"\* Bo is waiting in the lobby")
        expect(bo.locator("#waiting-view")).to_be_visible()
        expect(ann.locator("#recording")).to_be_hidden()

        recording = tmp_path / "rita.rdrec"
        host.type(f"/record {recording}")
        host.expect(r"\* You started recording this session")
        expect(ann.get_by_role("status").filter(has_text="Recording")).to_have_text(
            "Recording by Rita"
        )
        expect(chat_log(ann)).to_contain_text("Rita started recording this session")
        expect(bo.locator("#recording")).to_have_text("Recording by A host")  # in the lobby
        shot(ann, "recording-notice")
        shot(bo, "recording-notice-lobby")

        host.type("/admit Bo")
        in_meeting(bo)
        expect(bo.locator("#recording")).to_have_text("Recording by Rita")  # from the roster

        host.type("/record stop")
        for page in (ann, bo):
            expect(page.locator("#recording")).to_be_hidden()
            expect(chat_log(page)).to_contain_text("Rita stopped recording")
        host.expect(r"Recording written to")
    finally:
        host.stop()
    verified = subprocess.run(
        [str(RELAYDESK), "recording", "verify", str(recording)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    assert re.search(r"Members: Rita \(member \d+\), Ann \(member \d+\)", verified.stdout)
