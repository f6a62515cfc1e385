// The shared screen in a canvas: applies SCREEN_UPDATE messages (docs/protocol.md §4.1).
//
// Every tile of an update is decoded first (pixels: js/tiles.js); only if all decode is
// anything drawn, so a bad update leaves the picture exactly as it was (TileError), as in
// the Python viewer.
// VIDEO_FRAME messages (H.264 of a video-like region) are decoded with WebCodecs and
// drawn over their region: see js/video.js. Updates and video frames are applied
// strictly in the order they came.

import { VideoRegion } from "./video.js";
import { COPY, JPEG, PNG, TileError, tilePixels } from "./tiles.js";

export { TileError };

const MAX_SCREEN_PIXELS = 32 * 1024 * 1024;
const MAX_UPDATE_AREA_FACTOR = 2;

async function decodeImage(tile, type) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(new Blob([tile.data], { type }));
  } catch {
    throw new TileError(`an image tile does not decode`);
  }
  if (bitmap.width !== tile.width || bitmap.height !== tile.height) {
    bitmap.close();
    throw new TileError("an image tile is not the size it announces");
  }
  return bitmap;
}

async function decodeTile(tile) {
  switch (tile.encoding) {
    case PNG:
      return { tile, bitmap: await decodeImage(tile, "image/png") };
    case JPEG:
      return { tile, bitmap: await decodeImage(tile, "image/jpeg") };
    case COPY: {
      if (tile.data.length !== 8) throw new TileError("a COPY tile carries 8 bytes");
      const view = new DataView(tile.data.buffer, tile.data.byteOffset, 8);
      return { tile, source: { x: view.getUint32(0), y: view.getUint32(4) } };
    }
    default: {
      // RAW, ZLIB, FILL, ZLIB_GREY (js/tiles.js); null: an encoding nobody knows.
      const rgba = await tilePixels(tile);
      if (!rgba) throw new TileError(`unknown tile encoding ${tile.encoding}`);
      return { tile, image: new ImageData(rgba, tile.width, tile.height) };
    }
  }
}

export class ScreenCanvas {
  /** @param {HTMLCanvasElement} canvas */
  constructor(canvas) {
    this.canvas = canvas;
    this.context = canvas.getContext("2d", { alpha: false });
    this.ready = false;
    this.queue = Promise.resolve(); // updates are applied strictly in order
    this.video = new VideoRegion(TileError);
  }

  /**
   * Decode one video frame after what came before it; resolves to {painted, lost}
   * (`lost`: the base layer broke and needs a keyframe, REFRESH), or throws TileError.
   */
  applyVideo(frame) {
    const next = this.queue.then(() => {
      if (!this.ready) throw new TileError("a video frame before any full picture");
      return this.video.apply(frame, this.context, this.canvas.width, this.canvas.height);
    });
    this.queue = next.catch(() => {});
    return next;
  }

  /** Apply one update after the ones before it; resolves to true, or throws TileError. */
  apply(update) {
    const next = this.queue.then(() => this.#apply(update));
    this.queue = next.catch(() => {});
    return next;
  }

  async #apply(update) {
    const { width, height } = update;
    if (width * height > MAX_SCREEN_PIXELS) throw new TileError("the picture is too large");
    if (!update.full && !this.ready) throw new TileError("an update before any full picture");
    if (!update.full && (width !== this.canvas.width || height !== this.canvas.height)) {
      throw new TileError("an update for a picture of another size");
    }
    let area = 0;
    for (const tile of update.tiles) {
      if (tile.x + tile.width > width || tile.y + tile.height > height) {
        throw new TileError("a tile lies outside the picture");
      }
      area += tile.width * tile.height;
    }
    if (area > MAX_UPDATE_AREA_FACTOR * width * height) {
      throw new TileError("an update's tiles cover too much");
    }
    const decoded = await Promise.all(update.tiles.map(decodeTile));
    for (const { tile, source } of decoded) {
      if (source && (source.x + tile.width > width || source.y + tile.height > height)) {
        throw new TileError("a COPY source lies outside the picture");
      }
    }
    // All tiles are good: draw. COPY reads the picture as it was before this update.
    const ctx = this.context;
    if (update.full && (this.canvas.width !== width || this.canvas.height !== height)) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    if (update.full) this.video.reset(); // a whole picture: video starts again from keyframes
    const copies = decoded.filter((d) => d.source);
    if (copies.length) {
      const before = document.createElement("canvas");
      before.width = width;
      before.height = height;
      before.getContext("2d").drawImage(this.canvas, 0, 0);
      for (const { tile, source } of copies) {
        ctx.drawImage(before, source.x, source.y, tile.width, tile.height,
          tile.x, tile.y, tile.width, tile.height);
      }
    }
    for (const { tile, image, bitmap } of decoded) {
      if (image) ctx.putImageData(image, tile.x, tile.y);
      if (bitmap) {
        ctx.drawImage(bitmap, tile.x, tile.y);
        bitmap.close();
      }
    }
    this.ready = true;
    return true;
  }
}
