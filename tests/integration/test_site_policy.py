"""The site policy where people meet it: the relay refusing presenting and remote control
that the policy turned off (real server, real clients), ``relaydesk start`` refused without
the password the site requires, ``relaydesk join`` refused without an account under
restricted access, and the client's own session log (docs/operators.md, "Site policy";
docs/meetings.md, "Session log").

A server of this module's own (its policy changes would reach other modules' sessions):
the real EmbeddedServer in a background thread, organizers made with the admin CLI."""

from __future__ import annotations

import asyncio
import csv
import os
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.helpers import (
    ORGANIZER,
    ORGANIZER_PASSWORD,
    Crowd,
    Peer,
    add_organizer,
    check,
    host_session,
    join_peer,
    log_in,
    pinned_context,
    relaydesk,
    run_async,
    until,
)
from relaydesk.broker.policy import SitePolicy
from relaydesk.errors import CloseCode
from relaydesk.protocol.messages import (
    ConsentPrompt,
    ControlRequest,
    Error,
    PresenterRequest,
    ScreenUpdate,
    Tile,
    TileEncoding,
)
from relaydesk.protocol.session import CONTROL_OFF, SHARING_OFF
from relaydesk.protocol.tickets import TicketRule
from relaydesk.relay.records import RecordKind
from support.processes import Background
from support.servers import LiveServer

SESSION_PASSWORD = "seven purple elephants dancing"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("policy-server")
    add_organizer(data)
    add_organizer(data, "bob", "bob's own long password")
    live = LiveServer(data).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def context(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    return pinned_context(server.url, server.fingerprint, tmp_path_factory.mktemp("pin"))


@pytest.fixture(scope="module")
def token(server: LiveServer, context: ssl.SSLContext) -> str:
    return run_async(log_in(server.url, context))


@pytest.fixture(scope="module")
def profile(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``relaydesk login`` as the organizer, once (logins are rate limited)."""
    directory = tmp_path_factory.mktemp("organizer-profile")
    check(relaydesk("login", server.url, ORGANIZER, "--password-stdin", "--fingerprint",
                    server.fingerprint, "--config-dir", directory,
                    stdin=ORGANIZER_PASSWORD + "\n"))  # fmt: skip
    return directory


@pytest.fixture
def policy(server: LiveServer) -> Iterator[object]:
    """Set the site policy for one test (as ``relaydesk admin policy set`` does on the
    same database); back to no rules afterwards."""
    store = server.broker.store

    def set_rules(**rules: object) -> None:
        store.set_policy(SitePolicy().changed(dict(rules)), "test")

    yield set_rules
    store.set_policy(SitePolicy(), "test")


def errors_of(peer: Peer) -> list[Error]:
    return [message for _, message in peer.messages_of(Error)]


async def wait_for_error(peer: Peer, text: str) -> Error:
    await until(lambda: any(text in e.text for e in errors_of(peer)), f"{peer.name} is told {text}")
    return next(e for e in errors_of(peer) if text in e.text)


def refusals(server: LiveServer, session_uid: bytes) -> list[str]:
    records = server.broker.store.records()
    return [
        r.detail or ""
        for r in records
        if r.session_uid == session_uid and r.kind is RecordKind.REFUSED
    ]


# The relay ------------------------------------------------------------------------------


def test_the_relay_refuses_presenting_and_screen_frames_under_disable_sharing(
    server: LiveServer, context: ssl.SSLContext, token: str, policy: object
) -> None:
    policy(disable_sharing=True)  # type: ignore[operator]

    async def scenario() -> None:
        async with Crowd() as crowd:
            created, host = await host_session(server.url, context, token, on_message=None)
            crowd.add(host)
            guest = crowd.add(await join_peer(server.url, context, created.session_id, "Gus"))
            await host.keys_for(guest)
            assert TicketRule.NO_SHARING in host.member.site_rules
            # The host naming itself (taking presenting) and asking the guest: both refused.
            await host.member.send(PresenterRequest(host.member_id))
            refused = await wait_for_error(host, SHARING_OFF)
            assert refused.code == CloseCode.SITE_POLICY == 4012
            await host.member.send(PresenterRequest(guest.member_id))
            await until(lambda: len(errors_of(host)) >= 2, "the second refusal")
            # A screen frame sent anyway (a modified client) goes to nobody.
            tile = Tile(0, 0, 1, 1, TileEncoding.RAW, bytes(4))
            await host.member.send_content(ScreenUpdate(1, 1, 1, (tile,)))
            await until(lambda: len(errors_of(host)) >= 3, "the screen frame's refusal")
            assert all(e.code == CloseCode.SITE_POLICY for e in errors_of(host))
            await asyncio.sleep(0.5)
            assert guest.screen_updates == 0 and not guest.messages_of(ConsentPrompt)
            assert (
                server.inspect(lambda: server.hub.sessions[created.session_uid].rules.presenter)
                is None
            )
            details = refusals(server, created.session_uid)
            assert any("action=refused_presenter_request" in d for d in details)
            assert any("action=refused_screen_update" in d for d in details)

    run_async(scenario())


def test_the_relay_refuses_remote_control_under_disable_control(
    server: LiveServer, context: ssl.SSLContext, token: str, policy: object
) -> None:
    policy(disable_control=True)  # type: ignore[operator]

    async def scenario() -> None:
        async with Crowd() as crowd:
            created, host = await host_session(server.url, context, token)  # presents
            crowd.add(host)
            guest = crowd.add(await join_peer(server.url, context, created.session_id, "Gia"))
            await host.keys_for(guest)
            await until(lambda: guest.member.presenter == host.member_id, "the host presents")
            await guest.member.send(ControlRequest())
            refused = await wait_for_error(guest, CONTROL_OFF)
            assert refused.code == CloseCode.SITE_POLICY
            await asyncio.sleep(0.5)
            assert not host.messages_of(ConsentPrompt)  # the presenter is never asked
            assert guest.member.control_holder is None

    run_async(scenario())


# The command line -----------------------------------------------------------------------


def test_relaydesk_start_is_refused_without_the_password_the_site_requires(
    server: LiveServer, profile: Path, policy: object
) -> None:
    policy(require_session_password=True)  # type: ignore[operator]
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    refused = relaydesk("start", "--config-dir", profile, env=env)
    assert refused.returncode == 1
    assert "requires a password for every session" in refused.stderr
    assert "--password-stdin" in refused.stderr
    assert server.broker.store.listed_sessions(10) == []


def test_relaydesk_start_without_sharing_needs_no_screen_and_says_why(
    server: LiveServer, profile: Path, policy: object, tmp_path: Path
) -> None:
    policy(disable_sharing=True, disable_control=True)  # type: ignore[operator]
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}  # no screen at all
    host = Background("start", "--config-dir", profile, "--log-dir", tmp_path / "host-logs",
                      env=env, stdin=True)  # fmt: skip
    guest = None
    try:
        invite = host.wait_for_line(r"^Invite URL: (\S+)$").group(1)
        host.wait_for_line(r"^\* Desktop sharing is turned off on this server by its administrator")
        guest = Background("join", invite, "--name", "Pat", "--fingerprint", server.fingerprint,
                           "--config-dir", tmp_path / "guest", "--no-session-log",
                           env=env, stdin=True)  # fmt: skip
        guest.wait_for_line(r"^Security code: ")
        guest.type_line("/control")
        guest.wait_for_line(
            r"^! Remote control is turned off on this server by its administrator\.$"
        )
        host.type_line("/present Pat")
        host.wait_for_line(
            r"^! Desktop sharing is turned off on this server by its administrator\.$"
        )
    finally:
        if guest is not None:
            guest.stop()
        host.stop()
    assert "Showing" not in host.stdout


def test_relaydesk_join_needs_an_account_under_restricted_access(
    server: LiveServer, context: ssl.SSLContext, token: str, policy: object, tmp_path: Path
) -> None:
    guest_profile = tmp_path / "guest"

    def join(session_id: str) -> list[str]:
        return ["join", f"{server.url}/j/{session_id}", "--name", "Bob", "--duration", "1",
                "--fingerprint", server.fingerprint, "--config-dir", str(guest_profile),
                "--no-session-log"]  # fmt: skip

    async def scenario() -> None:
        created, host = await host_session(server.url, context, token, on_message=None)
        try:
            policy(restricted_access=True)  # type: ignore[operator]
            refused = await asyncio.to_thread(relaydesk, *join(created.session_id))
            assert refused.returncode == 1
            assert "admits only people with an account" in refused.stderr
            assert f"relaydesk login {server.url}" in refused.stderr
            check(await asyncio.to_thread(
                relaydesk, "login", server.url, "bob", "--password-stdin", "--config-dir",
                guest_profile, stdin="bob's own long password\n",
            ))  # fmt: skip
            joined = check(await asyncio.to_thread(relaydesk, *join(created.session_id)))
            sid = created.session_id
            assert f"Joined session {sid[:3]} {sid[3:6]} {sid[6:]}" in joined.stdout
        finally:
            await host.close()

    run_async(scenario())


# The client's session log ---------------------------------------------------------------


def test_relaydesk_join_writes_its_session_log(
    server: LiveServer, context: ssl.SSLContext, token: str, tmp_path: Path
) -> None:
    logs = tmp_path / "logs"

    async def scenario() -> tuple[str, bytes]:
        created, host = await host_session(server.url, context, token)
        try:
            for name in ("Lia", "Leo"):
                joined = relaydesk(
                    "join", created.invite_url, "--name", name, "--duration", "2",
                    "--fingerprint", server.fingerprint, "--config-dir", tmp_path / name,
                    "--log-dir", logs,
                )  # fmt: skip
                check(joined)
                assert f"Session log: {logs}" in joined.stdout
        finally:
            await host.close()
        return created.session_id, created.session_uid

    session_id, session_uid = run_async(scenario())
    texts = sorted(logs.glob(f"relaydesk-{session_id}-*.txt"))
    assert len(texts) == 2
    text = texts[0].read_text()
    assert f"Session ID:      {session_id[:3]} {session_id[3:6]} {session_id[6:]}" in text
    assert "You:             " in text and "Hannah Host" in text
    assert "Duration:        0:00:0" in text
    with (logs / "relaydesk-sessions.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))  # one header, a row per session: it accumulates
    assert [row["display_name"] for row in rows] == ["Lia", "Leo"]
    assert all(row["session_id"] == session_id and row["role"] == "participant" for row in rows)
    # The client counted at its link what the relay counted for it.
    left = {
        r.display_name: r
        for r in server.broker.store.records()
        if r.session_uid == session_uid and r.kind is RecordKind.LEAVE
    }
    for row in rows:
        relay_saw = left[row["display_name"]]
        assert int(row["bytes_sent"]) == relay_saw.bytes_in > 0
        assert 0 < int(row["bytes_received"]) <= relay_saw.bytes_out
        assert float(row["duration_seconds"]) >= 2.0
