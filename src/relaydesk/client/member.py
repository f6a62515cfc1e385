"""One member's live link to a session through the relay (docs/protocol.md §7).

It keeps the roster (every ticket checked against the broker key), applies key commits,
leads the keys when it is the key leader, and seals and opens content. What it receives
comes out of ``messages()`` already decrypted; what it cannot accept comes out as
``Rejected`` (nothing of it is acted on).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from relaydesk import limits
from relaydesk.client.api import JoinResult
from relaydesk.errors import (
    ClientError,
    NoEpochKey,
    NotPermitted,
    RelayClosed,
    RelaydeskError,
    TicketError,
)
from relaydesk.protocol.e2e import EndToEnd
from relaydesk.protocol.frames import EVERYONE, HEADER_SIZE, RELAY, Flags, Frame, FrameType, Header
from relaydesk.protocol.keys import MemberKeys, Rng
from relaydesk.protocol.messages import (
    DEFAULT_PERMISSIONS,
    Admit,
    AnyMessage,
    ConsentKind,
    ContentMessage,
    ControlMessage,
    Grant,
    Hello,
    KeyCommit,
    Lock,
    MemberJoined,
    MemberLeft,
    Permissions,
    Revoke,
    Role,
    RoleChange,
    Roster,
    RosterEntry,
    Waiting,
    WaitReason,
    decode,
    encode,
)
from relaydesk.protocol.session import chat_allowed
from relaydesk.protocol.tickets import Ticket, verify_ticket

log = logging.getLogger(__name__)

REKEY_CHECK_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Received:
    header: Header
    message: AnyMessage


@dataclass(frozen=True, slots=True)
class Rejected:
    """A frame that failed a check (forged, replayed, undecryptable); it was dropped."""

    header: Header
    error: RelaydeskError


class Member:
    def __init__(
        self,
        join: JoinResult,
        keys: MemberKeys,
        context: ssl.SSLContext,
        rng: Rng = os.urandom,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.join = join
        self.member_id = join.member_id
        broker_public = Ed25519PublicKey.from_public_bytes(join.broker_public_key)
        self.e2e = EndToEnd(join.session_uid, join.member_id, keys, broker_public)
        self.names: dict[int, str] = {}
        self.roles: dict[int, Role] = {}  # admitted members, with their current role
        self.lobby: dict[int, Ticket] = {}  # members waiting for a host to let them in
        self.waiting: WaitReason | None = None  # this member waits in the lobby
        self.locked = False
        self.permissions = DEFAULT_PERMISSIONS  # what attendees may do (§5.5)
        self.presenter: int | None = None
        self.control_holder: int | None = None
        self._broker_public = broker_public
        self._context = context
        self._rng = rng
        self._clock = clock
        self._socket: ClientConnection | None = None
        self._sequence = 0
        self._closing = False
        self._rekey_task: asyncio.Task[None] | None = None

    # Connection -----------------------------------------------------------------------

    async def connect(self) -> None:
        try:
            self._socket = await connect(
                self.join.relay_url,
                ssl=self._context,
                compression=None,  # compressing ciphertext gains nothing and leaks sizes
                max_size=HEADER_SIZE + limits.MAX_FRAME_BODY,
                open_timeout=15,
            )
        except (OSError, ssl.SSLError, TimeoutError) as error:
            raise ClientError(f"cannot reach the relay {self.join.relay_url}: {error}") from None
        await self.send(Hello(self.join.ticket))
        self._rekey_task = asyncio.create_task(self._rekey_periodically())

    async def reconnect(self) -> None:
        """Drop the link as a network failure would (a ``messages()`` loop on it ends with
        RelayClosed), then connect again with the same ticket: the same member id."""
        if self._rekey_task is not None:
            self._rekey_task.cancel()
        if self._socket is not None:
            self._socket.transport.abort()
            with contextlib.suppress(ConnectionClosed):
                await self._socket.wait_closed()
        await self.connect()

    async def close(self) -> None:
        self._closing = True
        if self._rekey_task is not None:
            self._rekey_task.cancel()
        if self._socket is not None:
            await self._socket.close()

    async def __aenter__(self) -> Member:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # Sending --------------------------------------------------------------------------

    async def _write(self, data: bytes) -> None:
        if self._socket is None:
            raise ClientError("not connected")
        try:
            await self._socket.send(data)
        except ConnectionClosed as closed:
            raise _closed(closed) from None

    async def send(self, message: ControlMessage, target: int = RELAY) -> None:
        """A control message to the relay (or a key commit to everyone)."""
        self._sequence += 1
        header = Header(
            message.TYPE, self.e2e.session_uid, 0, self.member_id, target, self._sequence
        )
        await self._write(Frame(header, encode(message)).serialize())

    async def send_content(
        self, message: ContentMessage, target: int = EVERYONE, flags: Flags = Flags.NONE
    ) -> Header:
        """Seal, sign and send a content message; returns its header."""
        frame = self.e2e.seal(message, target, flags)
        await self._write(frame.serialize())
        return frame.header

    # Receiving ------------------------------------------------------------------------

    async def messages(self) -> AsyncIterator[Received | Rejected]:
        """Everything that arrives, in order, until the session ends or the link drops."""
        socket = self._socket
        if socket is None:
            raise ClientError("not connected")
        while True:
            try:
                data = await socket.recv()
            except ConnectionClosed as closed:
                if self._closing:
                    return
                raise _closed(closed) from None
            if isinstance(data, str):
                raise ClientError("the relay sent text instead of a frame")
            item = await self._handle(data)
            if item is not None:
                yield item

    async def _handle(self, data: bytes) -> Received | Rejected | None:
        try:
            frame = Frame.parse(data)
        except RelaydeskError as error:
            log.warning("unparseable frame from the relay: %s", error)
            return None
        header = frame.header
        try:
            if header.type.is_content:
                content = self.e2e.open(frame, self._clock())
                self._check_permitted(header)
                return Received(header, content)
            message = decode(header.type, frame.body)
            await self._track(header, message)
        except NoEpochKey as error:
            if self.e2e.stray_epoch(frame, self._clock()):
                await self._rekey_if_leader()  # another member led while this one was away
            return Rejected(header, error)
        except RelaydeskError as error:
            return Rejected(header, error)
        return Received(header, message)

    def leads(self, member_id: int) -> bool:
        """The presenter and hosts: the chat rule and annotation rights never bind them."""
        return member_id == self.presenter or self.roles.get(member_id) is Role.HOST

    def _check_permitted(self, header: Header) -> None:
        """The relay enforces what attendees may do; this client checks it again, so a
        relay that forwards a forbidden chat line or stroke gains nothing (§5.5)."""
        sender, rules = header.sender, self.permissions
        if header.type is FrameType.CHAT and not chat_allowed(
            rules.chat, self.leads(sender), header.target,
            header.target != EVERYONE and self.leads(header.target),
        ):  # fmt: skip
            raise NotPermitted(f"member {sender} may not chat there ({rules.chat.name.lower()})")
        if (
            header.type is FrameType.ANNOTATION
            and not self.leads(sender)
            and sender not in rules.annotators
        ):
            raise NotPermitted(f"member {sender} was not let annotate")
        if header.type is FrameType.NOTES and (not self.leads(sender) or header.target != EVERYONE):
            raise NotPermitted(f"member {sender} may not send notes")

    async def _track(self, header: Header, message: AnyMessage) -> None:
        """Keep the roster, roles, positions and keys in step with what the relay says."""
        now = self._clock()
        match message:
            case Roster():
                self.waiting = None
                self.e2e.note_epoch(message.epoch)
                for entry in message.members:
                    self._add(entry.ticket, entry.role, now)
                self.lobby = {e.member_id: self._waiter(e, now) for e in message.lobby}
                self.presenter = message.presenter or None
                self.control_holder = message.control_holder or None
                self.locked = message.locked
                await self._rekey_if_leader()
            case Waiting(entry, reason) if entry.member_id == self.member_id:
                self.waiting = reason
            case Waiting(entry):
                self.lobby[entry.member_id] = self._waiter(entry, now)
            case Admit(member_id):
                self.lobby.pop(member_id, None)
            case MemberJoined(entry):
                self.lobby.pop(entry.member_id, None)
                self._add(entry.ticket, entry.role, now)
                await self._rekey_if_leader()
            case MemberLeft(member_id):
                self.lobby.pop(member_id, None)
                self.e2e.remove_member(member_id)
                self.roles.pop(member_id, None)
                await self._rekey_if_leader()
            case RoleChange(member_id, role):
                self.roles[member_id] = role
                self.e2e.set_role(member_id, role)
                await self._rekey_if_leader()  # the key leader follows the host (§6.1)
            case Lock(locked):
                self.locked = locked
            case Permissions():
                self.permissions = message
            case Grant(ConsentKind.PRESENT, member_id):
                self.presenter, self.control_holder = member_id, None
            case Grant(ConsentKind.CONTROL, member_id):
                self.control_holder = member_id
            case Revoke(ConsentKind.PRESENT, member_id) if member_id == self.presenter:
                self.presenter = self.control_holder = None
            case Revoke(ConsentKind.CONTROL):
                self.control_holder = None
            case KeyCommit():
                self.e2e.note_epoch(header.epoch)
                self.e2e.apply_commit(header, message, now)
            case _:
                pass

    def _add(self, ticket_blob: bytes, role: Role, now: float) -> None:
        ticket = self.e2e.add_member(ticket_blob, now, role)
        self.names[ticket.member_id] = ticket.display_name
        self.roles[ticket.member_id] = role

    def _waiter(self, entry: RosterEntry, now: float) -> Ticket:
        """A lobby entry's ticket, checked against the broker key: the host decides on
        the name and e-mail in it. It is no member: it gets no key (§5.1)."""
        ticket = verify_ticket(
            entry.ticket, self._broker_public, now=now, session_uid=self.e2e.session_uid,
            check_expiry=False,
        )  # fmt: skip
        if ticket.member_id != entry.member_id:
            raise TicketError("a lobby entry's ticket names another member")
        self.names[ticket.member_id] = ticket.display_name
        return ticket

    @property
    def is_host(self) -> bool:
        return self.roles.get(self.member_id) is Role.HOST

    async def _rekey_if_leader(self) -> None:
        if self.e2e.needs_rekey(self._clock()):
            frame = self.e2e.start_epoch(self._rng, self._clock())
            await self._write(frame.serialize())

    async def _rekey_periodically(self) -> None:
        """At least every EPOCH_MAX_AGE_SECONDS, a new epoch (SECURITY.md, step 6)."""
        with contextlib.suppress(ClientError):
            while True:
                await asyncio.sleep(REKEY_CHECK_SECONDS)
                await self._rekey_if_leader()


def _closed(closed: ConnectionClosed) -> RelayClosed:
    frame = closed.rcvd
    return RelayClosed(frame.code if frame else 1006, frame.reason if frame else "connection lost")
