"""relaydesk.protocol.hpke against the ``cryptography`` package's own HPKE (RFC 9180)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings
from hypothesis import strategies as st

from relaydesk.errors import DecryptionFailed
from relaydesk.protocol import hpke as ours

SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
RECIPIENT = X25519PrivateKey.from_private_bytes(bytes(range(32)))
RECIPIENT_PUBLIC = RECIPIENT.public_key().public_bytes_raw()
EPHEMERAL = X25519PrivateKey.from_private_bytes(bytes(range(100, 132)))
INFO = b"relaydesk/v1 epoch secret test"
SECRET = bytes(range(200, 232))

# X25519 points of small order and their non-canonical encodings: the shared secret
# would be all zero, so key agreement must fail (RFC 9180 §7.1.4, RFC 7748 §6.1).
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


def test_cryptography_output_is_enc_then_ciphertext() -> None:
    """The assumption the interop tests rest on, checked by experiment: 32-byte enc (an
    X25519 public key), then the AES-256-GCM ciphertext with its 16-byte tag."""
    for plaintext in (b"", b"x", bytes(100)):
        sealed = SUITE.encrypt(plaintext, RECIPIENT.public_key(), info=INFO)
        assert len(sealed) == ours.N_ENC + len(plaintext) + 16
        enc = sealed[: ours.N_ENC]
        # enc is a valid X25519 public key, and a fresh one each time.
        assert RECIPIENT.exchange(X25519PublicKey.from_public_bytes(enc)) != bytes(32)
        assert SUITE.encrypt(plaintext, RECIPIENT.public_key(), info=INFO)[:32] != enc


@settings(max_examples=25)
@given(plaintext=plaintexts, info=infos)
def test_we_open_what_cryptography_seals(plaintext: bytes, info: bytes) -> None:
    sealed = SUITE.encrypt(plaintext, RECIPIENT.public_key(), info=info)
    enc, ciphertext = sealed[: ours.N_ENC], sealed[ours.N_ENC :]
    assert ours.open_(RECIPIENT, enc, info, b"", ciphertext) == plaintext


@settings(max_examples=25)
@given(plaintext=plaintexts, info=infos, ephemeral=st.binary(min_size=32, max_size=32))
def test_cryptography_opens_what_we_seal(plaintext: bytes, info: bytes, ephemeral: bytes) -> None:
    key = X25519PrivateKey.from_private_bytes(ephemeral)
    enc, ciphertext = ours.seal(RECIPIENT_PUBLIC, info, b"", plaintext, key)
    assert enc == key.public_key().public_bytes_raw()
    assert SUITE.decrypt(enc + ciphertext, RECIPIENT, info=info) == plaintext


@settings(max_examples=25)
@given(plaintext=plaintexts, info=infos, aad=st.binary(min_size=1, max_size=32))
def test_seal_open_with_associated_data(plaintext: bytes, info: bytes, aad: bytes) -> None:
    enc, ciphertext = ours.seal(RECIPIENT_PUBLIC, info, aad, plaintext, EPHEMERAL)
    assert ours.open_(RECIPIENT, enc, info, aad, ciphertext) == plaintext
    with pytest.raises(DecryptionFailed):
        ours.open_(RECIPIENT, enc, info, b"", ciphertext)


def test_seal_is_deterministic_given_the_ephemeral_key() -> None:
    first = ours.seal(RECIPIENT_PUBLIC, INFO, b"", SECRET, EPHEMERAL)
    assert ours.seal(RECIPIENT_PUBLIC, INFO, b"", SECRET, EPHEMERAL) == first
    other = X25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
    assert ours.seal(RECIPIENT_PUBLIC, INFO, b"", SECRET, other)[1] != first[1]


def sealed_secret() -> tuple[bytes, bytes]:
    return ours.seal(RECIPIENT_PUBLIC, INFO, b"", SECRET, EPHEMERAL)


def flip(data: bytes, index: int) -> bytes:
    changed = bytearray(data)
    changed[index] ^= 0x01
    return bytes(changed)


def test_every_changed_ciphertext_bit_is_refused() -> None:
    enc, ciphertext = sealed_secret()
    for index in range(len(ciphertext)):
        with pytest.raises(DecryptionFailed):
            ours.open_(RECIPIENT, enc, INFO, b"", flip(ciphertext, index))


def test_changed_enc_is_refused() -> None:
    enc, ciphertext = sealed_secret()
    for index in range(len(enc)):
        changed = flip(enc, index)
        with pytest.raises(DecryptionFailed):
            ours.open_(RECIPIENT, changed, INFO, b"", ciphertext)


@pytest.mark.parametrize("info", [b"", INFO[:-1], INFO + b"\x00", flip(INFO, 0)])
def test_other_info_is_refused(info: bytes) -> None:
    enc, ciphertext = sealed_secret()
    with pytest.raises(DecryptionFailed):
        ours.open_(RECIPIENT, enc, info, b"", ciphertext)


def test_truncated_or_extended_ciphertext_is_refused() -> None:
    enc, ciphertext = sealed_secret()
    for changed in (ciphertext[:-1], ciphertext + b"\x00", ciphertext[:16], b""):
        with pytest.raises(DecryptionFailed):
            ours.open_(RECIPIENT, enc, INFO, b"", changed)


def test_other_recipient_cannot_open() -> None:
    enc, ciphertext = sealed_secret()
    with pytest.raises(DecryptionFailed):
        ours.open_(EPHEMERAL, enc, INFO, b"", ciphertext)


@pytest.mark.parametrize("point", LOW_ORDER_POINTS, ids=lambda p: p.hex()[:8])
def test_low_order_enc_is_refused(point: bytes) -> None:
    _, ciphertext = sealed_secret()
    with pytest.raises(DecryptionFailed, match="invalid public key"):
        ours.open_(RECIPIENT, point, INFO, b"", ciphertext)


@pytest.mark.parametrize("point", LOW_ORDER_POINTS, ids=lambda p: p.hex()[:8])
def test_sealing_to_a_low_order_key_is_refused(point: bytes) -> None:
    with pytest.raises(DecryptionFailed):
        ours.seal(point, INFO, b"", SECRET, EPHEMERAL)


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_enc_of_the_wrong_length_is_refused(length: int) -> None:
    _, ciphertext = sealed_secret()
    with pytest.raises(DecryptionFailed):
        ours.open_(RECIPIENT, bytes(range(length)), INFO, b"", ciphertext)


@given(
    salt=st.binary(max_size=80),
    ikm=st.binary(max_size=80),
    info=infos,
    length=st.integers(1, 255 * 32),
)
@settings(max_examples=30)
def test_extract_then_expand_is_hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> None:
    expected = HKDF(hashes.SHA256(), length, salt or None, info).derive(ikm)
    assert ours.expand(ours.extract(salt, ikm), info, length) == expected


def test_extract_rfc5869_case_1() -> None:
    prk = ours.extract(bytes(range(13)), b"\x0b" * 22)
    assert prk.hex() == "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"
    okm = ours.expand(prk, bytes(range(0xF0, 0xFA)), 42)
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )
