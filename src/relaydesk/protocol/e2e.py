"""End-to-end encryption state of one member (docs/protocol.md §6).

Holds the verified tickets of the roster, the current epoch (and the previous one for
a short grace period), per-channel send counters and per-sender replay windows. Content
frames are sealed with AES-256-GCM under a per-sender, per-channel key, the plaintext
header as associated data, and signed with the sender's Ed25519 key.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

import msgspec
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from relaydesk import limits
from relaydesk.errors import (
    CommitRejected,
    DecryptionFailed,
    NoEpochKey,
    ReplayDetected,
    SignatureInvalid,
)
from relaydesk.protocol import keys as ks
from relaydesk.protocol.frames import EVERYONE, Channel, Flags, Frame, FrameType, Header
from relaydesk.protocol.messages import ContentMessage, KeyCommit, Role, decode, encode
from relaydesk.protocol.tickets import Ticket, verify_ticket

CONTENT_LABEL = b"relaydesk/v1 content"
TAG_SIZE = 16
SIGNATURE_SIZE = 64


def nonce(sequence: int) -> bytes:
    """The AES-GCM nonce of a content frame: four zero bytes, then the sequence (§6.3)."""
    return bytes(4) + struct.pack(">Q", sequence)


@dataclass(slots=True)
class Epoch:
    number: int
    leader: int
    members: frozenset[int]
    roster_hash: bytes
    security_code: str
    secret: bytes
    started_at: float
    expires_at: float | None = None  # set when a newer epoch replaces it
    ciphers: dict[tuple[int, Channel], AESGCM] = field(default_factory=dict)


class EndToEnd:
    """One member's view of a session's keys. Pure: the caller supplies ``now`` and RNG."""

    def __init__(
        self,
        session_uid: bytes,
        member_id: int,
        member_keys: ks.MemberKeys,
        broker_public: Ed25519PublicKey,
    ) -> None:
        self.session_uid = session_uid
        self.member_id = member_id
        self.member_keys = member_keys
        self._broker_public = broker_public
        self._tickets: dict[int, Ticket] = {}  # every verified ticket still of use
        self._present: set[int] = set()
        self._roles: dict[int, Role] = {}  # current roles, as the relay last announced them
        self._epochs: dict[int, Epoch] = {}  # the current epoch and at most one before it
        self.current: Epoch | None = None
        self._send_sequence: dict[Channel, int] = {}
        self._highest_seen: dict[tuple[int, int, Channel], int] = {}
        self._control_sequence = 0
        self._newest_epoch = 0  # the highest epoch number seen anywhere, even unopened
        self._stray_answered_at: float | None = None  # when a stray epoch last counted

    # Roster --------------------------------------------------------------------------

    def add_member(self, ticket_blob: bytes, now: float, role: Role | None = None) -> Ticket:
        """Verify a roster member's ticket against the broker key and remember it, with
        its current ``role`` as the relay announces it (None: the ticket's role)."""
        ticket = verify_ticket(
            ticket_blob, self._broker_public, now=now, session_uid=self.session_uid,
            check_expiry=False,
        )  # fmt: skip
        ks.check_agreement_key(ticket.agreement)
        known = self._tickets.get(ticket.member_id)
        # A refreshed ticket (§7.3) changes only its expiry, home relay and placement.
        if known is not None and known != msgspec.structs.replace(
            ticket, expires_at=known.expires_at, relay=known.relay, placement=known.placement
        ):
            raise CommitRejected(f"member {ticket.member_id} was shown with two different keys")
        self._tickets[ticket.member_id] = ticket
        self._present.add(ticket.member_id)
        self._roles[ticket.member_id] = ticket.role if role is None else role
        return ticket

    def remove_member(self, member_id: int) -> None:
        self._present.discard(member_id)

    def set_role(self, member_id: int, role: Role) -> None:
        """A ROLE_CHANGE from the relay: the key leader follows the current hosts (§6.1).
        A member this side holds no ticket for is ignored."""
        if member_id in self._tickets:
            self._roles[member_id] = role

    def role(self, member_id: int) -> Role:
        """A known member's current role (KeyError for a member never added)."""
        return self._roles[member_id]

    @property
    def roster(self) -> Mapping[int, Ticket]:
        return {m: self._tickets[m] for m in sorted(self._present)}

    def ticket(self, member_id: int) -> Ticket:
        return self._tickets[member_id]

    @property
    def leader(self) -> int | None:
        """The key leader of the members present (§6.1), None when nobody is."""
        if not self._present:
            return None
        return ks.expected_leader((m, self._roles[m]) for m in self._present)

    @property
    def is_leader(self) -> bool:
        return self.leader == self.member_id

    @property
    def epochs(self) -> list[Epoch]:
        """The epochs this member can open now: the current one, and the one it replaced
        while its grace period lasts (a recording that starts keeps both, §12)."""
        return sorted(self._epochs.values(), key=lambda e: e.number)

    @property
    def security_code(self) -> str | None:
        return None if self.current is None else self.current.security_code

    def needs_rekey(self, now: float) -> bool:
        """The leader must start an epoch: none yet, roster changed, another leader made
        the current one (the host handed over) or a newer one (while this leader's link
        was down: it holds no key for it), or it is too old."""
        if not self.is_leader:
            return False
        epoch = self.current
        return (
            epoch is None
            or epoch.leader != self.member_id
            or epoch.members != frozenset(self._present)
            or self._newest_epoch > epoch.number  # made while this leader was away
            or now - epoch.started_at >= limits.EPOCH_MAX_AGE_SECONDS
        )

    # Epochs --------------------------------------------------------------------------

    def note_epoch(self, number: int) -> None:
        """An epoch number seen in the roster or a commit header: a member that becomes
        leader later must start above it, or the others would refuse its commit."""
        self._newest_epoch = max(self._newest_epoch, number)

    def start_epoch(self, rng: ks.Rng, now: float) -> Frame:
        """As key leader: make, apply and return a KEY_COMMIT frame for the present roster."""
        if not self.is_leader:
            raise CommitRejected("only the key leader starts an epoch")
        number = max(self._newest_epoch, self.current.number if self.current else 0) + 1
        if number > 0xFFFFFFFF:  # noted from an unauthenticated header: no u32 above it
            raise CommitRejected("no epoch number is left above the newest one seen")
        commit = ks.make_commit(
            self.session_uid, number, self.member_id, self.member_keys, self.roster,
            rng(ks.EPOCH_SECRET_SIZE),
        )  # fmt: skip
        self._control_sequence += 1
        header = Header(
            FrameType.KEY_COMMIT, self.session_uid, number, self.member_id, EVERYONE,
            self._control_sequence,
        )  # fmt: skip
        frame = Frame(header, encode(commit))
        self.apply_commit(header, commit, now)
        return frame

    def apply_commit(self, header: Header, commit: KeyCommit, now: float) -> Epoch:
        """Check a commit from the relay and move to its epoch; CommitRejected otherwise."""
        if header.session_uid != self.session_uid:
            raise CommitRejected("the key commit belongs to another session")
        leader = self.leader
        if leader is None or header.sender != leader:
            raise CommitRejected(f"the key commit is not from the key leader (member {leader})")
        content = ks.verify_commit(commit, self._tickets[leader])
        if content.session_uid != self.session_uid or content.epoch != header.epoch:
            raise CommitRejected("the key commit's session or epoch does not match its header")
        current = self.current
        # A stand-in's epoch (led while the leader was away) may carry the number the
        # returning leader picks for its own: the leader's commit replaces it (§6.2).
        replaces = (
            current is not None and current.number == content.epoch and current.leader != leader
        )
        if current is not None and content.epoch <= current.number and not replaces:
            raise CommitRejected(f"epoch {content.epoch} is not newer than {current.number}")
        if list(content.members) != sorted(set(content.members)):
            raise CommitRejected("the key commit's members are not sorted and distinct")
        if [s.member_id for s in content.sealed] != list(content.members):
            raise CommitRejected("the key commit does not seal one key to each member")
        unknown = [m for m in content.members if m not in self._tickets]
        if unknown:
            raise CommitRejected(f"the key commit names members this client never saw: {unknown}")
        roster = ks.roster_hash(self._tickets[m] for m in content.members)
        if roster != content.roster_hash:
            raise CommitRejected("the key leader sees other members' keys than this client")
        secret = ks.open_epoch_secret(content, self.member_id, self.member_keys)
        epoch = Epoch(
            number=content.epoch,
            leader=leader,
            members=frozenset(content.members),
            roster_hash=roster,
            security_code=ks.security_code(self.session_uid, self._tickets[leader].ed25519, roster),
            secret=secret,
            started_at=now,
        )
        self._retire_epochs(now, epoch.members)
        if replaces:  # the stand-in's epoch of that number is gone, its windows too
            self._epochs.pop(epoch.number, None)
            for key in [k for k in self._highest_seen if k[0] == epoch.number]:
                del self._highest_seen[key]
        self._epochs[epoch.number] = epoch
        self.current = epoch
        self._send_sequence.clear()
        return epoch

    def _retire_epochs(self, now: float, incoming: frozenset[int]) -> None:
        """Keep only the epoch being replaced, for the grace period; forget the rest."""
        for number in list(self._epochs):
            if self.current is None or number != self.current.number:
                del self._epochs[number]
        if self.current is not None:
            self.current.expires_at = now + limits.EPOCH_GRACE_SECONDS
        live = set(self._epochs) | ({self.current.number} if self.current else set())
        for key in [k for k in self._highest_seen if k[0] not in live]:
            del self._highest_seen[key]
        # The incoming epoch's members too: one may have left since the leader committed.
        needed = self._present.union(incoming, *(e.members for e in self._epochs.values()))
        for member_id in [m for m in self._tickets if m not in needed]:
            del self._tickets[member_id]
            self._roles.pop(member_id, None)

    def _epoch(self, number: int, now: float) -> Epoch:
        epoch = self._epochs.get(number)
        if epoch is None or (epoch.expires_at is not None and now >= epoch.expires_at):
            raise NoEpochKey(f"no key for epoch {number}")
        return epoch

    def _cipher(self, epoch: Epoch, sender: int, channel: Channel) -> AESGCM:
        cipher = epoch.ciphers.get((sender, channel))
        if cipher is None:
            key = ks.content_key(self.session_uid, epoch.secret, epoch.number, sender, channel)
            cipher = epoch.ciphers[(sender, channel)] = AESGCM(key)
        return cipher

    # Content -------------------------------------------------------------------------

    def seal(
        self, message: ContentMessage, target: int = EVERYONE, flags: Flags = Flags.NONE
    ) -> Frame:
        """Encrypt and sign a content message for the current epoch."""
        epoch = self.current
        if epoch is None:
            raise NoEpochKey("no epoch yet: wait for the key leader's commit")
        frame_type = message.TYPE
        channel = frame_type.channel
        sequence = self._send_sequence.get(channel, 0) + 1
        self._send_sequence[channel] = sequence
        header = Header(
            frame_type, self.session_uid, epoch.number, self.member_id, target, sequence, flags
        )
        plaintext = encode(message)
        header_bytes = header.pack(len(plaintext) + TAG_SIZE + SIGNATURE_SIZE)
        cipher = self._cipher(epoch, self.member_id, channel)
        ciphertext = cipher.encrypt(nonce(sequence), plaintext, header_bytes)
        signature = self.member_keys.signing.sign(CONTENT_LABEL + header_bytes + ciphertext)
        return Frame(header, ciphertext + signature)

    def stray_epoch(self, frame: Frame, now: float) -> bool:
        """Does this content frame, sealed in an epoch this member lacks, show that a newer
        epoch was made while it was away (§6.3)? Then it is noted, and a leader starts one
        above it. Only a frame a present member really signed counts (not one a relay
        made up), only a bounded jump above the newest epoch known (no member can exhaust
        the epoch numbers), and at most once per EPOCH_GRACE_SECONDS (nor keep a leader
        rekeying)."""
        header, body = frame.header, frame.body
        held = self.current.number if self.current else 0
        highest = max(held, self._newest_epoch)
        if (
            not header.type.is_content
            or header.session_uid != self.session_uid
            or header.sender not in self._present
            or not held < header.epoch <= highest + limits.MAX_STRAY_EPOCH_JUMP
            or len(body) < TAG_SIZE + SIGNATURE_SIZE
        ):
            return False
        answered = self._stray_answered_at
        if answered is not None and now - answered < limits.EPOCH_GRACE_SECONDS:
            return False
        header_bytes = header.pack(len(body))
        sender_key = Ed25519PublicKey.from_public_bytes(self._tickets[header.sender].ed25519)
        try:
            sender_key.verify(
                body[-SIGNATURE_SIZE:], CONTENT_LABEL + header_bytes + body[:-SIGNATURE_SIZE]
            )
        except InvalidSignature:
            return False
        self._stray_answered_at = now
        self.note_epoch(header.epoch)
        return True

    def open(self, frame: Frame, now: float) -> ContentMessage:
        """Verify, decrypt and decode a content frame; raises a CryptoError or MessageError."""
        header = frame.header
        if not header.type.is_content:
            raise DecryptionFailed(f"{header.type.name} is not a content frame")
        if header.session_uid != self.session_uid:
            raise DecryptionFailed("the message belongs to another session")
        epoch = self._epoch(header.epoch, now)
        if header.sender not in epoch.members:
            raise SignatureInvalid(f"member {header.sender} holds no key in epoch {epoch.number}")
        if len(frame.body) < TAG_SIZE + SIGNATURE_SIZE:
            raise DecryptionFailed("the sealed body is too short")
        header_bytes = header.pack(len(frame.body))
        ciphertext, signature = frame.body[:-SIGNATURE_SIZE], frame.body[-SIGNATURE_SIZE:]
        sender_key = Ed25519PublicKey.from_public_bytes(self._tickets[header.sender].ed25519)
        try:
            sender_key.verify(signature, CONTENT_LABEL + header_bytes + ciphertext)
        except InvalidSignature:
            raise SignatureInvalid(f"not signed by member {header.sender}") from None
        channel = header.type.channel
        window = (epoch.number, header.sender, channel)
        if header.sequence <= self._highest_seen.get(window, 0):
            raise ReplayDetected(f"sequence {header.sequence} from member {header.sender} again")
        cipher = self._cipher(epoch, header.sender, channel)
        try:
            plaintext = cipher.decrypt(nonce(header.sequence), ciphertext, header_bytes)
        except InvalidTag:
            raise DecryptionFailed("the message was altered or sealed with another key") from None
        self._highest_seen[window] = header.sequence
        message = decode(header.type, plaintext)
        assert not message.TYPE < FrameType.SCREEN_UPDATE  # content types decode to content
        return message  # type: ignore[return-value]
