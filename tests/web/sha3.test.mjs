// SHA3-256 of the browser client (js/protocol/sha3.js; WebCrypto has none): the FIPS 202
// examples, then node:crypto's SHA3-256 on every length around the rate (136 bytes) and
// on random inputs.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { test } from "node:test";

import { sha3_256 } from "../../src/relaydesk/web/static/js/protocol/sha3.js";
import { toHex } from "./helpers.mjs";

const node = (/** @type {Uint8Array} */ data) => createHash("sha3-256").update(data).digest("hex");

test("the FIPS 202 examples", () => {
  assert.equal(toHex(sha3_256()), "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a");
  assert.equal(
    toHex(sha3_256(new TextEncoder().encode("abc"))),
    "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
  );
  const million = new Uint8Array(1_000_000).fill(0x61); // "a" x 10^6
  assert.equal(toHex(sha3_256(million)), "5c8875ae474a3634ba4fd55ec85bffd661f32aca75c6d699d0cdcb6c115891c1");
});

test("every length around the rate, and parts hash as their concatenation", () => {
  for (let length = 0; length <= 3 * 136 + 1; length++) {
    const data = randomBytes(length);
    assert.equal(toHex(sha3_256(data)), node(data), `length ${length}`);
    const cut = Math.floor(length / 3);
    assert.equal(toHex(sha3_256(data.subarray(0, cut), data.subarray(cut))), node(data));
  }
});

test("random inputs as long as the combiner's (32 + 32 + 32 + 32 + 6 bytes) and longer", () => {
  for (let i = 0; i < 200; i++) {
    const data = randomBytes(i < 100 ? 134 : 1 + Math.floor(Math.random() * 5000));
    assert.equal(toHex(sha3_256(data)), node(data));
  }
});
