"""Deciding to trust a server: a given fingerprint, the pinned one, or the user's word."""

from __future__ import annotations

import ssl
from collections.abc import Callable

from relaydesk.client import tls
from relaydesk.client.profile import Profile, ServerEntry
from relaydesk.errors import PinningError

Ask = Callable[[str], bool]
"""Shows a question to the person at the terminal and returns their yes/no."""


def trust_server(
    url: str, profile: Profile, fingerprint: str | None, ask: Ask | None
) -> ssl.SSLContext:
    """A TLS context pinned to the server's certificate, or PinningError.

    ``ask`` is None when nobody can answer (no terminal): then only a given or an
    already pinned fingerprint will do.
    """
    pem = tls.fetch_certificate(url)
    seen = tls.certificate_fingerprint(pem)
    entry = profile.get(url)
    if fingerprint is not None:
        expected = tls.normalize_fingerprint(fingerprint)
        if seen != expected:
            raise PinningError(
                f"the server's certificate fingerprint is {seen}, not {expected} as given: "
                "refusing to connect"
            )
    elif entry is not None:
        if seen != entry.fingerprint:
            raise PinningError(
                f"the certificate of {url} has CHANGED since you trusted it "
                f"(was {entry.fingerprint}, now {seen}). Someone may be intercepting the "
                "connection. If the server really got a new certificate, pass its new "
                "fingerprint with --fingerprint."
            )
    elif ask is None:
        raise PinningError(
            f"{url} is not trusted yet and nobody can confirm it here: pass the "
            "fingerprint the server printed with --fingerprint"
        )
    elif not ask(
        f"The server {url} presents a certificate with SHA-256 fingerprint\n  {seen}\n"
        "Compare it with the fingerprint the server printed. Trust it?"
    ):
        raise PinningError("the server was not trusted")
    if entry is None or entry.fingerprint != seen:
        profile.put(url, ServerEntry(seen, pem))
    return tls.pinned_context(pem)
