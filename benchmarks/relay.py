"""Relay fan-out: delivered messages/s, MB/s and relay CPU per delivered message, over
direct TLS and over WebSocket.

A real ``relaydesk server`` runs as a subprocess, so the relay has a core of its own and
this process is the load generator. An organizer account is added with ``relaydesk
admin user add``; the generator logs in, creates a session and joins 1 + 100 members
through the broker's HTTPS API (once per transport), then speaks the relay protocol
itself: on the direct TLS port (frames back to back) or over WebSocket-over-TLS (a
minimal client: an HTTP upgrade, masked frames out), with a frame counter in, which keeps
the generator cheap enough not to be what is measured.

Member 1 is the sender: it leads the keys (a real KEY_COMMIT for the roster of each
stage), asks to present (PRESENTER_REQUEST naming itself), then sends SCREEN_UPDATE
frames sealed with ``EndToEnd`` (one RAW tile of 1 KiB or 64 KiB, the first of each run
a KEYFRAME), sealed before the clock starts (a pool of them, sent again past the pool).
Receivers do not decrypt: they read every byte and count the SCREEN_UPDATE frames; a run
ends when every receiver has counted every frame. The sender keeps at most a window of
frames ahead of the slowest receiver (below the relay's screen backlog, so nothing is
dropped); the relay sees one sender and N receivers, 1 -> 1, 1 -> 10 and 1 -> 100.

Relay CPU is the server process's CPU time over the run (its threads' run time in
``/proc/PID/task/*/schedstat``, nanoseconds), divided by the messages delivered. MB =
10^6 bytes of delivered frames (header + sealed body). Run alone: ``python -m
benchmarks.relay [--quick]``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import re
import resource
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from websockets.speedups import apply_mask

from benchmarks import (
    KIB,
    Row,
    Section,
    format_size,
    standalone,
    version_of,
)
from relaydesk.client import tls
from relaydesk.client.api import BrokerApi, JoinResult, b64url, join_result
from relaydesk.protocol.e2e import EndToEnd
from relaydesk.protocol.frames import EVERYONE, HEADER_SIZE, RELAY, Flags, Frame, FrameType, Header
from relaydesk.protocol.keys import MemberKeys
from relaydesk.protocol.messages import (
    Challenge,
    ControlMessage,
    Hello,
    PresenterRequest,
    ScreenUpdate,
    Tile,
    TileEncoding,
    decode,
    encode,
)
from relaydesk.protocol.tickets import prove_hello

TITLE = "relay"

PAYLOADS = (1 * KIB, 64 * KIB)  # RAW tiles of 16x16 and 128x128 pixels
FANOUTS = (1, 10, 100)
# PERFORMANCE.md targets.
CPU_TARGET_US = 5.0  # relay CPU per delivered 1 KiB message
BANDWIDTH_TARGET = 1e9  # bytes/s delivered at 64 KiB, one core
# PERFORMANCE.md, measured before the relay existed (1 -> 10, 1 KiB, uvloop).
PROTOTYPES = "aiohttp 76k msg/s, 9 us/msg; websockets broadcast() 91k msg/s, 7 us/msg"

USERNAME = "benchmark"
PASSWORD = "relaydesk-benchmark-password"  # a throwaway account in a throwaway data dir
# The broker allows 30 joins per client address in a burst (limits.JOIN_PER_ADDRESS_BURST);
# members join from 127.0.0.1, 127.0.0.2, ... (all loopback on Linux).
JOINS_PER_ADDRESS = 25
START_TIMEOUT = 60.0
RUN_TIMEOUT = 60.0
WINDOW_BYTES = 2 * 1024 * KIB  # frames in flight past the slowest receiver (< 8 MiB backlog)
SEALED_POOL = 2_000  # distinct sealed frames per run; more are sent again

_READY = re.compile(r"relaydesk server ready at (\S+)")
_DIRECT = re.compile(r"direct TLS on (\S+)")
_FINGERPRINT = re.compile(r"fingerprint: ([0-9A-F:]{95})")
_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# The server --------------------------------------------------------------------------


def relaydesk_command() -> list[str]:
    """The ``relaydesk`` console script of this environment."""
    script = Path(sys.executable).with_name("relaydesk")
    if script.exists():
        return [str(script)]
    found = shutil.which("relaydesk")
    if found is None:
        raise RuntimeError("the relaydesk command is not installed in this environment")
    return [found]


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    url: str
    fingerprint: str
    context: ssl.SSLContext  # pinned to the server's certificate
    data: Path
    log: Path

    @property
    def tcp_address(self) -> str:
        """HOST:PORT of the relay's direct TLS transport."""
        found = _DIRECT.search(self.log.read_text(errors="replace"))
        if found is None:
            raise RuntimeError("the server did not say where its direct TLS port is")
        return found.group(1)

    @property
    def host_port(self) -> str:
        return self.url.removeprefix("https://")

    def cpu_seconds(self) -> float:
        """CPU time of the whole server process so far: the sum of its threads' run
        time in /proc/PID/task/*/schedstat (nanoseconds), else utime + stime (ticks)."""
        return process_cpu_seconds(self.process.pid)


def process_cpu_seconds(pid: int) -> float:
    try:
        total = 0
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(FileNotFoundError):  # a thread that just ended
                total += int((task / "schedstat").read_text().split()[0])
        if total:
            return total / 1e9
    except (OSError, ValueError, IndexError):
        pass
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _wait_for_ready(process: subprocess.Popen[bytes], log: Path) -> tuple[str, str]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        ready, fingerprint = _READY.search(text), _FINGERPRINT.search(text)
        if ready and fingerprint:
            return ready.group(1), fingerprint.group(1)
        if process.poll() is not None:
            raise RuntimeError(f"relaydesk server exited: {text[-2000:]}")
        time.sleep(0.05)
    raise RuntimeError(f"relaydesk server did not start in {START_TIMEOUT:.0f} s")


@contextlib.contextmanager
def relay_server(directory: Path, env: dict[str, str] | None = None) -> Iterator[RunningServer]:
    """``relaydesk server --port 0`` on a fresh data directory, with one organizer."""
    data, log = directory / "data", directory / "server.log"
    command = relaydesk_command()
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [*command, "server", "--data", str(data), "--host", "127.0.0.1", "--port", "0"],
            stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    try:
        url, fingerprint = _wait_for_ready(process, log)
        subprocess.run(
            [*command, "admin", "--data", str(data), "user", "add", USERNAME, "--password-stdin"],
            input=f"{PASSWORD}\n".encode(), capture_output=True, check=True, timeout=60,
        )  # fmt: skip
        pem = tls.fetch_certificate(url)
        if tls.certificate_fingerprint(pem) != fingerprint:
            raise RuntimeError("the server presents another certificate than it printed")
        yield RunningServer(process, url, fingerprint, tls.pinned_context(pem), data, log)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _join(
    http: httpx.AsyncClient, session_id: str, name: str, keys: MemberKeys, token: str
) -> JoinResult:
    """POST /api/sessions/ID/join as BrokerApi.join does, from this client's address."""
    response = await http.post(
        f"/api/sessions/{session_id}/join",
        json={
            "display_name": name,
            "password": None,
            "agreement": b64url(keys.agreement_public),
            "ed25519": b64url(keys.ed25519_public),
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    response.raise_for_status()
    return join_result(response.json())


async def join_members(
    server: RunningServer, count: int, first_address: int = 1
) -> tuple[list[tuple[JoinResult, MemberKeys]], str]:
    """Log in, create a session and join ``count`` members with the organizer's token
    (as hosts, all of them) from 127.0.0.``first_address`` on, JOINS_PER_ADDRESS from
    each, within any broker's per-address join budget. Returns the members in member-id
    order and the session ID."""
    async with BrokerApi(server.url, server.context) as api:
        token = await api.login(USERNAME, PASSWORD)
        created = await api.create_session()
    members: list[tuple[JoinResult, MemberKeys]] = []
    for first in range(0, count, JOINS_PER_ADDRESS):
        address = f"127.0.0.{first_address + first // JOINS_PER_ADDRESS}"
        transport = httpx.AsyncHTTPTransport(verify=server.context, local_address=address)
        async with httpx.AsyncClient(base_url=server.url, transport=transport, timeout=30) as http:
            for number in range(first, min(count, first + JOINS_PER_ADDRESS)):
                keys = MemberKeys.generate(os.urandom)
                joined = await _join(http, created.session_id, f"member {number}", keys, token)
                members.append((joined, keys))
    members.sort(key=lambda member: member[0].member_id)
    return members, created.session_id


# A minimal WebSocket client ------------------------------------------------------------


def ws_frame(data: bytes, opcode: int = 0x2) -> bytes:
    """One masked, unfragmented client frame (RFC 6455 §5.2)."""
    length = len(data)
    if length < 126:
        head = bytes((0x80 | opcode, 0x80 | length))
    elif length < 1 << 16:
        head = bytes((0x80 | opcode, 0x80 | 126)) + length.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + length.to_bytes(8, "big")
    mask = os.urandom(4)
    return head + mask + apply_mask(data, mask)


def _frame_head(view: bytes | bytearray, pos: int, end: int) -> tuple[int, int, int] | None:
    """(opcode, header size, payload length) of the server frame at ``pos``, or None
    if its header is not all there yet. Server frames are not masked."""
    if end - pos < 2:
        return None
    first, length, head = view[pos], view[pos + 1] & 0x7F, 2
    if length == 126:
        if end - pos < 4:
            return None
        length, head = int.from_bytes(view[pos + 2 : pos + 4], "big"), 4
    elif length == 127:
        if end - pos < 10:
            return None
        length, head = int.from_bytes(view[pos + 2 : pos + 10], "big"), 10
    if not first & 0x80:
        raise RuntimeError("the relay sent a fragmented message")
    return first & 0x0F, head, length


class RawLink(asyncio.Protocol):
    """A relay connection that writes prepared frames and counts what it reads.

    Only SCREEN_UPDATE frames are counted as delivered; everything else (roster,
    joins, key commits, refresh requests) is read and skipped. Pings are answered. The
    first frame, the relay's CHALLENGE, is kept whole (``challenge``): HELLO signs it.
    """

    def __init__(self, host: str, progress: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.progress = progress  # set whenever a SCREEN_UPDATE was counted
        self.opened: asyncio.Future[None] = loop.create_future()
        self.admitted: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self.challenge: asyncio.Future[bytes] = loop.create_future()  # the relay's first
        self.screen_frames = 0
        self.screen_bytes = 0
        self.other_frames = 0
        self.close_code: int | None = None
        self.reached_at = 0.0  # monotonic time the target count was reached
        self.target = 0
        self.arrivals: list[float] | None = None  # set to a list: when each one came
        self._host = host
        self._key = base64.b64encode(os.urandom(16))
        self._handshake = bytearray()
        self._buffer = bytearray()
        self._skip = 0  # body bytes of the current frame still to read past
        self._writable = asyncio.Event()
        self._writable.set()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TLS transport is a Transport in all but its class.
        self.transport = writer = cast(asyncio.Transport, transport)
        writer.write(
            b"GET /relay HTTP/1.1\r\nHost: " + self._host.encode() + b"\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + self._key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )

    def connection_lost(self, exc: Exception | None) -> None:
        for future in (self.opened, self.admitted, self.lost):
            if not future.done():
                future.set_result(None)
        if not self.challenge.done():
            self.challenge.set_result(b"")
        self._writable.set()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def data_received(self, data: bytes) -> None:
        if not self.opened.done():
            self._handshake += data
            end = self._handshake.find(b"\r\n\r\n")
            if end < 0:
                return
            head, rest = bytes(self._handshake[:end]), bytes(self._handshake[end + 4 :])
            accept = base64.b64encode(hashlib.sha1(self._key + _WS_GUID).digest())
            if not head.startswith(b"HTTP/1.1 101") or accept not in head:
                raise RuntimeError(f"WebSocket upgrade refused: {head[:200]!r}")
            self.opened.set_result(None)
            if not rest:
                return
            data = rest
        self._frames(data)

    def _frames(self, data: bytes) -> None:
        buffer = self._buffer
        if buffer:
            buffer += data
            view: bytes | bytearray = buffer
        else:
            view = data
        pos, end, skip, before = 0, len(view), self._skip, self.screen_frames
        while True:
            if skip:
                step = min(skip, end - pos)
                pos += step
                skip -= step
                if skip:
                    break
            parsed = _frame_head(view, pos, end)
            if parsed is None:
                break
            opcode, head, length = parsed
            if opcode == 0x2 and not self.challenge.done():  # the first: kept whole
                if end - pos < head + length:
                    break
                self.challenge.set_result(bytes(view[pos + head : pos + head + length]))
                pos += head + length
                continue
            if opcode == 0x2:  # a relaydesk frame: its type is the second byte
                if end - pos < head + 2:
                    break
                self.counted(view[pos + head + 1], length)
                pos += head
                skip = length
                continue
            if end - pos < head + length:
                break
            self._control(opcode, bytes(view[pos + head : pos + head + length]))
            pos += head + length
        self._skip = skip
        if view is buffer:
            del buffer[:pos]
        elif pos < end:
            self._buffer = bytearray(view[pos:])
        self._progress(self.screen_frames - before)

    def _progress(self, counted: int) -> None:
        if counted:
            if self.arrivals is not None:
                self.arrivals.extend([time.monotonic()] * counted)
            if self.screen_frames >= self.target and not self.reached_at:
                self.reached_at = time.monotonic()
            self.progress.set()

    def _control(self, opcode: int, payload: bytes) -> None:
        if opcode == 0x9 and self.transport is not None:  # ping
            self.transport.write(ws_frame(payload, 0xA))
        elif opcode == 0x8:  # close
            self.close_code = int.from_bytes(payload[:2], "big") if payload else 1005

    # Sending
    async def drain(self) -> None:
        await self._writable.wait()

    def wire(self, frame: bytes) -> bytes:
        """A relaydesk frame as this transport carries it: a masked WebSocket frame."""
        return ws_frame(frame)

    def send_frame(self, frame: bytes) -> None:
        assert self.transport is not None
        self.transport.write(self.wire(frame))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def counted(self, frame_type: int, length: int) -> None:
        """One frame read (its type and body or payload length)."""
        if frame_type == FrameType.SCREEN_UPDATE:
            self.screen_bytes += length
            self.screen_frames += 1
        else:
            self.other_frames += 1
            if not self.admitted.done():
                self.admitted.set_result(None)  # the ROSTER: HELLO was accepted


class DirectLink(RawLink):
    """The same counting link on the direct TLS transport: frames back to back, no
    upgrade, nothing wrapped (docs/protocol.md §2.6)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.opened.set_result(None)

    def wire(self, frame: bytes) -> bytes:
        return frame

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        if buffer:
            buffer += data
            view: bytes | bytearray = buffer
        else:
            view = data
        pos, end, skip, before = 0, len(view), self._skip, self.screen_frames
        while True:
            if skip:
                step = min(skip, end - pos)
                pos += step
                skip -= step
                if skip:
                    break
            if end - pos < HEADER_SIZE:
                break
            length = int.from_bytes(view[pos + HEADER_SIZE - 4 : pos + HEADER_SIZE], "big")
            if not self.challenge.done():  # the first frame: kept whole
                if end - pos < HEADER_SIZE + length:
                    break
                self.challenge.set_result(bytes(view[pos : pos + HEADER_SIZE + length]))
                pos += HEADER_SIZE + length
                continue
            self.counted(view[pos + 1], HEADER_SIZE + length)
            pos += HEADER_SIZE
            skip = length
        self._skip = skip
        if view is buffer:
            del buffer[:pos]
        elif pos < end:
            self._buffer = bytearray(view[pos:])
        self._progress(self.screen_frames - before)


async def open_link(
    server: RunningServer, joined: JoinResult, keys: MemberKeys, progress: asyncio.Event
) -> RawLink:
    """Connect to the embedded server's relay, as ``open_link_to`` does."""
    return await open_link_to(server.url, server.context, joined, keys, progress)


async def open_direct(
    server: RunningServer, joined: JoinResult, keys: MemberKeys, progress: asyncio.Event
) -> RawLink:
    """Connect to the embedded server's relay by direct TLS, as ``open_link_to`` does."""
    host, port = server.tcp_address.rsplit(":", 1)
    return await _hello(
        await _connect(
            lambda: DirectLink(f"{host}:{port}", progress), host, int(port), server.context
        ),
        joined,
        keys,
    )


async def open_link_to(
    url: str,
    context: ssl.SSLContext,
    joined: JoinResult,
    keys: MemberKeys,
    progress: asyncio.Event,
) -> RawLink:
    """Connect to the relay at ``url`` (https:// or wss://), upgrade, answer its
    CHALLENGE with HELLO (the ticket and its proof, signed for the name the relay gives:
    a measuring tool, not a client to copy, §7.1) and wait for the ROSTER."""
    host, port = tls.host_and_port(url)
    link = await _connect(lambda: RawLink(f"{host}:{port}", progress), host, port, context)
    return await _hello(link, joined, keys)


async def _connect(
    factory: Callable[[], RawLink], host: str, port: int, context: ssl.SSLContext
) -> RawLink:
    loop = asyncio.get_running_loop()
    _, link = await loop.create_connection(factory, host, port, ssl=context)
    return link


async def _hello(link: RawLink, joined: JoinResult, keys: MemberKeys) -> RawLink:
    await asyncio.wait_for(link.opened, 15)
    first = await asyncio.wait_for(link.challenge, 15)
    if not first:
        raise RuntimeError(f"the relay closed member {joined.member_id}'s link at once")
    challenge = decode(FrameType.CHALLENGE, Frame.parse(first).body)
    assert isinstance(challenge, Challenge)
    proof = prove_hello(keys.signing, challenge.nonce, joined.ticket, challenge.relay)
    header = Header(FrameType.HELLO, joined.session_uid, 0, joined.member_id, RELAY, 1)
    link.send_frame(Frame(header, encode(Hello(joined.ticket, proof))).serialize())
    await asyncio.wait_for(link.admitted, 15)
    if link.close_code is not None or link.lost.done():
        raise RuntimeError(f"the relay refused member {joined.member_id}: {link.close_code}")
    return link


# The measurement -----------------------------------------------------------------------


@dataclass
class Sender:
    link: RawLink
    joined: JoinResult
    e2e: EndToEnd
    control_sequence: int = 1  # HELLO was 1

    def control(self, message: ControlMessage, target: int = RELAY) -> None:
        self.control_sequence += 1
        header = Header(
            message.TYPE, self.joined.session_uid, 0, self.joined.member_id, target,
            self.control_sequence,
        )  # fmt: skip
        self.link.send_frame(Frame(header, encode(message)).serialize())

    def rekey(self, roster: list[tuple[JoinResult, MemberKeys]]) -> None:
        """As key leader: a new epoch sealed to everyone connected, sent to the relay."""
        for joined, _ in roster:
            self.e2e.add_member(joined.ticket, time.time())
        self.link.send_frame(self.e2e.start_epoch(os.urandom, time.time()).serialize())

    def sealed(self, payload: int, count: int) -> tuple[list[bytes], int]:
        """``count`` frames as the link's transport carries them, each a sealed
        SCREEN_UPDATE with a RAW tile of ``payload`` bytes, the first a KEYFRAME (receivers
        wait for one); and the size of the relaydesk frame inside."""
        side = int((payload // 4) ** 0.5)
        tile = Tile(0, 0, side, side, TileEncoding.RAW, os.urandom(payload))
        distinct, size = [], 0
        for number in range(min(count, SEALED_POOL)):
            full = number == 0
            update = ScreenUpdate(side, side, full=full, tiles=(tile,))
            flags = Flags.KEYFRAME if full else Flags.NONE
            frame = self.e2e.seal(update, EVERYONE, flags).serialize()
            distinct.append(self.link.wire(frame))
            size = len(frame)
        # Receivers do not open what they get: past the pool, its deltas are sent again.
        deltas = distinct[1:] or distinct
        frames = distinct + [deltas[n % len(deltas)] for n in range(count - len(distinct))]
        return frames, size


@dataclass
class Measured:
    delivered: int
    seconds: float
    delivered_bytes: int
    relay_cpu: float
    generator_cpu: float
    frame_size: int

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds

    @property
    def bandwidth(self) -> float:
        return self.delivered_bytes / self.seconds

    @property
    def cpu_per_message(self) -> float:
        return self.relay_cpu / self.delivered

    @property
    def per_core(self) -> float:
        """Bytes delivered per second of relay CPU: what one busy core would deliver."""
        return self.delivered_bytes / self.relay_cpu


def _generator_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(
    server: RunningServer,
    sender: Sender,
    receivers: list[RawLink],
    progress: asyncio.Event,
    payload: int,
    count: int,
) -> Measured:
    frames, frame_size = sender.sealed(payload, count)  # before the clock starts
    window = max(8, WINDOW_BYTES // len(frames[0]))
    for receiver in receivers:
        receiver.screen_frames = receiver.screen_bytes = 0
        receiver.target, receiver.reached_at = count, 0.0
    relay_before, generator_before = server.cpu_seconds(), _generator_cpu()
    started = time.monotonic()
    sent = 0
    deadline = started + RUN_TIMEOUT
    while True:
        progress.clear()
        slowest = min(receiver.screen_frames for receiver in receivers)
        if slowest >= count:
            break
        if any(receiver.lost.done() for receiver in [sender.link, *receivers]):
            raise RuntimeError("a connection to the relay was lost during the run")
        upto = min(count, slowest + window)
        if upto > sent:
            assert sender.link.transport is not None
            sender.link.transport.writelines(frames[sent:upto])
            sent = upto
            await sender.link.drain()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(progress.wait(), max(0.0, deadline - time.monotonic()))
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"run not finished in {RUN_TIMEOUT:.0f} s: slowest receiver at {slowest}/{count}"
            )
    finished = max(receiver.reached_at for receiver in receivers)
    relay_cpu, generator_cpu = server.cpu_seconds(), _generator_cpu()
    delivered = count * len(receivers)
    delivered_bytes = sum(receiver.screen_bytes for receiver in receivers)
    return Measured(
        delivered, finished - started, delivered_bytes, relay_cpu - relay_before,
        generator_cpu - generator_before, frame_size,
    )  # fmt: skip


def messages_per_run(fanout: int, payload: int, quick: bool) -> int:
    """Messages the sender sends in one run: about the same delivered count at every
    fan-out, at least 30."""
    small = payload <= KIB
    delivered = (30_000 if quick else 100_000) if small else (3_000 if quick else 10_000)
    return max(30, delivered // fanout)


TRANSPORTS = ("direct TLS", "WebSocket")


@dataclass
class Result:
    transport: str
    fanout: int
    payload: int
    runs: list[Measured] = field(default_factory=list)

    def median(self, what: str) -> float:
        return float(statistics.median(getattr(run, what) for run in self.runs))


async def fan_out(
    server: RunningServer, quick: bool, transport: str
) -> tuple[list[Result], list[str]]:
    notes: list[str] = []
    receivers_needed = max(FANOUTS)
    started = time.monotonic()
    first_address = 1 + 10 * TRANSPORTS.index(transport)
    members, _ = await join_members(server, 1 + receivers_needed, first_address)
    notes.append(
        f"{transport} setup: {1 + receivers_needed} joins through the broker API in "
        f"{time.monotonic() - started:.1f} s"
    )
    progress = asyncio.Event()

    async def connect(joined: JoinResult, keys: MemberKeys) -> RawLink:
        if transport == "direct TLS":
            return await open_direct(server, joined, keys, progress)
        return await open_link(server, joined, keys, progress)

    (sender_joined, sender_keys), others = members[0], members[1:]
    broker_public = _broker_public(sender_joined)
    link = await connect(sender_joined, sender_keys)
    e2e = EndToEnd(sender_joined.session_uid, sender_joined.member_id, sender_keys, broker_public)
    sender = Sender(link, sender_joined, e2e)
    sender.rekey([members[0]])
    sender.control(PresenterRequest(sender_joined.member_id))

    repeats = 1 if quick else 3
    results: list[Result] = []
    receivers: list[RawLink] = []
    try:
        for fanout in FANOUTS:
            newcomers = others[len(receivers) : fanout]
            receivers += await asyncio.gather(
                *(connect(joined, keys) for joined, keys in newcomers)
            )
            sender.rekey(members[: 1 + fanout])
            for payload in PAYLOADS:
                count = messages_per_run(fanout, payload, quick)
                await measure(server, sender, receivers, progress, payload, min(count, 100))
                result = Result(transport, fanout, payload)
                for _ in range(repeats):
                    result.runs.append(
                        await measure(server, sender, receivers, progress, payload, count)
                    )
                results.append(result)
    finally:
        for receiver in [sender.link, *receivers]:
            receiver.close()
    codes = {r.close_code for r in receivers if r.close_code is not None}
    if codes:
        notes.append(f"connections closed by the relay during the runs: codes {sorted(codes)}")
    return results, notes


def _broker_public(joined: JoinResult) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(joined.broker_public_key)


# Reporting ---------------------------------------------------------------------------


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def report(
    results: list[Result], notes: list[str], load_before: tuple[float, ...], quick: bool
) -> Section:
    section = Section(
        "relay fan-out: relaydesk server subprocess (uvloop, TLS), one sender, N receivers, "
        "sealed SCREEN_UPDATE frames, over direct TLS and over WebSocket"
    )
    for result in results:
        size = format_size(result.payload)
        what = f"{result.transport} 1->{result.fanout}, {size}"
        rate, bandwidth = result.median("rate"), result.median("bandwidth")
        cpu_us = result.median("cpu_per_message") * 1e6
        big = result.payload >= 64 * KIB
        if big:
            per_core = result.median("per_core")
            section.rows.append(
                Row(
                    f"{what}: delivered per relay core",
                    f"{per_core / 1e6:,.0f} MB/s",
                    f"wall clock {bandwidth / 1e6:,.0f} MB/s, {rate:,.0f} msg/s",
                    ">= 1 GB/s (PERFORMANCE.md)",
                    _verdict(per_core >= BANDWIDTH_TARGET),
                )
            )
        else:
            section.rows.append(
                Row(f"{what}: delivered", f"{rate:,.0f} msg/s", f"{bandwidth / 1e6:,.0f} MB/s")
            )
        relay_load = statistics.median(run.relay_cpu / run.seconds for run in result.runs)
        generator_load = statistics.median(run.generator_cpu / run.seconds for run in result.runs)
        section.rows.append(
            Row(
                f"{what}: relay CPU/delivered msg",
                f"{cpu_us:.1f} us",
                f"relay {relay_load:.0%}, generator {generator_load:.0%} of a core",
                "" if big else f"<= {CPU_TARGET_US:.0f} us (PERFORMANCE.md)",
                "" if big else _verdict(cpu_us <= CPU_TARGET_US),
            )
        )
    if results:
        sizes = sorted({(r.payload, r.runs[0].frame_size) for r in results})
        section.notes.append(
            "frame on the wire (44-byte header + sealed body): "
            + ", ".join(f"{format_size(p)} tile -> {s:,} B" for p, s in sizes)
            + "; MB/s counts those bytes delivered, MB = 10^6 bytes"
        )
        runs = results[0].runs
        section.notes.append(
            f"medians of {len(runs)} run(s) each; delivered per run: "
            + ", ".join(
                f"1->{r.fanout} {format_size(r.payload)} {r.runs[0].delivered:,}"
                for r in results
                if r.transport == results[0].transport
            )
        )
    section.notes.append(f"PERFORMANCE.md prototypes, 1->10 1 KiB: {PROTOTYPES}")
    section.notes.append(
        "relay CPU = server process CPU time (/proc/PID/task/*/schedstat) per delivered message; "
        "'of a core' = CPU seconds / wall seconds; a generator near 100% means the figure is "
        "bounded by the load generator, not the relay"
    )
    section.notes.append(
        "delivered per relay core = bytes delivered / relay CPU seconds (the relay process "
        "on one core); the wall-clock rate beside it is bounded by whichever of relay and "
        "generator (one process each, two cores shared with the machine) is busier"
    )
    section.notes.extend(notes)
    section.notes.append(
        f"uvicorn {version_of('uvicorn')}, websockets {version_of('websockets')}, "
        f"uvloop {version_of('uvloop')}; 1-minute load average before/after: "
        f"{load_before[0]:.2f}/{os.getloadavg()[0]:.2f} (other processes share the cores)"
    )
    if quick:
        section.notes.append("--quick: fewer messages and one run each; noisier")
    return section


async def _run(quick: bool) -> Section:
    load = os.getloadavg()
    with (
        tempfile.TemporaryDirectory(prefix="relaydesk-bench-") as name,
        relay_server(Path(name)) as server,
    ):
        results, notes = [], []
        for transport in TRANSPORTS:
            measured, said = await fan_out(server, quick, transport)
            results += measured
            notes += said
    return report(results, notes, load, quick)


def run(quick: bool) -> list[Section]:
    import uvloop  # noqa: PLC0415 - the generator's loop, as fast as the relay's

    return [uvloop.run(_run(quick))]


def main(argv: list[str] | None = None) -> int:
    return standalone(TITLE, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
