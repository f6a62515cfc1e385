"""relaydesk.protocol.hpke: the hybrid suite MLKEM768-X25519 / HKDF-SHA256 / AES-256-GCM
of ``cryptography``, and the keys, sizes and refusals relaydesk builds around it
(docs/protocol.md §6.2). The combiner itself is checked, written out, by the vectors
(tests/vectors/generate.py, test_vectors.py)."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import hpke as library
from hypothesis import given, settings
from hypothesis import strategies as st

from relaydesk.errors import DecryptionFailed
from relaydesk.protocol import hpke as ours

RECIPIENT = ours.AgreementKey.from_private_bytes(bytes(range(64)), bytes(range(100, 132)))
RECIPIENT_PUBLIC = ours.public_key(RECIPIENT.public_bytes())
INFO = b"relaydesk/v1 epoch secret test"
SECRET = bytes(range(200, 232))

# X25519 points of small order and their non-canonical encodings: the shared secret
# would be all zero, so key agreement must fail (RFC 7748 §6.1).
LOW_ORDER_POINTS = [
    bytes(32),
    bytes([1]) + bytes(31),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    bytes([0xEC]) + b"\xff" * 30 + b"\x7f",
    bytes([0xED]) + b"\xff" * 30 + b"\x7f",
    bytes([0xEE]) + b"\xff" * 30 + b"\x7f",
]

plaintexts = st.binary(max_size=200)
infos = st.binary(max_size=64)


def test_sizes_and_suite() -> None:
    """1216-byte public keys, 1120-byte enc, ciphertext = plaintext + 16-byte tag: the
    sizes the wire (§6.2) and the limits (§10) are computed from."""
    assert ours.KEM_ID == 0x647A
    assert library.KEM.MLKEM768_X25519.enc_length() == ours.ENC_SIZE == 1120
    assert len(RECIPIENT.public_bytes()) == ours.PUBLIC_KEY_SIZE == 1216
    enc, ciphertext = ours.seal(RECIPIENT_PUBLIC, INFO, SECRET)
    assert (len(enc), len(ciphertext)) == (1120, 48)


@settings(max_examples=25)
@given(plaintext=plaintexts, info=infos)
def test_seal_then_open(plaintext: bytes, info: bytes) -> None:
    enc, ciphertext = ours.seal(RECIPIENT_PUBLIC, info, plaintext)
    assert ours.open_(RECIPIENT, enc, info, ciphertext) == plaintext


def test_every_seal_is_fresh() -> None:
    """The library draws new encapsulation randomness each time: no two boxes alike."""
    first = ours.seal(RECIPIENT_PUBLIC, INFO, SECRET)
    second = ours.seal(RECIPIENT_PUBLIC, INFO, SECRET)
    assert first[0] != second[0] and first[1] != second[1]


def test_the_public_key_is_mlkem_then_x25519() -> None:
    public = RECIPIENT.public_bytes()
    assert public[: ours.MLKEM_PUBLIC_SIZE] == RECIPIENT.mlkem.public_key().public_bytes_raw()
    assert public[ours.MLKEM_PUBLIC_SIZE :] == RECIPIENT.x25519.public_key().public_bytes_raw()


def test_another_recipient_info_or_bit_does_not_open() -> None:
    other = ours.AgreementKey.from_private_bytes(os.urandom(64), os.urandom(32))
    enc, ciphertext = ours.seal(RECIPIENT_PUBLIC, INFO, SECRET)
    for key, info, e, c in [
        (other, INFO, enc, ciphertext),
        (RECIPIENT, INFO + b"!", enc, ciphertext),
        (RECIPIENT, INFO, bytes([enc[0] ^ 1]) + enc[1:], ciphertext),  # ML-KEM part
        (RECIPIENT, INFO, enc[:-1] + bytes([enc[-1] ^ 1]), ciphertext),  # X25519 part
        (RECIPIENT, INFO, enc, ciphertext[:-1] + bytes([ciphertext[-1] ^ 1])),
        (RECIPIENT, INFO, enc[:-1], ciphertext),
        (RECIPIENT, INFO, enc, ciphertext[:15]),
    ]:
        with pytest.raises(DecryptionFailed):
            ours.open_(key, e, info, c)


@pytest.mark.parametrize("point", LOW_ORDER_POINTS, ids=range(len(LOW_ORDER_POINTS)))
def test_low_order_x25519_parts_are_refused(point: bytes) -> None:
    """In enc, the agreement fails (DecryptionFailed); as a recipient's X25519 part,
    sealing fails the same way (keys.check_agreement_key keeps such keys out of tickets)."""
    enc, ciphertext = ours.seal(RECIPIENT_PUBLIC, INFO, SECRET)
    with pytest.raises(DecryptionFailed):
        ours.open_(RECIPIENT, enc[: ours.MLKEM_CIPHERTEXT_SIZE] + point, INFO, ciphertext)
    try:
        recipient = ours.public_key(RECIPIENT.public_bytes()[: ours.MLKEM_PUBLIC_SIZE] + point)
    except ValueError:
        return  # refused already when parsed
    with pytest.raises(DecryptionFailed):
        ours.seal(recipient, INFO, SECRET)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        bytes(1215),
        bytes(1217),
        b"\xff" * 1184 + bytes(range(32)),  # coefficients above q: FIPS 203's check fails
    ],
    ids=["empty", "short", "long", "not reduced"],
)
def test_public_keys_that_are_not_ones_are_refused(data: bytes) -> None:
    with pytest.raises(ValueError):
        ours.public_key(data)
