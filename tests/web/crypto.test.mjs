// HKDF (hkdf.json), HPKE (hpke.json), roster hash and security code
// (security_code.json): docs/protocol.md §6.2-§6.5.

import { test } from "node:test";
import assert from "node:assert/strict";

import { expand, extract } from "../../src/relaydesk/web/static/js/protocol/hkdf.js";
import * as hpke from "../../src/relaydesk/web/static/js/protocol/hpke.js";
import {
  CONTENT_KEY_LABEL,
  contentKey,
  contentKeyInfo,
  rosterHash,
  securityCode,
} from "../../src/relaydesk/web/static/js/protocol/keys.js";
import { Channel } from "../../src/relaydesk/web/static/js/protocol/frames.js";
import {
  aesGcmDecrypt,
  importAesKey,
  importMlKemSeed,
  importX25519Private,
  sha256,
} from "../../src/relaydesk/web/static/js/protocol/primitives.js";
import { concat, utf8 } from "../../src/relaydesk/web/static/js/protocol/bytes.js";
import { errorClass, exactly, h, load, needsMlKem, toHex } from "./helpers.mjs";

const HKDF = load("hkdf.json");
const HPKE = load("hpke.json");
const CODES = load("security_code.json");

// HKDF -----------------------------------------------------------------------------------

test("HKDF labels and channels", () => {
  assert.equal(new TextDecoder().decode(CONTENT_KEY_LABEL), HKDF.content_key_label);
  assert.deepEqual({ ...Channel }, HKDF.channels);
});

for (const vector of HKDF.extract) {
  test(`HKDF-Extract: ${vector.name}`, async () => {
    assert.equal(toHex(await extract(h(vector.salt), h(vector.ikm))), vector.prk);
  });
}

for (const vector of HKDF.expand) {
  test(`HKDF-Expand: ${vector.name}`, async () => {
    assert.equal(toHex(await expand(h(vector.prk), h(vector.info), vector.length)), vector.okm);
  });
}

test("RFC 5869 A.1 and A.3 are the published values", async () => {
  const a1 = HKDF.expand.find((v) => v.name === "RFC 5869 A.1");
  assert.equal(
    a1.okm,
    "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
  );
  const a3 = HKDF.expand.find((v) => v.name.startsWith("RFC 5869 A.3"));
  assert.equal(
    a3.okm,
    "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
  );
});

for (const vector of HKDF.content_key) {
  test(`content key: epoch ${vector.epoch}, sender ${vector.sender}, ${vector.channel_name}`, async () => {
    const uid = h(vector.session_uid);
    const secret = h(vector.epoch_secret);
    assert.equal(toHex(await extract(uid, secret)), vector.prk);
    assert.equal(toHex(contentKeyInfo(vector.epoch, vector.sender, vector.channel)), vector.info);
    const key = await contentKey(uid, secret, vector.epoch, vector.sender, vector.channel);
    assert.equal(toHex(key), vector.key);
  });
}

test("content key example of §6.3, and WebCrypto's own HKDF agrees", async () => {
  const uid = Uint8Array.from({ length: 16 }, (_, i) => i);
  const key = await contentKey(uid, new Uint8Array(32), 1, 2, Channel.CHAT);
  assert.equal(toHex(key), "a85b14cfdc3d13192a1140f83c5cda1f24cd6a0c0d7ed1869bf0e555e7d0047f");
  const subtle = globalThis.crypto.subtle;
  const ikm = await subtle.importKey("raw", new Uint8Array(32), "HKDF", false, ["deriveBits"]);
  const bits = await subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: uid, info: contentKeyInfo(1, 2, Channel.CHAT) },
    ikm,
    256,
  );
  assert.equal(toHex(new Uint8Array(bits)), toHex(key));
});

// HPKE -----------------------------------------------------------------------------------

test("HPKE suite ids and the X-Wing label", () => {
  assert.deepEqual(
    [hpke.KEM_ID, hpke.KDF_ID, hpke.AEAD_ID],
    [HPKE.kem_id, HPKE.kdf_id, HPKE.aead_id],
  );
  assert.equal(toHex(hpke.XWING_LABEL), HPKE.xwing_label);
});

test("the combiner and the key schedule on the vectors' intermediate values", async () => {
  // Runs everywhere (no ML-KEM needed): SHA3-256 of the documented inputs, then RFC 9180.
  for (const vector of HPKE.valid) {
    const { key, baseNonce } = await hpke.keySchedule(h(vector.shared_secret), h(vector.info));
    assert.equal(toHex(key), vector.key);
    assert.equal(toHex(baseNonce), vector.base_nonce);
    const opened = await aesGcmDecrypt(await importAesKey(key), baseNonce, new Uint8Array(0), h(vector.ciphertext));
    assert.equal(toHex(opened), vector.plaintext);
  }
});

/** A vector's recipient key (ML-KEM-768 seed, X25519 private key), checked against its public key. */
async function recipientKey(recipient) {
  const key = {
    mlkem: await importMlKemSeed(h(recipient.mlkem_seed)),
    x25519: await importX25519Private(h(recipient.x25519_private)),
  };
  assert.equal(toHex(hpke.publicBytes(key)), recipient.public);
  return key;
}

for (const vector of HPKE.valid) {
  test(`HPKE opens Python's box: ${vector.name}`, needsMlKem, async () => {
    const recipient = await recipientKey(vector.recipient);
    const enc = h(vector.enc);
    // the intermediate values, to locate a difference
    const shared = await hpke.decapsulate(recipient, enc);
    assert.equal(toHex(shared), vector.shared_secret);
    const opened = await hpke.open(recipient, enc, h(vector.info), h(vector.ciphertext));
    assert.equal(toHex(opened), vector.plaintext);
  });
}

test("HPKE seal then open, fresh each time", needsMlKem, async () => {
  const recipient = await recipientKey(HPKE.valid[0].recipient);
  const info = utf8("info");
  const a = await hpke.seal(hpke.publicBytes(recipient), info, utf8("secret"));
  const b = await hpke.seal(hpke.publicBytes(recipient), info, utf8("secret"));
  assert.equal(a.enc.length, hpke.ENC_SIZE);
  assert.equal(a.ciphertext.length, 6 + 16);
  assert.notEqual(toHex(a.enc), toHex(b.enc));
  assert.equal(new TextDecoder().decode(await hpke.open(recipient, a.enc, info, a.ciphertext)), "secret");
});

for (const vector of HPKE.invalid) {
  test(`HPKE open refuses: ${vector.name}`, needsMlKem, async () => {
    const recipient = await recipientKey(vector.recipient);
    await assert.rejects(
      hpke.open(recipient, h(vector.enc), h(vector.info), h(vector.ciphertext)),
      exactly(errorClass(vector.error)),
    );
  });
}

test("HPKE seal to an invalid hybrid key fails (DecryptionFailed), as in Python", needsMlKem, async () => {
  const good = h(HPKE.valid[0].recipient.public);
  for (const bad of [
    concat(good.subarray(0, 1184), h("00".repeat(32))), // low-order X25519 parts
    concat(good.subarray(0, 1184), h("01" + "00".repeat(31))),
    concat(good.subarray(0, 1184), h("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")),
    concat(new Uint8Array(1184).fill(0xff), good.subarray(1184)), // not an ML-KEM key
    good.subarray(0, 1215),
  ]) {
    await assert.rejects(
      hpke.seal(bad, new Uint8Array(0), new Uint8Array(32)),
      exactly(errorClass("DecryptionFailed")),
    );
  }
});

// Roster hash and security code ---------------------------------------------------------------

for (const vector of CODES.roster_hash) {
  test(`roster hash: ${vector.name}`, async () => {
    const tickets = vector.members.map((m) => ({
      memberId: m.member_id,
      displayName: m.display_name,
      agreement: h(m.agreement),
      ed25519: h(m.ed25519),
    }));
    assert.equal(toHex(await rosterHash(tickets)), vector.roster_hash);
  });
}

test("roster hashes differ wherever the view differs", () => {
  const hashes = Object.fromEntries(CODES.roster_hash.map((v) => [v.name, v.roster_hash]));
  assert.equal(hashes.honest, hashes["honest, listed in another order"]);
  assert.equal(new Set(Object.values(hashes)).size, Object.keys(hashes).length - 1);
});

for (const vector of CODES.security_code) {
  test(`security code: ${vector.name}`, async () => {
    const uid = h(vector.session_uid);
    const leader = h(vector.leader_ed25519);
    const roster = h(vector.roster_hash);
    const digest = await sha256(utf8("relaydesk/v1 security code"), uid, leader, roster);
    assert.equal(toHex(digest), vector.digest);
    const code = await securityCode(uid, leader, roster);
    assert.equal(code, vector.security_code);
    assert.match(code, /^\d{4} \d{4} \d{4} \d{4}$/);
  });
}

test("security code example of §6.5", async () => {
  const uid = Uint8Array.from({ length: 16 }, (_, i) => i);
  assert.equal(
    await securityCode(uid, new Uint8Array(32), new Uint8Array(32)),
    "6436 4142 9191 8068",
  );
  assert.equal(concat().length, 0);
});
