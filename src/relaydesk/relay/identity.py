"""The relay key: ``relay.key`` in the relay's data directory (Ed25519, PKCS#8 PEM, 0600).

The broker knows a relay by its name and this key's public half, registered by the
operator (``relaydesk admin relay add NAME PUBKEY``); every report is signed with it.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from relaydesk.errors import BrokerLinkError

RELAY_KEY_FILE = "relay.key"
REPORT_CONTEXT = b"relaydesk/v1 relay-report\n"  # signed before every request body


def load_or_create_relay_key(data: Path) -> Ed25519PrivateKey:
    path = data / RELAY_KEY_FILE
    try:
        data.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            # O_EXCL: two relays started on one directory never overwrite each other's key.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as file:
                file.write(pem)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as error:
        raise BrokerLinkError(f"cannot use relay key {path}: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BrokerLinkError(f"{path} is not an Ed25519 key")
    return key


def public_text(key: Ed25519PrivateKey) -> str:
    """The public key as ``relaydesk admin relay add`` takes it: base64url, no padding."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def sign_report(key: Ed25519PrivateKey, body: bytes) -> str:
    signature = key.sign(REPORT_CONTEXT + body)
    return base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
