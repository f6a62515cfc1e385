"""``relaydesk demo``, the README's first command, does what it prints (issue 8): the
organizer console's login works, and the invite joins a live, presented session."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from integration.helpers import Crowd, join_peer, pinned_context, run_async, until
from relaydesk.client.api import BrokerApi
from support.processes import Background


def test_the_demo_prints_a_working_console_login_and_invite(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}  # its own virtual screen
    demo = Background("demo", "--data", tmp_path / "demo", "--port", "0", env=env)
    try:
        url = demo.wait_for_line(r"^relaydesk server ready at (https://\S+)$").group(1)
        fingerprint = demo.wait_for_line(r"fingerprint: (\S+)$").group(1)
        console = demo.wait_for_line(
            r"^Organizer console: (\S+)/host \(user (\S+), password (\S+)\)$"
        )
        invite = demo.wait_for_line(r"^Invite URL: (\S+)$").group(1)
        assert console.group(1) == url
        context = pinned_context(url, fingerprint, tmp_path / "profile")

        async def check() -> None:
            async with BrokerApi(url, context) as api:
                token = await api.login(console.group(2), console.group(3))
                assert token
            async with Crowd() as crowd:
                viewer = crowd.add(
                    await join_peer(url, context, invite.rsplit("/", 1)[1], "Visitor")
                )
                await until(lambda: viewer.member.presenter is not None, "the demo presents")
                await until(lambda: viewer.screen_updates > 0, "a picture arrives")

        run_async(check())
    finally:
        assert demo.stop(signal.SIGINT) == 0, demo.describe()
