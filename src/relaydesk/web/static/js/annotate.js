// Drawing on the shared screen (docs/protocol.md §4.4): an overlay canvas over the
// picture, in the presenter's screen pixels (the same size as the picture canvas, laid
// out in the same box with object-fit: contain), so every stroke sits on the same spot
// of the picture in every viewer whatever its scale or letterboxing.
//
// Strokes are kept per sender and by stroke id; a `clear` from a sender removes only
// that sender's strokes. While drawing mode is on, the overlay takes the pointer (and
// remote control, on the canvas below, gets nothing): one stroke per press, sent sealed
// as one ANNOTATION when the pointer is released.

import { screenPoint } from "./control.js";
import { AnnotationKind, limits } from "./protocol/index.js";

export const PEN_WIDTH = 4;
export const HIGHLIGHT_WIDTH = 24;
export const HIGHLIGHT_ALPHA = 0.35;
export const COLORS = [
  [0xe53935, "Red"],
  [0x1e88e5, "Blue"],
  [0x43a047, "Green"],
  [0xfdd835, "Yellow"],
  [0x111111, "Black"],
];

/** 0xRRGGBB -> "#rrggbb". */
export function colorCss(color) {
  return `#${color.toString(16).padStart(6, "0")}`;
}

/** The line width a tool draws with, in presenter pixels. */
export function widthFor(kind) {
  return kind === AnnotationKind.HIGHLIGHT ? HIGHLIGHT_WIDTH : PEN_WIDTH;
}

/** Draw one stroke ({kind, color, width, points}) on a 2D context in presenter pixels. */
export function drawStroke(context, stroke) {
  const { points } = stroke;
  if (!points.length) return;
  context.save();
  context.strokeStyle = colorCss(stroke.color);
  context.fillStyle = colorCss(stroke.color);
  context.lineWidth = stroke.width;
  context.lineCap = "round";
  context.lineJoin = "round";
  context.globalAlpha = stroke.kind === AnnotationKind.HIGHLIGHT ? HIGHLIGHT_ALPHA : 1;
  context.beginPath();
  if (stroke.kind === AnnotationKind.ARROW) {
    const from = points[0];
    const to = points[points.length - 1];
    context.moveTo(from.x + 0.5, from.y + 0.5);
    context.lineTo(to.x + 0.5, to.y + 0.5);
    context.stroke();
    const angle = Math.atan2(to.y - from.y, to.x - from.x);
    const head = Math.max(10, stroke.width * 4);
    context.beginPath();
    context.moveTo(to.x + 0.5, to.y + 0.5);
    for (const side of [-1, 1]) {
      context.lineTo(
        to.x + 0.5 - head * Math.cos(angle + side * Math.PI / 7),
        to.y + 0.5 - head * Math.sin(angle + side * Math.PI / 7),
      );
    }
    context.closePath();
    context.fill();
  } else if (points.length === 1) {
    context.arc(points[0].x + 0.5, points[0].y + 0.5, stroke.width / 2, 0, 2 * Math.PI);
    context.fill();
  } else {
    context.moveTo(points[0].x + 0.5, points[0].y + 0.5);
    for (const point of points.slice(1)) context.lineTo(point.x + 0.5, point.y + 0.5);
    context.stroke();
  }
  context.restore();
}

/** The overlay, everyone's strokes on it, and this member's own drawing. */
export class Annotations {
  /**
   * @param {HTMLCanvasElement} overlay @param {HTMLCanvasElement} picture
   * @param {(message: object) => Promise<void>} send  seals and sends one ANNOTATION
   * @param {() => number} me  this member's id (its own strokes are kept under it)
   */
  constructor(overlay, picture, send, me) {
    this.overlay = overlay;
    this.picture = picture;
    this.send = send;
    this.me = me;
    this.strokes = new Map(); // sender -> Map(strokeId -> stroke)
    this.drawing = false;
    this.current = null; // the stroke being drawn
    this.tool = { kind: AnnotationKind.PEN, color: COLORS[0][0] };
    this.nextId = 1 + Math.floor(Math.random() * 0x7fffffff);
    overlay.addEventListener("pointerdown", (e) => this.down(e));
    overlay.addEventListener("pointermove", (e) => this.move(e));
    overlay.addEventListener("pointerup", (e) => this.up(e));
    overlay.addEventListener("pointercancel", () => this.cancel());
    new ResizeObserver(() => this.place()).observe(picture);
  }

  /** Keep the overlay exactly over the picture, at the picture's pixel size. */
  place() {
    const { overlay, picture } = this;
    if (overlay.width !== picture.width || overlay.height !== picture.height) {
      overlay.width = picture.width;
      overlay.height = picture.height;
      this.redraw();
    }
    overlay.hidden = picture.hidden;
    overlay.style.left = `${picture.offsetLeft}px`;
    overlay.style.top = `${picture.offsetTop}px`;
    overlay.style.width = `${picture.offsetWidth}px`;
    overlay.style.height = `${picture.offsetHeight}px`;
  }

  /** An ANNOTATION from `sender` (already checked: it may draw). */
  apply(sender, message) {
    if (message.clear) {
      this.strokes.delete(sender);
    } else {
      if (!this.strokes.has(sender)) this.strokes.set(sender, new Map());
      this.strokes.get(sender).set(message.strokeId, {
        kind: message.kind ?? AnnotationKind.PEN,
        color: message.color,
        width: message.width,
        points: message.points,
      });
    }
    this.redraw();
  }

  /** How many strokes `sender` has on the screen now. */
  count(sender) {
    return this.strokes.get(sender)?.size ?? 0;
  }

  /** Everyone's strokes go (a new presenter: another screen). */
  clearAll() {
    this.strokes.clear();
    this.cancel();
    this.redraw();
  }

  /** A member left: their strokes go with them. */
  forget(sender) {
    if (this.strokes.delete(sender)) this.redraw();
  }

  redraw() {
    const context = this.overlay.getContext("2d");
    context.clearRect(0, 0, this.overlay.width, this.overlay.height);
    for (const strokes of this.strokes.values()) {
      for (const stroke of strokes.values()) drawStroke(context, stroke);
    }
    if (this.current) drawStroke(context, this.current);
  }

  // This member's own drawing -------------------------------------------------------

  setDrawing(on) {
    this.drawing = on;
    this.overlay.classList.toggle("drawing", on);
    if (!on) this.cancel();
  }

  /** Wipe this member's own strokes, here and for everyone. */
  clearMine() {
    this.strokes.delete(this.me());
    this.redraw();
    return this.send({ strokeId: 0, color: 0, width: 1, points: [], clear: true, kind: AnnotationKind.PEN });
  }

  point(event) {
    const box = this.overlay.getBoundingClientRect();
    return screenPoint(event.clientX, event.clientY, box, this.overlay.width, this.overlay.height);
  }

  down(event) {
    if (!this.drawing || event.button !== 0) return;
    const point = this.point(event);
    if (!point) return;
    event.preventDefault();
    this.overlay.setPointerCapture?.(event.pointerId);
    const { kind, color } = this.tool;
    this.current = { kind, color, width: widthFor(kind), points: [point] };
    this.redraw();
  }

  move(event) {
    if (!this.current) return;
    const point = this.point(event);
    if (!point) return;
    const { points } = this.current;
    const last = points[points.length - 1];
    if (last.x === point.x && last.y === point.y) return;
    if (this.current.kind === AnnotationKind.ARROW) points[1] = point;
    else if (points.length < limits.MAX_ANNOTATION_POINTS) points.push(point);
    this.redraw();
  }

  up(event) {
    if (!this.current) return;
    this.move(event);
    const stroke = this.current;
    this.current = null;
    if (stroke.kind === AnnotationKind.ARROW && stroke.points.length < 2) {
      this.redraw();
      return; // an arrow needs a direction
    }
    const strokeId = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    const mine = this.me();
    if (!this.strokes.has(mine)) this.strokes.set(mine, new Map());
    this.strokes.get(mine).set(strokeId, stroke);
    this.redraw();
    this.send({ strokeId, color: stroke.color, width: stroke.width, points: stroke.points, clear: false, kind: stroke.kind })
      .catch((error) => console.warn("relaydesk: stroke not sent:", error.message));
  }

  cancel() {
    if (!this.current) return;
    this.current = null;
    this.redraw();
  }
}
