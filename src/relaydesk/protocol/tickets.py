"""Join tickets: the broker's signed statement of who a member is (docs/protocol.md §7).

A ticket binds a member id, display name and role to the member's two public keys for one
session. The relay admits only ticket holders; every client checks every other member's
ticket against the broker's public key, so a relay cannot invent members or swap keys.
"""

from __future__ import annotations

import hashlib
from enum import IntFlag
from typing import Annotated

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from msgspec import Meta

from relaydesk import limits
from relaydesk.errors import (
    HelloProofInvalid,
    MessageError,
    TicketError,
    TicketExpired,
    TicketSignatureInvalid,
    TicketWrongSession,
)
from relaydesk.protocol.messages import (
    AgreementPublic,
    Bytes16,
    Bytes32,
    Bytes64,
    Member,
    Record,
    Role,
    TicketBlob,
    UInt32,
    UInt64,
    pack,
    unpack,
)

TICKET_LABEL = b"relaydesk/v1 ticket"
REFRESH_LABEL = b"relaydesk/v1 refresh\n"  # a member asking for a fresh ticket (§7.3)
HELLO_LABEL = b"relaydesk/v1 hello"  # a member proving it holds its ticket's key (§7.1)
TICKET_VERSION = 4  # 4: the agreement key is the hybrid ML-KEM-768 + X25519 key


class TicketRule(IntFlag):
    """What the broker decided about this member's entry (§7.2), a u32 of bits.

    Only these bits exist: ``TicketRule(n)`` refuses any other bit and any negative
    number (ValueError; a decoder refuses such a ticket), where a plain IntFlag would keep
    unknown bits and read -1 as "every bit".
    """

    WAIT_IN_LOBBY = 1  # this member waits for a host's admission
    TWO_PARTY = 2  # the session is a two-party support session
    JOIN_BEFORE_HOST = 4  # members may be in before the host (chat only)
    # The site's policy (docs/operators.md, "Site policy"): the relay refuses this
    # member's presenting and screen frames, and its part in remote control (§5.2).
    NO_SHARING = 8  # this member may not present its screen
    NO_CONTROL = 16  # this member may neither take nor give remote control

    @classmethod
    def _missing_(cls, value: object) -> TicketRule:
        known = sum(int(rule) for rule in cls.__members__.values())  # composites are cached
        if not isinstance(value, int) or value < 0 or value & ~known:
            raise ValueError(f"{value!r} is not a valid {cls.__name__}")
        member: TicketRule = super()._missing_(value)
        return member

    def __invert__(self) -> TicketRule:
        return TicketRule(int(KNOWN_RULES) & ~int(self))


KNOWN_RULES = (
    TicketRule.WAIT_IN_LOBBY
    | TicketRule.TWO_PARTY
    | TicketRule.JOIN_BEFORE_HOST
    | TicketRule.NO_SHARING
    | TicketRule.NO_CONTROL
)
SITE_RULES = TicketRule.NO_SHARING | TicketRule.NO_CONTROL  # the site policy's, per member
NO_RULES = TicketRule(0)


class Ticket(Record, tag=TICKET_VERSION):
    """A ticket's content: [version, fields...]; the version is the record's tag."""

    session_uid: Bytes16
    member_id: Member
    display_name: Annotated[str, Meta(min_length=1, max_length=limits.MAX_DISPLAY_NAME_CHARS)]
    role: Role
    agreement: AgreementPublic  # ML-KEM-768 + X25519 public key: the HPKE recipient (v4)
    ed25519: Bytes32  # signing public key
    # the home relay's name: the relay whose hub runs this session's rules (v3)
    relay: Annotated[str, Meta(max_length=limits.MAX_RELAY_URL_CHARS)]
    expires_at: UInt64  # Unix seconds
    # as the member gave it when joining; "" when none was given
    email: Annotated[str, Meta(max_length=limits.MAX_EMAIL_CHARS)] = ""
    rules: TicketRule = NO_RULES  # a u32 on the wire: only KNOWN_RULES bits
    # +1 each time the broker moves the session to another home relay (v3)
    placement: UInt32 = 0


class SignedTicket(Record):
    """The ticket as the broker hands it out: the content exactly as signed (§7.2)."""

    content: TicketBlob
    signature: Bytes64


def sign_ticket(ticket: Ticket, broker_key: Ed25519PrivateKey) -> bytes:
    """The ticket as the broker hands it out: [content, signature]."""
    content = pack(ticket)
    signature = broker_key.sign(TICKET_LABEL + content)
    return pack(SignedTicket(content, signature))


def read_ticket(blob: bytes) -> tuple[bytes, bytes, Ticket]:
    """Split and parse a ticket without checking it: (content, signature, ticket)."""
    try:
        signed = unpack(blob, SignedTicket, "ticket")
        ticket = unpack(signed.content, Ticket, "ticket")
    except MessageError as error:
        raise TicketError(f"malformed ticket: {error}") from None
    return signed.content, signed.signature, ticket


def verify_ticket(
    blob: bytes,
    broker_public: Ed25519PublicKey,
    *,
    now: float,
    session_uid: bytes | None = None,
    check_expiry: bool = True,
) -> Ticket:
    """Check the broker's signature, the expiry and (if given) the session.

    Peers' tickets in a roster are checked with ``check_expiry=False``: a ticket only
    has to be fresh when its holder is admitted.
    """
    content, signature, ticket = read_ticket(blob)
    try:
        broker_public.verify(signature, TICKET_LABEL + content)
    except InvalidSignature:
        raise TicketSignatureInvalid("the ticket is not signed by this server") from None
    if session_uid is not None and ticket.session_uid != session_uid:
        raise TicketWrongSession("the ticket belongs to another session")
    if check_expiry and now >= ticket.expires_at:
        raise TicketExpired("the ticket has expired; join the session again")
    return ticket


def refresh_message(ticket_blob: bytes, timestamp: int) -> bytes:
    """What a member signs, with its ticket's ``ed25519`` key, to refresh that ticket:
    the label, the signed ticket as it holds it and the Unix seconds, u64 big-endian."""
    return REFRESH_LABEL + ticket_blob + timestamp.to_bytes(8, "big")


def hello_message(challenge: bytes, ticket_blob: bytes, relay: str) -> bytes:
    """What a member signs in HELLO (§7.1): the label, the relay's challenge, the SHA-256
    of the ticket as sent and the name of the relay it meant to reach. The challenge makes
    an old HELLO worthless, the name makes one made for relay A worthless at relay B."""
    return HELLO_LABEL + challenge + hashlib.sha256(ticket_blob).digest() + relay.encode()


def prove_hello(
    signing: Ed25519PrivateKey, challenge: bytes, ticket_blob: bytes, relay: str
) -> bytes:
    """The HELLO proof: a signature by the ticket's own ``ed25519`` key."""
    return signing.sign(hello_message(challenge, ticket_blob, relay))


def verify_hello(
    ticket: Ticket, ticket_blob: bytes, proof: bytes, challenge: bytes, relay: str
) -> None:
    """HelloProofInvalid unless ``proof`` is the ticket holder's signature over this
    relay's ``challenge`` (the relay checks it before admitting, §7.1)."""
    try:
        public = Ed25519PublicKey.from_public_bytes(ticket.ed25519)
        public.verify(proof, hello_message(challenge, ticket_blob, relay))
    except InvalidSignature:
        raise HelloProofInvalid("the HELLO does not prove possession of the ticket's key") from None
