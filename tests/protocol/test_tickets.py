"""relaydesk.protocol.tickets: the broker's signed statement of who a member is."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st
from msgspec.structs import replace

import strategies as sts
from relaydesk.errors import (
    TicketError,
    TicketExpired,
    TicketSignatureInvalid,
    TicketWrongSession,
)
from relaydesk.protocol.messages import Role, pack
from relaydesk.protocol.tickets import (
    TICKET_LABEL,
    TICKET_VERSION,
    Ticket,
    TicketRule,
    read_ticket,
    refresh_message,
    sign_ticket,
    verify_ticket,
)

UID = bytes.fromhex("00112233445566778899aabbccddeeff")
NOW = 1_800_000_000
BROKER = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_BROKER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
TICKET = Ticket(
    session_uid=UID,
    member_id=3,
    display_name="Zoë",
    role=Role.PARTICIPANT,
    agreement=bytes([0x11]) * 1216,
    ed25519=bytes([0x22]) * 32,
    relay="wss://relay.example.org/relay",
    expires_at=NOW + 600,
)


def verify(blob: bytes, **kwargs: object) -> Ticket:
    options: dict[str, object] = {"now": NOW, "session_uid": UID, **kwargs}
    return verify_ticket(blob, BROKER.public_key(), **options)


@given(sts.tickets)
def test_sign_verify_round_trip(ticket: Ticket) -> None:
    blob = sign_ticket(ticket, BROKER)
    checked = verify_ticket(
        blob, BROKER.public_key(), now=0, session_uid=ticket.session_uid, check_expiry=False
    )
    assert checked == ticket
    content, signature, parsed = read_ticket(blob)
    assert parsed == ticket
    BROKER.public_key().verify(signature, TICKET_LABEL + content)  # an independent check


def test_version_4_carries_email_rules_placement_and_a_hybrid_key() -> None:
    assert TICKET_VERSION == 4
    assert len(TICKET.agreement) == 1216
    assert (TICKET.email, TICKET.rules, TICKET.placement) == ("", TicketRule(0), 0)
    assert TICKET.to_fields()[0] == 4 and TICKET.to_fields()[-3:] == ["", 0, 0]
    assert verify(sign_ticket(replace(TICKET, placement=7), BROKER)).placement == 7
    rules = TicketRule.WAIT_IN_LOBBY | TicketRule.JOIN_BEFORE_HOST
    ticket = replace(TICKET, email="zoe@example.org", rules=rules)
    checked = verify(sign_ticket(ticket, BROKER))
    assert checked == ticket
    assert TicketRule.WAIT_IN_LOBBY in checked.rules
    assert TicketRule.TWO_PARTY not in checked.rules
    assert isinstance(checked.rules, TicketRule)
    assert [int(r) for r in TicketRule] == [1, 2, 4, 8, 16]


def test_the_site_policy_bits_travel_in_the_ticket() -> None:
    rules = TicketRule.NO_SHARING | TicketRule.NO_CONTROL
    checked = verify(sign_ticket(replace(TICKET, rules=rules), BROKER))
    assert checked.rules == rules
    assert TICKET.to_fields()[-2] == 0  # no bits: as before the policy existed
    assert replace(TICKET, rules=rules).to_fields()[-2] == 24


def test_valid_ticket_until_expiry() -> None:
    blob = sign_ticket(TICKET, BROKER)
    assert verify(blob) == TICKET
    assert verify(blob, now=TICKET.expires_at - 1) == TICKET
    assert verify(blob, session_uid=None) == TICKET
    with pytest.raises(TicketExpired):
        verify(blob, now=TICKET.expires_at)
    with pytest.raises(TicketExpired):
        verify(blob, now=TICKET.expires_at + 0.5)


def test_check_expiry_false_accepts_an_old_ticket() -> None:
    blob = sign_ticket(TICKET, BROKER)
    assert verify(blob, now=TICKET.expires_at + 10**9, check_expiry=False) == TICKET


def test_signature_covers_every_byte_of_the_content() -> None:
    blob = sign_ticket(TICKET, BROKER)
    content, signature, _ = read_ticket(blob)
    for index in range(len(content)):
        tampered = bytearray(content)
        tampered[index] ^= 0x01
        with pytest.raises(TicketError) as error:
            verify(pack([bytes(tampered), signature]))
        # A flip that still parses is caught by the signature, never accepted.
        assert type(error.value) in (TicketSignatureInvalid, TicketError)
    for index in range(len(signature)):
        tampered = bytearray(signature)
        tampered[index] ^= 0x80
        with pytest.raises(TicketSignatureInvalid):
            verify(pack([content, bytes(tampered)]))


def test_changed_field_with_the_old_signature() -> None:
    _, signature, _ = read_ticket(sign_ticket(TICKET, BROKER))
    for changes in ({"role": Role.HOST}, {"member_id": 4}, {"ed25519": bytes(32)}):
        forged = replace(TICKET, **changes)
        with pytest.raises(TicketSignatureInvalid):
            verify(pack([pack(forged.to_fields()), signature]))


def test_other_broker_key() -> None:
    with pytest.raises(TicketSignatureInvalid):
        verify(sign_ticket(TICKET, OTHER_BROKER))


def test_signature_is_domain_separated() -> None:
    """A signature by the broker key over the bare content (another purpose) is refused."""
    content = pack(TICKET.to_fields())
    with pytest.raises(TicketSignatureInvalid):
        verify(pack([content, BROKER.sign(content)]))


def test_wrong_session() -> None:
    blob = sign_ticket(TICKET, BROKER)
    with pytest.raises(TicketWrongSession):
        verify(blob, session_uid=bytes(16))
    with pytest.raises(TicketWrongSession):  # checked before the expiry
        verify(blob, session_uid=bytes(16), now=TICKET.expires_at)


def test_forged_and_expired_reports_the_forgery() -> None:
    with pytest.raises(TicketSignatureInvalid):
        verify(sign_ticket(TICKET, OTHER_BROKER), now=TICKET.expires_at + 1)


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"\xc1",
        b"not a ticket",
        pack([b"content"]),
        pack([b"content", bytes(64), b"extra"]),
        pack([b"content", bytes(63)]),
        pack(["content", bytes(64)]),
        pack([pack([1, UID]), bytes(64)]),
        pack([pack([5, *TICKET.to_fields()[1:]]), bytes(64)]),
        pack([pack([3, *TICKET.to_fields()[1:]]), bytes(64)]),
        pack([pack([4, *TICKET.to_fields()[1:5], bytes(32), *TICKET.to_fields()[6:]]), bytes(64)]),
        pack([pack([2, *TICKET.to_fields()[1:-1]]), bytes(64)]),
        pack([pack([1, *TICKET.to_fields()[1:9]]), bytes(64)]),
        pack([pack([*TICKET.to_fields(), 0]), bytes(64)]),
        pack([pack(TICKET.to_fields()[:-2]), bytes(64)]),
        pack([pack(TICKET.to_fields()[:-1]), bytes(64)]),
        pack([pack([*TICKET.to_fields()[:-1], 2**32]), bytes(64)]),
        pack([pack([*TICKET.to_fields()[:-2], 32, 0]), bytes(64)]),
        pack([pack([*TICKET.to_fields()[:-2], 0x80000000, 0]), bytes(64)]),
        pack([pack([*TICKET.to_fields()[:-2], -1, 0]), bytes(64)]),
        pack([pack([*TICKET.to_fields()[:-2], True, 0]), bytes(64)]),
        pack([pack([*TICKET.to_fields()[:-3], "e" * 255, 0, 0]), bytes(64)]),
        pack([pack([*TICKET.to_fields()[:-3], b"", 0, 0]), bytes(64)]),
        pack([pack(replace(TICKET, display_name="").to_fields()), bytes(64)]),
        pack([pack(replace(TICKET, member_id=0).to_fields()), bytes(64)]),
        pack([pack(replace(TICKET, agreement=bytes(1215)).to_fields()), bytes(64)]),
        pack([pack(replace(TICKET, display_name="x" * 65).to_fields()), bytes(64)]),
        pack([bytes(4097), bytes(64)]),
    ],
    ids=[
        "empty",
        "c1",
        "text",
        "one-item",
        "three-items",
        "short-signature",
        "content-as-text",
        "short-content",
        "version-5",
        "version-3",
        "x25519-key-only",
        "version-2",
        "version-1",
        "extra-field",
        "no-rules",
        "no-placement",
        "placement-above-u32",
        "unknown-rule",
        "high-rule-bit",
        "negative-rules",
        "rules-as-bool",
        "long-email",
        "email-as-binary",
        "empty-name",
        "member-0",
        "short-key",
        "long-name",
        "oversized",
    ],
)
def test_garbage_is_a_ticket_error(blob: bytes) -> None:
    with pytest.raises(TicketError) as error:
        verify(blob)
    assert error.value.close_code == 4003
    with pytest.raises(TicketError):
        read_ticket(blob)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_ticket_errors(blob: bytes) -> None:
    with pytest.raises(TicketError):
        verify(blob)


@given(st.just(b"") | st.binary(max_size=20), st.integers(0, 299), st.integers(1, 255))
def test_corrupted_tickets_raise_only_ticket_errors(tail: bytes, index: int, xor: int) -> None:
    blob = bytearray(sign_ticket(TICKET, BROKER) + tail)
    blob[index % len(blob)] ^= xor
    try:
        ticket = verify(bytes(blob))
    except TicketError:
        return
    assert ticket == TICKET  # a change in the outer wrapper that still reads the same


def test_refresh_message_is_label_ticket_and_big_endian_seconds() -> None:
    blob = sign_ticket(TICKET, BROKER)
    message = refresh_message(blob, 0x0102030405060708)
    assert message == b"relaydesk/v1 refresh\n" + blob + bytes(range(1, 9))
