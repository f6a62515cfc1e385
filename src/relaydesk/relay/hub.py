"""The relay's switch: admission, the session rules, routing and event records.

Transport-agnostic: a driver (``relay.endpoint`` for WebSocket) hands each received
frame to ``RelayHub.receive`` and writes what appears in each connection's outbox.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from relaydesk import limits
from relaydesk.errors import (
    CloseCode,
    FrameError,
    MessageError,
    NotPermitted,
    ProtocolError,
    RelaydeskError,
    SessionEnded,
    SessionError,
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
    Refresh,
    Revoke,
    RoleChange,
    Roster,
    Waiting,
    decode,
    encode,
)
from relaydesk.protocol.session import Notice, Phase, Session
from relaydesk.protocol.tickets import Ticket, verify_ticket
from relaydesk.relay.outbox import Outbox
from relaydesk.relay.records import RecordKind, RecordSink

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class Connection:
    """One member's link as the hub sees it: an outbox, counters and a way to close."""

    def __init__(self) -> None:
        # A newcomer's first picture must be whole: deltas before it are useless.
        self.outbox = Outbox(awaiting_keyframe=True)
        self.ticket: Ticket | None = None
        self.bytes_in = 0
        self.bytes_out = 0
        self.content_bytes_queued = 0  # sealed content put in its outbox (lobby: none)
        self.refusals = 0  # frames refused; the first few become event records
        self.close_code: CloseCode | None = None
        self.close_reason = ""
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
        self, broker_public: Ed25519PublicKey, records: RecordSink, clock: Clock = time.time
    ) -> None:
        self._broker_public = broker_public
        self._records = records
        self._clock = clock
        self.sessions: dict[bytes, LiveSession] = {}
        # Ended sessions, until the last ticket issued for them has expired.
        self._ended: dict[bytes, float] = {}

    # Admission ------------------------------------------------------------------------

    def admit(self, connection: Connection, data: bytes) -> None:
        """The first frame must be HELLO with a valid, unexpired ticket."""
        frame = Frame.parse(data)
        if frame.header.type is not FrameType.HELLO:
            raise FrameError("the first frame must be HELLO")
        hello = decode(FrameType.HELLO, frame.body)
        assert isinstance(hello, Hello)
        ticket = verify_ticket(hello.ticket, self._broker_public, now=self._clock())
        if frame.header.session_uid != ticket.session_uid:
            raise FrameError("HELLO names another session than its ticket")
        now = self._clock()
        self._ended = {uid: until for uid, until in self._ended.items() if until > now}
        if ticket.session_uid in self._ended:
            raise SessionEnded("the session has ended")
        connection.ticket = ticket
        connection.bytes_in += len(data)
        live = self.sessions.get(ticket.session_uid)
        if live is None:
            # The session's rules are in every ticket the broker signs for it alike.
            live = LiveSession(ticket.session_uid, Session(ticket.rules))
            self.sessions[ticket.session_uid] = live
            self._records.session_started(live.uid)
        previous = live.connections.get(ticket.member_id)
        if previous is not None:  # the same member reconnected: the new link replaces it
            previous.close(CloseCode.NORMAL, "replaced by a new connection")
            live.connections[ticket.member_id] = connection
            self._greet(live, connection)
            return
        try:
            notices = live.rules.join(ticket.member_id, ticket.role, hello.ticket, ticket.rules)
        except SessionError:
            if not live.connections:  # nobody is in: keep no empty session around
                del self.sessions[live.uid]
            raise
        live.connections[ticket.member_id] = connection
        self._deliver(live, notices)

    def _greet(self, live: LiveSession, connection: Connection) -> None:
        """What a (re)connected link is told first: the roster, or that it waits."""
        waiter = live.rules.lobby.get(connection.member_id)
        if waiter is not None:
            self._send(live, connection, Waiting(waiter.member.entry, waiter.reason))
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
        )
        self._send(live, connection, roster)
        if rules.permissions != DEFAULT_PERMISSIONS:  # what attendees may do, if not usual
            self._send(live, connection, rules.permissions)

    # Switching ------------------------------------------------------------------------

    def receive(self, connection: Connection, data: bytes) -> None:
        """Handle one frame from an admitted member. Protocol errors close only that
        member's connection; refused actions are answered with ERROR."""
        ticket = connection.ticket
        assert ticket is not None
        live = self.sessions.get(ticket.session_uid)
        if live is None or live.connections.get(ticket.member_id) is not connection:
            return  # the session ended or this link was replaced; nothing to do
        if connection.close_code is not None:
            return  # being closed: nothing more from it is acted on
        connection.bytes_in += len(data)
        try:
            # Only the header is read; content is forwarded as the very bytes received.
            header, length = parse_header(data[:HEADER_SIZE])
            if len(data) != HEADER_SIZE + length:
                raise FrameError("the frame's length does not match its header")
            if header.sender != ticket.member_id or header.session_uid != live.uid:
                raise FrameError("the header's sender or session is not this connection's")
            if header.type.is_content or header.type is FrameType.KEY_COMMIT:
                self._forward(live, connection, header, data)
            else:
                self._control(live, connection, decode(header.type, data[HEADER_SIZE:]))
        except ProtocolError as error:
            log.info("closing member %d: %s", ticket.member_id, error)
            self._refused(live, connection, f"action=closed reason={error}")
            self._send(live, connection, Error(error.close_code, str(error)))
            connection.close(error.close_code, str(error))
        except SessionError as error:
            if header.type is FrameType.INPUT_EVENT:
                self._refused(live, connection, f"action=dropped_input reason={error}")
            elif isinstance(error, NotPermitted) and not header.type.is_content:
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
        if header.type is FrameType.KEY_COMMIT:
            live.epoch = max(live.epoch, header.epoch)
        for receiver in self._receivers(live, header.target, but=header.sender):
            self._enqueue(live, receiver, header, data)

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
        if header.type.is_content:
            receiver.content_bytes_queued += len(data)
        needs_picture = receiver.outbox.put(header, data)
        if receiver.outbox.overflowing:
            receiver.close(CloseCode.SLOW_CONSUMER, "too far behind")
        receiver.wake()
        presenter = live.rules.presenter
        if needs_picture and presenter is not None and presenter in live.connections:
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
            case _:
                raise MessageError(f"{type(message).__name__} is not sent to the relay")
        self._deliver(live, notices)

    # Leaving and ending ---------------------------------------------------------------

    def disconnect(self, connection: Connection, reason: LeaveReason) -> None:
        """The connection is gone (closed by either side, or lost)."""
        ticket = connection.ticket
        if ticket is None:
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
        if not live.connections:
            del self.sessions[live.uid]

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
                    for connection in self._receivers(live, EVERYONE, but=newcomer):
                        if connection.member_id not in greeted:
                            self._send(live, connection, message)
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
                case End():
                    ended = True
                case _:
                    pass
            for connection in self._receivers(live, notice.to):
                self._send(live, connection, message)
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
            case _:
                pass

    def _send(self, live: LiveSession, connection: Connection, message: ControlMessage) -> None:
        live.sequence += 1
        target = connection.member_id if connection.ticket else EVERYONE
        header = Header(message.TYPE, live.uid, 0, RELAY, target, live.sequence)
        self._enqueue(live, connection, header, Frame(header, encode(message)).serialize())


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
