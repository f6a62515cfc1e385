"""The fuzz targets of scripts/fuzz.py: one function per parser, each taking fuzzer-made
bytes. A parser may refuse an input only with relaydesk's documented errors
(``RelaydeskError`` and its kinds); anything else escapes and is a crash."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable

from seeds import (
    BROKER_KEY,
    CHALLENGE,
    RECIPIENT,
    SEALED_INFO,
    challenge_frame,
    header_for,
    hello_frame,
    sample_bodies,
    sample_recording,
    sample_ticket,
    screen_updates,
    sealed_box,
    sealed_pair,
    video_frames,
)

from relaydesk.client.links import read_challenge
from relaydesk.errors import RelaydeskError
from relaydesk.protocol import hpke
from relaydesk.protocol import keys as ks
from relaydesk.protocol.frames import Frame, FrameType, StreamDecoder
from relaydesk.protocol.messages import (
    MESSAGE_CLASSES,
    Ping,
    ScreenUpdate,
    VideoFrame,
    decode,
    encode,
)
from relaydesk.protocol.tickets import verify_ticket
from relaydesk.recording.format import (
    ENTRY_HEAD,
    FILE_HEADER,
    HASH_SIZE,
    chain_seed,
    entry_hash,
)
from relaydesk.recording.verify import verify_stream
from relaydesk.relay.hub import Connection, RelayHub
from relaydesk.screen.framebuffer import FrameBuffer

Target = Callable[[bytes], None]
refused = contextlib.suppress(RelaydeskError)  # reusable: it keeps no state


def frames(data: bytes) -> None:
    """One frame, then the same bytes as a stream cut at a fuzzer-chosen point."""
    with refused:
        Frame.parse(data)
    decoder, split = StreamDecoder(), (data[0] % 64 if data else 0)
    with refused:
        for piece in (data[:split], data[split:]):
            decoder.receive_data(piece)
            list(decoder.frames_received())


_TYPES = sorted(MESSAGE_CLASSES, key=int)


def messages(data: bytes) -> None:
    """The first byte picks a frame type; the rest is that type's body."""
    if data:
        with refused:
            decode(FrameType(_TYPES[data[0] % len(_TYPES)]), data[1:])


_BROKER_PUBLIC = BROKER_KEY.public_key()


def tickets(data: bytes) -> None:
    with refused:
        verify_ticket(data, _BROKER_PUBLIC, now=0.0)


_HOST, _GUEST, _SEALED = sealed_pair()


def content(data: bytes) -> None:
    """Verify, decrypt and decode a content frame as a member of a real epoch."""
    with refused:
        _GUEST.open(Frame.parse(data), now=1.0)


_FULL, _DELTA, _GREYS = screen_updates()
_FIRST = decode(FrameType.SCREEN_UPDATE, _FULL)  # decoded once, painted for every delta
assert isinstance(_FIRST, ScreenUpdate)


def screen(data: bytes) -> None:
    """A screen update painted on a framebuffer (a delta on a real first picture)."""
    framebuffer = FrameBuffer()
    with refused:
        update = decode(FrameType.SCREEN_UPDATE, data)
        assert isinstance(update, ScreenUpdate)
        if not update.full:
            framebuffer.apply(_FIRST)
        framebuffer.apply(update)


def _rechained(data: bytes) -> bytes:
    """The fuzzer's entries with every hash made right, so that what lies behind the
    chain (the entry decoders, tickets, frames, signatures) is reached too: the input is
    read as entries (a length field taken modulo what is left), each stored hash replaced
    by the right one; a valid recording stays itself."""
    out, previous, at = bytearray(FILE_HEADER), chain_seed(), 0
    while at + ENTRY_HEAD.size <= len(data):
        kind, time_ms, length = ENTRY_HEAD.unpack_from(data, at)
        at += ENTRY_HEAD.size
        length %= len(data) - at + 1
        head = ENTRY_HEAD.pack(kind, time_ms, length)
        body = data[at : at + length]
        at += length + HASH_SIZE
        previous = entry_hash(previous, head, body)
        out += head + body + previous
    return bytes(out)


def recording(data: bytes) -> None:
    """A recording file, verified whole: header, chain, signatures, tickets, frames; then
    the same bytes read as entries with a chain made right (see ``_rechained``)."""
    with refused:
        verify_stream(io.BytesIO(data))
    with refused:
        verify_stream(io.BytesIO(_rechained(data[len(FILE_HEADER) :])))


_PICTURE, _VIDEO = video_frames()
_UNDER_VIDEO = decode(FrameType.SCREEN_UPDATE, _PICTURE)
assert isinstance(_UNDER_VIDEO, ScreenUpdate)


def video(data: bytes) -> None:
    """A video frame applied to a framebuffer holding a real picture."""
    framebuffer = FrameBuffer()
    framebuffer.apply(_UNDER_VIDEO)
    with refused:
        frame = decode(FrameType.VIDEO_FRAME, data)
        assert isinstance(frame, VideoFrame)
        framebuffer.apply_video(frame)


class _NoRecords:
    """The hub's event records are not what the admission target looks at."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


_HUB = RelayHub(_BROKER_PUBLIC, _NoRecords(), clock=lambda: 0.0)  # type: ignore[arg-type]


def hello(data: bytes) -> None:
    """The relay's admission of a link's first frame: HELLO, its ticket and its proof
    over the link's challenge (a fresh link each time, the challenge of the seeds)."""
    connection = Connection()
    connection.challenge = CHALLENGE
    with refused:
        _HUB.admit(connection, data)


def challenge(data: bytes) -> None:
    """The client's reading of the relay's first frame, its CHALLENGE."""
    with refused:
        read_challenge(data)


def hybrid(data: bytes) -> None:
    """The first byte picks: a hybrid agreement public key as a ticket carries it, or an
    HPKE box (enc || ciphertext) opened with a member's hybrid key."""
    if not data:
        return
    body = data[1:]
    with refused:
        if data[0] % 2 == 0:
            ks.check_agreement_key(body)
        else:
            hpke.open_(RECIPIENT, body[: hpke.ENC_SIZE], SEALED_INFO, body[hpke.ENC_SIZE :])


_PING = Frame(header_for("PING"), encode(Ping(7))).serialize()

TARGETS: dict[str, tuple[Target, list[bytes]]] = {
    "frames": (frames, [_PING, _PING + _PING[:20]]),
    "messages": (messages, [bytes([_TYPES.index(t)]) + body for t, body in sample_bodies()]),
    "tickets": (tickets, [sample_ticket(1)]),
    "content": (content, _SEALED),
    "screen": (screen, [_FULL, _DELTA, _GREYS]),
    "recording": (recording, [sample_recording()]),
    "video": (video, _VIDEO),
    "hello": (hello, [hello_frame()]),
    "challenge": (challenge, [challenge_frame()]),
    "hybrid": (hybrid, [b"\x00" + RECIPIENT.public_bytes(), b"\x01" + sealed_box()]),
}
