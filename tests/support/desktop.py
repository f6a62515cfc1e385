"""A desktop for the privacy tests: Xvfb with a real EWMH window manager (Debian's
openbox), and real X client windows on it that the window manager frames, places,
stacks and focuses.

``Desktop.app(...)`` opens a managed window with a WM_CLASS, a title and one colour
(the X server paints it: a marker no other window shows), optionally a dock (EWMH
``_NET_WM_WINDOW_TYPE_DOCK`` with ``_NET_WM_STRUT_PARTIAL``) or a dialog of another
(WM_TRANSIENT_FOR). Each window is its own X connection, as separate applications are.
Windows are moved and raised the way applications and users do it: through the window
manager (``xdotool``, EWMH requests), never by writing relaydesk's view of them.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from Xlib import X, Xatom, Xutil
from Xlib import display as xdisplay

from relaydesk.screen.picture import Rect
from relaydesk.screen.xvfb import Xvfb

TIMEOUT = 20.0
WINDOW_MANAGER = "openbox"


def require_desktop() -> str | None:
    """What is missing for these tests, or None."""
    missing = [tool for tool in ("Xvfb", WINDOW_MANAGER, "xdotool") if not shutil.which(tool)]
    return f"not installed: {', '.join(missing)}" if missing else None


def wait_until(condition: Any, what: str, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.02)
    return result


class AppWindow:
    """One application's window: its own X connection, a colour, a class and a title."""

    def __init__(
        self,
        desktop: Desktop,
        wm_class: tuple[str, str],
        title: str,
        rect: Rect,
        rgb: int,
        *,
        dock: bool = False,
        transient_for: AppWindow | None = None,
    ) -> None:
        self.desktop = desktop
        self.rgb = rgb
        self.x = xdisplay.Display(desktop.display)
        screen = self.x.screen()
        self.window = screen.root.create_window(
            rect.x, rect.y, rect.width, rect.height, 0, screen.root_depth, X.InputOutput,
            X.CopyFromParent, background_pixel=rgb, event_mask=X.StructureNotifyMask,
        )  # fmt: skip
        self.window.set_wm_class(*wm_class)
        self.window.set_wm_name(title)
        utf8 = self.x.intern_atom("UTF8_STRING")
        self.window.change_property(
            self.x.intern_atom("_NET_WM_NAME"), utf8, 8, title.encode("utf-8")
        )
        # USPosition: the window manager puts it where asked, not where it would choose.
        self.window.set_wm_normal_hints(flags=Xutil.USPosition | Xutil.USSize)
        if dock:
            self.window.change_property(
                self.x.intern_atom("_NET_WM_WINDOW_TYPE"), Xatom.ATOM, 32,
                [self.x.intern_atom("_NET_WM_WINDOW_TYPE_DOCK")],
            )  # fmt: skip
            top = rect.y + rect.height if rect.y == 0 else 0
            strut = [0, 0, top, 0, 0, 0, 0, 0, rect.x, rect.x + rect.width - 1, 0, 0]
            self.window.change_property(
                self.x.intern_atom("_NET_WM_STRUT_PARTIAL"), Xatom.CARDINAL, 32, strut
            )
        if transient_for is not None:
            self.window.set_wm_transient_for(transient_for.window)
        self.window.map()
        self.x.sync()
        wait_until(self.viewable, f"the window manager maps {title!r}")

    @property
    def id(self) -> int:
        return int(self.window.id)

    def viewable(self) -> bool:
        return bool(self.window.get_attributes().map_state == X.IsViewable)

    def frame(self) -> Rect:
        """Where it is on the screen, the window manager's frame included (what the
        root window's child covers), read with plain X requests."""
        window = self.window
        while True:
            parent = window.query_tree().parent
            if parent.id == self.x.screen().root.id:
                break
            window = parent
        geometry = window.get_geometry()
        border = 2 * geometry.border_width
        return Rect(geometry.x, geometry.y, geometry.width + border, geometry.height + border)

    def inside(self) -> Rect:
        """The client area alone (where its colour is), on the screen."""
        origin = self.x.screen().root.translate_coords(self.window, 0, 0)
        geometry = self.window.get_geometry()
        return Rect(origin.x, origin.y, geometry.width, geometry.height)

    def move(self, x: int, y: int) -> None:
        """Move it as its user would: the window manager moves the frame."""
        self.desktop.xdotool("windowmove", str(self.id), str(x), str(y))

    def activate(self) -> None:
        """Raise it and give it the keyboard focus (an EWMH _NET_ACTIVE_WINDOW request)."""
        self.desktop.xdotool("windowactivate", "--sync", str(self.id))

    def lower(self) -> None:
        """Below every other window: asked of the window manager, as applications do."""
        self.window.configure(stack_mode=X.Below)
        self.x.sync()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.window.destroy()
            self.x.sync()
        with contextlib.suppress(Exception):
            self.x.close()


class Desktop:
    """Xvfb running openbox; windows opened on it are closed with it."""

    def __init__(self, width: int, height: int) -> None:
        self.server = Xvfb(width, height, 24)
        self.server.start()
        self.width, self.height = width, height
        self.display = self.server.display
        self.env = self.server.env
        self.apps: list[AppWindow] = []
        self.processes: list[subprocess.Popen[bytes]] = []
        self._x = xdisplay.Display(self.display)
        self._wm = subprocess.Popen(
            [WINDOW_MANAGER, "--sm-disable"], env=self.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            check = self._x.intern_atom("_NET_SUPPORTING_WM_CHECK")
            root = self._x.screen().root
            wait_until(
                lambda: root.get_full_property(check, Xatom.WINDOW) is not None,
                "openbox manages the screen",
            )
            self._wait_until_managing()
        except BaseException:
            self.close()
            raise

    def _wait_until_managing(self) -> None:
        """openbox announces itself before it takes map requests: a window mapped in
        between is never mapped. A probe window is mapped until openbox frames it."""
        screen = self._x.screen()
        probe = screen.root.create_window(0, 0, 10, 10, 0, screen.root_depth)
        deadline = time.monotonic() + TIMEOUT
        try:
            while probe.get_attributes().map_state != X.IsViewable:
                if time.monotonic() > deadline:
                    raise AssertionError("openbox never mapped a window")
                probe.map()
                self._x.sync()
                time.sleep(0.2)
        finally:
            probe.destroy()
            self._x.sync()

    def app(
        self,
        wm_class: tuple[str, str],
        title: str,
        rect: Rect,
        rgb: int,
        *,
        dock: bool = False,
        transient_for: AppWindow | None = None,
    ) -> AppWindow:
        window = AppWindow(self, wm_class, title, rect, rgb, dock=dock,
                           transient_for=transient_for)  # fmt: skip
        self.apps.append(window)
        return window

    def run(self, *command: str) -> subprocess.Popen[bytes]:
        """A real X client (xeyes, xclock, xterm), ended with the desktop."""
        process = subprocess.Popen(
            command, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self.processes.append(process)
        return process

    def xdotool(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], env=self.env, check=True, timeout=10)

    def background(self, rgb: int) -> None:
        """The wallpaper: one colour on the root window."""
        subprocess.run(["xsetroot", "-solid", f"#{rgb:06x}"], env=self.env, check=True,
                       timeout=10)  # fmt: skip

    def grab(self) -> np.ndarray:
        """The screen now, (height, width, 3) RGB, with a plain X GetImage."""
        root = self._x.screen().root
        image = root.get_image(0, 0, self.width, self.height, X.ZPixmap, 0xFFFFFFFF)
        pixels = np.frombuffer(image.data, np.uint8).reshape(self.height, self.width, 4)
        return np.ascontiguousarray(pixels[:, :, 2::-1])

    def close_apps(self) -> None:
        for app in self.apps:
            app.close()
        self.apps.clear()
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        self.processes.clear()

    def close(self) -> None:
        try:
            self.close_apps()
            with contextlib.suppress(Exception):
                self._x.close()
        finally:
            self._wm.terminate()
            try:
                self._wm.wait(10)
            except subprocess.TimeoutExpired:
                self._wm.kill()
                self._wm.wait(10)
            self.server.close()


def has_colour(picture: np.ndarray, rgb: int) -> int:
    """How many pixels of an RGB (height, width, 3) picture are exactly ``rgb``."""
    wanted = np.array([rgb >> 16, (rgb >> 8) & 0xFF, rgb & 0xFF], np.uint8)
    return int(np.all(picture == wanted, axis=2).sum())


@contextlib.contextmanager
def started_desktop(width: int, height: int, wallpaper: int) -> Iterator[Desktop]:
    """A Desktop with a plain wallpaper, closed at the end; the test is skipped when
    the tools it needs are not installed."""
    missing = require_desktop()
    if missing:
        pytest.skip(missing)
    screen = Desktop(width, height)
    try:
        screen.background(wallpaper)
        yield screen
    finally:
        screen.close()


@contextlib.contextmanager
def closing_apps(desktop: Desktop) -> Iterator[Desktop]:
    """The desktop, with every application window a test opened closed afterwards."""
    try:
        yield desktop
    finally:
        desktop.close_apps()
