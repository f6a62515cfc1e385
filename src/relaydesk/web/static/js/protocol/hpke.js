// HPKE (RFC 9180) base mode, single shot, empty aad: the hybrid KEM MLKEM768-X25519
// ("X-Wing", 0x647A), HKDF-SHA256 0x0001, AES-256-GCM 0x0002 (docs/protocol.md §6.2),
// the suite Python takes from `cryptography`. Written out with WebCrypto (ML-KEM-768,
// X25519, HKDF, AES-GCM) and sha3.js. The KEM's randomness is WebCrypto's: nothing here
// is injectable, and the vectors are open-only (tests/vectors/hpke.json).
//
// A recipient's public key is the ML-KEM-768 encapsulation key (1184 bytes) followed by
// its X25519 public key (32); `enc` is the ML-KEM ciphertext (1088) followed by the
// ephemeral X25519 public key (32).

import { DecryptionFailed } from "./errors.js";
import { concat, u16, utf8 } from "./bytes.js";
import { expand, extract } from "./hkdf.js";
import {
  aesGcmDecrypt,
  aesGcmEncrypt,
  generateX25519,
  importAesKey,
  mlKemDecapsulate,
  mlKemEncapsulate,
  x25519,
} from "./primitives.js";
import { sha3_256 } from "./sha3.js";

export const KEM_ID = 0x647a;
export const KDF_ID = 0x0001;
export const AEAD_ID = 0x0002;
export const MLKEM_PUBLIC_SIZE = 1184;
export const MLKEM_CIPHERTEXT_SIZE = 1088;
export const PUBLIC_KEY_SIZE = MLKEM_PUBLIC_SIZE + 32; // 1216
export const ENC_SIZE = MLKEM_CIPHERTEXT_SIZE + 32; // 1120
export const XWING_LABEL = utf8("\\.//^\\"); // 5c 2e 2f 2f 5e 5c

const HPKE_SUITE = concat(utf8("HPKE"), u16(KEM_ID), u16(KDF_ID), u16(AEAD_ID));
const HPKE_V1 = utf8("HPKE-v1");
const MODE_BASE = Uint8Array.of(0x00);
const N_KEY = 32;
const N_NONCE = 12;
const EMPTY = new Uint8Array(0);

/**
 * A member's hybrid private key: ML-KEM-768 and X25519 (private halves in WebCrypto).
 * @typedef {{mlkem: import("./primitives.js").KeyPair, x25519: import("./primitives.js").KeyPair}} AgreementKey
 */

/** The 1216-byte public key of an agreement key. @param {AgreementKey} key */
export function publicBytes(key) {
  return concat(key.mlkem.publicKey, key.x25519.publicKey);
}

/** @param {Uint8Array} salt @param {string} label @param {Uint8Array} ikm */
function labeledExtract(salt, label, ikm) {
  return extract(salt, concat(HPKE_V1, HPKE_SUITE, utf8(label), ikm));
}

/** @param {Uint8Array} prk @param {string} label @param {Uint8Array} info @param {number} length */
function labeledExpand(prk, label, info, length) {
  return expand(prk, concat(u16(length), HPKE_V1, HPKE_SUITE, utf8(label), info), length);
}

/**
 * The X-Wing combiner: SHA3-256(ss_M || ss_X || ct_X || pk_X || "\.//^\").
 * @param {Uint8Array} ssM @param {Uint8Array} ssX @param {Uint8Array} ctX @param {Uint8Array} pkX
 * @returns {Uint8Array} the KEM's 32-byte shared secret
 */
export function combine(ssM, ssX, ctX, pkX) {
  return sha3_256(ssM, ssX, ctX, pkX, XWING_LABEL);
}

/**
 * The base-mode key schedule (RFC 9180 §5.1): AEAD key and base nonce.
 * @param {Uint8Array} shared @param {Uint8Array} info
 * @returns {Promise<{key: Uint8Array, baseNonce: Uint8Array}>}
 */
export async function keySchedule(shared, info) {
  const pskIdHash = await labeledExtract(EMPTY, "psk_id_hash", EMPTY);
  const infoHash = await labeledExtract(EMPTY, "info_hash", info);
  const context = concat(MODE_BASE, pskIdHash, infoHash);
  const secret = await labeledExtract(shared, "secret", EMPTY);
  const key = await labeledExpand(secret, "key", context, N_KEY);
  const baseNonce = await labeledExpand(secret, "base_nonce", context, N_NONCE);
  return { key, baseNonce };
}

/**
 * Seal `plaintext` to a 1216-byte hybrid public key, with fresh randomness.
 * @param {Uint8Array} recipientPublic
 * @param {Uint8Array} info
 * @param {Uint8Array} plaintext
 * @returns {Promise<{enc: Uint8Array, ciphertext: Uint8Array}>}
 * @throws {DecryptionFailed} if the recipient key is not a valid hybrid key
 */
export async function seal(recipientPublic, info, plaintext) {
  const invalid = () => new DecryptionFailed("the hybrid key agreement failed (invalid public key)");
  if (recipientPublic.length !== PUBLIC_KEY_SIZE) throw invalid();
  const pkX = recipientPublic.subarray(MLKEM_PUBLIC_SIZE);
  const encapsulated = await mlKemEncapsulate(recipientPublic.subarray(0, MLKEM_PUBLIC_SIZE));
  const ephemeral = await generateX25519();
  const ssX = await x25519(ephemeral.privateKey, pkX);
  if (encapsulated === null || ssX === null) throw invalid();
  const ctX = ephemeral.publicKey;
  const shared = combine(encapsulated.sharedKey, ssX, ctX, pkX);
  const { key, baseNonce } = await keySchedule(shared, info);
  const ciphertext = await aesGcmEncrypt(await importAesKey(key), baseNonce, EMPTY, plaintext);
  return { enc: concat(encapsulated.ciphertext, ctX), ciphertext };
}

/**
 * The KEM's shared secret for this recipient (decapsulation), or null if enc is not one.
 * @param {AgreementKey} recipient @param {Uint8Array} enc
 * @returns {Promise<Uint8Array | null>}
 */
export async function decapsulate(recipient, enc) {
  if (enc.length !== ENC_SIZE) return null;
  const ctX = enc.subarray(MLKEM_CIPHERTEXT_SIZE);
  const ssM = await mlKemDecapsulate(recipient.mlkem.privateKey, enc.subarray(0, MLKEM_CIPHERTEXT_SIZE));
  const ssX = await x25519(recipient.x25519.privateKey, ctX);
  if (ssM === null || ssX === null) return null;
  return combine(ssM, ssX, ctX, recipient.x25519.publicKey);
}

/**
 * Open what `seal` made for this recipient.
 * @param {AgreementKey} recipient
 * @param {Uint8Array} enc 1120 bytes
 * @param {Uint8Array} info
 * @param {Uint8Array} ciphertext with its 16-byte tag
 * @returns {Promise<Uint8Array>}
 * @throws {DecryptionFailed}
 */
export async function open(recipient, enc, info, ciphertext) {
  const shared = await decapsulate(recipient, enc);
  if (shared === null) throw new DecryptionFailed("the hybrid key agreement failed (invalid enc)");
  const { key, baseNonce } = await keySchedule(shared, info);
  const plaintext = await aesGcmDecrypt(await importAesKey(key), baseNonce, EMPTY, ciphertext);
  if (plaintext === null) throw new DecryptionFailed("the sealed epoch secret did not open");
  return plaintext;
}
