"""The session machine: each rule, every state against every input, and consent invariants."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from relaydesk import limits
from relaydesk.errors import (
    CloseCode,
    ForbiddenBySite,
    InvalidTransition,
    NotPermitted,
    SessionError,
)
from relaydesk.protocol.frames import EVERYONE, FrameType, Header
from relaydesk.protocol.messages import (
    Admit,
    ChatRule,
    ConsentKind,
    ConsentOutcome,
    ConsentPrompt,
    ConsentResult,
    End,
    EndReason,
    Grant,
    LeaveReason,
    Lock,
    MemberJoined,
    MemberLeft,
    Permissions,
    Recording,
    Revoke,
    RevokeReason,
    Role,
    RoleChange,
    RosterEntry,
    Waiting,
    WaitReason,
)
from relaydesk.protocol.session import (
    ControlSlot,
    Notice,
    Phase,
    PresentSlot,
    Seat,
    Session,
    check_site_rules,
)
from relaydesk.protocol.tickets import TicketRule

HOST, ALICE, BOB = 1, 2, 3
UID = bytes(16)


def header(kind: FrameType, sender: int, target: int = EVERYONE) -> Header:
    return Header(kind, UID, 1, sender, target, 1)


def routed(session: Session, kind: FrameType, sender: int, target: int = EVERYONE) -> bool:
    try:
        session.check_route(header(kind, sender, target))
    except NotPermitted:
        return False
    return True


def messages(notices: list[Notice], to: int | None = None) -> list[object]:
    return [n.message for n in notices if to is None or n.to == to]


@pytest.fixture
def session() -> Session:
    s = Session()
    s.join(HOST, Role.HOST, b"host-ticket")
    s.join(ALICE, Role.PARTICIPANT, b"alice-ticket")
    s.join(BOB, Role.PARTICIPANT, b"bob-ticket")
    s.ask_to_present(HOST, HOST, now=0)
    return s


def alice_presents(s: Session) -> None:
    s.ask_to_present(HOST, ALICE, now=0)
    s.answer(ALICE, ConsentKind.PRESENT, True)


def bob_controls_host(s: Session) -> None:
    s.request_control(BOB, now=0)
    s.answer(HOST, ConsentKind.CONTROL, True)


# Presenting ---------------------------------------------------------------------------


def test_host_starts_presenting_by_asking_itself(session: Session) -> None:
    assert session.presenter == HOST
    assert routed(session, FrameType.SCREEN_UPDATE, HOST)
    assert not routed(session, FrameType.SCREEN_UPDATE, ALICE)


SCREEN_TYPES = (FrameType.SCREEN_UPDATE, FrameType.CURSOR, FrameType.SHARE_STATE)


def test_only_the_presenter_says_what_it_shares(session: Session) -> None:
    """SHARE_STATE (paused, hidden, masked) is routed like the screen itself: from the
    presenter, to everyone or to one viewer, and from nobody else."""
    assert routed(session, FrameType.SHARE_STATE, HOST)
    assert routed(session, FrameType.SHARE_STATE, HOST, ALICE)  # a newcomer told alone
    assert not routed(session, FrameType.SHARE_STATE, ALICE)
    assert not routed(session, FrameType.SHARE_STATE, BOB, ALICE)
    alice_presents(session)
    assert routed(session, FrameType.SHARE_STATE, ALICE)
    assert not routed(session, FrameType.SHARE_STATE, HOST)
    session.stop_presenting(ALICE)
    assert not any(routed(session, kind, m) for kind in SCREEN_TYPES for m in (HOST, ALICE, BOB))


def test_participant_is_prompted_and_presents_only_after_yes(session: Session) -> None:
    notices = session.ask_to_present(HOST, ALICE, now=0)
    assert notices == [Notice(ALICE, ConsentPrompt(ConsentKind.PRESENT, HOST))]
    assert session.presenter == HOST
    assert not routed(session, FrameType.SCREEN_UPDATE, ALICE)
    notices = session.answer(ALICE, ConsentKind.PRESENT, True)
    assert Grant(ConsentKind.PRESENT, ALICE) in messages(notices, EVERYONE)
    outcome = ConsentOutcome(ConsentKind.PRESENT, HOST, ALICE, ConsentResult.GRANTED)
    assert outcome in messages(notices, HOST)
    assert session.presenter == ALICE
    assert routed(session, FrameType.SCREEN_UPDATE, ALICE)
    assert not routed(session, FrameType.SCREEN_UPDATE, HOST)


def test_denial_keeps_the_current_presenter(session: Session) -> None:
    session.ask_to_present(HOST, ALICE, now=0)
    notices = session.answer(ALICE, ConsentKind.PRESENT, False)
    outcome = ConsentOutcome(ConsentKind.PRESENT, HOST, ALICE, ConsentResult.DENIED)
    assert messages(notices) == [outcome, outcome]
    assert session.presenter == HOST
    assert session.present_slot is PresentSlot.IDLE


def test_unanswered_prompt_times_out_as_no(session: Session) -> None:
    session.ask_to_present(HOST, ALICE, now=100)
    assert session.next_deadline == 100 + limits.CONSENT_TIMEOUT_SECONDS
    assert session.expire(now=100 + limits.CONSENT_TIMEOUT_SECONDS - 0.001) == []
    notices = session.expire(now=100 + limits.CONSENT_TIMEOUT_SECONDS)
    assert messages(notices, ALICE) == [
        ConsentOutcome(ConsentKind.PRESENT, HOST, ALICE, ConsentResult.TIMED_OUT)
    ]
    assert session.presenter == HOST
    with pytest.raises(InvalidTransition):
        session.answer(ALICE, ConsentKind.PRESENT, True)  # too late
    assert session.presenter == HOST


def test_only_the_person_asked_answers(session: Session) -> None:
    session.ask_to_present(HOST, ALICE, now=0)
    with pytest.raises(NotPermitted):
        session.answer(BOB, ConsentKind.PRESENT, True)
    with pytest.raises(NotPermitted):
        session.answer(HOST, ConsentKind.PRESENT, True)
    assert session.presenter == HOST


def test_host_takes_presenting_back_without_asking(session: Session) -> None:
    alice_presents(session)
    notices = session.ask_to_present(HOST, HOST, now=0)
    assert not any(isinstance(m, ConsentPrompt) for m in messages(notices))
    assert session.presenter == HOST


def test_host_must_agree_when_the_presenter_hands_back(session: Session) -> None:
    alice_presents(session)
    notices = session.ask_to_present(ALICE, HOST, now=0)
    assert notices == [Notice(HOST, ConsentPrompt(ConsentKind.PRESENT, ALICE))]
    assert session.presenter == ALICE
    session.answer(HOST, ConsentKind.PRESENT, True)
    assert session.presenter == HOST


def test_participants_cannot_switch_the_viewing_direction(session: Session) -> None:
    with pytest.raises(NotPermitted):
        session.ask_to_present(ALICE, BOB, now=0)
    with pytest.raises(NotPermitted):
        session.ask_to_present(ALICE, ALICE, now=0)
    alice_presents(session)
    with pytest.raises(NotPermitted):
        session.ask_to_present(BOB, BOB, now=0)
    with pytest.raises(InvalidTransition):
        session.ask_to_present(ALICE, ALICE, now=0)  # already presenting


def test_host_or_presenter_stops_the_share(session: Session) -> None:
    alice_presents(session)
    with pytest.raises(NotPermitted):
        session.stop_presenting(BOB)
    notices = session.stop_presenting(ALICE)
    assert messages(notices) == [Revoke(ConsentKind.PRESENT, ALICE, RevokeReason.BY_PRESENTER)]
    assert session.presenter is None
    assert not routed(session, FrameType.SCREEN_UPDATE, ALICE)


# Remote control -----------------------------------------------------------------------


def test_control_needs_the_presenters_yes(session: Session) -> None:
    notices = session.request_control(BOB, now=0)
    assert notices == [Notice(HOST, ConsentPrompt(ConsentKind.CONTROL, BOB))]
    assert not routed(session, FrameType.INPUT_EVENT, BOB, HOST)
    notices = session.answer(HOST, ConsentKind.CONTROL, True)
    assert Grant(ConsentKind.CONTROL, BOB) in messages(notices, EVERYONE)
    assert session.control_holder == BOB
    assert routed(session, FrameType.INPUT_EVENT, BOB, HOST)


def test_input_only_from_the_holder_and_only_to_the_presenter(session: Session) -> None:
    bob_controls_host(session)
    assert not routed(session, FrameType.INPUT_EVENT, ALICE, HOST)
    assert not routed(session, FrameType.INPUT_EVENT, BOB, ALICE)
    assert not routed(session, FrameType.INPUT_EVENT, BOB, EVERYONE)


def test_revoke_is_immediate_and_a_new_request_needs_new_consent(session: Session) -> None:
    bob_controls_host(session)
    notices = session.revoke_control(HOST)
    assert messages(notices) == [Revoke(ConsentKind.CONTROL, BOB, RevokeReason.BY_PRESENTER)]
    assert not routed(session, FrameType.INPUT_EVENT, BOB, HOST)
    session.request_control(BOB, now=0)
    assert session.control_slot is ControlSlot.REQUESTED
    assert not routed(session, FrameType.INPUT_EVENT, BOB, HOST)


def test_revoke_denies_a_waiting_request(session: Session) -> None:
    session.request_control(BOB, now=0)
    notices = session.revoke_control(HOST)
    assert ConsentOutcome(ConsentKind.CONTROL, BOB, HOST, ConsentResult.DENIED) in messages(
        notices, BOB
    )
    with pytest.raises(InvalidTransition):
        session.answer(HOST, ConsentKind.CONTROL, True)
    assert session.control_holder is None


def test_holder_may_give_control_back_but_others_cannot_revoke(session: Session) -> None:
    bob_controls_host(session)
    with pytest.raises(NotPermitted):
        session.revoke_control(ALICE)
    notices = session.revoke_control(BOB)
    assert messages(notices) == [Revoke(ConsentKind.CONTROL, BOB, RevokeReason.RELINQUISHED)]


def test_control_ends_when_the_presenter_stops_or_changes(session: Session) -> None:
    bob_controls_host(session)
    session.stop_presenting(HOST)
    assert session.control_holder is None
    session.ask_to_present(HOST, HOST, now=0)
    bob_controls_host(session)
    alice_presents(session)
    assert session.control_holder is None
    assert not routed(session, FrameType.INPUT_EVENT, BOB, ALICE)


def test_nobody_to_control_and_no_self_control(session: Session) -> None:
    with pytest.raises(InvalidTransition):
        session.request_control(HOST, now=0)
    session.stop_presenting(HOST)
    with pytest.raises(InvalidTransition):
        session.request_control(BOB, now=0)


def test_leaving_holder_and_presenter_release_everything(session: Session) -> None:
    bob_controls_host(session)
    notices = session.leave(BOB)
    assert Revoke(ConsentKind.CONTROL, BOB, RevokeReason.LEFT) in messages(notices)
    bob_again = 4
    session.join(bob_again, Role.PARTICIPANT, b"t")
    session.request_control(bob_again, now=0)
    session.answer(HOST, ConsentKind.CONTROL, True)
    notices = session.leave(HOST)
    assert session.presenter is None and session.control_holder is None
    assert Revoke(ConsentKind.PRESENT, HOST, RevokeReason.LEFT) in messages(notices)


def test_a_leaving_asker_cancels_the_prompt(session: Session) -> None:
    session.request_control(BOB, now=0)
    notices = session.leave(BOB)
    assert ConsentOutcome(ConsentKind.CONTROL, BOB, HOST, ConsentResult.CANCELLED) in messages(
        notices, HOST
    )
    assert session.control_slot is ControlSlot.FREE


# Membership, lock, expel, end ---------------------------------------------------------


def test_lock_keeps_participants_out_but_not_hosts(session: Session) -> None:
    with pytest.raises(NotPermitted):
        session.set_lock(ALICE, True)
    session.set_lock(HOST, True)
    with pytest.raises(NotPermitted):
        session.join(10, Role.PARTICIPANT, b"t")
    session.join(11, Role.HOST, b"t")
    session.set_lock(HOST, False)
    session.join(10, Role.PARTICIPANT, b"t")


def test_only_hosts_expel(session: Session) -> None:
    with pytest.raises(NotPermitted):
        session.expel(ALICE, BOB)
    with pytest.raises(NotPermitted):
        session.expel(HOST, HOST)
    notices = session.expel(HOST, BOB)
    assert messages(notices) == [MemberLeft(BOB, LeaveReason.EXPELLED)]
    assert BOB not in session.members
    assert not routed(session, FrameType.CHAT, BOB)


def test_roles_change_but_one_host_remains(session: Session) -> None:
    session.set_role(HOST, ALICE, Role.HOST)
    session.set_role(ALICE, HOST, Role.PARTICIPANT)
    with pytest.raises(NotPermitted):
        session.set_role(ALICE, ALICE, Role.PARTICIPANT)
    with pytest.raises(NotPermitted):
        session.set_role(HOST, BOB, Role.HOST)  # no longer a host


def test_end_by_host_or_presenter_stops_everything(session: Session) -> None:
    with pytest.raises(NotPermitted):
        session.end(BOB)
    alice_presents(session)
    notices = session.end(ALICE)
    assert messages(notices)[-1] == End(EndReason.ENDED_BY_PRESENTER)
    assert session.phase is Phase.ENDED and session.presenter is None
    assert not routed(session, FrameType.CHAT, HOST)
    with pytest.raises(InvalidTransition):
        session.ask_to_present(HOST, HOST, now=0)
    with pytest.raises(InvalidTransition):
        session.join(9, Role.HOST, b"t")


def test_before_a_host_joins_members_only_chat() -> None:
    s = Session()
    s.join(ALICE, Role.PARTICIPANT, b"a")
    s.join(BOB, Role.PARTICIPANT, b"b")
    assert s.leader == ALICE
    assert routed(s, FrameType.CHAT, ALICE)
    assert routed(s, FrameType.KEY_COMMIT, ALICE)
    assert not routed(s, FrameType.KEY_COMMIT, BOB)
    assert not routed(s, FrameType.FILE_CHUNK, ALICE, BOB)
    assert not routed(s, FrameType.ANNOTATION, ALICE)
    s.join(HOST + 10, Role.HOST, b"h")
    assert s.leader == HOST + 10
    assert routed(s, FrameType.FILE_CHUNK, ALICE, BOB)


def test_control_frames_and_bad_targets_are_not_forwarded(session: Session) -> None:
    assert not routed(session, FrameType.HELLO, ALICE)
    assert not routed(session, FrameType.CHAT, ALICE, 99)
    assert not routed(session, FrameType.CHAT, ALICE, ALICE)
    assert not routed(session, FrameType.CHAT, 99)
    assert routed(session, FrameType.CHAT, ALICE, BOB)
    assert not routed(session, FrameType.FILE_CHUNK, ALICE, EVERYONE)


# The lobby, join before host, two-party, expel and host handover -----------------------

LOBBY = TicketRule.WAIT_IN_LOBBY
CAROL = 4


def entry(member_id: int, role: Role = Role.PARTICIPANT) -> RosterEntry:
    return RosterEntry(member_id, role, b"t%d" % member_id)


def join(
    s: Session, member_id: int, role: Role = Role.PARTICIPANT, rules: TicketRule = LOBBY
) -> list[Notice]:
    return s.join(member_id, role, b"t%d" % member_id, rules)


def test_a_lobby_member_waits_and_is_no_member(session: Session) -> None:
    notices = join(session, CAROL)
    waiting = Waiting(entry(CAROL), WaitReason.APPROVAL)
    assert notices == [Notice(CAROL, waiting), Notice(EVERYONE, waiting)]
    assert CAROL not in session.members and CAROL in session.lobby
    assert session.lobby_entries() == (entry(CAROL),)
    assert CAROL not in [e.member_id for e in session.roster_entries()]
    # It can send nothing and be sent nothing: it is in no routing decision.
    assert not routed(session, FrameType.CHAT, CAROL)
    assert not routed(session, FrameType.CHAT, HOST, CAROL)
    assert session.leader == HOST


def test_a_host_admits_from_the_lobby(session: Session) -> None:
    join(session, CAROL)
    with pytest.raises(NotPermitted):
        session.admit(ALICE, CAROL, True)
    notices = session.admit(HOST, CAROL, True)
    assert messages(notices) == [Admit(CAROL, True), MemberJoined(entry(CAROL))]
    assert CAROL in session.members and not session.lobby
    assert routed(session, FrameType.CHAT, CAROL)
    with pytest.raises(InvalidTransition, match="already in"):
        session.admit(HOST, CAROL, True)


def test_a_refused_member_is_told_and_gone(session: Session) -> None:
    join(session, CAROL)
    notices = session.admit(HOST, CAROL, False)
    assert notices == [Notice(EVERYONE, Admit(CAROL, False)), Notice(CAROL, Admit(CAROL, False))]
    assert CAROL not in session.members and not session.lobby
    with pytest.raises(InvalidTransition):
        session.admit(HOST, CAROL, True)


def test_a_waiting_member_that_leaves_is_announced(session: Session) -> None:
    join(session, CAROL)
    assert messages(session.leave(CAROL)) == [MemberLeft(CAROL, LeaveReason.LEFT)]
    assert not session.lobby


def test_hosts_never_wait_in_the_lobby() -> None:
    s = Session()
    assert messages(join(s, HOST, Role.HOST)) == [MemberJoined(entry(HOST, Role.HOST))]


def test_without_join_before_host_participants_wait_for_a_host() -> None:
    s = Session(TicketRule(0))
    assert messages(join(s, ALICE, rules=TicketRule(0)), ALICE) == [
        Waiting(entry(ALICE), WaitReason.HOST_ABSENT)
    ]
    # Bob also needs a host's yes; until a host is in, he is told he waits for the host.
    assert messages(join(s, BOB), BOB) == [Waiting(entry(BOB), WaitReason.HOST_ABSENT)]
    assert not s.members
    notices = join(s, HOST, Role.HOST)
    assert ALICE in s.members  # only waited for a host: in now
    assert Admit(ALICE, True) in messages(notices)
    assert MemberJoined(entry(ALICE)) in messages(notices)
    assert BOB in s.lobby and s.lobby[BOB].reason is WaitReason.APPROVAL  # waits on for a yes
    assert s.lobby[BOB].seat is Seat.WAITING
    assert Notice(BOB, Waiting(entry(BOB), WaitReason.APPROVAL)) in notices


def test_with_join_before_host_members_are_in_but_only_chat() -> None:
    s = Session(TicketRule.JOIN_BEFORE_HOST)
    join(s, ALICE, rules=TicketRule(0))
    assert ALICE in s.members
    assert s.leader == ALICE  # chat needs keys: the earliest member leads until a host is in


def test_a_two_party_session_admits_two_and_ends_when_one_leaves() -> None:
    s = Session(TicketRule.TWO_PARTY | TicketRule.JOIN_BEFORE_HOST)
    join(s, HOST, Role.HOST, TicketRule(0))
    join(s, ALICE, rules=TicketRule(0))
    with pytest.raises(NotPermitted, match="two-party"):
        join(s, BOB, rules=TicketRule(0))
    assert set(s.members) == {HOST, ALICE}
    notices = s.leave(ALICE)
    assert messages(notices)[-1] == End(EndReason.TWO_PARTY_LEFT)
    assert s.phase is Phase.ENDED


def test_a_two_party_lobby_admits_only_the_second_party() -> None:
    s = Session(TicketRule.TWO_PARTY | TicketRule.JOIN_BEFORE_HOST)
    join(s, HOST, Role.HOST, TicketRule(0))
    join(s, ALICE)
    join(s, BOB)
    s.admit(HOST, ALICE, True)
    with pytest.raises(NotPermitted, match="two-party"):
        s.admit(HOST, BOB, True)
    assert BOB in s.lobby


def test_expelled_members_never_come_back(session: Session) -> None:
    session.expel(HOST, ALICE)
    assert ALICE not in session.members
    with pytest.raises(NotPermitted, match="expelled"):
        session.join(ALICE, Role.PARTICIPANT, b"alice-ticket")
    join(session, CAROL)
    assert messages(session.expel(HOST, CAROL)) == [MemberLeft(CAROL, LeaveReason.EXPELLED)]
    assert not session.lobby
    with pytest.raises(NotPermitted, match="expelled"):
        join(session, CAROL)


def test_waiting_members_cannot_act(session: Session) -> None:
    join(session, CAROL)
    for action in (
        lambda: session.admit(CAROL, CAROL, True),
        lambda: session.expel(CAROL, ALICE),
        lambda: session.set_lock(CAROL, True),
        lambda: session.end(CAROL),
        lambda: session.ask_to_present(CAROL, CAROL, 0),
    ):
        with pytest.raises(SessionError):
            action()


def test_a_locked_session_still_lets_a_host_admit_who_waited(session: Session) -> None:
    join(session, CAROL)
    assert messages(session.set_lock(HOST, True)) == [Lock(True)]
    with pytest.raises(NotPermitted, match="locked"):
        join(session, 9)
    session.admit(HOST, CAROL, True)
    assert CAROL in session.members


def test_the_key_leader_follows_the_host_handover(session: Session) -> None:
    assert session.leader == HOST
    assert messages(session.set_role(HOST, BOB, Role.HOST)) == [RoleChange(BOB, Role.HOST)]
    session.set_role(HOST, HOST, Role.PARTICIPANT)
    assert session.leader == BOB
    assert routed(session, FrameType.KEY_COMMIT, BOB)
    assert not routed(session, FrameType.KEY_COMMIT, HOST)
    with pytest.raises(NotPermitted):
        session.expel(HOST, ALICE)  # no longer a host


# What attendees may do: chat rule, annotators --------------------------------------------


def test_the_chat_rule_decides_who_chats_with_whom(session: Session) -> None:
    alice_presents(session)  # Alice leads (presents), the host leads; Bob is an attendee
    assert routed(session, FrameType.CHAT, BOB) and routed(session, FrameType.CHAT, BOB, ALICE)
    session.set_permissions(ALICE, Permissions(ChatRule.PRESENTER, (), True, False))
    assert not routed(session, FrameType.CHAT, BOB)  # not to everyone
    assert routed(session, FrameType.CHAT, BOB, ALICE)  # privately to the presenter
    assert routed(session, FrameType.CHAT, BOB, HOST)  # and to a host
    assert routed(session, FrameType.CHAT, ALICE) and routed(session, FrameType.CHAT, HOST)
    session.set_permissions(HOST, Permissions(ChatRule.NOBODY, (), True, False))
    assert not routed(session, FrameType.CHAT, BOB, ALICE)
    assert routed(session, FrameType.CHAT, HOST, BOB)  # leaders still reach everyone


def test_only_leaders_set_permissions_and_only_members_annotate(session: Session) -> None:
    alice_presents(session)
    with pytest.raises(NotPermitted, match="only the presenter or a host"):
        session.set_permissions(BOB, Permissions(ChatRule.EVERYONE, (BOB,), True, True))
    with pytest.raises(InvalidTransition, match="not in the session"):
        session.set_permissions(ALICE, Permissions(ChatRule.EVERYONE, (99,), True, True))
    assert not routed(session, FrameType.ANNOTATION, BOB)
    notices = session.set_permissions(ALICE, Permissions(ChatRule.EVERYONE, (BOB,), True, True))
    assert messages(notices) == [Permissions(ChatRule.EVERYONE, (BOB,), True, True)]
    assert routed(session, FrameType.ANNOTATION, BOB)
    assert routed(session, FrameType.ANNOTATION, HOST) and routed(
        session, FrameType.ANNOTATION, ALICE
    )


# Recording (§3.23) ------------------------------------------------------------------------

ALLOW_RECORDING = Permissions(ChatRule.EVERYONE, (), may_save=True, may_record=True)
DENY_RECORDING = Permissions(ChatRule.EVERYONE, (), may_save=True, may_record=False)


def test_only_a_host_records_and_only_itself(session: Session) -> None:
    with pytest.raises(NotPermitted, match="only a host"):
        session.set_recording(ALICE, ALICE, True)
    with pytest.raises(NotPermitted, match="its own client"):
        session.set_recording(HOST, ALICE, True)
    assert session.recorder is None
    notices = session.set_recording(HOST, HOST, True)
    assert notices == [Notice(EVERYONE, Recording(HOST, True))]
    assert session.recorder == HOST
    with pytest.raises(InvalidTransition, match="recording already"):
        session.set_recording(HOST, HOST, True)
    with pytest.raises(NotPermitted, match="the recorder or a host"):
        session.set_recording(ALICE, HOST, False)
    assert messages(session.set_recording(HOST, HOST, False)) == [Recording(HOST, False)]
    with pytest.raises(InvalidTransition, match="not recording"):
        session.set_recording(HOST, HOST, False)


def test_a_presenter_who_is_no_host_decides_whether_it_is_recorded(session: Session) -> None:
    alice_presents(session)  # Alice presents; may_record is off by default
    with pytest.raises(NotPermitted, match="does not allow recording"):
        session.set_recording(HOST, HOST, True)
    session.set_permissions(ALICE, ALLOW_RECORDING)
    session.set_recording(HOST, HOST, True)
    assert session.recorder == HOST
    notices = session.set_permissions(ALICE, DENY_RECORDING)  # she turns it off: it stops
    assert messages(notices) == [DENY_RECORDING, Recording(HOST, False)]
    assert session.recorder is None


def test_a_recording_stops_when_a_presenter_who_forbids_it_starts(session: Session) -> None:
    session.set_recording(HOST, HOST, True)  # the host presents: hosts may record
    session.ask_to_present(HOST, ALICE, now=0)
    notices = session.answer(ALICE, ConsentKind.PRESENT, True)
    assert messages(notices)[-2:] == [Grant(ConsentKind.PRESENT, ALICE), Recording(HOST, False)]
    assert session.recorder is None


def test_a_recording_stops_when_its_recorder_leaves_or_is_no_host(session: Session) -> None:
    session.set_role(HOST, BOB, Role.HOST)
    session.set_recording(BOB, BOB, True)
    notices = session.set_role(HOST, BOB, Role.PARTICIPANT)
    assert messages(notices) == [RoleChange(BOB, Role.PARTICIPANT), Recording(BOB, False)]
    session.set_recording(HOST, HOST, True)
    session.set_role(HOST, BOB, Role.HOST)
    notices = session.set_recording(BOB, HOST, False)  # another host stops it
    assert messages(notices) == [Recording(HOST, False)]
    session.set_recording(BOB, BOB, True)
    assert Recording(BOB, False) in messages(session.leave(BOB))
    assert session.recorder is None


RECORDING_ACTORS = (HOST, ALICE, BOB)


def recording_inputs() -> list[Input]:
    """What can start, stop or end a recording, from every actor."""
    inputs = [Input("expire", lambda s: s.expire(limits.CONSENT_TIMEOUT_SECONDS))]
    for a in RECORDING_ACTORS:
        inputs += [
            Input(f"stop_presenting({a})", lambda s, a=a: s.stop_presenting(a)),
            Input(f"leave({a})", lambda s, a=a: s.leave(a)),
            Input(f"record({a})", lambda s, a=a: s.set_recording(a, a, True)),
            Input(f"allow({a})", lambda s, a=a: s.set_permissions(a, ALLOW_RECORDING)),
            Input(f"deny({a})", lambda s, a=a: s.set_permissions(a, DENY_RECORDING)),
            Input(f"yes({a})", lambda s, a=a: s.answer(a, ConsentKind.PRESENT, True)),
        ]
        for m in RECORDING_ACTORS:
            inputs += [
                Input(f"stop_recording({a},{m})", lambda s, a=a, m=m: s.set_recording(a, m, False)),
                Input(f"ask_to_present({a},{m})", lambda s, a=a, m=m: s.ask_to_present(a, m, 0)),
                Input(f"host({a},{m})", lambda s, a=a, m=m: s.set_role(a, m, Role.HOST)),
                Input(f"demote({a},{m})", lambda s, a=a, m=m: s.set_role(a, m, Role.PARTICIPANT)),
            ]
    return inputs


def test_every_recording_state_against_every_input() -> None:
    """Breadth-first over four steps of whatever starts, stops or ends a recording: a
    recording runs only on a host's client, and only while the presenter allows it; a
    refused input changes nothing; every stop is announced."""
    inputs = recording_inputs()
    frontier: list[tuple[Input, ...]] = [()]
    seen = {signature(replay(()))}
    for _ in range(4):
        next_frontier = []
        for path in frontier:
            for step in inputs:
                s = replay(path)
                before, recorder = signature(s), s.recorder
                try:
                    notices = step.apply(s)
                except SessionError:
                    assert signature(s) == before, f"{step.name} half-applied after {path}"
                    continue
                check_invariants(s)
                if recorder is not None and s.recorder is None and s.is_open:
                    assert Recording(recorder, False) in messages(notices, EVERYONE)
                if signature(s) not in seen:
                    seen.add(signature(s))
                    next_frontier.append((*path, step))
        frontier = next_frontier
    assert len(seen) > 300


# Every state against every input ------------------------------------------------------


def check_invariants(s: Session) -> None:
    assert not set(s.lobby) & set(s.members), "nobody is both waiting and in"
    assert not set(s.expelled) & (set(s.lobby) | set(s.members)), "the expelled stay out"
    assert all(w.seat is Seat.WAITING for w in s.lobby.values())
    assert s.presenter is None or s.presenter in s.members
    assert (s.control_holder is not None) == (s.control_slot is ControlSlot.GRANTED)
    assert (s.pending_control is not None) == (s.control_slot is ControlSlot.REQUESTED)
    assert (s.pending_present is not None) == (s.present_slot is PresentSlot.ASKING)
    if s.control_holder is not None:
        assert s.presenter is not None
        assert s.control_holder in s.members and s.control_holder != s.presenter
    if s.pending_control is not None:
        assert s.pending_control.subject == s.presenter
        assert s.pending_control.asked_by in s.members
    if s.pending_present is not None:
        assert s.pending_present.subject in s.members
        assert s.pending_present.subject != s.presenter
    if s.phase is Phase.ENDED:
        assert s.presenter is s.control_holder is s.pending_present is s.pending_control is None
    if s.recorder is not None and s.phase is Phase.OPEN:
        assert s.is_host(s.recorder), "only a host records"
        assert s.recording_allowed, "a presenter who is no host allowed it"


@dataclass(frozen=True)
class Input:
    name: str
    apply: Callable[[Session], list[Notice]]


ACTORS = (HOST, ALICE, BOB, 4)


def all_inputs() -> list[Input]:
    inputs: list[Input] = []
    for a in ACTORS:
        inputs.append(Input(f"stop_presenting({a})", lambda s, a=a: s.stop_presenting(a)))
        inputs.append(Input(f"request_control({a})", lambda s, a=a: s.request_control(a, 0)))
        inputs.append(Input(f"revoke_control({a})", lambda s, a=a: s.revoke_control(a)))
        inputs.append(Input(f"lock({a})", lambda s, a=a: s.set_lock(a, not s.locked)))
        inputs.append(Input(f"end({a})", lambda s, a=a: s.end(a)))
        inputs.append(Input(f"leave({a})", lambda s, a=a: s.leave(a)))
        inputs.append(Input(f"join({a})", lambda s, a=a: s.join(a, Role.PARTICIPANT, b"t")))
        inputs.append(Input(f"wait({a})", lambda s, a=a: s.join(a, Role.PARTICIPANT, b"t", LOBBY)))
        for kind in ConsentKind:
            for yes in (True, False):
                inputs.append(
                    Input(
                        f"answer({a},{kind.name},{yes})",
                        lambda s, a=a, k=kind, y=yes: s.answer(a, k, y),
                    )
                )
        for m in ACTORS:
            inputs.append(
                Input(f"ask_to_present({a},{m})", lambda s, a=a, m=m: s.ask_to_present(a, m, 0))
            )
            inputs.append(Input(f"expel({a},{m})", lambda s, a=a, m=m: s.expel(a, m)))
            for yes in (True, False):
                inputs.append(
                    Input(f"admit({a},{m},{yes})", lambda s, a=a, m=m, y=yes: s.admit(a, m, y))
                )
            for role in Role:
                inputs.append(
                    Input(
                        f"set_role({a},{m},{role.name})",
                        lambda s, a=a, m=m, r=role: s.set_role(a, m, r),
                    )
                )
    inputs.append(Input("expire", lambda s: s.expire(limits.CONSENT_TIMEOUT_SECONDS)))
    return inputs


def signature(s: Session) -> tuple[object, ...]:
    return (
        s.phase,
        s.present_slot,
        s.control_slot,
        tuple(sorted((m, v.role) for m, v in s.members.items())),
        s.presenter,
        s.control_holder,
        s.locked,
        tuple(sorted(s.lobby)),
        tuple(sorted(s.expelled)),
        s.pending_present and (s.pending_present.asked_by, s.pending_present.subject),
        s.pending_control and (s.pending_control.asked_by, s.pending_control.subject),
        s.recorder,
        s.permissions.may_record,
    )


def replay(path: tuple[Input, ...]) -> Session:
    s = Session()
    s.join(HOST, Role.HOST, b"h")
    s.join(ALICE, Role.PARTICIPANT, b"a")
    s.join(BOB, Role.PARTICIPANT, b"b")
    for step in path:
        step.apply(s)
    return s


def test_every_reachable_state_against_every_input() -> None:
    """Breadth-first over the states reachable in five steps from a three-member
    session; each input either succeeds or raises a SessionError, and the invariants
    hold afterwards. A refused input changes nothing."""
    inputs = all_inputs()
    frontier: list[tuple[Input, ...]] = [()]
    seen = {signature(replay(()))}
    transitions = 0
    for _ in range(5):
        next_frontier = []
        for path in frontier:
            for step in inputs:
                s = replay(path)
                before = signature(s)
                try:
                    step.apply(s)
                except SessionError:
                    assert signature(s) == before, f"{step.name} half-applied after {path}"
                    continue
                transitions += 1
                check_invariants(s)
                if signature(s) not in seen:
                    seen.add(signature(s))
                    next_frontier.append((*path, step))
        frontier = next_frontier
    assert len(seen) > 2000 and transitions > 20000


# Consent invariants over random sequences ---------------------------------------------


class ConsentMachine(RuleBasedStateMachine):
    """Random requests, answers, revokes, leaves, role changes and timeouts. Whenever the
    presenter or the control holder changes to someone, the step that did it must be that
    person's (or the presenter's) own "yes"."""

    def __init__(self) -> None:
        super().__init__()
        self.session = Session()
        self.next_id = 1
        self.now = 0.0
        for role in (Role.HOST, Role.PARTICIPANT, Role.PARTICIPANT):
            self.join_member(role)
        self.granted_by: tuple[int, int] | None = None  # (presenter, holder) of the live grant

    def join_member(self, role: Role) -> None:
        self.session.join(self.next_id, role, b"t")
        self.next_id += 1

    def members(self) -> list[int]:
        return sorted(self.session.members)

    def attempt(
        self,
        action: Callable[[], list[Notice]],
        consents_to_present: int | None = None,
        consents_to_control: tuple[int, int] | None = None,
    ) -> bool:
        presenter, holder = self.session.presenter, self.session.control_holder
        try:
            action()
        except SessionError:
            return False
        new_presenter, new_holder = self.session.presenter, self.session.control_holder
        if new_presenter is not None and new_presenter != presenter:
            assert new_presenter == consents_to_present, "presenting without consent"
        if new_holder is not None and new_holder != holder:
            assert (new_presenter, new_holder) == consents_to_control, "control without consent"
            self.granted_by = consents_to_control
        if new_holder is None:
            self.granted_by = None
        return True

    def pick(self, data: st.DataObject) -> int:
        return data.draw(st.sampled_from(self.members()))

    @rule(data=st.data())
    def ask_to_present(self, data: st.DataObject) -> None:
        if self.members():
            actor, subject = self.pick(data), self.pick(data)
            # Only a host naming itself consents by asking.
            own = actor if actor == subject and self.session.is_host(actor) else None
            self.attempt(lambda: self.session.ask_to_present(actor, subject, self.now), own)

    @rule(data=st.data(), kind=st.sampled_from(ConsentKind), yes=st.booleans())
    def answer(self, data: st.DataObject, kind: ConsentKind, yes: bool) -> None:
        if not self.members():
            return
        actor = self.pick(data)
        pending = self.session.pending_control
        control = (actor, pending.asked_by) if yes and pending else None
        present = actor if yes and kind is ConsentKind.PRESENT else None
        self.attempt(lambda: self.session.answer(actor, kind, yes), present, control)

    @rule(data=st.data())
    def request_control(self, data: st.DataObject) -> None:
        if self.members():
            actor = self.pick(data)
            self.attempt(lambda: self.session.request_control(actor, self.now))

    @rule(data=st.data())
    def revoke(self, data: st.DataObject) -> None:
        if not self.members():
            return
        actor = self.pick(data)
        holder = self.session.control_holder
        if self.attempt(lambda: self.session.revoke_control(actor)):
            # Revoke always wins: no holder at once, and the old holder's input is refused.
            assert self.session.control_holder is None
            presenter = self.session.presenter
            if holder is not None and presenter is not None:
                assert not routed(self.session, FrameType.INPUT_EVENT, holder, presenter)

    @rule(data=st.data())
    def stop_presenting(self, data: st.DataObject) -> None:
        if self.members():
            actor = self.pick(data)
            self.attempt(lambda: self.session.stop_presenting(actor))

    @rule(data=st.data())
    def leave(self, data: st.DataObject) -> None:
        if self.members():
            member = self.pick(data)
            self.attempt(lambda: self.session.leave(member))

    @rule(role=st.sampled_from(Role))
    def join(self, role: Role) -> None:
        if self.session.phase is Phase.OPEN and not self.session.locked:
            self.attempt(lambda: self.session.join(self.next_id, role, b"t"))
            self.next_id += 1

    @rule(data=st.data(), role=st.sampled_from(Role))
    def set_role(self, data: st.DataObject, role: Role) -> None:
        if self.members():
            actor, member = self.pick(data), self.pick(data)
            self.attempt(lambda: self.session.set_role(actor, member, role))

    @rule(seconds=st.floats(0, 2 * limits.CONSENT_TIMEOUT_SECONDS))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds
        self.attempt(lambda: self.session.expire(self.now))

    @invariant()
    def structure(self) -> None:
        check_invariants(self.session)

    @invariant()
    def only_the_presenter_sends_the_screen(self) -> None:
        for member in self.members():
            allowed = (
                member == self.session.presenter
                and self.session.phase is Phase.OPEN
                and any(self.session.is_host(m) for m in self.members())  # else chat only
            )
            for kind in SCREEN_TYPES:
                assert routed(self.session, kind, member) == allowed

    @invariant()
    def no_input_without_a_live_grant(self) -> None:
        presenter = self.session.presenter
        for member in self.members():
            if presenter is not None and routed(
                self.session, FrameType.INPUT_EVENT, member, presenter
            ):
                assert self.granted_by == (presenter, member)


ConsentMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
test_consent_machine = ConsentMachine.TestCase


FILE_TYPES = (
    FrameType.FILE_OFFER, FrameType.FILE_ANSWER, FrameType.FILE_CHUNK, FrameType.FILE_END
)  # fmt: skip


@pytest.mark.parametrize("kind", FILE_TYPES)
def test_files_go_to_one_member_never_to_everyone(session: Session, kind: FrameType) -> None:
    assert routed(session, kind, ALICE, BOB)
    assert routed(session, kind, BOB, ALICE)
    assert not routed(session, kind, ALICE)  # a broadcast
    assert not routed(session, kind, ALICE, ALICE)
    assert not routed(session, kind, ALICE, 99)


# The site policy's ticket bits (docs/protocol.md §7.2) -----------------------------------

NO_SHARING, NO_CONTROL = TicketRule.NO_SHARING, TicketRule.NO_CONTROL


def policed(rules: TicketRule) -> Session:
    """A host and Alice whose tickets both carry ``rules`` (as a site policy makes them)."""
    s = Session()
    s.join(HOST, Role.HOST, b"host-ticket", rules)
    s.join(ALICE, Role.PARTICIPANT, b"alice-ticket", rules)
    return s


def test_no_sharing_refuses_every_way_to_present() -> None:
    s = policed(NO_SHARING)
    for actor, subject in ((HOST, HOST), (HOST, ALICE)):
        with pytest.raises(ForbiddenBySite) as refused:
            s.ask_to_present(actor, subject, now=0)
        assert refused.value.close_code == CloseCode.SITE_POLICY == 4012
        assert "desktop sharing is turned off" in str(refused.value)
    assert s.presenter is None and s.present_slot is PresentSlot.IDLE
    assert s.pending_present is None


def test_no_control_refuses_the_request_but_not_presenting() -> None:
    s = policed(NO_CONTROL)
    s.ask_to_present(HOST, HOST, now=0)
    assert s.presenter == HOST
    with pytest.raises(ForbiddenBySite, match="remote control is turned off"):
        s.request_control(ALICE, now=0)
    assert s.control_slot is ControlSlot.FREE and s.pending_control is None


def test_a_presenter_whose_ticket_forbids_control_is_never_asked() -> None:
    s = Session()
    s.join(HOST, Role.HOST, b"host-ticket")
    s.join(ALICE, Role.PARTICIPANT, b"alice-ticket", NO_CONTROL)
    alice_presents(s)
    with pytest.raises(ForbiddenBySite):
        s.request_control(HOST, now=0)
    assert s.pending_control is None


def test_without_the_bits_nothing_changes() -> None:
    s = policed(TicketRule(0))
    s.ask_to_present(HOST, ALICE, now=0)
    s.answer(ALICE, ConsentKind.PRESENT, True)
    s.request_control(HOST, now=0)
    assert s.pending_control is not None


def test_screen_and_input_frames_of_a_forbidden_sender_are_refused() -> None:
    for kind in (FrameType.SCREEN_UPDATE, FrameType.CURSOR, FrameType.SHARE_STATE):
        with pytest.raises(ForbiddenBySite):
            check_site_rules(NO_SHARING, kind)
        check_site_rules(NO_CONTROL, kind)
    with pytest.raises(ForbiddenBySite):
        check_site_rules(NO_CONTROL, FrameType.INPUT_EVENT)
    check_site_rules(NO_SHARING, FrameType.INPUT_EVENT)
    for kind in (FrameType.CHAT, FrameType.ANNOTATION, FrameType.FILE_CHUNK):
        check_site_rules(NO_SHARING | NO_CONTROL, kind)


def test_a_fresh_ticket_that_forbids_sharing_stops_its_presenter(session: Session) -> None:
    alice_presents(session)
    bob_controls = session.request_control(BOB, now=0)
    assert bob_controls
    notices = session.renew_site_rules(ALICE, NO_SHARING)
    assert session.presenter is None
    assert Revoke(ConsentKind.PRESENT, ALICE, RevokeReason.SITE_POLICY) in messages(notices)
    with pytest.raises(ForbiddenBySite):
        session.ask_to_present(HOST, ALICE, now=0)


def test_a_fresh_ticket_that_forbids_control_ends_the_grant(session: Session) -> None:
    bob_controls_host(session)
    notices = session.renew_site_rules(BOB, NO_CONTROL)
    assert session.control_holder is None and session.control_slot is ControlSlot.FREE
    assert Revoke(ConsentKind.CONTROL, BOB, RevokeReason.SITE_POLICY) in messages(notices)
    assert session.presenter == HOST  # presenting goes on
    assert session.renew_site_rules(ALICE, TicketRule(0)) == []
