// A session of members built in JavaScript alone (own broker key, WebCrypto-generated
// member keys), and a way to craft content frames by hand for adversarial tests.

import assert from "node:assert/strict";

import {
  EVERYONE,
  FrameType,
  channelOf,
  packHeader,
} from "../../src/relaydesk/web/static/js/protocol/frames.js";
import {
  decodeMessage,
  encodeMessage,
  Role,
} from "../../src/relaydesk/web/static/js/protocol/messages.js";
import { MemberKeys, contentKey } from "../../src/relaydesk/web/static/js/protocol/keys.js";
import { CONTENT_LABEL, EndToEnd, nonce } from "../../src/relaydesk/web/static/js/protocol/e2e.js";
import { signTicket } from "../../src/relaydesk/web/static/js/protocol/tickets.js";
import {
  aesGcmEncrypt,
  ed25519Sign,
  generateEd25519,
  importAesKey,
  randomBytes,
} from "../../src/relaydesk/web/static/js/protocol/primitives.js";
import { concat } from "../../src/relaydesk/web/static/js/protocol/bytes.js";

export const NOW = 1_800_000_000;
export const UID = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);

/**
 * @param {{id: number, name?: string, role?: number}[]} specs
 * @param {{join?: boolean}} [options] join: every member adds every ticket (default)
 */
export async function makeSession(specs, { join = true } = {}) {
  const broker = await generateEd25519();
  const members = {};
  for (const { id, name = `member ${id}`, role = Role.PARTICIPANT } of specs) {
    const keys = await MemberKeys.generate();
    const ticket = {
      sessionUid: UID,
      memberId: id,
      displayName: name,
      role,
      agreement: keys.agreementPublic,
      ed25519: keys.ed25519Public,
      relay: "wss://relay.example.org/relay",
      expiresAt: NOW + 300,
    };
    const blob = await signTicket(ticket, broker.privateKey);
    const e2e = new EndToEnd(UID, id, keys, broker.publicKey);
    members[id] = { id, keys, ticket, blob, e2e };
  }
  if (join) {
    for (const member of Object.values(members)) {
      for (const other of Object.values(members)) await member.e2e.addMember(other.blob, NOW);
    }
  }
  return { broker, members };
}

/** Parse-free commit delivery: decode the KEY_COMMIT body and apply it. */
export function deliverCommit(e2e, frame, now = NOW) {
  return e2e.applyCommit(frame.header, decodeMessage(FrameType.KEY_COMMIT, frame.body), now);
}

/** The leader starts an epoch and every other listed member applies it. */
export async function rekey(leader, others, now = NOW) {
  const frame = await leader.e2e.startEpoch(randomBytes, now);
  for (const member of others) await deliverCommit(member.e2e, frame, now);
  return frame;
}

/**
 * A content frame made by hand: `plaintext` (or `message`) sealed with the content key
 * of (epochSecret, keySender) and signed by `signer`, under the given header.
 */
export async function craft({
  epochSecret,
  signer,
  type = FrameType.CHAT,
  epoch = 1,
  sender,
  keySender = sender,
  target = EVERYONE,
  sequence = 1n,
  flags = 0,
  sessionUid = UID,
  message = { type: FrameType.CHAT, text: "crafted" },
  plaintext = encodeMessage(message),
  tamper = (/** @type {Uint8Array} */ ciphertext) => ciphertext,
}) {
  const header = { type, sessionUid, epoch, sender, target, sequence: BigInt(sequence), flags };
  const headerBytes = packHeader(header, plaintext.length + 80);
  const key = await importAesKey(
    await contentKey(sessionUid, epochSecret, epoch, keySender, channelOf(type)),
  );
  const ciphertext = tamper(await aesGcmEncrypt(key, nonce(sequence), headerBytes, plaintext));
  const signature = await ed25519Sign(
    signer.signing.privateKey,
    concat(CONTENT_LABEL, headerBytes, ciphertext),
  );
  assert.equal(ciphertext.length + signature.length, plaintext.length + 80);
  return { header, body: concat(ciphertext, signature) };
}
