"""What members drew on the shared screen (ANNOTATION, docs/protocol.md §4.4), kept per
sender and drawn over a picture the way the browser's overlay draws them
(js/annotate.js): pen and highlight as polylines with round joins, highlight at 35 %
opacity, an arrow as a line with a filled head at its last point.

Receivers decide who may draw before a stroke gets here (client/member.py)."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from relaydesk.protocol.messages import Annotation, AnnotationKind

HIGHLIGHT_ALPHA = 0.35


class Drawings:
    """Every member's strokes on the current presenter's screen."""

    def __init__(self) -> None:
        self.strokes: dict[int, dict[int, Annotation]] = {}

    def apply(self, sender: int, annotation: Annotation) -> None:
        """A stroke from ``sender``, or (``clear``) the end of all of its strokes."""
        if annotation.clear:
            self.strokes.pop(sender, None)
        elif annotation.points:
            self.strokes.setdefault(sender, {})[annotation.stroke_id] = annotation

    def count(self, sender: int) -> int:
        return len(self.strokes.get(sender, {}))

    def forget(self, sender: int) -> None:
        self.strokes.pop(sender, None)

    def clear_all(self) -> None:
        self.strokes.clear()

    def __len__(self) -> int:
        return sum(len(strokes) for strokes in self.strokes.values())

    def draw_over(self, rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """A copy of the (height, width, 3) picture with every stroke drawn over it."""
        image = Image.fromarray(rgb).convert("RGBA")
        for strokes in self.strokes.values():
            for stroke in strokes.values():
                layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
                _draw(ImageDraw.Draw(layer), stroke)
                if stroke.kind is AnnotationKind.HIGHLIGHT:
                    alpha = layer.getchannel("A").point(lambda a: round(a * HIGHLIGHT_ALPHA))
                    layer.putalpha(alpha)
                image = Image.alpha_composite(image, layer)
        return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def _draw(draw: ImageDraw.ImageDraw, stroke: Annotation) -> None:
    color = ((stroke.color >> 16) & 0xFF, (stroke.color >> 8) & 0xFF, stroke.color & 0xFF, 255)
    points = [(p.x + 0.5, p.y + 0.5) for p in stroke.points]
    width = stroke.width
    if stroke.kind is AnnotationKind.ARROW:
        start, end = points[0], points[-1]
        draw.line([start, end], fill=color, width=width)
        angle = math.atan2(end[1] - start[1], end[0] - start[0])
        head = max(10.0, width * 4.0)
        wings = [
            (
                end[0] - head * math.cos(angle + side * math.pi / 7),
                end[1] - head * math.sin(angle + side * math.pi / 7),
            )
            for side in (-1, 1)
        ]
        draw.polygon([end, *wings], fill=color)
        return
    radius = width / 2
    if len(points) > 1:
        draw.line(points, fill=color, width=width, joint="curve")
    for x, y in (points[0], points[-1]) if len(points) > 1 else points:  # round caps
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=color)
