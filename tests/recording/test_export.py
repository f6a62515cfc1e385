"""The MP4 export (recording/export.py) of a recording made without a network: every
picture at its time, the drawings over it (or not), as long as the recording; a file
that does not verify is refused unless forced."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from relaydesk.errors import RecordingTampered
from relaydesk.recording.export import export_mp4
from relaydesk.recording.format import EntryKind, read_entries
from relaydesk.recording.verify import verify_file
from relaydesk.screen.picture import to_rgb
from support.recording_files import Made, make_recording

TOLERANCE = 24  # H.264 (crf 20) on flat colours


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    return make_recording(tmp_path_factory.mktemp("export") / "session.rdrec", updates=8)


def decoded(path: Path) -> tuple[list[tuple[float, np.ndarray]], float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [(float(f.time), f.to_ndarray(format="rgb24")) for f in container.decode(stream)]
        assert stream.duration is not None
        return frames, float(stream.duration * stream.time_base)


def close_to(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.percentile(np.abs(a.astype(int) - b.astype(int)), 95) <= TOLERANCE)


def test_every_picture_at_its_time_and_as_long_as_the_recording(made: Made, tmp_path: Path) -> None:
    out = tmp_path / "plain.mp4"
    progress: list[tuple[int, int]] = []
    exported = export_mp4(
        made.path, out, annotations=False, progress=lambda *done: progress.append(done)
    )
    frames, duration = decoded(out)
    assert exported.frames == len(frames) == len(made.pictures) + 1  # black before the first
    assert duration == pytest.approx(verify_file(made.path).duration, abs=0.002)
    assert not frames[0][1].any()  # nothing was shown before the first picture
    for (time, rgb), (at, picture) in zip(frames[1:], made.pictures, strict=True):
        assert time == pytest.approx(at, abs=0.002)
        assert close_to(rgb, to_rgb(picture))
    assert progress[-1][0] == made.path.stat().st_size
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)


def test_the_drawings_are_drawn_over_unless_left_out(made: Made, tmp_path: Path) -> None:
    export_mp4(made.path, tmp_path / "drawn.mp4")
    export_mp4(made.path, tmp_path / "plain.mp4", annotations=False)
    drawn, plain = (
        decoded(tmp_path / "drawn.mp4")[0][-1][1],
        decoded(tmp_path / "plain.mp4")[0][-1][1],
    )
    red = (drawn[:, :, 0] > 180) & (drawn[:, :, 1] < 80) & (drawn[:, :, 2] < 80)
    assert red.sum() > 40  # the host's red stroke across the picture
    assert not ((plain[:, :, 0] > 180) & (plain[:, :, 1] < 80) & (plain[:, :, 2] < 80)).sum()


def test_a_file_that_does_not_verify_is_exported_only_when_forced(
    made: Made, tmp_path: Path
) -> None:
    cut = tmp_path / "cut.rdrec"
    with made.path.open("rb") as stream:
        frames = [e for e in read_entries(stream) if e.kind in (EntryKind.FRAME_IN,
                                                                 EntryKind.FRAME_OUT)]  # fmt: skip
    cut.write_bytes(made.path.read_bytes()[: frames[len(frames) // 2].end])  # no END: cut short
    with pytest.raises(RecordingTampered, match="cut short"):
        export_mp4(cut, tmp_path / "refused.mp4")
    assert not (tmp_path / "refused.mp4").exists()
    forced = export_mp4(cut, tmp_path / "forced.mp4", force=True)
    assert 1 < forced.frames < len(made.pictures)  # what was there before the cut
