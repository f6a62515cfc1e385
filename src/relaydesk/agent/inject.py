"""Remote control on the presenter's side: the controller's input, injected through XTEST.

``InputInjector`` carries out one ``InputEvent`` at a time on an X display, over its own
connection, and leaves behind nothing the controller did not ask for:

* Positions are pixels of the presenter's picture, which is the root window. A position
  outside the screen is refused (``InputError``), never clamped: nothing is clicked where
  the controller did not point.
* Modifiers named in an event (Shift, Control, Alt, and Meta, which is the Super or
  "Windows" key, as a browser's ``metaKey``) are pressed just before the key, button or
  wheel action and released right after it. One that is down already (held by the person
  at the screen, or by an earlier KEY event) is left as it is.
* A key or button the controller presses stays down until the controller releases it, or
  until ``release_all()`` (called when control is revoked) releases everything this
  injector holds; the X server repeats a held key itself, so a second press of a key
  held down is ignored. A release of something this injector did not press is ignored:
  the person's own keys and buttons are never touched. One exception: F12, the revoke
  hotkey's key, is released as soon as it is pressed (``NEVER_HELD_KEYSYMS``), so that
  a controller cannot hold it down and so keep the presenter's Ctrl+F12 from working.
* TEXT is typed exactly. Each character becomes its keysym (``keysym_for_character``); a
  keysym on the keyboard map is typed with its key, with Shift for the second level; any
  other is typed on a spare keycode (one the map leaves empty), remapped to it for the
  purpose, as xdotool does. Remapped keycodes stay mapped (the least recently used is
  reused first, and not within ``SCRATCH_REUSE_SECONDS`` of its last use) and are
  restored by ``close()``: clients look a keysym up when they process the key event,
  after the MappingNotify a change causes, so restoring right after the key press
  would make slow clients see the wrong character. Modifier keys the controller holds
  are let go while typing and pressed again after.
* ``excluded(x, y)`` returning true drops pointer events at that position (a button
  release still releases a button this injector holds, where the pointer is).

Not handled: Caps Lock (when it is on, letters come out in upper case, as they would for
the person typing) and modifiers the person physically holds other than Shift (a Control
held at the screen turns typed text into shortcuts, as it would for them).

One injector may be shared between threads: events are carried out one at a time, and
``release_all()`` interrupts a long TEXT between two characters.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from Xlib import XK, X
from Xlib import display as xdisplay
from Xlib import error as xerror
from Xlib.ext import xtest

from relaydesk import limits
from relaydesk.closing import Closing
from relaydesk.errors import InputError
from relaydesk.protocol.messages import InputEvent, InputKind, Modifier

ExcludedArea = Callable[[int, int], bool]
"""``excluded(x, y)``: true where the controller's pointer must not act."""

NO_SYMBOL = 0
UNICODE_KEYSYM_BASE = 0x01000000  # keysym of a code point outside Latin-1 (X11 keysyms)
SCRATCH_REUSE_SECONDS = 0.1  # a remapped keycode is not remapped again sooner than this

# Keys pressed and released at once, never held down for the controller: a key held
# down through XTEST is not pressed again by the next press, so a controller holding F12
# would keep the revoke hotkey (Ctrl+F12, agent/hotkey.py) from starting its grab.
NEVER_HELD_KEYSYMS = frozenset({XK.XK_F12})

_SPECIAL_CHARACTERS = {"\n": XK.XK_Return, "\r": XK.XK_Return, "\t": XK.XK_Tab}
_BUTTONS = (1, 2, 3)  # left, middle, right
_WHEEL_UP, _WHEEL_DOWN, _WHEEL_LEFT, _WHEEL_RIGHT = 4, 5, 6, 7

# The keys that give each Modifier bit, most wanted first.
_MODIFIER_KEYSYMS: dict[Modifier, tuple[int, ...]] = {
    Modifier.SHIFT: (XK.XK_Shift_L, XK.XK_Shift_R),
    Modifier.CONTROL: (XK.XK_Control_L, XK.XK_Control_R),
    Modifier.ALT: (XK.XK_Alt_L, XK.XK_Alt_R),
    Modifier.META: (XK.XK_Super_L, XK.XK_Super_R),
}
# Keys that toggle a state when pressed: never released and pressed again behind the
# controller's back.
_LOCK_KEYSYMS = frozenset((XK.XK_Caps_Lock, XK.XK_Shift_Lock, XK.XK_Num_Lock, XK.XK_Scroll_Lock))


def keysym_for_character(character: str) -> int:
    """The X11 keysym that types ``character``: Latin-1 keysyms are the code point, any
    other character's is 0x01000000 + code point; newline (and carriage return) is
    Return, tab is Tab. Other control characters raise ``InputError``."""
    if len(character) != 1:
        raise InputError(f"one character expected, not {character!r}")
    special = _SPECIAL_CHARACTERS.get(character)
    if special is not None:
        return int(special)
    code = ord(character)
    if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF:
        return code
    if code < 0xA0 or 0xD800 <= code <= 0xDFFF:
        raise InputError(f"character U+{code:04X} cannot be typed (a control character)")
    return UNICODE_KEYSYM_BASE + code


def open_display(name: str | None) -> Any:
    """A python-xlib connection to the X display ``name`` (None: ``$DISPLAY``)."""
    try:
        return xdisplay.Display(name)
    except (xerror.DisplayError, xerror.ConnectionClosedError, OSError) as error:
        shown = name or "named by DISPLAY"
        raise InputError(
            f"cannot open the X display {shown} ({error}): is it running, and may you connect?"
        ) from None


class InputInjector(Closing):
    """Injects the controller's ``InputEvent``s into an X display through XTEST."""

    def __init__(self, display: str | None = None, excluded: ExcludedArea | None = None) -> None:
        self.excluded = excluded
        self._lock = threading.Lock()
        self._interrupt = threading.Event()
        self._closed = False
        self._errors: list[str] = []
        self._x = open_display(display)
        try:
            self.display_name = str(self._x.get_display_name())
            if not self._x.has_extension("XTEST"):
                raise InputError(
                    f"the X display {self.display_name} lacks the XTEST extension, which "
                    "remote control needs (Xorg and Xvfb have it unless started with "
                    "-extension XTEST)"
                )
            self._x.set_error_handler(self._on_x_error)
            self._root = self._x.screen().root
            # ConfigureNotify tells when the screen is resized (RandR).
            self._root.change_attributes(event_mask=X.StructureNotifyMask)
            geometry = self._root.get_geometry()
            self.width, self.height = int(geometry.width), int(geometry.height)
            self._keymap: dict[int, list[int]] = {}
            self._index: dict[int, tuple[int, int]] = {}  # keysym: (keycode, level 0 or 1)
            self._modifier_rows: list[set[int]] = []  # keycodes of each modifier, by mask bit
            self._modifier_keys: dict[Modifier, tuple[int, int]] = {}  # (keycode, mask)
            self._spare: list[int] = []  # keycodes free for remapping (ours included)
            self._scratch: OrderedDict[int, int] = OrderedDict()  # keysym: keycode, LRU first
            self._scratch_used: dict[int, float] = {}  # keycode: monotonic time of last use
            self._keys: dict[int, int] = {}  # keycodes held for the controller: keysym
            self._buttons: set[int] = set()  # buttons held for the controller
            self._load_keymap()
            self._x.sync()
            self._raise_x_errors()
        except xerror.ConnectionClosedError as error:
            self._x.close()
            raise InputError(f"the X display closed the connection: {error}") from None
        except BaseException:
            self._x.close()
            raise

    # Public API ----------------------------------------------------------------------

    def inject(self, event: InputEvent) -> None:
        """Carry out one controller event; ``InputError`` if it cannot be (nothing of a
        refused event is injected) or if the display stopped answering."""
        with self._lock:
            if self._closed:
                raise InputError("remote control has ended on this screen")
            try:
                self._drain_events()
                handler = self._handlers[event.kind]
                handler(self, event)
                self._x.sync()
            except (xerror.XError, xerror.ConnectionClosedError, OSError) as error:
                raise InputError(f"the X display failed while injecting input: {error}") from None
            self._raise_x_errors()

    def release_all(self) -> None:
        """Release every key and button this injector holds for the controller (and stop a
        TEXT being typed, between two characters). Called when control is revoked."""
        self._interrupt.set()
        with self._lock:
            self._interrupt.clear()
            if self._closed:
                return
            try:
                self._release_held()
                self._x.sync()
            except (xerror.XError, xerror.ConnectionClosedError, OSError) as error:
                raise InputError(f"the X display failed while releasing input: {error}") from None
            self._raise_x_errors()

    def held(self) -> tuple[frozenset[int], frozenset[int]]:
        """The keycodes and buttons this injector holds down for the controller."""
        with self._lock:
            return frozenset(self._keys), frozenset(self._buttons)

    def close(self) -> None:
        """Release everything held, restore remapped keycodes, close the connection."""
        self._interrupt.set()
        with self._lock:
            self._interrupt.clear()
            if self._closed:
                return
            self._closed = True
            try:
                self._release_held()
                self._drain_events()
                for keysym, keycode in self._scratch.items():
                    if self._keymap.get(keycode, [])[:2] == [keysym, keysym]:
                        self._x.change_keyboard_mapping(keycode, [(NO_SYMBOL, NO_SYMBOL)])
                self._scratch.clear()
                self._x.sync()
            except (xerror.XError, xerror.ConnectionClosedError, OSError):
                pass  # the display is gone, and with it whatever was held
            finally:
                self._x.close()

    # Events ----------------------------------------------------------------------------

    def _pointer_move(self, event: InputEvent) -> None:
        self._check_position(event.x, event.y)
        if self._allowed(event.x, event.y):
            self._move(event.x, event.y)

    def _button(self, event: InputEvent) -> None:
        if event.button not in _BUTTONS:
            raise InputError(f"button {event.button} is not 1 (left), 2 (middle) or 3 (right)")
        bits = self._modifier_bits(event.modifiers)
        if not event.pressed:
            if event.button not in self._buttons:
                return  # not pressed by the controller: not theirs to release
            if self._on_screen(event.x, event.y) and self._allowed(event.x, event.y):
                self._move(event.x, event.y)
            with self._holding(bits):
                self._fake(X.ButtonRelease, event.button)
            self._buttons.discard(event.button)
            return
        self._check_position(event.x, event.y)
        if not self._allowed(event.x, event.y) or event.button in self._buttons:
            return
        self._move(event.x, event.y)
        with self._holding(bits):
            self._fake(X.ButtonPress, event.button)
        self._buttons.add(event.button)

    def _wheel(self, event: InputEvent) -> None:
        steps = limits.MAX_WHEEL_STEPS
        if abs(event.dx) > steps or abs(event.dy) > steps:
            raise InputError(f"at most {steps} wheel steps an event, each way")
        bits = self._modifier_bits(event.modifiers)
        self._check_position(event.x, event.y)
        if not self._allowed(event.x, event.y):
            return
        self._move(event.x, event.y)
        clicks = [_WHEEL_DOWN if event.dy > 0 else _WHEEL_UP] * abs(event.dy)
        clicks += [_WHEEL_RIGHT if event.dx > 0 else _WHEEL_LEFT] * abs(event.dx)
        with self._holding(bits):
            for button in clicks:
                self._fake(X.ButtonPress, button)
                self._fake(X.ButtonRelease, button)

    def _key(self, event: InputEvent) -> None:
        if event.keysym == NO_SYMBOL:
            raise InputError("a key event without a keysym")
        bits = self._modifier_bits(event.modifiers)
        if not event.pressed:
            keycode = self._held_keycode(event.keysym)
            if keycode is None:
                return  # not pressed by the controller: not theirs to release
            with self._holding(bits & ~self._modifiers_of(keycode)):
                self._fake(X.KeyRelease, keycode)
            del self._keys[keycode]
            self._typed(keycode)
            return
        if self._held_keycode(event.keysym) is not None:
            return  # down already: the X server repeats a held key itself
        keycode, level = self._keycode_for(event.keysym, shift_down=False)
        if level == 1:
            bits |= Modifier.SHIFT
        never_held = self._keymap.get(keycode, [NO_SYMBOL])[0] in NEVER_HELD_KEYSYMS
        with self._holding(bits & ~self._modifiers_of(keycode)):
            self._fake(X.KeyPress, keycode)
            if never_held:
                self._fake(X.KeyRelease, keycode)
        if not never_held:
            self._keys[keycode] = event.keysym
        self._typed(keycode)

    def _text(self, event: InputEvent) -> None:
        if len(event.text) > limits.MAX_TYPED_TEXT_CHARS:
            raise InputError(f"at most {limits.MAX_TYPED_TEXT_CHARS} characters an event")
        keysyms = [keysym_for_character(c) for c in event.text.replace("\r\n", "\n")]
        # Let go of the modifier keys the controller holds, press them again after.
        modifier_keys = set().union(*self._modifier_rows)
        lifted = [
            keycode
            for keycode, keysym in self._keys.items()
            if keycode in modifier_keys and keysym not in _LOCK_KEYSYMS
        ]
        for keycode in lifted:
            self._fake(X.KeyRelease, keycode)
        try:
            shift_down = bool(self._state() & X.ShiftMask)
            for keysym in keysyms:
                if self._interrupt.is_set():
                    break  # control is being revoked
                keycode, level = self._keycode_for(keysym, shift_down)
                bits = Modifier.SHIFT if level == 1 and not shift_down else 0
                with self._holding(bits, state=0):
                    self._fake(X.KeyPress, keycode)
                    self._fake(X.KeyRelease, keycode)
                self._typed(keycode)
        finally:
            for keycode in lifted:
                self._fake(X.KeyPress, keycode)

    _handlers: ClassVar[dict[InputKind, Callable[[InputInjector, InputEvent], None]]] = {
        InputKind.POINTER_MOVE: _pointer_move,
        InputKind.BUTTON: _button,
        InputKind.WHEEL: _wheel,
        InputKind.KEY: _key,
        InputKind.TEXT: _text,
    }

    # Positions -------------------------------------------------------------------------

    def _on_screen(self, x: int, y: int) -> bool:
        return 0 <= x < self.width and 0 <= y < self.height

    def _check_position(self, x: int, y: int) -> None:
        if not self._on_screen(x, y):
            raise InputError(f"({x}, {y}) lies outside the {self.width}x{self.height} screen")

    def _allowed(self, x: int, y: int) -> bool:
        return self.excluded is None or not self.excluded(x, y)

    # Keys and modifiers ----------------------------------------------------------------

    def _keycode_for(self, keysym: int, shift_down: bool) -> tuple[int, int]:
        """The keycode and level (0 or 1) that type ``keysym``. With ``shift_down``, a
        first-level keysym is typed on a remapped keycode, where Shift changes nothing."""
        found = self._index.get(keysym)
        if found is not None and (found[1] == 1 or not shift_down):
            return found
        if found is not None and self._scratch.get(keysym) == found[0]:
            return found  # remapped by us: the same keysym on both levels
        return self._remap(keysym), 0

    def _remap(self, keysym: int) -> int:
        """A spare keycode, mapped to ``keysym`` on both levels."""
        keycode = self._scratch.get(keysym)
        if keycode is not None:
            self._scratch.move_to_end(keysym)
            return keycode
        taken = set(self._scratch.values())
        free = [code for code in self._spare if code not in taken and code not in self._keys]
        if free:
            keycode = free[0]
        else:
            reusable = [(k, code) for k, code in self._scratch.items() if code not in self._keys]
            if not reusable:
                raise InputError("no spare keycode left to type that character with")
            old_keysym, keycode = reusable[0]
            del self._scratch[old_keysym]
            self._index.pop(old_keysym, None)
            # Give clients time to look the previous keysym up (see _typed).
            delay = self._scratch_used.get(keycode, 0.0) + SCRATCH_REUSE_SECONDS
            time.sleep(max(0.0, delay - time.monotonic()))
        self._x.change_keyboard_mapping(keycode, [(keysym, keysym)])
        self._keymap[keycode] = [keysym, keysym]
        self._index[keysym] = (keycode, 0)
        self._scratch[keysym] = keycode
        return keycode

    def _typed(self, keycode: int) -> None:
        """After a key event on a remapped keycode: wait until the server has queued the
        event to clients (sync), and note the time; the keycode is not remapped again
        within SCRATCH_REUSE_SECONDS of it."""
        if keycode in self._scratch.values():
            self._x.sync()
            self._scratch_used[keycode] = time.monotonic()

    def _held_keycode(self, keysym: int) -> int | None:
        found = self._index.get(keysym)
        if found is not None and found[0] in self._keys:
            return found[0]
        for keycode, held in self._keys.items():
            if held == keysym:
                return keycode
        return None

    def _modifier_bits(self, modifiers: int) -> int:
        """Check that this display has a key for each bit (before anything is injected)."""
        for modifier in Modifier:
            if modifiers & modifier and modifier not in self._modifier_keys:
                raise InputError(f"this X display has no key for {modifier.name.title()}")
        if modifiers & ~sum(Modifier):
            raise InputError(f"unknown modifier bits {modifiers:#x}")
        return modifiers

    def _modifiers_of(self, keycode: int) -> int:
        """The Modifier bits a key gives itself (pressing Shift_L with SHIFT is one press)."""
        bits = 0
        for modifier, (_, mask) in self._modifier_keys.items():
            if keycode in self._modifier_rows[mask.bit_length() - 1]:
                bits |= modifier
        return bits

    @contextmanager
    def _holding(self, bits: int, state: int | None = None) -> Iterator[None]:
        """Hold the modifiers in ``bits`` that are not down already, around the body."""
        pressed: list[int] = []
        try:
            if bits:
                state = self._state() if state is None else state
                for modifier in Modifier:
                    keycode, mask = self._modifier_keys[modifier] if bits & modifier else (0, 0)
                    if keycode and not state & mask:
                        self._fake(X.KeyPress, keycode)
                        pressed.append(keycode)
            yield
        finally:
            for keycode in reversed(pressed):
                self._fake(X.KeyRelease, keycode)

    def _state(self) -> int:
        """The modifier and button mask the server reports now."""
        return int(self._root.query_pointer().mask)

    def _release_held(self) -> None:
        keycodes = list(self._keys)
        for keycode in reversed(keycodes):
            self._fake(X.KeyRelease, keycode)
        self._keys.clear()
        for keycode in keycodes:
            self._typed(keycode)
        for button in sorted(self._buttons):
            self._fake(X.ButtonRelease, button)
        self._buttons.clear()

    # The X connection ------------------------------------------------------------------

    def _fake(self, event_type: int, detail: int) -> None:
        xtest.fake_input(self._x, event_type, detail)

    def _move(self, x: int, y: int) -> None:
        xtest.fake_input(self._x, X.MotionNotify, detail=0, root=self._root, x=x, y=y)

    def _load_keymap(self) -> None:
        info = self._x.display.info
        first, last = int(info.min_keycode), int(info.max_keycode)
        rows = self._x.get_keyboard_mapping(first, last - first + 1)
        self._keymap = {first + i: [int(keysym) for keysym in row] for i, row in enumerate(rows)}
        for keysym, keycode in list(self._scratch.items()):
            if self._keymap.get(keycode, [])[:2] != [keysym, keysym]:
                del self._scratch[keysym]  # someone else remapped it: no longer ours
                self._scratch_used.pop(keycode, None)
        ours = set(self._scratch.values())
        self._spare = [code for code, row in self._keymap.items() if code in ours or not any(row)]
        self._index = {}
        for level in (0, 1):
            for code, row in self._keymap.items():
                if len(row) > level and row[level] != NO_SYMBOL:
                    self._index.setdefault(row[level], (code, level))
        self._modifier_rows = [
            {int(code) for code in row if code} for row in self._x.get_modifier_mapping()
        ]
        self._modifier_keys = {}
        for modifier, wanted in _MODIFIER_KEYSYMS.items():
            for keysym in wanted:
                found = self._modifier_key(keysym)
                if found is not None:
                    self._modifier_keys[modifier] = found
                    break

    def _modifier_key(self, keysym: int) -> tuple[int, int] | None:
        """The keycode with ``keysym`` that is bound to a modifier, and that modifier's mask."""
        for bit, keycodes in enumerate(self._modifier_rows):
            for keycode in sorted(keycodes):
                if keysym in self._keymap.get(keycode, [])[:2]:
                    return keycode, 1 << bit
        return None

    def _drain_events(self) -> None:
        """Take note of keyboard map changes and screen resizes since the last event."""
        reload = False
        while self._x.pending_events():
            event = self._x.next_event()
            if event.type == X.MappingNotify and event.request != X.MappingPointer:
                reload = True
            elif event.type == X.ConfigureNotify and event.window == self._root:
                self.width, self.height = int(event.width), int(event.height)
        if reload:
            self._load_keymap()

    def _on_x_error(self, error: Any, request: Any) -> None:
        self._errors.append(str(error))

    def _raise_x_errors(self) -> None:
        if self._errors:
            errors, self._errors = self._errors, []
            raise InputError(f"the X display refused input: {'; '.join(errors)}")
