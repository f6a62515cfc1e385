// Arbitrary and mutated bytes: every parser is bounded and throws only the protocol's
// own errors (docs/protocol.md §2.5, §3.0, §7.2, §9), never a TypeError, RangeError or
// anything else.

import { test } from "node:test";
import assert from "node:assert/strict";

import {
  FrameType,
  HEADER_SIZE,
  StreamDecoder,
  parseFrame,
  serializeFrame,
} from "../../src/relaydesk/web/static/js/protocol/frames.js";
import {
  decodeCommitContent,
  decodeMessage,
} from "../../src/relaydesk/web/static/js/protocol/messages.js";
import { pack, unpack } from "../../src/relaydesk/web/static/js/protocol/msgpack.js";
import { readTicket } from "../../src/relaydesk/web/static/js/protocol/tickets.js";
import {
  CommitRejected,
  CryptoError,
  FrameError,
  MessageError,
  TicketError,
} from "../../src/relaydesk/web/static/js/protocol/errors.js";
import { applyCommitFrame, client, h, load, needsMlKem, prng } from "./helpers.mjs";

const MESSAGES = load("messages.json");
const FRAMES = load("frames.json");
const TICKETS = load("tickets.json");
const CONTENT = load("content.json");
const TYPES = Object.values(FrameType);

/** Run `f`; it may return or throw one of `allowed` (exactly those classes or subclasses). */
function only(allowed, f, what) {
  try {
    f();
  } catch (error) {
    if (!allowed.some((cls) => error instanceof cls)) {
      assert.fail(`${what}: unexpected ${error?.name}: ${error?.message}`);
    }
  }
}

/** Mutations of `data`: flip, set, drop, insert, truncate, extend. */
function mutate(random, data) {
  const out = Array.from(data);
  const edits = 1 + random.int(3);
  for (let i = 0; i < edits; i++) {
    const at = random.int(out.length + 1);
    switch (random.int(6)) {
      case 0:
        if (at < out.length) out[at] ^= 1 << random.int(8);
        break;
      case 1:
        if (at < out.length)
          out[at] = [0x00, 0x7f, 0x80, 0xc0, 0xc1, 0xcb, 0xd4, 0xdd, 0xff][random.int(9)];
        break;
      case 2:
        out.splice(at, 1);
        break;
      case 3:
        out.splice(at, 0, random.int(256));
        break;
      case 4:
        out.length = at;
        break;
      default:
        out.push(...random.bytes(random.int(8)));
    }
  }
  return Uint8Array.from(out);
}

/** A random MessagePack value, mostly of the kinds the protocol uses. */
function randomValue(random, depth = 0) {
  switch (random.int(depth > 3 ? 6 : 8)) {
    case 0:
      return random.int(200) - 100;
    case 1:
      return [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1][
        random.int(11)
      ];
    case 2:
      return [(1n << 64n) - 1n, -(1n << 63n), -129, -33, -32][random.int(5)];
    case 3:
      return random.int(2) === 0;
    case 4:
      return ["", "x", "é", "🌍", "a".repeat(40), "b".repeat(300)][random.int(6)];
    case 5:
      return random.bytes([0, 1, 16, 32, 48, 64, 300][random.int(7)]);
    default:
      return Array.from({ length: random.int(12) }, () => randomValue(random, depth + 1));
  }
}

test("parseFrame: random bytes and mutated vectors give only FrameError", () => {
  const random = prng(1);
  for (let i = 0; i < 20000; i++) {
    const data = random.bytes(random.int(120));
    if (i % 2 === 0 && data.length >= 2) {
      data[0] = 1; // get past the version check more often
      data[1] = TYPES[random.int(TYPES.length)];
    }
    only([FrameError], () => parseFrame(data), "random");
  }
  for (const vector of [...FRAMES.valid, ...FRAMES.invalid]) {
    for (let i = 0; i < 300; i++) {
      only([FrameError], () => parseFrame(mutate(random, h(vector.frame))), vector.name);
    }
  }
});

test("StreamDecoder: random streams give only FrameError, and stay bounded", () => {
  const random = prng(2);
  const stream = h(FRAMES.stream.bytes);
  for (let i = 0; i < 2000; i++) {
    const data = mutate(random, stream);
    const decoder = new StreamDecoder();
    only(
      [FrameError],
      () => {
        for (let at = 0; at < data.length; at += 1 + random.int(50)) {
          decoder.receiveData(data.subarray(at, at + 1 + random.int(50)));
          decoder.framesReceived();
          assert.ok(decoder.buffered <= HEADER_SIZE + 4 * 1024 * 1024);
        }
      },
      "stream",
    );
  }
});

test("decodeMessage: random values, random bytes and mutated vectors give only MessageError", () => {
  const random = prng(3);
  for (let i = 0; i < 5000; i++) {
    const type = TYPES[random.int(TYPES.length)];
    const body = i % 3 === 0 ? random.bytes(random.int(64)) : pack(randomValue(random));
    only([MessageError], () => decodeMessage(type, body), `type ${type}`);
  }
  for (const vector of [...MESSAGES.valid, ...MESSAGES.invalid]) {
    const type = FrameType[vector.type];
    for (let i = 0; i < 200; i++) {
      only([MessageError], () => decodeMessage(type, mutate(random, h(vector.body))), vector.name);
    }
  }
});

test("msgpack: whatever decodes re-encodes to a value that decodes the same", () => {
  const random = prng(4);
  const limits = { maxStrLength: 1 << 20, maxBinLength: 1 << 20 };
  for (let i = 0; i < 3000; i++) {
    const value = randomValue(random);
    assert.deepEqual(unpack(pack(value), limits), value);
    const mutated = mutate(random, pack(value));
    let decoded;
    try {
      decoded = unpack(mutated, limits);
    } catch (error) {
      assert.ok(error instanceof MessageError, `${error?.name}: ${error?.message}`);
      continue;
    }
    assert.deepEqual(unpack(pack(decoded), limits), decoded);
  }
});

test("readTicket and decodeCommitContent: only TicketError / MessageError", () => {
  const random = prng(5);
  for (const vector of [...TICKETS.valid, ...TICKETS.checks]) {
    for (let i = 0; i < 300; i++) {
      only(
        [TicketError],
        () => readTicket(mutate(random, h(vector.ticket))),
        vector.name ?? "ticket",
      );
    }
  }
  const content = h(load("commit.json").commit_content);
  for (let i = 0; i < 2000; i++) {
    only([MessageError], () => decodeCommitContent(mutate(random, content)), "commit");
  }
});

test("EndToEnd: mutated content frames and commits give only crypto or message errors", needsMlKem, async () => {
  const random = prng(6);
  const receiver = await client(CONTENT, CONTENT.members[0]);
  await applyCommitFrame(receiver, CONTENT.commit_frame, CONTENT.now);
  for (const vector of CONTENT.frames) {
    for (let i = 0; i < 60; i++) {
      const data = mutate(random, h(vector.frame));
      let frame;
      try {
        frame = parseFrame(data);
      } catch (error) {
        assert.ok(error instanceof FrameError);
        continue;
      }
      await receiver.open(frame, CONTENT.now).then(
        () =>
          assert.equal(
            serializeFrame(frame).join(),
            h(vector.frame).join(),
            "a changed frame opened",
          ),
        (error) =>
          assert.ok(
            error instanceof CryptoError || error instanceof MessageError,
            `${error?.name}: ${error?.message}`,
          ),
      );
    }
  }
  const commit = load("commit.json");
  const member = await client(commit, commit.members[1]);
  for (let i = 0; i < 150; i++) {
    const data = mutate(random, h(commit.frame));
    let frame;
    let message;
    try {
      frame = parseFrame(data);
      message = decodeMessage(FrameType.KEY_COMMIT, frame.body);
    } catch (error) {
      assert.ok(error instanceof FrameError || error instanceof MessageError);
      continue;
    }
    await member.applyCommit(frame.header, message, commit.now).then(
      // only what is not checked may differ: the header's sequence, target and flags
      () => {
        assert.equal(
          message.content.join(),
          h(commit.commit_content).join(),
          "a changed commit applied",
        );
        assert.equal(message.signature.join(), h(commit.commit_signature).join());
      },
      (error) => assert.ok(error instanceof CommitRejected, `${error?.name}: ${error?.message}`),
    );
    if (member.current !== null) break; // the genuine commit went through: nothing is newer
  }
});
