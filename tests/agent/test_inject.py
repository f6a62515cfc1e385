"""InputInjector on a real X server: what a real X client receives is what was sent."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_helpers import LEFT, TOP, Recorder, held_state, keys_of
from Xlib import XK, X
from Xlib.protocol import event as xevent

from relaydesk.agent.inject import InputInjector, keysym_for_character
from relaydesk.errors import InputError
from relaydesk.protocol.messages import InputEvent, InputKind, Modifier
from relaydesk.screen.xvfb import Xvfb


def move(x: int, y: int) -> InputEvent:
    return InputEvent(InputKind.POINTER_MOVE, x=x, y=y)


def button(number: int, pressed: bool, x: int, y: int, modifiers: int = 0) -> InputEvent:
    return InputEvent(
        InputKind.BUTTON, x=x, y=y, button=number, pressed=pressed, modifiers=modifiers
    )


def key(keysym: int, pressed: bool, modifiers: int = 0) -> InputEvent:
    return InputEvent(InputKind.KEY, keysym=keysym, pressed=pressed, modifiers=modifiers)


def text(value: str) -> InputEvent:
    return InputEvent(InputKind.TEXT, text=value)


def of_type(events: list[dict[str, Any]], *types: str) -> list[dict[str, Any]]:
    return [event for event in events if event["type"] in types]


def test_pointer_move_arrives_at_its_position(injector: InputInjector, recorder: Recorder) -> None:
    injector.inject(move(100, 200))
    injector.inject(move(300, 50))
    motions = of_type(recorder.events(), "motion")
    assert [(m["root_x"], m["root_y"]) for m in motions] == [(100, 200), (300, 50)]
    assert (motions[-1]["x"], motions[-1]["y"]) == (300 - LEFT, 50 - TOP)


def test_clicks_of_buttons_1_and_3(injector: InputInjector, recorder: Recorder) -> None:
    injector.inject(button(1, True, 120, 130))
    injector.inject(button(1, False, 120, 130))
    injector.inject(button(3, True, 500, 400))
    injector.inject(button(3, False, 500, 400))
    clicks = of_type(recorder.events(), "button_press", "button_release")
    assert [(c["type"], c["detail"], c["root_x"], c["root_y"]) for c in clicks] == [
        ("button_press", 1, 120, 130),
        ("button_release", 1, 120, 130),
        ("button_press", 3, 500, 400),
        ("button_release", 3, 500, 400),
    ]
    assert (clicks[0]["x"], clicks[0]["y"]) == (120 - LEFT, 130 - TOP)
    assert clicks[1]["state"] & X.Button1Mask  # the release comes with the button down
    assert clicks[3]["state"] & X.Button3Mask


def test_drag_holds_the_button_between_events(
    injector: InputInjector, recorder: Recorder, x: Any
) -> None:
    injector.inject(button(1, True, 100, 100))
    injector.inject(move(200, 150))
    assert held_state(x)[1] & X.Button1Mask
    injector.inject(button(1, False, 200, 150))
    events = recorder.events()
    assert of_type(events, "motion")[-1]["state"] & X.Button1Mask
    assert of_type(events, "button_release")[0]["root_x"] == 200


def test_control_click(injector: InputInjector, recorder: Recorder) -> None:
    injector.inject(button(1, True, 300, 300, Modifier.CONTROL))
    injector.inject(button(1, False, 300, 300, Modifier.CONTROL))
    events = recorder.events()
    press, release = of_type(events, "button_press", "button_release")
    assert press["state"] & X.ControlMask
    assert release["state"] & X.ControlMask
    assert events[-1]["type"] == "key_release"  # Control let go after the click
    assert events[-1]["keysym"] == XK.XK_Control_L


@pytest.mark.parametrize(
    ("dx", "dy", "expected"),
    [(0, 3, [5, 5, 5]), (0, -2, [4, 4]), (1, 0, [7]), (-1, 0, [6]), (-1, 1, [5, 6])],
)
def test_wheel_steps_are_button_clicks(
    injector: InputInjector, recorder: Recorder, dx: int, dy: int, expected: list[int]
) -> None:
    injector.inject(InputEvent(InputKind.WHEEL, x=250, y=260, dx=dx, dy=dy))
    events = of_type(recorder.events(), "button_press", "button_release")
    assert [e["detail"] for e in events if e["type"] == "button_press"] == expected
    assert [e["detail"] for e in events if e["type"] == "button_release"] == expected
    assert {(e["root_x"], e["root_y"]) for e in events} == {(250, 260)}


def test_key_with_control_arrives_with_control_mask(
    injector: InputInjector, recorder: Recorder
) -> None:
    injector.inject(key(XK.XK_c, True, Modifier.CONTROL))
    injector.inject(key(XK.XK_c, False, Modifier.CONTROL))
    keys = of_type(recorder.events(), "key_press", "key_release")
    c_press, c_release = (event for event in keys if event["keysym"] == XK.XK_c)
    assert c_press["state"] & X.ControlMask
    assert not c_press["state"] & X.ShiftMask
    assert c_release["state"] & X.ControlMask
    assert [(e["type"], e["keysym"]) for e in keys] == [
        ("key_press", XK.XK_Control_L),
        ("key_press", XK.XK_c),
        ("key_release", XK.XK_Control_L),
        ("key_press", XK.XK_Control_L),
        ("key_release", XK.XK_c),
        ("key_release", XK.XK_Control_L),
    ]


@pytest.mark.parametrize(
    ("modifier", "mask"),
    [(Modifier.SHIFT, X.ShiftMask), (Modifier.ALT, X.Mod1Mask), (Modifier.META, X.Mod4Mask)],
)
def test_each_modifier_gives_its_mask(
    injector: InputInjector, recorder: Recorder, modifier: Modifier, mask: int
) -> None:
    injector.inject(key(XK.XK_F5, True, modifier))
    injector.inject(key(XK.XK_F5, False))
    press = next(e for e in keys_events(recorder) if e["keysym"] == XK.XK_F5)
    assert press["state"] & mask


def keys_events(recorder: Recorder) -> list[dict[str, Any]]:
    return of_type(recorder.events(), "key_press")


def test_a_shifted_keysym_is_typed_with_shift(injector: InputInjector, recorder: Recorder) -> None:
    injector.inject(key(XK.XK_exclam, True))
    injector.inject(key(XK.XK_exclam, False))
    presses = keys_events(recorder)
    assert keys_of(presses) == [XK.XK_Shift_L, XK.XK_exclam]
    assert presses[-1]["state"] & X.ShiftMask


def test_holding_a_modifier_key_itself(injector: InputInjector, recorder: Recorder, x: Any) -> None:
    """A browser sends Shift's own keydown with shiftKey set: one press, held."""
    shift = x.keysym_to_keycode(XK.XK_Shift_L)
    injector.inject(key(XK.XK_Shift_L, True, Modifier.SHIFT))
    assert held_state(x)[0] == [shift]
    injector.inject(key(XK.XK_a, True, Modifier.SHIFT))
    injector.inject(key(XK.XK_a, False, Modifier.SHIFT))
    injector.inject(key(XK.XK_Shift_L, False))
    events = of_type(recorder.events(), "key_press", "key_release")
    assert [(e["type"], e["keysym"]) for e in events] == [
        ("key_press", XK.XK_Shift_L),
        ("key_press", XK.XK_A),
        ("key_release", XK.XK_A),
        ("key_release", XK.XK_Shift_L),
    ]


def test_typed_text_arrives_exactly(injector: InputInjector, recorder: Recorder) -> None:
    typed = "Hello, World! äß"
    injector.inject(text(typed))
    events = recorder.events()
    modifiers = {XK.XK_Shift_L, XK.XK_Shift_R}
    presses = [k for k in keys_of(events) if k not in modifiers]
    assert presses == [keysym_for_character(c) for c in typed]
    releases = [k for k in keys_of(events, "key_release") if k not in modifiers]
    assert releases == presses
    shifted = {e["keysym"] for e in of_type(events, "key_press") if e["state"] & X.ShiftMask}
    assert shifted == {XK.XK_H, XK.XK_W, XK.XK_exclam}


def test_text_with_newline_tab_and_far_away_characters(
    injector: InputInjector, recorder: Recorder
) -> None:
    typed = "a\tb\r\nЖ€😀"
    injector.inject(text(typed))
    presses = [k for k in keys_of(recorder.events()) if k != XK.XK_Shift_L]
    assert presses == [
        XK.XK_a, XK.XK_Tab, XK.XK_b, XK.XK_Return, 0x01000416, 0x010020AC, 0x0101F600
    ]  # fmt: skip


def test_typing_again_reuses_the_remapped_keycode(
    injector: InputInjector, recorder: Recorder, x: Any
) -> None:
    injector.inject(text("ä"))
    injector.inject(text("äÄ"))
    events = of_type(recorder.events(), "key_press")
    assert keys_of(events) == [0xE4, 0xE4, 0xC4]
    assert events[0]["detail"] == events[1]["detail"] != events[2]["detail"]


def test_many_remapped_characters(injector: InputInjector, recorder: Recorder) -> None:
    """More distinct characters than spare keycodes: keycodes are reused, still exact."""
    typed = "".join(chr(0x0410 + i) for i in range(32)) * 2  # 32 Cyrillic capitals, twice
    injector.inject(text(typed))
    assert keys_of(recorder.events()) == [keysym_for_character(c) for c in typed]


def test_text_while_the_controller_holds_shift(
    injector: InputInjector, recorder: Recorder, x: Any
) -> None:
    injector.inject(key(XK.XK_Shift_L, True))
    injector.inject(text("a1"))
    assert held_state(x)[0] == [x.keysym_to_keycode(XK.XK_Shift_L)]  # held again after
    events = recorder.events()
    typed = [e for e in of_type(events, "key_press") if e["keysym"] != XK.XK_Shift_L]
    assert keys_of(typed) == [XK.XK_a, XK.XK_1]
    assert not any(e["state"] & X.ShiftMask for e in typed)
    injector.release_all()


def test_text_while_shift_is_held_elsewhere(
    injector: InputInjector, recorder: Recorder, xdotool: Any
) -> None:
    """Shift held by someone else (the person at the screen): typed on remapped keys."""
    xdotool("keydown", "shift")
    try:
        injector.inject(text("aB!"))
        typed = [e for e in keys_events(recorder) if e["keysym"] != XK.XK_Shift_L]
        assert keys_of(typed) == [XK.XK_a, XK.XK_B, XK.XK_exclam]
    finally:
        xdotool("keyup", "shift")


def test_release_all_leaves_nothing_pressed(
    injector: InputInjector, recorder: Recorder, x: Any
) -> None:
    injector.inject(key(XK.XK_Control_L, True))
    injector.inject(key(XK.XK_a, True, Modifier.SHIFT))
    injector.inject(key(0x01000416, True))  # Ж: a remapped keycode, held
    injector.inject(button(1, True, 100, 100))
    injector.inject(button(3, True, 100, 100))
    down, mask = held_state(x)
    assert len(down) == 3
    assert mask & X.Button1Mask and mask & X.Button3Mask and mask & X.ControlMask
    assert injector.held() == (frozenset(down), frozenset({1, 3}))
    injector.release_all()
    assert held_state(x)[0] == []
    assert not held_state(x)[1] & (X.Button1Mask | X.Button3Mask | X.ControlMask)
    assert injector.held() == (frozenset(), frozenset())
    events = recorder.events()
    assert len(of_type(events, "key_release")) == 4  # Shift (around "a"), and the three
    assert sorted(e["detail"] for e in of_type(events, "button_release")) == [1, 3]


def test_releases_of_what_was_not_pressed_are_ignored(
    injector: InputInjector, recorder: Recorder
) -> None:
    injector.inject(key(XK.XK_a, False))
    injector.inject(button(1, False, 10, 10))
    assert recorder.events() == []


def test_the_persons_own_keys_are_not_released(
    injector: InputInjector, x: Any, xdotool: Any
) -> None:
    xdotool("keydown", "a")
    try:
        injector.inject(key(XK.XK_a, False))
        injector.release_all()
        assert held_state(x)[0] == [x.keysym_to_keycode(XK.XK_a)]
    finally:
        xdotool("keyup", "a")


@pytest.mark.parametrize(
    "event",
    [
        move(640, 10),
        move(10, 480),
        button(1, True, 700, 10),
        InputEvent(InputKind.WHEEL, x=10, y=999, dy=1),
        button(4, True, 10, 10),
        button(0, False, 10, 10),
        InputEvent(InputKind.WHEEL, x=10, y=10, dy=101),
        key(0, True),
        key(XK.XK_a, True, 16),
        text("a\x00"),
        text("ok\x7f"),
        text("x" * 1001),
    ],
)
def test_unfit_events_are_refused_whole(
    injector: InputInjector, recorder: Recorder, event: InputEvent
) -> None:
    with pytest.raises(InputError):
        injector.inject(event)
    assert recorder.events() == []


def test_a_release_outside_the_screen_still_releases(
    injector: InputInjector, recorder: Recorder
) -> None:
    injector.inject(button(1, True, 200, 200))
    injector.inject(button(1, False, 5000, 5000))
    release = of_type(recorder.events(), "button_release")
    assert [(e["detail"], e["root_x"], e["root_y"]) for e in release] == [(1, 200, 200)]


def test_excluded_area_drops_pointer_events(injector: InputInjector, recorder: Recorder) -> None:
    injector.excluded = lambda x, y: x < 320
    injector.inject(move(400, 100))
    injector.inject(move(100, 100))  # dropped
    injector.inject(button(1, True, 100, 100))  # dropped
    injector.inject(button(1, False, 100, 100))  # not held: nothing to release
    injector.inject(InputEvent(InputKind.WHEEL, x=100, y=100, dy=1))  # dropped
    injector.inject(button(3, True, 400, 200))
    injector.inject(move(100, 200))  # dropped: the drag stays out of the area
    injector.inject(button(3, False, 100, 200))  # released where the pointer is
    events = recorder.events()
    assert all(e["root_x"] >= 320 for e in events)
    assert [(e["type"], e["root_x"], e["root_y"]) for e in events] == [
        ("motion", 400, 100),
        ("motion", 400, 200),
        ("button_press", 400, 200),
        ("button_release", 400, 200),
    ]


def test_release_all_interrupts_a_long_text(injector: InputInjector) -> None:
    typed = "".join(chr(0x4E00 + i) for i in range(200))  # needs many remaps: slow
    thread = threading.Thread(target=injector.inject, args=(text(typed),))
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    injector.release_all()
    assert time.monotonic() - started < 0.5
    thread.join(5)
    assert not thread.is_alive()


def test_close_restores_the_keyboard_map(xvfb: Xvfb, x: Any) -> None:
    first = x.display.info.min_keycode
    count = x.display.info.max_keycode - first + 1
    before = [list(row) for row in x.get_keyboard_mapping(first, count)]
    with InputInjector(xvfb.display) as injector:
        injector.inject(text("äöü"))
        during = [list(row) for row in x.get_keyboard_mapping(first, count)]
        assert during != before
    after = [list(row) for row in x.get_keyboard_mapping(first, count)]
    assert [row[:2] for row in after] == [row[:2] for row in before]
    with pytest.raises(InputError, match="remote control has ended"):
        injector.inject(text("a"))
    injector.close()  # again: harmless


# python-xlib leaves the sockets of a failed connection for the garbage collector.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_display_that_cannot_be_opened() -> None:
    with pytest.raises(InputError, match="cannot open the X display"):
        InputInjector(":9999")


@pytest.fixture
def xvfb_without_xtest() -> Iterator[str]:
    """An Xvfb started with XTEST turned off (Xvfb's own helper takes no options)."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed")
    read_end, write_end = os.pipe()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_end), "-nolisten", "tcp", "-extension", "XTEST",
             "-screen", "0", "64x64x24"],
            pass_fds=(write_end,), stdout=log, stderr=log,
        )  # fmt: skip
        os.close(write_end)
        try:
            assert select.select([read_end], [], [], 10)[0], "Xvfb did not start"
            number = int(os.read(read_end, 16))
            socket = Path(f"/tmp/.X11-unix/X{number}")
            deadline = time.monotonic() + 10
            while not socket.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            yield f":{number}"
        finally:
            os.close(read_end)
            process.terminate()
            process.wait(5)


def test_a_display_without_xtest(xvfb_without_xtest: str) -> None:
    with pytest.raises(InputError, match="XTEST"):
        InputInjector(xvfb_without_xtest)


def test_xterm_receives_the_typed_text(
    injector: InputInjector, xvfb: Xvfb, xdotool: Any, tmp_path: Path
) -> None:
    """A C Xlib client (xterm, UTF-8) turns the keys into exactly the text sent."""
    if shutil.which("xterm") is None:
        pytest.skip("xterm is not installed")
    typed = tmp_path / "typed"
    terminal = subprocess.Popen(
        ["xterm", "-geometry", "80x10+0+0", "-e", "sh", "-c", f"exec cat > {typed}"],
        env={**xvfb.env, "LC_ALL": "C.UTF-8"},
    )
    try:
        xdotool("search", "--sync", "--onlyvisible", "--class", "xterm")
        injector.inject(move(50, 50))  # no window manager: the focus follows the pointer
        injector.inject(text("Hello, World! äß€Ж\n"))
        deadline = time.monotonic() + 10
        while not (typed.exists() and typed.read_bytes().endswith(b"\n")):
            assert time.monotonic() < deadline, "xterm did not write the line"
            time.sleep(0.02)
        assert typed.read_text("utf-8") == "Hello, World! äß€Ж\n"
    finally:
        terminal.terminate()
        terminal.wait(5)


def announce_root_size(x: Any, width: int, height: int) -> None:
    """The ConfigureNotify a screen resize (RandR) sends; Xvfb cannot resize its screen."""
    root = x.screen().root
    notify = xevent.ConfigureNotify(
        window=root, event=root, above_sibling=X.NONE, x=0, y=0, width=width, height=height,
        border_width=0, override=False,
    )  # fmt: skip
    root.send_event(notify, event_mask=X.StructureNotifyMask)
    x.sync()


def test_follows_a_resized_screen(injector: InputInjector, recorder: Recorder, x: Any) -> None:
    announce_root_size(x, 320, 240)
    try:
        with pytest.raises(InputError, match="outside the 320x240 screen"):
            injector.inject(move(400, 100))
        injector.inject(move(300, 200))
    finally:
        announce_root_size(x, 640, 480)
    injector.inject(move(400, 100))
    motions = of_type(recorder.events(), "motion")
    assert [(m["root_x"], m["root_y"]) for m in motions] == [(300, 200), (400, 100)]


def test_a_second_press_of_a_held_key_is_ignored(
    injector: InputInjector, recorder: Recorder
) -> None:
    """Browsers repeat keydown while a key is held; the X server repeats it already."""
    injector.inject(key(XK.XK_a, True))
    injector.inject(key(XK.XK_a, True))
    injector.inject(key(XK.XK_a, False))
    assert [e["type"] for e in recorder.events()] == ["key_press", "key_release"]
