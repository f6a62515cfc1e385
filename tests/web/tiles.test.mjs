// The browser viewer's tile pixels (js/tiles.js): every tile of tiles.json paints the
// pixels screen/framebuffer.py paints, and every invalid one is a TileError; plus the
// encoder's own output for the encodings a typed character takes (FILL, ZLIB_GREY).

import { test } from "node:test";
import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";

import { TileEncoding } from "../../src/relaydesk/web/static/js/protocol/messages.js";
import * as tiles from "../../src/relaydesk/web/static/js/tiles.js";
import { h, load, toHex } from "./helpers.mjs";

const TILES = load("tiles.json");

function tileOf(c) {
  return { x: 0, y: 0, width: c.width, height: c.height, encoding: c.encoding_code, data: h(c.data) };
}

function bgrOf(rgba) {
  const out = new Uint8Array((rgba.length / 4) * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    out[j] = rgba[i + 2];
    out[j + 1] = rgba[i + 1];
    out[j + 2] = rgba[i];
    assert.equal(rgba[i + 3], 255, "opaque");
  }
  return out;
}

test("the encodings' codes are the protocol's", () => {
  for (const name of ["RAW", "ZLIB", "PNG", "JPEG", "COPY", "FILL", "ZLIB_GREY"]) {
    assert.equal(tiles[name], TileEncoding[name], name);
  }
  for (const c of [...TILES.valid, ...TILES.invalid]) {
    assert.equal(TileEncoding[c.encoding], c.encoding_code, c.name);
  }
});

test("every valid tile of tiles.json paints its pixels", async () => {
  assert.ok(TILES.valid.some((c) => c.encoding === "FILL"));
  assert.ok(TILES.valid.some((c) => c.encoding === "ZLIB_GREY"));
  for (const c of TILES.valid) {
    const rgba = await tiles.tilePixels(tileOf(c));
    assert.equal(rgba.length, c.width * c.height * 4, c.name);
    assert.equal(toHex(bgrOf(rgba)), c.pixels, c.name);
  }
});

test("every invalid tile of tiles.json is a TileError", async () => {
  assert.ok(TILES.invalid.length >= 8);
  for (const c of TILES.invalid) {
    assert.equal(c.error, "TileError");
    await assert.rejects(tiles.tilePixels(tileOf(c)), tiles.TileError, c.name);
  }
});

test("adler32 is RFC 1950's", () => {
  assert.equal(tiles.adler32(new TextEncoder().encode("Wikipedia")), 0x11e60398);
  assert.equal(tiles.adler32(new Uint8Array(0)), 1);
  const big = new Uint8Array(100000).fill(255); // many reductions
  const data = deflateSync(big);
  assert.equal(tiles.adler32(big), new DataView(data.buffer, data.byteOffset + data.length - 4).getUint32(0));
});

test("a ZLIB_GREY bomb stops at the tile's size", async () => {
  const bomb = deflateSync(new Uint8Array(16 * 1024 * 1024), { level: 9 });
  const tile = { x: 0, y: 0, width: 64, height: 64, encoding: TileEncoding.ZLIB_GREY, data: bomb };
  await assert.rejects(tiles.tilePixels(tile), /more than its size/);
});

test("grey levels and a fill colour come out as opaque RGBA", async () => {
  const levels = Uint8Array.from([0, 17, 128, 255, 3, 200]);
  const grey = { width: 3, height: 2, encoding: TileEncoding.ZLIB_GREY, data: deflateSync(levels) };
  assert.deepEqual([...(await tiles.tilePixels(grey))], [...levels].flatMap((l) => [l, l, l, 255]));
  const fill = { width: 2, height: 2, encoding: TileEncoding.FILL, data: Uint8Array.of(1, 2, 3) };
  assert.deepEqual([...(await tiles.tilePixels(fill))], [3, 2, 1, 255, 3, 2, 1, 255, 3, 2, 1, 255, 3, 2, 1, 255]);
  assert.throws(() => tiles.greyToRgba(new Uint8Array(5), 3, 2), tiles.TileError);
  for (const encoding of [TileEncoding.PNG, TileEncoding.JPEG, TileEncoding.COPY, 99]) {
    assert.equal(await tiles.tilePixels({ width: 1, height: 1, encoding, data: new Uint8Array(8) }), null);
  }
});
