// Typed messages carried in frame bodies (docs/protocol.md §3-§4), mirroring
// src/relaydesk/protocol/messages.py.
//
// A message is a plain object: `type` (a FrameType code) and its fields in camelCase,
// e.g. `{type: FrameType.CHAT, text: "hi"}`. On the wire it is one MessagePack array of
// the fields in the order of the spec's tables (§3.0). Decoding is bounded and checks
// every field's type and range, exactly as the Python side does; any failure is a
// MessageError. Encoding checks the same rules and throws TypeError for a message this
// side must not send (a bug in the caller).
//
// u64 fields (PING/PONG nonce, FILE_CHUNK offset and size) decode to a number up to
// 2^53 - 1 and to a bigint above; either is accepted when encoding.

import { MessageError } from "./errors.js";
import {
  FrameType,
  MAX_MEMBER_ID,
  RELAY,
  frameTypeName,
  isContentType,
  maxBody,
} from "./frames.js";
import * as limits from "./limits.js";
import { pack, unpack } from "./msgpack.js";
import { codePointLength } from "./bytes.js";

export const U32 = 0xffffffff;
export const U64 = (1n << 64n) - 1n;

// Shared enumerations (§3.0) -------------------------------------------------------------

/** A member's role; presenting and remote control are positions, not roles (§5). */
export const Role = Object.freeze({ HOST: 1, PARTICIPANT: 2 });
export const ConsentKind = Object.freeze({ PRESENT: 1, CONTROL: 2 });
export const ConsentResult = Object.freeze({ GRANTED: 1, DENIED: 2, TIMED_OUT: 3, CANCELLED: 4 });
export const LeaveReason = Object.freeze({ LEFT: 1, EXPELLED: 2, DISCONNECTED: 3 });
export const EndReason = Object.freeze({
  ENDED_BY_HOST: 1,
  ENDED_BY_PRESENTER: 2,
  TWO_PARTY_LEFT: 3,
  SERVER_SHUTDOWN: 4,
});
export const RevokeReason = Object.freeze({
  BY_PRESENTER: 1,
  RELINQUISHED: 2,
  PRESENTER_CHANGED: 3,
  LEFT: 4,
  BY_HOST: 5,
  SESSION_ENDED: 6,
});
/** How a screen tile's pixels are carried (§4.1). */
export const TileEncoding = Object.freeze({ RAW: 0, ZLIB: 1, PNG: 2, JPEG: 3, COPY: 4 });
export const InputKind = Object.freeze({ POINTER_MOVE: 1, BUTTON: 2, WHEEL: 3, KEY: 4, TEXT: 5 });
export const Modifier = Object.freeze({ SHIFT: 1, CONTROL: 2, ALT: 4, META: 8 });

// Field reader ---------------------------------------------------------------------------

/** Reads one message's field array, checking each field as it is taken (§3.0). */
export class Fields {
  /** @param {unknown} items @param {string} what */
  constructor(items, what) {
    if (!Array.isArray(items)) throw new MessageError(`${what}: expected an array of fields`);
    this.items = items;
    this.index = 0;
    this.what = what;
  }

  /** @returns {unknown} */
  take() {
    if (this.index >= this.items.length) {
      throw new MessageError(`${this.what}: missing field ${this.index}`);
    }
    return this.items[this.index++];
  }

  /** @param {string} expected */
  fail(expected) {
    return new MessageError(`${this.what}: field ${this.index - 1} must be ${expected}`);
  }

  /**
   * An integer in [low, high] (never a boolean).
   * @param {number | bigint} [low] @param {number | bigint} [high]
   * @returns {number | bigint}
   */
  integer(low = 0, high = U32) {
    const value = this.take();
    const isInteger =
      (typeof value === "number" && Number.isSafeInteger(value)) || typeof value === "bigint";
    if (!isInteger || value < low || value > high) {
      throw this.fail(`an integer in [${low}, ${high}]`);
    }
    return /** @type {number | bigint} */ (value);
  }

  /** An integer field whose range fits in a JavaScript number. @param {number} low @param {number} high */
  number(low, high) {
    return /** @type {number} */ (this.integer(low, high));
  }

  /** A member id (1..MAX_MEMBER_ID); 0 means "nobody" where `allowNone`. @param {boolean} [allowNone] */
  member(allowNone = false) {
    return this.number(allowNone ? 0 : 1, MAX_MEMBER_ID);
  }

  /** @returns {boolean} */
  boolean() {
    const value = this.take();
    if (typeof value !== "boolean") throw this.fail("true or false");
    return value;
  }

  /** Text of minChars to maxChars code points. @param {number} maxChars @param {number} [minChars] */
  text(maxChars, minChars = 0) {
    const value = this.take();
    if (typeof value !== "string") throw this.fail(`text of ${minChars} to ${maxChars} characters`);
    const length = codePointLength(value);
    if (length < minChars || length > maxChars) {
      throw this.fail(`text of ${minChars} to ${maxChars} characters`);
    }
    return value;
  }

  /** @param {number} maxLength @param {number} [exact] @returns {Uint8Array} */
  binary(maxLength, exact) {
    const value = this.take();
    if (!(value instanceof Uint8Array) || value.length > maxLength) {
      throw this.fail(`binary of at most ${maxLength} bytes`);
    }
    if (exact !== undefined && value.length !== exact) {
      throw this.fail(`binary of exactly ${exact} bytes`);
    }
    return value;
  }

  /** One of an enumeration's values. @param {Readonly<Record<string, number>>} enumeration @param {string} name */
  enumeration(enumeration, name) {
    const value = this.integer(0, U64);
    if (!Object.values(enumeration).includes(/** @type {number} */ (value))) {
      throw this.fail(`a ${name} value`);
    }
    return /** @type {number} */ (value);
  }

  /**
   * An array of at most maxItems items, each an array of fields read by `parse`.
   * @template T
   * @param {number} maxItems
   * @param {(fields: Fields) => T} parse
   * @returns {T[]}
   */
  array(maxItems, parse) {
    const value = this.take();
    if (!Array.isArray(value) || value.length > maxItems) {
      throw this.fail(`an array of at most ${maxItems} items`);
    }
    return value.map((item) => {
      const fields = new Fields(item, this.what);
      const parsed = parse(fields);
      fields.done();
      return parsed;
    });
  }

  /** A flat array of member ids. @param {number} maxItems @returns {number[]} */
  memberArray(maxItems) {
    const value = this.take();
    if (!Array.isArray(value) || value.length > maxItems) {
      throw this.fail(`an array of at most ${maxItems} member ids`);
    }
    const items = new Fields(value, this.what);
    return value.map(() => items.member());
  }

  done() {
    if (this.index !== this.items.length) {
      throw new MessageError(`${this.what}: ${this.items.length - this.index} unexpected fields`);
    }
  }
}

// Shared parts -----------------------------------------------------------------------------

/** @typedef {{memberId: number, role: number, ticket: Uint8Array}} RosterEntry */
/** @typedef {{x: number, y: number, width: number, height: number, encoding: number, data: Uint8Array}} Tile */
/** @typedef {{x: number, y: number}} Point */
/** @typedef {{memberId: number, enc: Uint8Array, ciphertext: Uint8Array}} SealedKey */
/**
 * @typedef {object} CommitContent what the key leader signs when it starts an epoch (§6.2)
 * @property {Uint8Array} sessionUid
 * @property {number} epoch
 * @property {number} leader
 * @property {number[]} members ascending member ids
 * @property {Uint8Array} rosterHash
 * @property {SealedKey[]} sealed one per member, in the order of `members`
 */

/** @param {RosterEntry} e */
const entryToFields = (e) => [e.memberId, e.role, e.ticket];
/** @param {Fields} f @returns {RosterEntry} */
const entryFromFields = (f) => ({
  memberId: f.member(),
  role: f.enumeration(Role, "Role"),
  ticket: f.binary(limits.MAX_TICKET_BYTES),
});

/** @param {Tile} t */
const tileToFields = (t) => [t.x, t.y, t.width, t.height, t.encoding, t.data];
/** @param {Fields} f @returns {Tile} */
const tileFromFields = (f) => ({
  x: f.number(0, limits.MAX_SCREEN_SIDE - 1),
  y: f.number(0, limits.MAX_SCREEN_SIDE - 1),
  width: f.number(1, limits.MAX_SCREEN_SIDE),
  height: f.number(1, limits.MAX_SCREEN_SIDE),
  encoding: f.enumeration(TileEncoding, "TileEncoding"),
  data: f.binary(limits.MAX_FRAME_BODY),
});

/** @param {Point} p */
const pointToFields = (p) => [p.x, p.y];
/** @param {Fields} f @returns {Point} */
const pointFromFields = (f) => ({
  x: f.number(0, limits.MAX_SCREEN_SIDE),
  y: f.number(0, limits.MAX_SCREEN_SIDE),
});

/** @param {SealedKey} s */
const sealedToFields = (s) => [s.memberId, s.enc, s.ciphertext];
/** @param {Fields} f @returns {SealedKey} */
const sealedFromFields = (f) => ({
  memberId: f.member(),
  enc: f.binary(32, 32),
  ciphertext: f.binary(48, 48),
});

// The message table: for each frame type, its fields out of and into a message ------------

/**
 * @typedef {object} MessageCodec
 * @property {(m: any) => unknown[]} toFields
 * @property {(f: Fields) => object} fromFields
 */

const SIDE = limits.MAX_SCREEN_SIDE;

/** @type {Map<number, MessageCodec>} */
// prettier-ignore
const CODECS = new Map([
  // Control messages (§3) ---------------------------------------------------------------
  [FrameType.HELLO, {
    toFields: (m) => [m.ticket],
    fromFields: (f) => ({ ticket: f.binary(limits.MAX_TICKET_BYTES) }),
  }],
  [FrameType.ROSTER, {
    toFields: (m) => [
      m.you, m.members.map(entryToFields), m.presenter, m.controlHolder, m.locked, m.epoch,
    ],
    fromFields: (f) => ({
      you: f.member(),
      members: f.array(limits.MAX_MEMBERS, entryFromFields),
      presenter: f.member(true),
      controlHolder: f.member(true),
      locked: f.boolean(),
      epoch: f.number(0, U32),
    }),
  }],
  [FrameType.MEMBER_JOINED, {
    // The same three fields as a RosterEntry, directly (§3.3).
    toFields: (m) => entryToFields(m.entry),
    fromFields: (f) => ({ entry: entryFromFields(f) }),
  }],
  [FrameType.MEMBER_LEFT, {
    toFields: (m) => [m.memberId, m.reason],
    fromFields: (f) => ({ memberId: f.member(), reason: f.enumeration(LeaveReason, "LeaveReason") }),
  }],
  [FrameType.ROLE_CHANGE, {
    toFields: (m) => [m.memberId, m.role],
    fromFields: (f) => ({ memberId: f.member(), role: f.enumeration(Role, "Role") }),
  }],
  [FrameType.PRESENTER_REQUEST, {
    toFields: (m) => [m.memberId],
    fromFields: (f) => ({ memberId: f.member() }),
  }],
  [FrameType.CONTROL_REQUEST, {
    toFields: () => [],
    fromFields: () => ({}),
  }],
  [FrameType.CONSENT_PROMPT, {
    toFields: (m) => [m.kind, m.askedBy],
    fromFields: (f) => ({ kind: f.enumeration(ConsentKind, "ConsentKind"), askedBy: f.member() }),
  }],
  [FrameType.CONSENT_ANSWER, {
    toFields: (m) => [m.kind, m.granted],
    fromFields: (f) => ({ kind: f.enumeration(ConsentKind, "ConsentKind"), granted: f.boolean() }),
  }],
  [FrameType.CONSENT_OUTCOME, {
    toFields: (m) => [m.kind, m.askedBy, m.subject, m.result],
    fromFields: (f) => ({
      kind: f.enumeration(ConsentKind, "ConsentKind"),
      askedBy: f.member(),
      subject: f.member(),
      result: f.enumeration(ConsentResult, "ConsentResult"),
    }),
  }],
  [FrameType.GRANT, {
    toFields: (m) => [m.kind, m.memberId],
    fromFields: (f) => ({ kind: f.enumeration(ConsentKind, "ConsentKind"), memberId: f.member() }),
  }],
  [FrameType.REVOKE, {
    toFields: (m) => [m.kind, m.memberId, m.reason],
    fromFields: (f) => ({
      kind: f.enumeration(ConsentKind, "ConsentKind"),
      memberId: f.member(),
      reason: f.enumeration(RevokeReason, "RevokeReason"),
    }),
  }],
  [FrameType.LOCK, {
    toFields: (m) => [m.locked],
    fromFields: (f) => ({ locked: f.boolean() }),
  }],
  [FrameType.EXPEL, {
    toFields: (m) => [m.memberId],
    fromFields: (f) => ({ memberId: f.member() }),
  }],
  [FrameType.END, {
    toFields: (m) => [m.reason],
    fromFields: (f) => ({ reason: f.enumeration(EndReason, "EndReason") }),
  }],
  [FrameType.KEY_COMMIT, {
    // content: the encoded CommitContent exactly as signed (§3.16, §6.2).
    toFields: (m) => [m.content, m.signature],
    fromFields: (f) => ({ content: f.binary(limits.MAX_CONTROL_BODY), signature: f.binary(64, 64) }),
  }],
  [FrameType.ERROR, {
    toFields: (m) => [m.code, m.text],
    fromFields: (f) => ({ code: f.number(0, 4999), text: f.text(limits.MAX_ERROR_TEXT_CHARS) }),
  }],
  [FrameType.PING, {
    toFields: (m) => [m.nonce],
    fromFields: (f) => ({ nonce: f.integer(0, U64) }),
  }],
  [FrameType.PONG, {
    toFields: (m) => [m.nonce],
    fromFields: (f) => ({ nonce: f.integer(0, U64) }),
  }],
  [FrameType.REFRESH, {
    // A viewer sends 0 (the relay reads the sender); the relay names the viewer (§3.19).
    toFields: (m) => [m.memberId],
    fromFields: (f) => ({ memberId: f.member(true) }),
  }],
  // Content messages (§4), sealed end to end --------------------------------------------
  [FrameType.SCREEN_UPDATE, {
    toFields: (m) => [m.width, m.height, m.full, m.tiles.map(tileToFields)],
    fromFields: (f) => ({
      width: f.number(1, SIDE),
      height: f.number(1, SIDE),
      full: f.boolean(),
      tiles: f.array(limits.MAX_TILES_PER_UPDATE, tileFromFields),
    }),
  }],
  [FrameType.CURSOR, {
    toFields: (m) => [m.x, m.y, m.visible],
    fromFields: (f) => ({ x: f.number(0, SIDE), y: f.number(0, SIDE), visible: f.boolean() }),
  }],
  [FrameType.INPUT_EVENT, {
    // Every event has all ten fields; those its kind does not use are zero or empty (§4.2).
    toFields: (m) => [
      m.kind, m.x ?? 0, m.y ?? 0, m.button ?? 0, m.pressed ?? false, m.dx ?? 0, m.dy ?? 0,
      m.keysym ?? 0, m.modifiers ?? 0, m.text ?? "",
    ],
    fromFields: (f) => ({
      kind: f.enumeration(InputKind, "InputKind"),
      x: f.number(0, SIDE),
      y: f.number(0, SIDE),
      button: f.number(0, 32),
      pressed: f.boolean(),
      dx: f.number(-100, 100),
      dy: f.number(-100, 100),
      keysym: f.number(0, 0x1fffffff),
      modifiers: f.number(0, 15),
      text: f.text(limits.MAX_TYPED_TEXT_CHARS),
    }),
  }],
  [FrameType.CHAT, {
    toFields: (m) => [m.text],
    fromFields: (f) => ({ text: f.text(limits.MAX_CHAT_CHARS, 1) }),
  }],
  [FrameType.ANNOTATION, {
    toFields: (m) => [m.strokeId, m.color, m.width, m.points.map(pointToFields), m.clear ?? false],
    fromFields: (f) => ({
      strokeId: f.number(0, U32),
      color: f.number(0, 0xffffff),
      width: f.number(1, 64),
      points: f.array(limits.MAX_ANNOTATION_POINTS, pointFromFields),
      clear: f.boolean(),
    }),
  }],
  [FrameType.FILE_CHUNK, {
    toFields: (m) => [
      m.transferId, m.offset, m.data, m.name ?? "", m.size ?? 0, m.sha256 ?? new Uint8Array(0),
    ],
    fromFields: (f) => {
      const chunk = {
        transferId: f.number(0, U32),
        offset: f.integer(0, U64),
        data: f.binary(limits.MAX_FILE_CHUNK),
        name: f.text(limits.MAX_FILE_NAME_CHARS),
        size: f.integer(0, U64),
        sha256: f.binary(32),
      };
      if (chunk.sha256.length !== 0 && chunk.sha256.length !== 32) {
        throw new MessageError("FILE_CHUNK: sha256 is empty or 32 bytes");
      }
      return chunk;
    },
  }],
]);

/** @param {number} type @returns {MessageCodec} */
function codecOf(type) {
  const codec = CODECS.get(type);
  if (codec === undefined) throw new TypeError(`unknown frame type ${type}`);
  return codec;
}

/**
 * Read a field array (as decoded from MessagePack) into a message of `frameType`.
 * @param {number} frameType
 * @param {unknown} fields
 * @returns {any} the message, with `type` set
 * @throws {MessageError}
 */
export function messageFromFields(frameType, fields) {
  const codec = codecOf(frameType);
  const reader = new Fields(fields, frameTypeName(frameType) ?? "message");
  const message = codec.fromFields(reader);
  reader.done();
  return { type: frameType, ...message };
}

/**
 * The field array of a message, checked against the same rules as decoding.
 * @param {any} message an object with `type` and the message's fields
 * @returns {unknown[]}
 * @throws {TypeError} if the message is not one this side may send
 */
export function messageToFields(message) {
  const codec = codecOf(message?.type);
  let fields;
  try {
    fields = codec.toFields(message);
    messageFromFields(message.type, fields);
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    throw new TypeError(`invalid ${frameTypeName(message.type)} message: ${text}`);
  }
  return fields;
}

/**
 * A message's body: its fields as one MessagePack array (§3.0).
 * @param {any} message
 * @returns {Uint8Array}
 * @throws {TypeError} if the message is not valid
 */
export function encodeMessage(message) {
  return pack(messageToFields(message));
}

/**
 * Bounded MessagePack decode of a field array, as Python's `messages.unpack`: str and
 * bin at most `maxLength` bytes, arrays at most 8192 items, no maps or extension types.
 * @param {Uint8Array} data @param {number} maxLength @param {string} what
 * @returns {Fields}
 * @throws {MessageError}
 */
export function unpackFields(data, maxLength, what) {
  const value = unpack(data, { maxStrLength: maxLength, maxBinLength: maxLength }, what);
  return new Fields(value, what);
}

/**
 * Decode a (plaintext) body of `frameType`. Throws only MessageError for bad bodies.
 * @param {number} frameType a FrameType code (TypeError if unknown)
 * @param {Uint8Array} body
 * @returns {any} the message, with `type` set
 * @throws {MessageError}
 */
export function decodeMessage(frameType, body) {
  codecOf(frameType);
  const what = frameTypeName(frameType) ?? "message";
  const value = unpack(
    body,
    { maxStrLength: maxBody(frameType), maxBinLength: maxBody(frameType) },
    what,
  );
  return messageFromFields(frameType, value);
}

// Commit content (§6.2): signed by the leader, carried in KEY_COMMIT.content -----------------

/** @param {CommitContent} c */
function commitToFields(c) {
  return [
    c.sessionUid,
    c.epoch,
    c.leader,
    [...c.members],
    c.rosterHash,
    c.sealed.map(sealedToFields),
  ];
}

/** @param {Fields} f @returns {CommitContent} */
function commitFromFields(f) {
  return {
    sessionUid: f.binary(16, 16),
    epoch: f.number(1, U32),
    leader: f.member(),
    members: f.memberArray(limits.MAX_MEMBERS),
    rosterHash: f.binary(32, 32),
    sealed: f.array(limits.MAX_MEMBERS, sealedFromFields),
  };
}

/**
 * @param {CommitContent} content
 * @returns {Uint8Array}
 * @throws {TypeError} if a field is out of range
 */
export function encodeCommitContent(content) {
  const fields = commitToFields(content);
  try {
    const reader = new Fields(fields, "commit");
    commitFromFields(reader);
    reader.done();
  } catch (error) {
    throw new TypeError(`invalid commit: ${error instanceof Error ? error.message : error}`);
  }
  return pack(fields);
}

/**
 * @param {Uint8Array} data the encoded CommitContent
 * @returns {CommitContent}
 * @throws {MessageError}
 */
export function decodeCommitContent(data) {
  const fields = unpackFields(data, limits.MAX_CONTROL_BODY, "commit");
  const content = commitFromFields(fields);
  fields.done();
  return content;
}

// Control frames a member sends -------------------------------------------------------------

/**
 * A control frame (§3) from this member, e.g. HELLO, PING, CONSENT_ANSWER, REFRESH.
 * Content messages are sealed instead (EndToEnd.seal); KEY_COMMIT frames come from
 * EndToEnd.startEpoch. `sequence` counts this connection's control frames from 1
 * (receivers do not check it, §2.1).
 * @param {any} message a control message, e.g. {type: FrameType.HELLO, ticket}
 * @param {{sessionUid: Uint8Array, sender: number, sequence: number | bigint, target?: number}} header
 * @returns {import("./frames.js").Frame} send it with serializeFrame
 * @throws {TypeError} for a content message or an invalid one
 */
export function controlFrame(message, { sessionUid, sender, sequence, target = RELAY }) {
  if (isContentType(message?.type))
    throw new TypeError("content messages are sealed, not sent plain");
  const body = encodeMessage(message);
  const header = {
    type: message.type,
    sessionUid,
    epoch: 0,
    sender,
    target,
    sequence: BigInt(sequence),
    flags: 0,
  };
  return { header, body };
}
