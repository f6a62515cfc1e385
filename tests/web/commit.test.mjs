// Key commits (docs/protocol.md §6.2) against tests/vectors/commit.json.

import { test } from "node:test";
import assert from "node:assert/strict";

import {
  FrameType,
  HEADER_SIZE,
  parseFrame,
  serializeFrame,
} from "../../src/relaydesk/web/static/js/protocol/frames.js";
import { decodeMessage } from "../../src/relaydesk/web/static/js/protocol/messages.js";
import * as ks from "../../src/relaydesk/web/static/js/protocol/keys.js";
import * as hpke from "../../src/relaydesk/web/static/js/protocol/hpke.js";
import { ed25519Verify } from "../../src/relaydesk/web/static/js/protocol/primitives.js";
import { concat, utf8 } from "../../src/relaydesk/web/static/js/protocol/bytes.js";
import { pack } from "../../src/relaydesk/web/static/js/protocol/msgpack.js";
import {
  Script,
  applyCommitFrame,
  client,
  errorClass,
  exactly,
  h,
  headerFromJson,
  load,
  memberKeys,
  needsMlKem,
  toHex,
} from "./helpers.mjs";

// Every test here but the first and the last needs ML-KEM-768 (members' keys): Node 20
// skips them, tests/browser/test_protocol_library.py runs them in Chromium.
const C = load("commit.json");
const byId = Object.fromEntries(C.members.map((m) => [m.member_id, m]));

test("labels", () => {
  const text = (bytes) => new TextDecoder().decode(bytes);
  assert.equal(text(ks.COMMIT_LABEL), C.labels.commit);
  assert.equal(text(ks.EPOCH_SECRET_LABEL), C.labels.epoch_secret);
  assert.equal(text(ks.ROSTER_LABEL), C.labels.roster);
  assert.equal(text(ks.SECURITY_CODE_LABEL), C.labels.security_code);
});

test("the leader's commit is recomputed from its inputs, all but the sealed copies", needsMlKem, async () => {
  const e2e = await client(C, byId[C.leader]);
  assert.ok(e2e.isLeader);
  assert.ok(e2e.needsRekey(C.now));
  const script = new Script([h(C.epoch_secret)]);
  const frame = await e2e.startEpoch(script.rng, C.now);
  assert.ok(script.usedUp);
  assert.deepEqual(frame.header, headerFromJson(C.header));
  const commit = decodeMessage(FrameType.KEY_COMMIT, frame.body);
  const mine = ks.readCommit(commit);
  const theirs = ks.readCommit({ content: h(C.commit_content), signature: h(C.commit_signature) });
  const { sealed, ...rest } = mine;
  const { sealed: stored, ...expected } = theirs;
  assert.deepEqual(rest, expected);
  assert.deepEqual(sealed.map((s) => s.memberId), stored.map((s) => s.memberId));
  assert.notEqual(toHex(sealed[0].enc), toHex(stored[0].enc)); // the KEM's randomness is fresh
  // every member opens the leader's new copies to the same secret
  for (const member of C.members) {
    const keys = await memberKeys(member);
    assert.equal(toHex(await ks.openEpochSecret(mine, member.member_id, keys)), C.epoch_secret);
  }
  assert.equal(toHex(e2e.current.rosterHash), C.roster_hash);
  assert.equal(e2e.securityCode, C.security_code);
  assert.ok(!e2e.needsRekey(C.now));
});

test("the sealing steps, one member at a time (open-only)", needsMlKem, async () => {
  const content = ks.readCommit({ content: h(C.commit_content), signature: h(C.commit_signature) });
  assert.deepEqual(
    content.members,
    C.sealing.map((s) => s.member_id),
  );
  assert.deepEqual(
    content.members,
    Object.keys(byId)
      .map(Number)
      .sort((a, b) => a - b),
  );
  for (const [i, step] of C.sealing.entries()) {
    const info = ks.epochSecretInfo(h(C.session_uid), C.epoch, step.member_id);
    assert.equal(info.length, 49);
    assert.equal(toHex(info), step.info);
    const keys = await memberKeys(byId[step.member_id]);
    const opened = await hpke.open(keys.agreement, h(step.enc), info, h(step.ciphertext));
    assert.equal(toHex(opened), C.epoch_secret);
    assert.equal(toHex(content.sealed[i].enc), step.enc);
    assert.equal(toHex(content.sealed[i].ciphertext), step.ciphertext);
  }
  const signed = concat(utf8(C.labels.commit), h(C.commit_content));
  assert.ok(await ed25519Verify(h(byId[C.leader].ed25519_public), h(C.commit_signature), signed));
  assert.equal(
    toHex(pack([h(C.commit_content), h(C.commit_signature)])),
    C.frame.slice(2 * HEADER_SIZE),
  );
});

for (const member of C.members) {
  test(`member ${member.member_id} opens the commit: same epoch secret and security code`, needsMlKem, async () => {
    const e2e = await client(C, member);
    assert.equal(e2e.current, null);
    assert.equal(e2e.securityCode, null);
    assert.equal(e2e.isLeader, member.member_id === C.leader);
    await applyCommitFrame(e2e, C.frame, C.now); // the leader too: it opens its own copy
    assert.equal(toHex(e2e.current.secret), member.epoch_secret);
    assert.equal(member.epoch_secret, C.epoch_secret);
    assert.equal(e2e.current.number, C.epoch);
    assert.equal(e2e.current.leader, C.leader);
    assert.equal(toHex(e2e.current.rosterHash), C.roster_hash);
    assert.equal(e2e.securityCode, C.security_code);
  });
}

for (const vector of C.rejected) {
  test(`rejected commit: ${vector.name}`, needsMlKem, async () => {
    const e2e = await client(C, byId[vector.receiver]);
    await assert.rejects(
      applyCommitFrame(e2e, vector.frame, C.now),
      exactly(errorClass(vector.error)),
    );
    assert.equal(e2e.current, null);
    await applyCommitFrame(e2e, C.frame, C.now); // the genuine one still applies
    assert.equal(e2e.securityCode, C.security_code);
  });
}

test("the security code follows its definition", async () => {
  const code = await ks.securityCode(
    h(C.session_uid),
    h(byId[C.leader].ed25519_public),
    h(C.roster_hash),
  );
  assert.equal(code, C.security_code);
});

test("a commit applied twice is stale the second time", needsMlKem, async () => {
  const e2e = await client(C, byId[2]);
  await applyCommitFrame(e2e, C.frame, C.now);
  await assert.rejects(
    applyCommitFrame(e2e, C.frame, C.now + 1),
    exactly(errorClass("CommitRejected")),
  );
  assert.equal(e2e.current.number, C.epoch);
});

test("the commit's frame parses as the vector's header", () => {
  const frame = parseFrame(h(C.frame));
  assert.deepEqual(frame.header, headerFromJson(C.header));
});
