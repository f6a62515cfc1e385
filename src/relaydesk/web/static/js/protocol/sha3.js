// SHA3-256 (FIPS 202): the combiner of the hybrid KEM hashes with it (docs/protocol.md
// §6.2), and WebCrypto has no SHA-3. Keccak-f[1600] on 25 lanes of 64 bits, each kept as
// two 32-bit halves (lo, hi) in one Uint32Array; checked against Node's own SHA3-256
// and the FIPS 202 examples (tests/web/sha3.test.mjs).

const RATE = 136; // bytes absorbed per permutation for SHA3-256: (1600 - 2 * 256) / 8
const ROUNDS = 24;

// Round constants (lo, hi) and the rotation offsets of rho, lane by lane (x + 5y).
const RC = new Uint32Array([
  0x00000001, 0x00000000, 0x00008082, 0x00000000, 0x0000808a, 0x80000000, 0x80008000, 0x80000000,
  0x0000808b, 0x00000000, 0x80000001, 0x00000000, 0x80008081, 0x80000000, 0x00008009, 0x80000000,
  0x0000008a, 0x00000000, 0x00000088, 0x00000000, 0x80008009, 0x00000000, 0x8000000a, 0x00000000,
  0x8000808b, 0x00000000, 0x0000008b, 0x80000000, 0x00008089, 0x80000000, 0x00008003, 0x80000000,
  0x00008002, 0x80000000, 0x00000080, 0x80000000, 0x0000800a, 0x00000000, 0x8000000a, 0x80000000,
  0x80008081, 0x80000000, 0x00008080, 0x80000000, 0x80000001, 0x00000000, 0x80008008, 0x80000000,
]);
const RHO = [
  0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14,
];

/** @param {Uint32Array} s the state: lane i is s[2i] (lo), s[2i + 1] (hi) */
function keccakF(s) {
  const c = new Uint32Array(10);
  const b = new Uint32Array(50);
  for (let round = 0; round < ROUNDS; round++) {
    // theta
    for (let x = 0; x < 5; x++) {
      c[2 * x] = s[2 * x] ^ s[2 * x + 10] ^ s[2 * x + 20] ^ s[2 * x + 30] ^ s[2 * x + 40];
      c[2 * x + 1] = s[2 * x + 1] ^ s[2 * x + 11] ^ s[2 * x + 21] ^ s[2 * x + 31] ^ s[2 * x + 41];
    }
    for (let x = 0; x < 5; x++) {
      const l = (x + 4) % 5;
      const r = (x + 1) % 5;
      const dLo = c[2 * l] ^ ((c[2 * r] << 1) | (c[2 * r + 1] >>> 31));
      const dHi = c[2 * l + 1] ^ ((c[2 * r + 1] << 1) | (c[2 * r] >>> 31));
      for (let y = 0; y < 25; y += 5) {
        s[2 * (x + y)] ^= dLo;
        s[2 * (x + y) + 1] ^= dHi;
      }
    }
    // rho and pi: lane (x, y) rotated goes to (y, 2x + 3y)
    for (let x = 0; x < 5; x++) {
      for (let y = 0; y < 5; y++) {
        const from = x + 5 * y;
        const to = y + 5 * ((2 * x + 3 * y) % 5);
        let lo = s[2 * from];
        let hi = s[2 * from + 1];
        let n = RHO[from];
        if (n >= 32) {
          [lo, hi] = [hi, lo];
          n -= 32;
        }
        b[2 * to] = n ? (lo << n) | (hi >>> (32 - n)) : lo;
        b[2 * to + 1] = n ? (hi << n) | (lo >>> (32 - n)) : hi;
      }
    }
    // chi
    for (let y = 0; y < 25; y += 5) {
      for (let x = 0; x < 5; x++) {
        const i = 2 * (x + y);
        const j = 2 * (((x + 1) % 5) + y);
        const k = 2 * (((x + 2) % 5) + y);
        s[i] = b[i] ^ (~b[j] & b[k]);
        s[i + 1] = b[i + 1] ^ (~b[j + 1] & b[k + 1]);
      }
    }
    // iota
    s[0] ^= RC[2 * round];
    s[1] ^= RC[2 * round + 1];
  }
}

/** XOR `block` (RATE bytes at most, little-endian lanes) into the state. */
function absorb(/** @type {Uint32Array} */ s, /** @type {Uint8Array} */ block) {
  for (let i = 0; i < block.length; i++) {
    s[i >> 2] ^= block[i] << (8 * (i & 3));
  }
}

/**
 * SHA3-256 of the concatenation of `parts`.
 * @param {...Uint8Array} parts
 * @returns {Uint8Array} 32 bytes
 */
export function sha3_256(...parts) {
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const data = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    data.set(part, offset);
    offset += part.length;
  }
  const s = new Uint32Array(50);
  let at = 0;
  for (; at + RATE <= data.length; at += RATE) {
    absorb(s, data.subarray(at, at + RATE));
    keccakF(s);
  }
  const last = new Uint8Array(RATE);
  last.set(data.subarray(at));
  last[data.length - at] ^= 0x06; // the SHA-3 domain bits and the first padding bit
  last[RATE - 1] ^= 0x80; // the last padding bit
  absorb(s, last);
  keccakF(s);
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = (s[i >> 2] >>> (8 * (i & 3))) & 0xff;
  return out;
}
