"""Relays sharing a session through core NATS: switched, never stored (docs §9).

A session lives on one **home** relay, whose hub runs its rules. A member connected to
another relay is **forwarded**: that relay carries its frames to the home and the home's
frames back, and the home's hub sees it as a normal ``Connection`` whose outbox drains to
NATS. Subjects (``<uid>`` = the session uid in hex):

- ``relaydesk.relay.<name>.join``: a forwarded member's HELLO, to its home relay;
- ``relaydesk.session.<uid>.home``: its further frames and its leaving, to the home;
- ``relaydesk.session.<uid>.relay.<name>``: the home's frames (and closes) for the
  members on relay ``<name>``;
- ``relaydesk.session.<uid>.claim``: a relay became the home with placement P; an older
  home closes its members with ``CloseCode.MOVED``;
- ``relaydesk.relays.alive``: every relay's name, every BRIDGE_HEARTBEAT_SECONDS.

Each bridged message is ``kind (1) | relay name length (1) | name | member id (u32) |
payload``. Nothing is kept: a relay that is not subscribed simply does not get it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from dataclasses import dataclass, field
from enum import IntEnum

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from relaydesk import limits
from relaydesk.errors import CloseCode, FrameError, RelaydeskError
from relaydesk.protocol.frames import HEADER_SIZE, RELAY, Frame, FrameType, Header, parse_header
from relaydesk.protocol.messages import LeaveReason, Refresh, encode
from relaydesk.relay.hub import Connection, RelayHub, error_frame, is_relay_name

log = logging.getLogger(__name__)

ALIVE = "relaydesk.relays.alive"
MAX_PENDING_FRAMES = 1000  # a forwarded member's frames held until its home answers
_MEMBER = struct.Struct(">I")
_CLAIM = struct.Struct(">I")
_CLOSE = struct.Struct(">H")


class Kind(IntEnum):
    JOIN = 1  # payload: the HELLO frame
    FRAME = 2  # payload: one frame, as received
    LEAVE = 3  # payload: the LeaveReason (1 byte)
    CLOSE = 4  # payload: close code (u16) + reason (UTF-8)


def join_subject(relay: str) -> str:
    return f"relaydesk.relay.{relay}.join"


def home_subject(uid: bytes) -> str:
    return f"relaydesk.session.{uid.hex()}.home"


def relay_subject(uid: bytes, relay: str) -> str:
    return f"relaydesk.session.{uid.hex()}.relay.{relay}"


def claim_subject(uid: bytes) -> str:
    return f"relaydesk.session.{uid.hex()}.claim"


def pack(kind: Kind, relay: str, member_id: int, payload: bytes = b"") -> bytes:
    name = relay.encode()
    return bytes([kind, len(name)]) + name + _MEMBER.pack(member_id) + payload


def unpack(data: bytes) -> tuple[Kind, str, int, bytes]:
    """Bounded: a malformed message raises FrameError (and is ignored by the caller)."""
    try:
        kind, size = Kind(data[0]), data[1]
        relay = data[2 : 2 + size].decode("ascii")
        (member_id,) = _MEMBER.unpack_from(data, 2 + size)
    except (IndexError, ValueError, struct.error, UnicodeDecodeError):
        raise FrameError("malformed bridged message") from None
    if not is_relay_name(relay):
        raise FrameError("malformed relay name in a bridged message")
    return kind, relay, member_id, data[6 + size :]


def _session_uid(msg: Msg) -> bytes:
    """The session a ``relaydesk.session.<uid>.…`` subject names (ours: well formed)."""
    return bytes.fromhex(msg.subject.split(".")[2])


def _session_message(msg: Msg) -> tuple[bytes, Kind, str, int, bytes] | None:
    """(session uid, kind, sender relay, member id, payload); None for a malformed one."""
    try:
        return (_session_uid(msg), *unpack(msg.data))
    except FrameError:
        return None


class RemoteConnection(Connection):
    """On the home: a member sitting on relay ``via``; its outbox drains to NATS."""

    def __init__(self, via: str) -> None:
        super().__init__()
        self.remote = True
        self.via = via
        self.quiet = False  # replaced by a newer link of the same member: tell nobody
        self.writer: asyncio.Task[None] | None = None


@dataclass
class _Homed:
    """A session this relay is home of."""

    placement: int
    subscriptions: list[Subscription] = field(default_factory=list)
    remote: dict[int, RemoteConnection] = field(default_factory=dict)


@dataclass
class _Carried:
    """A session with members here whose home is another relay."""

    home: str
    subscription: Subscription | None = None
    members: dict[int, Connection] = field(default_factory=dict)
    pending: dict[int, list[bytes]] = field(default_factory=dict)  # until the home answers


class NatsBridge:
    """The hub's bridge over one NATS connection. ``await NatsBridge.connect(url, name,
    hub)`` starts it (and sets ``hub.bridge``); ``await bridge.close()`` stops it."""

    def __init__(self, nc: Client, name: str, hub: RelayHub) -> None:
        self._nc = nc
        self.name = name
        self._hub = hub
        self._homed: dict[bytes, _Homed] = {}
        self._carried: dict[bytes, _Carried] = {}
        self._seen: dict[str, float] = {}  # relay name -> when last heard (monotonic)
        self._out: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._subscriptions: list[Subscription] = []

    @classmethod
    async def connect(cls, url: str, name: str, hub: RelayHub) -> NatsBridge:
        nc = await nats.connect(url, name=f"relaydesk-relay-{name}", allow_reconnect=True)
        bridge = cls(nc, name, hub)
        bridge._subscriptions = [
            await nc.subscribe(ALIVE, cb=bridge._on_alive),
            await nc.subscribe(join_subject(name), cb=bridge._on_join),
        ]
        bridge._tasks = [
            asyncio.create_task(bridge._publisher()),
            asyncio.create_task(bridge._heartbeat()),
        ]
        hub.bridge = bridge
        return bridge

    @property
    def connected(self) -> bool:
        return bool(self._nc.is_connected)

    async def close(self) -> None:
        """Stop: say nothing more (other relays see this one go silent), disconnect."""
        self._hub.bridge = None
        for task in self._tasks:
            task.cancel()
        for homed in self._homed.values():
            for remote in homed.remote.values():
                if remote.writer is not None:
                    remote.writer.cancel()
        with contextlib.suppress(Exception):
            await self._nc.close()

    # Sending: one task, so messages leave in the order the hub made them -------------

    def _publish(self, subject: str, data: bytes) -> None:
        self._out.put_nowait((subject, data))

    async def _publisher(self) -> None:
        while True:
            item = await self._out.get()
            if item is None:
                return
            try:
                await self._nc.publish(*item)
            except Exception as error:  # the NATS link is down: lost, like a dropped link
                log.warning("bridge publish failed: %s", error)

    async def _heartbeat(self) -> None:
        while True:
            self._publish(ALIVE, self.name.encode())
            self._check_liveness()
            await asyncio.sleep(limits.BRIDGE_HEARTBEAT_SECONDS)

    async def _on_alive(self, msg: Msg) -> None:
        with contextlib.suppress(UnicodeDecodeError):
            name = msg.data.decode("ascii")
            if is_relay_name(name):
                self._seen[name] = time.monotonic()

    def _silent(self, relay: str) -> bool:
        seen = self._seen.get(relay)
        return seen is not None and time.monotonic() - seen > limits.BRIDGE_DEAD_SECONDS

    def _check_liveness(self) -> None:
        """The home drops members of silent relays (they left); a forwarder closes
        members whose home went silent, so that they fail over."""
        for homed in list(self._homed.values()):
            for remote in list(homed.remote.values()):
                if self._silent(remote.via):
                    self._hub.disconnect(remote, LeaveReason.DISCONNECTED)
        for uid, carried in list(self._carried.items()):
            if self._silent(carried.home):
                for connection in list(carried.members.values()):
                    connection.close(CloseCode.MOVED, f"relay {carried.home} is gone")
                    self._forget(uid, connection)

    # The forwarder's side ---------------------------------------------------------

    def forward(self, connection: Connection, hello: bytes, home: str) -> None:
        ticket = connection.ticket
        assert ticket is not None
        uid = ticket.session_uid
        carried = self._carried.get(uid)
        if carried is None:
            carried = self._carried[uid] = _Carried(home)
            self._tasks.append(asyncio.create_task(self._carry(uid, carried)))
        previous = carried.members.get(ticket.member_id)
        if previous is not None and previous is not connection:
            previous.close(CloseCode.NORMAL, "replaced by a new connection")
        carried.members[ticket.member_id] = connection
        carried.pending[ticket.member_id] = []
        self._seen.setdefault(home, time.monotonic())  # a grace period to hear from it
        self._publish(join_subject(home), pack(Kind.JOIN, self.name, ticket.member_id, hello))

    async def _carry(self, uid: bytes, carried: _Carried) -> None:
        subject = relay_subject(uid, self.name)
        carried.subscription = await self._nc.subscribe(subject, cb=self._from_home)
        # Subscribed now: the JOINs sent meanwhile are answered here (NATS keeps one
        # connection's messages in order, and this subscription precedes the answers).

    def send(self, connection: Connection, data: bytes) -> None:
        ticket = connection.ticket
        assert ticket is not None
        carried = self._carried.get(ticket.session_uid)
        if carried is None or carried.members.get(ticket.member_id) is not connection:
            return
        pending = carried.pending.get(ticket.member_id)
        if pending is not None:  # the home has not answered the JOIN yet
            if len(pending) >= MAX_PENDING_FRAMES:
                connection.close(CloseCode.SLOW_CONSUMER, "too many frames before admission")
            pending.append(data)
            return
        self._publish(
            home_subject(ticket.session_uid), pack(Kind.FRAME, self.name, ticket.member_id, data)
        )

    def leave(self, connection: Connection, reason: LeaveReason) -> None:
        ticket = connection.ticket
        assert ticket is not None
        if self._forget(ticket.session_uid, connection):
            payload = bytes([reason])
            message = pack(Kind.LEAVE, self.name, ticket.member_id, payload)
            self._publish(home_subject(ticket.session_uid), message)

    def _forget(self, uid: bytes, connection: Connection) -> bool:
        carried = self._carried.get(uid)
        if carried is None or carried.members.get(connection.member_id) is not connection:
            return False
        del carried.members[connection.member_id]
        carried.pending.pop(connection.member_id, None)
        if not carried.members:
            del self._carried[uid]
            if carried.subscription is not None:
                self._tasks.append(asyncio.create_task(_unsubscribe(carried.subscription)))
        return True

    async def _from_home(self, msg: Msg) -> None:
        if (read := _session_message(msg)) is None:
            return
        uid, kind, _, member_id, payload = read
        carried = self._carried.get(uid)
        connection = carried.members.get(member_id) if carried is not None else None
        if carried is None or connection is None:
            return
        pending = carried.pending.pop(member_id, None)
        if pending:  # admitted (or refused): what the member sent meanwhile follows
            for data in pending:
                self.send(connection, data)
        if kind is Kind.CLOSE and len(payload) >= _CLOSE.size:
            (code,) = _CLOSE.unpack_from(payload)
            reason = payload[_CLOSE.size :].decode(errors="replace")
            with contextlib.suppress(ValueError):
                connection.close(CloseCode(code), reason)
                self._forget(uid, connection)
        elif kind is Kind.FRAME and len(payload) >= HEADER_SIZE:
            self._deliver_here(uid, connection, payload)

    def _deliver_here(self, uid: bytes, connection: Connection, data: bytes) -> None:
        try:
            header, _ = parse_header(data[:HEADER_SIZE])
        except RelaydeskError:
            return
        if header.type.is_content:
            connection.content_bytes_queued += len(data)
        needs_picture = connection.outbox.put(header, data)
        if connection.outbox.overflowing:
            connection.close(CloseCode.SLOW_CONSUMER, "too far behind")
        connection.wake()
        if needs_picture:  # this relay dropped screen updates: ask for a whole picture
            asking = Header(FrameType.REFRESH, uid, 0, connection.member_id, RELAY, 0)
            refresh = Frame(asking, encode(Refresh(connection.member_id))).serialize()
            self.send(connection, refresh)

    # The home's side ----------------------------------------------------------------

    def hosting(self, session_uid: bytes, placement: int) -> None:
        homed = self._homed.get(session_uid)
        if homed is None:
            homed = self._homed[session_uid] = _Homed(placement)
            self._tasks.append(asyncio.create_task(self._host(session_uid, homed)))

    async def _host(self, uid: bytes, homed: _Homed) -> None:
        homed.subscriptions = [
            await self._nc.subscribe(home_subject(uid), cb=self._at_home),
            await self._nc.subscribe(claim_subject(uid), cb=self._on_claim),
        ]
        claim = _CLAIM.pack(homed.placement) + self.name.encode()
        self._publish(claim_subject(uid), claim)
        if self._homed.get(uid) is not homed:  # released meanwhile
            for subscription in homed.subscriptions:
                await _unsubscribe(subscription)

    def released(self, session_uid: bytes) -> None:
        homed = self._homed.pop(session_uid, None)
        if homed is not None:
            for subscription in homed.subscriptions:
                self._tasks.append(asyncio.create_task(_unsubscribe(subscription)))

    async def _on_claim(self, msg: Msg) -> None:
        uid = _session_uid(msg)
        homed = self._homed.get(uid)
        if homed is None or len(msg.data) < _CLAIM.size:
            return
        (placement,) = _CLAIM.unpack_from(msg.data)
        if placement > homed.placement:
            log.info("session moved to relay %s", msg.data[_CLAIM.size :].decode(errors="replace"))
            self._hub.move_session(uid)

    async def _on_join(self, msg: Msg) -> None:
        try:
            kind, via, member_id, hello = unpack(msg.data)
        except FrameError:
            return
        if kind is not Kind.JOIN:
            return
        remote = RemoteConnection(via)
        try:
            self._hub.admit(remote, hello)
        except RelaydeskError as error:
            uid = hello[4:20] if len(hello) >= HEADER_SIZE else bytes(16)
            self._send_back(uid, via, member_id, Kind.FRAME, error_frame(uid, error))
            self._send_back(uid, via, member_id, Kind.CLOSE, _close(error.close_code, str(error)))
            return
        uid = remote.ticket.session_uid if remote.ticket else bytes(16)
        homed = self._homed.get(uid)
        if homed is None:  # admitted but the session is not kept (should not happen)
            return
        self._seen.setdefault(via, time.monotonic())
        previous = homed.remote.get(member_id)
        if previous is not None:  # its CLOSE would reach the member's new link
            previous.quiet = True
        homed.remote[member_id] = remote
        remote.writer = asyncio.create_task(self._drain(uid, remote))

    async def _drain(self, uid: bytes, remote: RemoteConnection) -> None:
        """Like the WebSocket driver's writer, with NATS as the socket."""
        member_id = remote.member_id
        while True:
            await remote.wait()
            for data in remote.outbox.take():
                if remote.quiet:
                    continue
                self._send_back(uid, remote.via, member_id, Kind.FRAME, data)
                remote.bytes_out += len(data)
            if remote.close_code is not None:
                if not remote.quiet:
                    payload = _close(remote.close_code, remote.close_reason)
                    self._send_back(uid, remote.via, member_id, Kind.CLOSE, payload)
                self._hub.disconnect(remote, LeaveReason.DISCONNECTED)
                homed = self._homed.get(uid)
                if homed is not None and homed.remote.get(member_id) is remote:
                    del homed.remote[member_id]
                return

    def _send_back(self, uid: bytes, via: str, member_id: int, kind: Kind, data: bytes) -> None:
        self._publish(relay_subject(uid, via), pack(kind, self.name, member_id, data))

    async def _at_home(self, msg: Msg) -> None:
        if (read := _session_message(msg)) is None:
            return
        uid, kind, via, member_id, payload = read
        homed = self._homed.get(uid)
        remote = homed.remote.get(member_id) if homed is not None else None
        if remote is None or remote.via != via:
            return
        if kind is Kind.FRAME:
            self._hub.receive(remote, payload)
        elif kind is Kind.LEAVE:
            left = payload[:1] == bytes([LeaveReason.LEFT])
            self._hub.disconnect(remote, LeaveReason.LEFT if left else LeaveReason.DISCONNECTED)
            remote.close(CloseCode.NORMAL, "left")


def _close(code: CloseCode, reason: str) -> bytes:
    return _CLOSE.pack(code) + reason.encode()[:120]


async def _unsubscribe(subscription: Subscription) -> None:
    with contextlib.suppress(Exception):
        await subscription.unsubscribe()
