// Interoperability with the Python implementation, through a Python child process
// (tests/web/interop_peer.py run by .venv/bin/python): commits and sealed frames cross
// both ways, the security codes agree, and the decoders of both sides accept and refuse
// the same bytes (differential fuzzing on mutated vectors).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import path from "node:path";

import {
  EVERYONE,
  FrameType,
  Flags,
  parseFrame,
  serializeFrame,
} from "../../src/relaydesk/web/static/js/protocol/frames.js";
import {
  decodeMessage,
  messageFromFields,
  messageToFields,
} from "../../src/relaydesk/web/static/js/protocol/messages.js";
import { pack } from "../../src/relaydesk/web/static/js/protocol/msgpack.js";
import { MemberKeys } from "../../src/relaydesk/web/static/js/protocol/keys.js";
import { EndToEnd } from "../../src/relaydesk/web/static/js/protocol/e2e.js";
import { TICKET_VERSION, readTicket } from "../../src/relaydesk/web/static/js/protocol/tickets.js";
import { randomBytes } from "../../src/relaydesk/web/static/js/protocol/primitives.js";
import { ReplayDetected } from "../../src/relaydesk/web/static/js/protocol/errors.js";
import { REPO, fromTyped, h, load, needsMlKem, prng, toHex, toTyped } from "./helpers.mjs";

const PYTHON = path.join(REPO, ".venv", "bin", "python");
const PEER = path.join(REPO, "tests", "web", "interop_peer.py");

/** One Python peer process: request(object) -> answer object, one at a time. */
function startPeer() {
  const child = spawn(PYTHON, [PEER], { cwd: REPO, stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  let queue = Promise.resolve();
  const request = (message) => {
    const answer = queue.then(async () => {
      child.stdin.write(JSON.stringify(message) + "\n");
      const { value, done } = await lines.next();
      assert.ok(!done, "the Python peer exited");
      return JSON.parse(value);
    });
    queue = answer.catch(() => undefined);
    return answer;
  };
  const stop = () =>
    new Promise((resolve) => {
      child.once("exit", resolve);
      child.stdin.end(); // the peer stops at the end of its input
    });
  return { request, stop };
}

let peer;
before(() => {
  assert.ok(existsSync(PYTHON), `${PYTHON} is missing: run scripts/install first`);
  peer = startPeer();
});
after(() => peer?.stop());

const now = () => Date.now() / 1000;

/** JavaScript members with WebCrypto-made keys, in a session whose broker is Python's. */
async function session({ python, javascript }) {
  const js = {};
  for (const spec of javascript) js[spec.id] = { ...spec, keys: await MemberKeys.generate() };
  const answer = await peer.request({
    command: "setup",
    python,
    javascript: Object.values(js).map((m) => ({
      id: m.id,
      name: m.name,
      role: m.role,
      agreement: toHex(m.keys.agreementPublic),
      ed25519: toHex(m.keys.ed25519Public),
    })),
  });
  for (const member of Object.values(js)) {
    member.e2e = new EndToEnd(
      h(answer.session_uid),
      member.id,
      member.keys,
      h(answer.broker_public),
    );
    for (const blob of Object.values(answer.tickets)) await member.e2e.addMember(h(blob), now());
  }
  return js;
}

const applyFrame = (e2e, hex) => {
  const frame = parseFrame(h(hex));
  return e2e.applyCommit(frame.header, decodeMessage(frame.header.type, frame.body), now());
};

test("a Python leader: JavaScript members apply its commit and chat with it both ways", needsMlKem, async () => {
  const js = await session({
    python: { id: 1, name: "Hélène (Python)", role: "HOST" },
    javascript: [
      { id: 2, name: "Bob (browser)", role: "PARTICIPANT" },
      { id: 3, name: "李雷", role: "PARTICIPANT" },
    ],
  });
  const commit = await peer.request({ command: "start_epoch" });
  for (const member of Object.values(js)) {
    assert.ok(!member.e2e.isLeader);
    await applyFrame(member.e2e, commit.frame);
    assert.equal(member.e2e.securityCode, commit.security_code);
  }
  // Python -> JavaScript
  const hello = await peer.request({
    command: "seal",
    type: "CHAT",
    fields: ["Bonjour depuis Python 🐍", 0, false],
    target: EVERYONE,
  });
  for (const member of Object.values(js)) {
    assert.equal(
      (await member.e2e.open(parseFrame(h(hello.frame)), now())).text,
      "Bonjour depuis Python 🐍",
    );
  }
  const screen = await peer.request({
    command: "seal",
    type: "SCREEN_UPDATE",
    target: 2,
    flags: Flags.KEYFRAME,
    fields: [2, 1, true, [[0, 0, 2, 1, 0, { bin: "0102030405060708" }]]],
  });
  const update = await js[2].e2e.open(parseFrame(h(screen.frame)), now());
  assert.deepEqual(update.tiles[0].data, h("0102030405060708"));
  assert.equal(parseFrame(h(screen.frame)).header.flags, Flags.KEYFRAME);
  // JavaScript -> Python
  const reply = await js[2].e2e.seal({ type: FrameType.CHAT, text: "Hello from the browser 👋" });
  assert.deepEqual(await peer.request({ command: "open", frame: toHex(serializeFrame(reply)) }), {
    type: "CHAT",
    fields: ["Hello from the browser 👋", 0, false],
  });
  const key = await js[3].e2e.seal(
    { type: FrameType.INPUT_EVENT, kind: 4, keysym: 0xff0d, pressed: true, modifiers: 2 },
    1,
  );
  assert.deepEqual(await peer.request({ command: "open", frame: toHex(serializeFrame(key)) }), {
    type: "INPUT_EVENT",
    fields: [4, 0, 0, 0, true, 0, 0, 0xff0d, 2, ""],
  });
  const chunk = await js[3].e2e.seal(
    {
      type: FrameType.FILE_CHUNK,
      transferId: 9,
      offset: 2 ** 31 - 2,
      data: h("cafe"),
    },
    1,
  );
  assert.deepEqual(
    (await peer.request({ command: "open", frame: toHex(serializeFrame(chunk)) })).fields,
    [9, 2 ** 31 - 2, { bin: "cafe" }],
  );
  // Python refuses a replay and a changed bit, as the JavaScript side does
  const wire = serializeFrame(reply);
  assert.equal(
    (await peer.request({ command: "open", frame: toHex(wire) })).error,
    "ReplayDetected",
  );
  const changed = wire.slice();
  changed[50] ^= 1;
  assert.equal(
    (await peer.request({ command: "open", frame: toHex(changed) })).error,
    "SignatureInvalid",
  );
  await assert.rejects(js[3].e2e.open(parseFrame(h(hello.frame)), now()), ReplayDetected);
});

test("a JavaScript leader: Python applies its commits, through a member leaving", needsMlKem, async () => {
  const js = await session({
    python: { id: 2, name: "Python participant", role: "PARTICIPANT" },
    javascript: [
      { id: 1, name: "Browser host", role: "HOST" },
      { id: 4, name: "Second browser", role: "PARTICIPANT" },
    ],
  });
  const leader = js[1].e2e;
  assert.ok(leader.isLeader);
  const first = await leader.startEpoch(randomBytes, now());
  await js[4].e2e.applyCommit(first.header, decodeMessage(FrameType.KEY_COMMIT, first.body), now());
  const applied = await peer.request({
    command: "apply_commit",
    frame: toHex(serializeFrame(first)),
  });
  assert.deepEqual(applied, { epoch: 1, security_code: leader.securityCode });
  const chat = await leader.seal({ type: FrameType.CHAT, text: "from the browser host" });
  assert.equal(
    (await peer.request({ command: "open", frame: toHex(serializeFrame(chat)) })).fields[0],
    "from the browser host",
  );
  const answer = await peer.request({
    command: "seal",
    type: "CHAT",
    fields: ["from Python", 0, false],
    target: 1,
  });
  assert.equal((await leader.open(parseFrame(h(answer.frame)), now())).text, "from Python");
  // member 4 leaves: a new epoch for 1 and 2 only
  leader.removeMember(4);
  await peer.request({ command: "remove_member", id: 4 });
  assert.ok(leader.needsRekey(now()));
  const second = await leader.startEpoch(randomBytes, now());
  const reapplied = await peer.request({
    command: "apply_commit",
    frame: toHex(serializeFrame(second)),
  });
  assert.deepEqual(reapplied, { epoch: 2, security_code: leader.securityCode });
  assert.notEqual(leader.securityCode, applied.security_code);
  const secret = await peer.request({
    command: "seal",
    type: "CHAT",
    fields: ["after 4 left", 0, false],
    target: EVERYONE,
  });
  assert.equal((await leader.open(parseFrame(h(secret.frame)), now())).text, "after 4 left");
  await assert.rejects(js[4].e2e.open(parseFrame(h(secret.frame)), now()), { name: "NoEpochKey" });
  // a stale commit is refused by Python too
  const stale = await peer.request({
    command: "apply_commit",
    frame: toHex(serializeFrame(first)),
  });
  assert.equal(stale.error, "CommitRejected");
});

// Differential fuzzing: the same bytes through both decoders ---------------------------------

function mutate(random, data) {
  const out = Array.from(data);
  for (let i = 0, edits = 1 + random.int(3); i < edits; i++) {
    const at = random.int(out.length + 1);
    const kind = random.int(5);
    if (kind === 0 && at < out.length) out[at] ^= 1 << random.int(8);
    else if (kind === 1 && at < out.length)
      out[at] = [0x00, 0x01, 0x7f, 0x80, 0xc0, 0xc2, 0xc3, 0xcc, 0xd0, 0xff][random.int(10)];
    else if (kind === 2) out.splice(at, 1);
    else if (kind === 3) out.splice(at, 0, random.int(256));
    else out.length = Math.min(out.length, at + 1);
  }
  return Uint8Array.from(out);
}

test("decodeMessage accepts and refuses what Python's decode does, with the same fields", async () => {
  const vectors = load("messages.json");
  const random = prng(11);
  const cases = [];
  for (const vector of [...vectors.valid, ...vectors.invalid]) {
    cases.push({ type: vector.type, body: vector.body });
    for (let i = 0; i < 60; i++)
      cases.push({ type: vector.type, body: toHex(mutate(random, h(vector.body))) });
  }
  // edge values around every range: one field changed to a neighbour value
  for (const vector of vectors.valid) {
    const fields = fromTyped(vector.fields);
    for (let i = 0; i < fields.length; i++) {
      for (const value of [
        -1,
        0,
        1,
        2,
        5,
        15,
        16,
        32,
        33,
        64,
        65,
        100,
        101,
        4999,
        5000,
        16383,
        16384,
        16385,
        0xffffff,
        0x1000000,
        0x1fffffff,
        0x20000000,
        2 ** 32 - 2,
        2 ** 32 - 1,
        2 ** 32,
        (1n << 64n) - 1n,
        "",
        "x",
        true,
        new Uint8Array(32),
        [],
      ]) {
        const changed = [...fields];
        changed[i] = value;
        cases.push({ type: vector.type, body: toHex(pack(changed)) });
      }
    }
  }
  const { results } = await peer.request({ command: "decode_many", cases });
  assert.equal(results.length, cases.length);
  let accepted = 0;
  for (const [i, { type, body }] of cases.entries()) {
    let mine;
    try {
      mine = { fields: toTyped(messageToFields(decodeMessage(FrameType[type], h(body)))) };
      accepted++;
    } catch (error) {
      mine = { error: error.name };
    }
    assert.deepEqual(mine, results[i], `${type} ${body}`);
  }
  assert.ok(
    accepted > 1000 && accepted < cases.length - 1000,
    `accepted ${accepted} of ${cases.length}`,
  );
});

test("parseFrame and readTicket agree with Python on mutated vectors", async () => {
  const random = prng(12);
  const frames = [];
  for (const vector of [...load("frames.json").valid, ...load("frames.json").invalid]) {
    frames.push(vector.frame);
    for (let i = 0; i < 40; i++) frames.push(toHex(mutate(random, h(vector.frame))));
  }
  const parsed = (await peer.request({ command: "parse_frames", frames })).results;
  for (const [i, hex] of frames.entries()) {
    let mine;
    try {
      const frame = parseFrame(h(hex));
      mine = { type: frame.header.type, body: toHex(frame.body) };
    } catch (error) {
      mine = { error: error.name };
    }
    assert.deepEqual(mine, parsed[i], hex);
  }
  const tickets = [];
  for (const vector of [...load("tickets.json").valid, ...load("tickets.json").checks]) {
    tickets.push(vector.ticket);
    for (let i = 0; i < 60; i++) tickets.push(toHex(mutate(random, h(vector.ticket))));
  }
  const read = (await peer.request({ command: "read_tickets", tickets })).results;
  for (const [i, hex] of tickets.entries()) {
    let mine;
    try {
      const { ticket } = readTicket(h(hex));
      mine = {
        fields: toTyped([
          TICKET_VERSION,
          ticket.sessionUid,
          ticket.memberId,
          ticket.displayName,
          ticket.role,
          ticket.agreement,
          ticket.ed25519,
          ticket.relay,
          ticket.expiresAt,
          ticket.email,
          ticket.rules,
          ticket.placement,
        ]),
      };
      if (typeof ticket.expiresAt === "number") mine.fields[8] = ticket.expiresAt;
    } catch (error) {
      mine = { error: error.name };
    }
    assert.deepEqual(mine, read[i], hex);
  }
  void messageFromFields;
});
