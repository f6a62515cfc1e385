"""A member whose link drops comes back by itself (docs/protocol.md §11, "Reconnect and
chat"): it refreshes its ticket at the broker (POST /api/sessions/{id}/refresh, the real
endpoint), connects again with the same member id, its ``messages()`` loop goes on after
a ``Reconnected`` item, and chat carries on. A real EmbeddedServer in this process; the
second test stops it and starts a new one on the same port and data directory."""

from __future__ import annotations

import os
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from integration.helpers import (
    Crowd,
    Peer,
    add_organizer,
    log_in,
    pinned_context,
    run_async,
    until,
)
from relaydesk.client.api import BrokerApi, JoinResult, Refresher, broker_refresher
from relaydesk.client.member import Member
from relaydesk.errors import CloseCode
from relaydesk.protocol.keys import MemberKeys
from relaydesk.protocol.messages import Chat, End, EndReason
from support.servers import LiveServer, steady_port


def refresher(server: LiveServer, context: ssl.SSLContext, session_id: str, keys: MemberKeys,
              asked: list[str | None]) -> Refresher:  # fmt: skip
    """The broker's refresh, as the CLI asks it; ``asked`` collects each failed relay."""
    refresh = broker_refresher(server.url, context, session_id, keys.signing)

    async def noted(ticket: bytes, failed_relay: str | None) -> JoinResult:
        asked.append(failed_relay)
        return await refresh(ticket, failed_relay)

    return noted


class Meeting:
    def __init__(self, host: Peer, guest: Peer, asked: list[str | None]) -> None:
        self.host, self.guest, self.asked = host, guest, asked

    async def chat(self, text: str) -> None:
        """The guest says ``text``; wait until the host has read it."""
        await self.guest.member.send_content(Chat(text))
        await until(
            lambda: [m.text for _, m in self.host.messages_of(Chat)].count(text) == 1,
            f"the host read {text!r}",
        )


@asynccontextmanager
async def meeting(server: LiveServer, context: ssl.SSLContext) -> AsyncIterator[Meeting]:
    token = await log_in(server.url, context)
    asked: list[str | None] = []
    async with Crowd() as crowd, BrokerApi(server.url, context, token) as api:
        created = await api.create_session()
        peers = []
        for name in ("Hannah", "Gus"):
            keys = MemberKeys.generate(os.urandom)
            joined = await api.join(
                created.session_id, name, keys.agreement_public, keys.ed25519_public
            )
            again = refresher(server, context, created.session_id, keys, asked)
            member = Member(joined, keys, context, refresher=again)
            peers.append(crowd.add(await Peer(member, name).connect()))
        host, guest = peers
        await host.keys_for(guest)
        await guest.keys_for(host)
        yield Meeting(host, guest, asked)


def test_a_dropped_link_comes_back_with_the_same_member(tmp_path: Path) -> None:
    add_organizer(tmp_path / "data")
    server = LiveServer(tmp_path / "data").start()
    context = pinned_context(server.url, server.fingerprint, tmp_path / "profile")

    async def scenario() -> None:
        async with meeting(server, context) as m:
            await m.chat("before the drop")
            member_id = m.guest.member_id
            connected = m.guest.member._connected
            assert connected is not None
            connected.link.abort()  # as a network failure would
            await until(lambda: m.guest.reconnects != [], "the guest reconnected")
            assert m.guest.member_id == member_id
            assert m.guest.reconnects[0].description == "relay embedded by direct TLS"
            assert m.asked == ["embedded"]  # the refresh named the relay that dropped it
            await m.chat("after the drop")
            assert m.guest.closed is None and m.host.closed is None

    try:
        run_async(scenario())
    finally:
        server.stop()


def test_members_come_back_to_a_restarted_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_organizer(data)
    port = steady_port()
    server = LiveServer(data, port).start()
    context = pinned_context(server.url, server.fingerprint, tmp_path / "profile")
    restarted: list[LiveServer] = []

    async def scenario() -> None:
        async with meeting(server, context) as m:
            await m.chat("before the restart")
            epoch = m.host.member.e2e.current
            assert epoch is not None
            ids = (m.host.member_id, m.guest.member_id)
            server.stop()  # its links are told 1012, service restart: not final
            restarted.append(LiveServer(data, port).start())
            for peer in (m.host, m.guest):
                await until(lambda p=peer: p.reconnects != [], f"{peer.name} reconnected")
            assert (m.host.member_id, m.guest.member_id) == ids

            def recommitted(peer: Peer) -> bool:
                current = peer.member.e2e.current
                return current is not None and current.number > epoch.number

            for peer in (m.host, m.guest):  # the host leads the keys: it commits anew
                await until(lambda p=peer: recommitted(p), f"{peer.name} has a new epoch")
            await m.guest.keys_for(m.host)
            await m.chat("after the restart")
            assert m.guest.closed is None and m.host.closed is None

    try:
        run_async(scenario())
    finally:
        for live in [server, *restarted]:
            live.stop()


def test_a_final_close_is_not_retried(tmp_path: Path) -> None:
    """The host ends the session: the guest's loop ends with SESSION_ENDED, no refresh."""
    add_organizer(tmp_path / "data")
    server = LiveServer(tmp_path / "data").start()
    context = pinned_context(server.url, server.fingerprint, tmp_path / "profile")

    async def scenario() -> None:
        async with meeting(server, context) as m:
            await m.host.member.send(End(EndReason.ENDED_BY_HOST))
            await until(lambda: m.guest.closed is not None, "the guest's loop ended")
            assert m.guest.closed is not None
            assert m.guest.closed.code == CloseCode.SESSION_ENDED
            assert m.asked == [] and m.guest.reconnects == []

    try:
        run_async(scenario())
    finally:
        server.stop()
