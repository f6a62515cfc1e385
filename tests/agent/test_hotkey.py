"""RevokeHotkey on a real X server: Ctrl+F12 calls back, and no application sees it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from agent_helpers import Recorder, held_state
from Xlib import XK, X

from relaydesk.agent.hotkey import HOTKEY_KEYSYM, RevokeHotkey
from relaydesk.agent.inject import NEVER_HELD_KEYSYMS, InputInjector
from relaydesk.errors import InputError
from relaydesk.protocol.messages import InputEvent, InputKind, Modifier
from relaydesk.screen.xvfb import Xvfb

TIMEOUT = 10.0


class Presses:
    """An ``on_press`` that counts its calls and lets a test wait for them."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = threading.Condition()

    def __call__(self) -> None:
        with self._changed:
            self.count += 1
            self._changed.notify_all()

    def wait_for(self, count: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self.count >= count, TIMEOUT), self.count


@pytest.fixture
def presses() -> Presses:
    return Presses()


@pytest.fixture
def hotkey(xvfb: Xvfb, presses: Presses) -> Iterator[RevokeHotkey]:
    with RevokeHotkey(xvfb.display, presses) as grabbed:
        yield grabbed


def f12_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event for event in events if event.get("keysym") == XK.XK_F12]


def test_ctrl_f12_calls_back_and_is_not_delivered(
    hotkey: RevokeHotkey, presses: Presses, recorder: Recorder, xdotool: Any
) -> None:
    xdotool("key", "ctrl+F12")
    presses.wait_for(1)
    # xdotool ends with XCloseDisplay, which waits until the server processed its input.
    events = recorder.events()
    assert f12_events(events) == []  # the grab took the press, and the releases after it
    assert [(e["type"], e["keysym"]) for e in events] == [("key_press", XK.XK_Control_L)]
    xdotool("key", "ctrl+F12")
    presses.wait_for(2)


@pytest.mark.parametrize(("lock", "mask"), [("Num_Lock", X.Mod2Mask), ("Caps_Lock", X.LockMask)])
def test_whatever_the_lock_state(
    hotkey: RevokeHotkey,
    presses: Presses,
    recorder: Recorder,
    xdotool: Any,
    x: Any,
    lock: str,
    mask: int,
) -> None:
    xdotool("key", lock)
    try:
        assert held_state(x)[1] & mask
        xdotool("key", "ctrl+F12")
        presses.wait_for(1)
        assert f12_events(recorder.events()) == []
    finally:
        xdotool("key", lock)
    assert not held_state(x)[1] & mask


def test_with_both_locks_on(hotkey: RevokeHotkey, presses: Presses, xdotool: Any, x: Any) -> None:
    xdotool("key", "Num_Lock", "Caps_Lock")
    try:
        assert held_state(x)[1] & (X.Mod2Mask | X.LockMask) == X.Mod2Mask | X.LockMask
        xdotool("key", "ctrl+F12")
        presses.wait_for(1)
    finally:
        xdotool("key", "Num_Lock", "Caps_Lock")


def test_other_combinations_reach_the_application(
    hotkey: RevokeHotkey, presses: Presses, recorder: Recorder, xdotool: Any
) -> None:
    xdotool("key", "F12", "shift+F12", "ctrl+shift+F12", "ctrl+F11")
    events = recorder.events()
    assert len([e for e in f12_events(events) if e["type"] == "key_press"]) == 3
    assert presses.count == 0


def test_close_is_prompt_and_gives_the_grab_up(
    xvfb: Xvfb, presses: Presses, recorder: Recorder, xdotool: Any
) -> None:
    first = RevokeHotkey(xvfb.display, presses)
    assert first.running
    started = time.monotonic()
    first.close()
    assert time.monotonic() - started < 0.5
    assert not first.running
    first.close()  # again: harmless
    xdotool("key", "ctrl+F12")
    assert len(f12_events(recorder.events())) == 2  # no grab any more
    again = Presses()
    with RevokeHotkey(xvfb.display, again):
        xdotool("key", "ctrl+F12")
        again.wait_for(1)
    assert presses.count == 0


def test_a_second_grab_is_refused(hotkey: RevokeHotkey, xvfb: Xvfb) -> None:
    with pytest.raises(InputError, match="another program has taken Ctrl\\+F12"):
        RevokeHotkey(xvfb.display, lambda: None)
    assert hotkey.running


def test_injected_ctrl_f12_revokes_too(
    hotkey: RevokeHotkey, presses: Presses, injector: InputInjector
) -> None:
    """A controller pressing Ctrl+F12 revokes their own control: harmless, and kept."""
    control = Modifier.CONTROL
    injector.inject(InputEvent(InputKind.KEY, keysym=XK.XK_F12, pressed=True, modifiers=control))
    injector.inject(InputEvent(InputKind.KEY, keysym=XK.XK_F12, pressed=False))
    presses.wait_for(1)


def test_a_failing_callback_does_not_stop_the_hotkey(
    xvfb: Xvfb, xdotool: Any, caplog: pytest.LogCaptureFixture
) -> None:
    presses = Presses()

    def on_press() -> None:
        presses()
        raise RuntimeError("boom")

    with RevokeHotkey(xvfb.display, on_press) as grabbed:
        xdotool("key", "ctrl+F12")
        presses.wait_for(1)
        xdotool("key", "ctrl+F12")
        presses.wait_for(2)
        assert grabbed.running
    assert "on_press failed" in caplog.text


# python-xlib leaves the sockets of a failed connection for the garbage collector.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_display_that_cannot_be_opened() -> None:
    with pytest.raises(InputError, match="cannot open the X display"):
        RevokeHotkey(":9999", lambda: None)


def test_a_controller_cannot_hold_the_hotkeys_key_down(
    hotkey: RevokeHotkey,
    presses: Presses,
    injector: InputInjector,
    recorder: Recorder,
    xdotool: Any,
) -> None:
    assert HOTKEY_KEYSYM in NEVER_HELD_KEYSYMS
    injector.inject(InputEvent(InputKind.KEY, keysym=XK.XK_F12, pressed=True))
    assert injector.held() == (frozenset(), frozenset())
    assert [e["type"] for e in f12_events(recorder.events())] == ["key_press", "key_release"]
    injector.inject(InputEvent(InputKind.KEY, keysym=XK.XK_F12, pressed=False))  # ignored
    xdotool("key", "ctrl+F12")
    presses.wait_for(1)


def test_holding_the_keys_down_calls_back_once(
    hotkey: RevokeHotkey, presses: Presses, xdotool: Any, recorder: Recorder
) -> None:
    xdotool("keydown", "ctrl+F12")
    try:
        presses.wait_for(1)
        time.sleep(1.0)  # X autorepeat starts after 660 ms, then 25 times a second
    finally:
        xdotool("keyup", "ctrl+F12")
    assert presses.count == 1
    assert f12_events(recorder.events()) == []
