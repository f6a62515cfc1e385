"""HPKE (RFC 9180) base mode, single shot: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
AES-256-GCM (suite 0x0020/0x0001/0x0002). docs/protocol.md §6.2.

Written out from the RFC rather than taken from ``cryptography.hazmat.primitives.hpke``
because the ephemeral key must be injectable (golden vectors, a pure core) and the
browser client needs the same steps in WebCrypto. The tests check interoperability with
``cryptography``'s HPKE in both directions.
"""

from __future__ import annotations

import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from relaydesk.errors import DecryptionFailed

KEM_ID, KDF_ID, AEAD_ID = 0x0020, 0x0001, 0x0002
_KEM_SUITE = b"KEM" + struct.pack(">H", KEM_ID)
_HPKE_SUITE = b"HPKE" + struct.pack(">HHH", KEM_ID, KDF_ID, AEAD_ID)
_MODE_BASE = b"\x00"
N_SECRET, N_KEY, N_NONCE, N_ENC = 32, 32, 12, 32


def extract(salt: bytes, ikm: bytes) -> bytes:
    """HKDF-Extract with SHA-256 (RFC 5869 §2.2)."""
    mac = hmac.HMAC(salt or bytes(32), hashes.SHA256())
    mac.update(ikm)
    return mac.finalize()


def expand(prk: bytes, info: bytes, length: int) -> bytes:
    """HKDF-Expand with SHA-256 (RFC 5869 §2.3)."""
    return HKDFExpand(hashes.SHA256(), length, info).derive(prk)


def _labeled_extract(suite: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return extract(salt, b"HPKE-v1" + suite + label + ikm)


def _labeled_expand(suite: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    labeled_info = struct.pack(">H", length) + b"HPKE-v1" + suite + label + info
    return expand(prk, labeled_info, length)


def _shared_secret(dh: bytes, enc: bytes, recipient_public: bytes) -> bytes:
    eae_prk = _labeled_extract(_KEM_SUITE, b"", b"eae_prk", dh)
    kem_context = enc + recipient_public
    return _labeled_expand(_KEM_SUITE, eae_prk, b"shared_secret", kem_context, N_SECRET)


def _key_schedule(shared_secret: bytes, info: bytes) -> tuple[bytes, bytes]:
    psk_id_hash = _labeled_extract(_HPKE_SUITE, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(_HPKE_SUITE, b"", b"info_hash", info)
    context = _MODE_BASE + psk_id_hash + info_hash
    secret = _labeled_extract(_HPKE_SUITE, shared_secret, b"secret", b"")
    key = _labeled_expand(_HPKE_SUITE, secret, b"key", context, N_KEY)
    base_nonce = _labeled_expand(_HPKE_SUITE, secret, b"base_nonce", context, N_NONCE)
    return key, base_nonce


def _dh(private: X25519PrivateKey, public: bytes) -> bytes:
    try:
        return private.exchange(X25519PublicKey.from_public_bytes(public))
    except ValueError:  # a low-order point gives the all-zero secret (RFC 9180 §7.1.4)
        raise DecryptionFailed("the X25519 key agreement failed (invalid public key)") from None


def seal(
    recipient_public: bytes,
    info: bytes,
    aad: bytes,
    plaintext: bytes,
    ephemeral: X25519PrivateKey,
) -> tuple[bytes, bytes]:
    """Seal to ``recipient_public``; returns (enc, ciphertext). ``ephemeral`` must be fresh."""
    enc = ephemeral.public_key().public_bytes_raw()
    shared_secret = _shared_secret(_dh(ephemeral, recipient_public), enc, recipient_public)
    key, base_nonce = _key_schedule(shared_secret, info)
    return enc, AESGCM(key).encrypt(base_nonce, plaintext, aad)


def open_(
    recipient: X25519PrivateKey, enc: bytes, info: bytes, aad: bytes, ciphertext: bytes
) -> bytes:
    """Open what ``seal`` made for this recipient; raises DecryptionFailed."""
    recipient_public = recipient.public_key().public_bytes_raw()
    shared_secret = _shared_secret(_dh(recipient, enc), enc, recipient_public)
    key, base_nonce = _key_schedule(shared_secret, info)
    try:
        return AESGCM(key).decrypt(base_nonce, ciphertext, aad)
    except InvalidTag:
        raise DecryptionFailed("the sealed epoch secret did not open") from None
