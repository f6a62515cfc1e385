"""Chat across a reconnect (docs/protocol.md §4.3, §11): no line lost, none shown twice.

Real EmbeddedServer, real library members over real TLS. Hannah (the host) drops her
link and comes back with the same ticket; one of her lines never got through (it was
taken for sending when the link died: it is in her chat log, not on the wire). After
the reconnect she sends her recent lines again; Pat and Quinn show every line exactly
once, the lost one included. Pat's private line to Hannah, which did arrive, is sent
again when Hannah rejoins, and Hannah does not show it twice. Every wait is for a state.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

from integration.helpers import Crowd, Peer, run_async, until
from integration.test_meeting_controls import create, join
from relaydesk.client.member import Received
from relaydesk.protocol.frames import EVERYONE
from relaydesk.protocol.messages import Chat
from support.servers import LiveServer


def lines(peer: Peer, sender: Peer) -> list[str]:
    return [m.text for r, m in peer.messages_of(Chat) if r.header.sender == sender.member_id]


async def reconnect(peer: Peer) -> None:
    """The link drops as a network failure drops it; the member connects again (same
    ticket, same member id) and reads the new link (the old loop ended with the drop)."""
    await peer.member.reconnect()
    task = peer._task
    if task is not None:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    peer._task = None
    peer.start_reading()


def after_replay(text: str) -> object:
    """An ``on_message`` hook: once this member has sent its lines again (replays go out
    while it handles the message that made them due), it says ``text`` to everyone, so
    that ``text`` arrives after every replayed line."""
    said = False

    async def hook(peer: Peer, item: Received) -> None:
        nonlocal said
        if not said and peer.member.chat.replayed:
            said = True
            await peer.member.send_content(Chat(text))

    return hook


def test_chat_lines_survive_a_reconnect_exactly_once(
    shared_server: LiveServer, shared_context: ssl.SSLContext, organizer_token: str
) -> None:
    async def scenario() -> None:
        server, context = shared_server, shared_context
        created = await create(server, context, organizer_token)
        async with Crowd() as crowd:
            hannah = crowd.add(
                await join(server, context, created.session_id, "Hannah", token=organizer_token)
            )
            pat = crowd.add(await join(server, context, created.session_id, "Pat"))
            quinn = crowd.add(await join(server, context, created.session_id, "Quinn"))
            for peer in (hannah, pat, quinn):
                await peer.keys_for(hannah, pat, quinn)
            hannah.on_message = after_replay("after the drop")  # type: ignore[assignment]
            pat.on_message = after_replay("Pat after the drop")  # type: ignore[assignment]

            await hannah.member.send_content(Chat("one"))
            await hannah.member.send_content(Chat("two"))
            await pat.member.send_content(Chat("only for Hannah"), hannah.member_id)
            for peer in (pat, quinn):
                await until(lambda p=peer: lines(p, hannah) == ["one", "two"], f"{peer.name}")
            await until(lambda: lines(hannah, pat) == ["only for Hannah"], "Hannah has Pat's")

            # Taken for sending as the link died: logged, never on the wire.
            hannah.member.chat.stamp(Chat("lost in the drop"), EVERYONE, hannah.member.roles)
            await reconnect(hannah)

            want = ["one", "two", "lost in the drop", "after the drop"]
            for peer in (pat, quinn):
                await until(lambda p=peer: len(lines(p, hannah)) >= len(want), f"{peer.name}")
                assert lines(peer, hannah) == want, peer.name
                (lost,) = [
                    (r, m) for r, m in peer.messages_of(Chat) if m.text == "lost in the drop"
                ]
                # Sent again to this member alone, but it was for everyone: shown as public.
                assert lost[0].header.target == peer.member_id and lost[1].to_everyone
            await until(lambda: len(lines(hannah, pat)) >= 2, "Hannah has Pat's next line")
            assert lines(hannah, pat) == ["only for Hannah", "Pat after the drop"]
            # The lines that had arrived were really sent again, and dropped as repeats.
            assert hannah.member.chat.replayed == 2 * 3  # one, two, lost: to Pat and Quinn
            assert pat.member.chat.replayed == 1  # only for Hannah, again to Hannah
            assert lines(quinn, pat) == ["Pat after the drop"]  # private stays private

    run_async(scenario())
