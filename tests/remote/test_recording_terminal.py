"""Recording from the terminal, end to end (issue 13): Olga's real ``relaydesk start
--record FILE`` shares an Xvfb screen while Pat's real ``relaydesk join`` watches; both
are told who records; ``/record stop`` ends the file; ``relaydesk recording verify``
says it is intact (and names the entry of a flipped byte); ``relaydesk recording export
--mp4`` makes a video that PyAV decodes into what the screen showed, as long as the
recording lasted."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import av
import numpy as np

from relaydesk.screen.xvfb import Xvfb
from remote.conftest import HEIGHT, WIDTH
from remote.meeting_terminals import host_and_pat
from support.processes import RELAYDESK
from support.servers import LiveServer

BLUE, RED = (0x33, 0x66, 0xCC), (0xCC, 0x33, 0x33)
TOLERANCE = 24  # H.264 at crf 20 on a flat colour: a few levels off at most


def paint(screen: Xvfb, rgb: tuple[int, int, int]) -> None:
    colour = "#{:02x}{:02x}{:02x}".format(*rgb)
    subprocess.run(["xsetroot", "-solid", colour], env=screen.env, check=True, timeout=10)


def relaydesk(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RELAYDESK), *map(str, args)], capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip


def video_frames(path: Path) -> tuple[list[tuple[float, np.ndarray]], float, tuple[int, int]]:
    """Every decoded frame (its time, RGB pixels), the video's duration and size."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = [(float(f.time), f.to_ndarray(format="rgb24")) for f in container.decode(stream)]
        assert stream.duration is not None
        duration = float(stream.duration * stream.time_base)
        return frames, duration, (stream.width, stream.height)


def near(pixel: np.ndarray, rgb: tuple[int, int, int]) -> bool:
    return bool(np.all(np.abs(pixel.astype(int) - np.array(rgb)) <= TOLERANCE))


def test_a_recorded_session_verifies_and_exports_to_what_the_screen_showed(
    server: LiveServer, organizer_profile: Path, presenter_screen: Xvfb, tmp_path: Path
) -> None:
    recording, second = tmp_path / "meeting.rdrec", tmp_path / "second.rdrec"
    paint(presenter_screen, BLUE)
    with host_and_pat(
        server, organizer_profile, presenter_screen, tmp_path,
        host_args=("--record", str(recording)),
    ) as (host, pat):  # fmt: skip
        assert "* You started recording this session" in host.shown()  # before Pat came
        pat.expect(r"You are in: 2 in the session .* Recording by Olga\.")  # a latecomer
        pat.expect(r"Showing Olga's screen")
        pat.type("/who")
        pat.expect(r"^  Recording by Olga\.")
        paint(presenter_screen, RED)
        pat.type("hello from Pat")
        host.expect(r"\[chat\] Pat: hello from Pat")
        host.type("/record stop")
        pat.expect(r"\* Olga stopped recording")
        host.expect(r"Recording written to (\S+) \((\d+) entries")
        # Again, with /record: Pat, in the session, is told as it starts.
        host.type(f"/record {second}")
        pat.expect(r"\* Olga started recording this session")
        host.type("/record stop")
        pat.expect(r"\* Olga stopped recording")
        host.expect(r"Recording written to")
    assert recording.stat().st_mode & 0o777 == 0o600
    assert relaydesk("recording", "verify", second).returncode == 0

    verified = relaydesk("recording", "verify", recording)
    assert verified.returncode == 0, verified.stderr
    assert f"{recording}: intact." in verified.stdout
    assert re.search(r"Members: Olga \(member \d+\), Pat \(member \d+\)", verified.stdout)
    assert re.search(r"checked against their sender's ticket key: .*Olga: \d+", verified.stdout)
    lasted = float(re.search(r"lasted ([\d.]+) s", verified.stdout).group(1))  # type: ignore[union-attr]
    key = relaydesk("recording", "key", "--config-dir", organizer_profile)
    public = re.search(r"Recording key: ([0-9a-f]{64})", key.stdout).group(1)  # type: ignore[union-attr]
    assert relaydesk("recording", "verify", recording, "--key", public).returncode == 0
    assert relaydesk("recording", "verify", recording, "--key", "00" * 32).returncode == 2

    video = tmp_path / "meeting.mp4"
    exported = relaydesk("recording", "export", recording, "--mp4", video)
    assert exported.returncode == 0, exported.stderr
    frames, duration, size = video_frames(video)
    assert size == (WIDTH, HEIGHT)
    assert abs(duration - lasted) < 0.1  # the video lasts as long as the recording
    centre = (HEIGHT // 2, WIDTH // 2)
    colours = [(t, f[centre]) for t, f in frames]
    first_blue = next(t for t, p in colours if near(p, BLUE))
    first_red = next(t for t, p in colours if near(p, RED))
    assert first_blue < first_red
    assert near(frames[-1][1][centre], RED)  # the screen as it was when the recording ended
    # Nothing but the two colours (and black before the first picture) at the centre.
    assert all(near(p, BLUE) or near(p, RED) or near(p, (0, 0, 0)) for _, p in colours)

    a_flipped_byte_is_named_and_not_exported(recording, tmp_path)


def a_flipped_byte_is_named_and_not_exported(recording: Path, folder: Path) -> None:
    """One flipped byte: verify names where, and export refuses unless forced."""
    tampered = folder / "tampered.rdrec"
    data = bytearray(recording.read_bytes())
    data[len(data) // 2] ^= 0x20
    tampered.write_bytes(bytes(data))
    refused = relaydesk("recording", "verify", tampered)
    assert refused.returncode == 2
    assert re.search(r"NOT intact: entry \d+ at byte \d+: ", refused.stderr), refused.stderr
    not_exported = relaydesk("recording", "export", tampered, "--mp4", folder / "t.mp4")
    assert not_exported.returncode == 2 and not (folder / "t.mp4").exists()
    assert "--force-unverified" in not_exported.stderr
