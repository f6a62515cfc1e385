// The pixels of a screen tile (docs/protocol.md §4.1, TileEncoding), as the canvas's RGBA.
//
// Pure: no DOM (its tests run under `node --test`, tests/web/tiles.test.mjs, on the
// tiles of tests/vectors/tiles.json that screen/framebuffer.py decodes too). Every tile
// is checked as strictly as in the Python viewer: RAW is exactly width x height x 4
// bytes; ZLIB inflates to exactly that, ZLIB_GREY to exactly width x height (one grey
// level a pixel), never more (no bombs), nothing after the stream; FILL is one colour,
// 3 bytes. Anything else is a TileError.

export class TileError extends Error {
  constructor(message) {
    super(message);
    this.name = "TileError";
  }
}

export const RAW = 0, ZLIB = 1, PNG = 2, JPEG = 3, COPY = 4, FILL = 5, ZLIB_GREY = 6;

// BGRX (blue, green, red, unused) to RGBA, opaque.
export function bgrxToRgba(bytes, width, height) {
  if (bytes.length !== width * height * 4) {
    throw new TileError(`tile pixels are ${bytes.length} bytes, not ${width * height * 4}`);
  }
  const rgba = new Uint8ClampedArray(bytes.length);
  for (let i = 0; i < bytes.length; i += 4) {
    rgba[i] = bytes[i + 2];
    rgba[i + 1] = bytes[i + 1];
    rgba[i + 2] = bytes[i];
    rgba[i + 3] = 255;
  }
  return rgba;
}

// One grey level a pixel (blue = green = red) to RGBA, opaque.
export function greyToRgba(levels, width, height) {
  if (levels.length !== width * height) {
    throw new TileError(`grey tile pixels are ${levels.length} bytes, not ${width * height}`);
  }
  const rgba = new Uint8ClampedArray(levels.length * 4);
  for (let i = 0, j = 0; i < levels.length; i++, j += 4) {
    const level = levels[i];
    rgba[j] = level;
    rgba[j + 1] = level;
    rgba[j + 2] = level;
    rgba[j + 3] = 255;
  }
  return rgba;
}

// A FILL tile's colour (blue, green, red) over the whole tile, RGBA, opaque.
export function fillRgba(colour, width, height) {
  if (colour.length !== 3) throw new TileError(`FILL data is 3 bytes, got ${colour.length}`);
  const rgba = new Uint8ClampedArray(width * height * 4);
  const word = new Uint32Array(rgba.buffer);
  const bytes = Uint8Array.of(colour[2], colour[1], colour[0], 255);
  word.fill(new Uint32Array(bytes.buffer)[0]); // the same byte order in both views
  return rgba;
}

// Adler-32 (RFC 1950 §9) of `bytes`.
export function adler32(bytes) {
  let a = 1, b = 0;
  for (let i = 0; i < bytes.length; ) {
    const end = Math.min(bytes.length, i + 3800); // a and b stay below 2^32 between reductions
    for (; i < end; i++) {
      a += bytes[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

// zlib (RFC 1950), stopping as soon as more than `expected` bytes come out: no bombs.
// The stream must end the data: its last 4 bytes are the Adler-32 of what came out
// (DecompressionStream checks that checksum, but not every runtime refuses bytes after
// the stream: Node 20 does not).
export async function inflate(data, expected) {
  const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream("deflate"));
  const reader = stream.getReader();
  const out = new Uint8Array(expected);
  let filled = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (filled + value.length > expected) {
        throw new TileError("a zlib tile inflates to more than its size");
      }
      out.set(value, filled);
      filled += value.length;
    }
  } catch (error) {
    if (error instanceof TileError) throw error;
    throw new TileError("a zlib tile does not inflate");
  } finally {
    reader.cancel().catch(() => {});
  }
  if (filled !== expected) throw new TileError("a zlib tile inflates to fewer bytes than its size");
  const end = data.length >= 4 ? new DataView(data.buffer, data.byteOffset + data.length - 4, 4) : null;
  if (!end || end.getUint32(0) !== adler32(out)) {
    throw new TileError("bytes after the zlib data of a tile");
  }
  return out;
}

/**
 * The RGBA pixels (Uint8ClampedArray, width x height x 4) of a RAW, ZLIB, FILL or
 * ZLIB_GREY tile, or null for the other encodings (images and COPY, which the canvas
 * decodes or reads itself). Throws TileError for bad data.
 */
export async function tilePixels(tile) {
  const { width, height, data } = tile;
  switch (tile.encoding) {
    case RAW:
      return bgrxToRgba(data, width, height);
    case ZLIB:
      return bgrxToRgba(await inflate(data, width * height * 4), width, height);
    case FILL:
      return fillRgba(data, width, height);
    case ZLIB_GREY:
      return greyToRgba(await inflate(data, width * height), width, height);
    default:
      return null;
  }
}
