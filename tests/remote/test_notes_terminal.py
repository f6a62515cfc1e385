"""The host's notes from the terminal (issue 9): ``relaydesk start --notes FILE`` sends
the file's text to everyone when the host ends the session (``/end``, or Ctrl+C), and
``relaydesk join`` prints them; without ``--notes`` nothing is sent."""

from __future__ import annotations

import re
from pathlib import Path

from relaydesk.screen.xvfb import Xvfb
from remote.meeting_terminals import host_and_pat
from support.servers import LiveServer

NOTES = "Decisions:\n- ship on Friday\n- Pat writes the release notes"


def test_the_hosts_notes_reach_a_terminal_at_the_end(
    server: LiveServer, organizer_profile: Path, presenter_screen: Xvfb, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text(NOTES + "\n", encoding="utf-8")
    with host_and_pat(
        server, organizer_profile, presenter_screen, tmp_path, host_args=("--notes", str(notes))
    ) as (host, pat):
        host.type("/end")
        host.expect(r"Your notes were sent to everyone\.")
        pat.expect(r"--- Notes from Olga ---")
        for line in NOTES.splitlines():
            pat.expect(re.escape(line))
        pat.expect(r"--- end of the notes ---")
        pat.expect(r"The session has ended\.")


def test_without_notes_nothing_is_sent_at_the_end(
    server: LiveServer, organizer_profile: Path, presenter_screen: Xvfb, tmp_path: Path
) -> None:
    with host_and_pat(server, organizer_profile, presenter_screen, tmp_path) as (host, pat):
        host.type("/end")
        pat.expect(r"The session has ended\.")
        assert "Notes from" not in pat.shown()
        assert "notes were sent" not in host.shown()


def test_an_unreadable_notes_file_stops_start_before_any_session(
    organizer_profile: Path, presenter_screen: Xvfb, tmp_path: Path
) -> None:
    from remote.conftest import on_display  # noqa: PLC0415
    from support.terminal import Terminal  # noqa: PLC0415

    terminal = Terminal("start", "--config-dir", organizer_profile, "--notes",
                        tmp_path / "missing.txt", env=on_display(presenter_screen))  # fmt: skip
    try:
        terminal.expect(r"cannot read the notes file")
        assert "Session ID" not in terminal.shown()
    finally:
        terminal.stop()
