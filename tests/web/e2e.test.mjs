// The EndToEnd state (docs/protocol.md §6, §7.1) beyond the vectors: a session's life,
// and everything an attacker (the relay, a member, an expelled member) might try.

import { test } from "node:test";
import assert from "node:assert/strict";

import {
  EVERYONE,
  FrameType,
  Flags,
  HEADER_SIZE,
  parseFrame,
  serializeFrame,
} from "../../src/relaydesk/web/static/js/protocol/frames.js";
import {
  Role,
  decodeMessage,
  encodeCommitContent,
  encodeMessage,
} from "../../src/relaydesk/web/static/js/protocol/messages.js";
import * as ks from "../../src/relaydesk/web/static/js/protocol/keys.js";
import { signTicket } from "../../src/relaydesk/web/static/js/protocol/tickets.js";
import { ed25519Sign, randomBytes } from "../../src/relaydesk/web/static/js/protocol/primitives.js";
import { concat } from "../../src/relaydesk/web/static/js/protocol/bytes.js";
import * as limits from "../../src/relaydesk/web/static/js/protocol/limits.js";
import {
  CommitRejected,
  DecryptionFailed,
  MessageError,
  NoEpochKey,
  ReplayDetected,
  SignatureInvalid,
  TicketError,
  TicketSignatureInvalid,
  TicketWrongSession,
  CloseCode,
} from "../../src/relaydesk/web/static/js/protocol/errors.js";
import { exactly, h, needsMlKem } from "./helpers.mjs";
import { NOW, UID, craft, deliverCommit, makeSession, rekey } from "./session.mjs";

const chat = (text) => ({ type: FrameType.CHAT, text, id: 0, toEveryone: false });
const HOST = Role.HOST;

/** Alice (1, host, leader), Bob (2), Carol (5), all in epoch 1. */
async function threeInEpochOne() {
  const session = await makeSession([
    { id: 1, name: "Alice", role: HOST },
    { id: 2, name: "Bob" },
    { id: 5, name: "Carol" },
  ]);
  const { 1: alice, 2: bob, 5: carol } = session.members;
  await rekey(alice, [bob, carol]);
  return { ...session, alice, bob, carol };
}

// A session's life ------------------------------------------------------------------------

test("chat between three members; the same security code everywhere", needsMlKem, async () => {
  const { alice, bob, carol } = await threeInEpochOne();
  const code = alice.e2e.securityCode;
  assert.match(code, /^\d{4} \d{4} \d{4} \d{4}$/);
  assert.equal(bob.e2e.securityCode, code);
  assert.equal(carol.e2e.securityCode, code);
  const frame = await bob.e2e.seal(chat("hello 👋"));
  const wire = serializeFrame(frame);
  for (const receiver of [alice, carol]) {
    assert.deepEqual(await receiver.e2e.open(parseFrame(wire), NOW), chat("hello 👋"));
  }
  const privately = await carol.e2e.seal(chat("just for Bob"), 2);
  assert.equal(privately.header.target, 2);
  assert.equal((await bob.e2e.open(privately, NOW)).text, "just for Bob");
});

test("sequences count per channel from 1 and restart in each epoch", needsMlKem, async () => {
  const { alice, bob, carol } = await threeInEpochOne();
  const seqs = [];
  for (const message of [
    chat("a"),
    chat("b"),
    { type: FrameType.CURSOR, x: 1, y: 1, visible: true },
  ]) {
    seqs.push((await alice.e2e.seal(message)).header.sequence);
  }
  assert.deepEqual(seqs, [1n, 2n, 1n]);
  await rekey(alice, [bob, carol], NOW + 1);
  const next = await alice.e2e.seal(chat("c"));
  assert.equal(next.header.epoch, 2);
  assert.equal(next.header.sequence, 1n);
});

test("calls made without waiting run in order: sequences and replay checks stay sound", needsMlKem, async () => {
  const { alice, bob } = await threeInEpochOne();
  const sealing = [];
  for (let i = 0; i < 20; i++) sealing.push(alice.e2e.seal(chat(`line ${i}`)));
  const frames = await Promise.all(sealing);
  assert.deepEqual(
    frames.map((f) => f.header.sequence),
    frames.map((_, i) => BigInt(i + 1)),
  );
  const opened = await Promise.all(frames.map((f) => bob.e2e.open(f, NOW)));
  assert.deepEqual(
    opened.map((m) => m.text),
    frames.map((_, i) => `line ${i}`),
  );
  // the same frame opened twice at once: exactly one is accepted
  const frame = await alice.e2e.seal(chat("once"));
  const results = await Promise.allSettled([bob.e2e.open(frame, NOW), bob.e2e.open(frame, NOW)]);
  assert.deepEqual(
    results.map((r) => r.status),
    ["fulfilled", "rejected"],
  );
  assert.ok(results[1].reason instanceof ReplayDetected);
});

test("a member leaves: new epoch without it; it can open nothing sent after", needsMlKem, async () => {
  const { alice, bob, carol } = await threeInEpochOne();
  const code = alice.e2e.securityCode;
  assert.ok(!alice.e2e.needsRekey(NOW));
  for (const member of [alice, bob]) member.e2e.removeMember(5);
  assert.ok(alice.e2e.needsRekey(NOW));
  const frame = await alice.e2e.startEpoch(randomBytes, NOW + 1);
  await deliverCommit(bob.e2e, frame, NOW + 1);
  assert.deepEqual([...alice.e2e.current.members], [1, 2]);
  assert.notEqual(alice.e2e.securityCode, code);
  assert.equal(bob.e2e.securityCode, alice.e2e.securityCode);
  // Carol still holds the tickets, but the commit seals nothing to her
  await assert.rejects(deliverCommit(carol.e2e, frame, NOW + 1), /no key for this member/);
  const secret = await bob.e2e.seal(chat("after Carol left"));
  await assert.rejects(carol.e2e.open(secret, NOW + 1), exactly(NoEpochKey));
  assert.equal((await alice.e2e.open(secret, NOW + 1)).text, "after Carol left");
});

test("grace period: the replaced epoch opens frames for 10 s, older ones never", needsMlKem, async () => {
  const { alice, bob, carol } = await threeInEpochOne();
  const old = await bob.e2e.seal(chat("sealed in epoch 1"));
  const old2 = await bob.e2e.seal(chat("also epoch 1"));
  await rekey(alice, [bob, carol], NOW + 100);
  assert.equal((await carol.e2e.open(old, NOW + 109.9)).text, "sealed in epoch 1");
  await assert.rejects(carol.e2e.open(old2, NOW + 110), exactly(NoEpochKey));
  const epoch2 = await bob.e2e.seal(chat("epoch 2"));
  await rekey(alice, [bob, carol], NOW + 101);
  // epoch 1 is now two back: forgotten at once
  await assert.rejects(alice.e2e.open(old2, NOW + 101), exactly(NoEpochKey));
  assert.equal((await alice.e2e.open(epoch2, NOW + 101)).text, "epoch 2");
  // a member seals only with its current epoch
  assert.equal((await bob.e2e.seal(chat("x"))).header.epoch, 3);
});

test("rekey after EPOCH_MAX_AGE_SECONDS; the code stays while leader and members stay", needsMlKem, async () => {
  const { alice, bob, carol } = await threeInEpochOne();
  const code = alice.e2e.securityCode;
  assert.ok(!alice.e2e.needsRekey(NOW + 299));
  assert.ok(alice.e2e.needsRekey(NOW + 300));
  assert.ok(!bob.e2e.needsRekey(NOW + 300)); // only the leader rekeys
  await rekey(alice, [bob, carol], NOW + 300);
  assert.equal(alice.e2e.current.number, 2);
  assert.equal(carol.e2e.securityCode, code);
});

test("leader change: the next host leads, above the newest epoch noted", needsMlKem, async () => {
  const session = await makeSession([{ id: 1, role: HOST }, { id: 2 }, { id: 3, role: HOST }]);
  const { 1: one, 2: two, 3: three } = session.members;
  assert.ok(one.e2e.isLeader && !three.e2e.isLeader);
  await rekey(one, [two, three]);
  // the relay forwarded epoch 7 from somewhere (a ROSTER's epoch field, a commit header)
  three.e2e.noteEpoch(7);
  for (const member of [two, three]) member.e2e.removeMember(1);
  assert.ok(three.e2e.isLeader);
  assert.ok(three.e2e.needsRekey(NOW));
  const frame = await three.e2e.startEpoch(randomBytes, NOW + 1);
  assert.equal(frame.header.epoch, 8);
  await deliverCommit(two.e2e, frame, NOW + 1);
  assert.equal(two.e2e.securityCode, three.e2e.securityCode);
  // the old leader's commit would now be refused by both
  await assert.rejects(
    one.e2e.startEpoch(randomBytes, NOW + 2).then((f) => deliverCommit(two.e2e, f, NOW + 2)),
    exactly(CommitRejected),
  );
});

test("a returning leader's epoch replaces a stand-in's of the same number (§6.2)", needsMlKem, async () => {
  const { alice, bob, carol } = await threeInEpochOne();
  for (const member of [bob, carol]) member.e2e.removeMember(1); // Alice's link dropped
  assert.ok(bob.e2e.isLeader);
  const standIn = await bob.e2e.startEpoch(randomBytes, NOW + 1);
  await deliverCommit(carol.e2e, standIn, NOW + 1);
  for (const member of [bob, carol]) await member.e2e.addMember(alice.blob, NOW + 2, HOST);
  // Alice never saw Bob's epoch: she picks its number for her own.
  const returning = await alice.e2e.startEpoch(randomBytes, NOW + 2);
  assert.equal(returning.header.epoch, standIn.header.epoch);
  for (const member of [bob, carol]) await deliverCommit(member.e2e, returning, NOW + 2);
  assert.equal(bob.e2e.securityCode, alice.e2e.securityCode);
  assert.equal(carol.e2e.securityCode, alice.e2e.securityCode);
  const frame = await alice.e2e.seal(chat("back"));
  assert.equal((await carol.e2e.open(parseFrame(serializeFrame(frame)), NOW + 2)).text, "back");
  // Not again: the leader's own epoch of that number is not replaced by a replay.
  await assert.rejects(deliverCommit(carol.e2e, returning, NOW + 3), exactly(CommitRejected));
});

test("join before host: the lowest member id leads", needsMlKem, async () => {
  const { members } = await makeSession([{ id: 4 }, { id: 9 }]);
  assert.ok(members[4].e2e.isLeader);
  await rekey(members[4], [members[9]]);
  assert.equal(members[9].e2e.current.leader, 4);
  assert.throws(() => ks.expectedLeader([]), exactly(CommitRejected));
});

/** The relay's ROLE_CHANGE reaches every listed member. */
function announceRole(members, memberId, role) {
  for (const member of members) member.e2e.setRole(memberId, role);
}

test("host handover: the key leader follows the CURRENT host, who starts a new epoch", needsMlKem, async () => {
  const { alice, bob, carol } = await threeInEpochOne();
  const everyone = [alice, bob, carol];
  const oldCode = alice.e2e.securityCode;
  announceRole(everyone, 2, HOST); // ROLE_CHANGE(bob, HOST)
  assert.ok(alice.e2e.isLeader); // two hosts: the lowest id leads
  assert.ok(!bob.e2e.needsRekey(NOW) && !alice.e2e.needsRekey(NOW));
  announceRole(everyone, 1, Role.PARTICIPANT); // ROLE_CHANGE(alice, PARTICIPANT)
  assert.deepEqual(
    everyone.map((m) => m.e2e.leader),
    [2, 2, 2],
  );
  assert.equal(bob.e2e.role(1), Role.PARTICIPANT);
  // the current epoch was made by another leader: only the new host must start one
  assert.ok(bob.e2e.needsRekey(NOW));
  assert.ok(!alice.e2e.needsRekey(NOW) && !carol.e2e.needsRekey(NOW));
  await assert.rejects(alice.e2e.startEpoch(randomBytes, NOW), exactly(CommitRejected));
  const frame = await rekey(bob, [alice, carol]);
  assert.equal(frame.header.epoch, 2);
  assert.equal(carol.e2e.current.leader, 2);
  assert.equal(new Set(everyone.map((m) => m.e2e.securityCode)).size, 1);
  assert.notEqual(bob.e2e.securityCode, oldCode); // a new leader key: a new code
  assert.ok(!bob.e2e.needsRekey(NOW));
  assert.equal((await alice.e2e.open(await bob.e2e.seal(chat("mine now")), NOW)).text, "mine now");
});

test("a commit by a host whose role was taken away is refused", needsMlKem, async () => {
  const { alice, bob, carol } = await threeInEpochOne();
  announceRole([bob, carol], 5, HOST);
  announceRole([bob, carol], 1, Role.PARTICIPANT);
  alice.e2e.setRole(5, HOST); // alice learns only of the first change: she still leads
  assert.ok(alice.e2e.isLeader);
  const stale = await alice.e2e.startEpoch(randomBytes, NOW);
  await assert.rejects(deliverCommit(bob.e2e, stale), exactly(CommitRejected));
  assert.ok(carol.e2e.isLeader && carol.e2e.needsRekey(NOW));
});

test("addMember takes the role the relay announces; setRole ignores unknown members", needsMlKem, async () => {
  const { members } = await makeSession([{ id: 3 }, { id: 4 }, { id: 8 }], { join: false });
  const view = members[4].e2e;
  await view.addMember(members[4].blob, NOW);
  await view.addMember(members[8].blob, NOW, HOST); // a participant by ticket, host now
  assert.equal(view.leader, 8);
  await view.addMember(members[3].blob, NOW, Role.PARTICIPANT);
  assert.equal(view.leader, 8);
  await view.addMember(members[8].blob, NOW); // undefined: the ticket's role again
  assert.equal(view.leader, 3);
  view.setRole(99, HOST);
  assert.equal(view.leader, 3);
  assert.equal(view.role(99), undefined);
  assert.equal(ks.expectedLeader(new Map([[7, Role.PARTICIPANT], [3, HOST], [9, HOST]])), 3);
  assert.equal(ks.expectedLeader([[7, Role.PARTICIPANT], [3, Role.PARTICIPANT]]), 3);
});

test("local misuse: seal before an epoch, a control message, startEpoch by a non-leader", needsMlKem, async () => {
  const { members } = await makeSession([{ id: 1, role: HOST }, { id: 2 }]);
  await assert.rejects(members[1].e2e.seal(chat("too early")), exactly(NoEpochKey));
  await assert.rejects(members[2].e2e.startEpoch(randomBytes, NOW), exactly(CommitRejected));
  await rekey(members[1], [members[2]]);
  await assert.rejects(members[1].e2e.seal({ type: FrameType.PING, nonce: 1 }), TypeError);
  await assert.rejects(members[1].e2e.seal(chat("")), TypeError);
  await assert.rejects(members[1].e2e.seal(chat("x"), 2 ** 32), TypeError);
  // a refused call consumed no sequence number
  assert.equal((await members[1].e2e.seal(chat("ok"))).header.sequence, 1n);
});

// Tickets -----------------------------------------------------------------------------------

test("addMember checks the broker signature and session, not the expiry", needsMlKem, async () => {
  const { broker, members } = await makeSession([{ id: 1, role: HOST }, { id: 2 }], {
    join: false,
  });
  const e2e = members[1].e2e;
  const ticket = members[2].ticket;
  // expired long ago: still fine in a roster (§7.1)
  await e2e.addMember(members[2].blob, NOW + 10 ** 6);
  const other = await makeSession([{ id: 2 }], { join: false });
  await assert.rejects(e2e.addMember(other.members[2].blob, NOW), exactly(TicketSignatureInvalid));
  const foreign = await signTicket(
    { ...ticket, sessionUid: new Uint8Array(16) },
    broker.privateKey,
  );
  await assert.rejects(e2e.addMember(foreign, NOW), exactly(TicketWrongSession));
  await assert.rejects(e2e.addMember(new Uint8Array([0x90]), NOW), exactly(TicketError));
});

test("addMember refuses a low-order X25519 key and a member id shown with two tickets", needsMlKem, async () => {
  const { broker, members } = await makeSession([{ id: 1, role: HOST }, { id: 2 }]);
  const e2e = members[1].e2e;
  const base = members[2].ticket;
  for (const point of [
    "00".repeat(32),
    "01" + "00".repeat(31),
    "ec" + "ff".repeat(30) + "7f",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
  ]) {
    const agreement = concat(base.agreement.subarray(0, 1184), h(point)); // a valid ML-KEM part
    const blob = await signTicket({ ...base, memberId: 3, agreement }, broker.privateKey);
    await assert.rejects(e2e.addMember(blob, NOW), exactly(TicketError), point);
  }
  const swapped = await signTicket({ ...base, ed25519: randomBytes(32) }, broker.privateKey);
  await assert.rejects(e2e.addMember(swapped, NOW), exactly(CommitRejected));
  // the same fields again are fine (a reconnection shows the same ticket)
  await e2e.addMember(members[2].blob, NOW);
  assert.deepEqual([...e2e.roster.keys()], [1, 2]);
});

// Commits -------------------------------------------------------------------------------------

/** A KEY_COMMIT signed by `signer` over hand-made content; header from the leader. */
async function commitFrame({
  content,
  signer,
  sender = content.leader,
  epoch = content.epoch,
  sessionUid = UID,
}) {
  const encoded = encodeCommitContent(content);
  const signature = await ed25519Sign(signer.signing.privateKey, concat(ks.COMMIT_LABEL, encoded));
  const header = {
    type: FrameType.KEY_COMMIT,
    sessionUid,
    epoch,
    sender,
    target: EVERYONE,
    sequence: 1n,
    flags: 0,
  };
  return {
    header,
    body: encodeMessage({ type: FrameType.KEY_COMMIT, content: encoded, signature }),
  };
}

test("commits a member must refuse (§6.2, each check)", needsMlKem, async () => {
  const { alice, bob, carol } = await threeInEpochOne();
  const roster = alice.e2e.roster;
  const made = await ks.makeCommit(UID, 2, 1, alice.keys, roster, randomBytes(32));
  const good = ks.readCommit(made);
  const cases = {
    "a participant's commit": { content: { ...good, leader: 2 }, signer: bob.keys, sender: 2 },
    "signed by another member": { content: good, signer: carol.keys },
    "content names another leader": { content: { ...good, leader: 2 }, signer: alice.keys },
    "content of another session": {
      content: { ...good, sessionUid: new Uint8Array(16) },
      signer: alice.keys,
    },
    "header epoch differs": { content: good, signer: alice.keys, epoch: 3 },
    "header of another session": {
      content: good,
      signer: alice.keys,
      sessionUid: new Uint8Array(16),
    },
    "not newer than the current epoch": { content: { ...good, epoch: 1 }, signer: alice.keys },
    "members not sorted": {
      content: {
        ...good,
        members: [2, 1, 5],
        sealed: [good.sealed[1], good.sealed[0], good.sealed[2]],
      },
      signer: alice.keys,
    },
    "a member twice": {
      content: {
        ...good,
        members: [1, 2, 2, 5],
        sealed: [good.sealed[0], good.sealed[1], good.sealed[1], good.sealed[2]],
      },
      signer: alice.keys,
    },
    "sealed does not match members": {
      content: { ...good, sealed: good.sealed.slice(0, 2) },
      signer: alice.keys,
    },
    "a member never seen": {
      content: {
        ...good,
        members: [1, 2, 5, 6],
        sealed: [...good.sealed, { ...good.sealed[2], memberId: 6 }],
      },
      signer: alice.keys,
    },
    "another roster hash (the leader saw other keys)": {
      content: { ...good, rosterHash: randomBytes(32) },
      signer: alice.keys,
    },
    "Bob's key does not open": {
      content: {
        ...good,
        sealed: [
          good.sealed[0],
          { ...good.sealed[1], ciphertext: good.sealed[2].ciphertext },
          good.sealed[2],
        ],
      },
      signer: alice.keys,
    },
    "a low-order X25519 part in Bob's enc": {
      content: {
        ...good,
        sealed: [
          good.sealed[0],
          { ...good.sealed[1], enc: concat(good.sealed[1].enc.subarray(0, 1088), new Uint8Array(32)) },
          good.sealed[2],
        ],
      },
      signer: alice.keys,
    },
  };
  for (const [name, spec] of Object.entries(cases)) {
    const frame = await commitFrame(spec);
    await assert.rejects(deliverCommit(bob.e2e, frame, NOW + 1), exactly(CommitRejected), name);
    assert.equal(bob.e2e.current.number, 1, name);
  }
  // a commit that leaves Bob out is refused by Bob, applied by Carol
  const without = await ks.makeCommit(
    UID,
    2,
    1,
    alice.keys,
    new Map([...roster].filter(([id]) => id !== 2)),
    randomBytes(32),
    randomBytes,
  );
  const frame = await commitFrame({ content: ks.readCommit(without), signer: alice.keys });
  await assert.rejects(deliverCommit(bob.e2e, frame, NOW + 1), /no key for this member/);
  await deliverCommit(carol.e2e, frame, NOW + 1);
  assert.equal(carol.e2e.current.number, 2);
  // the genuine one applies
  await deliverCommit(bob.e2e, await commitFrame({ content: good, signer: alice.keys }), NOW + 1);
  assert.equal(bob.e2e.current.number, 2);
  assert.equal(new CommitRejected().closeCode, CloseCode.CRYPTO_ERROR);
});

test("a malformed commit content is refused after its signature is checked", needsMlKem, async () => {
  const { alice, bob } = await threeInEpochOne();
  const garbage = new Uint8Array([0x91, 0xc0]);
  const signature = await ed25519Sign(
    alice.keys.signing.privateKey,
    concat(ks.COMMIT_LABEL, garbage),
  );
  const header = {
    type: FrameType.KEY_COMMIT,
    sessionUid: UID,
    epoch: 2,
    sender: 1,
    target: EVERYONE,
    sequence: 1n,
    flags: 0,
  };
  await assert.rejects(
    bob.e2e.applyCommit(header, { content: garbage, signature }, NOW),
    /malformed commit/,
  );
  await assert.rejects(
    bob.e2e.applyCommit(header, { content: garbage, signature: new Uint8Array(64) }, NOW),
    /not signed/,
  );
});

// Content: the checks of §6.3, in order -----------------------------------------------------------

test("opening checks, one attack at a time", needsMlKem, async () => {
  const { alice, bob, carol } = await threeInEpochOne();
  const secret = alice.e2e.current.secret;
  const genuine = await bob.e2e.seal(chat("genuine"));
  const wire = serializeFrame(genuine);
  const mutate = (offset, xor = 0x01) => {
    const data = wire.slice();
    data[offset] ^= xor;
    return data;
  };
  const cases = [
    [
      "type changed to a control type",
      () => {
        const d = wire.slice();
        d[1] = FrameType.PING;
        return { header: { ...genuine.header, type: FrameType.PING }, body: genuine.body };
      },
      DecryptionFailed,
    ],
    [
      "type changed to another content type",
      () =>
        parseFrame(
          (() => {
            const d = wire.slice();
            d[1] = FrameType.ANNOTATION;
            return d;
          })(),
        ),
      SignatureInvalid,
    ],
    ["flags changed", () => parseFrame(mutate(3, 0x02)), SignatureInvalid],
    ["session uid changed", () => parseFrame(mutate(4)), DecryptionFailed],
    ["epoch changed (unknown)", () => parseFrame(mutate(23, 0x04)), NoEpochKey],
    ["sender changed to a non-member", () => parseFrame(mutate(27, 0x08)), SignatureInvalid],
    ["sender changed to another member (5)", () => parseFrame(mutate(27, 0x07)), SignatureInvalid],
    ["target changed", () => parseFrame(mutate(31)), SignatureInvalid],
    ["sequence changed", () => parseFrame(mutate(39, 0x02)), SignatureInvalid],
    ["a bit of the ciphertext", () => parseFrame(mutate(HEADER_SIZE)), SignatureInvalid],
    ["a bit of the tag", () => parseFrame(mutate(wire.length - 65)), SignatureInvalid],
    ["a bit of the signature", () => parseFrame(mutate(wire.length - 1)), SignatureInvalid],
    [
      "a body too short",
      () => ({ header: genuine.header, body: genuine.body.subarray(0, 79) }),
      DecryptionFailed,
    ],
  ];
  for (const [name, make, cls] of cases) {
    await assert.rejects(carol.e2e.open(make(), NOW), exactly(cls), name);
  }
  // none of these consumed the genuine frame's sequence number
  assert.equal((await carol.e2e.open(parseFrame(wire), NOW)).text, "genuine");
  await assert.rejects(carol.e2e.open(parseFrame(wire), NOW), exactly(ReplayDetected));
  void secret;
});

test("a member forging another member's frame: it knows the content key, not the signing key", needsMlKem, async () => {
  const { alice, bob, carol } = await threeInEpochOne();
  const secret = carol.e2e.current.secret;
  // Carol derives Bob's content key (she holds the epoch secret) and signs herself
  const forged = await craft({
    epochSecret: secret,
    signer: carol.keys,
    sender: 2,
    message: chat("I am Bob"),
  });
  await assert.rejects(alice.e2e.open(forged, NOW), exactly(SignatureInvalid));
  // the relay inventing a member id that holds no key in the epoch
  const ghost = await craft({ epochSecret: secret, signer: carol.keys, sender: 7 });
  await assert.rejects(alice.e2e.open(ghost, NOW), exactly(SignatureInvalid));
  // the expelled: Carol, removed and rekeyed, seals with the old epoch after its grace
  for (const m of [alice, bob]) m.e2e.removeMember(5);
  await rekey(alice, [bob], NOW + 1);
  const late = await craft({ epochSecret: secret, signer: carol.keys, sender: 5, sequence: 9n });
  assert.equal((await bob.e2e.open(late, NOW + 5)).text, "crafted"); // within the grace period
  const later = await craft({ epochSecret: secret, signer: carol.keys, sender: 5, sequence: 10n });
  await assert.rejects(bob.e2e.open(later, NOW + 11), exactly(NoEpochKey));
  const inNewEpoch = await craft({ epochSecret: secret, signer: carol.keys, sender: 5, epoch: 2 });
  await assert.rejects(bob.e2e.open(inNewEpoch, NOW + 2), exactly(SignatureInvalid));
});

test("replay window: per (epoch, sender, channel), strictly increasing, gaps fine, 0 refused", needsMlKem, async () => {
  const { alice, bob } = await threeInEpochOne();
  const secret = alice.e2e.current.secret;
  const frame = (sequence, type = FrameType.CHAT, message = chat(`#${sequence}`)) =>
    craft({ epochSecret: secret, signer: bob.keys, sender: 2, sequence, type, message });
  await assert.rejects(alice.e2e.open(await frame(0n), NOW), exactly(ReplayDetected));
  assert.equal((await alice.e2e.open(await frame(5n), NOW)).text, "#5");
  await assert.rejects(alice.e2e.open(await frame(5n), NOW), exactly(ReplayDetected));
  await assert.rejects(alice.e2e.open(await frame(3n), NOW), exactly(ReplayDetected));
  assert.equal((await alice.e2e.open(await frame(6n), NOW)).text, "#6");
  // another channel has its own window
  const cursor = { type: FrameType.CURSOR, x: 0, y: 0, visible: false };
  assert.equal(
    (await alice.e2e.open(await frame(1n, FrameType.CURSOR, cursor), NOW)).visible,
    false,
  );
  // a u64 sequence above 2^53
  assert.equal((await alice.e2e.open(await frame(1n << 60n), NOW)).text, `#${1n << 60n}`);
});

test("a signed frame that does not decrypt, and one that does not decode", needsMlKem, async () => {
  const { alice, bob } = await threeInEpochOne();
  const secret = alice.e2e.current.secret;
  // Bob signs a ciphertext that is not his key's: DecryptionFailed, sequence not recorded
  const wrongKey = await craft({
    epochSecret: secret,
    signer: bob.keys,
    sender: 2,
    keySender: 5,
    sequence: 4n,
  });
  await assert.rejects(alice.e2e.open(wrongKey, NOW), exactly(DecryptionFailed));
  const altered = await craft({
    epochSecret: secret,
    signer: bob.keys,
    sender: 2,
    sequence: 4n,
    tamper: (c) => {
      const d = c.slice();
      d[0] ^= 1;
      return d;
    },
  });
  await assert.rejects(alice.e2e.open(altered, NOW), exactly(DecryptionFailed));
  // a valid sealed empty chat: MessageError after the sequence is recorded (§6.3 step 9)
  const empty = await craft({
    epochSecret: secret,
    signer: bob.keys,
    sender: 2,
    sequence: 4n,
    plaintext: h("91a0"),
  });
  await assert.rejects(alice.e2e.open(empty, NOW), exactly(MessageError));
  const again = await craft({ epochSecret: secret, signer: bob.keys, sender: 2, sequence: 4n });
  await assert.rejects(alice.e2e.open(again, NOW), exactly(ReplayDetected));
});

test("flags are authenticated and kept", needsMlKem, async () => {
  const { alice, bob } = await threeInEpochOne();
  const frame = await alice.e2e.seal(
    {
      type: FrameType.SCREEN_UPDATE,
      width: 2,
      height: 1,
      full: true,
      tiles: [{ x: 0, y: 0, width: 2, height: 1, encoding: 0, data: new Uint8Array(8) }],
    },
    EVERYONE,
    Flags.KEYFRAME,
  );
  const parsed = parseFrame(serializeFrame(frame));
  assert.equal(parsed.header.flags, Flags.KEYFRAME);
  assert.equal((await bob.e2e.open(parsed, NOW)).tiles.length, 1);
  assert.deepEqual(decodeMessage(FrameType.CHAT, encodeMessage(chat("x"))), chat("x"));
});

test("a stray epoch counts only signed by a present member, bounded, and seldom", needsMlKem, async () => {
  const { alice, bob, carol } = await threeInEpochOne();
  const epochSecret = new Uint8Array(32); // the stray epoch's key: Alice lacks it anyway
  const frame = (epoch, signer, sender = 2) => craft({ epochSecret, signer, epoch, sender });
  const held = alice.e2e.current.number;
  assert.equal(await alice.e2e.strayEpoch(await frame(held + 2, carol.keys), NOW), false); // forged
  const tooFar = held + 1 + limits.MAX_STRAY_EPOCH_JUMP + 1;
  assert.equal(await alice.e2e.strayEpoch(await frame(tooFar, bob.keys), NOW), false);
  assert.equal(alice.e2e.needsRekey(NOW), false);
  assert.equal(await alice.e2e.strayEpoch(await frame(held + 2, bob.keys), NOW), true);
  assert.equal(alice.e2e.needsRekey(NOW), true);
  const soon = NOW + limits.EPOCH_GRACE_SECONDS - 0.001;
  assert.equal(await alice.e2e.strayEpoch(await frame(held + 3, bob.keys), soon), false);
  const later = NOW + limits.EPOCH_GRACE_SECONDS;
  assert.equal(await alice.e2e.strayEpoch(await frame(held + 3, bob.keys), later), true);
});
