// HPKE (RFC 9180) base mode, single shot: DHKEM(X25519, HKDF-SHA256) 0x0020,
// HKDF-SHA256 0x0001, AES-256-GCM 0x0002 (docs/protocol.md §6.2). The ephemeral key
// is injectable (golden vectors) and used as 32 raw bytes, as the spec writes it out.

import { DecryptionFailed } from "./errors.js";
import { concat, u16, utf8 } from "./bytes.js";
import { expand, extract } from "./hkdf.js";
import {
  aesGcmDecrypt,
  aesGcmEncrypt,
  importAesKey,
  importX25519Private,
  randomBytes,
  x25519,
} from "./primitives.js";

export const KEM_ID = 0x0020;
export const KDF_ID = 0x0001;
export const AEAD_ID = 0x0002;

const KEM_SUITE = concat(utf8("KEM"), u16(KEM_ID));
const HPKE_SUITE = concat(utf8("HPKE"), u16(KEM_ID), u16(KDF_ID), u16(AEAD_ID));
const HPKE_V1 = utf8("HPKE-v1");
const MODE_BASE = Uint8Array.of(0x00);
const N_SECRET = 32;
const N_KEY = 32;
const N_NONCE = 12;
const EMPTY = new Uint8Array(0);

/** @param {Uint8Array} suite @param {Uint8Array} salt @param {string} label @param {Uint8Array} ikm */
function labeledExtract(suite, salt, label, ikm) {
  return extract(salt, concat(HPKE_V1, suite, utf8(label), ikm));
}

/** @param {Uint8Array} suite @param {Uint8Array} prk @param {string} label @param {Uint8Array} info @param {number} length */
function labeledExpand(suite, prk, label, info, length) {
  return expand(prk, concat(u16(length), HPKE_V1, suite, utf8(label), info), length);
}

/**
 * DHKEM's shared secret from the Diffie-Hellman output (RFC 9180 §4.1).
 * @param {Uint8Array} dh @param {Uint8Array} enc @param {Uint8Array} recipientPublic
 * @returns {Promise<Uint8Array>}
 */
export async function sharedSecret(dh, enc, recipientPublic) {
  const eaePrk = await labeledExtract(KEM_SUITE, EMPTY, "eae_prk", dh);
  return labeledExpand(KEM_SUITE, eaePrk, "shared_secret", concat(enc, recipientPublic), N_SECRET);
}

/**
 * The base-mode key schedule (RFC 9180 §5.1): AEAD key and base nonce.
 * @param {Uint8Array} shared @param {Uint8Array} info
 * @returns {Promise<{key: Uint8Array, baseNonce: Uint8Array}>}
 */
export async function keySchedule(shared, info) {
  const pskIdHash = await labeledExtract(HPKE_SUITE, EMPTY, "psk_id_hash", EMPTY);
  const infoHash = await labeledExtract(HPKE_SUITE, EMPTY, "info_hash", info);
  const context = concat(MODE_BASE, pskIdHash, infoHash);
  const secret = await labeledExtract(HPKE_SUITE, shared, "secret", EMPTY);
  const key = await labeledExpand(HPKE_SUITE, secret, "key", context, N_KEY);
  const baseNonce = await labeledExpand(HPKE_SUITE, secret, "base_nonce", context, N_NONCE);
  return { key, baseNonce };
}

/**
 * Seal `plaintext` to `recipientPublic`. `ephemeralPrivate` (32 raw bytes) must be
 * fresh for every call; it defaults to 32 random bytes.
 * @param {Uint8Array} recipientPublic 32-byte X25519 public key
 * @param {Uint8Array} info
 * @param {Uint8Array} aad
 * @param {Uint8Array} plaintext
 * @param {Uint8Array} [ephemeralPrivate]
 * @returns {Promise<{enc: Uint8Array, ciphertext: Uint8Array}>}
 * @throws {DecryptionFailed} if the recipient key is invalid (low order)
 */
export async function seal(
  recipientPublic,
  info,
  aad,
  plaintext,
  ephemeralPrivate = randomBytes(32),
) {
  const ephemeral = await importX25519Private(ephemeralPrivate);
  const dh = await x25519(ephemeral.privateKey, recipientPublic);
  if (dh === null) {
    throw new DecryptionFailed("the X25519 key agreement failed (invalid public key)");
  }
  const enc = ephemeral.publicKey;
  const { key, baseNonce } = await keySchedule(await sharedSecret(dh, enc, recipientPublic), info);
  const ciphertext = await aesGcmEncrypt(await importAesKey(key), baseNonce, aad, plaintext);
  return { enc, ciphertext };
}

/**
 * Open what `seal` made for this recipient.
 * @param {import("./primitives.js").KeyPair} recipient the recipient's X25519 key pair
 * @param {Uint8Array} enc
 * @param {Uint8Array} info
 * @param {Uint8Array} aad
 * @param {Uint8Array} ciphertext with its 16-byte tag
 * @returns {Promise<Uint8Array>}
 * @throws {DecryptionFailed}
 */
export async function open(recipient, enc, info, aad, ciphertext) {
  const dh = await x25519(recipient.privateKey, enc);
  if (dh === null) {
    throw new DecryptionFailed("the X25519 key agreement failed (invalid public key)");
  }
  const shared = await sharedSecret(dh, enc, recipient.publicKey);
  const { key, baseNonce } = await keySchedule(shared, info);
  const plaintext = await aesGcmDecrypt(await importAesKey(key), baseNonce, aad, ciphertext);
  if (plaintext === null) throw new DecryptionFailed("the sealed epoch secret did not open");
  return plaintext;
}
