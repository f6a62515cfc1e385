"""relaydesk.protocol.e2e: sealed content and epochs, against a hostile relay and members.

The relay is played by hand (conftest.FakeSession): it may change any byte, replay,
reorder, drop, or show members different tickets. An insider holds the epoch secret and
may build frames from it. Each rejection test fails if the check it names in e2e.py or
keys.py (docs/protocol.md §6.2 "Applying a commit", §6.3 "Opening") is removed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from msgspec.structs import replace

from relaydesk import limits
from relaydesk.errors import (
    CommitRejected,
    CryptoError,
    DecryptionFailed,
    FrameError,
    MessageError,
    NoEpochKey,
    ReplayDetected,
    SignatureInvalid,
    TicketError,
    TicketSignatureInvalid,
    TicketWrongSession,
)
from relaydesk.protocol import keys as ks
from relaydesk.protocol.e2e import CONTENT_LABEL, nonce
from relaydesk.protocol.frames import EVERYONE, Flags, Frame, FrameType, Header
from relaydesk.protocol.messages import (
    Annotation,
    Chat,
    CommitContent,
    Cursor,
    FileChunk,
    FileOffer,
    InputEvent,
    InputKind,
    KeyCommit,
    Point,
    Role,
    ScreenUpdate,
    Tile,
    TileEncoding,
    encode,
    pack,
)
from relaydesk.protocol.tickets import sign_ticket

if TYPE_CHECKING:
    from conftest import FakeSession, Member

    Trio = tuple[FakeSession, Member, Member, Member]

OTHER_SESSION_UID = bytes.fromhex("07e407e25e55104e07e407e25e55104e")
CONTENT_TYPES = [t for t in FrameType if t.is_content]
SAMPLES = [
    ScreenUpdate(8, 8, True, (Tile(0, 0, 8, 8, TileEncoding.ZLIB, b"compressed pixels"),)),
    Cursor(10, 20, True),
    InputEvent(InputKind.TEXT, text="typed secret"),
    Chat("a confidential chat line"),
    Annotation(1, 0xFF0000, 3, (Point(1, 2), Point(3, 4))),
    FileChunk(1, 0, b"file contents"),
    FileOffer(1, "secret.txt", 13, bytes(32), 13),
]


def seal(s: FakeSession, member: Member, message: object, **kwargs: object) -> Frame:
    return s.wire(member.e2e.seal(message, **kwargs))


def with_header(frame: Frame, **changes: object) -> Frame:
    """The relay rewrites header fields and leaves the body as it is."""
    return Frame(frame.header._replace(**changes), frame.body)


def craft(
    s: FakeSession,
    *,
    sender: int,
    signer: Member,
    secret: bytes,
    epoch: int,
    plaintext: bytes,
    frame_type: FrameType = FrameType.CHAT,
    sequence: int = 1,
    target: int = EVERYONE,
) -> Frame:
    """A content frame built by hand from the epoch secret, as an insider can."""
    header = Header(frame_type, s.session_uid, epoch, sender, target, sequence)
    header_bytes = header.pack(len(plaintext) + 16 + 64)
    key = ks.content_key(s.session_uid, secret, epoch, sender, frame_type.channel)
    ciphertext = AESGCM(key).encrypt(nonce(sequence), plaintext, header_bytes)
    signature = signer.keys.signing.sign(CONTENT_LABEL + header_bytes + ciphertext)
    return Frame(header, ciphertext + signature)


def resigned(frame: Frame, signer: Member, **changes: object) -> Frame:
    """``frame`` with header changes, signed again (by its sender or an insider)."""
    header = frame.header._replace(**changes)
    ciphertext = frame.body[:-64]
    signature = signer.keys.signing.sign(CONTENT_LABEL + header.pack(len(frame.body)) + ciphertext)
    return Frame(header, ciphertext + signature)


def secret_of(member: Member) -> bytes:
    assert member.e2e.current is not None
    return bytes(member.e2e.current.secret)


# Honest use --------------------------------------------------------------------------


def test_every_member_reads_every_content_type(trio: Trio) -> None:
    s, host, alice, bob = trio
    for sender in (host, alice, bob):
        for message in SAMPLES:
            frame = seal(s, sender, message)
            assert encode(message) not in frame.body  # sealed, not merely signed
            for receiver in (host, alice, bob):
                assert receiver.e2e.open(frame, s.now) == message


def test_sequences_count_per_channel_from_one(trio: Trio) -> None:
    s, _, alice, _ = trio
    sequences = [
        seal(s, alice, m).header.sequence for m in (Chat("a"), Chat("b"), Cursor(0, 0, True))
    ]
    assert sequences == [1, 2, 1]
    frame = seal(s, alice, Chat("private"), target=3, flags=Flags.SUPERSEDABLE)
    assert (frame.header.target, frame.header.flags, frame.header.epoch) == (
        3,
        Flags.SUPERSEDABLE,
        1,
    )


def test_crafted_frames_are_what_seal_makes(trio: Trio) -> None:
    """The hand-built frames of the attacks below differ from real ones only where meant."""
    s, _, alice, _ = trio
    frame = seal(s, alice, Chat("hello"))
    assert frame == craft(
        s,
        sender=alice.member_id,
        signer=alice,
        secret=secret_of(alice),
        epoch=1,
        plaintext=encode(Chat("hello")),
    )


def test_honest_members_show_the_same_security_code(trio: Trio) -> None:
    s, host, alice, bob = trio
    codes = {m.e2e.security_code for m in (host, alice, bob)}
    assert len(codes) == 1
    code = codes.pop()
    assert code is not None
    expected = ks.security_code(
        s.session_uid, host.ticket.ed25519, ks.roster_hash([host.ticket, alice.ticket, bob.ticket])
    )
    assert code == expected
    # The same leader and members keep the code across a rekey; a newcomer changes it.
    s.now += 1
    s.rekey(host)
    assert {m.e2e.security_code for m in (host, alice, bob)} == {code}
    carol = s.join(name="Carol")
    s.rekey(host)
    new_codes = {m.e2e.security_code for m in (host, alice, bob, carol)}
    assert len(new_codes) == 1
    assert new_codes != {code}


# A changed bit anywhere ---------------------------------------------------------------


def test_every_changed_bit_of_a_sealed_frame_is_rejected(trio: Trio) -> None:
    s, _, alice, bob = trio
    data = seal(s, alice, Chat("pay 100 to Bob")).serialize()
    for bit in range(len(data) * 8):
        changed = bytearray(data)
        changed[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises((FrameError, CryptoError)):
            bob.e2e.open(Frame.parse(bytes(changed)), s.now)
    assert bob.e2e.open(Frame.parse(data), s.now) == Chat("pay 100 to Bob")


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("session_uid", OTHER_SESSION_UID, DecryptionFailed),
        ("epoch", 2, NoEpochKey),
        ("epoch", 0, NoEpochKey),
        ("sender", 1, SignatureInvalid),  # the host: another member of the epoch
        ("sender", 99, SignatureInvalid),  # nobody
        ("target", 1, SignatureInvalid),
        ("sequence", 2, SignatureInvalid),
        ("flags", Flags.KEYFRAME, SignatureInvalid),
        ("type", FrameType.ANNOTATION, SignatureInvalid),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_changed_header_field_is_rejected(
    trio: Trio, field: str, value: object, error: type[Exception]
) -> None:
    s, _, alice, bob = trio
    frame = seal(s, alice, Chat("hello"), target=EVERYONE)
    with pytest.raises(error):
        bob.e2e.open(with_header(frame, **{field: value}), s.now)
    assert bob.e2e.open(frame, s.now) == Chat("hello")


@pytest.mark.parametrize(
    ("region", "index"),
    [
        ("ciphertext", 0),
        ("ciphertext", 7),
        ("tag", -65),
        ("tag", -80),
        ("signature", -1),
        ("signature", -64),
    ],
)
def test_changed_body_byte_is_rejected(trio: Trio, region: str, index: int) -> None:
    s, _, alice, bob = trio
    frame = seal(s, alice, Chat("hello"))
    body = bytearray(frame.body)
    body[index] ^= 0x40
    with pytest.raises(SignatureInvalid):
        bob.e2e.open(Frame(frame.header, bytes(body)), s.now)


def test_short_body_and_control_frames_are_not_content(trio: Trio) -> None:
    s, _, alice, bob = trio
    frame = seal(s, alice, Chat("hello"))
    with pytest.raises(DecryptionFailed, match="too short"):
        bob.e2e.open(Frame(frame.header, frame.body[:79]), s.now)
    with pytest.raises(DecryptionFailed, match="not a content frame"):
        bob.e2e.open(with_header(frame, type=FrameType.PING), s.now)


# Signatures: what the group key alone would allow -------------------------------------


def test_another_members_signature_is_rejected(trio: Trio) -> None:
    """Bob signs Alice's exact bytes: without the sender check it would open."""
    s, host, alice, bob = trio
    frame = seal(s, alice, Chat("hello"))
    header_bytes = frame.serialize()[:44]
    ciphertext = frame.body[:-64]
    by_bob = bob.keys.signing.sign(CONTENT_LABEL + header_bytes + ciphertext)
    with pytest.raises(SignatureInvalid, match=f"not signed by member {alice.member_id}"):
        host.e2e.open(Frame(frame.header, ciphertext + by_bob), s.now)


def test_member_cannot_forge_another_members_frames(trio: Trio) -> None:
    """Bob holds the epoch secret, so he can derive Alice's content key and seal a frame
    in her name; only his signing key gives him away."""
    s, host, alice, bob = trio
    forged = craft(
        s,
        sender=alice.member_id,
        signer=bob,
        secret=secret_of(bob),
        epoch=1,
        plaintext=encode(Chat("I, Alice, agree")),
    )
    with pytest.raises(SignatureInvalid):
        host.e2e.open(forged, s.now)
    # The same frame signed by Alice opens: the signature is the only thing missing.
    genuine = craft(
        s,
        sender=alice.member_id,
        signer=alice,
        secret=secret_of(bob),
        epoch=1,
        plaintext=encode(Chat("I, Alice, agree")),
    )
    assert host.e2e.open(genuine, s.now) == Chat("I, Alice, agree")


def test_controller_input_cannot_be_forged_by_a_viewer(trio: Trio) -> None:
    s, host, alice, bob = trio
    move = encode(InputEvent(InputKind.KEY, keysym=0xFF0D, pressed=True))
    forged = craft(
        s,
        sender=alice.member_id,
        signer=bob,
        secret=secret_of(bob),
        epoch=1,
        plaintext=move,
        frame_type=FrameType.INPUT_EVENT,
        target=host.member_id,
    )
    with pytest.raises(SignatureInvalid):
        host.e2e.open(forged, s.now)


def test_sender_outside_the_epoch_is_rejected(trio: Trio) -> None:
    """Dave's ticket is known but the epoch was sealed before he came: he holds no key."""
    s, host, _, _ = trio
    dave = s.join(name="Dave")
    frame = craft(
        s,
        sender=dave.member_id,
        signer=dave,
        secret=bytes(32),
        epoch=1,
        plaintext=encode(Chat("hi")),
    )
    with pytest.raises(SignatureInvalid, match="holds no key"):
        host.e2e.open(frame, s.now)


@pytest.mark.parametrize(
    "other", [t for t in CONTENT_TYPES if t is not FrameType.CHAT], ids=lambda t: t.name
)
def test_chat_relabelled_as_another_content_type_is_rejected(trio: Trio, other: FrameType) -> None:
    s, _, alice, bob = trio
    frame = seal(s, alice, Chat("hello"))
    with pytest.raises(SignatureInvalid):  # the relay relabels it
        bob.e2e.open(with_header(frame, type=other), s.now)
    with pytest.raises(DecryptionFailed):  # the sender itself relabels and signs again
        bob.e2e.open(resigned(frame, alice, type=other), s.now)


def test_frame_resigned_for_another_target_or_position_does_not_decrypt(trio: Trio) -> None:
    """The header is the AEAD's associated data: a valid signature is not enough."""
    s, _, alice, bob = trio
    frame = seal(s, alice, Chat("for Bob only"), target=bob.member_id)
    for changes in ({"target": EVERYONE}, {"sequence": 5}, {"flags": Flags.SUPERSEDABLE}):
        with pytest.raises(DecryptionFailed):
            bob.e2e.open(resigned(frame, alice, **changes), s.now)


# Replays ------------------------------------------------------------------------------


def test_replayed_frame_is_rejected(trio: Trio) -> None:
    s, _, alice, bob = trio
    frame = seal(s, alice, Chat("once"))
    assert bob.e2e.open(frame, s.now) == Chat("once")
    with pytest.raises(ReplayDetected):
        bob.e2e.open(frame, s.now)


def test_older_sequence_is_rejected_and_gaps_are_fine(trio: Trio) -> None:
    s, _, alice, bob = trio
    frames = [seal(s, alice, Chat(f"line {n}")) for n in range(1, 6)]
    assert bob.e2e.open(frames[0], s.now) == Chat("line 1")
    assert bob.e2e.open(frames[2], s.now) == Chat("line 3")  # 2 dropped: fine
    with pytest.raises(ReplayDetected):
        bob.e2e.open(frames[1], s.now)
    assert bob.e2e.open(frames[4], s.now) == Chat("line 5")
    with pytest.raises(ReplayDetected):
        bob.e2e.open(frames[3], s.now)


def test_replay_windows_are_per_sender_and_channel(trio: Trio) -> None:
    s, host, alice, bob = trio
    first = [
        seal(s, alice, Chat("a")),
        seal(s, alice, Cursor(1, 1, True)),
        seal(s, host, Chat("b")),
    ]
    assert {f.header.sequence for f in first} == {1}
    for frame in first:
        bob.e2e.open(frame, s.now)


def test_sequence_zero_is_rejected(trio: Trio) -> None:
    s, _, alice, bob = trio
    frame = craft(
        s,
        sender=alice.member_id,
        signer=alice,
        secret=secret_of(alice),
        epoch=1,
        plaintext=encode(Chat("zero")),
        sequence=0,
    )
    with pytest.raises(ReplayDetected):
        bob.e2e.open(frame, s.now)


def test_rejected_frame_does_not_advance_the_window(trio: Trio) -> None:
    s, _, alice, bob = trio
    frames = [seal(s, alice, Chat(f"{n}")) for n in range(1, 4)]
    with pytest.raises(SignatureInvalid):
        bob.e2e.open(with_header(frames[2], target=7), s.now)
    assert bob.e2e.open(frames[0], s.now) == Chat("1")


def test_undecodable_plaintext_is_a_message_error_and_counts_as_seen(trio: Trio) -> None:
    s, _, alice, bob = trio
    frame = craft(
        s,
        sender=alice.member_id,
        signer=alice,
        secret=secret_of(alice),
        epoch=1,
        plaintext=pack([""]),
    )  # an empty chat line
    with pytest.raises(MessageError):
        bob.e2e.open(frame, s.now)
    with pytest.raises(ReplayDetected):
        bob.e2e.open(frame, s.now)


# Sessions and epochs -----------------------------------------------------------------


def test_frame_from_another_session_is_rejected(
    make_e2e_session: Callable[..., FakeSession], trio: Trio
) -> None:
    s, _, _, bob = trio
    other = make_e2e_session(b"other session", session_uid=OTHER_SESSION_UID)
    other_host = other.join(Role.HOST)
    other_alice = other.join()
    other.join()
    other.rekey(other_host)
    frame = seal(other, other_alice, Chat("wrong room"))
    assert (frame.header.epoch, frame.header.sender) == (1, 2)
    with pytest.raises(DecryptionFailed, match="another session"):
        bob.e2e.open(frame, s.now)
    with pytest.raises(SignatureInvalid):  # and with this session's uid written over it
        bob.e2e.open(with_header(frame, session_uid=s.session_uid), s.now)


def test_nothing_opens_or_seals_before_the_first_epoch(e2e_session: FakeSession) -> None:
    s = e2e_session
    host = s.join(Role.HOST)
    alice = s.join()
    with pytest.raises(NoEpochKey):
        alice.e2e.seal(Chat("too early"))
    s.rekey(host, deliver=False)
    frame = seal(s, host, Chat("too early for Alice"))
    with pytest.raises(NoEpochKey):
        alice.e2e.open(frame, s.now)


def test_unknown_epoch_is_rejected(trio: Trio) -> None:
    s, _, alice, bob = trio
    frame = resigned(seal(s, alice, Chat("hello")), alice, epoch=7)
    with pytest.raises(NoEpochKey):
        bob.e2e.open(frame, s.now)


def test_a_stray_epoch_counts_only_signed_bounded_and_seldom(trio: Trio) -> None:
    """Content headers are not authenticated by the relay: a leader lacking an epoch
    answers only a present member's signed frame, a bounded jump, once in a while."""
    s, host, alice, bob = trio
    held = host.e2e.current.number if host.e2e.current else 0
    frame = seal(s, alice, Chat("in an epoch the host lacks"))
    stray = resigned(frame, alice, epoch=held + 2)
    forged = resigned(frame, bob, epoch=held + 2)  # Bob signs a frame naming Alice
    too_far = resigned(frame, alice, epoch=held + 1 + limits.MAX_STRAY_EPOCH_JUMP + 1)
    assert not host.e2e.stray_epoch(forged, s.now)
    assert not host.e2e.stray_epoch(too_far, s.now)
    assert not host.e2e.needs_rekey(s.now)
    assert host.e2e.stray_epoch(stray, s.now)
    assert host.e2e.needs_rekey(s.now)  # and its next epoch is above the stray one
    s.rekey(host)
    assert host.e2e.current is not None and host.e2e.current.number == held + 3
    again = resigned(frame, alice, epoch=held + 4)
    assert not host.e2e.stray_epoch(again, s.now + limits.EPOCH_GRACE_SECONDS - 0.001)
    assert host.e2e.stray_epoch(again, s.now + limits.EPOCH_GRACE_SECONDS)


def test_previous_epoch_opens_only_within_the_grace_period(trio: Trio) -> None:
    s, host, alice, bob = trio
    late = [seal(s, alice, Chat(f"sent before the rekey {n}")) for n in range(3)]
    committed_at = s.now
    s.rekey(host)
    assert bob.e2e.current is not None and bob.e2e.current.number == 2
    s.now = committed_at + limits.EPOCH_GRACE_SECONDS - 0.001
    assert bob.e2e.open(late[0], s.now) == Chat("sent before the rekey 0")
    with pytest.raises(ReplayDetected):  # the old epoch's window is kept with it
        bob.e2e.open(late[0], s.now)
    s.now = committed_at + limits.EPOCH_GRACE_SECONDS
    with pytest.raises(NoEpochKey):
        bob.e2e.open(late[1], s.now)
    # The new epoch is unaffected, and senders use it with fresh counters.
    frame = seal(s, alice, Chat("new epoch"))
    assert (frame.header.epoch, frame.header.sequence) == (2, 1)
    assert bob.e2e.open(frame, s.now) == Chat("new epoch")


def test_epoch_before_the_previous_is_forgotten_at_once(trio: Trio) -> None:
    s, host, alice, bob = trio
    old = seal(s, alice, Chat("epoch 1"))
    s.rekey(host)
    s.rekey(host)
    with pytest.raises(NoEpochKey):
        bob.e2e.open(old, s.now)


# Commits -----------------------------------------------------------------------------


def commit_frame(
    s: FakeSession,
    signer: Member,
    *,
    sender: int | None = None,
    epoch: int = 2,
    content: CommitContent | None = None,
    roster: dict[int, object] | None = None,
) -> Frame:
    """A KEY_COMMIT frame made and signed by ``signer`` (leader or not)."""
    if content is None:
        commit = ks.make_commit(
            s.session_uid,
            epoch,
            signer.member_id,
            signer.keys,
            roster or signer.e2e.roster,
            s.rng(32),
        )
    else:
        encoded = pack(content.to_fields())
        commit = KeyCommit(encoded, signer.keys.signing.sign(ks.COMMIT_LABEL + encoded))
    header = Header(
        FrameType.KEY_COMMIT,
        s.session_uid,
        epoch,
        signer.member_id if sender is None else sender,
        EVERYONE,
        9,
    )
    return s.wire(Frame(header, encode(commit)))


def test_commit_not_from_the_expected_leader_is_rejected(trio: Trio) -> None:
    s, _, alice, bob = trio
    assert not alice.e2e.is_leader
    with pytest.raises(CommitRejected, match="only the key leader"):
        alice.e2e.start_epoch(s.rng, s.now)
    frame = commit_frame(s, alice)  # well formed and signed, by the wrong member
    with pytest.raises(CommitRejected, match="not from the key leader"):
        s.deliver(bob, frame)
    assert bob.e2e.current is not None and bob.e2e.current.number == 1


def test_commit_in_the_leaders_name_signed_by_another_member_is_rejected(trio: Trio) -> None:
    s, host, alice, bob = trio
    content = ks.read_commit(s.commit_of(s.rekey(host, deliver=False)))
    frame = commit_frame(s, alice, sender=host.member_id, content=content)
    with pytest.raises(CommitRejected, match="not signed by the key leader"):
        s.deliver(bob, frame)


def test_commit_with_a_changed_signature_bit_is_rejected(trio: Trio) -> None:
    s, host, _, bob = trio
    frame = s.rekey(host, deliver=False)
    commit = s.commit_of(frame)
    for index in (0, 31, 63):
        signature = bytearray(commit.signature)
        signature[index] ^= 0x01
        bad = KeyCommit(commit.content, bytes(signature))
        with pytest.raises(CommitRejected, match="not signed"):
            bob.e2e.apply_commit(frame.header, bad, s.now)
    s.deliver(bob, frame)  # the original still applies


def test_stale_commit_is_rejected(e2e_session: FakeSession) -> None:
    s = e2e_session
    host = s.join(Role.HOST)
    alice = s.join()
    first = s.rekey(host)
    second = s.rekey(host)
    with pytest.raises(CommitRejected, match="not newer"):
        s.deliver(alice, first)
    with pytest.raises(CommitRejected, match="not newer"):
        s.deliver(alice, second)
    assert alice.e2e.current is not None and alice.e2e.current.number == 2


def test_commit_whose_header_epoch_differs_is_rejected(trio: Trio) -> None:
    s, host, _, bob = trio
    frame = s.rekey(host, deliver=False)
    with pytest.raises(CommitRejected, match="does not match its header"):
        s.deliver(bob, with_header(frame, epoch=3))


def test_commit_of_another_session_is_rejected(trio: Trio) -> None:
    s, host, _, bob = trio
    frame = s.rekey(host, deliver=False)
    with pytest.raises(CommitRejected, match="another session"):
        s.deliver(bob, with_header(frame, session_uid=OTHER_SESSION_UID))
    content = ks.read_commit(s.commit_of(frame))
    moved = replace(content, session_uid=OTHER_SESSION_UID)
    with pytest.raises(CommitRejected, match="session or epoch"):
        s.deliver(bob, commit_frame(s, host, content=moved))


def test_commit_that_does_not_seal_to_each_member_is_rejected(trio: Trio) -> None:
    s, host, _, bob = trio
    content = ks.read_commit(s.commit_of(s.rekey(host, deliver=False)))
    reordered = replace(content, sealed=content.sealed[::-1])
    with pytest.raises(CommitRejected, match="one key to each member"):
        s.deliver(bob, commit_frame(s, host, content=reordered))


@pytest.mark.parametrize("members", [(3, 2, 1), (1, 2, 2, 3)], ids=["unsorted", "twice"])
def test_commit_whose_members_are_not_sorted_and_distinct_is_rejected(
    trio: Trio, members: tuple[int, ...]
) -> None:
    s, host, _, bob = trio
    content = ks.read_commit(s.commit_of(s.rekey(host, deliver=False)))
    by_id = {sealed.member_id: sealed for sealed in content.sealed}
    changed = replace(content, members=members, sealed=tuple(by_id[m] for m in members))
    with pytest.raises(CommitRejected, match="sorted and distinct"):
        s.deliver(bob, commit_frame(s, host, content=changed))


def test_commit_naming_a_member_never_seen_is_rejected(trio: Trio) -> None:
    s, host, alice, bob = trio
    dave = s.join(name="Dave")
    bob_view = s.view(bob, [host.blob, alice.blob, bob.blob])  # the relay hid Dave
    frame = s.rekey(host, deliver=False)
    with pytest.raises(CommitRejected, match="never saw"):
        bob_view.apply_commit(frame.header, s.commit_of(frame), s.now)
    s.deliver(dave, frame)


def test_commit_for_other_keys_than_the_receiver_sees_is_rejected(trio: Trio) -> None:
    """The relay (with a broker-certified key) shows Bob a substitute for Alice."""
    s, host, alice, bob = trio
    _, _, ghost_alice = s.issue(alice.member_id, name=alice.ticket.display_name)
    bob_view = s.view(bob, [host.blob, ghost_alice, bob.blob])
    frame = s.rekey(host, deliver=False)
    with pytest.raises(CommitRejected, match="other members' keys"):
        bob_view.apply_commit(frame.header, s.commit_of(frame), s.now)
    # ... and when the leader is the one shown the substitute, honest members refuse.
    host_view = s.view(host, [host.blob, ghost_alice, bob.blob])
    fooled = commit_frame(s, host, roster=dict(host_view.roster))
    with pytest.raises(CommitRejected, match="other members' keys"):
        s.deliver(bob, fooled)
    s.deliver(bob, frame)


def test_substituted_key_changes_the_security_code(trio: Trio) -> None:
    s, host, alice, bob = trio
    _, ghost, _ = s.issue(alice.member_id, name=alice.ticket.display_name)
    honest = [host.ticket, alice.ticket, bob.ticket]
    tampered = [host.ticket, ghost, bob.ticket]
    leaders = [ks.expected_leader((t.member_id, t.role) for t in r) for r in (honest, tampered)]
    assert leaders == [host.member_id, host.member_id]
    assert ks.roster_hash(honest) != ks.roster_hash(tampered)
    honest_code = ks.security_code(s.session_uid, host.ticket.ed25519, ks.roster_hash(honest))
    assert host.e2e.security_code == honest_code
    assert ks.security_code(s.session_uid, host.ticket.ed25519, ks.roster_hash(tampered)) != (
        honest_code
    )
    # A substituted leader key or an added ghost member changes it too.
    _, ghost_host, _ = s.issue(host.member_id, Role.HOST, name=host.ticket.display_name)
    assert (
        ks.security_code(
            s.session_uid,
            ghost_host.ed25519,
            ks.roster_hash([ghost_host, alice.ticket, bob.ticket]),
        )
        != honest_code
    )
    _, extra, _ = s.issue(9, name="Mallory")
    assert (
        ks.security_code(s.session_uid, host.ticket.ed25519, ks.roster_hash([*honest, extra]))
        != honest_code
    )


def test_fooled_views_show_another_security_code(trio: Trio) -> None:
    """Everyone the relay fooled the same way agrees with each other, not with the rest."""
    s, host, alice, bob = trio
    _, _, ghost_alice = s.issue(alice.member_id, name=alice.ticket.display_name)
    host_view = s.view(host, [host.blob, ghost_alice, bob.blob])
    bob_view = s.view(bob, [host.blob, ghost_alice, bob.blob])
    frame = s.wire(host_view.start_epoch(s.rng, s.now))
    bob_view.apply_commit(frame.header, s.commit_of(frame), s.now)
    assert host_view.security_code == bob_view.security_code
    assert host_view.security_code != alice.e2e.security_code


def test_expelled_member_cannot_follow_the_next_epoch(trio: Trio) -> None:
    s, host, alice, bob = trio
    s.leave(alice)  # expelled: the relay tells the others
    assert host.e2e.needs_rekey(s.now)
    frame = s.rekey(host)
    with pytest.raises(CommitRejected, match="no key for this member"):
        s.deliver(alice, frame)  # a relay that still forwards it gains her nothing
    secret = seal(s, host, Chat("after Alice left"))
    assert bob.e2e.open(secret, s.now) == Chat("after Alice left")
    with pytest.raises(NoEpochKey):
        alice.e2e.open(secret, s.now)


def test_member_who_left_while_the_commit_was_in_flight(trio: Trio) -> None:
    """The leader's commit still names Carol, who has already left in Bob's view: her
    frames of that epoch are checked, not a crash (she was given the key)."""
    s, host, alice, bob = trio
    carol = s.join(name="Carol")
    bob.e2e.remove_member(carol.member_id)
    frame = s.rekey(host, deliver=False)
    for member in (alice, bob, carol):
        s.deliver(member, frame)
    hello = seal(s, carol, Chat("bye"))
    assert bob.e2e.open(hello, s.now) == Chat("bye")
    forged = craft(
        s,
        sender=carol.member_id,
        signer=alice,
        secret=secret_of(alice),
        epoch=2,
        plaintext=encode(Chat("forged")),
        sequence=2,
    )
    with pytest.raises(SignatureInvalid):
        bob.e2e.open(forged, s.now)


# Roster and leadership ---------------------------------------------------------------


def test_add_member_refuses_a_second_ticket_for_the_same_id(trio: Trio) -> None:
    s, _, alice, bob = trio
    bob.e2e.add_member(alice.blob, s.now)  # the same ticket again is fine
    _, _, other = s.issue(alice.member_id, name=alice.ticket.display_name)
    with pytest.raises(CommitRejected, match="two different keys"):
        bob.e2e.add_member(other, s.now)
    assert bob.e2e.ticket(alice.member_id) == alice.ticket


def test_add_member_checks_the_ticket(trio: Trio) -> None:
    s, _, _, bob = trio
    _, _, foreign = s.issue(7, session_uid=OTHER_SESSION_UID)
    with pytest.raises(TicketWrongSession):
        bob.e2e.add_member(foreign, s.now)
    rogue = Ed25519PrivateKey.from_private_bytes(bytes(32))
    _, _, forged = s.issue(7, broker_key=rogue)
    with pytest.raises(TicketSignatureInvalid):
        bob.e2e.add_member(forged, s.now)
    _, ticket, expired = s.issue(7, expires_at=int(s.now) - 1)
    assert bob.e2e.add_member(expired, s.now) == ticket  # only fresh at admission


@pytest.mark.parametrize(
    "point",
    [bytes(32), bytes([1]) + bytes(31), bytes([0xEC]) + b"\xff" * 30 + b"\x7f"],
    ids=["zero", "one", "p-1"],
)
def test_add_member_refuses_a_low_order_agreement_key(trio: Trio, point: bytes) -> None:
    """Nobody could seal an epoch secret to it, so no leader could start an epoch."""
    s, _, _, bob = trio
    mlkem = s.issue(7)[1].agreement[:1184]  # a valid ML-KEM-768 part
    ticket = replace(s.issue(7)[1], agreement=mlkem + point)
    with pytest.raises(TicketError, match="agreement key is invalid"):
        bob.e2e.add_member(sign_ticket(ticket, s.broker_key), s.now)
    assert 7 not in bob.e2e.roster


def test_needs_rekey(e2e_session: FakeSession) -> None:
    s = e2e_session
    host = s.join(Role.HOST)
    alice = s.join()
    assert host.e2e.needs_rekey(s.now)
    assert not alice.e2e.needs_rekey(s.now)
    s.rekey(host)
    assert not host.e2e.needs_rekey(s.now)
    assert not host.e2e.needs_rekey(s.now + limits.EPOCH_MAX_AGE_SECONDS - 1)
    assert host.e2e.needs_rekey(s.now + limits.EPOCH_MAX_AGE_SECONDS)
    bob = s.join()
    assert host.e2e.needs_rekey(s.now)
    s.rekey(host)
    s.leave(bob)
    assert host.e2e.needs_rekey(s.now)
    assert not alice.e2e.needs_rekey(s.now)


def test_join_before_host_the_earliest_member_leads(e2e_session: FakeSession) -> None:
    s = e2e_session
    first = s.join(name="First")
    second = s.join(name="Second")
    assert first.e2e.is_leader
    assert not second.e2e.is_leader
    s.rekey(first)
    assert first.e2e.security_code == second.e2e.security_code is not None
    assert second.e2e.open(seal(s, first, Chat("waiting for the host")), s.now) == Chat(
        "waiting for the host"
    )
    # The host arrives: leadership moves to the host at once.
    host = s.join(Role.HOST)
    assert host.e2e.is_leader
    assert not first.e2e.is_leader
    with pytest.raises(CommitRejected, match="only the key leader"):
        first.e2e.start_epoch(s.rng, s.now)
    with pytest.raises(CommitRejected, match="not from the key leader"):
        s.deliver(second, commit_frame(s, first))


def test_host_joining_before_any_epoch_leads_it(e2e_session: FakeSession) -> None:
    s = e2e_session
    first = s.join()
    second = s.join()
    host = s.join(Role.HOST)
    assert host.e2e.is_leader and host.e2e.needs_rekey(s.now)
    s.rekey(host)
    codes = {m.e2e.security_code for m in (first, second, host)}
    assert len(codes) == 1 and None not in codes
    assert first.e2e.open(seal(s, host, Chat("welcome")), s.now) == Chat("welcome")


def test_host_joining_after_an_epoch_takes_over(e2e_session: FakeSession) -> None:
    s = e2e_session
    first = s.join()
    second = s.join()
    s.rekey(first)  # join before host: chat in epoch 1
    host = s.join(Role.HOST)
    assert host.e2e.needs_rekey(s.now)
    # Not told of epoch 1, the host would start at 1 too; the others would take it in
    # place of the stand-in's epoch 1 (as after a returning leader's reconnect).
    unaware = s.view(host, [first.blob, second.blob, host.blob])
    assert s.wire(unaware.start_epoch(s.rng, s.now)).header.epoch == 1
    # The ROSTER (or any KEY_COMMIT header) tells it the newest epoch: it starts above.
    host.e2e.note_epoch(1)
    frame = s.rekey(host)
    assert frame.header.epoch == 2
    codes = {m.e2e.security_code for m in (first, second, host)}
    assert len(codes) == 1 and None not in codes
    assert first.e2e.open(seal(s, host, Chat("I am here")), s.now) == Chat("I am here")


def test_a_returning_leaders_epoch_replaces_a_stand_ins_of_the_same_number(
    trio: Trio,
) -> None:
    """The host's link drops; alice stands in and leads epoch N for alice and bob. The
    host comes back knowing only epoch N - 1 (alice's commit never reached it) and commits
    its own epoch N: that replaces the stand-in's, so everyone holds one epoch again (§6.2)."""
    s, host, alice, bob = trio
    before = s.rekey(host).header.epoch
    for member in (alice, bob):  # the host's link dropped
        member.e2e.remove_member(host.member_id)
    assert alice.e2e.is_leader
    stand_in = s.wire(alice.e2e.start_epoch(s.rng, s.now))
    s.deliver(bob, stand_in)
    assert stand_in.header.epoch == before + 1
    for member in (alice, bob):  # the host is back
        member.e2e.add_member(host.blob, s.now, Role.HOST)
    returning = s.wire(host.e2e.start_epoch(s.rng, s.now))
    assert returning.header.epoch == stand_in.header.epoch
    for member in (alice, bob):
        s.deliver(member, returning)
    codes = {m.e2e.security_code for m in (host, alice, bob)}
    assert len(codes) == 1 and None not in codes
    assert bob.e2e.open(seal(s, host, Chat("back")), s.now) == Chat("back")
    assert host.e2e.open(seal(s, alice, Chat("welcome back")), s.now) == Chat("welcome back")
    # The leader's own epoch of that number is not replaced again: a replay is refused.
    with pytest.raises(CommitRejected, match="not newer"):
        s.deliver(bob, returning)
    # Nor may a stand-in's commit replace the leader's.
    with pytest.raises(CommitRejected):
        s.deliver(bob, stand_in)


def announce_role(s: FakeSession, member_id: int, role: Role) -> None:
    """The relay's ROLE_CHANGE reaches every member present."""
    for member in s.members.values():
        member.e2e.set_role(member_id, role)


def test_leader_follows_the_current_host_on_handover(trio: Trio) -> None:
    """Host handover (ROLE_CHANGE(x, HOST), then ROLE_CHANGE(self, PARTICIPANT)): the
    key leader is the lowest CURRENT host, and the new host starts a new epoch."""
    s, host, alice, bob = trio
    old_code = host.e2e.security_code
    announce_role(s, alice.member_id, Role.HOST)
    assert host.e2e.is_leader  # two hosts: the lowest id leads
    assert not alice.e2e.needs_rekey(s.now) and not host.e2e.needs_rekey(s.now)
    announce_role(s, host.member_id, Role.PARTICIPANT)
    assert [m.e2e.leader for m in (host, alice, bob)] == [alice.member_id] * 3
    assert alice.e2e.is_leader and not host.e2e.is_leader
    assert alice.e2e.role(host.member_id) is Role.PARTICIPANT
    # The epoch was made by another leader: the new host must start one, nobody else.
    assert alice.e2e.needs_rekey(s.now)
    assert not host.e2e.needs_rekey(s.now) and not bob.e2e.needs_rekey(s.now)
    with pytest.raises(CommitRejected, match="only the key leader"):
        host.e2e.start_epoch(s.rng, s.now)
    with pytest.raises(CommitRejected, match="not from the key leader"):
        s.deliver(bob, commit_frame(s, host))
    frame = s.rekey(alice)
    assert frame.header.epoch == 2 and frame.header.sender == alice.member_id
    codes = {m.e2e.security_code for m in (host, alice, bob)}
    assert len(codes) == 1 and old_code not in codes  # a new leader key: a new code
    assert not alice.e2e.needs_rekey(s.now)
    assert host.e2e.open(seal(s, alice, Chat("I run it now")), s.now) == Chat("I run it now")


def test_a_lower_id_made_host_leads_at_once(trio: Trio) -> None:
    s, host, alice, bob = trio
    announce_role(s, host.member_id, Role.PARTICIPANT)  # no host left: the lowest id leads
    assert host.e2e.is_leader and not host.e2e.needs_rekey(s.now)
    announce_role(s, bob.member_id, Role.HOST)
    assert bob.e2e.is_leader and bob.e2e.needs_rekey(s.now)
    announce_role(s, alice.member_id, Role.HOST)
    assert alice.e2e.is_leader and not bob.e2e.is_leader
    s.rekey(alice)
    assert len({m.e2e.security_code for m in (host, alice, bob)}) == 1


def test_add_member_takes_the_role_the_relay_announces(e2e_session: FakeSession) -> None:
    s = e2e_session
    first = s.join()  # a participant by ticket ...
    second = s.join()
    view = s.view(second, [])
    view.add_member(second.blob, s.now)
    view.add_member(first.blob, s.now, Role.PARTICIPANT)
    assert view.leader == first.member_id
    _, third, blob = s.issue(3)  # ... made host since it joined
    assert third.role is Role.PARTICIPANT
    view.add_member(blob, s.now, Role.HOST)
    assert view.leader == 3 and view.role(3) is Role.HOST
    view.add_member(blob, s.now)  # None: the ticket's role again
    assert view.leader == first.member_id
    view.set_role(99, Role.HOST)  # a member without a ticket here is ignored
    assert view.leader == first.member_id
    with pytest.raises(KeyError):
        view.role(99)


def test_noted_epoch_never_lowers_the_next_number(trio: Trio) -> None:
    s, host, _, _ = trio
    host.e2e.note_epoch(0)
    assert s.rekey(host).header.epoch == 2
    host.e2e.note_epoch(9)
    assert s.rekey(host).header.epoch == 10


def test_no_epoch_number_above_the_largest(trio: Trio) -> None:
    """A relay may announce epoch 2^32 - 1 (unauthenticated): the leader then refuses
    with a CryptoError, never with a struct.error from packing the header."""
    s, host, _, _ = trio
    host.e2e.note_epoch(0xFFFFFFFF)
    with pytest.raises(CommitRejected, match="no epoch number"):
        host.e2e.start_epoch(s.rng, s.now)
