// Drawing on the shared screen (js/annotate.js): colours, widths, and what a stroke draws
// on a 2D context, recorded by a fake context. The overlay on a real canvas, in every
// viewer, is tested in Chromium (tests/browser/test_annotation.py).

import { test } from "node:test";
import assert from "node:assert/strict";

import {
  HIGHLIGHT_ALPHA,
  HIGHLIGHT_WIDTH,
  PEN_WIDTH,
  colorCss,
  drawStroke,
  widthFor,
} from "../../src/relaydesk/web/static/js/annotate.js";
import { AnnotationKind } from "../../src/relaydesk/web/static/js/protocol/messages.js";

function recorder() {
  const calls = [];
  const context = { calls };
  for (const name of ["save", "restore", "beginPath", "moveTo", "lineTo", "stroke", "fill", "closePath", "arc"]) {
    context[name] = (...args) => calls.push([name, ...args]);
  }
  return context;
}

test("colours are CSS hex, six digits", () => {
  assert.equal(colorCss(0xe53935), "#e53935");
  assert.equal(colorCss(0x0000ff), "#0000ff");
  assert.equal(colorCss(0), "#000000");
});

test("the highlighter is wide, the pen and the arrow are not", () => {
  assert.equal(widthFor(AnnotationKind.HIGHLIGHT), HIGHLIGHT_WIDTH);
  assert.equal(widthFor(AnnotationKind.PEN), PEN_WIDTH);
  assert.equal(widthFor(AnnotationKind.ARROW), PEN_WIDTH);
});

test("a pen stroke is the polyline, opaque; a highlight the same, translucent", () => {
  const points = [{ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 10, y: 10 }];
  const pen = recorder();
  drawStroke(pen, { kind: AnnotationKind.PEN, color: 0xff0000, width: 4, points });
  assert.equal(pen.globalAlpha, 1);
  assert.equal(pen.lineWidth, 4);
  assert.equal(pen.strokeStyle, "#ff0000");
  assert.deepEqual(pen.calls.filter(([n]) => n === "lineTo").length, 2);
  const highlight = recorder();
  drawStroke(highlight, { kind: AnnotationKind.HIGHLIGHT, color: 0xffff00, width: 24, points });
  assert.equal(highlight.globalAlpha, HIGHLIGHT_ALPHA);
  assert.equal(highlight.lineWidth, 24);
});

test("an arrow goes from the first point to the last, with a filled head", () => {
  const arrow = recorder();
  drawStroke(arrow, { kind: AnnotationKind.ARROW, color: 0x1e88e5, width: 4,
    points: [{ x: 0, y: 0 }, { x: 50, y: 50 }, { x: 100, y: 0 }] });
  const moves = arrow.calls.filter(([n]) => n === "moveTo");
  assert.deepEqual(moves[0], ["moveTo", 0.5, 0.5]);
  assert.deepEqual(arrow.calls.find(([n]) => n === "lineTo"), ["lineTo", 100.5, 0.5]);
  assert.ok(arrow.calls.some(([n]) => n === "fill"));
});

test("nothing is drawn for a stroke without points", () => {
  const empty = recorder();
  drawStroke(empty, { kind: AnnotationKind.PEN, color: 0, width: 1, points: [] });
  assert.deepEqual(empty.calls, []);
});
