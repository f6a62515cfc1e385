"""Two ``relaydesk broker`` replicas on one fresh PostgreSQL database and one
``relaydesk relay`` registered with ``relaydesk admin relay add``: a host starts a meeting
through one replica, a guest joins through the other, both land on the relay, a chat line
passes, and the relay's records reach the broker."""

from __future__ import annotations

import asyncio
import os
import ssl
from pathlib import Path
from typing import Any

import httpx

from integration.helpers import (
    ORGANIZER,
    ORGANIZER_PASSWORD,
    Crowd,
    check,
    join_peer,
    log_in,
    pinned_context,
    relaydesk,
    run_async,
    until,
)
from relaydesk.client.api import BrokerApi
from relaydesk.protocol.keys import MemberKeys
from relaydesk.protocol.messages import Chat
from support.cluster import BrokerProcess, RelayProcess, start_relay, until_relays_live


def test_a_meeting_over_two_broker_replicas_and_a_relay(
    tmp_path: Path, fresh_database: str
) -> None:
    first = BrokerProcess(tmp_path / "broker-1", fresh_database).start()
    try:
        second = first.replica(tmp_path / "broker-2").start()
        try:
            database = ["--database-url", fresh_database]
            check(relaydesk("admin", *database, "user", "add", ORGANIZER, "--password-stdin",
                            stdin=ORGANIZER_PASSWORD + "\n"))  # fmt: skip
            relay = start_relay("relay-a", tmp_path / "relay", database, first)
            try:
                run_async(meeting(tmp_path, first, second, relay))
                listing = check(relaydesk("admin", *database, "relay", "list")).stdout
                assert "relay-a" in listing and " yes " in listing
            finally:
                relay.stop()
        finally:
            second.stop()
    finally:
        first.stop()


async def meeting(
    tmp_path: Path, first: BrokerProcess, second: BrokerProcess, relay: RelayProcess
) -> None:
    one = pinned_context(first.url, first.fingerprint, tmp_path / "host")
    two = pinned_context(second.url, second.fingerprint, tmp_path / "guest")
    token = await log_in(first.url, one)
    await until_relays_live(first.url, one, token, 1)
    async with BrokerApi(first.url, one, token) as api:
        created = await api.create_session(None, None)
        probe = MemberKeys.generate(os.urandom)
        joined = await api.join(
            created.session_id, "Probe", probe.agreement_public, probe.ed25519_public
        )
    assert [relay_address.name for relay_address in joined.relays] == ["relay-a"]
    assert joined.relay_url == relay.wss_url
    async with Crowd() as crowd:
        host = crowd.add(await join_peer(first.url, one, created.session_id, "Hannah",
                                         token=token))  # fmt: skip
        guest = crowd.add(await join_peer(second.url, two, created.session_id, "Gus"))
        await host.keys_for(guest)
        await guest.keys_for(host)
        await host.member.send_content(Chat("hello over two replicas"))
        await until(
            lambda: any(m.text == "hello over two replicas" for _, m in guest.messages_of(Chat)),
            "the guest reads the host's chat line",
        )
    await until_records(second.url, two, token)


async def until_records(url: str, context: ssl.SSLContext, token: str) -> None:
    """The relay's records (joins, leaves with byte counts) reach the broker."""
    records: list[dict[str, Any]] = []
    for _ in range(400):
        async with httpx.AsyncClient(base_url=url, verify=context) as client:
            answer = await client.get("/api/records", headers={"Authorization": f"Bearer {token}"})
        records = answer.json()
        kinds = [(record["kind"], record.get("display_name")) for record in records]
        leaves = [record for record in records if record["kind"] == "leave"]
        if ("join", "Gus") in kinds and len(leaves) >= 2:
            assert all(record["bytes_in"] > 0 and record["bytes_out"] > 0 for record in leaves)
            assert ("session_start", None) in kinds
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"records never arrived: {records}")
