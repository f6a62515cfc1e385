"""The presenter's revoke hotkey: Ctrl+F12, grabbed on the whole X display.

``RevokeHotkey`` takes a passive grab of Ctrl+F12 on the root window (XGrabKey), also
with Num Lock and Caps Lock on, so that it works whatever the lock state, and calls
``on_press`` from a background thread that reads its own X connection. The key press
never reaches the focused application, and no other program can take Ctrl+F12 while we
hold it (if one already does, ``InputError`` says so at start).

``on_press`` runs on that thread: it must be quick and thread-safe (for asyncio,
``loop.call_soon_threadsafe``), and it may be called again for another press. Holding
the keys down does not call it again: X autorepeat is recognised (a release and a press
with the same timestamp) and ignored.

The grab sees every Ctrl+F12 the X server processes, XTEST-injected ones included, so a
controller who sends Ctrl+F12 revokes their own control. That is harmless (it only takes
away what the presenter granted) and we keep it: the hotkey must fire however the keys
arrive. Two limits, for the caller to know:

* A passive grab cannot fire while another client holds an active grab of the keyboard
  (an open menu, a screen locker). The presenter's UI command is the other way to revoke.
* A key held down is not pressed again: while F12 is held down through XTEST, another
  Ctrl+F12 through XTEST does not start the grab (a held Control does no harm). That
  is why ``InputInjector`` never holds F12 down for a controller (``NEVER_HELD_KEYSYMS``).
"""

from __future__ import annotations

import itertools
import logging
import os
import select
import threading
from collections.abc import Callable
from typing import Any

from Xlib import XK, X
from Xlib import error as xerror

from relaydesk.agent.inject import open_display
from relaydesk.closing import Closing
from relaydesk.errors import InputError

log = logging.getLogger(__name__)

HOTKEY_KEYSYM = XK.XK_F12
HOTKEY_MODIFIERS = X.ControlMask
HOTKEY_NAME = "Ctrl+F12"
POLL_SECONDS = 1.0  # the thread wakes this often even when nothing happens
STOP_TIMEOUT_SECONDS = 2.0  # close() waits this long for the thread (on_press may block)


class RevokeHotkey(Closing):
    """Calls ``on_press`` whenever Ctrl+F12 is pressed on the X display ``display``."""

    def __init__(self, display: str | None, on_press: Callable[[], None]) -> None:
        self.on_press = on_press
        self._closed = False
        self._stopping = threading.Event()
        self._last_release = -1  # X timestamp of the last release: autorepeat detection
        self._x = open_display(display)
        self._grabs: list[tuple[int, int]] = []  # (keycode, modifiers)
        self._wake_read, self._wake_write = -1, -1
        try:
            self._root = self._x.screen().root
            self._grab()
            self._wake_read, self._wake_write = os.pipe()
        except xerror.ConnectionClosedError as error:
            self._cleanup()
            raise InputError(f"the X display closed the connection: {error}") from None
        except BaseException:
            self._cleanup()
            raise
        self._thread = threading.Thread(target=self._run, name="revoke-hotkey", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread (promptly) and give the grab up; harmless when closed."""
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        os.write(self._wake_write, b"x")
        if threading.current_thread() is not self._thread:
            self._thread.join(STOP_TIMEOUT_SECONDS)
        if self._thread.is_alive():
            log.warning("the revoke hotkey's thread did not stop in time (on_press blocks?)")
        self._cleanup()

    @property
    def running(self) -> bool:
        """True while the thread listens (false after close, or if the display went away)."""
        return self._thread.is_alive()

    # -----------------------------------------------------------------------------------

    def _grab(self) -> None:
        keycodes = sorted(
            {int(code) for code, level in self._x.keysym_to_keycodes(HOTKEY_KEYSYM) if level == 0}
        )
        if not keycodes:
            raise InputError(f"no key gives F12 on this X display: {HOTKEY_NAME} cannot work")
        locks = [X.LockMask, *self._num_lock_masks()]
        combinations = [
            HOTKEY_MODIFIERS | sum(chosen)
            for count in range(len(locks) + 1)
            for chosen in itertools.combinations(locks, count)
        ]
        refused = xerror.CatchError(xerror.BadAccess)
        for keycode in keycodes:
            for modifiers in combinations:
                self._root.grab_key(
                    keycode, modifiers, False, X.GrabModeAsync, X.GrabModeAsync, onerror=refused
                )
                self._grabs.append((keycode, modifiers))
        self._x.sync()
        if refused.get_error() is not None:
            raise InputError(
                f"another program has taken {HOTKEY_NAME} on this X display; the revoke "
                "hotkey needs it (close that program, or free the key in its settings)"
            )

    def _num_lock_masks(self) -> list[int]:
        """The modifier masks of Num Lock (Mod2 on most keyboards), from the modifier map."""
        keycodes = {int(code) for code, _ in self._x.keysym_to_keycodes(XK.XK_Num_Lock)}
        masks = []
        for bit, row in enumerate(self._x.get_modifier_mapping()):
            if keycodes & {int(code) for code in row}:
                masks.append(1 << bit)
        return masks or [X.Mod2Mask]

    def _run(self) -> None:
        try:
            fd = self._x.fileno()
            while not self._stopping.is_set():
                while self._x.pending_events() and not self._stopping.is_set():
                    self._handle(self._x.next_event())
                if not self._stopping.is_set():
                    select.select([fd, self._wake_read], [], [], POLL_SECONDS)
        except (xerror.ConnectionClosedError, xerror.XError, OSError, ValueError) as error:
            if not self._stopping.is_set():
                log.error("the revoke hotkey stopped: the X display failed (%s)", error)

    def _handle(self, event: Any) -> None:
        if event.type == X.KeyRelease:
            self._last_release = int(event.time)
        elif event.type == X.KeyPress:
            if int(event.time) == self._last_release:
                return  # autorepeat of a key held down
            try:
                self.on_press()
            except Exception:
                log.exception("the revoke hotkey's on_press failed")

    def _cleanup(self) -> None:
        try:
            for keycode, modifiers in self._grabs:
                self._root.ungrab_key(keycode, modifiers)
            self._grabs.clear()
            self._x.sync()
        except (xerror.ConnectionClosedError, xerror.XError, OSError):
            pass
        finally:
            self._x.close()
            for fd in (self._wake_read, self._wake_write):
                if fd != -1:
                    os.close(fd)
            self._wake_read = self._wake_write = -1
