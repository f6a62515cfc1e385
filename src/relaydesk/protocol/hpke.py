"""HPKE (RFC 9180) base mode, single shot, with the hybrid post-quantum KEM
MLKEM768-X25519 ("X-Wing", KEM id 0x647A of the HPKE PQ draft), HKDF-SHA256 and
AES-256-GCM: how epoch secrets are sealed to each member (docs/protocol.md §6.2).

The suite is ``cryptography``'s (``hazmat.primitives.hpke``): the library, not a
hand-written composition, does the encapsulation, the key schedule and the AEAD. It draws
the encapsulation randomness itself (it cannot be injected), so sealing is the one
operation of this pure core that is not a function of its inputs: the golden vectors of
sealing are open-only (a fixed private key, ``enc`` and ciphertext -> the plaintext).

A member's agreement key is a pair: an ML-KEM-768 key (kept as its 64-byte seed d || z,
FIPS 203) and an X25519 key. Its public key on the wire is the ML-KEM-768 encapsulation
key (1184 bytes) followed by the X25519 public key (32): 1216 bytes. ``enc`` is the
ML-KEM ciphertext (1088) followed by the ephemeral X25519 public key (32): 1120 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives import hpke as library
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey, MLKEM768PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from relaydesk.errors import DecryptionFailed

KEM_ID, KDF_ID, AEAD_ID = 0x647A, 0x0001, 0x0002
SUITE = library.Suite(
    library.KEM.MLKEM768_X25519, library.KDF.HKDF_SHA256, library.AEAD.AES_256_GCM
)
MLKEM_SEED_SIZE = 64  # d || z (FIPS 203 key generation seed)
MLKEM_PUBLIC_SIZE = 1184
MLKEM_CIPHERTEXT_SIZE = 1088
X25519_SIZE = 32
PUBLIC_KEY_SIZE = MLKEM_PUBLIC_SIZE + X25519_SIZE  # 1216
ENC_SIZE = MLKEM_CIPHERTEXT_SIZE + X25519_SIZE  # 1120
TAG_SIZE = 16


def extract(salt: bytes, ikm: bytes) -> bytes:
    """HKDF-Extract with SHA-256 (RFC 5869 §2.2)."""
    mac = hmac.HMAC(salt or bytes(32), hashes.SHA256())
    mac.update(ikm)
    return mac.finalize()


def expand(prk: bytes, info: bytes, length: int) -> bytes:
    """HKDF-Expand with SHA-256 (RFC 5869 §2.3)."""
    return HKDFExpand(hashes.SHA256(), length, info).derive(prk)


@dataclass(frozen=True)
class AgreementKey:
    """A member's hybrid private key: ML-KEM-768 and X25519."""

    mlkem: MLKEM768PrivateKey
    x25519: X25519PrivateKey
    _pair: library.MLKEM768X25519PrivateKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_pair", library.MLKEM768X25519PrivateKey(self.mlkem, self.x25519))

    @classmethod
    def from_private_bytes(cls, mlkem_seed: bytes, x25519: bytes) -> AgreementKey:
        return cls(
            MLKEM768PrivateKey.from_seed_bytes(mlkem_seed),
            X25519PrivateKey.from_private_bytes(x25519),
        )

    def public_bytes(self) -> bytes:
        """The 1216-byte public key a ticket carries."""
        return (
            self.mlkem.public_key().public_bytes_raw() + self.x25519.public_key().public_bytes_raw()
        )


def public_key(data: bytes) -> library.MLKEM768X25519PublicKey:
    """Parse a 1216-byte hybrid public key; ValueError if it is not one (its ML-KEM part
    fails FIPS 203's encapsulation key check, or a part has the wrong size)."""
    if len(data) != PUBLIC_KEY_SIZE:
        raise ValueError(f"a hybrid public key is {PUBLIC_KEY_SIZE} bytes, not {len(data)}")
    mlkem = MLKEM768PublicKey.from_public_bytes(data[:MLKEM_PUBLIC_SIZE])
    x25519 = X25519PublicKey.from_public_bytes(data[MLKEM_PUBLIC_SIZE:])
    return library.MLKEM768X25519PublicKey(mlkem, x25519)


def seal(
    recipient: library.MLKEM768X25519PublicKey, info: bytes, plaintext: bytes
) -> tuple[bytes, bytes]:
    """Seal to ``recipient`` (empty aad); returns (enc, ciphertext). Fresh randomness is
    drawn by the library for every call."""
    try:
        sealed = SUITE.encrypt(plaintext, recipient, info=info)
    except ValueError:  # a low-order X25519 part: the agreement gives all zeros
        raise DecryptionFailed("the hybrid key agreement failed (invalid public key)") from None
    return sealed[:ENC_SIZE], sealed[ENC_SIZE:]


def open_(recipient: AgreementKey, enc: bytes, info: bytes, ciphertext: bytes) -> bytes:
    """Open what ``seal`` made for this recipient; raises DecryptionFailed."""
    if len(enc) != ENC_SIZE or len(ciphertext) < TAG_SIZE:
        raise DecryptionFailed("the sealed epoch secret is not of the hybrid suite's size")
    try:
        return SUITE.decrypt(enc + ciphertext, recipient._pair, info=info)
    except (InvalidTag, ValueError):
        raise DecryptionFailed("the sealed epoch secret did not open") from None
