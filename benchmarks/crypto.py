"""End-to-end crypto: content sealing throughput and the cost of a new epoch.

Uses ``relaydesk.protocol.e2e.EndToEnd`` exactly as a client does (docs/protocol.md §6):
one sender seals (encode + AES-256-GCM + Ed25519 sign), one receiver verifies and opens
(Ed25519 verify + replay check + AES-256-GCM + decode). Content is a ScreenUpdate with a
single RAW tile, the only content message that reaches 1 MiB (chat stops at 4000
characters, a file chunk at 256 KiB). Epochs: the key leader's ``start_epoch`` for a
roster of n members (n HPKE seals, one signature, applying it itself) and one member
applying that commit (decode, signature, roster hash, one HPKE open).
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from benchmarks import (
    KIB,
    MIB,
    Row,
    Section,
    format_seconds,
    format_size,
    median_seconds,
    standalone,
)
from relaydesk.protocol import keys as ks
from relaydesk.protocol.e2e import EndToEnd
from relaydesk.protocol.frames import Frame
from relaydesk.protocol.messages import (
    KeyCommit,
    Role,
    ScreenUpdate,
    Tile,
    TileEncoding,
    decode,
)
from relaydesk.protocol.tickets import Ticket, sign_ticket

TITLE = "crypto"

SESSION_UID = bytes(range(16))
RELAY_URL = "wss://relay.example.org/relay"
EXPIRES_AT = 2**40  # far in the future; expiry is not what is measured
PAYLOAD_SIZES = (1 * KIB, 64 * KIB, 1 * MIB)  # a square RAW tile of 16, 128, 512 pixels
EPOCH_SIZES = (10, 100, 1000)
REKEY_TARGET_MEMBERS = 1000
REKEY_TARGET_SECONDS = 0.5  # PERFORMANCE.md: new epoch for 1000 members <= 0.5 s


def _members(count: int) -> tuple[Ed25519PrivateKey, dict[int, ks.MemberKeys], list[bytes]]:
    """A broker key and ``count`` members (member 1 is the host) with signed tickets."""
    broker = Ed25519PrivateKey.generate()
    member_keys = {m: ks.MemberKeys.generate(os.urandom) for m in range(1, count + 1)}
    tickets = [
        sign_ticket(
            Ticket(
                session_uid=SESSION_UID,
                member_id=m,
                display_name=f"Member {m}",
                role=Role.HOST if m == 1 else Role.PARTICIPANT,
                agreement=keys.agreement_public,
                ed25519=keys.ed25519_public,
                relay=RELAY_URL,
                expires_at=EXPIRES_AT,
            ),
            broker,
        )
        for m, keys in member_keys.items()
    ]
    return broker, member_keys, tickets


def _end_to_end(
    member_id: int,
    broker: Ed25519PrivateKey,
    member_keys: dict[int, ks.MemberKeys],
    tickets: list[bytes],
) -> EndToEnd:
    e2e = EndToEnd(SESSION_UID, member_id, member_keys[member_id], broker.public_key())
    for ticket in tickets:
        e2e.add_member(ticket, now=0.0)
    return e2e


def _screen_update(payload_size: int) -> ScreenUpdate:
    side = int((payload_size // 4) ** 0.5)
    assert side * side * 4 == payload_size, "payload sizes are square BGRX tiles"
    tile = Tile(0, 0, side, side, TileEncoding.RAW, os.urandom(payload_size))
    return ScreenUpdate(side, side, full=True, tiles=(tile,))


def _time_content(
    sender: EndToEnd, receiver: EndToEnd, update: ScreenUpdate, per_batch: int, repeats: int
) -> tuple[float, float]:
    """Median seconds to seal one message and to open one."""
    sealed: list[Frame] = []

    def seal_batch() -> int:
        sealed.clear()  # keep only the last batch, for the round-trip check
        for _ in range(per_batch):
            sealed.append(sender.seal(update))
        return per_batch

    seal_time = median_seconds(seal_batch, repeats)
    last = sealed[-1]
    # Every opening needs fresh sequence numbers: one batch per run, sealed untimed.
    batches = [[sender.seal(update) for _ in range(per_batch)] for _ in range(repeats + 1)]
    assert receiver.open(last, now=1.0) == update  # the round trip is exact

    def open_batch() -> int:
        frames = batches.pop(0)
        for frame in frames:
            receiver.open(frame, now=1.0)
        return len(frames)

    return seal_time, median_seconds(open_batch, repeats)


def content_section(quick: bool) -> Section:
    section = Section(
        "crypto: content messages, one sender to one receiver (EndToEnd.seal / .open)"
    )
    broker, member_keys, tickets = _members(2)
    sender = _end_to_end(1, broker, member_keys, tickets)
    receiver = _end_to_end(2, broker, member_keys, tickets)
    commit = sender.start_epoch(os.urandom, now=0.0)
    message = decode(commit.header.type, commit.body)
    assert isinstance(message, KeyCommit)
    receiver.apply_commit(commit.header, message, now=0.0)

    repeats = 5 if quick else 15
    for size in PAYLOAD_SIZES:
        per_batch = max(4, (256 if quick else 1024) * KIB // size)
        seal_time, open_time = _time_content(
            sender, receiver, _screen_update(size), per_batch, repeats
        )
        for name, seconds in (("seal+sign", seal_time), ("verify+open", open_time)):
            section.rows.append(
                Row(
                    f"{name} {format_size(size)}",
                    f"{format_seconds(seconds)}/msg",
                    f"{size / seconds / 1e6:,.0f} MB/s",
                )
            )

    # For scale: AES-256-GCM alone on 64 KiB (PERFORMANCE.md measured ~3 GB/s).
    aes = AESGCM(os.urandom(32))
    block = os.urandom(64 * KIB)
    nonce = bytes(12)

    def aes_batch(count: int = 256) -> int:
        for _ in range(count):
            aes.encrypt(nonce, block, None)
        return count

    aes_time = median_seconds(aes_batch, repeats)
    section.rows.append(
        Row(
            "AES-256-GCM alone 64 KiB (reference)",
            f"{format_seconds(aes_time)}/msg",
            f"{64 * KIB / aes_time / 1e6:,.0f} MB/s",
            "~3 GB/s measured (PERFORMANCE.md)",
        )
    )
    section.notes.append(
        "payload = the RAW tile's bytes; MB = 10^6 bytes; times include MessagePack "
        "encode/decode and the per-message Ed25519 signature"
    )
    return section


def _time_epoch(leader: EndToEnd, member: EndToEnd, repeats: int) -> tuple[float, float, int]:
    """Median seconds for the leader to start an epoch and for a member to apply it,
    and the size of the KEY_COMMIT body."""
    commits: list[Frame] = []

    def start_epoch() -> int:
        now = float(len(commits))
        commits.append(leader.start_epoch(os.urandom, now=now))
        return 1

    def apply() -> int:
        frame = commits.pop(0)  # commits must be applied in epoch order
        commit = decode(frame.header.type, frame.body)
        assert isinstance(commit, KeyCommit)
        member.apply_commit(frame.header, commit, now=float(frame.header.epoch))
        return 1

    start_time = median_seconds(start_epoch, repeats)
    commit_size = len(commits[0].body)
    apply_time = median_seconds(apply, repeats)
    assert member.security_code == leader.security_code
    return start_time, apply_time, commit_size


def epoch_section(quick: bool) -> Section:
    section = Section("crypto: new epoch (EndToEnd.start_epoch) and applying it")
    for count in EPOCH_SIZES:
        broker, member_keys, tickets = _members(count)
        leader = _end_to_end(1, broker, member_keys, tickets)
        member = _end_to_end(count, broker, member_keys, tickets)
        repeats = (3 if quick else 11) if count >= REKEY_TARGET_MEMBERS else (5 if quick else 15)
        start_time, apply_time, commit_size = _time_epoch(leader, member, repeats)

        target = verdict = ""
        if count == REKEY_TARGET_MEMBERS:
            target = f"<= {REKEY_TARGET_SECONDS} s (PERFORMANCE.md)"
            verdict = "met" if start_time <= REKEY_TARGET_SECONDS else "MISSED"
        section.rows.append(
            Row(
                f"new epoch, leader, {count} members",
                format_seconds(start_time),
                f"{format_seconds(start_time / count)}/member",
                target,
                verdict,
            )
        )
        section.rows.append(
            Row(f"apply epoch, one member, {count} members", format_seconds(apply_time))
        )
        section.notes.append(f"KEY_COMMIT body for {count} members: {commit_size:,} bytes")
    return section


def run(quick: bool) -> list[Section]:
    return [content_section(quick), epoch_section(quick)]


def main(argv: list[str] | None = None) -> int:
    return standalone(TITLE, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
