"""The relay's switch: admission, the session rules, routing and event records.

Transport-agnostic: a driver (``relay.endpoint`` for WebSocket) hands each received
frame to ``RelayHub.receive`` and writes what appears in each connection's outbox.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from relaydesk import limits
from relaydesk.errors import (
    CloseCode,
    ForbiddenBySite,
    FrameError,
    HelloProofInvalid,
    MessageError,
    NotPermitted,
    ProtocolError,
    RelaydeskError,
    SessionEnded,
    SessionError,
    WrongRelay,
)
from relaydesk.protocol.frames import (
    EVERYONE,
    HEADER_SIZE,
    RELAY,
    Frame,
    FrameType,
    Header,
    parse_header,
)
from relaydesk.protocol.messages import (
    DEFAULT_PERMISSIONS,
    Admit,
    Challenge,
    ConsentAnswer,
    ConsentKind,
    ConsentOutcome,
    ConsentPrompt,
    ControlMessage,
    ControlRequest,
    End,
    Error,
    Expel,
    Grant,
    Hello,
    LeaveReason,
    Lock,
    MemberJoined,
    MemberLeft,
    Permissions,
    Ping,
    Pong,
    PresenterRequest,
    Recording,
    Refresh,
    Revoke,
    RoleChange,
    Roster,
    VideoLayers,
    Waiting,
    decode,
    encode,
)
from relaydesk.protocol.session import Notice, Phase, Session, check_site_rules
from relaydesk.protocol.tickets import SITE_RULES, Ticket, verify_hello, verify_ticket
from relaydesk.relay.outbox import Outbox
from relaydesk.relay.records import RecordKind, RecordSink

log = logging.getLogger(__name__)

Clock = Callable[[], float]

EMBEDDED = "embedded"  # the one relay built into `relaydesk server`
_RELAY_NAME = re.compile(rf"[a-z0-9-]{{1,{limits.MAX_RELAY_NAME_CHARS}}}")
CHALLENGE_BYTES = 32


def is_relay_name(text: str) -> bool:
    return _RELAY_NAME.fullmatch(text) is not None


# Bound once for the path every frame takes (an enum member looked up on its class costs
# about as much as the rest of a frame's routing on Python 3.11).
_CONTENT = frozenset(frame_type for frame_type in FrameType if frame_type.is_content)
_KEY_COMMIT = FrameType.KEY_COMMIT
_FORWARDED = _CONTENT | {_KEY_COMMIT}  # forwarded as received; the rest is for the relay


class Bridge(Protocol):
    """What the hub asks of the bridge to other relays (relay/bridge.py, §9)."""

    def forward(self, connection: Connection, hello: bytes, home: str) -> None:
        """A member whose session lives on relay ``home``: carry it there."""

    def send(self, connection: Connection, data: bytes) -> None:
        """A frame from a forwarded member, to its home."""

    def leave(self, connection: Connection, reason: LeaveReason) -> None:
        """A forwarded member's link is gone."""

    def hosting(self, session_uid: bytes, placement: int) -> None:
        """This relay is now the session's home (placement generation ``placement``)."""

    def released(self, session_uid: bytes) -> None:
        """This relay holds the session no more."""


class Connection:
    """One member's link as the hub sees it: an outbox, counters and a way to close."""

    def __init__(self) -> None:
        # A newcomer's first picture must be whole: deltas before it are useless.
        self.outbox = Outbox(awaiting_keyframe=True)
        self.ticket: Ticket | None = None
        self.site_policed = False  # the ticket carries site-policy bits: check each frame
        self.bytes_in = 0
        self.bytes_out = 0
        self.content_bytes_queued = 0  # sealed content put in its outbox (lobby: none)
        self.refusals = 0  # frames refused; the first few become event records
        self.close_code: CloseCode | None = None
        self.close_reason = ""
        self.remote = False  # a member on another relay, reached through the bridge
        self.forwarded_to: str | None = None  # set: carried to this home relay
        self.challenge: bytes | None = None  # what this link's HELLO must sign (§7.1)
        self._ready = asyncio.Event()

    @property
    def member_id(self) -> int:
        assert self.ticket is not None
        return self.ticket.member_id

    def wake(self) -> None:
        self._ready.set()

    async def wait(self) -> None:
        await self._ready.wait()
        self._ready.clear()

    def close(self, code: CloseCode, reason: str) -> None:
        """Close after what is already queued has been written."""
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
            self.wake()


@dataclass
class Traffic:
    """What the relay has switched since it started (``/metrics``): counts only, no
    names, no sessions (SECURITY.md, "What the relay may see")."""

    connections: int = 0  # open now
    sessions: int = 0  # live now
    bytes_in: int = 0
    bytes_out: int = 0
    refused_frames: int = 0
    refused_hellos: int = 0  # links that never got in (bad ticket, ended session...)


@dataclass
class LiveSession:
    uid: bytes
    rules: Session = field(default_factory=Session)
    # Every admitted member's link, and those of members waiting in the lobby (which
    # are sent only what is addressed to them: see ``_receivers``).
    connections: dict[int, Connection] = field(default_factory=dict)
    sequence: int = 0  # of the relay's own frames in this session
    epoch: int = 0  # the newest epoch a commit was forwarded for (newcomers learn it)


class RelayHub:
    def __init__(
        self,
        broker_public: Ed25519PublicKey,
        records: RecordSink,
        clock: Clock = time.time,
        name: str = EMBEDDED,
    ) -> None:
        self._broker_public = broker_public
        self._records = records
        self._clock = clock
        self.name = name
        self.bridge: Bridge | None = None  # set by relay/bridge.py when NATS is configured
        self.sessions: dict[bytes, LiveSession] = {}
        self._gone = Traffic()  # the totals of links no longer here
        # Ended sessions, until the last ticket issued for them has expired.
        self._ended: dict[bytes, float] = {}

    # Admission ------------------------------------------------------------------------

    def challenge(self, connection: Connection) -> bytes:
        """The first frame of a new link: a fresh nonce its HELLO must sign, and this
        relay's name (§3.25). The member is not known yet: no session, target 0. Counted
        in the link's bytes out, as the member counts it in its session log."""
        connection.challenge = secrets.token_bytes(CHALLENGE_BYTES)
        header = Header(FrameType.CHALLENGE, bytes(16), 0, RELAY, RELAY, 0)
        frame = Frame(header, encode(Challenge(connection.challenge, self.name))).serialize()
        connection.bytes_out += len(frame)
        return frame

    def admit(self, connection: Connection, data: bytes) -> None:
        """The first frame must be HELLO with a valid, unexpired ticket and the proof
        that its sender holds the ticket's key, over this link's challenge (§7.1)."""
        try:
            self._admit(connection, data)
        except RelaydeskError:
            self._gone.refused_hellos += 1
            raise

    def traffic(self) -> Traffic:
        """Totals over the members gone and those here now."""
        gone, links = (
            self._gone,
            [c for s in self.sessions.values() for c in s.connections.values()],
        )
        return Traffic(
            connections=len(links),
            sessions=len(self.sessions),
            bytes_in=gone.bytes_in + sum(c.bytes_in for c in links),
            bytes_out=gone.bytes_out + sum(c.bytes_out for c in links),
            refused_frames=gone.refused_frames + sum(c.refusals for c in links),
            refused_hellos=gone.refused_hellos,
        )

    def _proven(self, connection: Connection, data: bytes) -> tuple[Hello, Ticket]:
        """The HELLO and its ticket, once the broker's signature and the link's
        challenge proof are checked (§7.1)."""
        frame = Frame.parse(data)
        if frame.header.type is not FrameType.HELLO:
            raise FrameError("the first frame must be HELLO")
        hello = decode(FrameType.HELLO, frame.body)
        assert isinstance(hello, Hello)
        ticket = verify_ticket(hello.ticket, self._broker_public, now=self._clock())
        if frame.header.session_uid != ticket.session_uid:
            raise FrameError("HELLO names another session than its ticket")
        if not connection.remote:  # a bridged member was proven by the relay it is on
            challenge, connection.challenge = connection.challenge, None  # one HELLO each
            if challenge is None:
                raise HelloProofInvalid("no challenge was sent on this link")
            verify_hello(ticket, hello.ticket, hello.proof, challenge, self.name)
        return hello, ticket

    def _admit(self, connection: Connection, data: bytes) -> None:
        hello, ticket = self._proven(connection, data)
        now = self._clock()
        self._ended = {uid: until for uid, until in self._ended.items() if until > now}
        if ticket.session_uid in self._ended:
            raise SessionEnded("the session has ended")
        home = self._home(ticket)
        connection.ticket = ticket
        connection.site_policed = bool(ticket.rules & SITE_RULES)
        connection.bytes_in += len(data)
        if home != self.name and not connection.remote:
            assert self.bridge is not None
            connection.forwarded_to = home
            self.bridge.forward(connection, data, home)
            return
        live = self.sessions.get(ticket.session_uid)
        if live is None:
            # The session's rules are in every ticket the broker signs for it alike.
            live = LiveSession(ticket.session_uid, Session(ticket.rules))
            self.sessions[ticket.session_uid] = live
            self._records.session_started(live.uid)
            if self.bridge is not None:
                self.bridge.hosting(live.uid, int(getattr(ticket, "placement", 0)))
        previous = live.connections.get(ticket.member_id)
        if previous is not None:  # the same member reconnected: the new link replaces it
            previous.close(CloseCode.NORMAL, "replaced by a new connection")
            # The member's leave record counts every link it had (docs/operators.md §5).
            connection.bytes_in += previous.bytes_in
            connection.bytes_out += previous.bytes_out
            connection.refusals += previous.refusals
            live.connections[ticket.member_id] = connection
            self._greet(live, connection)
            # Its fresh ticket carries the site policy as it is now (§7.2, §7.3).
            self._deliver(live, live.rules.renew_site_rules(ticket.member_id, ticket.rules))
            return
        try:
            notices = live.rules.join(ticket.member_id, ticket.role, hello.ticket, ticket.rules)
        except SessionError:
            if not live.connections:  # nobody is in: keep no empty session around
                del self.sessions[live.uid]
                if self.bridge is not None:
                    self.bridge.released(live.uid)
            raise
        live.connections[ticket.member_id] = connection
        self._deliver(live, notices)

    def _home(self, ticket: Ticket) -> str:
        """The relay whose hub runs the session's rules: the ticket's ``relay``. A ticket
        that names no relay (a URL, before ticket v3) is served here."""
        home = ticket.relay if is_relay_name(ticket.relay) else self.name
        if home != self.name and self.bridge is None:
            raise WrongRelay(f"this session lives on relay {home!r}, not on {self.name!r}")
        return home

    def _greet(self, live: LiveSession, connection: Connection) -> None:
        """What a (re)connected link is told first: the roster, or that it waits."""
        waiter = live.rules.lobby.get(connection.member_id)
        if waiter is not None:
            self._send(live, connection, Waiting(waiter.member.entry, waiter.reason))
            self._tell_recording(live, connection)
        else:
            self._send_roster(live, connection)

    def _send_roster(self, live: LiveSession, connection: Connection) -> None:
        rules = live.rules
        roster = Roster(
            you=connection.member_id,
            members=rules.roster_entries(),
            presenter=rules.presenter or 0,
            control_holder=rules.control_holder or 0,
            locked=rules.locked,
            epoch=live.epoch,
            lobby=rules.lobby_entries(),
            recording=rules.recorder or 0,
        )
        self._send(live, connection, roster)
        if rules.permissions != DEFAULT_PERMISSIONS:  # what attendees may do, if not usual
            self._send(live, connection, rules.permissions)

    # Switching ------------------------------------------------------------------------

    def receive(self, connection: Connection, data: bytes, header: Header | None = None) -> None:
        """Handle one frame from an admitted member. Protocol errors close only that
        member's connection; refused actions are answered with ERROR. A driver that had
        to read the header to find the frame's end (direct TLS) passes it: it is not
        parsed twice."""
        ticket = connection.ticket
        assert ticket is not None
        if connection.forwarded_to is not None:
            if connection.close_code is None and self.bridge is not None:
                connection.bytes_in += len(data)
                self.bridge.send(connection, data)  # the home checks it
            return
        live = self.sessions.get(ticket.session_uid)
        if live is None or live.connections.get(ticket.member_id) is not connection:
            return  # the session ended or this link was replaced; nothing to do
        if connection.close_code is not None:
            return  # being closed: nothing more from it is acted on
        connection.bytes_in += len(data)
        try:
            # Only the header is read; content is forwarded as the very bytes received.
            if header is None:
                header, length = parse_header(data[:HEADER_SIZE])
                if len(data) != HEADER_SIZE + length:
                    raise FrameError("the frame's length does not match its header")
            if header.sender != ticket.member_id or header.session_uid != live.uid:
                raise FrameError("the header's sender or session is not this connection's")
            if header.type in _FORWARDED:
                if connection.site_policed:  # NO_SHARING, NO_CONTROL: §7.2
                    check_site_rules(ticket.rules, header.type)
                self._forward(live, connection, header, data)
            else:
                self._control(live, connection, decode(header.type, data[HEADER_SIZE:]))
        except ProtocolError as error:
            log.info("closing member %d: %s", ticket.member_id, error)
            self._refused(live, connection, f"action=closed reason={error}")
            self._send(live, connection, Error(error.close_code, str(error)))
            connection.close(error.close_code, str(error))
        except SessionError as error:
            assert header is not None  # the rules are asked only about a parsed frame
            if header.type is FrameType.INPUT_EVENT:
                self._refused(live, connection, f"action=dropped_input reason={error}")
            elif isinstance(error, ForbiddenBySite) or (
                isinstance(error, NotPermitted) and not header.type.is_content
            ):
                what = header.type.name.lower()
                self._refused(live, connection, f"action=refused_{what} reason={error}")
            self._send(live, connection, Error(error.close_code, str(error)))

    def _refused(self, live: LiveSession, connection: Connection, detail: str) -> None:
        """Report a refused frame: input without a grant, a forged sender. A member
        that keeps trying fills no database: only its first few refusals are kept."""
        connection.refusals += 1
        if connection.refusals <= limits.MAX_REFUSAL_RECORDS:
            self._records.member_event(live.uid, RecordKind.REFUSED, connection.member_id, detail)

    def _forward(self, live: LiveSession, sender: Connection, header: Header, data: bytes) -> None:
        live.rules.check_route(header)  # NotPermitted: dropped and reported to the sender
        if header.type is _KEY_COMMIT:
            live.epoch = max(live.epoch, header.epoch)
        # The same bytes object goes to every receiver: never copied or re-framed here.
        content = len(data) if header.type in _CONTENT else 0
        for receiver in self._receivers(live, header.target, but=header.sender):
            receiver.content_bytes_queued += content
            outbox = receiver.outbox
            if outbox.put(header, data):
                self._ask_picture(live, receiver)
            if outbox.overflowing:
                receiver.close(CloseCode.SLOW_CONSUMER, "too far behind")
            receiver.wake()

    @staticmethod
    def _receivers(live: LiveSession, target: int, but: int = RELAY) -> list[Connection]:
        """The links a frame to ``target`` goes to: only admitted members' for a
        broadcast; a member waiting in the lobby gets only what names it."""
        if target != EVERYONE:
            connection = live.connections.get(target)
            return [connection] if connection is not None else []
        members = live.rules.members
        return [c for m, c in live.connections.items() if m in members and m != but]

    def _enqueue(
        self, live: LiveSession, receiver: Connection, header: Header, data: bytes
    ) -> None:
        if header.type in _CONTENT:
            receiver.content_bytes_queued += len(data)
        needs_picture = receiver.outbox.put(header, data)
        if receiver.outbox.overflowing:
            receiver.close(CloseCode.SLOW_CONSUMER, "too far behind")
        receiver.wake()
        if needs_picture:
            self._ask_picture(live, receiver)

    def _ask_picture(self, live: LiveSession, receiver: Connection) -> None:
        """The receiver's screen backlog was dropped: the presenter sends it a keyframe."""
        presenter = live.rules.presenter
        if presenter is not None and presenter in live.connections:
            self._send(live, live.connections[presenter], Refresh(receiver.member_id))

    def _control(self, live: LiveSession, connection: Connection, message: object) -> None:
        actor, now, rules = connection.member_id, self._clock(), live.rules
        if actor in rules.lobby and not isinstance(message, Ping):
            raise NotPermitted("you are waiting in the lobby: a host must let you in first")
        match message:
            case PresenterRequest(member_id):
                notices = rules.ask_to_present(actor, member_id, now)
            case ControlRequest():
                notices = rules.request_control(actor, now)
            case ConsentAnswer(kind, granted):
                notices = rules.answer(actor, kind, granted)
            case Revoke(ConsentKind.CONTROL):
                notices = rules.revoke_control(actor)
            case Revoke(ConsentKind.PRESENT):
                notices = rules.stop_presenting(actor)
            case RoleChange(member_id, role):
                notices = rules.set_role(actor, member_id, role)
                detail = f"role={role.name.lower()} by={actor}"
                self._records.member_event(live.uid, RecordKind.ROLE, member_id, detail)
            case Lock(locked):
                notices = rules.set_lock(actor, locked)
                self._records.session_locked(live.uid, locked, actor)
            case Permissions() as permissions:
                notices = rules.set_permissions(actor, permissions)
                detail = f"{_permissions_detail(permissions)} by={actor}"
                self._records.member_event(live.uid, RecordKind.PERMISSIONS, actor, detail)
            case Recording(member_id, active):
                notices = rules.set_recording(actor, member_id, active)
            case Admit(member_id, admitted):
                notices = rules.admit(actor, member_id, admitted)
                result = "admitted" if admitted else "refused"
                detail = f"result={result} by={actor}"
                self._records.member_event(live.uid, RecordKind.ADMIT, member_id, detail)
            case Expel(member_id):
                notices = rules.expel(actor, member_id)
                self._records.member_event(live.uid, RecordKind.EXPEL, member_id, f"by={actor}")
            case End():
                notices = rules.end(actor)
            case Refresh():
                connection.outbox.awaiting_keyframe = True
                notices = [Notice(rules.presenter, Refresh(actor))] if rules.presenter else []
            case Ping(nonce):
                notices = [Notice(actor, Pong(nonce))]
            case VideoLayers(layers):  # this receiver's video, at half the rate or whole
                connection.outbox.limit_video_layers(layers)
                notices = []
            case _:
                raise MessageError(f"{type(message).__name__} is not sent to the relay")
        self._deliver(live, notices)

    # Leaving and ending ---------------------------------------------------------------

    def disconnect(self, connection: Connection, reason: LeaveReason) -> None:
        """The connection is gone (closed by either side, or lost)."""
        ticket = connection.ticket
        if ticket is None:
            return
        if connection.forwarded_to is not None:
            if self.bridge is not None:
                self.bridge.leave(connection, reason)
            return
        live = self.sessions.get(ticket.session_uid)
        if live is None or live.connections.get(ticket.member_id) is not connection:
            return
        rules = live.rules
        if rules.is_open and (ticket.member_id in rules.members or ticket.member_id in rules.lobby):
            self._deliver(live, rules.leave(ticket.member_id, reason))
        self._drop(live, ticket.member_id, CloseCode.NORMAL, "left")

    def _drop(self, live: LiveSession, member_id: int, code: CloseCode, reason: str) -> None:
        connection = live.connections.pop(member_id, None)
        if connection is None:
            return
        connection.close(code, reason)
        self._records.member_left(live.uid, member_id, connection.bytes_in, connection.bytes_out)
        self._gone.bytes_in += connection.bytes_in
        self._gone.bytes_out += connection.bytes_out
        self._gone.refused_frames += connection.refusals
        if not live.connections:
            del self.sessions[live.uid]
            if self.bridge is not None:
                self.bridge.released(live.uid)

    def move_session(self, session_uid: bytes) -> None:
        """Another relay became the session's home: its members here reconnect there."""
        live = self.sessions.get(session_uid)
        if live is None:
            return
        for member_id in list(live.connections):
            self._drop(live, member_id, CloseCode.MOVED, "the session moved to another relay")

    def end_session(self, session_uid: bytes) -> None:
        """The broker ended the session: everyone is told and disconnected."""
        live = self.sessions.get(session_uid)
        if live is None:
            return
        if live.rules.phase is Phase.OPEN:
            host = next((m for m in live.rules.members if live.rules.is_host(m)), None)
            if host is not None:
                self._deliver(live, live.rules.end(host))
                return  # delivering END finished the session
        self._finish(live)

    def _finish(self, live: LiveSession) -> None:
        if live.uid in self._ended:
            return
        self._records.session_ended(live.uid)  # the broker admits nobody more
        self._ended[live.uid] = self._clock() + limits.TICKET_LIFETIME_SECONDS
        for member_id in list(live.connections):
            self._drop(live, member_id, CloseCode.SESSION_ENDED, "the session has ended")

    def expire_prompts(self) -> None:
        """Unanswered consent prompts count as "no" after their deadline."""
        now = self._clock()
        for live in list(self.sessions.values()):
            deadline = live.rules.next_deadline
            if deadline is not None and now >= deadline:
                self._deliver(live, live.rules.expire(now))

    # Sending --------------------------------------------------------------------------

    def _deliver(self, live: LiveSession, notices: list[Notice]) -> None:
        """Send the session's notices, then act on what they mean for connections:
        a newly admitted member gets the whole roster instead of its own MEMBER_JOINED
        (and the presenter is asked for a picture for it), a refused one is closed, an
        END finishes the session."""
        greeted: set[int] = set()  # sent a roster in this batch: it is up to date
        ended = False
        for notice in notices:
            self._record(live, notice)
            message = notice.message
            match message:
                case MemberJoined(entry) if entry.member_id in live.connections:
                    newcomer = entry.member_id
                    joined = encode(message)  # once for everyone: a join is told to all
                    for connection in self._receivers(live, EVERYONE, but=newcomer):
                        if connection.member_id not in greeted:
                            self._send(live, connection, message, joined)
                    self._send_roster(live, live.connections[newcomer])
                    greeted.add(newcomer)
                    presenter = live.rules.presenter
                    if presenter is not None and presenter in live.connections:
                        self._send(live, live.connections[presenter], Refresh(newcomer))
                    continue
                case Admit(member_id, False) if notice.to == member_id:
                    refused = live.connections.get(member_id)
                    if refused is not None:
                        self._send(live, refused, message)
                        self._drop(live, member_id, CloseCode.REFUSED_ENTRY, "refused entry")
                    continue
                case Waiting(entry) if notice.to == entry.member_id:
                    waiter = live.connections.get(entry.member_id)
                    if waiter is not None:
                        self._send(live, waiter, message)
                        self._tell_recording(live, waiter)
                    continue
                case Recording():  # the lobby is told too: who waits may be recorded
                    for connection in live.connections.values():
                        self._send(live, connection, message)
                    continue
                case End():
                    ended = True
                case _:
                    pass
            receivers = self._receivers(live, notice.to)
            once = encode(message) if len(receivers) > 1 else None
            for connection in receivers:
                self._send(live, connection, message, once)
        for notice in notices:
            match notice.message:
                case MemberLeft(member_id, LeaveReason.EXPELLED):
                    self._drop(live, member_id, CloseCode.EXPELLED, "expelled by the host")
                case _:
                    pass
        if ended:
            self._finish(live)

    def _record(self, live: LiveSession, notice: Notice) -> None:
        """Every request, consent answer, grant and revoke becomes an event record."""
        sink, uid = self._records, live.uid
        match notice.message:
            case MemberJoined(entry) if entry.member_id in live.connections:
                ticket = live.connections[entry.member_id].ticket
                assert ticket is not None
                role = entry.role.name.lower()
                sink.member_joined(uid, entry.member_id, ticket.display_name, role, ticket.email)
            case Waiting(entry, reason) if notice.to == EVERYONE:
                sink.member_event(uid, RecordKind.LOBBY, entry.member_id, f"reason={_name(reason)}")
            case ConsentPrompt(kind, asked_by):
                detail = f"what={_name(kind)} asked_by={asked_by}"
                sink.member_event(uid, RecordKind.CONSENT_ASKED, notice.to, detail)
            case ConsentOutcome(kind, asked_by, subject, result) if notice.to == subject:
                detail = f"what={_name(kind)} asked_by={asked_by} result={_name(result)}"
                sink.member_event(uid, RecordKind.CONSENT_ANSWERED, subject, detail)
            case Grant(kind, member_id):
                sink.member_event(uid, RecordKind.GRANT, member_id, f"what={_name(kind)}")
            case Revoke(kind, member_id, reason):
                detail = f"what={_name(kind)} reason={_name(reason)}"
                sink.member_event(uid, RecordKind.REVOKE, member_id, detail)
            case Recording(member_id, active):
                detail = f"state={'on' if active else 'off'}"
                sink.member_event(uid, RecordKind.RECORDING, member_id, detail)
            case _:
                pass

    def _tell_recording(self, live: LiveSession, connection: Connection) -> None:
        """A member in the lobby gets no ROSTER: it is told of a recording on its own."""
        if live.rules.recorder is not None:
            self._send(live, connection, Recording(live.rules.recorder, True))

    def _send(
        self,
        live: LiveSession,
        connection: Connection,
        message: ControlMessage,
        body: bytes | None = None,  # encode(message), when it goes to many
    ) -> None:
        live.sequence += 1
        target = connection.member_id if connection.ticket else EVERYONE
        header = Header(message.TYPE, live.uid, 0, RELAY, target, live.sequence)
        encoded = encode(message) if body is None else body
        self._enqueue(live, connection, header, Frame(header, encoded).serialize())


def _name(value: Enum) -> str:
    return value.name.lower()


def _permissions_detail(permissions: Permissions) -> str:
    annotators = ",".join(map(str, permissions.annotators)) or "none"
    return (
        f"chat={_name(permissions.chat)} annotators={annotators} "
        f"save={str(permissions.may_save).lower()} record={str(permissions.may_record).lower()}"
    )


def error_frame(session_uid: bytes, error: RelaydeskError) -> bytes:
    """An ERROR frame for a connection that is refused before it is admitted."""
    header = Header(FrameType.ERROR, session_uid, 0, RELAY, EVERYONE, 1)
    return Frame(header, encode(Error(error.close_code, str(error)))).serialize()
