"""When a viewer asks the relay for one video layer or both (screen/video.py LayerChoice,
docs/protocol.md §4.1): the golden cases of tests/vectors/video_layers.json, which the
browser's twin (js/video.js) must decide alike (tests/web/video.test.mjs)."""

from __future__ import annotations

import json
from pathlib import Path

from relaydesk import limits
from relaydesk.screen.video import LayerChoice

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "video_layers.json"


def test_the_golden_cases() -> None:
    cases = json.loads(VECTORS.read_text(encoding="utf-8"))["cases"]
    assert len(cases) >= 3
    for case in cases:
        choice = LayerChoice()
        asks = [choice.observe(sent, now) for sent, now in case["frames"]]
        assert asks == case["asks"], case["name"]


def test_late_frames_ask_for_layer_0_then_on_time_ones_for_both() -> None:
    choice = LayerChoice()
    now, sent = 100.0, 7_000
    asks = []
    for n in range(10):  # on time
        asks.append(choice.observe(sent + 33 * n, now + 0.033 * n))
    assert asks == [None] * 10
    late = [choice.observe(sent + 33 * n, now + 0.033 * n + 0.5) for n in range(10, 13)]
    assert late == [None, None, 1] and choice.layers == 1
    t = now + 13 * 0.033
    back = []
    while t < now + 13 * 0.033 + limits.VIDEO_CATCH_UP_SECONDS + 0.1:
        n = round((t - now) / 0.033)
        back.append(choice.observe(sent + 33 * n, t))
        t += 0.033
    assert back.count(limits.VIDEO_LAYERS) == 1 and choice.layers == limits.VIDEO_LAYERS
