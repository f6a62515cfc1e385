"""Relay failure (issue 11): a broker on PostgreSQL, three ``relaydesk relay`` processes
sharing a real nats-server, and a meeting whose members sit on two of them. The
session's home relay is killed with SIGKILL mid-meeting: every member refreshes its
ticket and comes back on a live relay with the same member id, the key leader commits a
new epoch, and every chat line, those sent while the link was down too, arrives exactly
once, a file being sent carries on from where it stopped, each byte written once, and
the host's lock and attendee rules hold on the new home.
How fast is benchmarks/cluster.py's job (no timed assertions here)."""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from integration.helpers import (
    ORGANIZER,
    ORGANIZER_PASSWORD,
    Crowd,
    Peer,
    check,
    join_peer,
    log_in,
    pinned_context,
    relaydesk,
    run_async,
    until,
)
from integration.test_files import Side, a_file, ended
from relaydesk import limits
from relaydesk.client.api import BrokerApi
from relaydesk.client.files import State, Transfer, Transfers
from relaydesk.protocol.messages import Chat, ChatRule, Lock, Permissions
from support.cluster import BrokerProcess, RelayProcess, start_relay, until_relays_live
from support.nats import nats_server

RELAYS = ("relay-a", "relay-b", "relay-c")


@dataclass
class Cluster:
    broker: BrokerProcess
    relays: dict[str, RelayProcess]
    data: Path


@pytest.fixture
def cluster(tmp_path: Path, fresh_database: str) -> Iterator[Cluster]:
    database = ["--database-url", fresh_database]
    with nats_server() as nats:
        broker = BrokerProcess(tmp_path / "broker", fresh_database).start()
        relays: dict[str, RelayProcess] = {}
        try:
            check(relaydesk("admin", *database, "user", "add", ORGANIZER, "--password-stdin",
                            stdin=ORGANIZER_PASSWORD + "\n"))  # fmt: skip
            for name in RELAYS:
                relays[name] = start_relay(name, tmp_path / name, database, broker, "--nats", nats)
            yield Cluster(broker, relays, tmp_path)
        finally:
            for relay in relays.values():
                relay.stop()
            broker.stop()


def said(peer: Peer) -> Counter[str]:
    return Counter(chat.text for _, chat in peer.messages_of(Chat))


def test_killing_the_home_relay_moves_the_meeting_and_loses_no_line_or_chunk(
    cluster: Cluster,
) -> None:
    run_async(meeting(cluster))


async def meeting(cluster: Cluster) -> None:
    url = cluster.broker.url
    context = pinned_context(url, cluster.broker.fingerprint, cluster.data / "profile")
    token = await log_in(url, context)
    async with BrokerApi(url, context, token) as api:
        created = await api.create_session(None, None)
    await until_relays_live(url, context, token, len(RELAYS))
    async with Crowd() as crowd:
        host = crowd.add(await join_peer(url, context, created.session_id, "Hannah",
                                         token=token, refresh=True))  # fmt: skip
        home = host.member.join.relays[0].name
        elsewhere = next(name for name in RELAYS if name != home)
        guest = crowd.add(await join_peer(url, context, created.session_id, "Gus",
                                          refresh=True))  # fmt: skip
        far = crowd.add(await join_peer(url, context, created.session_id, "Fay",
                                        refresh=True, relay=elsewhere))  # fmt: skip
        assert f"relay {home} " in guest.member.link_description + " "
        assert f"relay {elsewhere} " in far.member.link_description + " "
        for peer in (host, guest, far):
            await peer.keys_for(*(other for other in (host, guest, far) if other is not peer))
        before = host.member.e2e.current
        assert before is not None

        # The host's controls, which a new home relay cannot know: its client sets them
        # there again.
        rule = Permissions(ChatRule.EVERYONE, (guest.member_id,), may_save=False,
                           may_record=False)  # fmt: skip
        await host.member.send(Lock(True))
        await host.member.send(rule)
        await controls_hold(rule, guest, far)
        await guest.member.send_content(Chat("before the failure"))
        await until(lambda: said(host)["before the failure"] == 1, "the host reads the guest")
        await until(lambda: said(far)["before the failure"] == 1, "Fay reads it over NATS")
        # A file from the host to the guest, a quarter of it through when the relay dies.
        sender = Side(host, cluster.data / "host-files", True, Transfers)
        receiver = Side(guest, cluster.data / "guest-files", True, Transfers)
        size = 4 * limits.FILE_WINDOW_BYTES
        source = a_file(cluster.data / "out", "big.bin", size)
        sent = await sender.transfers.send_file(guest.member_id, source)
        await until(lambda: received_bytes(receiver) >= size // 4, "a quarter arrived")

        os.kill(cluster.relays[home].process.process.pid, signal.SIGKILL)
        await guest.member.send_content(Chat("while the home relay is gone"))
        await far.member.send_content(Chat("Fay, meanwhile"))

        for peer in (host, guest, far):
            await until(lambda peer=peer: bool(peer.reconnects), f"{peer.name} reconnects")
        await until(
            lambda: all(home not in peer.member.link_description for peer in (host, guest, far)),
            "everyone is on a live relay",
        )
        await until(
            lambda: (host.member.e2e.current or before).number > before.number,
            "the key leader commits a new epoch on the new home",
        )
        for peer in (host, guest, far):
            await peer.keys_for(*(other for other in (host, guest, far) if other is not peer))
        await host.member.send_content(Chat("after the move"))
        expected = {
            host: ["before the failure", "while the home relay is gone", "Fay, meanwhile"],
            guest: ["Fay, meanwhile", "after the move"],
            far: ["before the failure", "while the home relay is gone", "after the move"],
        }
        for peer, lines in expected.items():
            await until(
                lambda peer=peer, lines=lines: all(said(peer)[line] >= 1 for line in lines),
                f"{peer.name} reads {lines}",
            )
        for peer in (host, guest, far):
            assert max(said(peer).values()) == 1, f"{peer.name} saw a line twice: {said(peer)}"
            assert peer.closed is None
        await controls_hold(rule, guest, far)  # on the new home
        await kept_whole(sent, receiver, source)
        sender.transfers.close()
        receiver.transfers.close()
        members = {peer.member_id for peer in (host, guest, far)}
        assert len(members) == 3  # the same three member ids as before the move


async def controls_hold(rule: Permissions, *peers: Peer) -> None:
    for peer in peers:
        await until(lambda p=peer: p.member.locked and p.member.permissions == rule,
                    f"{peer.name} hears the lock and the rule")  # fmt: skip


async def kept_whole(sent: Transfer, receiver: Side, source: Path) -> None:
    """The file resumed and was kept whole, each byte written once."""
    await ended(sent, "the file is kept after the move")
    assert sent.state is State.COMPLETE and sent.resumed_at is not None
    (kept,) = receiver.transfers.transfers.values()
    assert kept.state is State.COMPLETE and kept.done == len(source.read_bytes())
    assert kept.path is not None and kept.path.read_bytes() == source.read_bytes()


def received_bytes(side: Side) -> int:
    return sum(transfer.done for transfer in side.transfers.transfers.values())
