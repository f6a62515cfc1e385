"""The TLS every relaydesk server speaks (broker, relay, embedded server; WebSocket and
direct TLS alike), in one place: TLS 1.2 or 1.3 only, and in TLS 1.2 only ECDHE key
exchange (forward secrecy) with AEAD ciphers. TLS 1.3's suites are all of that kind."""

from __future__ import annotations

import ssl

# OpenSSL's names: ECDHE-ECDSA/RSA with AES-GCM or ChaCha20-Poly1305; no CBC, no RSA key
# exchange, no SHA-1 MACs. uvicorn's default ("TLSv1") would allow all of those.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL"


def harden(context: ssl.SSLContext) -> ssl.SSLContext:
    """Restrict a server context to the versions and ciphers above; returns it."""
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.options |= ssl.OP_NO_RENEGOTIATION
    return context
