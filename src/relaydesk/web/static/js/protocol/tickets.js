// Join tickets: the broker's signed statement of who a member is (docs/protocol.md §7).
// Every member checks every other member's ticket against the broker's public key, so
// a relay cannot invent members or swap keys.

import {
  MessageError,
  TicketError,
  TicketExpired,
  TicketSignatureInvalid,
  TicketWrongSession,
} from "./errors.js";
import { concat, equalBytes, utf8 } from "./bytes.js";
import * as limits from "./limits.js";
import { Field, Role, U32, U64, decodeRecord, recordSchema } from "./messages.js";
import { pack } from "./msgpack.js";
import { ed25519Sign, ed25519Verify, sha256 } from "./primitives.js";

export const TICKET_LABEL = utf8("relaydesk/v1 ticket");
export const REFRESH_LABEL = utf8("relaydesk/v1 refresh\n"); // a member asking for a fresh ticket (§7.3)
export const HELLO_LABEL = utf8("relaydesk/v1 hello"); // a member proving it holds its ticket's key (§7.1)
export const TICKET_VERSION = 4; // 4: the agreement key is ML-KEM-768 + X25519

/** Rule bits of a ticket (§7.2): what the broker decided about this member's entry. */
export const TicketRule = Object.freeze({
  WAIT_IN_LOBBY: 1, // this member waits for a host's admission
  TWO_PARTY: 2, // the session is a two-party support session
  JOIN_BEFORE_HOST: 4, // members may be in before the host (chat only)
  // The site's policy: the relay refuses this member's presenting, screen frames and its
  // part in remote control (§5.2).
  NO_SHARING: 8, // this member may not present its screen
  NO_CONTROL: 16, // this member may neither take nor give remote control
});
export const KNOWN_RULES =
  TicketRule.WAIT_IN_LOBBY |
  TicketRule.TWO_PARTY |
  TicketRule.JOIN_BEFORE_HOST |
  TicketRule.NO_SHARING |
  TicketRule.NO_CONTROL;

/**
 * @typedef {object} Ticket the fields of a ticket's content (§7.2)
 * @property {Uint8Array} sessionUid 16 bytes
 * @property {number} memberId
 * @property {string} displayName 1..64 characters
 * @property {number} role Role at admission (the relay announces the current role, §6.1)
 * @property {Uint8Array} agreement the member's hybrid agreement public key (HPKE recipient): ML-KEM-768 || X25519, 1216 bytes
 * @property {Uint8Array} ed25519 the member's signing public key
 * @property {string} relay the home relay's name (v3)
 * @property {number | bigint} expiresAt Unix seconds (bigint above 2^53 - 1)
 * @property {string} email the member's e-mail address as given when joining ("" if none)
 * @property {number} rules TicketRule bits
 * @property {number} placement +1 each time the session moved to another home relay
 */

/** A ticket's content (§7.2): [version, fields...]. */
// prettier-ignore
const TICKET = recordSchema([
  [null, Field.constant(TICKET_VERSION)],
  ["sessionUid", Field.binary(16, 16)],
  ["memberId", Field.member()],
  ["displayName", Field.text(limits.MAX_DISPLAY_NAME_CHARS, 1)],
  ["role", Field.enumeration(Role, "Role")],
  ["agreement", Field.binary(1216, 1216)],
  ["ed25519", Field.binary(32, 32)],
  ["relay", Field.text(limits.MAX_RELAY_URL_CHARS)],
  ["expiresAt", Field.integer(0, U64)],
  ["email", Field.text(limits.MAX_EMAIL_CHARS), ""],
  ["rules", Field.number(0, U32), 0],
  ["placement", Field.number(0, U32), 0],
], {
  check: ({ rules }) => {
    const unknown = (rules & ~KNOWN_RULES) >>> 0;
    if (unknown !== 0) throw new MessageError(`ticket: unknown rule bits 0x${unknown.toString(16)}`);
  },
});

/** The ticket as the broker hands it out: the content exactly as signed, and its signature. */
const SIGNED_TICKET = recordSchema([
  ["content", Field.binary(limits.MAX_TICKET_BYTES)],
  ["signature", Field.binary(64, 64)],
]);

/**
 * Split and parse a ticket without checking its signature.
 * @param {Uint8Array} blob the ticket as the broker issued it
 * @returns {{content: Uint8Array, signature: Uint8Array, ticket: Ticket}}
 * @throws {TicketError} "malformed"
 */
export function readTicket(blob) {
  try {
    const { content, signature } = decodeRecord(
      blob,
      SIGNED_TICKET,
      limits.MAX_TICKET_BYTES,
      "ticket",
    );
    const ticket = decodeRecord(content, TICKET, limits.MAX_TICKET_BYTES, "ticket");
    return { content, signature, ticket };
  } catch (error) {
    if (error instanceof MessageError) throw new TicketError(`malformed ticket: ${error.message}`);
    throw error;
  }
}

/**
 * Verify a ticket (§7.2), in this order: format (TicketError), the broker's signature
 * over "relaydesk/v1 ticket" || content as received (TicketSignatureInvalid), the
 * session if given (TicketWrongSession), the expiry if checked (TicketExpired).
 * Roster members' tickets are checked with `checkExpiry: false` (§7.1).
 * @param {Uint8Array} blob
 * @param {Uint8Array} brokerPublic the broker's 32-byte Ed25519 public key
 * @param {{now: number, sessionUid?: Uint8Array | null, checkExpiry?: boolean}} options
 *   `now` in Unix seconds
 * @returns {Promise<Ticket>}
 * @throws {TicketError}
 */
export async function verifyTicket(
  blob,
  brokerPublic,
  { now, sessionUid = null, checkExpiry = true },
) {
  const { content, signature, ticket } = readTicket(blob);
  if (!(await ed25519Verify(brokerPublic, signature, concat(TICKET_LABEL, content)))) {
    throw new TicketSignatureInvalid("the ticket is not signed by this server");
  }
  if (sessionUid !== null && !equalBytes(ticket.sessionUid, sessionUid)) {
    throw new TicketWrongSession("the ticket belongs to another session");
  }
  if (checkExpiry && now >= ticket.expiresAt) {
    throw new TicketExpired("the ticket has expired; join the session again");
  }
  return ticket;
}

/**
 * Two tickets with the same fields (as Python compares Ticket dataclasses).
 * @param {Ticket} a @param {Ticket} b @returns {boolean}
 */
export function sameTicket(a, b) {
  return (
    equalBytes(a.sessionUid, b.sessionUid) &&
    a.memberId === b.memberId &&
    a.displayName === b.displayName &&
    a.role === b.role &&
    equalBytes(a.agreement, b.agreement) &&
    equalBytes(a.ed25519, b.ed25519) &&
    a.relay === b.relay &&
    BigInt(a.expiresAt) === BigInt(b.expiresAt) &&
    a.email === b.email &&
    a.rules === b.rules &&
    a.placement === b.placement
  );
}

/**
 * The ticket as a broker hands it out, [content, signature] (§7.2). The browser never
 * issues tickets; this is for tests and tools.
 * @param {Ticket} ticket
 * @param {CryptoKey} brokerPrivateKey an Ed25519 signing key
 * @returns {Promise<Uint8Array>}
 */
export async function signTicket(ticket, brokerPrivateKey) {
  // Not checked against the schema: tests sign malformed tickets on purpose.
  const content = pack(TICKET.write(ticket));
  const signature = await ed25519Sign(brokerPrivateKey, concat(TICKET_LABEL, content));
  return pack(SIGNED_TICKET.write({ content, signature }));
}

/**
 * What a member signs, with its ticket's Ed25519 key, to refresh that ticket (§7.3):
 * the label, the signed ticket as it holds it, and the Unix seconds as u64 big-endian.
 * @param {Uint8Array} ticketBlob
 * @param {number} timestamp
 * @returns {Uint8Array}
 */
export function refreshMessage(ticketBlob, timestamp) {
  const seconds = new Uint8Array(8);
  new DataView(seconds.buffer).setBigUint64(0, BigInt(timestamp));
  return concat(REFRESH_LABEL, ticketBlob, seconds);
}

/**
 * The signature of a refresh request: Ed25519 by the ticket's own key (§7.3).
 * @param {Uint8Array} ticketBlob @param {number} timestamp @param {CryptoKey} privateKey
 * @returns {Promise<Uint8Array>}
 */
export function signRefresh(ticketBlob, timestamp, privateKey) {
  return ed25519Sign(privateKey, refreshMessage(ticketBlob, timestamp));
}

/**
 * What a member signs in HELLO (§7.1): the label, the relay's challenge, the SHA-256 of
 * the ticket as sent and the name of the relay it meant to reach (the join answer's, not
 * the one the relay claims: a relay could otherwise pass the proof on to another).
 * @param {Uint8Array} challenge 32 bytes @param {Uint8Array} ticketBlob @param {string} relay
 * @returns {Promise<Uint8Array>}
 */
export async function helloMessage(challenge, ticketBlob, relay) {
  return concat(HELLO_LABEL, challenge, await sha256(ticketBlob), utf8(relay));
}

/**
 * The HELLO proof: Ed25519 by the ticket's own key over helloMessage (§7.1).
 * @param {CryptoKey} privateKey @param {Uint8Array} challenge @param {Uint8Array} ticketBlob @param {string} relay
 * @returns {Promise<Uint8Array>}
 */
export async function proveHello(privateKey, challenge, ticketBlob, relay) {
  return ed25519Sign(privateKey, await helloMessage(challenge, ticketBlob, relay));
}
