"""The relay's reporter (RemoteRecords, the heartbeat) against a real broker over HTTPS:
what it sends is what the broker takes, in order; replays and forgeries are refused; records
wait while the broker refuses or cannot be reached."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from relaydesk.client import tls
from relaydesk.errors import BrokerLinkError
from relaydesk.protocol.keys import MemberKeys
from relaydesk.relay.identity import (
    load_or_create_relay_key,
    public_text,
    sign_report,
)
from relaydesk.relay.reporter import BrokerLink, RemoteRecords, Signer, heartbeat
from support.servers import LiveServer


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LiveServer]:
    """A real broker (the embedded server's): its /api/relays/* check every request."""
    server = LiveServer(tmp_path / "broker").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def link(tmp_path: Path, broker: LiveServer) -> BrokerLink:
    """relay-a's link to the broker, its key registered as ``relaydesk admin relay add``
    would."""
    key = load_or_create_relay_key(tmp_path / "relay")
    broker.broker.relays.add("relay-a", public_text(key))
    context = tls.pinned_context(tls.fetch_certificate(broker.url))
    return BrokerLink(broker.url, context, key, "relay-a")


def status(*sessions: bytes) -> dict[str, Any]:
    return {
        "wss_url": "wss://127.0.0.1:9/relay",
        "tcp_address": None,
        "fingerprint": "00" * 32,
        "connections": len(sessions),
        "sessions": [uid.hex() for uid in sessions],
        "nats": False,
    }


def session_on_relay_a(broker: LiveServer, signer: Signer) -> bytes:
    """A session the broker placed on relay-a (live after one heartbeat): the broker
    takes records about a session only from its home relay."""
    heartbeat(signer, status())
    service = broker.broker
    organizer = service.store.add_account("alice", service.passwords.hash("a long password!"))
    created = service.create_session(organizer)
    keys = MemberKeys.generate(os.urandom)
    admission = service.join(
        created.session_id, "Ann", keys.agreement_public, keys.ed25519_public, address="10.0.0.1"
    )
    assert [relay.name for relay in admission.relays] == ["relay-a"]
    return created.session_uid


def kinds(broker: LiveServer, uid: bytes) -> list[str]:
    return [str(r.kind) for r in broker.broker.store.records() if r.session_uid == uid]


def eventually(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.05)


def test_relay_key_is_private_and_stable(tmp_path: Path) -> None:
    key = load_or_create_relay_key(tmp_path)
    assert (tmp_path / "relay.key").stat().st_mode & 0o777 == 0o600
    assert public_text(load_or_create_relay_key(tmp_path)) == public_text(key)
    assert len(public_text(key)) == 43  # 32 bytes, base64url without padding


def test_records_arrive_in_order_signed(broker: LiveServer, link: BrokerLink) -> None:
    signer = Signer(link)
    uid = session_on_relay_a(broker, signer)
    records = RemoteRecords(signer)
    records.session_started(uid)
    records.member_joined(uid, 1, "Ann", "host", "ann@example.org")
    records.member_left(uid, 1, 1234, 5678)
    records.session_ended(uid)
    records.close()
    assert kinds(broker, uid) == ["session_start", "join", "leave", "session_end"]
    leave = next(r for r in broker.broker.store.records() if r.kind == "leave")
    assert (leave.member_id, leave.bytes_in, leave.bytes_out) == (1, 1234, 5678)
    assert (leave.display_name, leave.role) == ("Ann", "host")
    assert (records.failures, records.dropped) == (0, 0)
    signer.close()


def test_replayed_and_forged_requests_are_refused(broker: LiveServer, link: BrokerLink) -> None:
    signer = Signer(link)
    uid = session_on_relay_a(broker, signer)
    body = signer.body({"records": []})
    signer.post("/api/relays/records", body)
    with pytest.raises(BrokerLinkError, match="409"):
        signer.post("/api/relays/records", body)  # the same request again
    # A body changed in transit, under the signature of the original one.
    forged = signer.body({"records": [{"call": "session_ended", "session_uid": uid.hex()}]})
    headers = {
        "Content-Type": "application/json",
        "X-Relaydesk-Relay": "relay-a",
        "X-Relaydesk-Signature": sign_report(link.key, body),
    }
    with httpx.Client(base_url=link.url, verify=link.ssl_context) as client:
        answer = client.post("/api/relays/records", content=forged, headers=headers)
    assert answer.status_code == 401
    assert "session_end" not in kinds(broker, uid)
    signer.close()


def test_an_unreachable_broker_keeps_the_records_until_it_answers(
    broker: LiveServer, link: BrokerLink
) -> None:
    signer = Signer(link)
    uid = session_on_relay_a(broker, signer)
    broker.broker.relays.remove("relay-a")  # refused (401) from now on: records wait
    records = RemoteRecords(signer)
    records.session_started(uid)
    eventually(lambda: records.failures > 0)
    broker.broker.relays.add("relay-a", public_text(link.key))
    heartbeat(signer, status(uid))
    eventually(lambda: "session_start" in kinds(broker, uid))
    records.close()
    signer.close()


def test_heartbeat_returns_ended_sessions(broker: LiveServer, link: BrokerLink) -> None:
    signer = Signer(link)
    uid = session_on_relay_a(broker, signer)
    assert heartbeat(signer, status(uid)) == []
    broker.broker.store.end_session(uid)
    assert heartbeat(signer, status(uid)) == [uid]
    signer.close()
