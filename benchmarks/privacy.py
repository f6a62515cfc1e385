"""Privacy masking: what it costs a frame at 1920x1080 (docs/privacy.md).

Pure part (no X server): ``compute_mask`` from realistic window stacks — overlapping
application windows placed by a seeded RNG on a 1920x1080 screen, a panel along the top,
a shaped window (an xeyes-like round one, 120 rectangles) — under the settings people
use (two applications excluded, the desktop hidden, one application only), then
``Mask.paint`` of that mask on a 1920x1080 BGRX frame. The cached row is what a frame
costs while nothing moves (same windows, same settings: the mask is not computed again).

Live part (Xvfb 1920x1080 with openbox and 12 managed windows, one excluded): what
``WindowWatch.current()`` costs with nothing moving (one round trip) and after a window
moved (its events read), and a whole masked grab (``Presenter.masked_grab``: windows
read before and after the capture, the mask painted) next to the capture alone.

Run alone: ``python -m benchmarks.privacy [--quick]``.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import numpy as np

from benchmarks import Row, Section, format_seconds, median_seconds, skipped_without, standalone
from relaydesk.agent.presenter import Presenter
from relaydesk.agent.privacy import (
    Mask,
    PrivacyFilter,
    PrivacySettings,
    Window,
    WindowKind,
    compute_mask,
)
from relaydesk.agent.windows import WindowWatch
from relaydesk.screen.capture import ScreenCapture
from relaydesk.screen.picture import Rect
from relaydesk.screen.xvfb import Xvfb

TITLE = "privacy"

WIDTH, HEIGHT = 1920, 1080
FRAME_BUDGET = 1 / 30  # a frame at limits.SCREEN_FPS
CLASSES = ("XTerm", "Firefox", "Thunderbird", "Code", "Nautilus", "Evince", "Slack", "Gimp")


def eyes_shape(x: int, y: int, size: int, rows: int = 120) -> tuple[Rect, ...]:
    """A round window's shape as the SHAPE extension gives it: one rectangle a row."""
    parts = []
    radius = size / 2
    for row in range(rows):
        dy = (row + 0.5) * size / rows - radius
        half = int((radius * radius - dy * dy) ** 0.5)
        top = y + row * size // rows
        parts.append(Rect(x + int(radius) - half, top, max(1, 2 * half), max(1, size // rows)))
    return tuple(parts)


def stack(count: int, excluded: int, seed: int) -> list[Window]:
    """A desktop of ``count`` application windows (the first ``excluded`` of class
    "Secret"), bottom to top, a shaped window and a panel on top."""
    rng = random.Random(seed)
    windows = []
    for index in range(count):
        width, height = rng.randint(400, 1400), rng.randint(300, 900)
        x, y = rng.randint(-50, WIDTH - width + 50), rng.randint(32, HEIGHT - height + 40)
        cls = "Secret" if index < excluded else rng.choice(CLASSES)
        windows.append(Window(index + 1, Rect(x, y, width, height), (cls.lower(), cls),
                              f"{cls} window {index}"))  # fmt: skip
    rng.shuffle(windows)  # the excluded ones anywhere in the stack
    eyes = Rect(1500, 600, 200, 220)
    windows.append(Window(900, eyes, ("xeyes", "XEyes"), "xeyes",
                          shape=eyes_shape(eyes.x, eyes.y + 20, 200)))  # fmt: skip
    windows.append(Window(901, Rect(0, 0, WIDTH, 32), ("panel", "Panel"), "panel",
                          WindowKind.DOCK, strut=True))  # fmt: skip
    return windows


def masked_pixels(mask: Mask) -> int:
    return sum(rect.area for rect in mask.rects)


def pure(quick: bool) -> Section:
    section = Section("privacy: the mask of a 1920x1080 frame (pure computation)")
    repeats = 5 if quick else 25
    frame = np.zeros((HEIGHT, WIDTH, 4), np.uint8)
    cases = [
        ("12 windows, 2 excluded", stack(12, 2, 1), PrivacySettings(excluded=("Secret",))),
        ("40 windows, 4 excluded", stack(40, 4, 2), PrivacySettings(excluded=("Secret",))),
        ("12 windows, desktop hidden", stack(12, 0, 3), PrivacySettings(hide_desktop=True)),
        ("12 windows, one application only", stack(12, 1, 4), PrivacySettings(only="Secret")),
    ]
    for name, windows, settings in cases:

        def compute(windows: list[Window] = windows, settings: PrivacySettings = settings) -> int:
            for _ in range(10):
                compute_mask(windows, settings, WIDTH, HEIGHT)
            return 10

        mask = compute_mask(windows, settings, WIDTH, HEIGHT)

        def paint(mask: Mask = mask) -> int:
            for _ in range(10):
                mask.paint(frame)
            return 10

        computing = median_seconds(compute, repeats)
        painting = median_seconds(paint, repeats)
        share = masked_pixels(mask) / (WIDTH * HEIGHT)
        section.rows += [
            Row(f"{name}: compute the mask", format_seconds(computing),
                f"{len(mask.pieces)} rectangles"),
            Row(f"{name}: paint it", format_seconds(painting), f"{share:.0%} of the frame"),
            Row(f"{name}: both", format_seconds(computing + painting),
                f"{(computing + painting) / FRAME_BUDGET:.1%} of a 30 fps frame"),
        ]  # fmt: skip
    windows, settings = cases[0][1], cases[0][2]
    masks = PrivacyFilter()
    layout = tuple(windows)

    def cached() -> int:
        for index in range(1000):
            masks.frame(layout, settings, WIDTH, HEIGHT, now=float(index))
        return 1000

    section.rows.append(
        Row(
            "nothing moved (the mask cached): per frame",
            format_seconds(median_seconds(cached, repeats)),
        )
    )
    section.notes.append(
        "windows placed by a seeded RNG; a panel on top and a round window of 120 "
        "rectangles in every stack; painting writes one uint32 a masked pixel"
    )
    return section


@contextmanager
def desktop(windows: int) -> Iterator[tuple[Xvfb, Any, list[Any]]]:
    """Xvfb 1920x1080 with openbox managing ``windows`` application windows."""
    from Xlib import X, Xutil  # noqa: PLC0415
    from Xlib import display as xdisplay  # noqa: PLC0415

    with Xvfb(WIDTH, HEIGHT, 24) as server:
        manager = subprocess.Popen(
            ["openbox", "--sm-disable"], env=server.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        x = xdisplay.Display(server.display)
        try:
            screen = x.screen()
            probe = screen.root.create_window(0, 0, 10, 10, 0, screen.root_depth)
            deadline = time.monotonic() + 20
            while probe.get_attributes().map_state != X.IsViewable:  # openbox takes maps
                assert time.monotonic() < deadline, "openbox never mapped a window"
                probe.map()
                x.sync()
                time.sleep(0.2)
            probe.destroy()
            rng = random.Random(7)
            created = []
            for index in range(windows):
                width, height = rng.randint(400, 1200), rng.randint(300, 800)
                left, top = rng.randint(0, WIDTH - width), rng.randint(0, HEIGHT - height)
                window = screen.root.create_window(
                    left, top, width, height, 0, screen.root_depth, X.InputOutput,
                    X.CopyFromParent, background_pixel=rng.randrange(1 << 24),
                )  # fmt: skip
                cls = "Secret" if index == windows - 1 else rng.choice(CLASSES)  # on top
                window.set_wm_class(cls.lower(), cls)
                window.set_wm_name(f"{cls} {index}")
                window.set_wm_normal_hints(flags=Xutil.USPosition | Xutil.USSize)
                window.map()
                created.append(window)
            x.sync()
            while not all(w.get_attributes().map_state == X.IsViewable for w in created):
                assert time.monotonic() < deadline + 20, "openbox did not map the windows"
                time.sleep(0.05)
            time.sleep(0.5)
            yield server, x, created
        finally:
            x.close()
            manager.terminate()
            manager.wait(10)


def live(quick: bool) -> Section:
    section = Section("privacy: per frame on Xvfb 1920x1080 with openbox, 12 windows")
    repeats = 5 if quick else 20
    settings = PrivacySettings(excluded=("Secret",))
    with desktop(12) as (server, x, windows), WindowWatch(server.display) as watch:
        watch.current()

        def steady() -> int:
            for _ in range(50):
                watch.current()
            return 50

        step = [0]

        def moved() -> int:
            for _ in range(10):
                step[0] += 1
                windows[-1].configure(x=100 + step[0] % 400, y=100)
                x.sync()
                time.sleep(0.002)  # the window manager moves the frame
                watch.current()
            return 10

        reading = median_seconds(steady, repeats)
        after_move = median_seconds(moved, repeats) - 0.002
        presenter = Presenter(cast(Any, None), lambda: ScreenCapture(server.display),
                              display=server.display)  # fmt: skip
        loop = asyncio.new_event_loop()
        with ScreenCapture(server.display) as capture:

            async def grabs(count: int) -> None:  # as the presenter grabs: on a thread
                for _ in range(count):
                    await asyncio.to_thread(capture.grab)

            async def masked_grabs(count: int) -> None:
                for _ in range(count):
                    await presenter.masked_grab(capture, settings)

            def grab() -> int:
                loop.run_until_complete(grabs(5))
                return 5

            def masked() -> int:
                loop.run_until_complete(masked_grabs(5))
                return 5

            capturing = median_seconds(grab, repeats)
            masking = median_seconds(masked, repeats)
        loop.close()
        if presenter.windows is not None:
            presenter.windows.close()
        mask = presenter.filter.frame(watch.current().windows, settings, WIDTH, HEIGHT, 0.0)
    section.rows += [
        Row("windows read, nothing moved (one round trip)", format_seconds(reading)),
        Row("windows read after a window moved", format_seconds(after_move)),
        Row("capture alone (mss, XShm, on a thread)", format_seconds(capturing)),
        Row("masked grab (windows, capture, windows, mask, paint)", format_seconds(masking),
            f"+{format_seconds(max(0.0, masking - capturing))} a frame"),
    ]  # fmt: skip
    section.notes.append(
        f"the excluded window's mask: {len(mask.pieces)} rectangles, "
        f"{masked_pixels(mask) / (WIDTH * HEIGHT):.0%} of the frame; both grabs run as the "
        "presenter runs them, from an event loop with the capture on a thread"
    )
    return section


def run(quick: bool) -> list[Section]:
    sections = [pure(quick)]
    skipped = skipped_without("privacy: per frame on Xvfb with openbox", "Xvfb", "openbox")
    sections += skipped or [live(quick)]
    return sections


def main(argv: list[str] | None = None) -> int:
    return standalone(TITLE, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
