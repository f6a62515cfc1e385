"""The session's rules: members, the lobby, roles, who presents, who controls, lock and
end (docs/protocol.md §5 and §8).

Four small machines, each a transition table (rule: every state change happens through
one of these tables):

- ``Phase``: OPEN -> ENDED.
- ``Seat``: a joiner's place: WAITING in the lobby -> IN (admitted) or OUT (refused).
  A member admitted straight away never waits.
- ``PresentSlot``: whether someone is being asked to present. Who presents now is data
  beside it; asking never interrupts the current presenter.
- ``ControlSlot``: FREE -> REQUESTED -> GRANTED, and back to FREE on denial, timeout,
  revoke or anything that makes the grant moot.

Who records (``recorder``) is data too, checked after every change that can end it:
only a host records (on its own client), and only while the presenter is a host, nobody,
or a presenter whose ``may_record`` allows it (§3.23).

The session's own rules come from its tickets (``TicketRule``): TWO_PARTY (two members
at most, ever; when one leaves it ends) and JOIN_BEFORE_HOST (without it, participants
wait until a host is in). WAIT_IN_LOBBY is a member's: it waits until a host admits it.
A waiting member is no member: it is in no roster or epoch and is sent nothing but what
is addressed to it.

``Session`` checks who may do what (``NotPermitted``) and drives the tables
(``InvalidTransition`` when the table has no entry). It is role-agnostic: the relay runs
it to enforce routing; clients can run it to mirror the session. Each call returns the
``Notice``s to deliver. Time comes in as ``now``; consent prompts expire through
``expire(now)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto
from typing import TypeVar

from relaydesk import limits
from relaydesk.errors import ForbiddenBySite, InvalidTransition, NotPermitted
from relaydesk.protocol.frames import EVERYONE, FrameType, Header
from relaydesk.protocol.messages import (
    DEFAULT_PERMISSIONS,
    Admit,
    ChatRule,
    ConsentKind,
    ConsentOutcome,
    ConsentPrompt,
    ConsentResult,
    ControlMessage,
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
from relaydesk.protocol.tickets import NO_RULES, SITE_RULES, TicketRule

CHAT_REFUSED = {  # why a chat line is refused, by the rule that refused it
    ChatRule.PRESENTER: "the presenter lets attendees chat only privately with the "
    "presenter or a host",
    ChatRule.NOBODY: "the presenter has turned chat off for attendees",
}


SHARING_OFF = "desktop sharing is turned off on this server by its administrator"
CONTROL_OFF = "remote control is turned off on this server by its administrator"


# What only the presenter sends, and a member whose ticket has NO_SHARING never (§5.3).
SCREEN_FRAMES = frozenset(
    {FrameType.SCREEN_UPDATE, FrameType.VIDEO_FRAME, FrameType.CURSOR, FrameType.SHARE_STATE}
)


def check_site_rules(rules: TicketRule, kind: FrameType) -> None:
    """The site policy's bits of the sender's ticket, for one frame (§5.3, §7.2): a
    member with NO_SHARING sends no screen, one with NO_CONTROL no input.
    ForbiddenBySite otherwise."""
    if kind in SCREEN_FRAMES and TicketRule.NO_SHARING in rules:
        raise ForbiddenBySite(SHARING_OFF)
    if kind is FrameType.INPUT_EVENT and TicketRule.NO_CONTROL in rules:
        raise ForbiddenBySite(CONTROL_OFF)


def chat_allowed(rule: ChatRule, sender_leads: bool, target: int, target_leads: bool) -> bool:
    """The chat rule (§5.5): presenters and hosts always chat; under EVERYONE anyone
    chats with anyone; under PRESENTER attendees only privately with a presenter or
    host; under NOBODY attendees not at all. The JavaScript twin is chatAllowed in
    js/protocol/rules.js; tests/vectors/chat_rules.json checks both."""
    if sender_leads or rule is ChatRule.EVERYONE:
        return True
    return rule is ChatRule.PRESENTER and target != EVERYONE and target_leads


# The machines -----------------------------------------------------------------


class Phase(Enum):
    OPEN = auto()
    ENDED = auto()


class Seat(Enum):
    WAITING = auto()  # in the lobby: no member yet
    IN = auto()  # admitted: a member
    OUT = auto()  # refused entry


class PresentSlot(Enum):
    IDLE = auto()  # nobody is being asked to present
    ASKING = auto()  # a member is being asked; the current presenter (if any) goes on


class ControlSlot(Enum):
    FREE = auto()
    REQUESTED = auto()  # the presenter is being asked
    GRANTED = auto()  # input of the holder reaches the presenter


class Trigger(Enum):
    ASK = auto()
    YES = auto()
    NO = auto()  # denied, timed out, cancelled
    REVOKE = auto()  # control ends; always allowed, idempotent
    END = auto()


PHASE_TABLE: dict[tuple[Phase, Trigger], Phase] = {
    (Phase.OPEN, Trigger.END): Phase.ENDED,
}

SEAT_TABLE: dict[tuple[Seat, Trigger], Seat] = {
    (Seat.WAITING, Trigger.YES): Seat.IN,
    (Seat.WAITING, Trigger.NO): Seat.OUT,
}

PRESENT_TABLE: dict[tuple[PresentSlot, Trigger], PresentSlot] = {
    (PresentSlot.IDLE, Trigger.ASK): PresentSlot.ASKING,
    (PresentSlot.ASKING, Trigger.YES): PresentSlot.IDLE,
    (PresentSlot.ASKING, Trigger.NO): PresentSlot.IDLE,
}

CONTROL_TABLE: dict[tuple[ControlSlot, Trigger], ControlSlot] = {
    (ControlSlot.FREE, Trigger.ASK): ControlSlot.REQUESTED,
    (ControlSlot.REQUESTED, Trigger.YES): ControlSlot.GRANTED,
    (ControlSlot.REQUESTED, Trigger.NO): ControlSlot.FREE,
    # Revoke always wins and is idempotent. A waiting request is first denied (NO).
    (ControlSlot.FREE, Trigger.REVOKE): ControlSlot.FREE,
    (ControlSlot.GRANTED, Trigger.REVOKE): ControlSlot.FREE,
}

_WHY_NOT = {
    (PresentSlot.ASKING, Trigger.ASK): "someone is already being asked to present",
    (PresentSlot.IDLE, Trigger.YES): "nobody was asked to present",
    (ControlSlot.REQUESTED, Trigger.ASK): "a control request is already waiting",
    (ControlSlot.GRANTED, Trigger.ASK): "someone already has remote control",
    (ControlSlot.FREE, Trigger.YES): "nobody asked for remote control",
    (ControlSlot.GRANTED, Trigger.YES): "remote control is already granted",
    (Phase.ENDED, Trigger.END): "the session has ended",
    (Seat.IN, Trigger.YES): "that member is already in",
    (Seat.IN, Trigger.NO): "that member is already in: expel them instead",
}


_S = TypeVar("_S", Phase, Seat, PresentSlot, ControlSlot)


def _step(table: dict[tuple[_S, Trigger], _S], state: _S, trigger: Trigger) -> _S:
    try:
        return table[(state, trigger)]
    except KeyError:
        reason = _WHY_NOT.get((state, trigger), f"{trigger.name} is not possible now")
        raise InvalidTransition(reason) from None


# Inputs and outputs -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pending:
    """A consent prompt waiting for the person concerned (``subject``)."""

    kind: ConsentKind
    asked_by: int
    subject: int
    deadline: float


@dataclass(frozen=True, slots=True)
class Notice:
    """A message the session sends: to one member or to ``EVERYONE``."""

    to: int
    message: ControlMessage


@dataclass(frozen=True, slots=True)
class Member:
    member_id: int
    role: Role  # the current role: the lowest host is the key leader (§6.1)
    ticket: bytes
    site_rules: TicketRule = NO_RULES  # NO_SHARING, NO_CONTROL of its ticket (§7.2)

    @property
    def entry(self) -> RosterEntry:
        return RosterEntry(self.member_id, self.role, self.ticket)


@dataclass(slots=True)
class Waiter:
    """A joiner in the lobby and what it waits for (one reason or both)."""

    member: Member
    reasons: set[WaitReason]
    seat: Seat = Seat.WAITING

    @property
    def reason(self) -> WaitReason:
        """What it is told it waits for: first the host, then the host's yes."""
        if WaitReason.HOST_ABSENT in self.reasons:
            return WaitReason.HOST_ABSENT
        return WaitReason.APPROVAL


# The session ------------------------------------------------------------------------


class Session:
    def __init__(self, rules: TicketRule = TicketRule.JOIN_BEFORE_HOST) -> None:
        self.rules = rules & (TicketRule.TWO_PARTY | TicketRule.JOIN_BEFORE_HOST)
        self.phase = Phase.OPEN
        self.present_slot = PresentSlot.IDLE
        self.control_slot = ControlSlot.FREE
        self.members: dict[int, Member] = {}
        self.lobby: dict[int, Waiter] = {}
        self.expelled: set[int] = set()  # never admitted again
        self.ever_in: set[int] = set()  # everyone who has been a member (two-party rule)
        self.permissions = DEFAULT_PERMISSIONS
        self.presenter: int | None = None
        self.control_holder: int | None = None
        self.recorder: int | None = None  # the host recording the session (§3.23)
        self.locked = False
        self.pending_present: Pending | None = None
        self.pending_control: Pending | None = None

    # Queries --------------------------------------------------------------------------

    def is_host(self, member_id: int) -> bool:
        member = self.members.get(member_id)
        return member is not None and member.role is Role.HOST

    def leads(self, member_id: int) -> bool:
        """Presenters and hosts: the chat rule and annotation rights never bind them."""
        return member_id == self.presenter or self.is_host(member_id)

    def chat_allowed(self, sender: int, target: int) -> bool:
        """May ``sender`` chat to ``target`` (EVERYONE or one member)? The relay asks
        before forwarding, and every receiving client asks again (§5.5)."""
        return chat_allowed(
            self.permissions.chat,
            self.leads(sender),
            target,
            target != EVERYONE and self.leads(target),
        )

    @property
    def recording_allowed(self) -> bool:
        """The presenter decides whether its screen may be recorded: a host presenting
        (or nobody) lets hosts record; a participant presenting, only with may_record."""
        presenter = self.presenter
        return presenter is None or self.is_host(presenter) or self.permissions.may_record

    @property
    def host_present(self) -> bool:
        return any(m.role is Role.HOST for m in self.members.values())

    @property
    def leader(self) -> int | None:
        """The member whose key commits are valid: the lowest current host, else the
        lowest member (same rule as keys.expected_leader, §6.1)."""
        hosts = [m for m, info in self.members.items() if info.role is Role.HOST]
        if hosts:
            return min(hosts)
        return min(self.members, default=None)

    @property
    def next_deadline(self) -> float | None:
        deadlines = [p.deadline for p in (self.pending_present, self.pending_control) if p]
        return min(deadlines, default=None)

    def roster_entries(self) -> tuple[RosterEntry, ...]:
        return tuple(m.entry for _, m in sorted(self.members.items()))

    def lobby_entries(self) -> tuple[RosterEntry, ...]:
        return tuple(w.member.entry for _, w in sorted(self.lobby.items()))

    def check_route(self, header: Header) -> None:
        """The relay's routing rules for a frame from ``header.sender`` (§5.3).

        Raises NotPermitted for a frame that must not be forwarded. Asked for every
        frame the relay forwards: the enum members it compares with are bound once
        (``_ROUTE``), since looking one up on its class costs more than the check.
        """
        sender, target, kind = header.sender, header.target, header.type
        members = self.members
        if self.phase is _ROUTE.ENDED:
            raise NotPermitted("the session has ended")
        if sender not in members:
            raise NotPermitted("the sender is not a member")
        if target != EVERYONE and (target not in members or target == sender):
            raise NotPermitted("the target is not another member")
        host = _ROUTE.HOST
        if kind not in _ROUTE.BEFORE_A_HOST and not any(m.role is host for m in members.values()):
            raise NotPermitted("before a host joins, members can only chat")
        if kind in _ROUTE.SCREEN:
            if sender != self.presenter:
                raise NotPermitted("only the presenter sends the screen")
        elif kind is _ROUTE.INPUT:
            if sender != self.control_holder or self.control_slot is not ControlSlot.GRANTED:
                raise NotPermitted("input without a live grant of remote control")
            if target != self.presenter:
                raise NotPermitted("input goes only to the presenter")
        elif kind is _ROUTE.ANNOTATION:
            if not self.leads(sender) and sender not in self.permissions.annotators:
                raise NotPermitted("the presenter has not let you annotate")
        elif kind is _ROUTE.NOTES:
            if not self.leads(sender):
                raise NotPermitted("only the presenter or a host sends notes")
            if target != EVERYONE:
                raise NotPermitted("notes go to everyone")
        elif kind in _ROUTE.FILES:
            if target == EVERYONE:
                raise NotPermitted("files go to one member at a time")
        elif kind is _ROUTE.KEY_COMMIT:
            if sender != self.leader:
                raise NotPermitted("only the key leader sends key commits")
        elif kind is _ROUTE.CHAT:
            if not self.chat_allowed(sender, target):
                raise NotPermitted(CHAT_REFUSED[self.permissions.chat])
        else:
            raise NotPermitted(f"{kind.name} is not forwarded between members")

    # Membership -----------------------------------------------------------------------

    def join(
        self, member_id: int, role: Role, ticket: bytes, rules: TicketRule = NO_RULES
    ) -> list[Notice]:
        """A ticket holder arrives: admitted at once, or into the lobby (``rules``: its
        ticket's; only WAIT_IN_LOBBY is read here, the session's own are fixed)."""
        self._require_open()
        if member_id in self.members or member_id in self.lobby:
            raise InvalidTransition(f"member {member_id} is already in the session")
        if member_id in self.expelled:
            raise NotPermitted("you were expelled from this session")
        if self.locked and role is not Role.HOST:
            raise NotPermitted("the session is locked")
        self._require_two_party_room(member_id)
        if len(self.members) + len(self.lobby) >= limits.MAX_MEMBERS:
            raise NotPermitted("the session is full")
        member = Member(member_id, role, ticket, rules & SITE_RULES)
        reasons = set()
        if role is not Role.HOST:
            if TicketRule.WAIT_IN_LOBBY in rules:
                reasons.add(WaitReason.APPROVAL)
            if TicketRule.JOIN_BEFORE_HOST not in self.rules and not self.host_present:
                reasons.add(WaitReason.HOST_ABSENT)
        if reasons:
            waiter = self.lobby[member_id] = Waiter(member, reasons)
            return self._waiting(waiter)
        notices = self._seat(member)
        if role is Role.HOST:
            notices += self._host_arrived()
        return notices

    def admit(self, actor: int, member_id: int, admitted: bool) -> list[Notice]:
        """A host lets a waiting member in, or refuses them entry (then the relay
        closes their connection). Admitting works while locked: it is the host's say."""
        self._require_open()
        self._require_host(actor, "admit members")
        waiter = self.lobby.get(member_id)
        if waiter is None:
            if member_id in self.members:
                _step(SEAT_TABLE, Seat.IN, Trigger.YES if admitted else Trigger.NO)
            raise InvalidTransition(f"member {member_id} is not waiting in the lobby")
        if admitted:
            self._require_two_party_room(member_id)
        return self._decide(waiter, admitted)

    def leave(self, member_id: int, reason: LeaveReason = LeaveReason.LEFT) -> list[Notice]:
        if member_id in self.lobby:
            del self.lobby[member_id]
            return [Notice(EVERYONE, MemberLeft(member_id, reason))]
        if member_id not in self.members:
            raise InvalidTransition(f"member {member_id} is not in the session")
        notices = []
        for pending in (self.pending_present, self.pending_control):
            if pending and member_id in (pending.asked_by, pending.subject):
                notices += self._close(pending, ConsentResult.CANCELLED)
        if member_id == self.presenter:
            notices += self._stop_presenting(RevokeReason.LEFT)
        elif member_id == self.control_holder:
            notices += self._revoke_control(RevokeReason.LEFT)
        del self.members[member_id]
        notices += self._check_recording()
        notices.append(Notice(EVERYONE, MemberLeft(member_id, reason)))
        if TicketRule.TWO_PARTY in self.rules and len(self.ever_in) >= 2 and self.is_open:
            # A support session is between its two parties: when one goes, it is over.
            notices += self._end(EndReason.TWO_PARTY_LEFT)
        return notices

    def renew_site_rules(self, member_id: int, rules: TicketRule) -> list[Notice]:
        """A member came back with a fresh ticket (§7.3) carrying the site policy as it
        is now: its NO_SHARING and NO_CONTROL hold from here on. A presenter no longer
        allowed to share stops; remote control it may no longer take part in ends."""
        member = self.members.get(member_id)
        if member is None or not self.is_open:
            return []
        site_rules = rules & SITE_RULES
        self.members[member_id] = Member(member_id, member.role, member.ticket, site_rules)
        if TicketRule.NO_SHARING in site_rules and member_id == self.presenter:
            return self._stop_presenting(RevokeReason.SITE_POLICY)
        involved = member_id in (self.presenter, self.control_holder)
        if TicketRule.NO_CONTROL in site_rules and involved:
            notices = []
            if self.pending_control:
                notices += self._close(self.pending_control, ConsentResult.CANCELLED)
            return notices + self._revoke_control(RevokeReason.SITE_POLICY)
        return []

    def expel(self, actor: int, member_id: int) -> list[Notice]:
        """A host removes a member (or someone waiting) for good: that member id is
        never admitted again, and the key leader starts an epoch without it."""
        self._require_open()
        self._require_host(actor, "expel members")
        if member_id == actor:
            raise NotPermitted("hosts leave rather than expel themselves")
        if member_id not in self.members and member_id not in self.lobby:
            raise InvalidTransition(f"member {member_id} is not in the session")
        self.expelled.add(member_id)
        return self.leave(member_id, LeaveReason.EXPELLED)

    def set_role(self, actor: int, member_id: int, role: Role) -> list[Notice]:
        self._require_open()
        self._require_host(actor, "change roles")
        member = self._member(member_id)
        hosts = sum(self.is_host(m) for m in self.members)
        if member.role is Role.HOST and role is Role.PARTICIPANT and hosts == 1:
            raise NotPermitted("a session keeps at least one host")
        self.members[member_id] = Member(member_id, role, member.ticket, member.site_rules)
        return [Notice(EVERYONE, RoleChange(member_id, role)), *self._check_recording()]

    def set_permissions(self, actor: int, permissions: Permissions) -> list[Notice]:
        """The presenter or a host decides who may chat with whom, who annotates, and
        whether attendees may save or record (those two bind honest clients only)."""
        self._require_open()
        if not self.leads(actor):
            raise NotPermitted("only the presenter or a host sets what attendees may do")
        strangers = [m for m in permissions.annotators if m not in self.members]
        if strangers:
            raise InvalidTransition(f"not in the session: {strangers}")
        self.permissions = permissions
        return [Notice(EVERYONE, permissions), *self._check_recording()]

    def set_recording(self, actor: int, member_id: int, active: bool) -> list[Notice]:
        """A host starts recording on its own client, or a recording stops (asked by the
        recorder or a host). Announced to everyone, the lobby too (§3.23)."""
        self._require_open()
        if active:
            self._require_host(actor, "record the session")
            if member_id != actor:
                raise NotPermitted("a host records on its own client only: name yourself")
            if self.recorder is not None:
                who = "you are" if self.recorder == actor else f"member {self.recorder} is"
                raise InvalidTransition(f"{who} recording already")
            if not self.recording_allowed:
                raise NotPermitted("the presenter does not allow recording (may_record)")
            self.recorder = actor
            return [Notice(EVERYONE, Recording(actor, True))]
        if self.recorder is None or member_id != self.recorder:
            raise InvalidTransition(f"member {member_id} is not recording")
        if actor != self.recorder and not self.is_host(actor):
            raise NotPermitted("only the recorder or a host stops a recording")
        return self._stop_recording()

    def set_lock(self, actor: int, locked: bool) -> list[Notice]:
        self._require_open()
        self._require_host(actor, "lock the session")
        self.locked = locked
        return [Notice(EVERYONE, Lock(locked))]

    def end(self, actor: int) -> list[Notice]:
        self._require_open()
        if self.is_host(actor):
            reason = EndReason.ENDED_BY_HOST
        elif actor == self.presenter:
            reason = EndReason.ENDED_BY_PRESENTER
        else:
            raise NotPermitted("only a host or the presenter ends the session")
        return self._end(reason)

    # Presenting (the viewing direction) -----------------------------------------------

    def ask_to_present(self, actor: int, member_id: int, now: float) -> list[Notice]:
        """Host or presenter asks ``member_id`` to present; that person must consent.

        A host naming itself becomes presenter at once: asking is its consent, and the
        current presenter is never asked to stop (the seeds' take-back rule).
        """
        self._require_open()
        subject = self._member(member_id)
        if not self.is_host(actor) and actor != self.presenter:
            raise NotPermitted("only a host or the presenter switches the viewing direction")
        if TicketRule.NO_SHARING in subject.site_rules:
            raise ForbiddenBySite(SHARING_OFF)
        if member_id == self.presenter:
            raise InvalidTransition("that member is already presenting")
        if member_id == actor:
            if not self.is_host(actor):
                raise NotPermitted("a participant presents only when asked")
            notices = []
            if self.pending_present:
                notices += self._close(self.pending_present, ConsentResult.CANCELLED)
            return notices + self._set_presenter(actor)
        self.present_slot = _step(PRESENT_TABLE, self.present_slot, Trigger.ASK)
        deadline = now + limits.CONSENT_TIMEOUT_SECONDS
        self.pending_present = Pending(ConsentKind.PRESENT, actor, member_id, deadline)
        return [Notice(member_id, ConsentPrompt(ConsentKind.PRESENT, actor))]

    def stop_presenting(self, actor: int) -> list[Notice]:
        """Host or presenter stops the share at any time."""
        self._require_open()
        if not self.is_host(actor) and actor != self.presenter:
            raise NotPermitted("only a host or the presenter stops the share")
        if self.presenter is None:
            return []
        reason = RevokeReason.BY_PRESENTER if actor == self.presenter else RevokeReason.BY_HOST
        return self._stop_presenting(reason)

    # Remote control -------------------------------------------------------------------

    def request_control(self, actor: int, now: float) -> list[Notice]:
        self._require_open()
        asker = self._member(actor)
        if self.presenter is None:
            raise InvalidTransition("nobody is presenting")
        presenter = self._member(self.presenter)
        if TicketRule.NO_CONTROL in asker.site_rules | presenter.site_rules:
            raise ForbiddenBySite(CONTROL_OFF)
        if actor == self.presenter:
            raise InvalidTransition("the presenter already controls their own screen")
        self.control_slot = _step(CONTROL_TABLE, self.control_slot, Trigger.ASK)
        deadline = now + limits.CONSENT_TIMEOUT_SECONDS
        self.pending_control = Pending(ConsentKind.CONTROL, actor, self.presenter, deadline)
        return [Notice(self.presenter, ConsentPrompt(ConsentKind.CONTROL, actor))]

    def revoke_control(self, actor: int) -> list[Notice]:
        """The presenter (or a host) takes control back, or the holder gives it back.

        Always allowed and immediate; a waiting request is denied with it.
        """
        self._require_open()
        if actor == self.presenter:
            reason = RevokeReason.BY_PRESENTER
        elif actor == self.control_holder:
            reason = RevokeReason.RELINQUISHED
        elif self.is_host(actor):
            reason = RevokeReason.BY_HOST
        else:
            raise NotPermitted("only the presenter, a host or the holder revokes control")
        notices = []
        if self.pending_control:
            notices += self._close(self.pending_control, ConsentResult.DENIED)
        return notices + self._revoke_control(reason)

    # Consent answers and timeouts -----------------------------------------------------

    def answer(self, actor: int, kind: ConsentKind, granted: bool) -> list[Notice]:
        """The person concerned answers a consent prompt."""
        self._require_open()
        pending = self.pending_present if kind is ConsentKind.PRESENT else self.pending_control
        if pending is None:
            raise InvalidTransition("there is no question to answer")
        if actor != pending.subject:
            raise NotPermitted("only the person asked can answer")
        if not granted:
            return self._close(pending, ConsentResult.DENIED)
        if kind is ConsentKind.PRESENT:
            self.present_slot = _step(PRESENT_TABLE, self.present_slot, Trigger.YES)
            self.pending_present = None
            outcome = self._outcome(pending, ConsentResult.GRANTED)
            return outcome + self._set_presenter(pending.subject)
        self.control_slot = _step(CONTROL_TABLE, self.control_slot, Trigger.YES)
        self.pending_control = None
        self.control_holder = pending.asked_by
        grant = Notice(EVERYONE, Grant(ConsentKind.CONTROL, pending.asked_by))
        return [*self._outcome(pending, ConsentResult.GRANTED), grant]

    def expire(self, now: float) -> list[Notice]:
        """Deny every prompt whose deadline has passed: no answer means no."""
        notices = []
        for pending in (self.pending_present, self.pending_control):
            if pending and now >= pending.deadline:
                notices += self._close(pending, ConsentResult.TIMED_OUT)
        return notices

    # Internals ------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.phase is Phase.OPEN

    def _require_open(self) -> None:
        if self.phase is Phase.ENDED:
            raise InvalidTransition("the session has ended")

    def _require_two_party_room(self, member_id: int) -> None:
        if (
            TicketRule.TWO_PARTY in self.rules
            and member_id not in self.ever_in
            and len(self.ever_in) >= 2
        ):
            raise NotPermitted("this two-party session admits nobody else")

    def _waiting(self, waiter: Waiter) -> list[Notice]:
        """Tell the waiter, and the members, that it waits, and for what."""
        message = Waiting(waiter.member.entry, waiter.reason)
        return [Notice(waiter.member.member_id, message), Notice(EVERYONE, message)]

    def _seat(self, member: Member) -> list[Notice]:
        self.members[member.member_id] = member
        self.ever_in.add(member.member_id)
        return [Notice(EVERYONE, MemberJoined(member.entry))]

    def _decide(self, waiter: Waiter, admitted: bool) -> list[Notice]:
        """The waiter leaves the lobby: in as a member, or out (told so itself)."""
        member_id = waiter.member.member_id
        waiter.seat = _step(SEAT_TABLE, waiter.seat, Trigger.YES if admitted else Trigger.NO)
        del self.lobby[member_id]
        decision = Notice(EVERYONE, Admit(member_id, admitted))
        if not admitted:
            return [decision, Notice(member_id, Admit(member_id, False))]
        return [decision, *self._seat(waiter.member)]

    def _host_arrived(self) -> list[Notice]:
        """Whoever only waited for a host is let in; who also needs a yes waits on."""
        notices = []
        for member_id, waiter in sorted(self.lobby.items()):
            if WaitReason.HOST_ABSENT not in waiter.reasons:
                continue
            waiter.reasons.discard(WaitReason.HOST_ABSENT)
            if waiter.reasons:
                notices += self._waiting(waiter)
                continue
            try:
                self._require_two_party_room(member_id)
            except NotPermitted:
                notices += self._decide(waiter, admitted=False)
            else:
                notices += self._decide(waiter, admitted=True)
        return notices

    def _end(self, reason: EndReason) -> list[Notice]:
        notices = []
        for pending in (self.pending_present, self.pending_control):
            if pending:
                notices += self._close(pending, ConsentResult.CANCELLED)
        notices += self._stop_presenting(RevokeReason.SESSION_ENDED)
        self.phase = _step(PHASE_TABLE, self.phase, Trigger.END)
        return [*notices, Notice(EVERYONE, End(reason))]

    def _require_host(self, actor: int, what: str) -> None:
        if not self.is_host(actor):
            raise NotPermitted(f"only a host can {what}")

    def _member(self, member_id: int) -> Member:
        try:
            return self.members[member_id]
        except KeyError:
            raise InvalidTransition(f"member {member_id} is not in the session") from None

    def _outcome(self, pending: Pending, result: ConsentResult) -> list[Notice]:
        outcome = ConsentOutcome(pending.kind, pending.asked_by, pending.subject, result)
        return [Notice(pending.asked_by, outcome), Notice(pending.subject, outcome)]

    def _close(self, pending: Pending, result: ConsentResult) -> list[Notice]:
        """A prompt ends without a "yes": the slot goes back to where it was."""
        if pending.kind is ConsentKind.PRESENT:
            self.present_slot = _step(PRESENT_TABLE, self.present_slot, Trigger.NO)
            self.pending_present = None
        else:
            self.control_slot = _step(CONTROL_TABLE, self.control_slot, Trigger.NO)
            self.pending_control = None
        return self._outcome(pending, result)

    def _end_control(self) -> list[Notice]:
        """The presenter changes: a waiting control request is moot, a grant ends."""
        notices = []
        if self.pending_control:
            notices += self._close(self.pending_control, ConsentResult.CANCELLED)
        return notices + self._revoke_control(RevokeReason.PRESENTER_CHANGED)

    def _set_presenter(self, member_id: int) -> list[Notice]:
        notices = self._end_control()
        self.presenter = member_id
        grant = Notice(EVERYONE, Grant(ConsentKind.PRESENT, member_id))
        return [*notices, grant, *self._check_recording()]

    def _stop_recording(self) -> list[Notice]:
        recorder, self.recorder = self.recorder, None
        return [] if recorder is None else [Notice(EVERYONE, Recording(recorder, False))]

    def _check_recording(self) -> list[Notice]:
        """A recording ends when its recorder leaves or is no host any more, or when a
        presenter who is no host does not (or no longer) allow it (§3.23)."""
        recorder = self.recorder
        if recorder is None:
            return []
        if self.is_host(recorder) and self.recording_allowed:
            return []
        return self._stop_recording()

    def _stop_presenting(self, reason: RevokeReason) -> list[Notice]:
        previous = self.presenter
        notices = self._end_control()
        self.presenter = None
        if previous is None:
            return notices
        return [*notices, Notice(EVERYONE, Revoke(ConsentKind.PRESENT, previous, reason))]

    def _revoke_control(self, reason: RevokeReason) -> list[Notice]:
        holder = self.control_holder
        self.control_slot = _step(CONTROL_TABLE, self.control_slot, Trigger.REVOKE)
        self.control_holder = None
        if holder is None:
            return []
        return [Notice(EVERYONE, Revoke(ConsentKind.CONTROL, holder, reason))]


class _ROUTE:
    """The enum members ``Session.check_route`` compares with, bound once."""

    ENDED = Phase.ENDED
    HOST = Role.HOST
    BEFORE_A_HOST = frozenset({FrameType.CHAT, FrameType.KEY_COMMIT})
    SCREEN = SCREEN_FRAMES
    FILES = frozenset(
        {FrameType.FILE_OFFER, FrameType.FILE_ANSWER, FrameType.FILE_CHUNK, FrameType.FILE_END}
    )
    INPUT = FrameType.INPUT_EVENT
    ANNOTATION = FrameType.ANNOTATION
    NOTES = FrameType.NOTES
    KEY_COMMIT = FrameType.KEY_COMMIT
    CHAT = FrameType.CHAT
