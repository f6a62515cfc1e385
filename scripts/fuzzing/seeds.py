"""Valid inputs the fuzz targets start from (scripts/fuzz.py): frames, message bodies,
a signed ticket, sealed content frames and screen updates, all made with the real code."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from relaydesk.protocol import hpke
from relaydesk.protocol import keys as ks
from relaydesk.protocol.e2e import EndToEnd
from relaydesk.protocol.frames import EVERYONE, RELAY, Frame, FrameType, Header
from relaydesk.protocol.messages import (
    Challenge,
    Chat,
    Error,
    Hello,
    KeyCommit,
    Lock,
    Ping,
    Recording,
    Role,
    RosterEntry,
    decode,
    encode,
)
from relaydesk.protocol.tickets import Ticket, prove_hello, sign_ticket
from relaydesk.recording.format import Start
from relaydesk.recording.writer import RecordingWriter
from relaydesk.screen.codec import encode_update

UID = bytes(range(16))
BROKER_KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"fuzz broker").digest())
CHALLENGE = hashlib.sha256(b"fuzz challenge").digest()  # the admission target's link's
RECIPIENT = hpke.AgreementKey.from_private_bytes(bytes(range(64)), bytes(range(64, 96)))
SEALED_INFO = b"relaydesk/v1 epoch secret fuzz"


def _rng(label: bytes) -> Callable[[int], bytes]:
    """A deterministic byte source: the same seeds on every run."""
    counter = iter(range(1 << 30))

    def take(size: int) -> bytes:
        out = b""
        while len(out) < size:
            out += hashlib.sha256(label + next(counter).to_bytes(4, "big")).digest()
        return out[:size]

    return take


def header_for(type_name: str) -> Header:
    return Header(FrameType[type_name], UID, 0, RELAY, EVERYONE, 1)


def sample_bodies() -> list[tuple[FrameType, bytes]]:
    return [
        (FrameType.PING, encode(Ping(1))),
        (FrameType.ERROR, encode(Error(4000, "no"))),
        (FrameType.LOCK, encode(Lock(True))),
        (FrameType.CHAT, encode(Chat("hello"))),
        (FrameType.SCREEN_UPDATE, screen_updates()[0]),
    ]


def _keys_and_ticket(member_id: int, role: Role) -> tuple[ks.MemberKeys, bytes]:
    keys = ks.MemberKeys.generate(_rng(b"member %d" % member_id))
    ticket = Ticket(
        session_uid=UID,
        member_id=member_id,
        display_name=f"Member {member_id}",
        role=role,
        agreement=keys.agreement_public,
        ed25519=keys.ed25519_public,
        relay="embedded",
        expires_at=2**40,
    )
    return keys, sign_ticket(ticket, BROKER_KEY)


def sample_ticket(member_id: int) -> bytes:
    return _keys_and_ticket(member_id, Role.HOST)[1]


def sealed_pair() -> tuple[EndToEnd, EndToEnd, list[bytes]]:
    """A leader and a member of one epoch, and frames the leader sealed for it."""
    (host_keys, host_ticket), (guest_keys, guest_ticket) = (
        _keys_and_ticket(1, Role.HOST),
        _keys_and_ticket(2, Role.PARTICIPANT),
    )
    public = BROKER_KEY.public_key()
    host, guest = EndToEnd(UID, 1, host_keys, public), EndToEnd(UID, 2, guest_keys, public)
    for side in (host, guest):
        side.add_member(host_ticket, 0.0)
        side.add_member(guest_ticket, 0.0)
    commit = host.start_epoch(_rng(b"epoch"), 0.0)
    guest.apply_commit(commit.header, _commit(commit), 0.0)
    frames = [host.seal(Chat(f"line {n}")).serialize() for n in range(3)]
    return host, guest, frames


def _commit(frame: Frame) -> KeyCommit:
    commit = decode(FrameType.KEY_COMMIT, frame.body)
    assert isinstance(commit, KeyCommit)
    return commit


def video_frames() -> tuple[bytes, list[bytes]]:
    """A full 64x48 picture, then the first frames (keyframes, a delta) of a video of its
    32x32 region at (16, 8), as SCREEN_UPDATE and VIDEO_FRAME bodies."""
    from relaydesk.screen.picture import Rect  # noqa: PLC0415
    from relaydesk.screen.video import VideoEncoder  # noqa: PLC0415

    picture = np.zeros((48, 64, 4), np.uint8)
    encoder = VideoEncoder(1, Rect(16, 8, 32, 32), 30.0)
    frames = []
    for t in range(3):
        picture[8:40, 16:48, 1] = (np.arange(32, dtype=np.uint8) * 7 + t * 9)[None, :]
        frames.append(encode(encoder.encode(picture)))
    return encode(encode_update(None, picture)[0]), frames


def screen_updates() -> tuple[bytes, bytes, bytes]:
    """A full 64x48 picture and two deltas on it, encoded as SCREEN_UPDATE bodies: one
    colour (FILL tiles) and grey text-like pixels (ZLIB_GREY or grey PNG tiles)."""
    first = np.zeros((48, 64, 4), np.uint8)
    first[8:24, 8:40] = (200, 30, 30, 0)
    second = first.copy()
    second[30:40, 0:64] = (10, 220, 10, 0)
    third = first.copy()
    grey = np.random.default_rng(7).integers(0, 4, (12, 9), np.uint8) * 85
    third[30:42, 20:29, :3] = grey[..., None]
    full = encode_update(None, first)[0]
    delta = encode_update(first, second)[0]
    greys = encode_update(first, third)[0]
    return encode(full), encode(delta), encode(greys)


def sample_recording() -> bytes:
    """A short recording as the host's client writes it: START, the tickets, the epoch,
    the relay's announcement, sealed chat lines and the signed END."""
    host, _, frames = sealed_pair()
    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"fuzz recorder").digest())
    start = Start(
        UID, "123456789", 1, "Member 1", key.public_key().public_bytes_raw(),
        BROKER_KEY.public_key().public_bytes_raw(), 0,
    )  # fmt: skip
    tickets = [RosterEntry(m, Role.HOST if m == 1 else Role.PARTICIPANT, sample_ticket(m))
               for m in (1, 2)]  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "seed.rdrec"
        writer = RecordingWriter(path, key, start, tickets, clock=lambda: 1.0)
        epoch = host.current
        assert epoch is not None
        writer.epoch(epoch.number, epoch.leader, epoch.members, epoch.secret)
        notice = Frame(header_for("RECORDING"), encode(Recording(1, True))).serialize()
        writer.frame(notice, sent=False)
        for frame in frames:
            writer.frame(frame, sent=True)
        writer.finish()
        return path.read_bytes()


def hello_frame() -> bytes:
    """Member 1's HELLO at the embedded relay, proven over CHALLENGE."""
    keys, ticket = _keys_and_ticket(1, Role.HOST)
    proof = prove_hello(keys.signing, CHALLENGE, ticket, "embedded")
    return Frame(
        Header(FrameType.HELLO, UID, 0, 1, RELAY, 1), encode(Hello(ticket, proof))
    ).serialize()


def challenge_frame() -> bytes:
    header = Header(FrameType.CHALLENGE, bytes(16), 0, RELAY, RELAY, 0)
    return Frame(header, encode(Challenge(CHALLENGE, "embedded"))).serialize()


def sealed_box() -> bytes:
    """enc || ciphertext of a 32-byte secret sealed to RECIPIENT."""
    enc, ciphertext = hpke.seal(hpke.public_key(RECIPIENT.public_bytes()), SEALED_INFO, bytes(32))
    return enc + ciphertext
