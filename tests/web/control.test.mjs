// Remote control from the browser (js/control.js): keys to keysyms, page points to
// presenter pixels, wheel deltas to steps. The wiring to a real canvas is tested in
// Chromium (tests/remote/test_browser_control.py).

import { test } from "node:test";
import assert from "node:assert/strict";

import {
  keyInput,
  keysymFor,
  modifiersOf,
  screenPoint,
  wheelSteps,
} from "../../src/relaydesk/web/static/js/control.js";
import { InputKind, Modifier } from "../../src/relaydesk/web/static/js/protocol/messages.js";

const key = (name, mods = {}) => ({ key: name, isComposing: false, ...mods });

test("keysyms: named keys, Latin-1 code points, Unicode keysyms, none for the rest", () => {
  assert.equal(keysymFor("Enter"), 0xff0d);
  assert.equal(keysymFor("ArrowLeft"), 0xff51);
  assert.equal(keysymFor("F1"), 0xffbe);
  assert.equal(keysymFor("F12"), 0xffc9);
  assert.equal(keysymFor("a"), 0x61);
  assert.equal(keysymFor(" "), 0x20);
  assert.equal(keysymFor("é"), 0xe9);
  assert.equal(keysymFor("€"), 0x01000000 + 0x20ac);
  assert.equal(keysymFor("😀"), 0x01000000 + 0x1f600); // one code point, two UTF-16 units
  assert.equal(keysymFor("Dead"), 0);
  assert.equal(keysymFor("Unidentified"), 0);
  assert.equal(keysymFor("\u0007"), 0);
});

test("printable characters go as TEXT, exactly, on press only", () => {
  assert.deepEqual(keyInput(key("A", { shiftKey: true }), true), {
    kind: InputKind.TEXT, text: "A",
  });
  assert.deepEqual(keyInput(key("ß"), true), { kind: InputKind.TEXT, text: "ß" });
  assert.equal(keyInput(key("A", { shiftKey: true }), false), null);
});

test("shortcuts and named keys go as KEY with their modifiers, press and release", () => {
  assert.deepEqual(keyInput(key("c", { ctrlKey: true }), true), {
    kind: InputKind.KEY, keysym: 0x63, pressed: true, modifiers: Modifier.CONTROL,
  });
  assert.deepEqual(keyInput(key("Tab", { altKey: true, shiftKey: true }), false), {
    kind: InputKind.KEY, keysym: 0xff09, pressed: false,
    modifiers: Modifier.ALT | Modifier.SHIFT,
  });
  assert.deepEqual(keyInput(key("Enter"), true), {
    kind: InputKind.KEY, keysym: 0xff0d, pressed: true, modifiers: 0,
  });
});

test("modifier keys alone, composition and unknown keys send nothing", () => {
  for (const name of ["Shift", "Control", "Alt", "Meta", "AltGraph"]) {
    assert.equal(keyInput(key(name), true), null);
  }
  assert.equal(keyInput(key("a", { isComposing: true }), true), null);
  assert.equal(keyInput(key("Dead", { ctrlKey: true }), true), null);
});

test("modifier bits follow the protocol's Modifier values", () => {
  assert.equal(modifiersOf({}), 0);
  assert.equal(
    modifiersOf({ shiftKey: true, ctrlKey: true, altKey: true, metaKey: true }),
    Modifier.SHIFT | Modifier.CONTROL | Modifier.ALT | Modifier.META,
  );
});

test("page points map to presenter pixels through the canvas's scale", () => {
  // 1920x1080 shown in a 960x540 box at (100, 50): half size.
  const box = { left: 100, top: 50, width: 960, height: 540 };
  assert.deepEqual(screenPoint(100, 50, box, 1920, 1080), { x: 0, y: 0 });
  assert.deepEqual(screenPoint(580, 320, box, 1920, 1080), { x: 960, y: 540 });
  assert.deepEqual(screenPoint(1059.9, 589.9, box, 1920, 1080), { x: 1919, y: 1079 });
  assert.equal(screenPoint(1060, 300, box, 1920, 1080), null);
  assert.equal(screenPoint(99, 300, box, 1920, 1080), null);
});

test("letterboxed canvases (object-fit: contain) map only the picture", () => {
  // 640x480 in a 1000x480 box: the picture is 640 wide, centred (180 px each side).
  const box = { left: 0, top: 0, width: 1000, height: 480 };
  assert.equal(screenPoint(179, 10, box, 640, 480), null);
  assert.deepEqual(screenPoint(180, 10, box, 640, 480), { x: 0, y: 10 });
  assert.deepEqual(screenPoint(819, 479, box, 640, 480), { x: 639, y: 479 });
  assert.equal(screenPoint(820, 10, box, 640, 480), null);
  assert.equal(screenPoint(5, 5, { left: 0, top: 0, width: 0, height: 0 }, 640, 480), null);
});

test("wheel deltas become whole steps, at least one, at most 100", () => {
  assert.equal(wheelSteps(0, 0), 0);
  assert.equal(wheelSteps(100, 0), 1);
  assert.equal(wheelSteps(4, 0), 1); // a touchpad's small delta still scrolls
  assert.equal(wheelSteps(-250, 0), -3);
  assert.equal(wheelSteps(3, 1), 1); // lines
  assert.equal(wheelSteps(-9, 1), -3);
  assert.equal(wheelSteps(1e9, 0), 100);
  assert.equal(wheelSteps(-1e9, 1), -100);
});
