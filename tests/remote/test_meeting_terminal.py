"""The meeting controls in the Python client, as a person uses them (issue 8): a real
``relaydesk start --lobby`` in a terminal, real ``relaydesk join`` processes in theirs;
the host types /admit, /refuse, /lock, /expel, /host and /end, and each side sees what
it should."""

from __future__ import annotations

from pathlib import Path

from relaydesk.screen.xvfb import Xvfb
from remote.conftest import on_display
from remote.meeting_terminals import host_and_pat, join, start
from support.servers import LiveServer
from support.terminal import Terminal


def test_the_host_runs_the_lobby_lock_and_expel_from_the_terminal(
    server: LiveServer, organizer_profile: Path, presenter_screen: Xvfb, tmp_path: Path
) -> None:
    host, invite = start(organizer_profile, presenter_screen, "--lobby")
    guests: list[Terminal] = []
    try:
        pat = join(invite, server, "Pat", tmp_path / "pat", "--email", "pat@example.org")
        guests.append(pat)
        pat.expect(r"You are in the lobby: a host will let you in shortly\.")
        host.expect(r"\* Pat <pat@example\.org> is waiting in the lobby: /admit Pat or /refuse Pat")
        host.type("/admit Pat")
        pat.expect(r"You are in: 2 in the session")
        host.expect(r"\+ Pat joined")

        rex = join(invite, server, "Rex", tmp_path / "rex")
        guests.append(rex)
        host.expect(r"\* Rex is waiting in the lobby")
        pat.expect(r"\* Rex is waiting in the lobby")  # everyone sees the lobby
        host.type("/refuse Rex")
        rex.expect(r"Disconnected: refused entry")
        pat.expect(r"\* Rex was turned away by a host")

        host.type("/lock")
        pat.expect(r"\* The session is locked: nobody new can join\.")
        late = Terminal(
            "join", invite, "--name", "Late", "--fingerprint", server.fingerprint,
            "--config-dir", tmp_path / "late", env=on_display(None),
        )  # fmt: skip
        guests.append(late)
        late.expect(r"This meeting is locked: nobody new can join\.")

        host.type("/who")
        host.expect(r"The session is locked")
        host.type("/expel Pat")
        pat.expect(r"Disconnected: expelled by the host")
        host.expect(r"- Pat left \(expelled\)")
    finally:
        for guest in guests:
            guest.stop()
        host.stop()


def test_host_handover_and_end_for_everyone_from_the_terminal(
    server: LiveServer, organizer_profile: Path, presenter_screen: Xvfb, tmp_path: Path
) -> None:
    with host_and_pat(server, organizer_profile, presenter_screen, tmp_path) as (host, pat):
        host.type("/host Pat")
        pat.expect(r"\* You are now a host")
        host.expect(r"\* You are no longer a host")
        # Pat leads the keys now: both show the same new security code.
        code = pat.expect(r"Security code: (\d{4} \d{4} \d{4} \d{4})").group(1)
        host.expect(rf"Security code: {code}")
        host.type("/lock")
        host.expect(r"only a host can lock the session")
        pat.type("/end")
        pat.expect(r"The session has ended\.")


def test_the_presenter_decides_who_chats_with_whom_from_the_terminal(
    server: LiveServer, organizer_profile: Path, presenter_screen: Xvfb, tmp_path: Path
) -> None:
    with host_and_pat(server, organizer_profile, presenter_screen, tmp_path) as (host, pat):
        host.type("/chat presenter")
        pat.expect(r"\* Now attendees chat only privately, with the presenter or a host")
        pat.type("hello everyone")
        pat.expect(r"! the presenter lets attendees chat only privately")
        pat.type("/to Olga just to you")
        host.expect(r"\[chat\] Pat \(privately\): just to you")
        host.type("/chat everyone")
        pat.expect(r"\* Now attendees chat with everyone")
        pat.type("hello again")
        host.expect(r"\[chat\] Pat: hello again")
