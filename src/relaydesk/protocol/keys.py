"""The key schedule (docs/protocol.md §6): member keys, epoch commits, content keys and
the security code. Pure functions; randomness comes in as an ``Rng``, except the hybrid
KEM's encapsulation randomness, which ``cryptography``'s HPKE draws itself (hpke.py).
"""

from __future__ import annotations

import functools
import hashlib
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hpke as library_hpke
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from relaydesk import limits
from relaydesk.errors import CommitRejected, DecryptionFailed, MessageError, TicketError
from relaydesk.protocol import hpke
from relaydesk.protocol.frames import Channel
from relaydesk.protocol.messages import CommitContent, KeyCommit, Role, SealedKey, pack, unpack
from relaydesk.protocol.tickets import Ticket

Rng = Callable[[int], bytes]
"""Returns that many random bytes (``os.urandom`` in the drivers, seeded in tests)."""

EPOCH_SECRET_SIZE = 32
COMMIT_LABEL = b"relaydesk/v1 commit"
ROSTER_LABEL = b"relaydesk/v1 roster"
CONTENT_KEY_LABEL = b"relaydesk/v1 content key"
EPOCH_SECRET_LABEL = b"relaydesk/v1 epoch secret"
SECURITY_CODE_LABEL = b"relaydesk/v1 security code"
SECURITY_CODE_DIGITS = 16


@dataclass(frozen=True, slots=True)
class MemberKeys:
    """A member's private keys for one session: made fresh for every join."""

    agreement: hpke.AgreementKey  # ML-KEM-768 + X25519: the HPKE recipient key (§6.2)
    signing: Ed25519PrivateKey

    @classmethod
    def generate(cls, rng: Rng) -> MemberKeys:
        """64 bytes for the ML-KEM-768 seed, 32 for the X25519 key, 32 for the Ed25519
        seed, drawn in that order (the vectors' order)."""
        mlkem_seed, x25519 = rng(hpke.MLKEM_SEED_SIZE), rng(32)
        return cls(
            hpke.AgreementKey.from_private_bytes(mlkem_seed, x25519),
            Ed25519PrivateKey.from_private_bytes(rng(32)),
        )

    @property
    def agreement_public(self) -> bytes:
        """The 1216-byte hybrid public key that goes into the join request."""
        return self.agreement.public_bytes()

    @property
    def ed25519_public(self) -> bytes:
        return self.signing.public_key().public_bytes_raw()


_PROBE = X25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


def check_agreement_key(public: bytes) -> None:
    """Refuse a hybrid public key that is not one (its ML-KEM-768 part fails FIPS 203's
    check) or whose X25519 part is of low order: sealing to it would fail, and a leader
    that cannot seal to one member could start no epoch at all. TicketError if bad."""
    try:
        hpke.public_key(public)
        _PROBE.exchange(X25519PublicKey.from_public_bytes(public[hpke.MLKEM_PUBLIC_SIZE :]))
    except ValueError:
        raise TicketError("the member's agreement key is invalid") from None


def roster_hash(tickets: Iterable[Ticket]) -> bytes:
    """SHA-256 over the roster's identities, ordered by member id (§6.4)."""
    digest = hashlib.sha256(ROSTER_LABEL)
    for ticket in sorted(tickets, key=lambda t: t.member_id):
        name = ticket.display_name.encode()
        digest.update(struct.pack(">I", ticket.member_id) + ticket.agreement + ticket.ed25519)
        digest.update(struct.pack(">H", len(name)) + name)
    return digest.digest()


def security_code(session_uid: bytes, leader_ed25519: bytes, roster: bytes) -> str:
    """16 digits in groups of four that everyone in the same epoch sees alike (§6.5)."""
    digest = hashlib.sha256(SECURITY_CODE_LABEL + session_uid + leader_ed25519 + roster).digest()
    number = int.from_bytes(digest[:8], "big") % 10**SECURITY_CODE_DIGITS
    digits = f"{number:0{SECURITY_CODE_DIGITS}d}"
    return " ".join(digits[i : i + 4] for i in range(0, SECURITY_CODE_DIGITS, 4))


def content_key(
    session_uid: bytes, epoch_secret: bytes, epoch: int, sender: int, channel: Channel
) -> bytes:
    """The AES-256-GCM key of one sender's channel in one epoch (§6.3)."""
    prk = hpke.extract(session_uid, epoch_secret)
    info = CONTENT_KEY_LABEL + struct.pack(">IIB", epoch, sender, channel)
    return hpke.expand(prk, info, 32)


def expected_leader(members: Iterable[tuple[int, Role]] | Mapping[int, Role]) -> int:
    """The key leader: the member with the lowest id whose CURRENT role is host (as the
    relay announces roles: roster entries and ROLE_CHANGE); with no host present, the
    lowest member id (join before host: chat only). docs/protocol.md §6.1.

    ``members`` are the members present as (member id, role) pairs or id -> role.
    """
    pairs: list[tuple[int, Role]] = list(
        members.items() if isinstance(members, Mapping) else members
    )
    if not pairs:
        raise CommitRejected("an empty roster has no key leader")
    hosts = [member_id for member_id, role in pairs if role is Role.HOST]
    return min(hosts) if hosts else min(member_id for member_id, _ in pairs)


@functools.lru_cache(maxsize=2 * limits.MAX_MEMBERS)
def _recipient(public: bytes) -> library_hpke.MLKEM768X25519PublicKey:
    """A ticket's agreement key, parsed once: a leader seals to it at every rekey."""
    try:
        return hpke.public_key(public)
    except ValueError:
        raise DecryptionFailed("the member's agreement key is invalid") from None


def _epoch_secret_info(session_uid: bytes, epoch: int, member_id: int) -> bytes:
    return EPOCH_SECRET_LABEL + session_uid + struct.pack(">II", epoch, member_id)


def make_commit(
    session_uid: bytes,
    epoch: int,
    leader: int,
    leader_keys: MemberKeys,
    roster: Mapping[int, Ticket],
    epoch_secret: bytes,
) -> KeyCommit:
    """Seal ``epoch_secret`` to every member of ``roster`` and sign the lot (§6.2)."""
    sealed = []
    for member_id in sorted(roster):
        info = _epoch_secret_info(session_uid, epoch, member_id)
        recipient = _recipient(roster[member_id].agreement)
        enc, ciphertext = hpke.seal(recipient, info, epoch_secret)
        sealed.append(SealedKey(member_id, enc, ciphertext))
    content = CommitContent(
        session_uid=session_uid,
        epoch=epoch,
        leader=leader,
        members=tuple(sorted(roster)),
        roster_hash=roster_hash(roster.values()),
        sealed=tuple(sealed),
    )
    encoded = pack(content)
    return KeyCommit(encoded, leader_keys.signing.sign(COMMIT_LABEL + encoded))


def read_commit(commit: KeyCommit) -> CommitContent:
    try:
        content = unpack(commit.content, CommitContent, "commit")
    except MessageError as error:
        raise CommitRejected(f"malformed commit: {error}") from None
    return content


def verify_commit(commit: KeyCommit, leader_ticket: Ticket) -> CommitContent:
    """Check that the leader signed the commit and that it names that leader."""
    try:
        public = Ed25519PublicKey.from_public_bytes(leader_ticket.ed25519)
        public.verify(commit.signature, COMMIT_LABEL + commit.content)
    except InvalidSignature:
        raise CommitRejected("the key commit is not signed by the key leader") from None
    content = read_commit(commit)
    if content.leader != leader_ticket.member_id:
        raise CommitRejected("the key commit names another leader than its signer")
    return content


def open_epoch_secret(content: CommitContent, member_id: int, keys: MemberKeys) -> bytes:
    """This member's copy of the epoch secret; CommitRejected if there is none for it."""
    for sealed in content.sealed:
        if sealed.member_id == member_id:
            info = _epoch_secret_info(content.session_uid, content.epoch, member_id)
            try:
                return hpke.open_(keys.agreement, sealed.enc, info, sealed.ciphertext)
            except DecryptionFailed:
                raise CommitRejected(
                    "the epoch secret sealed to this member did not open"
                ) from None
    raise CommitRejected("the key commit has no key for this member")
