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
  importX25519Private,
  sha256,
  x25519,
} from "../../src/relaydesk/web/static/js/protocol/primitives.js";
import { concat, utf8 } from "../../src/relaydesk/web/static/js/protocol/bytes.js";
import { errorClass, exactly, h, load, toHex } from "./helpers.mjs";

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

test("HPKE suite ids", () => {
  assert.deepEqual(
    [hpke.KEM_ID, hpke.KDF_ID, hpke.AEAD_ID],
    [HPKE.kem_id, HPKE.kdf_id, HPKE.aead_id],
  );
});

for (const vector of HPKE.valid) {
  test(`HPKE seal with the injected ephemeral key: ${vector.name}`, async () => {
    const recipient = await importX25519Private(h(vector.recipient_private));
    assert.equal(toHex(recipient.publicKey), vector.recipient_public);
    const ephemeral = await importX25519Private(h(vector.ephemeral_private));
    assert.equal(toHex(ephemeral.publicKey), vector.enc);
    // intermediate values, to locate a difference
    const dh = await x25519(ephemeral.privateKey, recipient.publicKey);
    const shared = await hpke.sharedSecret(dh, ephemeral.publicKey, recipient.publicKey);
    assert.equal(toHex(shared), vector.shared_secret);
    const { key, baseNonce } = await hpke.keySchedule(shared, h(vector.info));
    assert.equal(toHex(key), vector.key);
    assert.equal(toHex(baseNonce), vector.base_nonce);
    const sealed = await hpke.seal(
      recipient.publicKey,
      h(vector.info),
      h(vector.aad),
      h(vector.plaintext),
      h(vector.ephemeral_private),
    );
    assert.equal(toHex(sealed.enc), vector.enc);
    assert.equal(toHex(sealed.ciphertext), vector.ciphertext);
    const opened = await hpke.open(
      recipient,
      h(vector.enc),
      h(vector.info),
      h(vector.aad),
      h(vector.ciphertext),
    );
    assert.equal(toHex(opened), vector.plaintext);
  });
}

test("HPKE with a random ephemeral key opens, and never repeats enc", async () => {
  const recipient = await importX25519Private(h(HPKE.valid[0].recipient_private));
  const info = utf8("info");
  const a = await hpke.seal(recipient.publicKey, info, new Uint8Array(0), utf8("secret"));
  const b = await hpke.seal(recipient.publicKey, info, new Uint8Array(0), utf8("secret"));
  assert.notEqual(toHex(a.enc), toHex(b.enc));
  assert.equal(
    new TextDecoder().decode(
      await hpke.open(recipient, a.enc, info, new Uint8Array(0), a.ciphertext),
    ),
    "secret",
  );
});

for (const vector of HPKE.invalid) {
  test(`HPKE open refuses: ${vector.name}`, async () => {
    const recipient = await importX25519Private(h(vector.recipient_private));
    await assert.rejects(
      hpke.open(recipient, h(vector.enc), h(vector.info), h(vector.aad), h(vector.ciphertext)),
      exactly(errorClass(vector.error)),
    );
  });
}

test("HPKE seal to a low-order key fails (DecryptionFailed), as in Python", async () => {
  for (const point of [
    "00".repeat(32),
    "01" + "00".repeat(31),
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  ]) {
    await assert.rejects(
      hpke.seal(h(point), new Uint8Array(0), new Uint8Array(0), new Uint8Array(32)),
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
      x25519: h(m.x25519),
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
