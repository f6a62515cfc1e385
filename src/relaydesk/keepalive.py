"""TCP keepalive on direct TLS links (docs/protocol.md §2.6), on both ends.

A WebSocket link has its own pings; a raw TLS stream has none, so a peer whose machine
died (no FIN, no RST) would hold a relay connection, or leave a client waiting, until
the operating system's default of two hours. With these options the kernel probes an idle
link and drops it once the peer stops answering: the relay frees the member's place, the
client reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from relaydesk import limits


def keep_alive(link: asyncio.BaseTransport | asyncio.StreamWriter) -> None:
    """Turn on keepalive for the link's socket (a no-op where there is none)."""
    sock = link.get_extra_info("socket")
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if hasattr(socket, "TCP_KEEPIDLE"):  # Linux; macOS has only the switch
            sock.setsockopt(
                socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, limits.LINK_KEEPALIVE_IDLE_SECONDS
            )
            sock.setsockopt(
                socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, limits.LINK_KEEPALIVE_INTERVAL_SECONDS
            )
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, limits.LINK_KEEPALIVE_PROBES)
