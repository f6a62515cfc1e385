"""Files between the browser and the Python client, both ways (issue 9): the organizer
in real Chromium, Pat with ``relaydesk join`` in a real terminal. The page asks with a
dialog of its own (Accept / Decline), shows a <progress> per transfer, and offers a
checked file as a download link; the terminal asks with its prompt."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from browser.helpers import LiveServer
from browser.meeting_pages import (
    Pages,
    chat_log,
    invite_url,
    member,
    organizer_cookies,  # noqa: F401 - a fixture
    pages,  # noqa: F401 - a fixture
    start_meeting,
)
from support.terminal import Terminal


def pat_joins(server: LiveServer, url: str, tmp_path: Path) -> Terminal:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    terminal = Terminal(
        "join", url, "--name", "Pat", "--fingerprint", server.fingerprint,
        "--config-dir", tmp_path / "pat", "--downloads", tmp_path / "pat-dl", env=env,
    )  # fmt: skip
    terminal.expect(r"Joined session .* as Pat\.")
    return terminal


def test_files_between_the_browser_and_the_terminal_both_ways(
    pages: Pages,  # noqa: F811
    server: LiveServer,
    organizer_cookies: list[dict[str, Any]],  # noqa: F811
    tmp_path: Path,
) -> None:
    report = tmp_path / "report.pdf"
    report.write_bytes(os.urandom(3 * 256 * 1024 + 777))
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"notes from the browser\n" * 2000)
    page = pages.open(organizer_cookies).page
    start_meeting(page, server, name="Olga")
    pat = pat_joins(server, invite_url(page), tmp_path)
    try:
        expect(member(page, "Pat")).to_be_visible()
        dialog = page.get_by_role("dialog", name="Accept this file?")

        # Python -> browser, declined: the page says no, the terminal hears it
        pat.type(f"/send Olga {notes}")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text("Pat wants to send you notes.txt (46.0 kB).")
        dialog.get_by_role("button", name="Decline").click()
        expect(dialog).to_be_hidden()
        pat.expect(r"Olga declined notes\.txt\.")

        # Python -> browser, accepted: a progress bar, then a download link (never opened)
        pat.type(f"/send Olga {report}")
        expect(dialog).to_contain_text("Pat wants to send you report.pdf (787.2 kB).")
        dialog.get_by_role("button", name="Accept").click()
        save = page.get_by_role("link", name="Save report.pdf")
        expect(save).to_be_visible()
        expect(save).to_have_attribute("download", "report.pdf")
        progress = page.get_by_role("progressbar", name="report.pdf from Pat")
        expect(progress).to_have_attribute("value", str(report.stat().st_size))
        pat.expect(r"Olga received report\.pdf: SHA-256 checked\.")
        with page.expect_download() as download:
            save.click()
        assert Path(download.value.path()).read_bytes() == report.read_bytes()
        expect(chat_log(page)).to_contain_text(
            "Received report.pdf (787.2 kB) from Pat, SHA-256 checked."
        )

        # Browser -> Python: "Send a file" on Pat's row, consent typed at Pat's terminal
        with page.expect_file_chooser() as chooser:
            member(page, "Pat").get_by_role("button", name="Send a file to Pat").click()
        chooser.value.set_files(str(notes))
        pat.expect(r"\? Olga wants to send you notes\.txt \(46\.0 kB\)\. Accept\? \[y/N\]")
        pat.type("y")
        pat.expect(r"Received notes\.txt \(46\.0 kB\) from Olga, SHA-256 checked")
        assert (tmp_path / "pat-dl" / "notes.txt").read_bytes() == notes.read_bytes()
        expect(chat_log(page)).to_contain_text(
            re.compile(r"Pat received notes\.txt: SHA-256 checked\.")
        )
        sent = page.get_by_role("progressbar", name="notes.txt to Pat")
        expect(sent).to_have_attribute("value", str(notes.stat().st_size))
    finally:
        pat.stop()
