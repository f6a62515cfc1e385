// The browser presenter's encoder (js/screencast.js): tiles that changed, ZLIB that
// inflates with zlib (what both viewers use), sizes that match the real encoder, and
// updates within the limits. The capture itself is tested in Chromium
// (tests/browser/test_browser_present.py).

import { test } from "node:test";
import assert from "node:assert/strict";
import { inflateSync } from "node:zlib";

import {
  TILE,
  SEALING_OVERHEAD,
  changedRects,
  chunks,
  cut,
  encodeUpdates,
  encodedSize,
  packUpdates,
  rgbaToBgrx,
  sameBytes,
} from "../../src/relaydesk/web/static/js/screencast.js";
import { decodeMessage, encodeMessage, TileEncoding } from "../../src/relaydesk/web/static/js/protocol/messages.js";
import { FrameType } from "../../src/relaydesk/web/static/js/protocol/frames.js";
import { MAX_TILES_PER_UPDATE } from "../../src/relaydesk/web/static/js/protocol/limits.js";

/** A BGRX picture whose pixel (x, y) is `colour(x, y)` = [b, g, r]. */
function picture(width, height, colour) {
  const out = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [b, g, r] = colour(x, y);
      out.set([b, g, r, 0xff], (y * width + x) * 4);
    }
  }
  return out;
}

/** The BGRX pixels of a RAW, ZLIB or FILL tile, as a viewer decodes them. */
function tileBgrx(tile) {
  if (tile.encoding === TileEncoding.ZLIB) return inflateSync(tile.data);
  if (tile.encoding === TileEncoding.FILL) {
    assert.equal(tile.data.length, 3);
    const out = new Uint8Array(tile.width * tile.height * 4);
    for (let i = 0; i < out.length; i += 4) out.set([...tile.data, 0xff], i);
    return out;
  }
  assert.equal(tile.encoding, TileEncoding.RAW);
  return tile.data;
}

/** Apply updates to a BGRX picture as a viewer does (RAW, ZLIB and FILL tiles). */
function apply(target, width, updates) {
  for (const update of updates) {
    for (const tile of update.tiles) {
      const pixels = tileBgrx(tile);
      assert.equal(pixels.length, tile.width * tile.height * 4);
      for (let row = 0; row < tile.height; row++) {
        const from = row * tile.width * 4;
        target.set(pixels.subarray(from, from + tile.width * 4), ((tile.y + row) * width + tile.x) * 4);
      }
    }
  }
  return target;
}

const noise = (x, y) => [(x * 7 + y * 13) & 0xff, (x * y) & 0xff, (x ^ y) & 0xff];

test("RGBA from a canvas becomes BGRX with the fourth byte 0xFF", () => {
  const bgrx = [3, 2, 1, 255, 30, 20, 10, 255];
  assert.deepEqual([...rgbaToBgrx(Uint8Array.from([1, 2, 3, 0, 10, 20, 30, 40]))], bgrx);
  const unaligned = new Uint8Array(new ArrayBuffer(9), 1, 8); // the byte-by-byte path
  unaligned.set([1, 2, 3, 0, 10, 20, 30, 40]);
  assert.deepEqual([...rgbaToBgrx(unaligned)], bgrx);
});

test("equal pictures change nothing; one pixel changes one tile", () => {
  const a = picture(200, 130, noise);
  assert.ok(sameBytes(a, a.slice()));
  assert.ok(!sameBytes(a, a.subarray(4)));
  assert.deepEqual(changedRects(a, a.slice(), 200, 130), []);
  const b = a.slice();
  b[(70 * 200 + 150) * 4] ^= 1;
  assert.ok(!sameBytes(a, b));
  assert.deepEqual(changedRects(a, b, 200, 130), [{ x: 128, y: 64, width: 64, height: 64 }]);
  b[(129 * 200 + 199) * 4] ^= 1; // the clipped corner tile
  assert.deepEqual(changedRects(a, b, 200, 130).at(-1), { x: 192, y: 128, width: 8, height: 2 });
});

test("neighbouring changed tiles in a row of tiles are one rectangle", () => {
  const a = picture(320, 64, () => [0, 0, 0]);
  const b = a.slice();
  for (const x of [10, 70, 140, 300]) b[(5 * 320 + x) * 4 + 1] = 9;
  assert.deepEqual(changedRects(a, b, 320, 64), [
    { x: 0, y: 0, width: 192, height: 64 },
    { x: 256, y: 0, width: 64, height: 64 },
  ]);
});

test("a full picture, then a change: the viewer's copy equals the picture", async () => {
  const width = 300, height = 170;
  const first = picture(width, height, noise);
  const full = await encodeUpdates(null, first, width, height);
  assert.equal(full.length, 1);
  assert.equal(full[0].full, true);
  const viewer = apply(new Uint8Array(first.length), width, full);
  assert.deepEqual(viewer, first);
  const second = first.slice();
  for (let x = 100; x < 140; x++) second.set([1, 2, 3, 255], (120 * width + x) * 4);
  const delta = await encodeUpdates(first, second, width, height);
  assert.equal(delta.length, 1);
  assert.equal(delta[0].full, false);
  assert.deepEqual(apply(viewer, width, delta), second);
  assert.deepEqual(await encodeUpdates(second, second.slice(), width, height), []);
});

test("flat colour goes as FILL, smooth pixels as ZLIB, incompressible ones as RAW", async () => {
  const flat = picture(64, 64, () => [40, 50, 60]);
  const [update] = await encodeUpdates(null, flat, 64, 64);
  assert.equal(update.tiles[0].encoding, TileEncoding.FILL);
  assert.deepEqual([...update.tiles[0].data], [40, 50, 60]); // blue, green, red
  const stripes = picture(64, 64, (x) => (x % 2 ? [40, 50, 60] : [41, 50, 60]));
  const [striped] = await encodeUpdates(null, stripes, 64, 64);
  assert.equal(striped.tiles[0].encoding, TileEncoding.ZLIB);
  assert.ok(striped.tiles[0].data.length < 1000);
  assert.deepEqual(apply(new Uint8Array(64 * 64 * 4), 64, [striped]), stripes);
  const random = new Uint8Array(64 * 64 * 4).map(() => Math.floor(Math.random() * 256));
  const [noisy] = await encodeUpdates(null, random, 64, 64);
  assert.equal(noisy.tiles[0].encoding, TileEncoding.RAW);
  assert.deepEqual(noisy.tiles[0].data, random);
});

test("encodedSize is the real encoder's length, and updates decode as messages", async () => {
  const width = 700, height = 300;
  const a = picture(width, height, noise);
  const b = picture(width, height, (x, y) => noise(x + 1, y));
  for (const update of [...await encodeUpdates(null, a, width, height), ...await encodeUpdates(a, b, width, height)]) {
    const bytes = encodeMessage(update);
    assert.equal(encodedSize(update), bytes.length);
    const decoded = decodeMessage(FrameType.SCREEN_UPDATE, bytes);
    assert.equal(decoded.tiles.length, update.tiles.length);
  }
});

test("a small body splits the picture over several updates, each within it; one says full", async () => {
  const width = 256, height = 256;
  const random = new Uint8Array(width * height * 4).map(() => Math.floor(Math.random() * 256));
  const maxBody = 40_000;
  const updates = await encodeUpdates(null, random, width, height, maxBody);
  assert.ok(updates.length > 5, `${updates.length} updates`);
  assert.deepEqual(updates.map((u) => u.full), [true, ...Array(updates.length - 1).fill(false)]);
  for (const update of updates) assert.ok(encodeMessage(update).length + SEALING_OVERHEAD <= maxBody);
  assert.deepEqual(apply(new Uint8Array(random.length), width, updates), random);
});

test("at most MAX_TILES_PER_UPDATE tiles and two screens of area an update", () => {
  const tile = { x: 0, y: 0, width: 1, height: 1, encoding: TileEncoding.RAW, data: new Uint8Array(4) };
  const many = packUpdates(Array(MAX_TILES_PER_UPDATE + 5).fill(tile), 100, 100, false);
  assert.deepEqual(many.map((u) => u.tiles.length), [MAX_TILES_PER_UPDATE, 5]);
  const whole = { ...tile, width: 10, height: 10, data: new Uint8Array(400) };
  const area = packUpdates([whole, whole, whole], 10, 10, true);
  assert.deepEqual(area.map((u) => [u.tiles.length, u.full]), [[2, true], [1, false]]);
});

test("chunks cover a rectangle exactly, each within the pixel limit", () => {
  const rect = { x: 3, y: 5, width: 100, height: 33 };
  const pieces = [...chunks(rect, 1000)];
  assert.equal(pieces.reduce((sum, r) => sum + r.width * r.height, 0), 3300);
  assert.ok(pieces.every((r) => r.width * r.height <= 1000));
  const wide = [...chunks({ x: 0, y: 0, width: 50, height: 2 }, 20)];
  assert.deepEqual(wide.map((r) => [r.x, r.y, r.width]), [[0, 0, 20], [20, 0, 20], [40, 0, 10], [0, 1, 20], [20, 1, 20], [40, 1, 10]]);
  assert.equal(cut(picture(4, 4, noise), 4, { x: 1, y: 1, width: 2, height: 2 }).length, 16);
  assert.equal(TILE, 64);
});

test("the page asks for at most SCREEN_FPS, video only, and says why a capture failed", async () => {
  const { CAPTURE_OPTIONS, captureFailure } = await import("../../src/relaydesk/web/static/js/present.js");
  const { SCREEN_FPS } = await import("../../src/relaydesk/web/static/js/screencast.js");
  assert.equal(CAPTURE_OPTIONS.video.frameRate.max, SCREEN_FPS);
  assert.equal(CAPTURE_OPTIONS.audio, false);
  const cancelled = new DOMException("Permission denied by user", "NotAllowedError");
  assert.equal(captureFailure(cancelled), "No screen was chosen in the browser's picker, so nothing is shared.");
  assert.match(captureFailure(new DOMException("no source", "NotReadableError")), /could not capture/);
  assert.match(captureFailure(new Error("odd")), /odd|cannot share a screen/);
});
