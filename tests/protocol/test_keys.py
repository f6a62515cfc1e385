"""relaydesk.protocol.keys: member keys, commits, content keys, roster hash, security code."""

from __future__ import annotations

import hashlib
import re
import struct
from random import Random

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given
from hypothesis import strategies as st
from msgspec.structs import replace

import strategies as sts
from relaydesk.errors import CommitRejected
from relaydesk.protocol import keys as ks
from relaydesk.protocol.frames import Channel
from relaydesk.protocol.messages import KeyCommit, Role, SealedKey, pack
from relaydesk.protocol.tickets import Ticket
from vectors.generate import Drbg

UID = bytes.fromhex("0123456789abcdef0123456789abcdef")


def make_members(
    count: int, seed: bytes = b"keys", host: int | None = 1
) -> tuple[dict[int, ks.MemberKeys], dict[int, Ticket]]:
    rng = Drbg(seed)
    keys = {m: ks.MemberKeys.generate(rng) for m in range(1, count + 1)}
    tickets = {
        m: Ticket(
            UID,
            m,
            f"Member {m}",
            Role.HOST if m == host else Role.PARTICIPANT,
            k.agreement_public,
            k.ed25519_public,
            "wss://relay.example.org/relay",
            2**40,
        )
        for m, k in keys.items()
    }
    return keys, tickets


def commit_for(
    keys: dict[int, ks.MemberKeys],
    tickets: dict[int, Ticket],
    leader: int = 1,
    secret: bytes = bytes(range(32)),
    epoch: int = 1,
) -> KeyCommit:
    return ks.make_commit(UID, epoch, leader, keys[leader], tickets, secret)


# Member keys ------------------------------------------------------------------------


def test_member_keys_come_from_the_injected_rng() -> None:
    """64 bytes of ML-KEM-768 seed, 32 of X25519 key, 32 of Ed25519 seed, in that order;
    the public agreement key is the ML-KEM encapsulation key, then the X25519 key."""
    stream = Drbg(b"member")(128)
    keys = ks.MemberKeys.generate(Drbg(b"member"))
    assert keys.agreement.mlkem.private_bytes_raw() == stream[:64]
    assert keys.agreement.x25519.private_bytes_raw() == stream[64:96]
    assert keys.signing.private_bytes_raw() == stream[96:]
    mlkem = keys.agreement.mlkem.public_key().public_bytes_raw()
    x25519 = keys.agreement.x25519.public_key().public_bytes_raw()
    assert (len(mlkem), len(x25519)) == (1184, 32)
    assert keys.agreement_public == mlkem + x25519
    assert keys.ed25519_public == keys.signing.public_key().public_bytes_raw()


# Roster hash and security code ------------------------------------------------------


def roster_hash_by_hand(tickets: list[Ticket]) -> bytes:
    data = b"relaydesk/v1 roster"
    for t in sorted(tickets, key=lambda t: t.member_id):
        name = t.display_name.encode("utf-8")
        data += t.member_id.to_bytes(4, "big") + t.agreement + t.ed25519
        data += len(name).to_bytes(2, "big") + name
    return hashlib.sha256(data).digest()


@given(st.lists(sts.tickets, max_size=5, unique_by=lambda t: t.member_id), st.randoms())
def test_roster_hash_matches_its_definition_in_any_order(
    tickets: list[Ticket], random: Random
) -> None:
    expected = roster_hash_by_hand(tickets)
    assert ks.roster_hash(tickets) == expected
    random.shuffle(tickets)
    assert ks.roster_hash(tickets) == expected


@pytest.mark.parametrize(
    "change",
    [
        {"member_id": 9},
        {"agreement": bytes(1216)},
        {"ed25519": bytes(32)},
        {"display_name": "Member 2 "},
        {"display_name": "Membér 2"},
    ],
    ids=lambda c: next(iter(c)),
)
def test_roster_hash_binds_identity(change: dict[str, object]) -> None:
    _, tickets = make_members(3)
    honest = ks.roster_hash(tickets.values())
    tampered = {**tickets, 2: replace(tickets[2], **change)}
    assert ks.roster_hash(tampered.values()) != honest


def test_roster_hash_of_a_ghost_or_a_missing_member() -> None:
    _, tickets = make_members(4)
    three = [tickets[1], tickets[2], tickets[3]]
    assert ks.roster_hash(three) != ks.roster_hash(tickets.values())
    assert ks.roster_hash(three) != ks.roster_hash(three[:2])


def test_display_names_cannot_shift_into_the_next_member() -> None:
    """The name's length prefix keeps 'ab' + 'c' apart from 'a' + 'bc'."""
    _, tickets = make_members(2)
    one = [replace(tickets[1], display_name="ab"), tickets[2]]
    two = [replace(tickets[1], display_name="a"), tickets[2]]
    two[1] = replace(tickets[2], display_name="b" + tickets[2].display_name)
    assert ks.roster_hash(one) != ks.roster_hash(two)


@given(uid=sts.session_uids, leader=sts.keys32, roster=sts.keys32)
def test_security_code_matches_its_definition(uid: bytes, leader: bytes, roster: bytes) -> None:
    code = ks.security_code(uid, leader, roster)
    assert re.fullmatch(r"\d{4} \d{4} \d{4} \d{4}", code)
    digest = hashlib.sha256(b"relaydesk/v1 security code" + uid + leader + roster).digest()
    assert code.replace(" ", "") == f"{int.from_bytes(digest[:8], 'big') % 10**16:016d}"


def test_security_code_depends_on_every_input() -> None:
    code = ks.security_code(UID, bytes(32), bytes(32))
    assert ks.security_code(bytes(16), bytes(32), bytes(32)) != code
    assert ks.security_code(UID, b"\x01" + bytes(31), bytes(32)) != code
    assert ks.security_code(UID, bytes(32), b"\x01" + bytes(31)) != code


# Content keys -----------------------------------------------------------------------


@given(
    uid=sts.session_uids,
    secret=sts.keys32,
    epoch=sts.u32,
    sender=sts.u32,
    channel=st.sampled_from(Channel),
)
def test_content_key_is_hkdf_of_the_epoch_secret(
    uid: bytes, secret: bytes, epoch: int, sender: int, channel: Channel
) -> None:
    info = b"relaydesk/v1 content key" + struct.pack(">IIB", epoch, sender, channel)
    expected = HKDF(hashes.SHA256(), 32, uid, info).derive(secret)
    assert ks.content_key(uid, secret, epoch, sender, channel) == expected


def test_content_keys_differ_per_session_epoch_sender_and_channel() -> None:
    secret = bytes(range(32))
    derived = {
        ks.content_key(uid, s, epoch, sender, channel)
        for uid in (UID, bytes(16))
        for s in (secret, bytes(32))
        for epoch in (1, 2)
        for sender in (1, 2)
        for channel in Channel
    }
    assert len(derived) == 2 * 2 * 2 * 2 * len(Channel)


# Key leader -------------------------------------------------------------------------


def test_expected_leader() -> None:
    host, part = Role.HOST, Role.PARTICIPANT
    assert ks.expected_leader([(3, part), (2, host), (1, part)]) == 2
    assert ks.expected_leader([(5, host), (4, host), (1, part)]) == 4
    # Join before host: the earliest member leads (chat only) until a host is present.
    assert ks.expected_leader([(7, part), (3, part), (9, part)]) == 3
    assert ks.expected_leader([(7, part), (3, part), (9, host)]) == 9
    # A mapping id -> current role works alike.
    assert ks.expected_leader({7: part, 3: host, 9: host}) == 3
    assert ks.expected_leader({1: part}) == 1
    with pytest.raises(CommitRejected):
        ks.expected_leader([])
    with pytest.raises(CommitRejected):
        ks.expected_leader({})


# Commits ----------------------------------------------------------------------------


def test_every_member_opens_the_same_epoch_secret() -> None:
    keys, tickets = make_members(4)
    secret = bytes(range(100, 132))
    commit = commit_for(keys, tickets, secret=secret)
    content = ks.verify_commit(commit, tickets[1])
    assert content.session_uid == UID
    assert content.epoch == 1
    assert content.leader == 1
    assert content.members == (1, 2, 3, 4)
    assert content.roster_hash == ks.roster_hash(tickets.values())
    assert [s.member_id for s in content.sealed] == [1, 2, 3, 4]
    for member_id, member_keys in keys.items():
        assert ks.open_epoch_secret(content, member_id, member_keys) == secret
    # Each member's copy is sealed under its own fresh ephemeral key.
    assert len({s.enc for s in content.sealed}) == 4


def test_commit_seals_afresh_each_time() -> None:
    """The hybrid KEM draws its own randomness (hpke.py): the same inputs make other
    sealed copies, of the same secret, and everything else alike."""
    keys, tickets = make_members(3)
    first, second = (ks.read_commit(commit_for(keys, tickets)) for _ in range(2))
    assert first.sealed != second.sealed
    assert replace(first, sealed=()) == replace(second, sealed=())
    for member_id in tickets:
        secret = ks.open_epoch_secret(first, member_id, keys[member_id])
        assert secret == ks.open_epoch_secret(second, member_id, keys[member_id])


def test_commit_signed_by_another_member_is_rejected() -> None:
    keys, tickets = make_members(3)
    forged = commit_for(keys, tickets, leader=2)
    with pytest.raises(CommitRejected, match="not signed by the key leader"):
        ks.verify_commit(forged, tickets[1])


def test_commit_naming_another_leader_than_its_signer_is_rejected() -> None:
    keys, tickets = make_members(3)
    commit = commit_for(keys, tickets, leader=1)
    content = ks.read_commit(commit)
    renamed = pack(replace(content, leader=2).to_fields())
    resigned = KeyCommit(renamed, keys[1].signing.sign(ks.COMMIT_LABEL + renamed))
    with pytest.raises(CommitRejected, match="names another leader"):
        ks.verify_commit(resigned, tickets[1])


def test_commit_signature_covers_the_content_and_the_label() -> None:
    keys, tickets = make_members(2)
    commit = commit_for(keys, tickets)
    for index in range(0, len(commit.content), 7):
        changed = bytearray(commit.content)
        changed[index] ^= 0x01
        with pytest.raises(CommitRejected):
            ks.verify_commit(KeyCommit(bytes(changed), commit.signature), tickets[1])
    bare = KeyCommit(commit.content, keys[1].signing.sign(commit.content))
    with pytest.raises(CommitRejected):
        ks.verify_commit(bare, tickets[1])


@pytest.mark.parametrize(
    "content", [b"", b"\xc1", pack([1, 2, 3]), pack([UID, 0, 1, [], bytes(32), []])]
)
def test_malformed_commit_content_is_rejected(content: bytes) -> None:
    keys, tickets = make_members(1)
    commit = KeyCommit(content, keys[1].signing.sign(ks.COMMIT_LABEL + content))
    with pytest.raises(CommitRejected, match="malformed"):
        ks.verify_commit(commit, tickets[1])


def test_outsider_has_no_key_in_the_commit() -> None:
    keys, tickets = make_members(3)
    content = ks.read_commit(commit_for(keys, {m: tickets[m] for m in (1, 2)}))
    with pytest.raises(CommitRejected, match="no key for this member"):
        ks.open_epoch_secret(content, 3, keys[3])


def test_another_members_copy_does_not_open() -> None:
    keys, tickets = make_members(3)
    content = ks.read_commit(commit_for(keys, tickets))
    swapped = replace(
        content,
        sealed=(
            content.sealed[0],
            SealedKey(2, content.sealed[2].enc, content.sealed[2].ciphertext),
            content.sealed[2],
        ),
    )
    with pytest.raises(CommitRejected, match="did not open"):
        ks.open_epoch_secret(swapped, 2, keys[2])


def test_sealed_copy_is_bound_to_member_id_and_epoch() -> None:
    """Even for the same X25519 key, a copy made for member 3 or for another epoch does
    not open as member 2's: the HPKE info names session, epoch and member."""
    keys, tickets = make_members(3)
    tickets[3] = replace(tickets[3], agreement=tickets[2].agreement)
    content = ks.read_commit(commit_for(keys, tickets))
    relabelled = replace(
        content,
        sealed=(content.sealed[0], replace(content.sealed[2], member_id=2)),
    )
    with pytest.raises(CommitRejected, match="did not open"):
        ks.open_epoch_secret(relabelled, 2, keys[2])
    assert ks.open_epoch_secret(content, 2, keys[2]) == bytes(range(32))
    with pytest.raises(CommitRejected, match="did not open"):
        ks.open_epoch_secret(replace(content, epoch=2), 2, keys[2])
    with pytest.raises(CommitRejected, match="did not open"):
        ks.open_epoch_secret(replace(content, session_uid=bytes(16)), 2, keys[2])


def test_tampered_sealed_key_is_rejected() -> None:
    keys, tickets = make_members(2)
    content = ks.read_commit(commit_for(keys, tickets))
    sealed = content.sealed[1]
    changed = bytearray(sealed.ciphertext)
    changed[0] ^= 0x01
    tampered = replace(
        content,
        sealed=(content.sealed[0], replace(sealed, ciphertext=bytes(changed))),
    )
    with pytest.raises(CommitRejected):
        ks.open_epoch_secret(tampered, 2, keys[2])
