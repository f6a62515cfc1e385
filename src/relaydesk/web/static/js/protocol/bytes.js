// Byte helpers shared by the protocol modules: big-endian integers (docs/protocol.md,
// "Notation"), concatenation, comparison, hex and UTF-8 text.

const ENCODER = new TextEncoder();

/** @param {string} text @returns {Uint8Array} ASCII/UTF-8 bytes of a label or text. */
export function utf8(text) {
  return ENCODER.encode(text);
}

/** @param {...Uint8Array} parts @returns {Uint8Array} */
export function concat(...parts) {
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

/** @param {Uint8Array} a @param {Uint8Array} b @returns {boolean} */
export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** @param {number} value @returns {Uint8Array} */
export function u8(value) {
  return Uint8Array.of(value);
}

/** @param {number} value @returns {Uint8Array} big-endian */
export function u16(value) {
  const out = new Uint8Array(2);
  new DataView(out.buffer).setUint16(0, value);
  return out;
}

/** @param {number} value @returns {Uint8Array} big-endian */
export function u32(value) {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

/** @param {number | bigint} value @returns {Uint8Array} big-endian */
export function u64(value) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value));
  return out;
}

/** @param {Uint8Array} data @returns {string} lowercase hex */
export function toHex(data) {
  let text = "";
  for (const byte of data) text += byte.toString(16).padStart(2, "0");
  return text;
}

/** @param {string} text lowercase or uppercase hex, no separators @returns {Uint8Array} */
export function fromHex(text) {
  if (text.length % 2 !== 0 || /[^0-9a-fA-F]/.test(text)) {
    throw new TypeError("not a hex string");
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** @param {string} text @returns {Uint8Array} */
export function fromBase64Url(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

/**
 * Length of a text in Unicode code points, as Python's len() counts it (docs/protocol.md,
 * "Notation"): UTF-16 units minus one per surrogate pair. Linear, allocates nothing.
 * @param {string} text
 * @returns {number}
 */
export function codePointLength(text) {
  let count = text.length;
  for (let i = 0; i < text.length - 1; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        count--;
        i++;
      }
    }
  }
  return count;
}

/**
 * True if the text has no lone surrogate, i.e. it encodes to UTF-8 without loss
 * (TextEncoder would silently turn a lone surrogate into U+FFFD).
 * @param {string} text
 * @returns {boolean}
 */
export function isWellFormed(text) {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (next < 0xdc00 || next > 0xdfff) return false;
      i++;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      return false;
    }
  }
  return true;
}
