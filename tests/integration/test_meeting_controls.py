"""Meeting controls as the relay enforces them (issue 8; docs/protocol.md §5).

Real EmbeddedServer (shared), real Python members over real TLS WebSockets. Each test
runs a session of its own: the lobby (a waiting member gets no key and not one content
byte, counted at the relay), refusal, join before host, lock (the broker refuses new
joins, the relay refuses a ticket issued before the lock), expel (the expelled member's
captured keys open nothing sent afterwards), host handover (the key leader moves, a new
epoch), two-party support sessions, and a participant's host-only requests (refused
and recorded).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from integration.helpers import (
    LIVENESS_TIMEOUT,
    Crowd,
    Peer,
    join_peer,
    present_when_admitted,
    run_async,
    until,
)
from relaydesk.client.api import BrokerApi, CreatedSession, SessionSettings
from relaydesk.client.member import Member, Rejected
from relaydesk.errors import ApiError, CloseCode, CryptoError, NotPermitted, RelayClosed
from relaydesk.protocol import keys as ks
from relaydesk.protocol.e2e import nonce
from relaydesk.protocol.frames import Frame, FrameType, Header
from relaydesk.protocol.messages import (
    Admit,
    Chat,
    ChatRule,
    End,
    EndReason,
    Error,
    Expel,
    Lock,
    Permissions,
    Role,
    RoleChange,
    Roster,
    ScreenUpdate,
    Tile,
    TileEncoding,
    WaitReason,
)
from relaydesk.relay.hub import Connection, LiveSession
from relaydesk.relay.records import RecordKind
from support.servers import LiveServer


async def create(
    server: LiveServer, context: ssl.SSLContext, token: str, **settings: bool
) -> CreatedSession:
    async with BrokerApi(server.url, context, token) as api:
        return await api.create_session(None, None, SessionSettings(**settings))


class Meeting:
    """One test's session on the shared server, and everyone who joins it: each joiner
    is closed when the test ends, however it ends."""

    def __init__(
        self,
        server: LiveServer,
        context: ssl.SSLContext,
        token: str,
        created: CreatedSession,
        crowd: Crowd,
    ) -> None:
        self.server, self.context, self.token = server, context, token
        self.created, self.crowd = created, crowd

    async def host(self, **options: Any) -> Peer:
        """The organizer, joining as host."""
        return await self.guest("Hannah", token=self.token, **options)

    async def host_and_two_guests(self) -> tuple[Peer, Peer, Peer]:
        """Hannah hosting, Ann and Ben joined; all three hold the same epoch's keys."""
        host = await self.host()
        ann, ben = await self.guest("Ann"), await self.guest("Ben")
        for peer, others in ((host, (ann, ben)), (ann, (host, ben)), (ben, (host, ann))):
            await peer.keys_for(*others)
        return host, ann, ben

    async def guest(self, name: str, **options: Any) -> Peer:
        peer = await join(self.server, self.context, self.created.session_id, name, **options)
        return self.crowd.add(peer)


OpenMeeting = Callable[..., AbstractAsyncContextManager[Meeting]]


def meeting_opener(server: LiveServer, context: ssl.SSLContext, token: str) -> OpenMeeting:
    """``async with open_meeting(lobby=True) as m``: a new session on ``server`` with
    those settings, its members closed at the end."""

    @contextlib.asynccontextmanager
    async def open_(**settings: bool) -> AsyncIterator[Meeting]:
        created = await create(server, context, token, **settings)
        async with Crowd() as crowd:
            yield Meeting(server, context, token, created, crowd)

    return open_


@pytest.fixture
def open_meeting(
    shared_server: LiveServer, shared_context: ssl.SSLContext, organizer_token: str
) -> OpenMeeting:
    return meeting_opener(shared_server, shared_context, organizer_token)


async def join(
    server: LiveServer, context: ssl.SSLContext, session_id: str, name: str, **options: Any
) -> Peer:
    """``join_peer`` on a LiveServer (options as there)."""
    return await join_peer(server.url, context, session_id, name, **options)


async def refused_at_relay(peer: Peer) -> RelayClosed:
    """Connect with the peer's ticket and read until the relay closes the link."""
    await peer.connect(read=False)
    try:
        async with asyncio.timeout(LIVENESS_TIMEOUT):
            async for _ in peer.member.messages():
                pass
    except RelayClosed as closed:
        return closed
    finally:
        await peer.member.close()
    raise AssertionError("the relay kept the link open")


def live(server: LiveServer, created: CreatedSession) -> LiveSession:
    """The relay's live session; call it on the server's loop (``server.inspect``)."""
    return server.hub.sessions[created.session_uid]


def content_bytes_queued(server: LiveServer, created: CreatedSession, peer: Peer) -> int:
    """Sealed content the relay has put in ``peer``'s queue, all told."""
    return server.inspect(
        lambda: live(server, created).connections[peer.member_id].content_bytes_queued
    )


def got(peer: Peer, kind: type) -> list[object]:
    return [message for _, message in peer.messages_of(kind)]


async def chats_arrive(sender: Peer, *readers: Peer, text: str) -> None:
    await sender.member.send_content(Chat(text))
    for reader in readers:
        await until(
            lambda r=reader: any(m.text == text for m in got(r, Chat)),  # type: ignore[attr-defined]
            f"{reader.name} reads {text!r}",
        )


def records_of(server: LiveServer, created: CreatedSession, kind: RecordKind) -> list[str]:
    uid = created.session_uid
    return [
        f"{r.member_id} {r.detail or ''}".strip()
        for r in server.broker.store.records()
        if r.session_uid == uid and r.kind is kind
    ]


async def records_show(
    server: LiveServer, created: CreatedSession, kind: RecordKind, wanted: str
) -> None:
    """The relay writes records off its loop: wait until ``wanted`` is among them."""
    await until(lambda: wanted in records_of(server, created, kind), f"a {kind} record {wanted!r}")


# The lobby ----------------------------------------------------------------------------


def test_a_lobby_member_gets_no_key_and_no_content_until_admitted(
    shared_server: LiveServer, open_meeting: OpenMeeting
) -> None:
    async def scenario() -> None:
        async with open_meeting(lobby=True) as m:
            host = await m.host(on_message=present_when_admitted)
            bob = await m.guest("Bob")
            await until(lambda: bob.member_id in host.member.lobby, "the host sees Bob")
            await host.member.send(Admit(bob.member_id, True))
            await bob.keys_for(host)
            alice = await m.guest("Alice", email="alice@example.org")
            await until(lambda: alice.member.waiting is WaitReason.APPROVAL, "Alice waits")
            await until(lambda: alice.member_id in host.member.lobby, "the host sees Alice")
            await until(lambda: alice.member_id in bob.member.lobby, "Bob sees Alice waiting")
            assert host.member.lobby[alice.member_id].email == "alice@example.org"
            await host.keys_for(bob)  # no key for Alice
            await chats_arrive(host, bob, text="before Alice is in")
            # Alice holds no key, and the relay put not one content byte in her queue.
            assert alice.member.e2e.current is None
            assert content_bytes_queued(shared_server, m.created, alice) == 0
            assert not got(alice, Roster) and not got(alice, Chat)

            await host.member.send(Admit(alice.member_id, True))
            await until(lambda: bool(got(alice, Roster)), "Alice gets the roster")
            await alice.keys_for(host, bob)
            await host.keys_for(alice, bob)
            await chats_arrive(host, alice, bob, text="welcome, Alice")
            assert content_bytes_queued(shared_server, m.created, alice) > 0  # the count counts
            assert not any(m.text == "before Alice is in" for m in got(alice, Chat))  # type: ignore[attr-defined]
            await records_show(
                shared_server, m.created, RecordKind.ADMIT, f"{alice.member_id} result=admitted "
                f"by={host.member_id}",
            )  # fmt: skip
            await records_show(
                shared_server, m.created, RecordKind.LOBBY, f"{alice.member_id} reason=approval"
            )

    run_async(scenario())


def test_a_refused_member_is_closed_and_learns_nothing(
    shared_server: LiveServer, open_meeting: OpenMeeting
) -> None:
    async def scenario() -> None:
        async with open_meeting(lobby=True) as m:
            host = await m.host()
            bob = await m.guest("Bob")
            await until(lambda: bob.member_id in host.member.lobby, "the host sees Bob")
            await host.member.send(Admit(bob.member_id, False))
            await until(lambda: bob.closed is not None, "Bob's link is closed")
            assert bob.closed is not None and bob.closed.code == CloseCode.REFUSED_ENTRY
            assert bob.member.e2e.current is None and not got(bob, Roster)
            await until(lambda: bob.member_id not in host.member.lobby, "Bob left the lobby")

    run_async(scenario())


def test_without_join_before_host_members_wait_for_the_host(
    shared_server: LiveServer, open_meeting: OpenMeeting
) -> None:
    async def scenario() -> None:
        async with open_meeting(join_before_host=False) as m:
            alice = await m.guest("Alice")
            await until(lambda: alice.member.waiting is WaitReason.HOST_ABSENT, "Alice waits")
            host = await m.host()
            await until(lambda: bool(got(alice, Roster)), "Alice is let in with the host")
            assert alice.member.waiting is None
            await alice.keys_for(host)
            await chats_arrive(host, alice, text="the host is here")

    run_async(scenario())


# Lock, expel, host handover -------------------------------------------------------------


def test_a_locked_session_refuses_new_joins_and_stale_tickets(
    shared_server: LiveServer, open_meeting: OpenMeeting
) -> None:
    async def scenario() -> None:
        async with open_meeting() as m:
            host = await m.host()
            # A ticket issued before the lock, used after it.
            late = await m.guest("Late", connect=False)
            await host.member.send(Lock(True))
            await until(lambda: host.member.locked, "the host sees the lock")
            await records_show(
                shared_server, m.created, RecordKind.LOCK,
                f"{host.member_id} locked=true by={host.member_id}",
            )  # fmt: skip
            with pytest.raises(ApiError, match="locked"):
                await m.guest("Newcomer")
            closed = await refused_at_relay(late)
            assert closed.code == CloseCode.NOT_PERMITTED and "locked" in closed.reason
            await host.member.send(Lock(False))
            await until(lambda: not host.member.locked, "unlocked")

    run_async(scenario())


def test_an_expelled_members_captured_keys_open_nothing_sent_after(
    shared_server: LiveServer, open_meeting: OpenMeeting
) -> None:
    tapped: list[bytes] = []

    def install_tap() -> Callable[[], None]:
        hub = shared_server.hub
        receive = hub.receive

        def tapped_receive(
            connection: Connection, data: bytes, header: Header | None = None
        ) -> None:
            tapped.append(bytes(data))
            receive(connection, data, header)

        setattr(hub, "receive", tapped_receive)  # noqa: B010 - an instance attribute shadows
        return lambda: delattr(hub, "receive")

    async def scenario() -> None:
        async with open_meeting() as m:
            host = await m.host()
            bob = await m.guest("Bob")
            mallory = await m.guest("Mallory")
            await host.keys_for(bob, mallory)
            await mallory.keys_for(host, bob)
            await chats_arrive(host, bob, mallory, text="before the expel")
            # Everything Mallory ever held: her end-to-end state with its epoch secrets.
            captured = mallory.member.e2e
            secrets_held = {n: e.secret for n, e in captured._epochs.items()}
            old_epoch = captured.current.number if captured.current else 0

            uninstall = shared_server.inspect(install_tap)
            try:
                await host.member.send(Expel(mallory.member_id))
                await until(lambda: mallory.closed is not None, "Mallory is disconnected")
                assert mallory.closed is not None and mallory.closed.code == CloseCode.EXPELLED
                await host.keys_for(bob)
                await bob.keys_for(host)
                await chats_arrive(host, bob, text="after the expel")
            finally:
                shared_server.inspect(uninstall)
            # Byte 1 of a frame is its type (docs/protocol.md §2).
            after = [Frame.parse(d) for d in tapped if d[1] == FrameType.CHAT]
            assert after, "the tap saw the chat sent after the expel"
            for frame in after:
                assert frame.header.epoch > old_epoch
                with pytest.raises(CryptoError):
                    captured.open(frame, now=time.time())
                # Nor does any content key she could derive from a secret she held.
                body = frame.body[:-64]
                for number, secret in secrets_held.items():
                    key = ks.content_key(
                        captured.session_uid, secret, number, frame.header.sender,
                        frame.header.type.channel,
                    )  # fmt: skip
                    with pytest.raises(InvalidTag):
                        AESGCM(key).decrypt(nonce(frame.header.sequence), body, None)
            # She cannot come back with her ticket either.
            again = Peer(Member(mallory.member.join, captured.member_keys, m.context), "M2")
            closed = await refused_at_relay(again)
            assert closed.code == CloseCode.NOT_PERMITTED and "expelled" in closed.reason
            await records_show(
                shared_server, m.created, RecordKind.EXPEL,
                f"{mallory.member_id} by={host.member_id}",
            )  # fmt: skip

    run_async(scenario())


def test_handing_over_host_moves_the_key_leader(
    shared_server: LiveServer, open_meeting: OpenMeeting
) -> None:
    async def scenario() -> None:
        async with open_meeting() as m:
            host = await m.host()
            bob = await m.guest("Bob")
            await bob.keys_for(host)
            assert bob.member.e2e.current is not None
            assert bob.member.e2e.current.leader == host.member_id
            await host.member.send(RoleChange(bob.member_id, Role.HOST))
            await host.member.send(RoleChange(host.member_id, Role.PARTICIPANT))
            await until(
                lambda: all(
                    p.member.e2e.current is not None
                    and p.member.e2e.current.leader == bob.member_id
                    for p in (host, bob)
                ),
                "both are in an epoch led by Bob",
            )
            assert host.member.e2e.security_code == bob.member.e2e.security_code
            await chats_arrive(host, bob, text="Bob leads now")
            # The old host's host-only requests are refused now, and recorded.
            await host.member.send(Expel(bob.member_id))
            await until(lambda: bool(got(host, Error)), "the old host is told no")
            await records_show(
                shared_server, m.created, RecordKind.ROLE, f"{bob.member_id} role=host "
                f"by={host.member_id}",
            )  # fmt: skip

    run_async(scenario())


def test_a_participants_host_only_requests_are_refused_and_recorded(
    shared_server: LiveServer, open_meeting: OpenMeeting
) -> None:
    async def scenario() -> None:
        async with open_meeting() as m:
            host = await m.host()
            eve = await m.guest("Eve")
            await eve.keys_for(host)
            requests = [
                Expel(host.member_id), Lock(True), RoleChange(eve.member_id, Role.HOST),
                Admit(host.member_id, True), End(EndReason.ENDED_BY_HOST),
            ]  # fmt: skip
            for request in requests:
                await eve.member.send(request)
            await until(lambda: len(got(eve, Error)) == len(requests), "each is refused")
            await chats_arrive(host, eve, text="nothing changed")
            assert eve.member.roles == {host.member_id: Role.HOST, eve.member_id: Role.PARTICIPANT}
            assert not host.member.locked and host.closed is None
            for what in ("expel", "lock", "role_change", "admit", "end"):
                await until(
                    lambda w=what: any(
                        f"action=refused_{w} " in r
                        for r in records_of(shared_server, m.created, RecordKind.REFUSED)
                    ),
                    f"a refusal record for {what}",
                )

    run_async(scenario())


# Two-party support sessions -------------------------------------------------------------


def test_a_two_party_session_admits_nobody_else_and_ends_when_one_leaves(
    shared_server: LiveServer, open_meeting: OpenMeeting
) -> None:
    async def scenario() -> None:
        async with open_meeting(two_party=True) as m:
            host = await m.host()
            pat = await m.guest("Pat")
            await pat.keys_for(host)
            await records_show(shared_server, m.created, RecordKind.JOIN, f"{pat.member_id}")
            with pytest.raises(ApiError, match="both parties"):
                await m.guest("Third")
            await pat.close()
            await until(lambda: bool(got(host, End)), "the host's session ends")
            assert got(host, End) == [End(EndReason.TWO_PARTY_LEFT)]

    run_async(scenario())


def test_waiting_gives_up_cleanly_when_the_member_leaves(
    shared_server: LiveServer, open_meeting: OpenMeeting
) -> None:
    async def scenario() -> None:
        async with open_meeting(lobby=True) as m:
            host = await m.host()
            carol = await m.guest("Carol")
            await until(lambda: carol.member_id in host.member.lobby, "Carol waits")
            await carol.close()
            await until(lambda: carol.member_id not in host.member.lobby, "Carol is gone")
            assert not shared_server.inspect(lambda: live(shared_server, m.created).rules.lobby)

    run_async(scenario())


def test_before_the_host_arrives_members_only_chat(
    shared_server: LiveServer, open_meeting: OpenMeeting
) -> None:
    async def scenario() -> None:
        async with open_meeting() as m:
            ann = await m.guest("Ann")
            ben = await m.guest("Ben")
            # The earliest member leads the keys until a host is in: chat works.
            await ben.keys_for(ann)
            await chats_arrive(ann, ben, text="anyone here?")
            update = ScreenUpdate(1, 1, True, (Tile(0, 0, 1, 1, TileEncoding.RAW, bytes(4)),))
            await ann.member.send_content(update)
            await until(
                lambda: any("only chat" in e.text for e in got(ann, Error)),  # type: ignore[attr-defined]
                "Ann's screen update is refused",
            )
            assert ben.screen_updates == 0
            host = await m.host()
            await until(
                lambda: all(
                    p.member.e2e.current is not None
                    and p.member.e2e.current.leader == host.member_id
                    for p in (ann, ben)
                ),
                "the host leads a new epoch",
            )
            await chats_arrive(host, ann, ben, text="sorry I am late")

    run_async(scenario())


# What attendees may do ------------------------------------------------------------------


def test_the_chat_rule_holds_at_the_relay_and_again_at_each_receiver(
    open_meeting: OpenMeeting,
) -> None:
    async def scenario() -> None:
        async with open_meeting() as m:
            host, ann, ben = await m.host_and_two_guests()
            rule = Permissions(ChatRule.PRESENTER, (), may_save=False, may_record=False)
            await host.member.send(rule)
            await until(lambda: ann.member.permissions == rule, "Ann hears the rule")
            # The relay refuses a line to everyone and one to another attendee...
            await ann.member.send_content(Chat("to everyone"))
            await ann.member.send_content(Chat("to Ben"), ben.member_id)
            await until(lambda: len(got(ann, Error)) == 2, "both are refused")
            # ...and forwards one to a host, privately.
            await ann.member.send_content(Chat("to the host"), host.member_id)
            await until(lambda: any(m.text == "to the host" for m in got(host, Chat)), "private")  # type: ignore[attr-defined]
            assert not got(ben, Chat)
            # A relay that forwarded a forbidden line anyway gains nothing: Ben drops it.
            forged = ann.member.e2e.seal(Chat("past the relay"))
            outcome = await ben.member._handle(forged.serialize())
            assert isinstance(outcome, Rejected) and isinstance(outcome.error, NotPermitted)
            # A newcomer hears the rule with its roster.
            cy = await m.guest("Cy")
            await until(lambda: cy.member.permissions == rule, "Cy hears the rule")
            await records_show(
                m.server, m.created, RecordKind.PERMISSIONS,
                f"{host.member_id} chat=presenter annotators=none save=false record=false "
                f"by={host.member_id}",
            )  # fmt: skip

    run_async(scenario())
