"""The privacy layer: what the presenter hides never leaves the machine, not even sealed
(docs/privacy.md).

Every rule of it is in this module, as pure computation on values: the windows on the
screen (read from the X server by ``agent.windows``), the presenter's settings and a
clock reading. Nothing here talks to an X server.

- What viewers are told: ``PrivacySettings.share_state()``, the ``SHARE_STATE`` message
  (live, paused or hidden; one application only; parts masked — never what or where).
- Which windows are hidden (``verdicts``): an application chosen with ``/exclude`` (its
  WM_CLASS or title, ``matches``) and the windows transient for it (its dialogs); the
  desktop's own windows and panels (EWMH ``_NET_WM_WINDOW_TYPE_DOCK`` or ``_DESKTOP``,
  or a window with struts) with ``/wallpaper off``; every window but the chosen
  application's with ``/only``.
- Which pixels are masked (``compute_mask``): the visible parts of hidden windows, with
  stacking — a window above a hidden one is shown where it covers it, a shaped window
  only where its shape is — and the bare root window (the wallpaper) when the desktop
  is hidden or one application only is shared. ``PrivacyFilter`` adds the hold: an area
  masked within the last ``limits.PRIVACY_HOLD_SECONDS`` stays masked, because a window
  that moved away or closed can leave its pixels on the screen until whatever was
  beneath it redraws.
- Where masking happens: ``Mask.paint`` on the captured picture, before it is compared
  with the previous one and encoded (``agent.presenter``). A masked pixel is never
  encoded, sealed or sent.
- Which remote input is dropped (``input_refusal``): pointer input over a masked area;
  keys and text while a hidden window has the keyboard focus; everything while the share
  is paused or hidden. Releases always pass: they only let go of what the controller
  holds (and the injector never moves the pointer into a masked area to do it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum, auto

import numpy as np

from relaydesk import limits
from relaydesk.protocol.messages import InputEvent, InputKind, ShareMode, ShareState
from relaydesk.screen.picture import Picture, Rect, pixels32

# The plain colours masked areas are painted with (0xRRGGBB): hidden windows, and the
# desktop (its wallpaper, icons and panels, and what is not the one shared application).
MASK_RGB = 0x3B4048
DESKTOP_RGB = 0x56606E

LIVE = ShareState(ShareMode.LIVE, False, False)
"""What a viewer assumes of a presenter that has said nothing yet."""


class WindowKind(Enum):
    """The EWMH type of a window, as far as privacy cares (``_NET_WM_WINDOW_TYPE``)."""

    NORMAL = auto()
    DOCK = auto()  # a panel or taskbar
    DESKTOP = auto()  # the desktop's own window (its icons)


@dataclass(frozen=True, slots=True)
class Window:
    """One top-level window of the screen (the window manager's frame around a client,
    or an unmanaged window), as ``agent.windows`` reads it."""

    id: int
    rect: Rect  # on the screen, border and decorations included; may reach past its edges
    wm_class: tuple[str, ...] = ()  # ICCCM WM_CLASS: (instance, class); () if unset
    title: str = ""  # _NET_WM_NAME, else WM_NAME
    kind: WindowKind = WindowKind.NORMAL
    strut: bool = False  # reserves a screen edge (_NET_WM_STRUT, _NET_WM_STRUT_PARTIAL)
    transient_for: int | None = None  # the top-level window it is a dialog of
    # A shaped window (SHAPE extension): the rectangles it covers on the screen. None: all
    # of ``rect``.
    shape: tuple[Rect, ...] | None = None
    override_redirect: bool = False  # menus, tooltips: not managed by the window manager

    @property
    def is_panel(self) -> bool:
        """Part of the desktop rather than an application: a dock, the desktop window,
        or a window that reserves a screen edge."""
        return self.kind is not WindowKind.NORMAL or self.strut

    @property
    def area(self) -> tuple[Rect, ...]:
        """The rectangles this window covers on the screen."""
        return self.shape if self.shape is not None else (self.rect,)

    def describe(self) -> str:
        """``XTerm (xterm) "Secret notes"``: what ``/windows`` shows of it."""
        name = self.wm_class[-1] if self.wm_class else "(no WM_CLASS)"
        instance = f" ({self.wm_class[0]})" if len(self.wm_class) > 1 else ""
        title = f' "{self.title}"' if self.title else ""
        return f"{name}{instance}{title}"


def check_pattern(text: str) -> str:
    """A WM_CLASS or title to pick applications by, as typed; ValueError if unusable."""
    pattern = text.strip()
    if not pattern:
        raise ValueError("name an application: its WM_CLASS or part of its title (see /windows)")
    if len(pattern) > limits.MAX_PRIVACY_PATTERN_CHARS:
        raise ValueError(f"at most {limits.MAX_PRIVACY_PATTERN_CHARS} characters")
    return pattern


def matches(window: Window, pattern: str) -> bool:
    """Does ``pattern`` pick ``window``: it is either part of its WM_CLASS (instance or
    class name, whole), or part of its title — all ignoring case."""
    wanted = pattern.strip().casefold()
    if any(wanted == part.casefold() for part in window.wm_class):
        return True
    return bool(wanted) and wanted in window.title.casefold()


def _same_pattern(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


@dataclass(frozen=True, slots=True)
class PrivacySettings:
    """What the presenter chose to share; changed from the console (``cli/console.py``)."""

    mode: ShareMode = ShareMode.LIVE
    hide_desktop: bool = False  # wallpaper, desktop icons and panels replaced by a colour
    excluded: tuple[str, ...] = ()  # applications never shown (WM_CLASS or title)
    only: str | None = None  # share this application only

    @property
    def needs_windows(self) -> bool:
        """Whether the windows on the screen matter (else nothing is masked)."""
        return self.hide_desktop or bool(self.excluded) or self.only is not None

    def share_state(self) -> ShareState:
        return ShareState(self.mode, self.only is not None, self.needs_windows)

    def exclude(self, pattern: str) -> PrivacySettings:
        pattern = check_pattern(pattern)
        if any(_same_pattern(pattern, known) for known in self.excluded):
            return self
        if len(self.excluded) >= limits.MAX_PRIVACY_PATTERNS:
            raise ValueError(f"at most {limits.MAX_PRIVACY_PATTERNS} excluded applications")
        return dataclasses.replace(self, excluded=(*self.excluded, pattern))

    def include(self, pattern: str) -> PrivacySettings:
        pattern = check_pattern(pattern)
        kept = tuple(known for known in self.excluded if not _same_pattern(pattern, known))
        if len(kept) == len(self.excluded):
            raise ValueError(f"{pattern!r} is not excluded (excluded: {self.describe_excluded()})")
        return dataclasses.replace(self, excluded=kept)

    def share_only(self, pattern: str | None) -> PrivacySettings:
        return dataclasses.replace(self, only=None if pattern is None else check_pattern(pattern))

    def describe_excluded(self) -> str:
        return ", ".join(self.excluded) or "nothing"

    def describe(self) -> str:
        """One line for the presenter: the state and every choice in force."""
        mode = {ShareMode.LIVE: "live", ShareMode.PAUSED: "paused", ShareMode.HIDDEN: "hidden"}
        parts = [f"share {mode[self.mode]}"]
        if self.only is not None:
            parts.append(f"only {self.only!r}")
        if self.excluded:
            parts.append(f"excluded: {self.describe_excluded()}")
        parts.append("desktop hidden" if self.hide_desktop else "desktop shown")
        return "; ".join(parts)


# Which windows are hidden -----------------------------------------------------------


class Verdict(Enum):
    SHOWN = auto()
    EXCLUDED = auto()  # an excluded application, or a dialog of one
    DESKTOP = auto()  # a panel or the desktop's window, with the desktop hidden
    OUTSIDE = auto()  # not the one application shared


def _picked(windows: Sequence[Window], patterns: Sequence[str]) -> set[int]:
    """The windows the patterns pick, and those transient for them (their dialogs and
    menus, when they say so), however deep."""
    picked = {w.id for w in windows if any(matches(w, p) for p in patterns)}
    for _ in range(len(windows)):
        more = {w.id for w in windows if w.id not in picked and w.transient_for in picked}
        if not more:
            break
        picked |= more
    return picked


def verdicts(windows: Sequence[Window], settings: PrivacySettings) -> dict[int, Verdict]:
    """Each window's fate. Exclusion wins over everything: an excluded application stays
    hidden even when ``/only`` picks it too."""
    excluded = _picked(windows, settings.excluded)
    shared = None if settings.only is None else _picked(windows, (settings.only,))
    result = {}
    for window in windows:
        if window.id in excluded:
            result[window.id] = Verdict.EXCLUDED
        elif shared is not None and window.id not in shared:
            result[window.id] = Verdict.OUTSIDE
        elif settings.hide_desktop and window.is_panel:
            result[window.id] = Verdict.DESKTOP
        else:
            result[window.id] = Verdict.SHOWN
    return result


# Which pixels are masked -------------------------------------------------------------


def _opaque(rgb: int) -> np.uint32:
    """A 0xRRGGBB colour as one BGRX pixel read as a little-endian uint32."""
    return np.uint32(0xFF000000 | rgb)


@dataclass(frozen=True, slots=True)
class Mask:
    """The masked part of one picture: rectangles and their colours, painted in order."""

    pieces: tuple[tuple[Rect, int], ...] = ()
    hidden: frozenset[int] = frozenset()  # the windows hidden as a whole (keyboard focus)

    @property
    def rects(self) -> tuple[Rect, ...]:
        return tuple(rect for rect, _ in self.pieces)

    def covers(self, x: int, y: int) -> bool:
        return any(r.x <= x < r.right and r.y <= y < r.bottom for r, _ in self.pieces)

    def paint(self, picture: Picture) -> None:
        """Replace every masked pixel of ``picture`` (BGRX, in place) by its colour."""
        view = pixels32(picture)
        for rect, rgb in self.pieces:
            view[rect.slices()] = _opaque(rgb)


NOTHING = Mask()


def clip(rect: Rect, width: int, height: int) -> Rect | None:
    """The part of ``rect`` on a ``width`` x ``height`` screen, or None."""
    return rect.intersection(Rect(0, 0, width, height))


def compute_mask(
    windows: Sequence[Window], settings: PrivacySettings, width: int, height: int
) -> Mask:
    """The masked part of a ``width`` x ``height`` screen showing ``windows`` (bottom to
    top, as stacked): each window's rectangles laid over what is below, shown or masked
    by its verdict, on the grid their edges cut the screen into; then each row's runs of
    masked cells, merged down the rows, are the mask's rectangles (disjoint). More than
    ``limits.MAX_MASK_RECTS`` window rectangles, or a mask of more than
    ``limits.MAX_MASK_PIECES`` rectangles, masks the whole screen: never less than what
    should be."""
    if not settings.needs_windows:
        return NOTHING
    fates = verdicts(windows, settings)
    hidden = frozenset(w for w, fate in fates.items() if fate is not Verdict.SHOWN)
    whole = Mask(((Rect(0, 0, width, height), MASK_RGB),), hidden)
    # Layer 0 is the root window (the wallpaper); layer i the i-th window from the bottom.
    masked = [settings.hide_desktop or settings.only is not None]
    colours = [DESKTOP_RGB]
    parts: list[tuple[Rect, int]] = []
    for layer, window in enumerate(windows, 1):
        fate = fates[window.id]
        masked.append(fate is not Verdict.SHOWN)
        colours.append(DESKTOP_RGB if window.is_panel or fate is Verdict.DESKTOP else MASK_RGB)
        parts += [(rect, layer) for part in window.area if (rect := clip(part, width, height))]
    if len(parts) > limits.MAX_MASK_RECTS:
        return whole
    xs = sorted({0, width, *(r.x for r, _ in parts), *(r.right for r, _ in parts)})
    ys = sorted({0, height, *(r.y for r, _ in parts), *(r.bottom for r, _ in parts)})
    column = {x: index for index, x in enumerate(xs)}
    row = {y: index for index, y in enumerate(ys)}
    owner = np.zeros((len(ys) - 1, len(xs) - 1), np.int32)  # the top layer of each cell
    for rect, layer in parts:
        owner[row[rect.y] : row[rect.bottom], column[rect.x] : column[rect.right]] = layer
    shown = -1
    paint = np.where(np.array(masked)[owner], np.array(colours, np.int64)[owner], shown)
    pieces = _rectangles(paint, xs, ys, shown)
    if len(pieces) > limits.MAX_MASK_PIECES:
        return whole
    return Mask(tuple(pieces), hidden)


def _rectangles(
    cells: np.ndarray, xs: Sequence[int], ys: Sequence[int], shown: int
) -> list[tuple[Rect, int]]:
    """The runs of equal, masked cells of each grid row, merged with the same runs of the
    rows below: disjoint rectangles with their colours."""
    pieces: list[tuple[Rect, int]] = []
    open_runs: dict[tuple[int, int, int], int] = {}  # (left, right, colour): top
    previous: np.ndarray | None = None
    for index in range(cells.shape[0]):
        line = cells[index]
        if previous is not None and np.array_equal(line, previous):
            continue  # every run goes on down
        previous = line
        cuts = np.flatnonzero(np.diff(line)) + 1
        starts, ends = [0, *cuts.tolist()], [*cuts.tolist(), len(line)]
        runs = {
            (xs[start], xs[end], int(line[start]))
            for start, end in zip(starts, ends, strict=True)
            if line[start] != shown
        }
        top = ys[index]
        for run in [run for run in open_runs if run not in runs]:
            left, right, rgb = run
            began = open_runs.pop(run)
            pieces.append((Rect(left, began, right - left, top - began), rgb))
        for run in runs:
            open_runs.setdefault(run, top)
    bottom = ys[-1]
    for (left, right, rgb), began in open_runs.items():
        pieces.append((Rect(left, began, right - left, bottom - began), rgb))
    return pieces


class PrivacyFilter:
    """The mask of each captured frame: ``compute_mask``, held for ``hold`` seconds.

    A window can leave its pixels behind where it was (an application beneath that has
    not redrawn yet, or has hung), so every area masked in a frame of the last ``hold``
    seconds stays masked. The same holds when a setting shows more: an application let
    back in with ``/include`` appears ``hold`` seconds later.
    """

    def __init__(self, hold: float = limits.PRIVACY_HOLD_SECONDS) -> None:
        self.hold = hold
        self._key: tuple[object, ...] | None = None
        self._raw = NOTHING
        self._held: list[tuple[float, Mask]] = []  # distinct recent masks, last in force at

    def _compute(
        self, windows: Sequence[Window], settings: PrivacySettings, width: int, height: int
    ) -> Mask:
        key = (tuple(windows), settings.hide_desktop, settings.excluded, settings.only, width,
               height)  # fmt: skip
        if key != self._key:
            self._key, self._raw = key, compute_mask(windows, settings, width, height)
        return self._raw

    def _with_held(self, raw: Mask, now: float, keep: bool) -> Mask:
        held = [(at, mask) for at, mask in self._held if now - at <= self.hold and mask != raw]
        if keep:
            self._held = [*held, (now, raw)]
        if not held:
            return raw
        pieces = tuple(piece for _, mask in held for piece in mask.pieces) + raw.pieces
        return Mask(pieces, raw.hidden)

    def frame(
        self,
        windows: Sequence[Window],
        settings: PrivacySettings,
        width: int,
        height: int,
        now: float,
    ) -> Mask:
        """The mask of a frame captured now (and remembered for the hold)."""
        return self._with_held(self._compute(windows, settings, width, height), now, keep=True)

    def peek(
        self,
        windows: Sequence[Window],
        settings: PrivacySettings,
        width: int,
        height: int,
        now: float,
    ) -> Mask:
        """What is masked now, for checking input; changes nothing of the hold."""
        return self._with_held(self._compute(windows, settings, width, height), now, keep=False)


# Which remote input is dropped ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Focus:
    """Where keys go: the top-level window with the keyboard focus, or, when keys follow
    the pointer (X's PointerRoot), the pointer's position. Both None: nowhere."""

    window: int | None = None
    pointer: tuple[int, int] | None = None


POINTER_KINDS = frozenset({InputKind.POINTER_MOVE, InputKind.BUTTON, InputKind.WHEEL})


def input_refusal(
    event: InputEvent, settings: PrivacySettings, mask: Mask, focus: Callable[[], Focus]
) -> str | None:
    """Why the controller's ``event`` must not reach the screen, or None to inject it.
    ``focus`` is called only for keys and text, and only when something is hidden."""
    if event.kind in (InputKind.BUTTON, InputKind.KEY) and not event.pressed:
        return None  # a release: lets go of what the controller holds, nothing more
    if settings.mode is ShareMode.PAUSED:
        return "the share is paused"
    if settings.mode is ShareMode.HIDDEN:
        return "the screen is hidden"
    if not settings.needs_windows:
        return None
    if event.kind in POINTER_KINDS:
        if mask.covers(event.x, event.y):
            return f"({event.x}, {event.y}) is in a masked part of the screen"
        return None
    where = focus()
    if where.window is not None:
        if where.window in mask.hidden:
            return "the keyboard focus is in a hidden window"
        return None
    if where.pointer is not None and mask.covers(*where.pointer):
        return "keys go to the window under the pointer, which is masked"
    return None
