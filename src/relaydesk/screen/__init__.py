"""The screen pipeline: capture, changed regions, lossless encoding, the viewer's picture.

``capture`` is the only module that talks to an X server (``xvfb`` starts one for tests
and benchmarks); ``diff``, ``codec`` and ``framebuffer`` are pure computation on numpy
arrays of shape (height, width, 4), dtype uint8, bytes in BGRX order (docs/screen.md).
"""

from __future__ import annotations

from relaydesk.screen.codec import encode_update
from relaydesk.screen.diff import changed_rects, find_vertical_scroll
from relaydesk.screen.framebuffer import FrameBuffer
from relaydesk.screen.picture import Picture, Rect

__all__ = [
    "FrameBuffer",
    "Picture",
    "Rect",
    "changed_rects",
    "encode_update",
    "find_vertical_scroll",
]
