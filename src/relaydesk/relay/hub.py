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
    Ping,
    Pong,
    PresenterRequest,
    Refresh,
    Revoke,
    RoleChange,
    Roster,
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
            live = self.sessions[ticket.session_uid] = LiveSession(ticket.session_uid)
            self._records.session_started(live.uid)
        previous = live.connections.get(ticket.member_id)
        if previous is not None:  # the same member reconnected: the new link replaces it
            previous.close(CloseCode.NORMAL, "replaced by a new connection")
            live.connections[ticket.member_id] = connection
            self._send_roster(live, connection)
            return
        notices = live.rules.join(ticket.member_id, ticket.role, hello.ticket)
        self._deliver(live, notices)  # to the others: the newcomer gets the roster instead
        live.connections[ticket.member_id] = connection
        self._send_roster(live, connection)
        self._records.member_joined(
            live.uid, ticket.member_id, ticket.display_name, ticket.role.name.lower()
        )
        presenter = live.rules.presenter
        if presenter is not None:
            self._deliver(live, [Notice(presenter, Refresh(ticket.member_id))])

    def _send_roster(self, live: LiveSession, connection: Connection) -> None:
        rules = live.rules
        roster = Roster(
            you=connection.member_id,
            members=rules.roster_entries(),
            presenter=rules.presenter or 0,
            control_holder=rules.control_holder or 0,
            locked=rules.locked,
            epoch=live.epoch,
        )
        self._send(live, connection, roster)

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
        if header.target == EVERYONE:
            receivers = [c for m, c in live.connections.items() if m != header.sender]
        else:
            receivers = [live.connections[header.target]]
        for receiver in receivers:
            self._enqueue(live, receiver, header, data)

    def _enqueue(
        self, live: LiveSession, receiver: Connection, header: Header, data: bytes
    ) -> None:
        needs_picture = receiver.outbox.put(header, data)
        if receiver.outbox.overflowing:
            receiver.close(CloseCode.SLOW_CONSUMER, "too far behind")
        receiver.wake()
        presenter = live.rules.presenter
        if needs_picture and presenter is not None and presenter in live.connections:
            self._send(live, live.connections[presenter], Refresh(receiver.member_id))

    def _control(self, live: LiveSession, connection: Connection, message: object) -> None:
        actor, now, rules = connection.member_id, self._clock(), live.rules
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
            case Lock(locked):
                notices = rules.set_lock(actor, locked)
            case Expel(member_id):
                notices = rules.expel(actor, member_id)
                self._deliver(live, notices)
                self._drop(live, member_id, CloseCode.EXPELLED, "expelled by the host")
                return
            case End():
                self._deliver(live, rules.end(actor))
                self._records.session_ended(live.uid)  # the broker admits nobody more
                self._finish(live)
                return
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
        if ticket.member_id in live.rules.members:
            self._deliver(live, live.rules.leave(ticket.member_id, reason))
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
        self._finish(live)

    def _finish(self, live: LiveSession) -> None:
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
        for notice in notices:
            self._record(live, notice)
            if notice.to == EVERYONE:
                for connection in list(live.connections.values()):
                    self._send(live, connection, notice.message)
            elif notice.to in live.connections:
                self._send(live, live.connections[notice.to], notice.message)

    def _record(self, live: LiveSession, notice: Notice) -> None:
        """Every request, consent answer, grant and revoke becomes an event record."""
        sink, uid = self._records, live.uid
        match notice.message:
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


def error_frame(session_uid: bytes, error: RelaydeskError) -> bytes:
    """An ERROR frame for a connection that is refused before it is admitted."""
    header = Header(FrameType.ERROR, session_uid, 0, RELAY, EVERYONE, 1)
    return Frame(header, encode(Error(error.close_code, str(error)))).serialize()
