// The key schedule (docs/protocol.md §6), mirroring src/relaydesk/protocol/keys.py:
// member keys, the key leader, epoch commits, content keys, roster hash, security code.
// Randomness comes in as an `rng`: a function (n) => Uint8Array of n random bytes; the
// hybrid KEM's encapsulation randomness is WebCrypto's own (hpke.js).

import { CommitRejected, DecryptionFailed, MessageError, TicketError } from "./errors.js";
import { concat, u16, u32, u8, utf8 } from "./bytes.js";
import { expand, extract } from "./hkdf.js";
import * as hpke from "./hpke.js";
import { decodeCommitContent, encodeCommitContent, Role } from "./messages.js";
import {
  ed25519Sign,
  ed25519Verify,
  generateEd25519,
  generateMlKem,
  generateX25519,
  importEd25519Private,
  importMlKemSeed,
  importX25519Private,
  isMlKemPublicKey,
  sha256,
  x25519,
} from "./primitives.js";

/** @typedef {(n: number) => Uint8Array} Rng */
/** @typedef {import("./tickets.js").Ticket} Ticket */
/** @typedef {import("./messages.js").CommitContent} CommitContent */
/** @typedef {{content: Uint8Array, signature: Uint8Array}} KeyCommit */

export const EPOCH_SECRET_SIZE = 32;
export const COMMIT_LABEL = utf8("relaydesk/v1 commit");
export const ROSTER_LABEL = utf8("relaydesk/v1 roster");
export const CONTENT_KEY_LABEL = utf8("relaydesk/v1 content key");
export const EPOCH_SECRET_LABEL = utf8("relaydesk/v1 epoch secret");
export const SECURITY_CODE_LABEL = utf8("relaydesk/v1 security code");
export const SECURITY_CODE_DIGITS = 16;

/** A member's private keys for one session, made fresh for every join (§6). */
export class MemberKeys {
  /**
   * @param {hpke.AgreementKey} agreement ML-KEM-768 + X25519, the HPKE recipient key
   * @param {import("./primitives.js").KeyPair} signing Ed25519, for commits and content
   */
  constructor(agreement, signing) {
    this.agreement = agreement;
    this.signing = signing;
  }

  /**
   * New keys. Without `rng`, WebCrypto generates them and the private keys can never be
   * exported (use this in the browser). With `rng`, 64 bytes are drawn for the
   * ML-KEM-768 seed, 32 for the X25519 key, then 32 for the Ed25519 seed, as the Python
   * client does (the vectors' order).
   * @param {Rng} [rng]
   * @returns {Promise<MemberKeys>}
   */
  static async generate(rng) {
    if (rng === undefined) {
      const agreement = { mlkem: await generateMlKem(), x25519: await generateX25519() };
      return new MemberKeys(agreement, await generateEd25519());
    }
    const mlkemSeed = rng(64);
    const x25519Private = rng(32);
    return MemberKeys.fromPrivateBytes(mlkemSeed, x25519Private, rng(32));
  }

  /**
   * Keys from their raw private bytes (the golden vectors give them).
   * @param {Uint8Array} mlkemSeed 64-byte ML-KEM-768 seed d || z
   * @param {Uint8Array} x25519Private 32-byte scalar @param {Uint8Array} ed25519Seed 32-byte seed
   * @returns {Promise<MemberKeys>}
   */
  static async fromPrivateBytes(mlkemSeed, x25519Private, ed25519Seed) {
    const agreement = {
      mlkem: await importMlKemSeed(mlkemSeed),
      x25519: await importX25519Private(x25519Private),
    };
    return new MemberKeys(agreement, await importEd25519Private(ed25519Seed));
  }

  /** The 1216-byte hybrid public key (ML-KEM-768 || X25519) of the join request. */
  get agreementPublic() {
    return hpke.publicBytes(this.agreement);
  }

  /** The 32-byte Ed25519 public key that goes into the join request. */
  get ed25519Public() {
    return this.signing.publicKey;
  }
}

/** @type {Promise<CryptoKey> | null} */
let probe = null;

/**
 * Refuse a hybrid public key that is not one (its ML-KEM-768 part fails FIPS 203's
 * check) or whose X25519 part is of low order: sealing to it would fail, and a leader
 * that cannot seal to one member could start no epoch at all (§6.2).
 * @param {Uint8Array} publicKey 1216 bytes
 * @returns {Promise<void>}
 * @throws {TicketError}
 */
export async function checkAgreementKey(publicKey) {
  probe ??= importX25519Private(Uint8Array.from({ length: 32 }, (_, i) => i + 1)).then(
    (pair) => pair.privateKey,
  );
  const valid =
    publicKey.length === hpke.PUBLIC_KEY_SIZE &&
    (await isMlKemPublicKey(publicKey.subarray(0, hpke.MLKEM_PUBLIC_SIZE))) &&
    (await x25519(await probe, publicKey.subarray(hpke.MLKEM_PUBLIC_SIZE))) !== null;
  if (!valid) throw new TicketError("the member's agreement key is invalid");
}

/**
 * SHA-256 over the roster's identities in ascending member id (§6.4):
 * "relaydesk/v1 roster" || per member u32(id) || agreement || ed25519 || u16(len) || name.
 * @param {Iterable<{memberId: number, displayName: string, agreement: Uint8Array, ed25519: Uint8Array}>} tickets
 * @returns {Promise<Uint8Array>}
 */
export function rosterHash(tickets) {
  const sorted = [...tickets].sort((a, b) => a.memberId - b.memberId);
  const parts = [ROSTER_LABEL];
  for (const ticket of sorted) {
    const name = utf8(ticket.displayName);
    parts.push(u32(ticket.memberId), ticket.agreement, ticket.ed25519, u16(name.length), name);
  }
  return sha256(...parts);
}

/**
 * The security code people compare (§6.5): 16 digits in four groups of four.
 * @param {Uint8Array} sessionUid @param {Uint8Array} leaderEd25519 @param {Uint8Array} roster the roster hash
 * @returns {Promise<string>} e.g. "6436 4142 9191 8068"
 */
export async function securityCode(sessionUid, leaderEd25519, roster) {
  const digest = await sha256(SECURITY_CODE_LABEL, sessionUid, leaderEd25519, roster);
  const n = new DataView(digest.buffer, digest.byteOffset, 8).getBigUint64(0);
  const digits = (n % 10n ** BigInt(SECURITY_CODE_DIGITS)).toString().padStart(16, "0");
  return digits.match(/.{4}/g).join(" ");
}

/**
 * The AES-256-GCM key of one sender's channel in one epoch (§6.3).
 * @param {Uint8Array} sessionUid @param {Uint8Array} epochSecret
 * @param {number} epoch @param {number} sender @param {number} channel
 * @returns {Promise<Uint8Array>} 32 bytes
 */
export async function contentKey(sessionUid, epochSecret, epoch, sender, channel) {
  const prk = await extract(sessionUid, epochSecret);
  return expand(prk, contentKeyInfo(epoch, sender, channel), 32);
}

/** info = "relaydesk/v1 content key" || u32(e) || u32(s) || u8(c) (33 bytes). */
export function contentKeyInfo(
  /** @type {number} */ epoch,
  /** @type {number} */ sender,
  /** @type {number} */ channel,
) {
  return concat(CONTENT_KEY_LABEL, u32(epoch), u32(sender), u8(channel));
}

/**
 * The key leader (§6.1): the member with the lowest id whose CURRENT role is HOST (as
 * the relay announces roles: roster entries and ROLE_CHANGE); with no host present, the
 * lowest member id.
 * @param {Iterable<[number, number]> | ReadonlyMap<number, number>} members the members
 *   present: [memberId, role] pairs, or a Map memberId -> role
 * @returns {number}
 * @throws {CommitRejected} for an empty roster
 */
export function expectedLeader(members) {
  const pairs = [...(members instanceof Map ? members.entries() : members)];
  if (pairs.length === 0) throw new CommitRejected("an empty roster has no key leader");
  const hosts = pairs.filter(([, role]) => role === Role.HOST).map(([id]) => id);
  return Math.min(...(hosts.length > 0 ? hosts : pairs.map(([id]) => id)));
}

/** info = "relaydesk/v1 epoch secret" || session_uid || u32(e) || u32(m) (49 bytes, §6.2). */
export function epochSecretInfo(
  /** @type {Uint8Array} */ sessionUid,
  /** @type {number} */ epoch,
  /** @type {number} */ memberId,
) {
  return concat(EPOCH_SECRET_LABEL, sessionUid, u32(epoch), u32(memberId));
}

/**
 * Seal `epochSecret` to every member of `roster`, in ascending member id, and sign the
 * lot (§6.2). The KEM draws its own randomness for every copy.
 * @param {Uint8Array} sessionUid
 * @param {number} epoch
 * @param {number} leader
 * @param {MemberKeys} leaderKeys
 * @param {Map<number, Ticket>} roster member id -> verified ticket
 * @param {Uint8Array} epochSecret
 * @returns {Promise<KeyCommit>}
 */
export async function makeCommit(sessionUid, epoch, leader, leaderKeys, roster, epochSecret) {
  const members = [...roster.keys()].sort((a, b) => a - b);
  const sealed = [];
  for (const memberId of members) {
    const info = epochSecretInfo(sessionUid, epoch, memberId);
    const ticket = /** @type {Ticket} */ (roster.get(memberId));
    // An invalid key fails here with DecryptionFailed; addMember refuses such tickets.
    const box = await hpke.seal(ticket.agreement, info, epochSecret);
    sealed.push({ memberId, enc: box.enc, ciphertext: box.ciphertext });
  }
  const content = encodeCommitContent({
    sessionUid,
    epoch,
    leader,
    members,
    rosterHash: await rosterHash(roster.values()),
    sealed,
  });
  const signature = await ed25519Sign(leaderKeys.signing.privateKey, concat(COMMIT_LABEL, content));
  return { content, signature };
}

/**
 * @param {KeyCommit} commit @returns {CommitContent}
 * @throws {CommitRejected} if the content does not decode
 */
export function readCommit(commit) {
  try {
    return decodeCommitContent(commit.content);
  } catch (error) {
    if (error instanceof MessageError)
      throw new CommitRejected(`malformed commit: ${error.message}`);
    throw error;
  }
}

/**
 * Check that the leader signed the commit (on the bytes as received, before decoding)
 * and that it names that leader.
 * @param {KeyCommit} commit @param {Ticket} leaderTicket
 * @returns {Promise<CommitContent>}
 * @throws {CommitRejected}
 */
export async function verifyCommit(commit, leaderTicket) {
  const signed = concat(COMMIT_LABEL, commit.content);
  if (!(await ed25519Verify(leaderTicket.ed25519, commit.signature, signed))) {
    throw new CommitRejected("the key commit is not signed by the key leader");
  }
  const content = readCommit(commit);
  if (content.leader !== leaderTicket.memberId) {
    throw new CommitRejected("the key commit names another leader than its signer");
  }
  return content;
}

/**
 * This member's copy of the epoch secret.
 * @param {CommitContent} content @param {number} memberId @param {MemberKeys} keys
 * @returns {Promise<Uint8Array>}
 * @throws {CommitRejected} if there is none for this member or it does not open
 */
export async function openEpochSecret(content, memberId, keys) {
  const sealed = content.sealed.find((s) => s.memberId === memberId);
  if (sealed === undefined) throw new CommitRejected("the key commit has no key for this member");
  const info = epochSecretInfo(content.sessionUid, content.epoch, memberId);
  try {
    return await hpke.open(keys.agreement, sealed.enc, info, sealed.ciphertext);
  } catch (error) {
    if (error instanceof DecryptionFailed) {
      throw new CommitRejected("the epoch secret sealed to this member did not open");
    }
    throw error;
  }
}
