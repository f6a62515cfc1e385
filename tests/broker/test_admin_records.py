"""Event records through the admin API: filtered by session ID, organizer and time range,
as JSON or CSV, and one line per member (joined, left, how long, bytes); organizers still
see only their own sessions' records (docs/operators.md, "Event records")."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from broker_testing import START, FakeClock, Organizer, TestClient, create, join

from relaydesk.broker.records import SUMMARY_COLUMNS
from relaydesk.broker.service import Broker

T0 = datetime.fromtimestamp(START, UTC)


@pytest.fixture
def admin(broker: Broker, add_organizer: Callable[[str], Organizer]) -> Organizer:
    logged_in = add_organizer("root")
    broker.store.set_admin("root", True)
    return logged_in


def meeting(
    client: TestClient, broker: Broker, clock: FakeClock, organizer: Organizer, minutes: int
) -> dict[str, Any]:
    """A session of ``organizer`` where its host (member 1) and a guest (member 2) are in
    for ``minutes``; the guest reconnects once (its leave record counts both links), as
    the relay reports it."""
    session = create(client, organizer)
    assert join(client, session["session_id"], "Host", headers=organizer.headers).status_code == 200
    assert join(client, session["session_id"], "Guest", email="g@example.org").status_code == 200
    uid = bytes.fromhex(session["session_uid"])
    sink = broker.store
    sink.session_started(uid)
    sink.member_joined(uid, 1, "Host", "host")
    clock.advance(60)
    sink.member_joined(uid, 2, "Guest", "participant", "g@example.org")
    clock.advance(60 * minutes)
    sink.member_left(uid, 2, 1000, 50_000)
    sink.member_left(uid, 1, 70_000, 2000)
    sink.session_ended(uid)
    clock.advance(3600)
    return session


def get(client: TestClient, who: Organizer, path: str, **query: str) -> Any:
    answer = client.get(path, params=query, headers=who.headers)
    assert answer.status_code == 200, answer.text
    return answer


def test_filters_by_session_organizer_and_time(
    client: TestClient,
    broker: Broker,
    clock: FakeClock,
    admin: Organizer,
    organizer: Organizer,
    add_organizer: Callable[[str], Organizer],
) -> None:
    bob = add_organizer("bob")
    first = meeting(client, broker, clock, organizer, 10)  # 08:00 on the fake clock
    second = meeting(client, broker, clock, bob, 20)  # about 09:11
    everything = get(client, admin, "/api/admin/records").json()
    assert {r["organizer"] for r in everything} == {"alice", "bob"}
    only_bob = get(client, admin, "/api/admin/records", organizer="bob").json()
    assert {r["session_id"] for r in only_bob} == {second["session_id"]}
    by_id = get(client, admin, "/api/admin/records", session_id=first["session_id"]).json()
    assert {r["organizer"] for r in by_id} == {"alice"} and len(by_id) == 6
    cut = (T0 + timedelta(minutes=5)).isoformat()
    early = get(client, admin, "/api/admin/records", to=cut).json()
    assert [r["kind"] for r in early] == ["session_start", "join", "join"]
    late = get(client, admin, "/api/admin/records", **{"from": cut}).json()
    assert len(late) == len(everything) - 3
    naive = get(client, admin, "/api/admin/records", to=cut.replace("+00:00", "")).json()
    assert naive == early  # UTC when no zone is given
    bad = client.get("/api/admin/records", params={"session_id": "12"}, headers=admin.headers)
    assert bad.status_code == 400


def test_csv_export(
    client: TestClient, broker: Broker, clock: FakeClock, admin: Organizer, organizer: Organizer
) -> None:
    meeting(client, broker, clock, organizer, 10)
    answer = get(client, admin, "/api/admin/records", format="csv")
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [row["kind"] for row in rows] == [
        "session_start", "join", "join", "leave", "leave", "session_end",
    ]  # fmt: skip
    assert rows[3]["bytes_in"] == "1000" and rows[3]["organizer"] == "alice"


def test_one_line_per_member_with_duration_and_bytes(
    client: TestClient,
    broker: Broker,
    clock: FakeClock,
    admin: Organizer,
    organizer: Organizer,
    add_organizer: Callable[[str], Organizer],
) -> None:
    meeting(client, broker, clock, organizer, 10)
    meeting(client, broker, clock, add_organizer("bob"), 20)
    members = get(client, admin, "/api/admin/records/members", organizer="alice").json()
    assert [(m["display_name"], m["duration_seconds"], m["bytes_in"], m["bytes_out"])
            for m in members] == [("Host", 660.0, 70_000, 2000),
                                  ("Guest", 600.0, 1000, 50_000)]  # fmt: skip
    guest = members[1]
    assert guest["email"] == "g@example.org" and guest["role"] == "participant"
    assert guest["joined_at"] == (T0 + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    everyone = get(client, admin, "/api/admin/records/members").json()
    assert len(everyone) == 4
    # The time range picks members first admitted within it.
    late = get(client, admin, "/api/admin/records/members",
               **{"from": (T0 + timedelta(seconds=30)).isoformat()}).json()  # fmt: skip
    assert [m["display_name"] for m in late][:1] == ["Guest"] and len(late) == 3
    table = get(client, admin, "/api/admin/records/members", format="csv").text
    rows = list(csv.reader(io.StringIO(table)))
    assert tuple(rows[0]) == SUMMARY_COLUMNS and len(rows) == 5


def test_a_member_still_in_has_no_end_yet(
    client: TestClient, broker: Broker, admin: Organizer, organizer: Organizer
) -> None:
    session = create(client, organizer)
    uid = bytes.fromhex(session["session_uid"])
    broker.store.session_started(uid)
    broker.store.member_joined(uid, 1, "Host", "host")
    [member] = get(client, admin, "/api/admin/records/members").json()
    assert member["left_at"] is None and member["duration_seconds"] is None


def test_organizers_see_only_their_own_sessions(
    client: TestClient,
    broker: Broker,
    clock: FakeClock,
    admin: Organizer,
    organizer: Organizer,
    add_organizer: Callable[[str], Organizer],
) -> None:
    bob = add_organizer("bob")
    mine = meeting(client, broker, clock, organizer, 10)
    meeting(client, broker, clock, bob, 10)
    seen = get(client, organizer, "/api/records").json()
    assert {r["session_id"] for r in seen} == {mine["session_id"]}
    assert {r["organizer"] for r in seen} == {"alice"}
    one = get(client, organizer, "/api/records", session_id=mine["session_id"],
              to=(T0 + timedelta(minutes=5)).isoformat()).json()  # fmt: skip
    assert [r["kind"] for r in one] == ["session_start", "join", "join"]
    assert client.get("/api/admin/records", headers=organizer.headers).status_code == 403
