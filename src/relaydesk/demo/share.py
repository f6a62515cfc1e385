"""The embedded server and a demo share, in one command, for a first look.

Starts the server (its own data directory), makes a demo organizer, and shares a screen:
``$DISPLAY`` if there is one, else a private virtual screen (Xvfb) with a terminal on it.
Prints how to join from another terminal; runs until Ctrl+C.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import platformdirs

from relaydesk.broker.passwords import Passwords
from relaydesk.cli.client import host_session
from relaydesk.client import tls
from relaydesk.screen.xvfb import Xvfb
from relaydesk.server.run import EmbeddedServer, ServerOptions

DEMO_ORGANIZER = "demo"
WELCOME = (
    "Welcome to relaydesk. This terminal is being shared end to end encrypted: "
    "type here and watch it in the viewer."
)


def default_demo_data() -> Path:
    return Path(platformdirs.user_data_dir("relaydesk")) / "demo"


@contextlib.contextmanager
def demo_screen(display: str | None) -> Iterator[str]:
    """The display to share: the given one, or a new Xvfb with a terminal on it."""
    if display:
        yield display
        return
    with Xvfb(1280, 720) as screen:
        terminal = None
        if shutil.which("xterm"):
            terminal = subprocess.Popen(
                ["xterm", "-geometry", "120x36+20+20", "-fa", "Monospace", "-fs", "11",
                 "-e", "bash", "-c", f"echo '{WELCOME}'; exec bash"],
                env=screen.env, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        try:
            yield screen.display
        finally:
            if terminal is not None:
                terminal.terminate()
                terminal.wait(5)


async def run(
    data: Path, port: int, display: str | None, say: Callable[[str], None] = print
) -> None:
    server = EmbeddedServer(ServerOptions(data=data, port=port))
    await server.start()
    try:
        say(f"relaydesk server ready at {server.url}")
        say(f"TLS certificate SHA-256 fingerprint: {server.fingerprint}")
        password = secrets.token_urlsafe(18)
        await asyncio.to_thread(_demo_organizer, server, password)
        issued = await asyncio.to_thread(server.broker.login, DEMO_ORGANIZER, password, "127.0.0.1")
        context = tls.pinned_context(server.data.tls_cert_path.read_text())
        # The demo's own account, fresh each run: shown so that the browser console can be
        # tried too (it lives only in this demo's data directory).
        say(f"Organizer console: {server.url}/host (user {DEMO_ORGANIZER}, password {password})")
        with demo_screen(display) as shown:
            say(f"Sharing display {shown} (Ctrl+C ends the session).")
            hint = (
                "Join from another terminal: relaydesk join {invite} --fingerprint "
                + server.fingerprint
            )
            await host_session(
                server.url, context, issued.token, "relaydesk demo", None, None, shown, hint
            )
    finally:
        await server.stop()


def _demo_organizer(server: EmbeddedServer, password: str) -> None:
    """(Re)create the demo organizer with a fresh random password."""
    store = server.store
    hashed = Passwords().hash(password)
    existing = store.account(DEMO_ORGANIZER)
    if existing is None:
        store.add_account(DEMO_ORGANIZER, hashed)
    else:
        store.set_password_hash(existing[0].id, hashed)
        store.set_disabled(DEMO_ORGANIZER, False)
