// The browser presenter's encoder (docs/screen.md, "Presenting from a browser"): what
// changed between two captured pictures, as SCREEN_UPDATE messages every viewer decodes
// (docs/protocol.md §4.1), the same tile encodings as the Python presenter.
//
// A picture is BGRX (blue, green, red, 0xFF), 4 bytes a pixel, rows top to bottom: what
// TileEncoding.RAW carries. The picture is compared in 64x64 tiles; each row of tiles
// gives runs of changed tiles, each run one rectangle, sent as FILL when it is one
// colour, else ZLIB (RFC 1950, what CompressionStream("deflate") makes) or RAW when zlib
// does not help. Updates keep
// within MAX_FRAME_BODY once sealed, MAX_TILES_PER_UPDATE tiles and MAX_UPDATE_AREA_FACTOR
// screens. Pure computation (and CompressionStream): runs in Node for the tests.

import { MAX_FRAME_BODY, MAX_TILES_PER_UPDATE, MAX_UPDATE_AREA_FACTOR } from "./protocol/limits.js";
import { FrameType } from "./protocol/frames.js";
import { TileEncoding } from "./protocol/messages.js";

export const TILE = 64;
export const SCREEN_FPS = 30; // limits.SCREEN_FPS: at most this many pictures a second
export const SEALING_OVERHEAD = 16 + 64; // the AES-GCM tag and the Ed25519 signature
export const CHUNK_BYTES = 1024 * 1024; // largest tile, in raw BGRX bytes (as codec.py)
const MAX_RUN_WIDTH = CHUNK_BYTES / (TILE * 4); // 4096 pixels: a 64-row run fits a chunk
const MAX_TILE_FIELDS = 1 + 4 * 3 + 1 + 5; // fixarray, four ints < 65536, encoding, bin32

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** The canvas's RGBA (ImageData.data) as a new BGRX picture, the fourth byte 0xFF. */
export function rgbaToBgrx(rgba) {
  const out = new Uint8Array(rgba.length);
  if (LITTLE_ENDIAN && rgba.byteOffset % 4 === 0) { // a pixel a word: 4 times fewer steps
    const from = new Uint32Array(rgba.buffer, rgba.byteOffset, rgba.length >> 2);
    const to = new Uint32Array(out.buffer);
    for (let i = 0; i < from.length; i++) {
      const word = from[i];
      to[i] = 0xff000000 | ((word & 0xff) << 16) | (word & 0xff00) | ((word >>> 16) & 0xff);
    }
    return out;
  }
  for (let i = 0; i < rgba.length; i += 4) {
    out[i] = rgba[i + 2];
    out[i + 1] = rgba[i + 1];
    out[i + 2] = rgba[i];
    out[i + 3] = 0xff;
  }
  return out;
}

const words = (bytes) => new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2);

/** Two pictures (RGBA or BGRX, whole pixels) hold the same bytes. */
export function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  const x = words(a);
  const y = words(b);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/**
 * The rectangles that changed from `previous` to `current` (both BGRX of `width` x
 * `height`): in each row of 64x64 tiles, every run of changed tiles (at most
 * MAX_RUN_WIDTH pixels wide) is one rectangle. Equal pictures give [].
 */
export function changedRects(previous, current, width, height) {
  const a = words(previous);
  const b = words(current);
  const columns = Math.ceil(width / TILE);
  const rects = [];
  for (let ty = 0; ty < height; ty += TILE) {
    const rows = Math.min(TILE, height - ty);
    const changed = new Uint8Array(columns);
    for (let y = ty; y < ty + rows; y++) {
      const start = y * width;
      for (let column = 0; column < columns; column++) {
        if (changed[column]) continue;
        const from = start + column * TILE;
        const to = start + Math.min(width, (column + 1) * TILE);
        for (let i = from; i < to; i++) {
          if (a[i] !== b[i]) {
            changed[column] = 1;
            break;
          }
        }
      }
    }
    let column = 0;
    while (column < columns) {
      if (!changed[column]) {
        column++;
        continue;
      }
      const first = column;
      while (column < columns && changed[column] && (column - first) * TILE < MAX_RUN_WIDTH) column++;
      const x = first * TILE;
      rects.push({ x, y: ty, width: Math.min(width, column * TILE) - x, height: rows });
    }
  }
  return rects;
}

/** The BGRX bytes of one rectangle of a picture `width` pixels wide. */
export function cut(picture, width, rect) {
  const out = new Uint8Array(rect.width * rect.height * 4);
  const rowBytes = rect.width * 4;
  for (let row = 0; row < rect.height; row++) {
    const from = ((rect.y + row) * width + rect.x) * 4;
    out.set(picture.subarray(from, from + rowBytes), row * rowBytes);
  }
  return out;
}

/** zlib (RFC 1950) of `bytes`, by the platform's CompressionStream. */
export async function deflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Blue, green, red when every pixel of `bgrx` has that colour, else null. */
export function oneColour(bgrx) {
  const [b, g, r] = bgrx;
  for (let i = 0; i < bgrx.length; i += 4) {
    if (bgrx[i] !== b || bgrx[i + 1] !== g || bgrx[i + 2] !== r) return null;
  }
  return Uint8Array.of(b, g, r);
}

/** One rectangle as a Tile: FILL when it is one colour, else ZLIB, or RAW when zlib is
 * not smaller. */
export async function encodeTile(picture, width, rect) {
  const raw = cut(picture, width, rect);
  const colour = oneColour(raw);
  if (colour) {
    return { x: rect.x, y: rect.y, width: rect.width, height: rect.height, encoding: TileEncoding.FILL, data: colour };
  }
  const zlib = await deflate(raw);
  const [encoding, data] = zlib.length < raw.length ? [TileEncoding.ZLIB, zlib] : [TileEncoding.RAW, raw];
  return { x: rect.x, y: rect.y, width: rect.width, height: rect.height, encoding, data };
}

// Sizes in MessagePack, as src/relaydesk/screen/codec.py computes them ------------------

function uintSize(value) {
  if (value < 0x80) return 1;
  if (value <= 0xff) return 2;
  if (value <= 0xffff) return 3;
  return value <= 0xffffffff ? 5 : 9;
}

const binSize = (length) => length + (length <= 0xff ? 2 : length <= 0xffff ? 3 : 5);
const arrayHeaderSize = (count) => (count < 16 ? 1 : count <= 0xffff ? 3 : 5);

/** Bytes a tile takes in an encoded ScreenUpdate. */
export function tileSize(tile) {
  const numbers = [tile.x, tile.y, tile.width, tile.height, tile.encoding];
  return 1 + numbers.reduce((sum, value) => sum + uintSize(value), 0) + binSize(tile.data.length);
}

/** `encodeMessage(update).length`, computed without encoding. */
export function encodedSize(update) {
  const header = 1 + uintSize(update.width) + uintSize(update.height) + 1;
  const tiles = update.tiles.reduce((sum, tile) => sum + tileSize(tile), 0);
  return header + arrayHeaderSize(update.tiles.length) + tiles;
}

/** Bytes of an update's tiles, at most, so that it stays within `maxBody` once sealed. */
export function tileBudget(width, height, maxBody = MAX_FRAME_BODY) {
  const header = 1 + uintSize(width) + uintSize(height) + 1 + arrayHeaderSize(0xffff);
  return maxBody - SEALING_OVERHEAD - header;
}

/** Split a rectangle into pieces of at most `maxPixels` pixels (bands of whole rows). */
export function* chunks(rect, maxPixels) {
  if (rect.width <= maxPixels) {
    const rows = Math.max(1, Math.floor(maxPixels / rect.width));
    for (let y = rect.y; y < rect.y + rect.height; y += rows) {
      yield { x: rect.x, y, width: rect.width, height: Math.min(rows, rect.y + rect.height - y) };
    }
    return;
  }
  for (let y = rect.y; y < rect.y + rect.height; y++) {
    for (let x = rect.x; x < rect.x + rect.width; x += maxPixels) {
      yield { x, y, width: Math.min(maxPixels, rect.x + rect.width - x), height: 1 };
    }
  }
}

/**
 * Tiles into SCREEN_UPDATE messages, in order, each within the byte budget, the tile
 * count limit and the area limit. Only the first update of a full picture says `full`.
 */
export function packUpdates(tiles, width, height, full, maxBody = MAX_FRAME_BODY) {
  const budget = tileBudget(width, height, maxBody);
  const maxArea = MAX_UPDATE_AREA_FACTOR * width * height;
  const updates = [];
  let batch = [];
  let size = 0;
  let area = 0;
  const flush = () => {
    updates.push({ type: FrameType.SCREEN_UPDATE, width, height, full: full && updates.length === 0, tiles: batch });
    batch = [];
    size = 0;
    area = 0;
  };
  for (const tile of tiles) {
    const bytes = tileSize(tile);
    const pixels = tile.width * tile.height;
    if (batch.length && (size + bytes > budget || area + pixels > maxArea || batch.length === MAX_TILES_PER_UPDATE)) {
      flush();
    }
    batch.push(tile);
    size += bytes;
    area += pixels;
  }
  if (batch.length) flush();
  return updates;
}

/**
 * The updates that bring a viewer from `previous` to `current` (BGRX, `width` x
 * `height`): a full picture when `previous` is null (a keyframe: send the first with
 * Flags.KEYFRAME), [] when nothing changed, else the changed rectangles.
 */
export async function encodeUpdates(previous, current, width, height, maxBody = MAX_FRAME_BODY) {
  if (current.length !== width * height * 4) throw new RangeError("the picture is not width x height BGRX");
  const budget = tileBudget(width, height, maxBody);
  const maxPixels = Math.floor(Math.min(CHUNK_BYTES, budget - MAX_TILE_FIELDS) / 4);
  if (maxPixels < 1) throw new RangeError(`maxBody ${maxBody} cannot hold a tile of one pixel`);
  const full = previous === null;
  const rects = full ? [{ x: 0, y: 0, width, height }] : changedRects(previous, current, width, height);
  const pieces = rects.flatMap((rect) => [...chunks(rect, maxPixels)]);
  // All tiles compress at once (the streams overlap), and stay in order.
  const tiles = await Promise.all(pieces.map((piece) => encodeTile(current, width, piece)));
  return packUpdates(tiles, width, height, full, maxBody);
}
