// Sealed content frames (docs/protocol.md §6.3) against tests/vectors/content.json.

import { test } from "node:test";
import assert from "node:assert/strict";

import {
  FrameType,
  HEADER_SIZE,
  channelOf,
  packHeader,
  parseFrame,
  serializeFrame,
} from "../../src/relaydesk/web/static/js/protocol/frames.js";
import {
  decodeMessage,
  encodeMessage,
  messageFromFields,
  messageToFields,
} from "../../src/relaydesk/web/static/js/protocol/messages.js";
import { contentKey } from "../../src/relaydesk/web/static/js/protocol/keys.js";
import { CONTENT_LABEL, nonce } from "../../src/relaydesk/web/static/js/protocol/e2e.js";
import {
  aesGcmEncrypt,
  ed25519Sign,
  importAesKey,
  importEd25519Private,
} from "../../src/relaydesk/web/static/js/protocol/primitives.js";
import { concat } from "../../src/relaydesk/web/static/js/protocol/bytes.js";
import { SignatureInvalid } from "../../src/relaydesk/web/static/js/protocol/errors.js";
import {
  applyCommitFrame,
  client,
  exactly,
  fromTyped,
  h,
  headerFromJson,
  load,
  needsMlKem,
  toHex,
  toTyped,
} from "./helpers.mjs";

const C = load("content.json");
const byId = Object.fromEntries(C.members.map((m) => [m.member_id, m]));

async function clients() {
  const result = {};
  for (const member of C.members) {
    const e2e = await client(C, member);
    await applyCommitFrame(e2e, C.commit_frame, C.now);
    assert.equal(toHex(e2e.current.secret), C.epoch_secret);
    assert.equal(e2e.current.number, C.epoch);
    result[member.member_id] = e2e;
  }
  return result;
}

test("label", () => {
  assert.equal(new TextDecoder().decode(CONTENT_LABEL), C.label);
});

for (const vector of C.frames) {
  test(`recomputed step by step from its inputs: ${vector.name}`, async () => {
    const header = headerFromJson(vector.header);
    const type = FrameType[vector.message.type];
    assert.equal(header.type, type);
    const plaintext = encodeMessage(messageFromFields(type, fromTyped(vector.message.fields)));
    assert.equal(toHex(plaintext), vector.plaintext);
    const channel = channelOf(type);
    assert.equal(channel, vector.channel);
    const key = await contentKey(
      h(C.session_uid),
      h(C.epoch_secret),
      header.epoch,
      header.sender,
      channel,
    );
    assert.equal(toHex(key), vector.content_key);
    assert.equal(toHex(nonce(header.sequence)), vector.nonce);
    const aad = packHeader(header, plaintext.length + 16 + 64);
    assert.equal(toHex(aad), vector.aad);
    const ciphertext = await aesGcmEncrypt(
      await importAesKey(key),
      nonce(header.sequence),
      aad,
      plaintext,
    );
    assert.equal(toHex(ciphertext), vector.ciphertext);
    const signing = await importEd25519Private(h(byId[header.sender].ed25519_private));
    const signature = await ed25519Sign(signing.privateKey, concat(CONTENT_LABEL, aad, ciphertext));
    assert.equal(toHex(signature), vector.signature);
    assert.equal(toHex(concat(aad, ciphertext, signature)), vector.frame);
  });
}

test("EndToEnd.seal reproduces every frame byte for byte", needsMlKem, async () => {
  const members = await clients();
  for (const vector of C.frames) {
    const header = headerFromJson(vector.header);
    const message = decodeMessage(header.type, h(vector.plaintext));
    const frame = await members[header.sender].seal(message, header.target, header.flags);
    assert.equal(toHex(serializeFrame(frame)), vector.frame, vector.name);
    assert.deepEqual(frame.header, header);
  }
});

test("every member opens every frame to its message", needsMlKem, async () => {
  for (const receiver of Object.values(await clients())) {
    for (const vector of C.frames) {
      const message = await receiver.open(parseFrame(h(vector.frame)), C.now);
      assert.equal(toHex(encodeMessage(message)), vector.plaintext);
      assert.deepEqual(toTyped(messageToFields(message)), vector.message.fields);
    }
  }
});

test("a changed bit in the ciphertext fails the signature check", needsMlKem, async () => {
  const receiver = (await clients())[1];
  for (const vector of C.frames) {
    const data = h(vector.frame);
    data[HEADER_SIZE] ^= 0x01;
    await assert.rejects(receiver.open(parseFrame(data), C.now), exactly(SignatureInvalid));
  }
});
