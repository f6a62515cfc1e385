"""Certificate pinning (docs/operators.md, "Trusting a server").

The client trusts exactly one certificate per server: the one whose SHA-256 fingerprint
the server printed at start. It is fetched with a bare TLS handshake (nothing is sent),
compared, then used as the only trust anchor for every later connection, so a request
never leaves the machine before the server proved it holds the pinned certificate.
"""

from __future__ import annotations

import hashlib
import re
import ssl
from urllib.parse import urlsplit

from relaydesk.errors import PinningError

_HEX = re.compile(r"[^0-9a-f]")


def fingerprint(der: bytes) -> str:
    """SHA-256 of a DER certificate as the server prints it: AB:CD:..."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def normalize_fingerprint(text: str) -> str:
    """Accept any case, with or without colons or spaces; PinningError if not SHA-256."""
    digits = _HEX.sub("", text.lower())
    if len(digits) != 64 or len(text.strip()) > 100:
        raise PinningError("a certificate fingerprint is 64 hexadecimal digits (SHA-256)")
    return fingerprint_from_hex(digits)


def fingerprint_from_hex(digits: str) -> str:
    upper = digits.upper()
    return ":".join(upper[i : i + 2] for i in range(0, len(upper), 2))


def host_and_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "wss") or not parts.hostname:
        raise PinningError(f"not an https:// server address: {url}")
    return parts.hostname, parts.port or 443


def fetch_certificate(url: str, timeout: float = 10.0) -> str:
    """The server's certificate (PEM), from a handshake that sends no request."""
    host, port = host_and_port(url)
    try:
        return ssl.get_server_certificate((host, port), timeout=timeout)
    except OSError as error:
        raise PinningError(f"cannot reach {host}:{port}: {error}") from None


def certificate_fingerprint(pem: str) -> str:
    return fingerprint(ssl.PEM_cert_to_DER_cert(pem))


def pinned_context(pem: str) -> ssl.SSLContext:
    """A TLS context that accepts only this certificate (TLS 1.2 or newer)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cadata=pem)
    # The pinned certificate is the whole chain: trust it as an anchor even though it is
    # a leaf; names are not checked because the pin is stronger than any name.
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    return context
