"""One member's live link to a session through a relay (docs/protocol.md §7, §11).

It keeps the roster (every ticket checked against the broker key), applies key commits,
leads the keys when it is the key leader, and seals and opens content. What it receives
comes out of ``messages()`` already decrypted; what it cannot accept comes out as
``Rejected`` (nothing of it is acted on).

The link is direct TLS or WebSocket (client/links.py picks). Given a ``refresher``, a
member whose link drops for a reason that is not final (§9) gets a fresh ticket and
connects again, backing off, and ``messages()`` goes on after a ``Reconnected`` item.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from relaydesk import limits
from relaydesk.client.api import JoinResult, Refresher
from relaydesk.client.chatlog import ChatLog
from relaydesk.client.links import Connected, answer_challenge, close_quietly, connect_relay
from relaydesk.errors import (
    ApiError,
    ClientError,
    CloseCode,
    DecryptionFailed,
    NoEpochKey,
    NotPermitted,
    PinningError,
    ProxyRefused,
    RelayClosed,
    RelaydeskError,
    SignatureInvalid,
    TicketError,
)
from relaydesk.protocol.e2e import EndToEnd, Epoch
from relaydesk.protocol.frames import EVERYONE, RELAY, Flags, Frame, FrameType, Header
from relaydesk.protocol.keys import MemberKeys, Rng
from relaydesk.protocol.messages import (
    DEFAULT_PERMISSIONS,
    Admit,
    AnyMessage,
    Chat,
    ConsentKind,
    ContentMessage,
    ControlMessage,
    Grant,
    KeyCommit,
    Lock,
    MemberJoined,
    MemberLeft,
    Permissions,
    Recording,
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
from relaydesk.protocol.tickets import (
    SITE_RULES,
    Ticket,
    TicketRule,
    read_ticket,
    verify_ticket,
)

log = logging.getLogger(__name__)

REKEY_CHECK_SECONDS = 5.0
# How a frame sealed in an epoch whose commit has not come yet fails to open.
EARLY_ERRORS = (NoEpochKey, SignatureInvalid, DecryptionFailed)

# Closes after which the same ticket must not come back (§9), and NORMAL: this member
# left, or a newer connection of its own replaced this one.
FINAL_CLOSE_CODES = frozenset(
    {
        CloseCode.NORMAL,
        CloseCode.BAD_TICKET,
        CloseCode.EXPELLED,
        CloseCode.SESSION_ENDED,
        CloseCode.REFUSED_ENTRY,
    }
)


@dataclass(frozen=True, slots=True)
class _Carried:
    """A host's controls waiting to be set again on a new home relay."""

    waiting: set[int]  # the members who were in, to be back first
    deadline: float
    locked: bool
    rules: Permissions


class FrameTap(Protocol):
    """Sees what this member's link carries, for a recording (recording/writer.py):
    control frames as received, content frames once opened and checked (so a frame the
    client refused is never recorded), frames as sent, and every epoch applied."""

    def frame(self, data: bytes, sent: bool) -> None: ...

    def epoch(self, number: int, leader: int, members: frozenset[int], secret: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class Received:
    header: Header
    message: AnyMessage


@dataclass(frozen=True, slots=True)
class Rejected:
    """A frame that failed a check (forged, replayed, undecryptable); it was dropped."""

    header: Header
    error: RelaydeskError


@dataclass(frozen=True, slots=True)
class Reconnected:
    """The link dropped and is back, same member id; ``description`` says where."""

    description: str


class Member:
    def __init__(
        self,
        join: JoinResult,
        keys: MemberKeys,
        context: ssl.SSLContext,
        rng: Rng = os.urandom,
        clock: Callable[[], float] = time.time,
        refresher: Refresher | None = None,
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
        self.recording: int | None = None  # the host recording the session (§3.23)
        self.tickets: dict[int, bytes] = {}  # every member's ticket, as the broker signed it
        self.tap: FrameTap | None = None  # a recording of this member's link, if any
        self._broker_public = broker_public
        self._keys = keys
        self._context = context
        self._rng = rng
        self._clock = clock
        self._refresher = refresher
        self._connected: Connected | None = None
        self._relink = asyncio.Lock()  # one new link at a time, whoever saw the drop
        self._sequence = 0
        self._closing = False
        self._rekey_task: asyncio.Task[None] | None = None
        self._home_moved = False  # the last refresh named another home relay
        self._carrying: _Carried | None = None  # controls to set again on a new home
        self.chat = ChatLog(self.member_id, clock)  # replay and dedupe across reconnects
        # Bytes of whole frames this member wrote to and read from its relay links, every
        # link it had (the client's session log, docs/meetings.md "Session log").
        self.bytes_sent = 0
        self.bytes_received = 0
        # Content sealed in an epoch not held yet, waiting for its commit (§6.3).
        self._early: deque[tuple[Frame, float]] = deque()

    # Connection -----------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect to the first relay and transport that answers (client/links.py)."""
        await self._open()
        self._rekey_task = asyncio.create_task(self._rekey_periodically())

    @property
    def link_description(self) -> str:
        """Where this member is connected, e.g. "relay r1 by direct TLS"."""
        return self._connected.description if self._connected else "not connected"

    async def _open(self, avoid: str | None = None) -> None:
        """Connect to the join answer's relays, home first. ``avoid``: a relay whose link
        just failed; while the broker still names it home, only it is tried (the others
        would carry this member to a home that may be dead, §11)."""
        relays = self.join.relays
        if avoid and relays and relays[0].name == avoid:
            relays = relays[:1]
        connected = await connect_relay(
            relays, self.join.relay_url, self._context, self.join.session_uid
        )
        try:  # HELLO straight on the new link: this must not start another recovery
            name = connected.relay.name if self.join.relays else self._ticket_relay()
            hello = await answer_challenge(connected.link, self.join.ticket, self._keys, name)
            data = self._control_frame(hello, RELAY)
            await connected.link.send(data)
            self.bytes_sent += len(data)
        except BaseException:
            connected.link.abort()
            raise
        self._connected = connected
        log.info("member %d connected to %s", self.member_id, connected.description)

    def _ticket_relay(self) -> str:
        """The home relay's name as this member's ticket gives it (a join answer that
        lists no relays names none)."""
        return verify_ticket(self.join.ticket, self._broker_public, now=0).relay

    async def reconnect(self) -> None:
        """Drop the link as a network failure would, then connect again with the same
        ticket: the same member id. Without a refresher, a ``messages()`` loop on the old
        link ends with RelayClosed; with one, it goes on after ``Reconnected``."""
        if self._rekey_task is not None:
            self._rekey_task.cancel()
        async with self._relink:
            if self._connected is not None:
                self._connected.link.abort()
            await self._open()
        self._rekey_task = asyncio.create_task(self._rekey_periodically())

    async def _recover(self, failed: Connected, closed: RelayClosed) -> None:
        """The link ``failed`` dropped with ``closed``: return once a new one is up (at
        once if someone else already replaced it), or raise ``closed`` if the drop is
        final, there is no refresher, or this member is closing. Proxy and pinning
        refusals are raised as they are: trying again cannot help."""
        if self._refresher is None or closed.code in FINAL_CLOSE_CODES:
            raise closed
        async with self._relink:
            if self._connected is not failed:
                if self._connected is None or self._closing:
                    raise closed
                return
            failed.link.abort()
            delay = limits.RECONNECT_FIRST_DELAY_SECONDS
            while not self._closing:
                await asyncio.sleep(delay)
                try:
                    await self._refresh_and_open(failed)
                except (ProxyRefused, PinningError):
                    raise
                except ApiError as error:
                    if 400 <= error.status < 500 and error.status != 429:
                        raise RelayClosed(
                            closed.code, f"{closed.reason}; no new ticket: {error}"
                        ) from None
                    log.info("member %d: refresh failed: %s", self.member_id, error)
                except (ClientError, OSError) as error:
                    log.info("member %d: reconnect failed: %s", self.member_id, error)
                else:
                    if self._closing and self._connected is not None:
                        await close_quietly(self._connected.link)
                        break
                    return
                delay = min(2 * delay, limits.RECONNECT_MAX_DELAY_SECONDS)
            raise closed

    async def _refresh_and_open(self, failed: Connected) -> None:
        assert self._refresher is not None
        joined = await self._refresher(self.join.ticket, failed.relay.name or None)
        if joined.member_id != self.member_id or joined.session_uid != self.join.session_uid:
            raise RelayClosed(CloseCode.BAD_TICKET, "the refreshed ticket is another member's")
        self._home_moved = _home(joined) != _home(self.join)
        self.join = joined
        await self._open(avoid=failed.relay.name or None)

    async def close(self) -> None:
        self._closing = True
        if self._rekey_task is not None:
            self._rekey_task.cancel()
        if self._connected is not None:
            await close_quietly(self._connected.link)

    async def __aenter__(self) -> Member:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # Sending --------------------------------------------------------------------------

    async def _write(self, data: bytes) -> None:
        """Send a frame; across a drop that is not final, on the link that replaces it.
        Once this member is closing, what its closed link no longer takes is dropped: a
        key commit answering a leave that raced with ``close()`` is no rejected frame."""
        while True:
            connected = self._connected
            if connected is None:
                raise ClientError("not connected")
            try:
                await connected.link.send(data)
                self.bytes_sent += len(data)
                if self.tap is not None:
                    self.tap.frame(data, sent=True)
                return
            except RelayClosed as closed:
                if self._closing:
                    return
                await self._recover(connected, closed)

    def _control_frame(self, message: ControlMessage, target: int) -> bytes:
        self._sequence += 1
        header = Header(
            message.TYPE, self.e2e.session_uid, 0, self.member_id, target, self._sequence
        )
        return Frame(header, encode(message)).serialize()

    async def send(self, message: ControlMessage, target: int = RELAY) -> None:
        """A control message to the relay (or a key commit to everyone)."""
        await self._write(self._control_frame(message, target))

    async def send_content(
        self, message: ContentMessage, target: int = EVERYONE, flags: Flags = Flags.NONE
    ) -> Header:
        """Seal, sign and send a content message; returns its header."""
        if isinstance(message, Chat):  # numbered and kept, to be sent again after a drop
            message = self.chat.stamp(message, target, self.roles)
        frame = self.e2e.seal(message, target, flags)
        await self._write(frame.serialize())
        return frame.header

    # Receiving ------------------------------------------------------------------------

    async def messages(self) -> AsyncIterator[Received | Rejected | Reconnected]:
        """Everything that arrives, in order, until the session ends or the link drops
        for good (RelayClosed). A drop the member recovers from (``refresher``) shows as
        one ``Reconnected`` item; the loop then reads the new link."""
        connected = self._connected
        if connected is None:
            raise ClientError("not connected")
        while True:
            try:
                data = await connected.link.recv()
                self.bytes_received += len(data)
            except RelayClosed as closed:
                if self._closing:
                    return
                try:
                    await self._recover(connected, closed)
                except RelayClosed:
                    if self._closing:
                        return
                    raise
                assert self._connected is not None
                connected = self._connected
                yield Reconnected(connected.description)
                continue
            for item in await self._receive(data):
                yield item

    async def _receive(self, data: bytes) -> list[Received | Rejected]:
        """What one frame from the relay gives: its own outcome (``_handle``) and, after
        a key commit, the early frames that commit lets open; early frames that waited
        too long, refused."""
        items = self._expire_early()
        item = await self._handle(data)
        if item is not None:
            items.append(item)
        if self._early and data[1:2] == bytes([FrameType.KEY_COMMIT]):
            items += self._retry_early()
        return items

    async def _handle(self, data: bytes) -> Received | Rejected | None:
        try:
            frame = Frame.parse(data)
        except RelaydeskError as error:
            log.warning("unparseable frame from the relay: %s", error)
            return None
        return await self._handle_frame(frame)

    def _open_content(self, frame: Frame) -> Received | None:
        """A content frame opened and checked; None for a chat line shown already."""
        header = frame.header
        content = self.e2e.open(frame, self._clock())
        self._check_permitted(header)
        if self.tap is not None:
            self.tap.frame(frame.serialize(), sent=False)
        if isinstance(content, Chat) and not self.chat.first_showing(header.sender, content):
            return None  # a line sent again after a reconnect, shown already
        return Received(header, content)

    def _is_early(self, frame: Frame) -> bool:
        """Sealed in an epoch this member does not hold (yet): its commit may still be on
        the way. Frames of different senders may overtake each other around a reconnect
        or a failover, so such a frame waits a little instead of being dropped (§6.3)."""
        current = self.e2e.current
        if current is None or frame.header.epoch > current.number:
            return True
        # The number of a stand-in's epoch: the returning leader's epoch of that number,
        # which replaces it (§6.2), may be on its way.
        return frame.header.epoch == current.number and current.leader != self.e2e.leader

    def _replaced(self, before: Epoch) -> bool:
        """The epoch ``before`` was a stand-in's, replaced by the leader's of the same
        number (§6.2)."""
        after = self.e2e.current
        return (
            after is not None
            and after.number == before.number != 0
            and (after.leader != before.leader)
        )

    def _hold(self, frame: Frame) -> None:
        if len(self._early) >= limits.MAX_EARLY_FRAMES:
            oldest, _ = self._early.popleft()
            log.info("dropped an early frame of member %d", oldest.header.sender)
        self._early.append((frame, self._clock()))

    def _retry_early(self) -> list[Received | Rejected]:
        """After a key commit: open what waited for it, in arrival order."""
        waiting, self._early = self._early, deque()
        items: list[Received | Rejected] = []
        for frame, at in waiting:
            try:
                item = self._open_content(frame)
            except EARLY_ERRORS as error:
                if self._is_early(frame):
                    self._early.append((frame, at))
                else:
                    items.append(Rejected(frame.header, error))
                continue
            except RelaydeskError as error:
                items.append(Rejected(frame.header, error))
                continue
            if item is not None:
                items.append(item)
        return items

    def _expire_early(self) -> list[Received | Rejected]:
        limit = self._clock() - limits.EARLY_FRAME_SECONDS
        expired: list[Received | Rejected] = []
        while self._early and self._early[0][1] < limit:
            frame, _ = self._early.popleft()
            expired.append(Rejected(frame.header, NoEpochKey("its epoch's key never came")))
        return expired

    async def _handle_frame(self, frame: Frame) -> Received | Rejected | None:
        header = frame.header
        try:
            if header.type.is_content:
                try:
                    return self._open_content(frame)
                except EARLY_ERRORS as error:
                    stray = isinstance(error, NoEpochKey)
                    if stray and self.e2e.stray_epoch(frame, self._clock()):
                        await self._rekey_if_leader()  # another led while this one was away
                    if not self._is_early(frame):
                        raise
                    self._hold(frame)
                    return None
            if self.tap is not None:
                self.tap.frame(frame.serialize(), sent=False)
            message = decode(header.type, frame.body)
            current = self.e2e.current
            self.chat.note(message, (current.number, current.leader) if current else (0, 0))
            await self._track(header, message)
            await self._carry_when_back()
            if current is not None and self._replaced(current):
                self.chat.again((current.number, current.leader))  # it opens for no one now
            # Replays go out only in an epoch the key leader of those present made: a
            # stand-in's epoch the relay may have refused to pass on once the leader was
            # back, and whose keys the receiver then never gets (§11).
            epoch = self.e2e.current
            if epoch is not None and epoch.leader == self.e2e.leader:
                for line, member in self.chat.due((epoch.number, epoch.leader), epoch.members):
                    await self._write(self.e2e.seal(line, member).serialize())
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
                await self._take_roster(message, now)
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
                self._tap_epoch(self.e2e.apply_commit(header, message, now))
            case Recording(member_id, active):
                if active:
                    self.recording = member_id
                elif self.recording == member_id:
                    self.recording = None
            case _:
                pass

    async def _take_roster(self, roster: Roster, now: float) -> None:
        """The relay's whole view, on every (re)connection: whoever is not in it left
        while this member's link was down."""
        rejoined = self.e2e.current is not None  # a roster after a reconnect
        was_locked, rules, were_here = self.locked, self.permissions, set(self.roles)
        self.waiting = None
        self.e2e.note_epoch(roster.epoch)
        present = {entry.member_id for entry in roster.members}
        for gone in set(self.roles) - present:
            self.e2e.remove_member(gone)
            self.roles.pop(gone, None)
        for entry in roster.members:
            self._add(entry.ticket, entry.role, now)
        self.lobby = {e.member_id: self._waiter(e, now) for e in roster.lobby}
        self.presenter = roster.presenter or None
        self.control_holder = roster.control_holder or None
        self.locked = roster.locked
        self.recording = roster.recording or None
        self.permissions = DEFAULT_PERMISSIONS  # a PERMISSIONS follows when they differ
        if rejoined and self._home_moved and self.is_host:  # a new home knows nothing
            await self._carry_controls(was_locked, rules, were_here - {self.member_id})
        self._home_moved = False
        # A roster after a reconnect: the key leader commits anew, whatever epoch the
        # roster names. A new home after a failover never saw this member's epoch, and
        # while the leader was away another member may have led an epoch that the relay
        # refused to pass on once the leader was back: no one else would ever end it.
        await self._rekey_if_leader(anew=rejoined)

    async def _carry_controls(
        self, was_locked: bool, rules: Permissions, were_here: set[int]
    ) -> None:
        """A host back on a new home relay (the session moved) sets again what that relay
        cannot know, once the members who were in are back (a locked relay would refuse
        them, and the rules may name them) or RELOCK_WAIT_SECONDS passed: what attendees
        may do, and the lock. The tickets carry admission and roles (§7.3, §11)."""
        if was_locked or rules != DEFAULT_PERMISSIONS:
            deadline = self._clock() + limits.RELOCK_WAIT_SECONDS
            self._carrying = _Carried(were_here, deadline, was_locked, rules)
            await self._carry_when_back()

    async def _carry_when_back(self) -> None:
        carried = self._carrying
        if carried is None:
            return
        if not carried.waiting <= set(self.roles) and self._clock() < carried.deadline:
            return
        self._carrying = None
        if not self.is_host:
            return
        if carried.rules != DEFAULT_PERMISSIONS:
            present = set(self.roles)
            annotators = tuple(m for m in carried.rules.annotators if m in present)
            await self.send(msgspec.structs.replace(carried.rules, annotators=annotators))
        if carried.locked and not self.locked:
            await self.send(Lock(True))

    def _add(self, ticket_blob: bytes, role: Role, now: float) -> None:
        ticket = self.e2e.add_member(ticket_blob, now, role)
        self.tickets[ticket.member_id] = ticket_blob
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

    @property
    def site_rules(self) -> TicketRule:
        """The site policy's bits of this member's own ticket (NO_SHARING, NO_CONTROL,
        §7.2): what the relay will refuse it, known before asking."""
        try:
            return read_ticket(self.join.ticket)[2].rules & SITE_RULES
        except TicketError:
            return TicketRule(0)  # the relay says what is wrong with it

    async def _rekey_if_leader(self, anew: bool = False) -> None:
        if self._closing:
            return  # a member leaving leads no new epoch
        if self.e2e.needs_rekey(self._clock()) or (anew and self.e2e.is_leader):
            frame = self.e2e.start_epoch(self._rng, self._clock())
            if self.e2e.current is not None:
                self._tap_epoch(self.e2e.current)
            await self._write(frame.serialize())

    def _tap_epoch(self, epoch: Epoch) -> None:
        if self.tap is not None:
            self.tap.epoch(epoch.number, epoch.leader, epoch.members, epoch.secret)

    async def _rekey_periodically(self) -> None:
        """At least every EPOCH_MAX_AGE_SECONDS, a new epoch (SECURITY.md, step 6)."""
        with contextlib.suppress(ClientError):
            while True:
                await asyncio.sleep(REKEY_CHECK_SECONDS)
                await self._rekey_if_leader()


def _home(join: JoinResult) -> str:
    """The session's home relay as a join answer names it."""
    return join.relays[0].name if join.relays else join.relay_url
