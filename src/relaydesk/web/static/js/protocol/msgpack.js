// A small bounded MessagePack codec for exactly what relaydesk bodies use
// (docs/protocol.md §3.0): arrays, integers up to 64 bits, booleans, str, bin and nil.
//
// Why not a general library: the protocol needs three things general decoders do not
// give. (1) A float is refused even when its value is whole: an integer field must not
// accept 1.0, and a decoder returning JavaScript numbers cannot tell 1.0 from 1.
// (2) Text must be strict UTF-8 (no replacement characters; a leading U+FEFF is kept
// as a character, as Python keeps it). (3) Every length is checked against its limit
// before anything is allocated, and nothing but MessageError comes out of bad input.
//
// Decoded values: Array, Uint8Array (bin, a copy), string (str), boolean, null (nil),
// and integers as number when |n| <= 2^53 - 1, as bigint beyond. Maps, extension types
// and floats are refused while decoding: no message field accepts them, so the result is
// the same MessageError the Python side raises when it checks the field.

import { MessageError } from "./errors.js";
import { MAX_ARRAY_ITEMS } from "./limits.js";
import { isWellFormed } from "./bytes.js";

const UTF8_ENCODER = new TextEncoder();
const UTF8_DECODER = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);

// Encoding ----------------------------------------------------------------------------

/**
 * Encode a value as MessagePack, each integer in its smallest encoding, as Python's
 * `msgpack.packb(value, use_bin_type=True)` does (so the golden vectors come out byte for
 * byte). Throws TypeError for anything outside the subset (floats, lone surrogates,
 * objects, integers beyond 64 bits).
 * @param {unknown} value
 * @returns {Uint8Array}
 */
export function pack(value) {
  /** @type {Uint8Array[]} */
  const parts = [];
  packInto(value, parts, 0);
  let size = 0;
  for (const part of parts) size += part.length;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** @param {number} type @param {number} bytes @param {number | bigint} value */
function head(type, bytes, value) {
  const out = new Uint8Array(1 + bytes);
  const view = new DataView(out.buffer);
  out[0] = type;
  if (bytes === 1) out[1] = Number(value) & 0xff;
  else if (bytes === 2) view.setUint16(1, Number(value));
  else if (bytes === 4) view.setUint32(1, Number(value));
  else if (bytes === 8) view.setBigUint64(1, BigInt.asUintN(64, BigInt(value)));
  return out;
}

/** @param {number | bigint} value @returns {Uint8Array} */
function packInteger(value) {
  const n = BigInt(value);
  if (n > U64_MAX || n < I64_MIN) throw new TypeError(`integer ${n} does not fit in 64 bits`);
  if (n >= 0n) {
    if (n <= 0x7fn) return Uint8Array.of(Number(n));
    if (n <= 0xffn) return head(0xcc, 1, n);
    if (n <= 0xffffn) return head(0xcd, 2, n);
    if (n <= 0xffffffffn) return head(0xce, 4, n);
    return head(0xcf, 8, n);
  }
  if (n >= -0x20n) return Uint8Array.of(Number(n) & 0xff);
  if (n >= -0x80n) return head(0xd0, 1, n);
  if (n >= -0x8000n) return head(0xd1, 2, BigInt.asUintN(16, n));
  if (n >= -0x80000000n) return head(0xd2, 4, BigInt.asUintN(32, n));
  return head(0xd3, 8, n);
}

/**
 * @param {number} length
 * @param {number} fix fixed-size type byte, or -1 if the kind has no fix form
 * @param {number} fixMax largest length of the fix form
 * @param {number[]} types the 8-, 16- and 32-bit length forms (0 where there is none)
 */
function lengthHead(length, fix, fixMax, types) {
  if (fix >= 0 && length <= fixMax) return Uint8Array.of(fix | length);
  if (types[0] && length <= 0xff) return head(types[0], 1, length);
  if (length <= 0xffff) return head(types[1], 2, length);
  if (length <= 0xffffffff) return head(types[2], 4, length);
  throw new TypeError("too long for MessagePack");
}

/** @param {unknown} value @param {Uint8Array[]} parts @param {number} depth */
function packInto(value, parts, depth) {
  if (depth > 64) throw new TypeError("value nested too deeply");
  if (value === null) {
    parts.push(Uint8Array.of(0xc0));
  } else if (typeof value === "boolean") {
    parts.push(Uint8Array.of(value ? 0xc3 : 0xc2));
  } else if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) {
      throw new TypeError(`${value} is not an integer the protocol can carry (use BigInt)`);
    }
    parts.push(packInteger(value));
  } else if (typeof value === "bigint") {
    parts.push(packInteger(value));
  } else if (typeof value === "string") {
    if (!isWellFormed(value)) throw new TypeError("text with a lone surrogate");
    const data = UTF8_ENCODER.encode(value);
    parts.push(lengthHead(data.length, 0xa0, 31, [0xd9, 0xda, 0xdb]), data);
  } else if (value instanceof Uint8Array) {
    parts.push(lengthHead(value.length, -1, 0, [0xc4, 0xc5, 0xc6]), value);
  } else if (Array.isArray(value)) {
    parts.push(lengthHead(value.length, 0x90, 15, [0, 0xdc, 0xdd]));
    for (const item of value) packInto(item, parts, depth + 1);
  } else {
    throw new TypeError(`cannot encode ${Object.prototype.toString.call(value)} as MessagePack`);
  }
}

// Decoding ----------------------------------------------------------------------------

/**
 * @typedef {object} UnpackLimits
 * @property {number} maxStrLength longest str, in bytes (the frame type's body limit)
 * @property {number} maxBinLength longest bin, in bytes
 * @property {number} [maxArrayLength] most items of any array (default 8192, §3.0)
 * @property {number} [maxDepth] deepest nesting (default 32; bodies nest at most 3 deep)
 */

/**
 * Decode exactly one MessagePack value filling all of `data`, bounded by `limits`.
 * Throws only MessageError (with `what` in its text).
 * @param {Uint8Array} data
 * @param {UnpackLimits} limits
 * @param {string} [what] what is being decoded, for error messages
 * @returns {unknown}
 */
export function unpack(data, limits, what = "body") {
  const reader = new Reader(data, limits, what);
  const value = reader.value(0);
  if (reader.offset !== data.length) {
    throw new MessageError(`${what}: ${data.length - reader.offset} trailing bytes`);
  }
  return value;
}

class Reader {
  /** @param {Uint8Array} data @param {UnpackLimits} limits @param {string} what */
  constructor(data, limits, what) {
    if (!(data instanceof Uint8Array)) throw new TypeError("MessagePack data must be a Uint8Array");
    this.data = data;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.offset = 0;
    this.maxStr = limits.maxStrLength;
    this.maxBin = limits.maxBinLength;
    this.maxArray = limits.maxArrayLength ?? MAX_ARRAY_ITEMS;
    this.maxDepth = limits.maxDepth ?? 32;
    this.what = what;
  }

  /** @param {string} text */
  fail(text) {
    return new MessageError(`${this.what}: not a valid encoding (${text})`);
  }

  /** Reserve `n` bytes and return their offset; refuses a read past the end. @param {number} n */
  take(n) {
    if (n > this.data.length - this.offset) throw this.fail("truncated");
    const start = this.offset;
    this.offset += n;
    return start;
  }

  /** @param {number} size 1, 2 or 4 */
  length(size) {
    const at = this.take(size);
    if (size === 1) return this.view.getUint8(at);
    if (size === 2) return this.view.getUint16(at);
    return this.view.getUint32(at);
  }

  /** @param {bigint} n */
  integer(n) {
    return n >= -MAX_SAFE && n <= MAX_SAFE ? Number(n) : n;
  }

  /** @param {number} depth @returns {unknown} */
  value(depth) {
    if (depth > this.maxDepth) throw this.fail("nested too deeply");
    const type = this.data[this.take(1)];
    if (type <= 0x7f) return type;
    if (type >= 0xe0) return type - 0x100;
    if (type >= 0x90 && type <= 0x9f) return this.array(type & 0x0f, depth);
    if (type >= 0xa0 && type <= 0xbf) return this.str(type & 0x1f);
    if (type >= 0x80 && type <= 0x8f) throw this.fail("a map");
    const view = this.view;
    switch (type) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.bin(this.length(1));
      case 0xc5:
        return this.bin(this.length(2));
      case 0xc6:
        return this.bin(this.length(4));
      case 0xca:
      case 0xcb:
        throw this.fail("a float");
      case 0xcc:
        return view.getUint8(this.take(1));
      case 0xcd:
        return view.getUint16(this.take(2));
      case 0xce:
        return view.getUint32(this.take(4));
      case 0xcf:
        return this.integer(view.getBigUint64(this.take(8)));
      case 0xd0:
        return view.getInt8(this.take(1));
      case 0xd1:
        return view.getInt16(this.take(2));
      case 0xd2:
        return view.getInt32(this.take(4));
      case 0xd3:
        return this.integer(view.getBigInt64(this.take(8)));
      case 0xd9:
        return this.str(this.length(1));
      case 0xda:
        return this.str(this.length(2));
      case 0xdb:
        return this.str(this.length(4));
      case 0xdc:
        return this.array(this.length(2), depth);
      case 0xdd:
        return this.array(this.length(4), depth);
      case 0xde:
      case 0xdf:
        throw this.fail("a map");
      case 0xc7:
      case 0xc8:
      case 0xc9:
      case 0xd4:
      case 0xd5:
      case 0xd6:
      case 0xd7:
      case 0xd8:
        throw this.fail("an extension type");
      default: // 0xc1 is never used
        throw this.fail(`type byte 0x${type.toString(16)}`);
    }
  }

  /** @param {number} size */
  bin(size) {
    if (size > this.maxBin) throw this.fail(`bin of ${size} bytes, above ${this.maxBin}`);
    const at = this.take(size);
    return this.data.slice(at, at + size);
  }

  /** @param {number} size */
  str(size) {
    if (size > this.maxStr) throw this.fail(`str of ${size} bytes, above ${this.maxStr}`);
    const at = this.take(size);
    try {
      return UTF8_DECODER.decode(this.data.subarray(at, at + size));
    } catch {
      throw this.fail("invalid UTF-8");
    }
  }

  /** @param {number} count @param {number} depth */
  array(count, depth) {
    if (count > this.maxArray) throw this.fail(`array of ${count} items, above ${this.maxArray}`);
    // Every item takes at least one byte: refuse a count the data cannot hold.
    if (count > this.data.length - this.offset) throw this.fail("truncated");
    const items = new Array(count);
    for (let i = 0; i < count; i++) items[i] = this.value(depth + 1);
    return items;
  }
}
