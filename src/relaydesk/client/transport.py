"""How a client reaches a relay by direct TLS (frames on a raw TLS stream), optionally
through an HTTP CONNECT proxy (docs/protocol.md §2.6, docs/operators.md "Firewalls and
proxies"). ``client/links.py`` adds the WebSocket link and picks between the two."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import ssl
import struct
from collections import deque
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from relaydesk import limits
from relaydesk.errors import ClientError, CloseCode, ProxyRefused, RelayClosed
from relaydesk.keepalive import keep_alive
from relaydesk.protocol.frames import (
    EVERYONE,
    RELAY,
    SESSION_UID_SIZE,
    Frame,
    FrameType,
    Header,
    StreamDecoder,
)
from relaydesk.protocol.messages import Error, decode, encode

READ_CHUNK = 64 * limits.KIB


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """http://[user:password@]host:port, as the websockets library takes it."""
        auth = ""
        if self.username is not None:
            auth = f"{quote(self.username, safe='')}:{quote(self.password or '', safe='')}@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{auth}{host}:{self.port}"

    @classmethod
    def parse(cls, url: str) -> Proxy:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme != "http" or not parts.hostname:
            raise ProxyRefused(f"not an http:// proxy address: {url}")
        user = unquote(parts.username) if parts.username is not None else None
        password = unquote(parts.password) if parts.password is not None else None
        return cls(parts.hostname, parts.port or 3128, user, password)

    @classmethod
    def from_environment(cls, host: str) -> Proxy | None:
        """The proxy HTTPS_PROXY (or https_proxy) names, unless NO_PROXY covers host."""
        url = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
        if not url:
            return None
        skip = os.environ.get("NO_PROXY") or os.environ.get("no_proxy") or ""
        for entry in (e.strip().lower() for e in skip.split(",")):
            name = entry.lstrip(".")
            if entry == "*" or (name and (host == name or host.endswith("." + name))):
                return None
        return cls.parse(url)


async def open_tcp(
    host: str, port: int, proxy: Proxy | None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP stream to host:port, tunnelled with CONNECT when a proxy is given."""
    if proxy is None:
        reader, writer = await asyncio.open_connection(host, port)
        _refuse_self_connection(writer)
        return reader, writer
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    try:
        await _connect_through(reader, writer, host, port, proxy)
    except BaseException:
        writer.close()
        raise
    return reader, writer


def _refuse_self_connection(writer: asyncio.StreamWriter) -> None:
    """A connection to a local port nobody listens on, from the same port the kernel
    picked as its source, connects to itself (TCP simultaneous open): it reaches no relay
    and holds the port the relay wants back. Drop it as the refusal it really is."""
    if writer.get_extra_info("sockname") == writer.get_extra_info("peername"):
        sock = writer.get_extra_info("socket")
        if sock is not None:  # reset, not closed: a TIME_WAIT would keep the port too
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        raise ConnectionRefusedError("connected to itself: nothing listens there")


async def _connect_through(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    host: str,
    port: int,
    proxy: Proxy,
) -> None:
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    if proxy.username is not None:
        secret = f"{proxy.username}:{proxy.password or ''}".encode()
        lines.append(f"Proxy-Authorization: Basic {base64.b64encode(secret).decode()}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    answer = bytearray()
    while b"\r\n\r\n" not in answer:  # read byte by byte: nothing past the header is eaten
        byte = await reader.read(1)
        if not byte:
            raise ProxyRefused(f"the proxy {proxy.address} closed the connection")
        answer += byte
        if len(answer) > limits.MAX_PROXY_RESPONSE_BYTES:
            raise ProxyRefused(f"the proxy {proxy.address} sent an oversized answer")
    status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
    fields = status_line.split(" ", 2)
    if len(fields) < 2 or not fields[0].startswith("HTTP/1.") or not fields[1].isdigit():
        raise ProxyRefused(f"the proxy {proxy.address} answered no HTTP: {status_line[:80]!r}")
    status = int(fields[1])
    if status // 100 != 2:
        raise proxy_refusal(proxy, target, status, status_line)


def proxy_refusal(proxy: Proxy, target: str, status: int, status_line: str) -> ProxyRefused:
    """What a proxy's refusal of CONNECT means, for either transport."""
    if status in (401, 407):  # 407 per RFC 9110; tinyproxy answers 401
        return ProxyRefused(
            f"the proxy {proxy.address} wants authentication: put user:password in HTTPS_PROXY"
            if proxy.username is None
            else f"the proxy {proxy.address} refused the user name or password"
        )
    return ProxyRefused(f"the proxy {proxy.address} refused {target}: {status_line[:120]}")


class DirectLink:
    """Frames on a direct TLS stream. The relay's closing ERROR (target EVERYONE) becomes
    ``RelayClosed`` with its code, as a WebSocket close frame would."""

    kind = "direct TLS"

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        through: str | None,
        session_uid: bytes = bytes(SESSION_UID_SIZE),
    ) -> None:
        self.through = through  # the proxy's host:port, if it goes through one
        self.session_uid = session_uid  # for the closing ERROR (§2.6)
        self._reader, self._writer = reader, writer
        self._decoder = StreamDecoder()
        self._ready: deque[Frame] = deque()

    async def send(self, data: bytes) -> None:
        if self._writer.is_closing():
            raise RelayClosed(1006, "connection lost")
        self._writer.write(data)
        try:
            await self._writer.drain()
        except OSError:
            raise RelayClosed(1006, "connection lost") from None

    async def recv(self) -> bytes:
        while not self._ready:
            try:
                data = await self._reader.read(READ_CHUNK)
            except OSError:
                data = b""
            if not data:
                self.abort()
                raise RelayClosed(1006, "connection lost")
            try:
                self._decoder.receive_data(data)
            except ClientError:
                raise
            except Exception as error:
                self.abort()
                raise RelayClosed(1006, f"the relay sent a bad frame: {error}") from None
            self._ready.extend(self._decoder.frames_received())
        frame = self._ready.popleft()
        header = frame.header
        if header.type is FrameType.ERROR and header.target == EVERYONE:
            message = decode(FrameType.ERROR, frame.body)
            assert isinstance(message, Error)
            self.abort()
            raise RelayClosed(message.code, message.text)
        return frame.serialize()

    async def close(self) -> None:
        """Leave on purpose: the closing ERROR 1000 (§2.6), so the relay reports "left"."""
        if not self._writer.is_closing():
            header = Header(FrameType.ERROR, self.session_uid, 0, RELAY, EVERYONE, 0)
            goodbye = Error(int(CloseCode.NORMAL), "left")
            self._writer.write(Frame(header, encode(goodbye)).serialize())
        self._writer.close()
        try:
            async with asyncio.timeout(5):
                await self._writer.wait_closed()
        except (OSError, TimeoutError, ssl.SSLError):
            self.abort()

    def abort(self) -> None:
        self._writer.transport.abort()


def split_address(address: str) -> tuple[str, int]:
    """("host", port) from "host:port" or "[v6]:port"; ClientError if it is neither."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ClientError(f"not a host:port address: {address[:100]!r}")
    return host, int(port)


async def open_direct(
    address: str,
    context: ssl.SSLContext,
    proxy: Proxy | None,
    session_uid: bytes = bytes(SESSION_UID_SIZE),
) -> DirectLink:
    """Direct TLS to HOST:PORT (through the proxy if any), bounded in time."""
    host, port = split_address(address)
    try:
        async with asyncio.timeout(limits.TRANSPORT_CONNECT_TIMEOUT_SECONDS):
            reader, writer = await open_tcp(host, port, proxy)
            keep_alive(writer)  # a relay whose machine died is noticed within 30 s
            await writer.start_tls(context, server_hostname=host)
    except TimeoutError:
        raise ClientError(f"no direct TLS to {address} in time") from None
    except (OSError, ssl.SSLError, ValueError) as error:
        raise ClientError(f"cannot reach {address} by direct TLS: {error}") from None
    return DirectLink(reader, writer, proxy.address if proxy else None, session_uid)
