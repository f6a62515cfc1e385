"""Recording is announced and host-only, as the relay enforces it (issue 13; protocol
§3.23): real EmbeddedServer, real Python members over TLS WebSockets.

Only a host starts recording, on its own client; everyone is told, a member waiting in
the lobby too, and a member who joins later sees it in the ROSTER; a presenter who is no
host decides with ``may_record``, and turning it off stops the recording; the recorder
leaving stops it too. Every start and stop is an event record, a refused start a
``refused`` record.
"""

from __future__ import annotations

import ssl

import pytest
from msgspec.structs import replace

from integration.helpers import Peer, present_when_admitted, run_async, until
from integration.test_meeting_controls import (
    OpenMeeting,
    got,
    meeting_opener,
    records_of,
    records_show,
)
from relaydesk.protocol.messages import (
    DEFAULT_PERMISSIONS,
    Admit,
    ConsentAnswer,
    ConsentKind,
    ConsentPrompt,
    Error,
    PresenterRequest,
    Recording,
    Role,
    RoleChange,
    Roster,
)
from relaydesk.relay.records import RecordKind
from support.servers import LiveServer


@pytest.fixture
def open_meeting(
    shared_server: LiveServer, shared_context: ssl.SSLContext, organizer_token: str
) -> OpenMeeting:
    return meeting_opener(shared_server, shared_context, organizer_token)


def told(peer: Peer, member_id: int, active: bool) -> bool:
    return Recording(member_id, active) in got(peer, Recording)


def test_only_a_host_records_and_everyone_is_told_the_lobby_too(
    shared_server: LiveServer, open_meeting: OpenMeeting
) -> None:
    async def scenario() -> None:
        async with open_meeting(lobby=True) as m:
            host = await m.host(on_message=present_when_admitted)
            ann = await m.guest("Ann")
            await until(lambda: ann.member_id in host.member.lobby, "Ann waits")
            await host.member.send(Admit(ann.member_id, True))
            await ann.keys_for(host)
            eve = await m.guest("Eve")
            await until(lambda: eve.member_id in host.member.lobby, "Eve waits")

            # A participant may not record: refused, told why, and recorded as refused.
            await ann.member.send(Recording(ann.member_id, True))
            await until(lambda: bool(got(ann, Error)), "Ann is refused")
            assert "only a host" in got(ann, Error)[0].text  # type: ignore[attr-defined]
            await until(
                lambda: any(
                    "action=refused_recording " in r
                    for r in records_of(shared_server, m.created, RecordKind.REFUSED)
                ),
                "a refusal record",
            )
            # Nor may a host claim that another member records.
            await host.member.send(Recording(ann.member_id, True))
            await until(lambda: bool(got(host, Error)), "the host is refused")
            assert not got(ann, Recording) and ann.member.recording is None

            # The host records: everyone is told, Eve in the lobby too.
            await host.member.send(Recording(host.member_id, True))
            for peer in (host, ann, eve):
                await until(lambda p=peer: told(p, host.member_id, True), f"{peer.name} told")
            assert ann.member.recording == host.member_id
            assert eve.member.recording == host.member_id
            await records_show(shared_server, m.created, RecordKind.RECORDING,
                               f"{host.member_id} state=on")  # fmt: skip

            # Who comes in later sees it in the roster.
            await host.member.send(Admit(eve.member_id, True))
            await until(lambda: bool(got(eve, Roster)), "Eve gets the roster")
            roster = got(eve, Roster)[-1]
            assert isinstance(roster, Roster) and roster.recording == host.member_id

            await host.member.send(Recording(host.member_id, False))
            for peer in (host, ann, eve):
                await until(lambda p=peer: told(p, host.member_id, False), f"{peer.name} told")
            assert ann.member.recording is None
            await records_show(shared_server, m.created, RecordKind.RECORDING,
                               f"{host.member_id} state=off")  # fmt: skip

    run_async(scenario())


def test_a_presenter_who_is_no_host_decides_and_can_stop_it(
    shared_server: LiveServer, open_meeting: OpenMeeting
) -> None:
    async def scenario() -> None:
        async with open_meeting() as m:
            host = await m.host()
            ann = await m.guest("Ann")
            await ann.keys_for(host)
            await host.member.send(Recording(host.member_id, True))
            await until(lambda: told(ann, host.member_id, True), "Ann is told")

            # Ann agrees to present: her screen may not be recorded (may_record is off
            # by default), so the recording stops, and everyone is told.
            await host.member.send(PresenterRequest(ann.member_id))
            await until(lambda: bool(got(ann, ConsentPrompt)), "Ann is asked")
            await ann.member.send(ConsentAnswer(ConsentKind.PRESENT, True))
            await until(lambda: told(host, host.member_id, False), "the host is told: stopped")
            await until(lambda: told(ann, host.member_id, False), "Ann is told: stopped")

            # While she does not allow it, the relay refuses to start again.
            errors = len(got(host, Error))
            await host.member.send(Recording(host.member_id, True))
            await until(lambda: len(got(host, Error)) > errors, "refused")
            assert "does not allow recording" in got(host, Error)[-1].text  # type: ignore[attr-defined]

            # She allows it; the host records; she turns it off again: it stops.
            await ann.member.send(replace(DEFAULT_PERMISSIONS, may_record=True))
            await until(lambda: host.member.permissions.may_record, "the host sees it allowed")
            await host.member.send(Recording(host.member_id, True))
            await until(lambda: len([r for r in got(ann, Recording) if r.active]) == 2, "again")  # type: ignore[attr-defined]
            await ann.member.send(replace(DEFAULT_PERMISSIONS, may_record=False))
            await until(
                lambda: [r.active for r in got(host, Recording)][-1:] == [False],  # type: ignore[attr-defined]
                "stopped by the presenter",
            )
            assert host.member.recording is None
            await until(
                lambda: (
                    records_of(shared_server, m.created, RecordKind.RECORDING).count(
                        f"{host.member_id} state=off"
                    )
                    == 2
                ),
                "both stops recorded",
            )

    run_async(scenario())


def test_a_recording_stops_when_its_host_is_no_host_or_leaves(
    shared_server: LiveServer, open_meeting: OpenMeeting
) -> None:
    async def scenario() -> None:
        async with open_meeting() as m:
            host = await m.host()
            ben = await m.guest("Ben")
            await ben.keys_for(host)
            await host.member.send(RoleChange(ben.member_id, Role.HOST))
            await until(lambda: host.member.roles.get(ben.member_id) is Role.HOST, "Ben hosts")
            await ben.member.send(Recording(ben.member_id, True))
            await until(lambda: told(host, ben.member_id, True), "Ben records")
            await host.member.send(RoleChange(ben.member_id, Role.PARTICIPANT))
            await until(lambda: told(host, ben.member_id, False), "no host, no recording")
            await host.member.send(RoleChange(ben.member_id, Role.HOST))
            await until(lambda: ben.member.is_host, "Ben hosts again")
            await ben.member.send(Recording(ben.member_id, True))
            await until(lambda: host.member.recording == ben.member_id, "Ben records again")
            await ben.close()
            await until(lambda: host.member.recording is None, "Ben left: it stopped")
            assert told(host, ben.member_id, False)

    run_async(scenario())
