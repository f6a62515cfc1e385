"""Recording (issue 13): what keeping a session costs the host's client, how fast a file
verifies, how fast it exports to MP4.

- **Overhead per frame**: ``RecordingWriter.frame`` on real sealed frames (a chat line, a
  1080p screen update as the presenter's codec makes it, a whole 1080p keyframe): the
  entry's SHA-256, its bytes written to a file (buffered; a signed checkpoint every
  256 entries or 5 s included), per frame.
- **Verify**: ``relaydesk recording verify``'s work (``verify_file``) over a recording of
  1080p screen updates and chat: chain, recorder signatures, tickets, every content
  frame's sender signature; MB/s of file.
- **Export**: ``export_mp4`` of 1080p pictures, each a changed screen (PNG and zlib tiles
  decoded, drawn, converted, H.264 by PyAV's libx264 at preset veryfast): video frames
  per second.

Sessions, keys and frames are made with the real code (``EndToEnd`` of benchmarks/crypto).
No target in PERFORMANCE.md; a recording must not slow a 30 fps share: the overhead row
says how much of a 33 ms frame interval it takes. Run alone:
``python -m benchmarks.recording [--quick]``.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from benchmarks import MIB, Row, Section, format_seconds, median_seconds, standalone
from benchmarks.crypto import SESSION_UID, _end_to_end, _members
from relaydesk import limits
from relaydesk.protocol.e2e import EndToEnd
from relaydesk.protocol.frames import EVERYONE, RELAY, Flags, Frame, Header
from relaydesk.protocol.messages import (
    Chat,
    ConsentKind,
    Grant,
    KeyCommit,
    Recording,
    Role,
    RosterEntry,
    decode,
    encode,
)
from relaydesk.recording.export import export_mp4
from relaydesk.recording.format import Start
from relaydesk.recording.verify import verify_file
from relaydesk.recording.writer import RecordingWriter
from relaydesk.screen.codec import encode_update

TITLE = "recording"
WIDTH, HEIGHT = 1920, 1080
FRAME_INTERVAL = 1 / limits.SCREEN_FPS


class _Session:
    """A host (the recorder, member 1) and a presenter (member 2) in one epoch."""

    def __init__(self) -> None:
        broker, keys, self.tickets = _members(2)
        self.broker = broker
        self.host = _end_to_end(1, broker, keys, self.tickets)
        self.presenter = _end_to_end(2, broker, keys, self.tickets)
        commit = self.host.start_epoch(os.urandom, now=0.0)
        message = decode(commit.header.type, commit.body)
        assert isinstance(message, KeyCommit)
        self.presenter.apply_commit(commit.header, message, now=0.0)
        self.key = Ed25519PrivateKey.generate()

    def writer(self, path: Path, clock: _Clock | None = None) -> RecordingWriter:
        start = Start(
            SESSION_UID, "123456789", 1, "Member 1", self.key.public_key().public_bytes_raw(),
            self.broker.public_key().public_bytes_raw(), 2,
        )  # fmt: skip
        roles = (Role.HOST, Role.PARTICIPANT)
        entries = [RosterEntry(m, roles[m - 1], t) for m, t in enumerate(self.tickets, 1)]
        writer = RecordingWriter(path, self.key, start, entries, clock or time.time)
        epoch = self.host.current
        assert epoch is not None
        writer.epoch(epoch.number, epoch.leader, epoch.members, epoch.secret)
        for sequence, message in enumerate((Recording(1, True), Grant(ConsentKind.PRESENT, 2)), 1):
            header = Header(message.TYPE, SESSION_UID, 0, RELAY, 1, sequence)
            writer.frame(Frame(header, encode(message)).serialize(), sent=False)
        return writer


class _Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _pictures(count: int) -> list[np.ndarray]:
    """1080p screens that change a lot from one to the next: a noisy band moves down a
    screen of flat panels (what the codec makes PNG and zlib tiles of)."""
    rng = np.random.default_rng(13)
    base = np.full((HEIGHT, WIDTH, 4), 235, np.uint8)
    base[:, : WIDTH // 5] = (60, 50, 40, 0)
    pictures = []
    for i in range(count):
        picture = base.copy()
        top = (i * 97) % (HEIGHT - 200)
        picture[top : top + 200, WIDTH // 5 :] = rng.integers(0, 256, (200, WIDTH * 4 // 5, 4))
        pictures.append(picture)
    return pictures


def _screen_frames(presenter: EndToEnd, pictures: list[np.ndarray]) -> list[bytes]:
    frames, previous = [], None
    for picture in pictures:
        for update in encode_update(previous, picture):
            flags = Flags.KEYFRAME if update.full else Flags.NONE
            frames.append(presenter.seal(update, EVERYONE, flags).serialize())
        previous = picture
    return frames


def overhead_section(quick: bool, folder: Path) -> Section:
    section = Section("recording: the host's client keeps a frame (RecordingWriter.frame)")
    session = _Session()
    pictures = _pictures(3)
    keyframe = _screen_frames(session.presenter, pictures[:1])
    delta = _screen_frames(session.presenter, pictures[:2])[len(keyframe) :]
    chat = [session.presenter.seal(Chat("a line of chat, as people type them")).serialize()]
    repeats = 5 if quick else 15
    for name, frames in (
        ("chat line", chat),
        ("1080p update (a band changed)", delta),
        ("1080p keyframe (whole screen)", keyframe),
    ):
        size = sum(map(len, frames))
        per_batch = max(1, (64 if quick else 256) * MIB // 16 // max(size, 1))
        per_batch = min(per_batch, 2000)
        path = folder / f"overhead-{len(section.rows)}.rdrec"
        writer = session.writer(path)

        def batch(
            frames: list[bytes] = frames, writer: RecordingWriter = writer, count: int = per_batch
        ) -> int:
            for _ in range(count):
                for frame in frames:
                    writer.frame(frame, sent=False)
            return count

        seconds = median_seconds(batch, repeats)
        writer.finish()
        path.unlink()
        share = seconds / FRAME_INTERVAL
        section.rows.append(
            Row(
                f"{name}, {size / 1000:.0f} kB" if size >= 10_000 else f"{name}, {size} B",
                format_seconds(seconds),
                f"{size / seconds / 1e6:.0f} MB/s, {share:.1%} of a 30 fps frame",
            )
        )
    section.notes.append(
        "per frame as received: SHA-256 of the entry and a buffered write (a signed "
        "checkpoint every 256 entries or 5 s included); the frame was opened and checked "
        "by the client anyway"
    )
    return section


def _recording(folder: Path, pictures: int, seconds_apart: float) -> Path:
    session = _Session()
    clock = _Clock()
    path = folder / f"sample-{pictures}.rdrec"
    writer = session.writer(path, clock)
    frames = _screen_frames(session.presenter, _pictures(pictures))
    for index, frame in enumerate(frames):
        clock.now += seconds_apart
        writer.frame(frame, sent=False)
        if index % 5 == 0:
            line = session.presenter.seal(Chat(f"line {index}")).serialize()
            writer.frame(line, sent=False)
    clock.now += seconds_apart
    writer.finish()
    return path


def verify_export_section(quick: bool, folder: Path) -> Section:
    section = Section("recording: verify and export (relaydesk recording verify / export --mp4)")
    count = 20 if quick else 90
    path = _recording(folder, count, 0.2)
    size = path.stat().st_size
    repeats = 3 if quick else 7
    verify_time = median_seconds(lambda: (verify_file(path), 1)[1], repeats)
    section.rows.append(
        Row(
            f"verify, {size / 1e6:.1f} MB ({count} 1080p pictures)",
            format_seconds(verify_time),
            f"{size / verify_time / 1e6:.0f} MB/s",
        )
    )
    out = folder / "out.mp4"

    def export() -> int:
        out.unlink(missing_ok=True)
        exported = export_mp4(path, out, force=True)
        return exported.frames

    export_time = median_seconds(export, 1 if quick else 3)
    section.rows.append(
        Row(
            f"export to MP4, 1080p, {count} changed pictures",
            format_seconds(export_time) + " a frame",
            f"{1 / export_time:.1f} frames/s",
        )
    )
    section.notes.append(
        "export: decode every tile (PNG, zlib), draw, RGB to YUV 4:2:0 and H.264 (libx264 "
        "veryfast, crf 20); a still screen costs no frame at all (variable frame rate)"
    )
    return section


def run(quick: bool) -> list[Section]:
    with tempfile.TemporaryDirectory(prefix="relaydesk-bench-recording-") as folder:
        return [overhead_section(quick, Path(folder)), verify_export_section(quick, Path(folder))]


if __name__ == "__main__":
    raise SystemExit(standalone(TITLE, run))
