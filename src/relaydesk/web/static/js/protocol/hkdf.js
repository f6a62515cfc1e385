// HKDF-SHA256 (RFC 5869) on WebCrypto's HMAC, as docs/protocol.md §6.2-§6.3 write it out.

import { concat } from "./bytes.js";
import { hmacSha256 } from "./primitives.js";

const HASH_SIZE = 32;

/**
 * HKDF-Extract (RFC 5869 §2.2). An empty salt means 32 zero bytes (the same MAC as an
 * empty key, which WebCrypto refuses; §6.2).
 * @param {Uint8Array} salt @param {Uint8Array} ikm
 * @returns {Promise<Uint8Array>} the 32-byte pseudorandom key
 */
export function extract(salt, ikm) {
  return hmacSha256(salt.length > 0 ? salt : new Uint8Array(HASH_SIZE), ikm);
}

/**
 * HKDF-Expand (RFC 5869 §2.3): T(i) = HMAC(prk, T(i-1) || info || i). For length <= 32
 * that is one HMAC, HMAC(prk, info || 01), truncated.
 * @param {Uint8Array} prk @param {Uint8Array} info @param {number} length at most 255 * 32
 * @returns {Promise<Uint8Array>}
 */
export async function expand(prk, info, length) {
  if (!Number.isInteger(length) || length < 0 || length > 255 * HASH_SIZE) {
    throw new TypeError("HKDF-Expand length out of range");
  }
  const out = new Uint8Array(length);
  let block = new Uint8Array(0);
  for (let i = 1, filled = 0; filled < length; i++) {
    block = await hmacSha256(prk, concat(block, info, Uint8Array.of(i)));
    out.set(block.subarray(0, Math.min(HASH_SIZE, length - filled)), filled);
    filled += HASH_SIZE;
  }
  return out;
}
