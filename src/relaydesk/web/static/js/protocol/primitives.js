// Thin wrappers over WebCrypto (globalThis.crypto.subtle) for the primitives of
// docs/protocol.md §6: SHA-256, HMAC-SHA256, X25519 (RFC 7748), Ed25519 (RFC 8032),
// AES-256-GCM, and ML-KEM-768 (FIPS 203). Node 20 has all but ML-KEM, which Chromium has
// (WebCrypto's modern algorithms: "ML-KEM-768", encapsulateBits / decapsulateBits).
//
// Private keys live in non-extractable CryptoKeys. Raw private bytes are only taken in
// (the golden vectors inject them, and the X25519 ephemeral key of HPKE is drawn from an
// injectable RNG); WebCrypto has no raw private import, so they go in as PKCS #8.
//
// Failures of the primitives are reported as `null` / `false`, never thrown: each caller
// maps them to the protocol error of its step (DecryptionFailed, SignatureInvalid, ...).

import { concat, fromBase64Url } from "./bytes.js";

const subtle = globalThis.crypto.subtle;

// PKCS #8 prefixes of a raw 32-byte private key (RFC 8410): OID 1.3.101.110 / 1.3.101.112.
const X25519_PKCS8 = Uint8Array.of(
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x6e,
  0x04,
  0x22,
  0x04,
  0x20,
);
const ED25519_PKCS8 = Uint8Array.of(
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x04,
  0x22,
  0x04,
  0x20,
);

/**
 * A key pair: the private half as a non-extractable CryptoKey, the public half raw.
 * @typedef {{privateKey: CryptoKey, publicKey: Uint8Array}} KeyPair
 */

/** `n` bytes from the platform's CSPRNG. @param {number} n @returns {Uint8Array} */
export function randomBytes(n) {
  const out = new Uint8Array(n);
  // getRandomValues fills at most 65536 bytes per call.
  for (let offset = 0; offset < n; offset += 65536) {
    globalThis.crypto.getRandomValues(out.subarray(offset, Math.min(n, offset + 65536)));
  }
  return out;
}

/** @param {...Uint8Array} parts @returns {Promise<Uint8Array>} SHA-256 of the concatenation */
export async function sha256(...parts) {
  return new Uint8Array(await subtle.digest("SHA-256", concat(...parts)));
}

/**
 * HMAC-SHA256. WebCrypto refuses an empty HMAC key; callers pass 32 zero bytes instead
 * of an empty salt (the same MAC, RFC 2104 pads the key with zeros).
 * @param {Uint8Array} key @param {Uint8Array} data @returns {Promise<Uint8Array>}
 */
export async function hmacSha256(key, data) {
  const hmacKey = await subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return new Uint8Array(await subtle.sign("HMAC", hmacKey, data));
}

/**
 * Import a raw private key through PKCS #8 once to learn its public key (from the JWK
 * export), then again as non-extractable.
 * @param {"X25519" | "Ed25519"} algorithm @param {Uint8Array} raw @param {KeyUsage[]} usages
 * @returns {Promise<KeyPair>}
 */
async function importPrivate(algorithm, raw, usages) {
  if (!(raw instanceof Uint8Array) || raw.length !== 32) {
    throw new TypeError(`a raw ${algorithm} private key is 32 bytes`);
  }
  const pkcs8 = concat(algorithm === "X25519" ? X25519_PKCS8 : ED25519_PKCS8, raw);
  const extractable = await subtle.importKey("pkcs8", pkcs8, { name: algorithm }, true, usages);
  const jwk = await subtle.exportKey("jwk", extractable);
  const publicKey = fromBase64Url(/** @type {string} */ (jwk.x));
  const privateKey = await subtle.importKey("pkcs8", pkcs8, { name: algorithm }, false, usages);
  return { privateKey, publicKey };
}

/** @param {"X25519" | "Ed25519"} algorithm @param {KeyUsage[]} usages @returns {Promise<KeyPair>} */
async function generate(algorithm, usages) {
  const pair = /** @type {CryptoKeyPair} */ (
    await subtle.generateKey({ name: algorithm }, false, usages)
  );
  const publicKey = new Uint8Array(await subtle.exportKey("raw", pair.publicKey));
  return { privateKey: pair.privateKey, publicKey };
}

/** An X25519 key pair from a raw 32-byte private scalar (clamped when used, RFC 7748). @param {Uint8Array} raw */
export function importX25519Private(raw) {
  return importPrivate("X25519", raw, ["deriveBits"]);
}

/** A fresh X25519 key pair whose private key never leaves WebCrypto. */
export function generateX25519() {
  return generate("X25519", ["deriveBits"]);
}

/** An Ed25519 key pair from its 32-byte RFC 8032 seed. @param {Uint8Array} seed */
export function importEd25519Private(seed) {
  return importPrivate("Ed25519", seed, ["sign"]);
}

/** A fresh Ed25519 key pair whose private key never leaves WebCrypto. */
export function generateEd25519() {
  return generate("Ed25519", ["sign"]);
}

/**
 * X25519(private, public): the 32-byte shared secret, or null when the agreement fails
 * (a low-order public key gives the all-zero value, which WebCrypto refuses; §6.2).
 * @param {CryptoKey} privateKey @param {Uint8Array} publicKey
 * @returns {Promise<Uint8Array | null>}
 */
export async function x25519(privateKey, publicKey) {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return null;
  try {
    const peer = await subtle.importKey("raw", publicKey, { name: "X25519" }, false, []);
    const bits = await subtle.deriveBits({ name: "X25519", public: peer }, privateKey, 256);
    const secret = new Uint8Array(bits);
    return secret.some((byte) => byte !== 0) ? secret : null;
  } catch {
    return null;
  }
}

/** @param {CryptoKey} privateKey @param {Uint8Array} data @returns {Promise<Uint8Array>} 64-byte signature */
export async function ed25519Sign(privateKey, data) {
  return new Uint8Array(await subtle.sign({ name: "Ed25519" }, privateKey, data));
}

/** @type {Map<string, Promise<CryptoKey | null>>} imported Ed25519 public keys, by hex */
const verifyKeys = new Map();
const MAX_CACHED_KEYS = 4096;

/** @param {Uint8Array} publicKey @returns {Promise<CryptoKey | null>} */
function ed25519PublicKey(publicKey) {
  let id = "";
  for (const byte of publicKey) id += byte.toString(16).padStart(2, "0");
  let key = verifyKeys.get(id);
  if (key === undefined) {
    if (verifyKeys.size >= MAX_CACHED_KEYS) verifyKeys.clear();
    key = subtle
      .importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"])
      .catch(() => null);
    verifyKeys.set(id, key);
  }
  return key;
}

/**
 * Ed25519 verification; false for a bad signature, a malformed key or signature.
 * @param {Uint8Array} publicKey 32 bytes @param {Uint8Array} signature 64 bytes @param {Uint8Array} data
 * @returns {Promise<boolean>}
 */
export async function ed25519Verify(publicKey, signature, data) {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return false;
  if (!(signature instanceof Uint8Array) || signature.length !== 64) return false;
  const key = await ed25519PublicKey(publicKey);
  if (key === null) return false;
  try {
    return await subtle.verify({ name: "Ed25519" }, key, signature, data);
  } catch {
    return false;
  }
}

/** An AES-256-GCM key from 32 raw bytes. @param {Uint8Array} raw @returns {Promise<CryptoKey>} */
export function importAesKey(raw) {
  return subtle.importKey("raw", raw, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
}

/**
 * @param {CryptoKey} key @param {Uint8Array} nonce 12 bytes @param {Uint8Array} aad @param {Uint8Array} plaintext
 * @returns {Promise<Uint8Array>} ciphertext || 16-byte tag
 */
export async function aesGcmEncrypt(key, nonce, aad, plaintext) {
  const params = { name: "AES-GCM", iv: nonce, additionalData: aad, tagLength: 128 };
  return new Uint8Array(await subtle.encrypt(params, key, plaintext));
}

/**
 * @param {CryptoKey} key @param {Uint8Array} nonce @param {Uint8Array} aad @param {Uint8Array} ciphertext with its tag
 * @returns {Promise<Uint8Array | null>} the plaintext, or null if it does not authenticate
 */
export async function aesGcmDecrypt(key, nonce, aad, ciphertext) {
  if (ciphertext.length < 16) return null;
  const params = { name: "AES-GCM", iv: nonce, additionalData: aad, tagLength: 128 };
  try {
    return new Uint8Array(await subtle.decrypt(params, key, ciphertext));
  } catch {
    return null;
  }
}

// ML-KEM-768 (FIPS 203) -----------------------------------------------------------------

const ML_KEM = { name: "ML-KEM-768" };

/** True where WebCrypto has ML-KEM-768 (Chromium; not Node 20). */
export const hasMlKem = await subtle
  .generateKey(ML_KEM, false, ["encapsulateBits", "decapsulateBits"])
  .then(() => true, () => false);

/** @param {CryptoKey} publicKey @returns {Promise<KeyPair>} the private key, the public one raw */
async function mlKemPair(privateKey, publicKey) {
  return { privateKey, publicKey: new Uint8Array(await subtle.exportKey("raw-public", publicKey)) };
}

/** A fresh ML-KEM-768 key pair whose private key never leaves WebCrypto. @returns {Promise<KeyPair>} */
export async function generateMlKem() {
  const pair = /** @type {CryptoKeyPair} */ (
    await subtle.generateKey(ML_KEM, false, ["encapsulateBits", "decapsulateBits"])
  );
  return mlKemPair(pair.privateKey, pair.publicKey);
}

/** An ML-KEM-768 key pair from its 64-byte seed d || z. @param {Uint8Array} seed @returns {Promise<KeyPair>} */
export async function importMlKemSeed(seed) {
  const privateKey = await subtle.importKey("raw-seed", seed, ML_KEM, false, ["decapsulateBits"]);
  return mlKemPair(privateKey, await subtle.getPublicKey(privateKey, ["encapsulateBits"]));
}

/**
 * ML-KEM-768 encapsulation to a 1184-byte encapsulation key: null if the key fails
 * FIPS 203's check (WebCrypto refuses to import it).
 * @param {Uint8Array} publicKey
 * @returns {Promise<{ciphertext: Uint8Array, sharedKey: Uint8Array} | null>}
 */
export async function mlKemEncapsulate(publicKey) {
  try {
    const key = await subtle.importKey("raw-public", publicKey, ML_KEM, false, ["encapsulateBits"]);
    const result = await subtle.encapsulateBits(ML_KEM, key);
    return { ciphertext: new Uint8Array(result.ciphertext), sharedKey: new Uint8Array(result.sharedKey) };
  } catch {
    return null;
  }
}

/**
 * ML-KEM-768 decapsulation (implicit rejection: a changed ciphertext gives another key);
 * null for a ciphertext of the wrong size.
 * @param {CryptoKey} privateKey @param {Uint8Array} ciphertext 1088 bytes
 * @returns {Promise<Uint8Array | null>}
 */
export async function mlKemDecapsulate(privateKey, ciphertext) {
  try {
    return new Uint8Array(await subtle.decapsulateBits(ML_KEM, privateKey, ciphertext));
  } catch {
    return null;
  }
}

/** Is this a 1184-byte ML-KEM-768 encapsulation key that passes FIPS 203's check? @param {Uint8Array} publicKey */
export async function isMlKemPublicKey(publicKey) {
  try {
    await subtle.importKey("raw-public", publicKey, ML_KEM, false, ["encapsulateBits"]);
    return true;
  } catch {
    return false;
  }
}
