"""A member's link to a relay, whichever transport carries it (docs/protocol.md §1, §2.6;
docs/operators.md "Firewalls and proxies").

For each relay of the join answer (the home first) the client tries direct TLS to its
``tcp_address``, then WebSocket to its ``wss_url``, each bounded by
``TRANSPORT_CONNECT_TIMEOUT_SECONDS``, both through the HTTP CONNECT proxy HTTPS_PROXY
names (if any). The first that connects is used; ``Connected.description`` says which.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass
from typing import Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidProxyMessage,
    InvalidProxyStatus,
    InvalidURI,
)

from relaydesk import limits
from relaydesk.client import tls
from relaydesk.client.api import RelayAddress
from relaydesk.client.transport import (
    Proxy,
    open_direct,
    open_tcp,
    proxy_refusal,
    split_address,
)
from relaydesk.errors import (
    ClientError,
    PinningError,
    ProtocolError,
    ProxyRefused,
    RelayClosed,
)
from relaydesk.protocol.frames import HEADER_SIZE, Frame, FrameType
from relaydesk.protocol.keys import MemberKeys
from relaydesk.protocol.messages import Challenge, Hello, decode
from relaydesk.protocol.tickets import prove_hello

log = logging.getLogger(__name__)

WEBSOCKET = "WebSocket"
MAX_PINNED = 64  # relays whose certificate this process keeps (a bound, not a tuning)


class Link(Protocol):
    """Whole frames to and from one relay. ``recv`` and ``send`` raise ``RelayClosed``
    (with the close code, 1006 for a lost connection) once the link is gone."""

    @property
    def kind(self) -> str: ...  # "direct TLS" or "WebSocket"

    @property
    def through(self) -> str | None: ...  # the proxy's host:port, if any

    async def send(self, data: bytes) -> None: ...

    async def recv(self) -> bytes: ...

    async def close(self) -> None: ...

    def abort(self) -> None: ...


class WebSocketLink:
    """One binary WebSocket message per frame (§1)."""

    kind = WEBSOCKET

    def __init__(self, socket: ClientConnection, through: str | None) -> None:
        self.through = through
        self._socket = socket

    async def send(self, data: bytes) -> None:
        try:
            await self._socket.send(data)
        except ConnectionClosed as closed:
            raise _closed(closed) from None

    async def recv(self) -> bytes:
        try:
            data = await self._socket.recv()
        except ConnectionClosed as closed:
            raise _closed(closed) from None
        if isinstance(data, str):
            self.abort()
            raise ClientError("the relay sent text instead of a frame")
        return data

    async def close(self) -> None:
        await self._socket.close()

    def abort(self) -> None:
        self._socket.transport.abort()


def _closed(closed: ConnectionClosed) -> RelayClosed:
    frame = closed.rcvd
    return RelayClosed(frame.code if frame else 1006, frame.reason if frame else "connection lost")


async def open_websocket(url: str, context: ssl.SSLContext, proxy: Proxy | None) -> WebSocketLink:
    """WebSocket to the relay's wss:// URL (through the proxy if any), bounded in time."""
    try:
        socket = await connect(
            url,
            ssl=context,
            proxy=proxy.url if proxy else None,  # None: not the library's own guess
            compression=None,  # compressing ciphertext gains nothing and leaks sizes
            max_size=HEADER_SIZE + limits.MAX_FRAME_BODY,
            open_timeout=limits.TRANSPORT_CONNECT_TIMEOUT_SECONDS,
        )
    except InvalidProxyStatus as refused:
        assert proxy is not None
        response = refused.response
        line = f"HTTP/1.1 {response.status_code} {response.reason_phrase}"
        host, port = tls.host_and_port(url)
        raise proxy_refusal(proxy, f"{host}:{port}", response.status_code, line) from None
    except InvalidProxyMessage:
        assert proxy is not None
        raise ProxyRefused(f"the proxy {proxy.address} answered no HTTP") from None
    except TimeoutError:
        raise ClientError(f"no WebSocket to {url} in time") from None
    except (OSError, ssl.SSLError, InvalidHandshake, InvalidURI) as error:
        raise ClientError(f"cannot reach {url} by WebSocket: {error}") from None
    return WebSocketLink(socket, proxy.address if proxy else None)


# Pinning by the join answer's fingerprint -------------------------------------------

_pinned: dict[str, ssl.SSLContext] = {}


async def pinned_by_fingerprint(
    host: str, port: int, fingerprint: str, proxy: Proxy | None
) -> ssl.SSLContext:
    """A context that trusts only the certificate with this SHA-256 ``fingerprint``. The
    certificate is fetched once with a bare handshake that sends nothing, and compared
    before any connection that carries a frame is opened (as client/tls.py does)."""
    wanted = tls.normalize_fingerprint(fingerprint)
    known = _pinned.get(wanted)
    if known is not None:
        return known
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.minimum_version = ssl.TLSVersion.TLSv1_2
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE  # only to read the certificate, checked below
    _, writer = await open_tcp(host, port, proxy)
    try:
        await writer.start_tls(probe, server_hostname=host)
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
    finally:
        writer.transport.abort()
    if not der or tls.fingerprint(der) != wanted:
        raise PinningError(
            f"the relay at {host}:{port} shows another certificate than the broker named "
            "for it: someone may be intercepting the connection"
        )
    context = tls.pinned_context(ssl.DER_cert_to_PEM_cert(der))
    if len(_pinned) >= MAX_PINNED:
        _pinned.pop(next(iter(_pinned)))
    _pinned[wanted] = context
    return context


# Picking a transport ----------------------------------------------------------------


@dataclass(frozen=True)
class Connected:
    relay: RelayAddress
    link: Link

    @property
    def description(self) -> str:
        """E.g. "relay r1 by direct TLS through proxy 127.0.0.1:3128"."""
        through = f" through proxy {self.link.through}" if self.link.through else ""
        return f"relay {self.relay.name} by {self.link.kind}{through}"


async def connect_relay(
    relays: tuple[RelayAddress, ...],
    fallback_url: str,
    context: ssl.SSLContext,
    session_uid: bytes,
) -> Connected:
    """The first relay and transport that connects, in order: for each relay, direct TLS
    then WebSocket. A proxy refusing the WebSocket (its credentials, its rules) is
    reported at once: no other way through it is left. PinningError is never skipped."""
    candidates = relays or (RelayAddress(fallback_url, fallback_url, None, ""),)
    failures: list[str] = []
    for relay in candidates:
        if relay.tcp_address is not None:
            try:
                async with asyncio.timeout(limits.TRANSPORT_CONNECT_TIMEOUT_SECONDS):
                    return Connected(relay, await _direct(relay, relay.tcp_address, context,
                                                          session_uid))  # fmt: skip
            except PinningError:
                raise
            except (ClientError, TimeoutError) as error:  # a proxy refusing the port too
                failures.append(f"{relay.name} by direct TLS: {error or 'no answer in time'}")
                log.info("direct TLS to relay %s failed: %s", relay.name, error)
        try:
            async with asyncio.timeout(limits.TRANSPORT_CONNECT_TIMEOUT_SECONDS):
                return Connected(relay, await _websocket(relay, context))
        except (PinningError, ProxyRefused):
            raise
        except (ClientError, TimeoutError) as error:
            failures.append(f"{relay.name} by WebSocket: {error or 'no answer in time'}")
            log.info("WebSocket to relay %s failed: %s", relay.name, error)
    raise ClientError("cannot reach any relay: " + "; ".join(failures))


async def _direct(
    relay: RelayAddress, address: str, context: ssl.SSLContext, session_uid: bytes
) -> Link:
    host, port = split_address(address)
    proxy = Proxy.from_environment(host)
    pinned = await _context_for(relay, host, port, context, proxy)
    return await open_direct(address, pinned, proxy, session_uid)


async def _websocket(relay: RelayAddress, context: ssl.SSLContext) -> Link:
    try:
        host, port = tls.host_and_port(relay.wss_url)
    except PinningError as error:  # not a wss:// address: nothing to pin, nothing to try
        raise ClientError(str(error)) from None
    proxy = Proxy.from_environment(host)
    pinned = await _context_for(relay, host, port, context, proxy)
    return await open_websocket(relay.wss_url, pinned, proxy)


async def _context_for(
    relay: RelayAddress, host: str, port: int, context: ssl.SSLContext, proxy: Proxy | None
) -> ssl.SSLContext:
    """The relay's own pin when the join answer gave one, else the caller's context."""
    if not relay.fingerprint:
        return context
    try:
        return await pinned_by_fingerprint(host, port, relay.fingerprint, proxy)
    except (OSError, ssl.SSLError) as error:
        raise ClientError(f"cannot reach {host}:{port}: {error}") from None


async def close_quietly(link: Link) -> None:
    """Close a link that may already be gone."""
    with contextlib.suppress(ClientError, OSError, ssl.SSLError):
        await link.close()


async def answer_challenge(link: Link, ticket: bytes, keys: MemberKeys, relay: str) -> Hello:
    """Read the relay's CHALLENGE, the first frame of every link, and make the HELLO that
    proves this member holds its ticket's key (§7.1). ``relay`` is the name of the relay
    this member meant to reach, as the join answer gives it: signing the name the relay
    claims instead would let a relay pass the proof on to another one."""
    async with asyncio.timeout(limits.RELAY_HELLO_TIMEOUT_SECONDS):
        challenge = read_challenge(await link.recv())
    return Hello(ticket, prove_hello(keys.signing, challenge.nonce, ticket, relay))


def read_challenge(data: bytes) -> Challenge:
    """The relay's first frame as a CHALLENGE; ClientError for anything else."""
    try:
        frame = Frame.parse(data)
        if frame.header.type is not FrameType.CHALLENGE:
            raise ClientError(f"the relay began with {frame.header.type.name}, not CHALLENGE")
        challenge = decode(FrameType.CHALLENGE, frame.body)
    except ProtocolError as error:
        raise ClientError(f"the relay's CHALLENGE is malformed: {error}") from None
    assert isinstance(challenge, Challenge)
    return challenge
