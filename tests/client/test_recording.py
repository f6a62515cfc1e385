"""The host's side of a recording (client/recording.py) on a member's link, without a
network: the file is made only on the relay's announcement of this host's recording,
ends on the announcement that it stopped, and ends too when a ROSTER (after a reconnect
to a relay the session moved to) no longer names this host as recording."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from relaydesk.client.api import JoinResult
from relaydesk.client.member import Member
from relaydesk.client.recording import SessionRecorder
from relaydesk.errors import RecordingError
from relaydesk.protocol import keys as ks
from relaydesk.protocol.messages import Chat, Recording, Roster
from relaydesk.recording.verify import verify_file
from support.recording_files import SESSION_UID, Session, relay_frame


def recorder_on_a_member(tmp_path: Path) -> tuple[SessionRecorder, Member, list[str], Session]:
    session = Session()
    host = session.host
    keys = ks.MemberKeys.generate(session.rng)
    join = JoinResult(
        host.blob, host.member_id, SESSION_UID, "wss://127.0.0.1/relay",
        session.broker_key.public_key().public_bytes_raw(),
    )  # fmt: skip
    member = Member(join, keys, ssl.create_default_context())
    for party in (session.host, session.alice):  # as a ROSTER would have told it
        member.tickets[party.member_id] = party.blob
        member.roles[party.member_id] = party.role
    said: list[str] = []
    key = Ed25519PrivateKey.generate()
    recorder = SessionRecorder(member, "123456789", "Hannah", lambda: key, said.append)
    return recorder, member, said, session


def test_nothing_is_written_before_the_relay_announces_it(tmp_path: Path) -> None:
    recorder, member, _, session = recorder_on_a_member(tmp_path)
    path = tmp_path / "meeting.rdrec"
    recorder.wanted = path  # asked (start() sends the request; no relay here)
    chat = session.alice.e2e.seal(Chat("before")).serialize()
    member.tap.frame(chat, sent=False)  # type: ignore[union-attr]
    assert not path.exists()
    member.tap.frame(relay_frame(Recording(2, True), 1, 1), sent=False)  # type: ignore[union-attr]
    assert not path.exists()  # another member's recording is not this one's
    member.tap.frame(relay_frame(Recording(1, True), 1, 2), sent=False)  # type: ignore[union-attr]
    assert path.exists() and recorder.recording
    member.tap.frame(chat, sent=False)  # type: ignore[union-attr]
    member.tap.frame(relay_frame(Recording(1, False), 1, 3), sent=False)  # type: ignore[union-attr]
    assert not recorder.recording and recorder.finished == [path]
    summary = verify_file(path)
    assert summary.frames == 3  # the two announcements and the chat line between them


def test_a_roster_that_does_not_name_this_recorder_ends_the_file(tmp_path: Path) -> None:
    recorder, member, said, _ = recorder_on_a_member(tmp_path)
    path = tmp_path / "moved.rdrec"
    recorder.wanted = path
    member.tap.frame(relay_frame(Recording(1, True), 1, 1), sent=False)  # type: ignore[union-attr]
    same_relay = Roster(1, (), 0, 0, False, 1, (), recording=1)  # a reconnect: still on
    member.tap.frame(relay_frame(same_relay, 1, 2), sent=False)  # type: ignore[union-attr]
    assert recorder.recording
    moved = Roster(1, (), 0, 0, False, 1, (), recording=0)  # a new home never announced it
    member.tap.frame(relay_frame(moved, 1, 3), sent=False)  # type: ignore[union-attr]
    assert not recorder.recording
    assert any("session moved" in line for line in said)
    verify_file(path)  # ended properly, signed


def test_start_refuses_an_existing_file(tmp_path: Path) -> None:
    recorder, _, _, _ = recorder_on_a_member(tmp_path)
    taken = tmp_path / "taken.rdrec"
    taken.write_bytes(b"mine")
    with pytest.raises(RecordingError, match="never replaces a file"):
        asyncio.run(recorder.start(taken))
    assert taken.read_bytes() == b"mine"
