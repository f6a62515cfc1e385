"""The client picks its transport by itself and says which (docs/protocol.md §1,
docs/operators.md "Firewalls and proxies"): direct TLS when the relay's direct port
answers, else WebSocket; both through a real HTTP CONNECT proxy (tinyproxy) named by
HTTPS_PROXY, with proxy authentication. A real EmbeddedServer (this module's own);
real library members exchange a chat line over the link chosen."""

from __future__ import annotations

import dataclasses
import os
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.helpers import (
    Crowd,
    Peer,
    add_organizer,
    check,
    log_in,
    pinned_context,
    relaydesk,
    run_async,
    until,
)
from relaydesk.client.api import BrokerApi, JoinResult
from relaydesk.client.member import Member
from relaydesk.errors import ClientError, ProxyRefused
from relaydesk.protocol.keys import MemberKeys
from relaydesk.protocol.messages import Chat
from support.proxy import tinyproxy
from support.servers import LiveServer


@dataclasses.dataclass
class Server:
    live: LiveServer
    context: ssl.SSLContext
    token: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("transports")
    add_organizer(data)
    live = LiveServer(data).start()
    try:
        context = pinned_context(live.url, live.fingerprint, tmp_path_factory.mktemp("profile"))
        yield Server(live, context, run_async(log_in(live.url, context)))
    finally:
        live.stop()


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


def closed_port() -> int:
    """A port of 127.0.0.1 nothing listens on (bound, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def two_members(server: Server) -> tuple[tuple[JoinResult, MemberKeys], ...]:
    """A new session's host and guest, joined through the broker (not yet connected)."""
    joined = []
    async with BrokerApi(server.live.url, server.context, server.token) as api:
        created = await api.create_session()
        for name in ("Hannah", "Gus"):
            keys = MemberKeys.generate(os.urandom)
            answer = await api.join(
                created.session_id, name, keys.agreement_public, keys.ed25519_public
            )
            joined.append((answer, keys))
    return tuple(joined)


async def chat_over(server: Server, tcp_address: str | None = "keep") -> tuple[str, str]:
    """Connect a host and a guest (the guest's direct address replaced unless "keep"),
    pass one chat line from the guest to the host; both members' link descriptions."""
    (host_join, host_keys), (guest_join, guest_keys) = await two_members(server)
    if tcp_address != "keep":
        relays = tuple(dataclasses.replace(r, tcp_address=tcp_address) for r in guest_join.relays)
        guest_join = dataclasses.replace(guest_join, relays=relays)
    async with Crowd() as crowd:
        host = crowd.add(await Peer(Member(host_join, host_keys, server.context), "H").connect())
        guest = crowd.add(await Peer(Member(guest_join, guest_keys, server.context), "G").connect())
        await guest.keys_for(host)
        await host.keys_for(guest)
        await guest.member.send_content(Chat("over the link chosen"))
        await until(
            lambda: any(m.text == "over the link chosen" for _, m in host.messages_of(Chat)),
            "the host read the guest's line",
        )
        return host.member.link_description, guest.member.link_description


def test_direct_tls_when_its_port_answers(server: Server) -> None:
    host, guest = run_async(chat_over(server))
    assert host == guest == "relay embedded by direct TLS"


def test_websocket_when_nothing_listens_on_the_direct_port(server: Server) -> None:
    host, guest = run_async(chat_over(server, f"127.0.0.1:{closed_port()}"))
    assert host == "relay embedded by direct TLS"
    assert guest == "relay embedded by WebSocket"


def test_websocket_when_the_proxy_allows_only_the_https_port(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tinyproxy(tmp_path, connect_ports=[server.live.port]) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url())
        host, guest = run_async(chat_over(server))
    through = f"through proxy 127.0.0.1:{proxy.port}"
    assert host == guest == f"relay embedded by WebSocket {through}"


def test_both_transports_through_an_authenticating_proxy(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tinyproxy(tmp_path, user="user", password="pass") as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url())
        host, guest = run_async(chat_over(server, f"127.0.0.1:{closed_port()}"))
    through = f"through proxy 127.0.0.1:{proxy.port}"
    assert host == f"relay embedded by direct TLS {through}"
    assert guest == f"relay embedded by WebSocket {through}"


def test_a_wrong_proxy_password_is_reported_not_skipped(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ((joined, keys), _) = run_async(two_members(server))  # before the proxy: httpx uses it too

    async def connect() -> None:
        await Member(joined, keys, server.context).connect()

    with tinyproxy(tmp_path, user="user", password="pass") as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url(password="wrong"))
        with pytest.raises(ProxyRefused, match="refused the user name or password"):
            run_async(connect())
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
        with pytest.raises(ProxyRefused, match="wants authentication"):
            run_async(connect())


def test_no_relay_reachable_names_every_attempt(server: Server) -> None:
    async def connect() -> None:
        ((joined, keys), _) = await two_members(server)
        relay = dataclasses.replace(
            joined.relays[0],
            tcp_address=f"127.0.0.1:{closed_port()}",
            wss_url=f"wss://127.0.0.1:{closed_port()}/relay",
        )
        await Member(dataclasses.replace(joined, relays=(relay,)), keys, server.context).connect()

    with pytest.raises(ClientError, match=r"embedded by direct TLS.*embedded by WebSocket"):
        run_async(connect())


def test_join_says_how_it_connected(server: Server, tmp_path: Path) -> None:
    """``relaydesk join`` prints the transport it picked (direct TLS: its port answers)."""

    async def invite() -> str:
        async with BrokerApi(server.live.url, server.context, server.token) as api:
            return (await api.create_session()).invite_url

    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    options = ["--fingerprint", server.live.fingerprint, "--config-dir", tmp_path / "profile"]
    joining = relaydesk("join", run_async(invite()), "--name", "Val", *options, "--duration", "1",
                        env=env)  # fmt: skip
    result = check(joining)
    assert "Connected to relay embedded by direct TLS." in result.stdout.splitlines()
