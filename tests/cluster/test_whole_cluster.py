"""Issue 11 as an organization runs it, every part at once: two ``relaydesk broker``
replicas on one fresh PostgreSQL database, three ``relaydesk relay`` processes sharing a
nats-server (each registered with ``relaydesk admin relay add``; one reports to the
second replica), and an attendee whose network lets only HTTPS out, through an
authenticating HTTP CONNECT proxy (tinyproxy allowing only the HTTPS ports: every direct
TLS port blocked).

- Sessions are placed by load: the meeting and two support sessions started after it
  land on three different relays.
- One meeting spans two relays: the host on its home relay by direct TLS, a guest on
  another relay (bridged through NATS), and the attendee's ``relaydesk join`` through
  the proxy, which says it went by WebSocket through the proxy. Chat reaches everyone,
  end to end.
- Every process answers ``/healthz`` and ``/metrics``, and the relays' records reach
  the replicas' shared database.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

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
from relaydesk.client.api import BrokerApi
from relaydesk.protocol.messages import Chat
from support.cluster import BrokerProcess, RelayProcess, start_relay, until_relays_live
from support.nats import nats_server
from support.processes import Background
from support.proxy import RunningProxy, tinyproxy

RELAYS = ("relay-a", "relay-b", "relay-c")


@dataclass
class Cluster:
    brokers: tuple[BrokerProcess, BrokerProcess]
    relays: dict[str, RelayProcess]
    proxy: RunningProxy
    database_url: str
    data: Path


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


@pytest.fixture
def cluster(tmp_path: Path, fresh_database: str) -> Iterator[Cluster]:
    database = ["--database-url", fresh_database]
    relays: dict[str, RelayProcess] = {}
    with nats_server() as nats:
        first = BrokerProcess(tmp_path / "broker-1", fresh_database).start()
        second: BrokerProcess | None = None
        try:
            second = first.replica(tmp_path / "broker-2").start()
            check(relaydesk("admin", *database, "user", "add", ORGANIZER, "--password-stdin",
                            stdin=ORGANIZER_PASSWORD + "\n"))  # fmt: skip
            for name, broker in zip(RELAYS, (first, first, second), strict=True):
                relays[name] = start_relay(name, tmp_path / name, database, broker, "--nats", nats)
            https_ports = [port_of(b.url) for b in (first, second)]
            https_ports += [port_of(r.wss_url) for r in relays.values()]
            proxy_dir = tmp_path / "proxy"
            proxy_dir.mkdir()
            with tinyproxy(proxy_dir, user="pia", password="s3cret",
                           connect_ports=https_ports) as proxy:  # fmt: skip
                yield Cluster((first, second), relays, proxy, fresh_database, tmp_path)
        finally:
            for relay in relays.values():
                relay.stop()
            if second is not None:
                second.stop()
            first.stop()


def said(peer: Peer) -> list[str]:
    return [chat.text for _, chat in peer.messages_of(Chat)]


def test_two_brokers_three_relays_nats_and_a_proxy(cluster: Cluster) -> None:
    first, second = cluster.brokers
    host_context = pinned_context(first.url, first.fingerprint, cluster.data / "host")
    guest_context = pinned_context(second.url, second.fingerprint, cluster.data / "guest")
    token = run_async(log_in(first.url, host_context))
    for broker in cluster.brokers:
        context = pinned_context(broker.url, broker.fingerprint, cluster.data / "probe")
        run_async(until_relays_live(broker.url, context, token, len(RELAYS)))
    run_async(meeting(cluster, host_context, guest_context, token))
    check_operations(cluster)


def counted_by_broker(cluster: Cluster) -> dict[str, int]:
    """Each relay's load as the placement reads it from the shared database: its last
    heartbeat, plus the sessions placed on it since."""
    engine = create_engine(cluster.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT name, connections FROM relays"))
            return {str(name): int(count) for name, count in rows}
    finally:
        engine.dispose()


def live_connections(relay: RelayProcess, profile: Path) -> int:
    """The relay's own count of open member connections (its /metrics)."""
    context = pinned_context(relay.https_url, relay.fingerprint, profile)
    with httpx.Client(base_url=relay.https_url, verify=context) as client:
        metrics = client.get("/metrics").text
    (line,) = [m for m in metrics.splitlines() if m.startswith("relaydesk_relay_connections ")]
    return int(float(line.split()[1]))


async def placed_and_reported(cluster: Cluster, peer: Peer) -> str:
    """The peer's home relay, once every relay's heartbeat has told the broker its true
    load (the probes' placements forgotten, this peer's connection counted)."""
    home = peer.member.join.relays[0].name

    def reported() -> bool:
        truth = {
            name: live_connections(r, cluster.data / "ops") for name, r in cluster.relays.items()
        }
        return truth[home] >= 1 and counted_by_broker(cluster) == truth

    await until(reported, f"the relays report their load with {peer.name} on {home}")
    return home


async def meeting(
    cluster: Cluster, host_context: ssl.SSLContext, guest_context: ssl.SSLContext, token: str
) -> None:
    first, second = cluster.brokers
    async with BrokerApi(first.url, host_context, token) as api:
        created = await api.create_session(None, None)
        support = [await api.create_session(None, None) for _ in range(2)]
    async with Crowd() as crowd:
        host = crowd.add(await join_peer(first.url, host_context, created.session_id, "Hannah",
                                         token=token))  # fmt: skip
        homes = [await placed_and_reported(cluster, host)]
        # Two support sessions, each started once the relays' load shows the last one.
        for number, session in enumerate(support):
            agent = crowd.add(await join_peer(first.url, host_context, session.session_id,
                                              f"Agent {number}", token=token))  # fmt: skip
            homes.append(await placed_and_reported(cluster, agent))
        assert sorted(homes) == sorted(RELAYS), f"sessions not spread by load: {homes}"

        home = homes[0]
        assert host.member.link_description == f"relay {home} by direct TLS"
        elsewhere = next(name for name in RELAYS if name != home)
        guest = crowd.add(await join_peer(second.url, guest_context, created.session_id,
                                          "Gus", relay=elsewhere))  # fmt: skip
        assert guest.member.link_description == f"relay {elsewhere} by direct TLS"
        attendee = attend_through_proxy(cluster, f"{second.url}/j/{created.session_id}")
        try:
            attendee.wait_for_line(
                rf"^Connected to relay {home} by WebSocket through proxy "
                rf"127\.0\.0\.1:{cluster.proxy.port}\.$"
            )
            await until(lambda: "Pia" in host.member.names.values(), "the host sees Pia")
            await until(lambda: len(host.epoch_members) == 3, "the host keys all three")
            await until(lambda: len(guest.epoch_members) == 3, "Gus holds the keys")
            attendee.wait_for_line(r"^Security code: ")
            await host.member.send_content(Chat("welcome, all three"))
            await until(lambda: "welcome, all three" in said(guest), "Gus reads it over NATS")
            attendee.wait_for_line(r"^\[chat\] Hannah: welcome, all three$")
            attendee.type_line("Pia here, through the proxy")
            for peer in (host, guest):
                await until(
                    lambda peer=peer: "Pia here, through the proxy" in said(peer),
                    f"{peer.name} reads Pia",
                )
            await guest.member.send_content(Chat("Gus, from another relay"))
            await until(lambda: "Gus, from another relay" in said(host), "the host reads Gus")
            attendee.wait_for_line(r"^\[chat\] Gus: Gus, from another relay$")
        finally:
            assert attendee.stop() == 0, attendee.describe()


def attend_through_proxy(cluster: Cluster, invite: str) -> Background:
    """``relaydesk join`` as Pia, whose network allows HTTPS through the proxy only."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "NO_PROXY", "no_proxy")}
    env["HTTPS_PROXY"] = cluster.proxy.url()
    second = cluster.brokers[1]
    profile = cluster.data / "pia"
    return Background("join", invite, "--name", "Pia", "--fingerprint", second.fingerprint,
                      "--config-dir", profile, env=env, stdin=True)  # fmt: skip


def check_operations(cluster: Cluster) -> None:
    """/healthz and /metrics on every process; the relays' records in the shared
    database, whichever replica they reported to."""
    processes = [(b.url, b.fingerprint) for b in cluster.brokers]
    processes += [(r.https_url, r.fingerprint) for r in cluster.relays.values()]
    for url, fingerprint in processes:
        context = pinned_context(url, fingerprint, cluster.data / "ops")
        with httpx.Client(base_url=url, verify=context) as client:
            health = client.get("/healthz")
            assert health.status_code == 200, (url, health.text)
            metrics = client.get("/metrics").text
        assert "relaydesk_" in metrics and "Hannah" not in metrics, url
    engine = create_engine(cluster.database_url)
    try:
        with engine.connect() as connection:
            joined = connection.execute(
                text("SELECT display_name FROM event_records WHERE kind = 'join'")
            ).scalars()
            names = set(joined)
    finally:
        engine.dispose()
    assert {"Hannah", "Gus", "Pia"} <= names
