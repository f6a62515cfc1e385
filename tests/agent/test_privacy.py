"""The privacy rules (agent/privacy.py), as pure computation: which windows are hidden,
which pixels are masked (checked pixel by pixel against a plain rasterisation of the
window stack), the hold, which input is dropped. No X server here: test_windows.py reads
real windows and test_privacy_desktop.py masks real pictures."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from relaydesk import limits
from relaydesk.agent import privacy
from relaydesk.agent.privacy import (
    DESKTOP_RGB,
    MASK_RGB,
    Focus,
    Mask,
    PrivacyFilter,
    PrivacySettings,
    Verdict,
    Window,
    WindowKind,
    compute_mask,
    input_refusal,
    matches,
    verdicts,
)
from relaydesk.protocol.messages import InputEvent, InputKind, ShareMode, ShareState
from relaydesk.screen.picture import Rect

W, H = 64, 48


def win(
    id_: int, x: int, y: int, w: int, h: int, cls: str = "App", title: str = "", **more: object
) -> Window:
    return Window(id_, Rect(x, y, w, h), (cls.lower(), cls), title, **more)  # type: ignore[arg-type]


def masked_pixels(mask: Mask, width: int = W, height: int = H) -> np.ndarray:
    """The mask as booleans, one a pixel."""
    covered = np.zeros((height, width), bool)
    for rect in mask.rects:
        covered[rect.slices()] = True
    return covered


def oracle(windows: list[Window], settings: PrivacySettings) -> np.ndarray:
    """What must be masked, pixel by pixel: paint each window's verdict over what is below
    it, bottom to top, on a plain array."""
    fates = verdicts(windows, settings)
    bare = settings.hide_desktop or settings.only is not None
    masked = np.full((H, W), bare and settings.needs_windows)
    for window in windows:
        for part in window.area:
            x0, y0 = max(part.x, 0), max(part.y, 0)
            masked[y0 : max(part.bottom, 0), x0 : max(part.right, 0)] = (
                fates[window.id] is not Verdict.SHOWN
            )
    return masked


# Picking windows ------------------------------------------------------------------------


def test_a_pattern_is_a_whole_wm_class_part_or_part_of_the_title() -> None:
    window = Window(1, Rect(0, 0, 1, 1), ("xterm", "XTerm"), "Bank — account 1234")
    assert matches(window, "XTerm")
    assert matches(window, "xterm")
    assert matches(window, "  XTERM ")
    assert not matches(window, "term")  # no part of a class name
    assert matches(window, "bank")
    assert matches(window, "account 12")
    assert not matches(window, "savings")
    assert not matches(Window(2, Rect(0, 0, 1, 1)), "")


def test_exclusion_takes_dialogs_along_and_wins_over_only() -> None:
    main = win(1, 0, 0, 10, 10, "Secret")
    dialog = win(2, 5, 5, 5, 5, "Other", transient_for=1)
    grandchild = win(3, 6, 6, 2, 2, "Other", transient_for=2)
    other = win(4, 20, 20, 5, 5, "Other")
    panel = win(5, 0, 40, 64, 8, "Panel", kind=WindowKind.DOCK)
    stack = [main, dialog, grandchild, other, panel]
    fates = verdicts(stack, PrivacySettings(excluded=("secret",)))
    assert [fates[w.id] for w in stack] == [Verdict.EXCLUDED] * 3 + [Verdict.SHOWN] * 2
    fates = verdicts(stack, PrivacySettings(excluded=("Secret",), only="Secret"))
    assert fates[1] is fates[2] is Verdict.EXCLUDED
    assert fates[4] is fates[5] is Verdict.OUTSIDE
    fates = verdicts(stack, PrivacySettings(only="Other", hide_desktop=True))
    assert fates[1] is Verdict.OUTSIDE and fates[4] is Verdict.SHOWN
    assert verdicts(stack, PrivacySettings(hide_desktop=True))[5] is Verdict.DESKTOP
    strut = win(6, 0, 0, 64, 4, "Bar", strut=True)
    assert verdicts([strut], PrivacySettings(hide_desktop=True))[6] is Verdict.DESKTOP


def test_transient_cycles_end() -> None:
    a = win(1, 0, 0, 5, 5, "A", transient_for=2)
    b = win(2, 0, 0, 5, 5, "B", transient_for=1)
    assert verdicts([a, b], PrivacySettings(excluded=("A",))) == {
        1: Verdict.EXCLUDED,
        2: Verdict.EXCLUDED,
    }


# Masking ----------------------------------------------------------------------------


def test_nothing_is_masked_without_a_choice() -> None:
    assert compute_mask([win(1, 0, 0, 10, 10)], PrivacySettings(), W, H) == privacy.NOTHING


def test_a_window_above_an_excluded_one_is_shown_where_it_covers_it() -> None:
    secret = win(1, 10, 10, 30, 20, "Secret")
    above = win(2, 20, 15, 30, 20, "Other")
    settings = PrivacySettings(excluded=("Secret",))
    covered = masked_pixels(compute_mask([secret, above], settings, W, H))
    wanted = np.zeros((H, W), bool)
    wanted[10:30, 10:40] = True
    wanted[15:35, 20:50] = False
    assert np.array_equal(covered, wanted)
    # Raised above the other, it is masked whole.
    covered = masked_pixels(compute_mask([above, secret], settings, W, H))
    wanted = np.zeros((H, W), bool)
    wanted[10:30, 10:40] = True
    assert np.array_equal(covered, wanted)


def test_a_shaped_window_covers_only_its_shape() -> None:
    """A round window (xeyes) above an excluded one: the excluded window shows through
    its shape's holes, so they are masked."""
    secret = win(1, 0, 0, 40, 40, "Secret")
    ring = (Rect(10, 10, 20, 5), Rect(10, 25, 20, 5))  # two bars, a hole in between
    eyes = win(2, 10, 10, 20, 20, "XEyes", shape=ring)
    covered = masked_pixels(
        compute_mask([secret, eyes], PrivacySettings(excluded=("Secret",)), W, H)
    )
    assert not covered[12, 15] and not covered[27, 15]
    assert covered[20, 15]  # the hole


def test_the_bare_desktop_and_panels_get_the_desktop_colour() -> None:
    app = win(1, 10, 10, 20, 20, "App")
    panel = win(2, 0, 0, W, 5, "Panel", kind=WindowKind.DOCK)
    mask = compute_mask([app, panel], PrivacySettings(hide_desktop=True), W, H)
    covered = masked_pixels(mask)
    assert covered.sum() == W * H - 20 * 20
    assert {rgb for _, rgb in mask.pieces} == {DESKTOP_RGB}
    assert mask.hidden == frozenset({2})


def test_one_application_only_masks_all_else_and_what_covers_it() -> None:
    app = win(1, 10, 10, 30, 30, "Shared")
    above = win(2, 30, 30, 20, 10, "Other")
    mask = compute_mask([app, above], PrivacySettings(only="Shared"), W, H)
    covered = masked_pixels(mask)
    shown = np.zeros((H, W), bool)
    shown[10:40, 10:40] = True
    shown[30:40, 30:50] = False
    assert np.array_equal(~covered, shown)
    assert mask.hidden == frozenset({2})
    colours = {rect: rgb for rect, rgb in mask.pieces}
    assert colours[Rect(30, 30, 20, 10)] == MASK_RGB  # a window over it, as a window


windows_strategy = st.lists(
    st.builds(
        lambda i, x, y, w, h, cls, kind, shaped: Window(
            i,
            Rect(x, y, w, h),
            (cls.lower(), cls),
            f"title {cls}",
            kind,
            shape=(Rect(x, y, w // 2 + 1, h), Rect(x + w - 2, y + h // 2, 2, h - h // 2))
            if shaped
            else None,
        ),
        st.integers(1, 10_000),
        st.integers(-20, W),
        st.integers(-20, H),
        st.integers(1, 50),
        st.integers(1, 40),
        st.sampled_from(["A", "B", "C"]),
        st.sampled_from(WindowKind),
        st.booleans(),
    ),
    max_size=12,
    unique_by=lambda window: window.id,
)
settings_strategy = st.builds(
    PrivacySettings,
    hide_desktop=st.booleans(),
    excluded=st.lists(st.sampled_from(["A", "B", "title c"]), max_size=2, unique=True).map(tuple),
    only=st.none() | st.sampled_from(["A", "B", "C"]),
)


@given(windows_strategy, settings_strategy)
def test_the_mask_is_exactly_the_stack_painted_pixel_by_pixel(
    windows: list[Window], settings: PrivacySettings
) -> None:
    mask = compute_mask(windows, settings, W, H)
    assert np.array_equal(masked_pixels(mask), oracle(windows, settings))
    for rect in mask.rects:  # disjoint and on the screen
        assert 0 <= rect.x < rect.right <= W and 0 <= rect.y < rect.bottom <= H
    assert sum(rect.area for rect in mask.rects) == int(masked_pixels(mask).sum())


@pytest.mark.parametrize("limit", ["MAX_MASK_PIECES", "MAX_MASK_RECTS"])
def test_too_much_to_compute_masks_the_whole_screen(
    limit: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, limit, 5)
    grid = [
        win(i, (i % 8) * 8 + 1, (i // 8) * 8 + 1, 5, 5, "Secret" if i % 2 else "App")
        for i in range(20)
    ]
    mask = compute_mask(grid, PrivacySettings(excluded=("Secret",)), W, H)
    assert mask.rects == (Rect(0, 0, W, H),)
    assert mask.hidden == frozenset(range(1, 20, 2))


def test_paint_replaces_masked_pixels_with_their_colour_only() -> None:
    picture = np.full((H, W, 4), 7, np.uint8)
    mask = Mask(((Rect(1, 2, 3, 4), 0x123456), (Rect(10, 10, 2, 2), DESKTOP_RGB)))
    mask.paint(picture)
    assert picture[2:6, 1:4].tolist() == [[[0x56, 0x34, 0x12, 0xFF]] * 3] * 4
    assert (picture[10:12, 10:12, :3] == [DESKTOP_RGB & 0xFF, (DESKTOP_RGB >> 8) & 0xFF,
                                          DESKTOP_RGB >> 16]).all()  # fmt: skip
    untouched = np.ones((H, W), bool)
    untouched[2:6, 1:4] = untouched[10:12, 10:12] = False
    assert (picture[untouched] == 7).all()


# The hold ---------------------------------------------------------------------------------


def test_where_a_hidden_window_was_stays_masked_for_the_hold() -> None:
    settings = PrivacySettings(excluded=("Secret",))
    hold = limits.PRIVACY_HOLD_SECONDS
    at_a = [win(1, 0, 0, 10, 10, "Secret")]
    at_b = [win(1, 30, 30, 10, 10, "Secret")]
    masks = PrivacyFilter()
    assert masks.frame(at_a, settings, W, H, now=100.0).rects == (Rect(0, 0, 10, 10),)
    moved = masks.frame(at_b, settings, W, H, now=100.1)
    assert set(moved.rects) == {Rect(0, 0, 10, 10), Rect(30, 30, 10, 10)}
    assert masks.peek(at_b, settings, W, H, now=100.0 + hold).rects == moved.rects
    later = masks.frame(at_b, settings, W, H, now=100.0 + hold + 0.01)
    assert later.rects == (Rect(30, 30, 10, 10),)
    # Let back in: shown once the hold is over.
    shown = PrivacySettings()
    now = 100.0 + hold + 0.02
    assert masks.frame(at_b, shown, W, H, now=now).rects == (Rect(30, 30, 10, 10),)
    assert masks.frame(at_b, shown, W, H, now=now + hold + 0.01).rects == ()


def test_peeking_changes_nothing_of_the_hold() -> None:
    settings = PrivacySettings(excluded=("Secret",))
    masks = PrivacyFilter()
    masks.frame([win(1, 0, 0, 10, 10, "Secret")], settings, W, H, now=1.0)
    masks.peek([win(1, 40, 0, 10, 10, "Secret")], settings, W, H, now=1.05)
    after = masks.frame([win(1, 20, 0, 10, 10, "Secret")], settings, W, H, now=1.1)
    assert set(after.rects) == {Rect(0, 0, 10, 10), Rect(20, 0, 10, 10)}


# Settings -----------------------------------------------------------------------------


def test_settings_and_what_viewers_are_told() -> None:
    settings = PrivacySettings()
    assert settings.share_state() == ShareState(ShareMode.LIVE, False, False) == privacy.LIVE
    settings = settings.exclude("Secret").exclude(" secret ")  # the same, once
    assert settings.excluded == ("Secret",)
    assert settings.share_state() == ShareState(ShareMode.LIVE, False, True)
    paused = dataclasses.replace(settings.share_only("Term"), mode=ShareMode.PAUSED)
    assert paused.share_state() == ShareState(ShareMode.PAUSED, True, True)
    assert settings.include("SECRET").excluded == ()
    with pytest.raises(ValueError, match="not excluded"):
        settings.include("Other")
    with pytest.raises(ValueError, match="name an application"):
        settings.exclude("  ")
    with pytest.raises(ValueError, match="at most"):
        settings.exclude("x" * (limits.MAX_PRIVACY_PATTERN_CHARS + 1))
    full = PrivacySettings(excluded=tuple(f"app{i}" for i in range(limits.MAX_PRIVACY_PATTERNS)))
    with pytest.raises(ValueError, match="excluded applications"):
        full.exclude("one more")
    assert "excluded: Secret" in settings.describe()


# Input --------------------------------------------------------------------------------

SECRET_MASK = Mask(((Rect(10, 10, 20, 20), MASK_RGB),), frozenset({1}))
EXCLUDING = PrivacySettings(excluded=("Secret",))


def never() -> Focus:
    raise AssertionError("the focus is read only for keys and text")


@pytest.mark.parametrize(
    ("event", "refused"),
    [
        (InputEvent(InputKind.POINTER_MOVE, x=15, y=15), True),
        (InputEvent(InputKind.POINTER_MOVE, x=30, y=15), False),  # just outside
        (InputEvent(InputKind.BUTTON, x=15, y=15, button=1, pressed=True), True),
        (InputEvent(InputKind.BUTTON, x=15, y=15, button=1, pressed=False), False),  # release
        (InputEvent(InputKind.WHEEL, x=29, y=29, dy=3), True),
        (InputEvent(InputKind.WHEEL, x=5, y=5, dy=3), False),
    ],
)
def test_pointer_input_over_a_masked_area_is_dropped(event: InputEvent, refused: bool) -> None:
    reason = input_refusal(event, EXCLUDING, SECRET_MASK, never)
    assert (reason is not None) == refused
    if refused:
        assert "masked" in reason


def test_keys_follow_the_focus() -> None:
    key = InputEvent(InputKind.KEY, keysym=0x61, pressed=True)
    text = InputEvent(InputKind.TEXT, text="hi")
    for event in (key, text):
        assert input_refusal(event, EXCLUDING, SECRET_MASK, lambda: Focus(window=1))
        assert input_refusal(event, EXCLUDING, SECRET_MASK, lambda: Focus(window=2)) is None
        assert input_refusal(event, EXCLUDING, SECRET_MASK, lambda: Focus(pointer=(12, 12)))
        assert input_refusal(event, EXCLUDING, SECRET_MASK, lambda: Focus(pointer=(1, 1))) is None
        assert input_refusal(event, EXCLUDING, SECRET_MASK, Focus) is None  # keys go nowhere
    release = InputEvent(InputKind.KEY, keysym=0x61, pressed=False)
    assert input_refusal(release, EXCLUDING, SECRET_MASK, lambda: Focus(window=1)) is None


def test_nothing_reaches_a_paused_or_hidden_screen_but_releases() -> None:
    for mode, why in ((ShareMode.PAUSED, "paused"), (ShareMode.HIDDEN, "hidden")):
        settings = PrivacySettings(mode=mode)
        for event in (
            InputEvent(InputKind.POINTER_MOVE, x=1, y=1),
            InputEvent(InputKind.KEY, keysym=0x61, pressed=True),
            InputEvent(InputKind.TEXT, text="x"),
        ):
            assert why in (input_refusal(event, settings, privacy.NOTHING, never) or "")
        release = InputEvent(InputKind.BUTTON, x=1, y=1, button=1, pressed=False)
        assert input_refusal(release, settings, privacy.NOTHING, never) is None
    live = InputEvent(InputKind.KEY, keysym=0x61, pressed=True)
    assert input_refusal(live, PrivacySettings(), privacy.NOTHING, never) is None
