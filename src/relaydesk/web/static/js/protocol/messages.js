// Typed messages carried in frame bodies (docs/protocol.md §3-§4), mirroring
// src/relaydesk/protocol/messages.py.
//
// A message is a plain object: `type` (a FrameType code) and its fields in camelCase,
// e.g. `{type: FrameType.CHAT, text: "hi"}`. On the wire it is one MessagePack array of
// the fields in the order of the spec's tables (§3.0). Each record (every message type,
// and the parts nested in them) is declared once, as a schema: its fields in order, each
// with its check (see `recordSchema` and `Field`); encoding and decoding both derive from
// it. Decoding is bounded and checks every field's type and range, exactly as the Python
// side does; any failure is a MessageError. Encoding checks the same rules and throws
// TypeError for a message this side must not send (a bug in the caller).
//
// u64 fields (PING/PONG nonce) decode to a number up to
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
/** Why a member waits in the lobby (§3.21). */
export const WaitReason = Object.freeze({ APPROVAL: 1, HOST_ABSENT: 2 });
/** Who may chat with whom, as the presenter or a host decides (§5.5). */
export const ChatRule = Object.freeze({ EVERYONE: 1, PRESENTER: 2, NOBODY: 3 });
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
  SITE_POLICY: 7, // the member's fresh ticket forbids it (§7.2: NO_SHARING, NO_CONTROL)
});
/** How a screen tile's pixels are carried (§4.1). */
export const TileEncoding = Object.freeze({
  RAW: 0,
  ZLIB: 1,
  PNG: 2,
  JPEG: 3,
  COPY: 4,
  FILL: 5, // one colour for the whole tile: data = blue, green, red (3 bytes)
  ZLIB_GREY: 6, // grey pixels, one byte each (blue = green = red), compressed with zlib
});
/** What the presenter lets viewers see (§4.1, SHARE_STATE). */
export const ShareMode = Object.freeze({ LIVE: 1, PAUSED: 2, HIDDEN: 3 });
/** How a file transfer ended (§4.5, FILE_END). */
export const FileEndReason = Object.freeze({
  COMPLETE: 1,
  CANCELLED: 2,
  INTEGRITY_FAILED: 3,
  FAILED: 4,
});
export const InputKind = Object.freeze({ POINTER_MOVE: 1, BUTTON: 2, WHEEL: 3, KEY: 4, TEXT: 5 });
export const Modifier = Object.freeze({ SHIFT: 1, CONTROL: 2, ALT: 4, META: 8 });
/** How a stroke is drawn (§4.4). */
export const AnnotationKind = Object.freeze({ PEN: 1, ARROW: 2, HIGHLIGHT: 3 });

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

  /**
   * One field that is itself an array of fields, read by `parse` (WAITING's entry).
   * @template T
   * @param {(fields: Fields) => T} parse
   * @returns {T}
   */
  nested(parse) {
    const value = this.take();
    if (!Array.isArray(value)) throw this.fail("an array of fields");
    const fields = new Fields(value, this.what);
    const parsed = parse(fields);
    fields.done();
    return parsed;
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

// Schemas: each record declared once -------------------------------------------------------
//
// A record's schema lists its fields in wire order: [name, kind] or [name, kind, default].
// The kind says how the field is checked (`read`, with the Fields reader above) and, for
// nested records and arrays, how it is written; both directions derive from the one list.
// A default only fills a field the caller left out when encoding: on the wire every
// field must be there.

/**
 * How one field is checked when read, and written (as it is, unless `write` says how).
 * @typedef {{read: (f: Fields) => any, write?: (value: any) => unknown}} FieldKind
 */
/** @typedef {[string | null, FieldKind] | [string | null, FieldKind, unknown]} FieldSpec */
/**
 * @typedef {object} Schema a record: its fields out of a reader and into an array
 * @property {(f: Fields) => any} read
 * @property {(value: any) => unknown[]} write
 */

/** The field kinds (the checks of §3.0); `null` names a field not kept (a constant). */
export const Field = Object.freeze({
  /** @param {number | bigint} low @param {number | bigint} high @returns {FieldKind} */
  integer: (low, high) => ({ read: (f) => f.integer(low, high) }),
  /** @param {number} low @param {number} high @returns {FieldKind} */
  number: (low, high) => ({ read: (f) => f.number(low, high) }),
  /** A member id; 0 ("nobody") too where `allowNone`. @param {boolean} [allowNone] @returns {FieldKind} */
  member: (allowNone = false) => ({ read: (f) => f.member(allowNone) }),
  /** @type {FieldKind} */
  boolean: { read: (f) => f.boolean() },
  /** @param {number} maxChars @param {number} [minChars] @returns {FieldKind} */
  text: (maxChars, minChars = 0) => ({ read: (f) => f.text(maxChars, minChars) }),
  /** @param {number} maxLength @param {number} [exact] @returns {FieldKind} */
  binary: (maxLength, exact) => ({ read: (f) => f.binary(maxLength, exact) }),
  /** @param {Readonly<Record<string, number>>} values @param {string} name @returns {FieldKind} */
  enumeration: (values, name) => ({ read: (f) => f.enumeration(values, name) }),
  /** A flat array of member ids. @param {number} maxItems @returns {FieldKind} */
  members: (maxItems) => ({ read: (f) => f.memberArray(maxItems), write: (v) => [...v] }),
  /** One nested record. @param {Schema} schema @returns {FieldKind} */
  nested: (schema) => ({ read: (f) => f.nested(schema.read), write: schema.write }),
  /** An array of at most maxItems records. @param {number} maxItems @param {Schema} schema @returns {FieldKind} */
  arrayOf: (maxItems, schema) => ({
    read: (f) => f.array(maxItems, schema.read),
    write: (v) => v.map(schema.write),
  }),
  /** A relay's name (§11): 1 to MAX_RELAY_NAME_CHARS of a-z, 0-9 and "-". @type {FieldKind} */
  relayName: {
    read: (f) => {
      const name = f.text(limits.MAX_RELAY_NAME_CHARS, 1);
      if (!/^[a-z0-9-]+$/.test(name)) throw f.fail("a relay name of a-z, 0-9 and -");
      return name;
    },
  },
  /** A constant (a version): checked, written, not kept. @param {number} value @returns {FieldKind} */
  constant: (value) => ({ read: (f) => f.integer(value, value), write: () => value }),
});

/**
 * A record's schema from its fields in wire order.
 * @param {FieldSpec[]} fields
 * @param {{check?: (record: any) => void}} [options] `check` throws MessageError for a
 *   combination of field values the field kinds alone cannot refuse
 * @returns {Schema}
 */
export function recordSchema(fields, { check } = {}) {
  return {
    read(f) {
      /** @type {Record<string, unknown>} */
      const record = {};
      for (const [name, kind] of fields) {
        const value = kind.read(f);
        if (name !== null) record[name] = value;
      }
      check?.(record);
      return record;
    },
    write(value) {
      return fields.map(([name, kind, ...fallback]) => {
        const given = name === null ? undefined : value[name];
        const item = given === undefined && fallback.length > 0 ? fallback[0] : given;
        return kind.write === undefined ? item : kind.write(item);
      });
    },
  };
}

/**
 * A message whose wire fields are those of one record held in `name` (MEMBER_JOINED: the
 * three fields of its entry, not nested, §3.3).
 * @param {string} name @param {Schema} schema @returns {Schema}
 */
function flattened(name, schema) {
  return {
    read: (f) => ({ [name]: schema.read(f) }),
    write: (value) => schema.write(value[name]),
  };
}

const SIDE = limits.MAX_SCREEN_SIDE;
const MEMBER = Field.member();
const NOBODY_OR_MEMBER = Field.member(true);

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

// prettier-ignore
const ENTRY = recordSchema([
  ["memberId", MEMBER],
  ["role", Field.enumeration(Role, "Role")],
  ["ticket", Field.binary(limits.MAX_TICKET_BYTES)], // broker-signed (§7)
]);
// prettier-ignore
const TILE = recordSchema([
  ["x", Field.number(0, SIDE - 1)],
  ["y", Field.number(0, SIDE - 1)],
  ["width", Field.number(1, SIDE)],
  ["height", Field.number(1, SIDE)],
  ["encoding", Field.enumeration(TileEncoding, "TileEncoding")],
  ["data", Field.binary(limits.MAX_FRAME_BODY)],
]);
const POINT = recordSchema([
  ["x", Field.number(0, SIDE)],
  ["y", Field.number(0, SIDE)],
]);
const SEALED_KEY = recordSchema([
  ["memberId", MEMBER],
  ["enc", Field.binary(1120, 1120)], // ML-KEM-768 ciphertext || X25519 ephemeral (§6.2)
  ["ciphertext", Field.binary(48, 48)],
]);
/** Commit content (§6.2): signed by the leader, carried in KEY_COMMIT.content. */
export const COMMIT_CONTENT = recordSchema([
  ["sessionUid", Field.binary(16, 16)],
  ["epoch", Field.number(1, U32)],
  ["leader", MEMBER],
  ["members", Field.members(limits.MAX_MEMBERS)],
  ["rosterHash", Field.binary(32, 32)],
  ["sealed", Field.arrayOf(limits.MAX_MEMBERS, SEALED_KEY)],
]);

// The message table: one schema per frame type -------------------------------------------

const CONSENT_KIND = Field.enumeration(ConsentKind, "ConsentKind");
const ENTRIES = Field.arrayOf(limits.MAX_MEMBERS, ENTRY);

/** @type {Map<number, Schema>} */
// prettier-ignore
const CODECS = new Map([
  // Control messages (§3) ---------------------------------------------------------------
  [FrameType.CHALLENGE, recordSchema([
    ["nonce", Field.binary(32, 32)], // what HELLO signs (§7.1)
    ["relay", Field.relayName], // the relay's own name
  ])],
  [FrameType.HELLO, recordSchema([
    ["ticket", Field.binary(limits.MAX_TICKET_BYTES)],
    ["proof", Field.binary(64, 64)], // Ed25519 by the ticket's key over helloMessage (§7.1)
  ])],
  [FrameType.ROSTER, recordSchema([
    ["you", MEMBER],
    ["members", ENTRIES],
    ["presenter", NOBODY_OR_MEMBER],
    ["controlHolder", NOBODY_OR_MEMBER],
    ["locked", Field.boolean],
    ["epoch", Field.number(0, U32)],
    ["lobby", ENTRIES, []], // members waiting for admission (§3.21)
    ["recording", NOBODY_OR_MEMBER, 0], // the host recording the session (§3.23)
  ])],
  [FrameType.MEMBER_JOINED, flattened("entry", ENTRY)],
  [FrameType.MEMBER_LEFT, recordSchema([
    ["memberId", MEMBER],
    ["reason", Field.enumeration(LeaveReason, "LeaveReason")],
  ])],
  [FrameType.ROLE_CHANGE, recordSchema([
    ["memberId", MEMBER],
    ["role", Field.enumeration(Role, "Role")],
  ])],
  [FrameType.PRESENTER_REQUEST, recordSchema([["memberId", MEMBER]])],
  [FrameType.CONTROL_REQUEST, recordSchema([])],
  [FrameType.CONSENT_PROMPT, recordSchema([["kind", CONSENT_KIND], ["askedBy", MEMBER]])],
  [FrameType.CONSENT_ANSWER, recordSchema([["kind", CONSENT_KIND], ["granted", Field.boolean]])],
  [FrameType.CONSENT_OUTCOME, recordSchema([
    ["kind", CONSENT_KIND],
    ["askedBy", MEMBER],
    ["subject", MEMBER],
    ["result", Field.enumeration(ConsentResult, "ConsentResult")],
  ])],
  [FrameType.GRANT, recordSchema([["kind", CONSENT_KIND], ["memberId", MEMBER]])],
  [FrameType.REVOKE, recordSchema([
    ["kind", CONSENT_KIND],
    ["memberId", MEMBER],
    ["reason", Field.enumeration(RevokeReason, "RevokeReason")],
  ])],
  [FrameType.LOCK, recordSchema([["locked", Field.boolean]])],
  [FrameType.EXPEL, recordSchema([["memberId", MEMBER]])],
  [FrameType.END, recordSchema([["reason", Field.enumeration(EndReason, "EndReason")]])],
  [FrameType.KEY_COMMIT, recordSchema([
    // the encoded CommitContent exactly as signed (§3.16, §6.2)
    ["content", Field.binary(limits.MAX_CONTROL_BODY)],
    ["signature", Field.binary(64, 64)],
  ])],
  [FrameType.ERROR, recordSchema([
    ["code", Field.number(0, 4999)],
    ["text", Field.text(limits.MAX_ERROR_TEXT_CHARS)],
  ])],
  [FrameType.PING, recordSchema([["nonce", Field.integer(0, U64)]])],
  [FrameType.PONG, recordSchema([["nonce", Field.integer(0, U64)]])],
  // A viewer sends 0 (the relay reads the sender); the relay names the viewer (§3.19).
  [FrameType.REFRESH, recordSchema([["memberId", NOBODY_OR_MEMBER]])],
  // A host lets a lobby member in (true) or refuses it; the relay announces it (§3.20).
  [FrameType.ADMIT, recordSchema([["memberId", MEMBER], ["admitted", Field.boolean]])],
  // [[member_id, role, ticket], reason]: someone waits in the lobby (§3.21).
  [FrameType.WAITING, recordSchema([
    ["entry", Field.nested(ENTRY)],
    ["reason", Field.enumeration(WaitReason, "WaitReason")],
  ])],
  // What attendees may do: chat rule, who annotates, save and record (§3.22).
  [FrameType.PERMISSIONS, recordSchema([
    ["chat", Field.enumeration(ChatRule, "ChatRule")],
    ["annotators", Field.members(limits.MAX_MEMBERS)],
    ["maySave", Field.boolean],
    ["mayRecord", Field.boolean],
  ])],
  // A host starts or stops recording on its own client; announced to all (§3.23).
  [FrameType.RECORDING, recordSchema([["memberId", MEMBER], ["active", Field.boolean]])],
  // A viewer asks the relay for the first `layers` video layers only (§4.1, §5.4).
  [FrameType.VIDEO_LAYERS, recordSchema([
    ["layers", Field.number(1, limits.VIDEO_LAYERS)],
  ])],
  // Content messages (§4), sealed end to end --------------------------------------------
  [FrameType.SCREEN_UPDATE, recordSchema([
    ["width", Field.number(1, SIDE)],
    ["height", Field.number(1, SIDE)],
    ["full", Field.boolean],
    ["tiles", Field.arrayOf(limits.MAX_TILES_PER_UPDATE, TILE)],
  ])],
  // One H.264 access unit of a video-like region; frame n is in layer n % VIDEO_LAYERS (§4.1).
  [FrameType.VIDEO_FRAME, recordSchema([
    ["stream", Field.number(0, U32)],
    ["number", Field.number(0, U32)],
    ["sentAt", Field.number(0, U32)], // the presenter's clock, ms modulo 2^32 (§4.1)
    ["keyframe", Field.boolean],
    ["x", Field.number(0, SIDE - 2)],
    ["y", Field.number(0, SIDE - 2)],
    ["width", Field.number(2, SIDE)],
    ["height", Field.number(2, SIDE)],
    ["data", Field.binary(limits.MAX_FRAME_BODY)],
  ], {
    check: (frame) => {
      if (frame.width % 2 || frame.height % 2) {
        throw new MessageError("VIDEO_FRAME: width and height must be even");
      }
      if (frame.data.length === 0) throw new MessageError("VIDEO_FRAME: data is empty");
    },
  })],
  [FrameType.CURSOR, recordSchema([
    ["x", Field.number(0, SIDE)],
    ["y", Field.number(0, SIDE)],
    ["visible", Field.boolean],
  ])],
  // Live, paused or hidden, and whether parts are masked; never what or where (§4.1).
  [FrameType.SHARE_STATE, recordSchema([
    ["mode", Field.enumeration(ShareMode, "ShareMode")],
    ["onlyWindow", Field.boolean],
    ["masked", Field.boolean],
  ])],
  // Every event has all ten fields; those its kind does not use are zero or empty (§4.2).
  [FrameType.INPUT_EVENT, recordSchema([
    ["kind", Field.enumeration(InputKind, "InputKind")],
    ["x", Field.number(0, SIDE), 0],
    ["y", Field.number(0, SIDE), 0],
    ["button", Field.number(0, 32), 0],
    ["pressed", Field.boolean, false],
    ["dx", Field.number(-limits.MAX_WHEEL_STEPS, limits.MAX_WHEEL_STEPS), 0],
    ["dy", Field.number(-limits.MAX_WHEEL_STEPS, limits.MAX_WHEEL_STEPS), 0],
    ["keysym", Field.number(0, 0x1fffffff), 0],
    ["modifiers", Field.number(0, 15), 0],
    ["text", Field.text(limits.MAX_TYPED_TEXT_CHARS), ""],
  ])],
  // `id`: the sender's line counter (0: none); `toEveryone`: a public line, even when a
  // replay after a reconnect sends it to one member (§4.3, §11).
  [FrameType.CHAT, recordSchema([
    ["text", Field.text(limits.MAX_CHAT_CHARS, 1)],
    ["id", Field.number(0, U32), 0],
    ["toEveryone", Field.boolean, false],
  ])],
  [FrameType.ANNOTATION, recordSchema([
    ["strokeId", Field.number(0, U32)],
    ["color", Field.number(0, 0xffffff)],
    ["width", Field.number(1, 64)],
    ["points", Field.arrayOf(limits.MAX_ANNOTATION_POINTS, POINT)],
    ["clear", Field.boolean, false],
    ["kind", Field.enumeration(AnnotationKind, "AnnotationKind"), AnnotationKind.PEN],
  ])],
  // The host's notes, to everyone just before END (§4.3).
  [FrameType.NOTES, recordSchema([["text", Field.text(limits.MAX_NOTES_CHARS, 1)]])],
  // A file is offered to one member, answered (then acknowledged), sent, ended (§4.5).
  [FrameType.FILE_OFFER, recordSchema([
    ["transferId", Field.number(1, U32)],
    ["name", Field.text(limits.MAX_FILE_NAME_CHARS, 1)], // the receiver sanitises it
    ["size", Field.number(0, limits.MAX_FILE_BYTES)],
    ["sha256", Field.binary(32, 32)], // of the whole file
    ["chunkSize", Field.number(1, limits.MAX_FILE_CHUNK)],
  ])],
  [FrameType.FILE_ANSWER, recordSchema([
    ["transferId", Field.number(1, U32)],
    ["accepted", Field.boolean],
    ["offset", Field.number(0, limits.MAX_FILE_BYTES)], // bytes the receiver holds
  ])],
  [FrameType.FILE_CHUNK, recordSchema([
    ["transferId", Field.number(1, U32)],
    ["offset", Field.number(0, limits.MAX_FILE_BYTES)],
    ["data", Field.binary(limits.MAX_FILE_CHUNK)],
  ], {
    check: (chunk) => {
      if (chunk.data.length === 0) throw new MessageError("FILE_CHUNK: data is empty");
    },
  })],
  [FrameType.FILE_END, recordSchema([
    ["transferId", Field.number(1, U32)],
    ["reason", Field.enumeration(FileEndReason, "FileEndReason")],
  ])],
]);

/** @param {number} type @returns {Schema} */
function codecOf(type) {
  const codec = CODECS.get(type);
  if (codec === undefined) throw new TypeError(`unknown frame type ${type}`);
  return codec;
}

/**
 * Read a field array (as decoded from MessagePack) into a record of `schema`.
 * @param {Schema} schema @param {unknown} fields @param {string} what
 * @returns {any}
 * @throws {MessageError}
 */
export function recordFromFields(schema, fields, what) {
  const reader = new Fields(fields, what);
  const record = schema.read(reader);
  reader.done();
  return record;
}

/**
 * The field array of a record, checked against the same rules as decoding.
 * @param {Schema} schema @param {any} record @param {string} what
 * @returns {unknown[]}
 * @throws {TypeError} if the record is not one this side may send
 */
export function recordToFields(schema, record, what) {
  let fields;
  try {
    fields = schema.write(record);
    recordFromFields(schema, fields, what);
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    throw new TypeError(`invalid ${what}: ${text}`);
  }
  return fields;
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
  return { type: frameType, ...recordFromFields(codec, fields, frameTypeName(frameType) ?? "") };
}

/**
 * The field array of a message, checked against the same rules as decoding.
 * @param {any} message an object with `type` and the message's fields
 * @returns {unknown[]}
 * @throws {TypeError} if the message is not one this side may send
 */
export function messageToFields(message) {
  const codec = codecOf(message?.type);
  return recordToFields(codec, message, `${frameTypeName(message.type)} message`);
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
 * Decode one record of `schema` from its encoding: a bounded unpack, then the checks.
 * @param {Uint8Array} data @param {Schema} schema @param {number} maxLength @param {string} what
 * @returns {any}
 * @throws {MessageError}
 */
export function decodeRecord(data, schema, maxLength, what) {
  const fields = unpackFields(data, maxLength, what);
  const record = schema.read(fields);
  fields.done();
  return record;
}

/**
 * Decode a (plaintext) body of `frameType`. Throws only MessageError for bad bodies.
 * @param {number} frameType a FrameType code (TypeError if unknown)
 * @param {Uint8Array} body
 * @returns {any} the message, with `type` set
 * @throws {MessageError}
 */
export function decodeMessage(frameType, body) {
  const codec = codecOf(frameType);
  const what = frameTypeName(frameType) ?? "message";
  return { type: frameType, ...decodeRecord(body, codec, maxBody(frameType), what) };
}

/**
 * @param {CommitContent} content
 * @returns {Uint8Array}
 * @throws {TypeError} if a field is out of range
 */
export function encodeCommitContent(content) {
  return pack(recordToFields(COMMIT_CONTENT, content, "commit"));
}

/**
 * @param {Uint8Array} data the encoded CommitContent
 * @returns {CommitContent}
 * @throws {MessageError}
 */
export function decodeCommitContent(data) {
  return decodeRecord(data, COMMIT_CONTENT, limits.MAX_CONTROL_BODY, "commit");
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
