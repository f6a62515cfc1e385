// Shared helpers of the web client's tests: the golden vectors of tests/vectors/
// (README.md there: hex strings, typed message fields, big integers as decimal strings).

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import assert from "node:assert/strict";

import * as errors from "../../src/relaydesk/web/static/js/protocol/errors.js";
import { fromHex, toHex } from "../../src/relaydesk/web/static/js/protocol/bytes.js";
import { FrameType, frameTypeName } from "../../src/relaydesk/web/static/js/protocol/frames.js";
import { MemberKeys } from "../../src/relaydesk/web/static/js/protocol/keys.js";
import { hasMlKem } from "../../src/relaydesk/web/static/js/protocol/primitives.js";
import { EndToEnd } from "../../src/relaydesk/web/static/js/protocol/e2e.js";
import { decodeMessage } from "../../src/relaydesk/web/static/js/protocol/messages.js";
import { parseFrame } from "../../src/relaydesk/web/static/js/protocol/frames.js";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const PROTOCOL = path.join(REPO, "src", "relaydesk", "web", "static", "js", "protocol");

/** @param {string} name e.g. "frames.json" */
export function load(name) {
  return JSON.parse(readFileSync(path.join(REPO, "tests", "vectors", name), "utf8"));
}

export const h = fromHex;

/**
 * The options of a test that needs ML-KEM-768 (members' keys, commits): WebCrypto has
 * it in Chromium, not in Node 20, so there these tests are skipped, and
 * tests/browser/test_protocol_library.py runs the same files in Chromium, where none is.
 */
export const needsMlKem = {
  skip: hasMlKem ? false : "Node 20 has no ML-KEM-768: run in Chromium by tests/browser/test_protocol_library.py",
};
export { toHex };

/** A JSON integer of the vectors: a number, or a decimal string above 2^53 - 1. */
export function bigint(/** @type {number | string} */ value) {
  return BigInt(value);
}

/** Typed JSON fields -> MessagePack values: {"bin"} -> Uint8Array, {"int"} -> bigint. */
export function fromTyped(value) {
  if (Array.isArray(value)) return value.map(fromTyped);
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "bin") return fromHex(value.bin);
    if (keys.length === 1 && keys[0] === "int") return BigInt(value.int);
    throw new Error(`unknown typed value ${JSON.stringify(value)}`);
  }
  return value;
}

/** MessagePack values -> typed JSON fields (the inverse of fromTyped). */
export function toTyped(value) {
  if (Array.isArray(value)) return value.map(toTyped);
  if (value instanceof Uint8Array) return { bin: toHex(value) };
  if (typeof value === "bigint") return { int: value.toString() };
  return value;
}

/** A frame header of the vectors -> a Header object. */
export function headerFromJson(json) {
  assert.equal(json.version, 1);
  assert.equal(FrameType[json.type], json.type_code);
  return {
    type: json.type_code,
    flags: json.flags,
    sessionUid: fromHex(json.session_uid),
    epoch: json.epoch,
    sender: json.sender,
    target: json.target,
    sequence: BigInt(json.sequence),
  };
}

/** The error class of relaydesk.errors a vector names. */
export function errorClass(/** @type {string} */ name) {
  const cls = errors[name];
  assert.ok(cls && cls.prototype instanceof errors.RelaydeskError, `unknown error ${name}`);
  return cls;
}

/** assert.rejects / assert.throws matcher: exactly that error class (not a subclass). */
export function exactly(/** @type {Function} */ cls) {
  return (/** @type {unknown} */ error) => {
    assert.ok(error instanceof Error, `not an Error: ${error}`);
    assert.equal(error.constructor, cls, `${error.name}: ${error.message}`);
    assert.equal(error.name, cls.errorName);
    return true;
  };
}

/** An RNG that hands out the given draws, in order, checking their sizes. */
export class Script {
  constructor(/** @type {Uint8Array[]} */ draws) {
    this.draws = [...draws];
    this.rng = (/** @type {number} */ n) => {
      const next = this.draws.shift();
      assert.ok(next !== undefined, "the script ran out of draws");
      assert.equal(next.length, n);
      return next;
    };
  }

  get usedUp() {
    return this.draws.length === 0;
  }
}

/** A member of commit.json / content.json -> its MemberKeys. */
export async function memberKeys(member) {
  const keys = await MemberKeys.fromPrivateBytes(
    fromHex(member.agreement.mlkem_seed),
    fromHex(member.agreement.x25519_private),
    fromHex(member.ed25519_private),
  );
  assert.equal(toHex(keys.agreementPublic), member.agreement.public);
  assert.equal(toHex(keys.ed25519Public), member.ed25519_public);
  return keys;
}

/** A member's client state built from a vector file: its keys and every ticket shown. */
export async function client(vectors, member) {
  const e2e = new EndToEnd(
    fromHex(vectors.session_uid),
    member.member_id,
    await memberKeys(member),
    fromHex(vectors.broker_public),
  );
  for (const other of vectors.members) await e2e.addMember(fromHex(other.ticket), vectors.now);
  return e2e;
}

/** Parse a KEY_COMMIT frame and apply it. */
export async function applyCommitFrame(e2e, frameHex, now) {
  const frame = parseFrame(fromHex(frameHex));
  assert.equal(frameTypeName(frame.header.type), "KEY_COMMIT");
  const commit = decodeMessage(frame.header.type, frame.body);
  return e2e.applyCommit(frame.header, commit, now);
}

/** A seeded PRNG (xorshift32) for reproducible fuzzing. */
export function prng(seed) {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
  return {
    int: (/** @type {number} */ n) => next() % n,
    bytes: (/** @type {number} */ n) => Uint8Array.from({ length: n }, () => next() & 0xff),
  };
}
