// Frames: a 44-byte plaintext routing header and a body (docs/protocol.md §2).
// The header is all the relay may read; content bodies are sealed (e2e.js).

import { FrameError, FrameTooLarge } from "./errors.js";
import { MAX_CONTROL_BODY, MAX_FRAME_BODY } from "./limits.js";

export const VERSION = 1;
export const HEADER_SIZE = 44;
export const SESSION_UID_SIZE = 16;

// Member ids (§2.2): the broker assigns 1 upwards; two values are reserved.
export const RELAY = 0; // sender of the relay's own frames; target of requests to it
export const EVERYONE = 0xffffffff; // target of a broadcast
export const MAX_MEMBER_ID = 0xfffffffe;

const U32_MAX = 0xffffffff;
const U64_MAX = (1n << 64n) - 1n;

/** Frame types (§2.3): 0x01-0x3F control (plain), 0x40-0x7F content (sealed). */
export const FrameType = Object.freeze({
  HELLO: 0x01,
  ROSTER: 0x02,
  MEMBER_JOINED: 0x03,
  MEMBER_LEFT: 0x04,
  ROLE_CHANGE: 0x05,
  PRESENTER_REQUEST: 0x06,
  CONTROL_REQUEST: 0x07,
  CONSENT_PROMPT: 0x08,
  CONSENT_ANSWER: 0x09,
  CONSENT_OUTCOME: 0x0a,
  GRANT: 0x0b,
  REVOKE: 0x0c,
  LOCK: 0x0d,
  EXPEL: 0x0e,
  END: 0x0f,
  KEY_COMMIT: 0x10,
  ERROR: 0x11,
  PING: 0x12,
  PONG: 0x13,
  REFRESH: 0x14,
  ADMIT: 0x15,
  WAITING: 0x16,
  PERMISSIONS: 0x17,
  RECORDING: 0x18,
  VIDEO_LAYERS: 0x19,
  CHALLENGE: 0x1f, // relay -> member, the first frame of a link (§3.25)
  SCREEN_UPDATE: 0x40,
  CURSOR: 0x41,
  SHARE_STATE: 0x42,
  VIDEO_FRAME: 0x43,
  INPUT_EVENT: 0x48,
  CHAT: 0x50,
  NOTES: 0x51,
  ANNOTATION: 0x58,
  FILE_CHUNK: 0x60,
  FILE_OFFER: 0x61,
  FILE_ANSWER: 0x62,
  FILE_END: 0x63,
});

/** @type {ReadonlyMap<number, string>} frame type code -> name */
const TYPE_NAMES = new Map(Object.entries(FrameType).map(([name, code]) => [code, name]));

/** Key channels (§6.3): one key and one sequence counter per sender, channel and epoch. */
export const Channel = Object.freeze({
  SCREEN: 1,
  INPUT: 2,
  CHAT: 3,
  ANNOTATION: 4,
  FILE: 5,
});

/** @type {ReadonlyMap<number, number>} content frame type -> channel */
const CHANNELS = new Map([
  [FrameType.SCREEN_UPDATE, Channel.SCREEN],
  [FrameType.CURSOR, Channel.SCREEN],
  [FrameType.SHARE_STATE, Channel.SCREEN],
  [FrameType.VIDEO_FRAME, Channel.SCREEN],
  [FrameType.INPUT_EVENT, Channel.INPUT],
  [FrameType.CHAT, Channel.CHAT],
  [FrameType.NOTES, Channel.CHAT],
  [FrameType.ANNOTATION, Channel.ANNOTATION],
  [FrameType.FILE_CHUNK, Channel.FILE],
  [FrameType.FILE_OFFER, Channel.FILE],
  [FrameType.FILE_ANSWER, Channel.FILE],
  [FrameType.FILE_END, Channel.FILE],
]);

/** Flags (§2.4): hints for the relay's queues; they change nothing else. */
export const Flags = Object.freeze({
  NONE: 0,
  KEYFRAME: 0x0001, // a whole picture: everything queued before it of this type is moot
  SUPERSEDABLE: 0x0002, // a newer frame of the same type from the same sender replaces it
  DISCARDABLE: 0x0004, // only later DISCARDABLE frames depend on it: a relay may drop it (§5.4)
});
export const KNOWN_FLAGS = Flags.KEYFRAME | Flags.SUPERSEDABLE | Flags.DISCARDABLE;

/**
 * @typedef {object} Header
 * @property {number} type a FrameType code
 * @property {Uint8Array} sessionUid 16 bytes
 * @property {number} epoch u32
 * @property {number} sender u32 member id (RELAY = 0 for the relay)
 * @property {number} target u32 member id, RELAY, or EVERYONE
 * @property {bigint} sequence u64 (parseHeader gives a bigint; packHeader also takes a number)
 * @property {number} flags u16, only KNOWN_FLAGS bits
 *
 * @typedef {object} Frame
 * @property {Header} header
 * @property {Uint8Array} body
 */

/** @param {number} type @returns {string | undefined} the FrameType name of a code */
export function frameTypeName(type) {
  return TYPE_NAMES.get(type);
}

/** @param {number} type @returns {boolean} true for a known frame type */
export function isFrameType(type) {
  return TYPE_NAMES.has(type);
}

/** @param {number} type @returns {boolean} true for a content (sealed) type */
export function isContentType(type) {
  return CHANNELS.has(type);
}

/** The key channel of a content type (§6.3); TypeError for a control type. @param {number} type */
export function channelOf(type) {
  const channel = CHANNELS.get(type);
  if (channel === undefined) throw new TypeError(`frame type ${type} has no channel`);
  return channel;
}

/** The body limit of a frame type (§2.3). @param {number} type */
export function maxBody(type) {
  return isContentType(type) ? MAX_FRAME_BODY : MAX_CONTROL_BODY;
}

/**
 * The 44-byte header (§2.1) announcing `bodyLength` bytes. Checks the caller's values
 * (TypeError if one is out of range): a header this side sends is always valid.
 * @param {Header} header
 * @param {number} bodyLength
 * @returns {Uint8Array}
 */
export function packHeader(header, bodyLength) {
  const { type, sessionUid, epoch, sender, target, flags = Flags.NONE } = header;
  if (!isFrameType(type)) throw new TypeError(`unknown frame type ${type}`);
  if (!(sessionUid instanceof Uint8Array) || sessionUid.length !== SESSION_UID_SIZE) {
    throw new TypeError("sessionUid must be 16 bytes");
  }
  for (const [name, value] of [
    ["epoch", epoch],
    ["sender", sender],
    ["target", target],
  ]) {
    if (!Number.isInteger(value) || value < 0 || value > U32_MAX) {
      throw new TypeError(`${name} must be a u32`);
    }
  }
  if (!Number.isInteger(flags) || flags < 0 || (flags & ~KNOWN_FLAGS) !== 0) {
    throw new TypeError(`unknown flags ${flags}`);
  }
  const sequence = toU64(header.sequence, "sequence");
  if (!Number.isInteger(bodyLength) || bodyLength < 0 || bodyLength > maxBody(type)) {
    throw new TypeError(`body of ${bodyLength} bytes is above the limit of its type`);
  }
  const out = new Uint8Array(HEADER_SIZE);
  const view = new DataView(out.buffer);
  view.setUint8(0, VERSION);
  view.setUint8(1, type);
  view.setUint16(2, flags);
  out.set(sessionUid, 4);
  view.setUint32(20, epoch);
  view.setUint32(24, sender);
  view.setUint32(28, target);
  view.setBigUint64(32, sequence);
  view.setUint32(40, bodyLength);
  return out;
}

/** @param {unknown} value @param {string} name @returns {bigint} */
function toU64(value, name) {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === "bigint" && value >= 0n && value <= U64_MAX) return value;
  throw new TypeError(`${name} must be a u64 (number or bigint)`);
}

/**
 * Parse and check a 44-byte header (§2.5): version, type, flags, then the announced
 * length against the type's limit, before any of the body is read.
 * @param {Uint8Array} data exactly 44 bytes
 * @returns {{header: Header, length: number}}
 * @throws {FrameError | FrameTooLarge}
 */
export function parseHeader(data) {
  if (data.length !== HEADER_SIZE) {
    throw new FrameError(`a frame header is ${HEADER_SIZE} bytes, got ${data.length}`);
  }
  const view = new DataView(data.buffer, data.byteOffset, HEADER_SIZE);
  const version = view.getUint8(0);
  if (version !== VERSION) {
    throw new FrameError(`unsupported protocol version ${version} (this side speaks ${VERSION})`);
  }
  const type = view.getUint8(1);
  if (!isFrameType(type)) {
    throw new FrameError(`unknown frame type 0x${type.toString(16).padStart(2, "0")}`);
  }
  const flags = view.getUint16(2);
  if ((flags & ~KNOWN_FLAGS) !== 0) {
    throw new FrameError(`unknown flags 0x${flags.toString(16).padStart(4, "0")}`);
  }
  const length = view.getUint32(40);
  if (length > maxBody(type)) {
    throw new FrameTooLarge(`${frameTypeName(type)} body of ${length} bytes exceeds the limit`);
  }
  const header = {
    type,
    flags,
    sessionUid: data.slice(4, 20),
    epoch: view.getUint32(20),
    sender: view.getUint32(24),
    target: view.getUint32(28),
    sequence: view.getBigUint64(32),
  };
  return { header, length };
}

/**
 * Parse exactly one frame: one binary WebSocket message (§1, §2.5). The header is
 * checked first, so an oversized length fails with FrameTooLarge whatever follows it.
 * @param {Uint8Array} data
 * @returns {Frame}
 * @throws {FrameError | FrameTooLarge}
 */
export function parseFrame(data) {
  if (!(data instanceof Uint8Array)) throw new TypeError("a frame must be a Uint8Array");
  const { header, length } = parseHeader(data.subarray(0, HEADER_SIZE));
  if (data.length !== HEADER_SIZE + length) {
    throw new FrameError(
      `frame announces ${length} body bytes but carries ${data.length - HEADER_SIZE}`,
    );
  }
  return { header, body: data.slice(HEADER_SIZE) };
}

/**
 * The frame's bytes: header (with the body's length) and body.
 * @param {Frame} frame
 * @returns {Uint8Array}
 */
export function serializeFrame(frame) {
  const header = packHeader(frame.header, frame.body.length);
  const out = new Uint8Array(HEADER_SIZE + frame.body.length);
  out.set(header, 0);
  out.set(frame.body, HEADER_SIZE);
  return out;
}

/**
 * Frames back to back on a byte stream (the direct TLS transport, §2.6), whatever the
 * split points. Buffers at most one header plus one body; after an error it is broken
 * and refuses more data (the connection must be closed with the error's close code).
 */
export class StreamDecoder {
  constructor() {
    /** @type {Uint8Array[]} received chunks not yet consumed */
    this._chunks = [];
    this._buffered = 0;
    /** @type {{header: Header, length: number} | null} the header of the frame in progress */
    this._pending = null;
    /** @type {Frame[]} */
    this._frames = [];
    /** @type {FrameError | null} */
    this._error = null;
  }

  /** Bytes received and not yet returned as frames. */
  get buffered() {
    return this._buffered + (this._pending === null ? 0 : HEADER_SIZE);
  }

  /**
   * @param {Uint8Array} data
   * @throws {FrameError | FrameTooLarge} (and every later call throws it again)
   */
  receiveData(data) {
    if (this._error !== null) throw this._error;
    if (data.length > 0) {
      this._chunks.push(data.slice());
      this._buffered += data.length;
    }
    try {
      for (;;) {
        if (this._pending === null) {
          if (this._buffered < HEADER_SIZE) break;
          this._pending = parseHeader(this._take(HEADER_SIZE));
        }
        if (this._buffered < this._pending.length) break;
        const body = this._take(this._pending.length);
        this._frames.push({ header: this._pending.header, body });
        this._pending = null;
      }
    } catch (error) {
      this._error = /** @type {FrameError} */ (error);
      this._chunks = [];
      this._buffered = 0;
      throw error;
    }
  }

  /** The frames completed so far, each returned once. @returns {Frame[]} */
  framesReceived() {
    const frames = this._frames;
    this._frames = [];
    return frames;
  }

  /** Remove and return the first `n` buffered bytes (n <= buffered). @param {number} n */
  _take(n) {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this._chunks[0];
      const used = Math.min(chunk.length, n - filled);
      out.set(chunk.subarray(0, used), filled);
      filled += used;
      if (used === chunk.length) this._chunks.shift();
      else this._chunks[0] = chunk.subarray(used);
    }
    this._buffered -= n;
    return out;
  }
}
