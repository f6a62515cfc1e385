// Frames (docs/protocol.md §2) against tests/vectors/frames.json.

import { test } from "node:test";
import assert from "node:assert/strict";

import {
  Channel,
  EVERYONE,
  FrameType,
  Flags,
  HEADER_SIZE,
  StreamDecoder,
  channelOf,
  isContentType,
  maxBody,
  packHeader,
  parseFrame,
  parseHeader,
  serializeFrame,
} from "../../src/relaydesk/web/static/js/protocol/frames.js";
import {
  FrameError,
  FrameTooLarge,
  CloseCode,
} from "../../src/relaydesk/web/static/js/protocol/errors.js";
import {
  MAX_CONTROL_BODY,
  MAX_FRAME_BODY,
} from "../../src/relaydesk/web/static/js/protocol/limits.js";
import { errorClass, exactly, h, headerFromJson, load, prng, toHex } from "./helpers.mjs";

const V = load("frames.json");

test("tables and limits are the vectors'", () => {
  assert.equal(HEADER_SIZE, V.header_size);
  assert.equal(MAX_CONTROL_BODY, V.max_control_body);
  assert.equal(MAX_FRAME_BODY, V.max_content_body);
  assert.deepEqual({ ...FrameType }, V.types);
  assert.deepEqual({ KEYFRAME: Flags.KEYFRAME, SUPERSEDABLE: Flags.SUPERSEDABLE }, V.flags);
  for (const [name, code] of Object.entries(V.types)) {
    assert.equal(isContentType(code), code >= 0x40, name);
    assert.equal(maxBody(code), code >= 0x40 ? MAX_FRAME_BODY : MAX_CONTROL_BODY);
  }
  assert.equal(channelOf(FrameType.CURSOR), Channel.SCREEN);
  assert.equal(channelOf(FrameType.FILE_CHUNK), Channel.FILE);
  assert.throws(() => channelOf(FrameType.PING), TypeError);
});

for (const vector of V.valid) {
  test(`valid frame: ${vector.name}`, () => {
    const header = headerFromJson(vector.header);
    const body = h(vector.body);
    assert.equal(body.length, vector.body_length);
    const data = serializeFrame({ header, body });
    assert.equal(toHex(data), vector.frame);
    const frame = parseFrame(h(vector.frame));
    assert.deepEqual(frame.header, header);
    assert.equal(typeof frame.header.sequence, "bigint");
    assert.equal(toHex(frame.body), vector.body);
    // a number sequence packs the same as a bigint when it is safe
    if (header.sequence <= BigInt(Number.MAX_SAFE_INTEGER)) {
      const asNumber = { ...header, sequence: Number(header.sequence) };
      assert.equal(toHex(packHeader(asNumber, body.length)), vector.frame.slice(0, 88));
    }
  });
}

for (const vector of V.invalid) {
  test(`invalid frame: ${vector.name} -> ${vector.error}`, () => {
    const cls = errorClass(vector.error);
    assert.throws(() => parseFrame(h(vector.frame)), exactly(cls));
  });
}

test("oversized lengths are refused from the header alone, before any body", () => {
  for (const vector of V.invalid.filter((v) => v.error === "FrameTooLarge")) {
    const data = h(vector.frame);
    assert.equal(data.length, HEADER_SIZE);
    assert.throws(() => parseHeader(data), exactly(FrameTooLarge));
    const decoder = new StreamDecoder();
    assert.throws(() => decoder.receiveData(data), exactly(FrameTooLarge));
    assert.equal(decoder.buffered, 0);
  }
  assert.equal(new FrameTooLarge().closeCode, CloseCode.FRAME_TOO_LARGE);
  assert.equal(new FrameError().closeCode, CloseCode.PROTOCOL_ERROR);
});

for (const vector of V.headers_at_limit) {
  test(`header at the limit: ${vector.name}`, () => {
    const { header, length } = parseHeader(h(vector.header));
    assert.equal(header.type, FrameType[vector.type]);
    assert.equal(length, vector.body_length);
    // the header alone is not a whole WebSocket frame
    assert.throws(() => parseFrame(h(vector.header)), exactly(FrameError));
  });
}

test("a body at the limit parses; one byte more does not", () => {
  const header = {
    type: FrameType.KEY_COMMIT,
    sessionUid: new Uint8Array(16),
    epoch: 0,
    sender: 1,
    target: 0,
    sequence: 1n,
    flags: 0,
  };
  const frame = serializeFrame({ header, body: new Uint8Array(MAX_CONTROL_BODY) });
  assert.equal(parseFrame(frame).body.length, MAX_CONTROL_BODY);
  assert.throws(
    () => serializeFrame({ header, body: new Uint8Array(MAX_CONTROL_BODY + 1) }),
    TypeError,
  );
});

test("packHeader refuses values this side must not send", () => {
  const good = {
    type: FrameType.CHAT,
    sessionUid: new Uint8Array(16),
    epoch: 1,
    sender: 2,
    target: EVERYONE,
    sequence: 1n,
    flags: 0,
  };
  assert.equal(packHeader(good, 0).length, HEADER_SIZE);
  const bad = [
    { type: 0x1a },
    { sessionUid: new Uint8Array(15) },
    { epoch: -1 },
    { sender: 2 ** 32 },
    { target: 1.5 },
    { sequence: -1n },
    { sequence: 1n << 64n },
    { sequence: 2 ** 53 },
    { flags: 8 },
  ];
  for (const change of bad) {
    assert.throws(() => packHeader({ ...good, ...change }, 0), TypeError, Object.keys(change)[0]);
  }
});

test("stream: the valid frames back to back, in chunks of any size", () => {
  const stream = h(V.stream.bytes);
  const expected = V.valid.map((v) => v.frame);
  for (const chunk of [1, 2, 3, 7, 43, 44, 45, 100, stream.length]) {
    const decoder = new StreamDecoder();
    const frames = [];
    for (let i = 0; i < stream.length; i += chunk) {
      decoder.receiveData(stream.subarray(i, i + chunk));
      frames.push(...decoder.framesReceived());
    }
    assert.equal(frames.length, V.stream.frames);
    assert.deepEqual(
      frames.map((f) => toHex(serializeFrame(f))),
      expected,
    );
    assert.equal(decoder.buffered, 0);
  }
  // random split points
  const random = prng(7);
  for (let round = 0; round < 50; round++) {
    const decoder = new StreamDecoder();
    const frames = [];
    let i = 0;
    while (i < stream.length) {
      const size = random.int(60);
      decoder.receiveData(stream.subarray(i, i + size));
      i += size;
      frames.push(...decoder.framesReceived());
    }
    assert.deepEqual(
      frames.map((f) => toHex(serializeFrame(f))),
      expected,
    );
  }
});

test("stream: a bad header breaks the decoder for good", () => {
  const decoder = new StreamDecoder();
  const first = h(V.valid[0].frame);
  const bad = first.slice();
  bad[0] = 2; // version 2
  decoder.receiveData(first.subarray(0, 10));
  assert.throws(() => decoder.receiveData(concat2(first.subarray(10), bad)), exactly(FrameError));
  assert.deepEqual(decoder.framesReceived().length, 1);
  assert.throws(() => decoder.receiveData(first), exactly(FrameError));
  assert.equal(decoder.buffered, 0);
});

function concat2(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
