// Messages (docs/protocol.md §3-§4) against tests/vectors/messages.json.

import { test } from "node:test";
import assert from "node:assert/strict";

import { FrameType, frameTypeName } from "../../src/relaydesk/web/static/js/protocol/frames.js";
import {
  ConsentKind,
  InputKind,
  LeaveReason,
  Modifier,
  Role,
  WaitReason,
  TileEncoding,
  controlFrame,
  decodeCommitContent,
  decodeMessage,
  encodeCommitContent,
  encodeMessage,
  messageFromFields,
  messageToFields,
} from "../../src/relaydesk/web/static/js/protocol/messages.js";
import { pack, unpack } from "../../src/relaydesk/web/static/js/protocol/msgpack.js";
import { MessageError } from "../../src/relaydesk/web/static/js/protocol/errors.js";
import { serializeFrame, parseFrame } from "../../src/relaydesk/web/static/js/protocol/frames.js";
import { exactly, fromTyped, h, load, toHex, toTyped } from "./helpers.mjs";

const V = load("messages.json");

test("the vectors cover every frame type", () => {
  const covered = new Set(V.valid.map((v) => v.type));
  assert.deepEqual([...covered].sort(), Object.keys(FrameType).sort());
});

for (const vector of V.valid) {
  test(`valid ${vector.type}: ${vector.name}`, () => {
    const type = FrameType[vector.type];
    assert.equal(type, vector.type_code);
    const fields = fromTyped(vector.fields);
    // fields -> bytes, with the codec alone and through a message object
    assert.equal(toHex(pack(fields)), vector.body);
    const message = messageFromFields(type, fields);
    assert.equal(message.type, type);
    assert.equal(toHex(encodeMessage(message)), vector.body);
    // bytes -> message -> the same typed fields
    const decoded = decodeMessage(type, h(vector.body));
    assert.deepEqual(decoded, message);
    assert.deepEqual(toTyped(messageToFields(decoded)), vector.fields);
  });
}

for (const vector of V.invalid) {
  test(`invalid ${vector.type}: ${vector.name} -> ${vector.error}`, () => {
    assert.equal(vector.error, "MessageError");
    assert.throws(
      () => decodeMessage(FrameType[vector.type], h(vector.body)),
      exactly(MessageError),
    );
  });
}

test("the encoded examples of §3.26, §4.2 and §4.3", () => {
  const examples = [
    [{ type: FrameType.PING, nonce: 1 }, "9101"],
    [{ type: FrameType.PONG, nonce: 300 }, "91cd012c"],
    [{ type: FrameType.LOCK, locked: true }, "91c3"],
    [{ type: FrameType.CONTROL_REQUEST }, "90"],
    [{ type: FrameType.MEMBER_LEFT, memberId: 7, reason: LeaveReason.EXPELLED }, "920702"],
    [{ type: FrameType.ERROR, code: 4004, text: "no" }, "92cd0fa4a26e6f"],
    [{ type: FrameType.ADMIT, memberId: 4, admitted: true }, "9204c3"],
    [
      { type: FrameType.INPUT_EVENT, kind: InputKind.WHEEL, x: 10, y: 20, dy: -3 },
      "9a030a1400c200fd0000a0",
    ],
    [{ type: FrameType.CHAT, text: "hi" }, "93a2686900c2"],
    [{ type: FrameType.CHAT, text: "hi", id: 7, toEveryone: true }, "93a2686907c3"],
  ];
  for (const [message, body] of examples) {
    assert.equal(toHex(encodeMessage(message)), body);
    const decoded = decodeMessage(message.type, h(body));
    assert.equal(toHex(encodeMessage(decoded)), body);
  }
});

test("u64 fields: numbers up to 2^53 - 1, bigints above, both encode by value", () => {
  const max = (1n << 64n) - 1n;
  assert.equal(
    decodeMessage(FrameType.PING, encodeMessage({ type: FrameType.PING, nonce: max })).nonce,
    max,
  );
  const safe = decodeMessage(
    FrameType.PING,
    encodeMessage({ type: FrameType.PING, nonce: 2 ** 53 - 1 }),
  );
  assert.equal(safe.nonce, 2 ** 53 - 1);
  assert.equal(toHex(encodeMessage({ type: FrameType.PING, nonce: 5n })), "9105");
  assert.throws(() => encodeMessage({ type: FrameType.PING, nonce: max + 1n }), TypeError);
  assert.throws(() => encodeMessage({ type: FrameType.PING, nonce: 2 ** 53 }), TypeError);
  // any integer encoding of the right value is accepted (§3.0)
  assert.equal(decodeMessage(FrameType.PING, h("91cf0000000000000001")).nonce, 1);
  assert.equal(decodeMessage(FrameType.PING, h("91d30000000000000001")).nonce, 1);
  assert.throws(
    () => decodeMessage(FrameType.PING, h("91d3ffffffffffffffff")),
    exactly(MessageError),
  );
});

test("encoding checks the same rules as decoding (TypeError for the caller's bug)", () => {
  const bad = [
    { type: FrameType.CHAT, text: "" },
    { type: FrameType.CHAT, text: "x".repeat(4001) },
    { type: FrameType.CHAT, text: "\ud800" },
    { type: FrameType.CHAT },
    { type: FrameType.EXPEL, memberId: 0 },
    { type: FrameType.EXPEL, memberId: 1.5 },
    { type: FrameType.LOCK, locked: 1 },
    { type: FrameType.CURSOR, x: 16385, y: 0, visible: true },
    { type: FrameType.HELLO, ticket: "ticket", proof: new Uint8Array(64) },
    { type: FrameType.CONSENT_ANSWER, kind: 3, granted: true },
    { type: FrameType.FILE_CHUNK, transferId: 1, offset: 0, data: new Uint8Array(0) },
    { type: FrameType.FILE_CHUNK, transferId: 0, offset: 0, data: new Uint8Array(1) },
    {
      type: FrameType.FILE_OFFER,
      transferId: 1,
      name: "a",
      size: 1,
      sha256: new Uint8Array(31),
      chunkSize: 1,
    },
    { type: FrameType.FILE_END, transferId: 1, reason: 9 },
    { type: 0x15 },
    null,
  ];
  for (const message of bad) assert.throws(() => encodeMessage(message), TypeError);
});

test("text lengths count code points, not UTF-16 units (§ Notation)", () => {
  const emoji = "🌍".repeat(4000); // 8000 UTF-16 units, 4000 characters
  assert.equal(
    decodeMessage(FrameType.CHAT, encodeMessage({ type: FrameType.CHAT, text: emoji })).text,
    emoji,
  );
  assert.throws(() => encodeMessage({ type: FrameType.CHAT, text: emoji + "x" }), TypeError);
  // a leading BOM is a character, kept as is
  const bom = decodeMessage(FrameType.CHAT, h("93a3efbbbf00c2"));
  assert.equal(bom.text, "\ufeff");
  // UTF-8 of a surrogate, an overlong form: refused
  assert.throws(() => decodeMessage(FrameType.CHAT, h("93a3eda08000c2")), exactly(MessageError));
  assert.throws(() => decodeMessage(FrameType.CHAT, h("93a2c0af00c2")), exactly(MessageError));
});

test("defaults of the fields a kind does not use", () => {
  const key = {
    type: FrameType.INPUT_EVENT,
    kind: InputKind.KEY,
    keysym: 0x61,
    pressed: true,
    modifiers: Modifier.SHIFT,
  };
  const decoded = decodeMessage(FrameType.INPUT_EVENT, encodeMessage(key));
  assert.deepEqual(decoded, {
    type: FrameType.INPUT_EVENT,
    kind: 4,
    x: 0,
    y: 0,
    button: 0,
    pressed: true,
    dx: 0,
    dy: 0,
    keysym: 0x61,
    modifiers: 1,
    text: "",
  });
  const stroke = {
    type: FrameType.ANNOTATION,
    strokeId: 1,
    color: 0,
    width: 1,
    points: [{ x: 1, y: 2 }],
  };
  assert.equal(decodeMessage(FrameType.ANNOTATION, encodeMessage(stroke)).clear, false);
});

test("bounded decoding: limits before allocation, nesting, arrays", () => {
  // a tile list of 8193 entries is refused by the array bound before being built
  const many = new Uint8Array([0x94, 0x01, 0x01, 0xc3, 0xdd, 0x00, 0x00, 0x20, 0x01]);
  assert.throws(() => decodeMessage(FrameType.SCREEN_UPDATE, many), exactly(MessageError));
  // announcing 2^32 - 1 items or bytes in a short body
  assert.throws(() => decodeMessage(FrameType.ROSTER, h("91ddffffffff")), exactly(MessageError));
  assert.throws(() => decodeMessage(FrameType.CHAT, h("91dbffffffff")), exactly(MessageError));
  // a str above the control body limit is refused on its length
  assert.throws(
    () => unpack(h("db00100001"), { maxStrLength: 1 << 20, maxBinLength: 1 << 20 }),
    /above/,
  );
  // deep nesting
  const deep = new Uint8Array(200).fill(0x91);
  assert.throws(() => decodeMessage(FrameType.PING, deep), exactly(MessageError));
  // nil, floats, maps and extension types anywhere
  for (const body of ["91c0", "91ca3f800000", "9180", "91de0000", "91c70001", "91d40100", "91c1"]) {
    assert.throws(() => decodeMessage(FrameType.PING, h(body)), exactly(MessageError), body);
  }
});

test("a roster of 1024 entries fits; 1025 do not", () => {
  const entry = { memberId: 1, role: 1, ticket: new Uint8Array(0) };
  const roster = (n) => ({
    type: FrameType.ROSTER,
    you: 1,
    members: Array(n).fill(entry),
    presenter: 0,
    controlHolder: 0,
    locked: false,
    epoch: 0,
  });
  assert.equal(decodeMessage(FrameType.ROSTER, encodeMessage(roster(1024))).members.length, 1024);
  assert.throws(() => encodeMessage(roster(1025)), TypeError);
  const fields = messageToFields(roster(1));
  fields[1] = Array(1025).fill([1, 1, new Uint8Array(0)]);
  assert.throws(() => decodeMessage(FrameType.ROSTER, pack(fields)), exactly(MessageError));
});

test("lobby messages: ADMIT, WAITING and the roster's lobby", () => {
  const entry = { memberId: 4, role: Role.PARTICIPANT, ticket: new Uint8Array([1, 2]) };
  assert.equal(FrameType.ADMIT, 0x15);
  assert.equal(FrameType.WAITING, 0x16);
  assert.deepEqual(WaitReason, { APPROVAL: 1, HOST_ABSENT: 2 });
  const admit = { type: FrameType.ADMIT, memberId: 4, admitted: false };
  assert.deepEqual(messageToFields(admit), [4, false]);
  assert.deepEqual(decodeMessage(FrameType.ADMIT, encodeMessage(admit)), admit);
  assert.throws(() => encodeMessage({ ...admit, admitted: 1 }), TypeError);
  const waiting = { type: FrameType.WAITING, entry, reason: WaitReason.HOST_ABSENT };
  assert.deepEqual(messageToFields(waiting), [[4, 2, entry.ticket], 2]);
  assert.deepEqual(decodeMessage(FrameType.WAITING, encodeMessage(waiting)), waiting);
  assert.throws(() => encodeMessage({ ...waiting, reason: 3 }), TypeError);
  for (const bad of [[4, 2, entry.ticket, 2], [[4, 2], 2], [[4, 2, entry.ticket, 0], 2]]) {
    assert.throws(() => decodeMessage(FrameType.WAITING, pack(bad)), exactly(MessageError));
  }
  const roster = {
    type: FrameType.ROSTER,
    you: 1,
    members: [],
    presenter: 0,
    controlHolder: 0,
    locked: false,
    epoch: 0,
  };
  // without a lobby, encoded with an empty one (as Python's default); decoded always has
  // one; the recorder (§3.23) follows it, 0 (nobody) by default
  assert.deepEqual(messageToFields(roster).at(-2), []);
  assert.equal(messageToFields(roster).at(-1), 0);
  const withLobby = { ...roster, lobby: [entry], recording: 0 };
  assert.deepEqual(decodeMessage(FrameType.ROSTER, encodeMessage(withLobby)), withLobby);
  const fields = messageToFields(withLobby);
  assert.throws(
    () => decodeMessage(FrameType.ROSTER, pack(fields.slice(0, -2))),
    exactly(MessageError),
  );
});

test("defaults fill what a caller leaves out, never a missing field on the wire", () => {
  const cases = [
    { type: FrameType.INPUT_EVENT, kind: InputKind.KEY, keysym: 0x61, pressed: true },
    { type: FrameType.ANNOTATION, strokeId: 1, color: 0, width: 1, points: [] },
  ];
  for (const message of cases) {
    const fields = messageToFields(message);
    assert.deepEqual(decodeMessage(message.type, pack(fields)), messageFromFields(message.type, fields));
    for (let keep = 0; keep < fields.length; keep++) {
      assert.throws(
        () => decodeMessage(message.type, pack(fields.slice(0, keep))),
        exactly(MessageError),
      );
    }
    assert.throws(() => decodeMessage(message.type, pack([...fields, 0])), exactly(MessageError));
  }
});

test("commit content round trip and checks", () => {
  const content = {
    sessionUid: new Uint8Array(16),
    epoch: 1,
    leader: 1,
    members: [1, 2],
    rosterHash: new Uint8Array(32),
    sealed: [1, 2].map((memberId) => ({
      memberId,
      enc: new Uint8Array(1120),
      ciphertext: new Uint8Array(48),
    })),
  };
  const data = encodeCommitContent(content);
  assert.deepEqual(decodeCommitContent(data), content);
  assert.throws(() => encodeCommitContent({ ...content, epoch: 0 }), TypeError);
  assert.throws(
    () => decodeCommitContent(data.subarray(0, data.length - 1)),
    exactly(MessageError),
  );
});

test("controlFrame builds a plain control frame", () => {
  const frame = controlFrame(
    { type: FrameType.HELLO, ticket: new Uint8Array([1, 2]), proof: new Uint8Array(64) },
    { sessionUid: new Uint8Array(16), sender: 7, sequence: 1 },
  );
  const parsed = parseFrame(serializeFrame(frame));
  assert.equal(parsed.header.type, FrameType.HELLO);
  assert.equal(parsed.header.target, 0);
  assert.equal(parsed.header.epoch, 0);
  assert.equal(parsed.header.sequence, 1n);
  assert.deepEqual(decodeMessage(FrameType.HELLO, parsed.body).ticket, new Uint8Array([1, 2]));
  assert.throws(
    () =>
      controlFrame(
        { type: FrameType.CHAT, text: "x" },
        { sessionUid: new Uint8Array(16), sender: 7, sequence: 1 },
      ),
    TypeError,
  );
  assert.equal(frameTypeName(FrameType.CONSENT_ANSWER), "CONSENT_ANSWER");
  assert.equal(ConsentKind.CONTROL, 2);
  assert.equal(TileEncoding.COPY, 4);
  assert.equal(TileEncoding.FILL, 5);
  assert.equal(TileEncoding.ZLIB_GREY, 6);
});
