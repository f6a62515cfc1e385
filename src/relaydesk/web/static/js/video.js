// A video-like region of the shared screen: VIDEO_FRAME messages (docs/protocol.md §4.1)
// decoded with WebCodecs' VideoDecoder and drawn over their region of the canvas.
//
// Frame n of a stream is in layer n % VIDEO_LAYERS; each layer is an H.264 stream of its
// own with a decoder of its own, and predicts only from its own previous frame. A layer
// whose chain broke (the relay dropped a frame for this viewer, or a frame was bad)
// decodes nothing until its next keyframe, so a broken picture is never drawn. A frame is
// drawn only when it is newer than the one shown. As in the Python viewer (screen/h264.py,
// screen/video.py), the H.264 data is checked before a decoder sees it: start codes, only
// the NAL unit types relaydesk sends, SPS and PPS in keyframes only; and a decoded picture
// must be exactly the region's size.

import {
  VIDEO_BEHIND_FRAMES,
  VIDEO_BEHIND_MS,
  VIDEO_CATCH_UP_SECONDS,
  VIDEO_DELAY_WINDOW_SECONDS,
  VIDEO_LAYERS,
} from "./protocol/limits.js";

const NAL_SLICE = 1, NAL_IDR = 5, NAL_SEI = 6, NAL_SPS = 7, NAL_PPS = 8, NAL_AUD = 9;
const ALLOWED = new Set([NAL_SLICE, NAL_IDR, NAL_SEI, NAL_SPS, NAL_PPS, NAL_AUD]);
const PROFILES = new Set([66, 77, 100]); // Baseline, Main, High
const DECODE_TIMEOUT_MS = 2000; // a decoder that gives no picture for a frame has failed

/** The NAL units of an Annex B byte stream (without start codes), or null if malformed. */
export function nalUnits(data) {
  const starts = [];
  for (let i = 0; i + 2 < data.length; i++) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      starts.push(i + 3);
      i += 2;
    }
  }
  if (!starts.length || data.subarray(0, starts[0] - 3).some((b) => b !== 0)) return null;
  const units = [];
  for (let k = 0; k < starts.length; k++) {
    let end = k + 1 < starts.length ? starts[k + 1] - 3 : data.length;
    while (end > starts[k] && data[end - 1] === 0) end--; // zeros before the next start code
    if (end === starts[k]) return null;
    units.push(data.subarray(starts[k], end));
  }
  return units;
}

/**
 * Check one frame's H.264 data; the WebCodecs codec string (from its SPS) for a
 * keyframe, null for another frame. Throws `makeError(text)` when it is not what a
 * relaydesk presenter sends.
 */
export function checkAccessUnit(data, keyframe, makeError) {
  const units = nalUnits(data);
  if (!units) throw makeError("H.264 data without start codes, or an empty NAL unit");
  const kinds = [];
  let sps = null;
  for (const unit of units) {
    if (unit[0] & 0x80) throw makeError("an H.264 NAL unit with its forbidden bit set");
    const kind = unit[0] & 0x1f;
    if (!ALLOWED.has(kind)) throw makeError(`an H.264 NAL unit of type ${kind}`);
    if (kind === NAL_SPS) {
      if (sps || unit.length < 4) throw makeError("a bad or second H.264 SPS");
      sps = unit;
    }
    kinds.push(kind);
  }
  const slices = kinds.filter((k) => k === NAL_SLICE || k === NAL_IDR);
  if (!slices.length) throw makeError("an H.264 frame without a slice");
  if (!keyframe) {
    if (kinds.some((k) => k === NAL_IDR || k === NAL_SPS || k === NAL_PPS)) {
      throw makeError("an H.264 frame that is not a keyframe holds an IDR, SPS or PPS");
    }
    return null;
  }
  const pps = kinds.filter((k) => k === NAL_PPS).length;
  if (!sps || pps !== 1 || slices.some((k) => k !== NAL_IDR)) {
    throw makeError("an H.264 keyframe must hold one SPS, one PPS and IDR slices");
  }
  if (!PROFILES.has(sps[1])) throw makeError(`H.264 profile ${sps[1]} is not Baseline, Main or High`);
  const hex = (byte) => byte.toString(16).padStart(2, "0");
  return `avc1.${hex(sps[1])}${hex(sps[2])}${hex(sps[3])}`;
}

/**
 * How many video layers to ask the relay for (VIDEO_LAYERS), from how late frames come:
 * the twin of screen/video.py's LayerChoice. A frame's delay is this page's clock at its
 * arrival minus the presenter's `sentAt` (unknown offset): only how much later than the
 * fastest frame of the window it came means anything.
 */
export class LayerChoice {
  constructor() {
    this.layers = VIDEO_LAYERS;
    this.window = []; // [arrival s, delay ms], increasing delays: the minimum first
    this.late = 0;
    this.onTimeSince = null;
  }

  /** `now` in seconds; returns the layers to ask for when that changes, else null. */
  observe(sentAt, now) {
    const delay = (Math.round(now * 1000) - sentAt) >>> 0;
    const window = this.window;
    while (window.length && window[window.length - 1][1] >= delay) window.pop();
    window.push([now, delay]);
    while (window[0][0] < now - VIDEO_DELAY_WINDOW_SECONDS) window.shift();
    const queued = ((delay - window[0][1]) >>> 0) | 0; // modulo 2^32, signed
    if (queued > VIDEO_BEHIND_MS) {
      this.late += 1;
      this.onTimeSince = null;
    } else {
      this.late = 0;
      if (queued > Math.floor(VIDEO_BEHIND_MS / 3)) this.onTimeSince = null;
      else if (this.onTimeSince === null) this.onTimeSince = now;
    }
    if (this.layers === VIDEO_LAYERS && this.late >= VIDEO_BEHIND_FRAMES) {
      this.layers = 1;
      return this.layers;
    }
    if (this.layers < VIDEO_LAYERS && this.onTimeSince !== null
        && now - this.onTimeSince >= VIDEO_CATCH_UP_SECONDS) {
      this.layers = VIDEO_LAYERS;
      return this.layers;
    }
    return null;
  }
}

class Layer {
  constructor() {
    this.decoder = null;
    this.last = -1; // number of the frame last decoded; -1: waiting for a keyframe
    this.lost = false; // it decoded frames of this stream, then its chain broke
    this.pending = null; // {resolve, reject} of the frame being decoded
  }

  reset(lost = false) {
    this.lost = lost || (this.lost && this.last < 0);
    if (this.decoder && this.decoder.state !== "closed") this.decoder.close();
    this.decoder = null;
    this.last = -1;
    this.pending?.reject(new Error("decoder reset"));
    this.pending = null;
  }
}

export class VideoRegion {
  /** @param {new (message: string) => Error} ErrorType the screen's TileError */
  constructor(ErrorType) {
    this.ErrorType = ErrorType;
    this.stream = null; // "stream x y width height" of the frames being decoded
    this.layers = Array.from({ length: VIDEO_LAYERS }, () => new Layer());
    this.shown = -1;
    this.decoded = 0; // frames decoded (for tests and benchmarks)
    this.decodeMs = []; // the last decode times, decode() -> output (benchmarks)
  }

  reset() {
    this.stream = null;
    for (const layer of this.layers) layer.reset();
    this.shown = -1;
  }

  /** True when the base layer lost its chain: ask for a keyframe (REFRESH). */
  get lost() {
    return this.layers[0].lost;
  }

  /**
   * Decode `frame` and draw it into `context` when it is the newest; resolves to
   * {painted, lost}. Throws the screen's TileError for bad data (that layer then waits
   * for its keyframe; nothing is drawn).
   */
  async apply(frame, context, width, height) {
    const fail = (text) => new this.ErrorType(text);
    const { x, y } = frame;
    if (frame.width % 2 || frame.height % 2 || x + frame.width > width || y + frame.height > height) {
      throw fail("a video region outside the picture");
    }
    const stream = `${frame.stream} ${x} ${y} ${frame.width} ${frame.height}`;
    if (stream !== this.stream) {
      this.reset();
      this.stream = stream;
    }
    const layer = this.layers[frame.number % VIDEO_LAYERS];
    if (frame.keyframe) {
      layer.reset();
      layer.lost = false;
    } else if (layer.last < 0 || frame.number !== layer.last + VIDEO_LAYERS) {
      layer.reset(layer.last >= 0); // a frame of this layer is missing: wait for a keyframe
      return { painted: false, lost: this.lost };
    }
    let picture;
    try {
      const codec = checkAccessUnit(frame.data, frame.keyframe, fail);
      if (codec) layer.decoder = await this.#open(layer, codec, frame);
      picture = await this.#decode(layer, frame);
    } catch (error) {
      layer.reset(true);
      throw error instanceof this.ErrorType ? error : fail(`H.264 data that does not decode (${error.message})`);
    }
    layer.last = frame.number;
    this.decoded += 1;
    try {
      if (picture.displayWidth !== frame.width || picture.displayHeight !== frame.height) {
        layer.reset(true);
        throw fail(`H.264 data of ${picture.displayWidth}x${picture.displayHeight} for a ${frame.width}x${frame.height} region`);
      }
      if (frame.number <= this.shown) return { painted: false, lost: this.lost };
      this.shown = frame.number;
      context.drawImage(picture, x, y, frame.width, frame.height);
      return { painted: true, lost: this.lost };
    } finally {
      picture.close();
    }
  }

  async #open(layer, codec, frame) {
    const config = {
      codec,
      codedWidth: frame.width,
      codedHeight: frame.height,
      optimizeForLatency: true, // give each picture out at once: nothing is reordered
    };
    const { supported } = await VideoDecoder.isConfigSupported(config);
    if (!supported) throw new this.ErrorType(`this browser cannot decode ${codec}`);
    const decoder = new VideoDecoder({
      output: (picture) => {
        const pending = layer.pending;
        layer.pending = null;
        if (pending) pending.resolve(picture);
        else picture.close();
      },
      error: (error) => {
        const pending = layer.pending;
        layer.pending = null;
        pending?.reject(error);
      },
    });
    decoder.configure(config);
    return decoder;
  }

  #decode(layer, frame) {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (layer.pending?.resolve === done) {
          layer.pending = null;
          reject(new Error("no picture came out"));
        }
      }, DECODE_TIMEOUT_MS);
      const done = (picture) => {
        clearTimeout(timer);
        this.decodeMs.push(performance.now() - started);
        if (this.decodeMs.length > 600) this.decodeMs.shift();
        resolve(picture);
      };
      layer.pending = { resolve: done, reject: (error) => { clearTimeout(timer); reject(error); } };
      try {
        layer.decoder.decode(new EncodedVideoChunk({
          type: frame.keyframe ? "key" : "delta",
          timestamp: frame.number,
          data: frame.data,
        }));
      } catch (error) {
        layer.pending = null;
        clearTimeout(timer);
        reject(error);
      }
    });
  }
}
