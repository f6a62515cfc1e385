// Remote control from the browser: once the presenter has said yes, the mouse and the
// keyboard on the shared screen become INPUT_EVENTs to the presenter (docs/protocol.md
// §4.2), in the presenter's screen pixels whatever the canvas is scaled to.
//
// Printable characters typed without Control, Alt or Meta go as TEXT: the presenter's
// side types exactly that character, whatever its keyboard layout. Every other key goes
// as KEY with its X11 keysym and the modifiers held. Modifier keys alone are not sent:
// each action carries the modifiers held with it.

import { InputKind, Modifier } from "./protocol/index.js";

const MAX_WHEEL_STEPS = 100;
const WHEEL_PIXELS_PER_STEP = 100; // what one notch of a mouse wheel scrolls in browsers
const UNICODE_KEYSYM_BASE = 0x01000000;

// KeyboardEvent.key names to X11 keysyms (X11/keysymdef.h).
const KEYSYMS = new Map([
  ["Enter", 0xff0d], ["Backspace", 0xff08], ["Tab", 0xff09], ["Escape", 0xff1b],
  ["Delete", 0xffff], ["Insert", 0xff63], ["Home", 0xff50], ["End", 0xff57],
  ["PageUp", 0xff55], ["PageDown", 0xff56], ["ArrowLeft", 0xff51], ["ArrowUp", 0xff52],
  ["ArrowRight", 0xff53], ["ArrowDown", 0xff54], ["ContextMenu", 0xff67],
  ["CapsLock", 0xffe5], ["NumLock", 0xff7f], ["ScrollLock", 0xff14], ["Pause", 0xff13],
  ["PrintScreen", 0xff61],
  ...Array.from({ length: 12 }, (_, i) => [`F${i + 1}`, 0xffbe + i]),
]);
const MODIFIER_KEYS = new Set(["Shift", "Control", "Alt", "Meta", "AltGraph", "OS"]);
const BUTTONS = new Map([[0, 1], [1, 2], [2, 3]]); // MouseEvent.button -> X button

/** The modifier bits of a mouse or keyboard event. */
export function modifiersOf(event) {
  return (event.shiftKey ? Modifier.SHIFT : 0) | (event.ctrlKey ? Modifier.CONTROL : 0)
    | (event.altKey ? Modifier.ALT : 0) | (event.metaKey ? Modifier.META : 0);
}

/** The X11 keysym for a KeyboardEvent.key, or 0 if it has none. */
export function keysymFor(key) {
  const named = KEYSYMS.get(key);
  if (named !== undefined) return named;
  const points = [...key];
  if (points.length !== 1) return 0;
  const code = points[0].codePointAt(0);
  if ((code >= 0x20 && code <= 0x7e) || (code >= 0xa0 && code <= 0xff)) return code;
  if (code < 0xa0) return 0;
  return UNICODE_KEYSYM_BASE + code;
}

/**
 * What a key press or release sends: TEXT for a printable character typed without
 * Control, Alt or Meta (on press only), KEY otherwise, null for nothing.
 */
export function keyInput(event, pressed) {
  if (MODIFIER_KEYS.has(event.key) || event.isComposing) return null;
  const modifiers = modifiersOf(event);
  const printable = [...event.key].length === 1;
  if (printable && !(modifiers & (Modifier.CONTROL | Modifier.ALT | Modifier.META))) {
    return pressed ? { kind: InputKind.TEXT, text: event.key } : null;
  }
  const keysym = keysymFor(event.key);
  if (!keysym) return null;
  return { kind: InputKind.KEY, keysym, pressed, modifiers };
}

/**
 * A point of the page (clientX, clientY) as a pixel of the presenter's screen, for a
 * canvas drawn in `box` (its bounding rectangle) with object-fit: contain; null when
 * the point is outside the picture.
 */
export function screenPoint(clientX, clientY, box, width, height) {
  const scale = Math.min(box.width / width, box.height / height);
  if (!(scale > 0)) return null;
  const left = box.left + (box.width - width * scale) / 2;
  const top = box.top + (box.height - height * scale) / 2;
  const x = Math.floor((clientX - left) / scale);
  const y = Math.floor((clientY - top) / scale);
  if (x < 0 || y < 0 || x >= width || y >= height) return null;
  return { x, y };
}

/** Wheel steps (positive: down or right) for a WheelEvent's delta, at most 100. */
export function wheelSteps(delta, deltaMode) {
  if (delta === 0) return 0;
  const notches = deltaMode === 0 ? delta / WHEEL_PIXELS_PER_STEP : delta / 3; // pixels, lines
  const steps = Math.sign(delta) * Math.max(1, Math.round(Math.abs(notches)));
  return Math.max(-MAX_WHEEL_STEPS, Math.min(MAX_WHEEL_STEPS, steps));
}

/** The canvas as the controller's input surface, while this member holds control. */
export class RemoteControl {
  /** @param {HTMLCanvasElement} canvas @param {(event: object) => void} send */
  constructor(canvas, send) {
    this.canvas = canvas;
    this.send = send;
    this.active = false;
    this.pendingMove = null;
    this.frame = 0;
    const on = (type, handler) => canvas.addEventListener(type, (e) => this.active && handler(e));
    on("mousemove", (e) => this.move(e));
    on("mousedown", (e) => this.button(e, true));
    on("mouseup", (e) => this.button(e, false));
    on("wheel", (e) => this.wheel(e));
    on("contextmenu", (e) => e.preventDefault());
    on("keydown", (e) => this.key(e, true));
    on("keyup", (e) => this.key(e, false));
  }

  start() {
    this.active = true;
    this.canvas.tabIndex = 0;
    this.canvas.classList.add("controlling");
    this.canvas.focus();
  }

  stop() {
    this.active = false;
    this.pendingMove = null;
    this.canvas.removeAttribute("tabindex");
    this.canvas.classList.remove("controlling");
  }

  point(event) {
    const box = this.canvas.getBoundingClientRect();
    return screenPoint(event.clientX, event.clientY, box, this.canvas.width, this.canvas.height);
  }

  // Moves are many: one per animation frame is enough, the latest one.
  move(event) {
    const point = this.point(event);
    if (!point) return;
    this.pendingMove = point;
    if (!this.frame) {
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.flushMove();
      });
    }
  }

  flushMove() {
    if (this.pendingMove) {
      this.send({ kind: InputKind.POINTER_MOVE, ...this.pendingMove });
      this.pendingMove = null;
    }
  }

  button(event, pressed) {
    const button = BUTTONS.get(event.button);
    const point = this.point(event);
    if (button === undefined || !point) return;
    event.preventDefault();
    if (pressed) this.canvas.focus();
    this.flushMove();
    this.send({ kind: InputKind.BUTTON, ...point, button, pressed, modifiers: modifiersOf(event) });
  }

  wheel(event) {
    const point = this.point(event);
    if (!point) return;
    event.preventDefault();
    const dx = wheelSteps(event.deltaX, event.deltaMode);
    const dy = wheelSteps(event.deltaY, event.deltaMode);
    if (!dx && !dy) return;
    this.flushMove();
    this.send({ kind: InputKind.WHEEL, ...point, dx, dy, modifiers: modifiersOf(event) });
  }

  key(event, pressed) {
    const input = keyInput(event, pressed);
    if (!MODIFIER_KEYS.has(event.key)) event.preventDefault(); // Tab, Backspace… act there
    if (!input) return;
    this.flushMove();
    this.send(input);
  }
}
