"""Join tickets: the broker's signed statement of who a member is (docs/protocol.md §7).

A ticket binds a member id, display name and role to the member's two public keys for one
session. The relay admits only ticket holders; every client checks every other member's
ticket against the broker's public key, so a relay cannot invent members or swap keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from relaydesk import limits
from relaydesk.errors import (
    MessageError,
    TicketError,
    TicketExpired,
    TicketSignatureInvalid,
    TicketWrongSession,
)
from relaydesk.protocol.messages import U64, Fields, Role, pack, unpack

TICKET_LABEL = b"relaydesk/v1 ticket"
TICKET_VERSION = 1


@dataclass(frozen=True, slots=True)
class Ticket:
    session_uid: bytes
    member_id: int
    display_name: str
    role: Role
    x25519: bytes  # agreement public key (HPKE recipient)
    ed25519: bytes  # signing public key
    relay: str  # where to connect
    expires_at: int  # Unix seconds

    def to_fields(self) -> list[Any]:
        return [
            TICKET_VERSION,
            self.session_uid,
            self.member_id,
            self.display_name,
            self.role,
            self.x25519,
            self.ed25519,
            self.relay,
            self.expires_at,
        ]

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        fields.integer(TICKET_VERSION, TICKET_VERSION)
        return cls(
            session_uid=fields.binary(16, exact=16),
            member_id=fields.member(),
            display_name=fields.text(limits.MAX_DISPLAY_NAME_CHARS, min_chars=1),
            role=fields.enum(Role),
            x25519=fields.binary(32, exact=32),
            ed25519=fields.binary(32, exact=32),
            relay=fields.text(limits.MAX_RELAY_URL_CHARS),
            expires_at=fields.integer(0, U64),
        )


def sign_ticket(ticket: Ticket, broker_key: Ed25519PrivateKey) -> bytes:
    """The ticket as the broker hands it out: [content, signature]."""
    content = pack(ticket.to_fields())
    signature = broker_key.sign(TICKET_LABEL + content)
    return pack([content, signature])


def read_ticket(blob: bytes) -> tuple[bytes, bytes, Ticket]:
    """Split and parse a ticket without checking it: (content, signature, ticket)."""
    try:
        outer = unpack(blob, limits.MAX_TICKET_BYTES, "ticket")
        content = outer.binary(limits.MAX_TICKET_BYTES)
        signature = outer.binary(64, exact=64)
        outer.done()
        fields = unpack(content, limits.MAX_TICKET_BYTES, "ticket")
        ticket = Ticket.from_fields(fields)
        fields.done()
    except MessageError as error:
        raise TicketError(f"malformed ticket: {error}") from None
    return content, signature, ticket


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
