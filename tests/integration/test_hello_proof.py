"""HELLO proves possession of the ticket's key (docs/protocol.md §7.1; SECURITY.md "A
stolen ticket"). A ticket alone used to be enough: a second connection with the same
ticket replaced the first, so whoever copied a ticket (a log, a proxy, a shoulder) could
throw its owner out and take its place. Now the relay's CHALLENGE must be signed with the
ticket's own Ed25519 key, for this relay, on this link.

On the shared EmbeddedServer: a host and the ticket's owner (library members, the real
client) are in; a thief holds the owner's ticket, not its key.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import replace
from functools import partial

from websockets.exceptions import ConnectionClosed

from integration.helpers import Crowd, host_session, join_peer, run_async, until
from integration.test_bad_frames import RawLink, has_read
from relaydesk.errors import CloseCode
from relaydesk.protocol.frames import FrameType
from relaydesk.protocol.keys import MemberKeys
from relaydesk.protocol.messages import Chat, Error, MemberJoined, decode
from support.servers import LiveServer


async def refused(link: RawLink, hello: bytes) -> tuple[list[int], int]:
    """Send ``hello``; the ERROR codes the relay answered and its close code."""
    await link.socket.send(hello)
    codes = []
    try:
        while True:
            frame = await link.receive()
            if frame.header.type is FrameType.ERROR:
                error = decode(FrameType.ERROR, frame.body)
                assert isinstance(error, Error)
                codes.append(error.code)
    except ConnectionClosed as closed:
        return codes, closed.rcvd.code if closed.rcvd else 1006


async def steal(server: LiveServer, context: ssl.SSLContext, token: str) -> None:
    async with Crowd() as crowd:
        created, host = await host_session(server.url, context, token)
        crowd.add(host)
        owner = crowd.add(await join_peer(server.url, context, created.session_id, "Olga"))
        await owner.keys_for(host)
        uid = created.session_uid
        owner_link = server.inspect(lambda: server.hub.sessions[uid].connections[owner.member_id])
        stolen = owner.member.join  # the ticket (and where to use it), not the keys

        # The thief signs the challenge with a key of its own: refused, final.
        thief = await RawLink.open(stolen, MemberKeys.generate(os.urandom), context)
        codes, close = await refused(thief, thief.hello_frame())
        assert (codes, close) == ([CloseCode.BAD_TICKET], CloseCode.BAD_TICKET)

        # The owner's own HELLO, recorded on an earlier link, replayed on a new one: it
        # answered another challenge. (The owner's keys make it: a real HELLO, sent once.)
        earlier = await RawLink.open(stolen, owner.member._keys, context)
        recorded = earlier.hello_frame()
        await earlier.close()
        replay = await RawLink.open(stolen, MemberKeys.generate(os.urandom), context)
        codes, close = await refused(replay, recorded)
        assert (codes, close) == ([CloseCode.BAD_TICKET], CloseCode.BAD_TICKET)

        # The owner was never replaced: the same link, still served, end to end.
        same = server.inspect(lambda: server.hub.sessions[uid].connections[owner.member_id])
        assert same is owner_link
        assert owner.closed is None and owner.reconnects == []
        await host.member.send_content(Chat("still yours"))
        await until(partial(has_read, owner, "still yours"), "the owner reads the host's chat")
        joined_ids = [m.entry.member_id for _, m in host.messages_of(MemberJoined)]
        assert joined_ids.count(owner.member_id) == 1  # nobody came in with its ticket

        # With the key, the owner's own reconnection still replaces its old link (§7.1).
        await owner.member.reconnect()
        await until(
            lambda: server.inspect(
                lambda: (
                    server.hub.sessions[uid].connections.get(owner.member_id)
                    not in (None, owner_link)
                )
            ),
            "the owner's new link replaced its old one",
        )


def test_a_stolen_ticket_neither_connects_nor_replaces_its_owner(
    shared_server: LiveServer, shared_context: ssl.SSLContext, organizer_token: str
) -> None:
    run_async(steal(shared_server, shared_context, organizer_token))


async def for_another_relay(server: LiveServer, context: ssl.SSLContext, token: str) -> None:
    """The real client signs the relay name the join answer gives: told another name
    than this relay's, its HELLO is refused (what relay B does with a proof for A)."""
    async with Crowd() as crowd:
        created, host = await host_session(server.url, context, token)
        crowd.add(host)
        peer = await join_peer(server.url, context, created.session_id, "Rita", connect=False)
        joined = peer.member.join
        renamed = tuple(replace(relay, name="r1") for relay in joined.relays)
        peer.member.join = replace(joined, relays=renamed)
        crowd.add(peer)
        await peer.connect()
        await until(lambda: peer.closed is not None, "the relay closes the link")
        assert peer.closed is not None and peer.closed.code == CloseCode.BAD_TICKET


def test_a_proof_for_another_relay_is_refused(
    shared_server: LiveServer, shared_context: ssl.SSLContext, organizer_token: str
) -> None:
    run_async(for_another_relay(shared_server, shared_context, organizer_token))
