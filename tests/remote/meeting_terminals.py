"""Olga's ``relaydesk start`` and her guests' ``relaydesk join``, each in a real
terminal, for the tests of the meeting controls as people type them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from relaydesk.screen.xvfb import Xvfb
from remote.conftest import on_display
from support.servers import LiveServer
from support.terminal import Terminal


def start(profile: Path, screen: Xvfb, *settings: str) -> tuple[Terminal, str]:
    terminal = Terminal("start", "--name", "Olga", "--config-dir", profile, *settings,
                        env=on_display(screen))  # fmt: skip
    invite = terminal.expect(r"Invite URL: (\S+)").group(1)
    terminal.expect(r"\* now presenting: you")
    return terminal, invite


def join(invite: str, server: LiveServer, name: str, profile: Path, *extra: str) -> Terminal:
    terminal = Terminal(
        "join", invite, "--name", name, "--fingerprint", server.fingerprint,
        "--config-dir", profile, *extra, env=on_display(None),
    )  # fmt: skip
    terminal.expect(rf"Joined session .* as {re.escape(name)}\.")
    return terminal


@contextmanager
def host_and_pat(
    server: LiveServer,
    profile: Path,
    screen: Xvfb,
    folder: Path,
    host_args: tuple[str, ...] = (),
    pat_args: tuple[str, ...] = (),
) -> Iterator[tuple[Terminal, Terminal]]:
    """Olga hosting and presenting, Pat joined (Olga has seen him arrive); both
    terminals are stopped at the end, Pat's first, however the test ends."""
    host, invite = start(profile, screen, *host_args)
    try:
        pat = join(invite, server, "Pat", folder / "pat", *pat_args)
        try:
            host.expect(r"\+ Pat joined")
            yield host, pat
        finally:
            pat.stop()
    finally:
        host.stop()
