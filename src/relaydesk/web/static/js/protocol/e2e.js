// End-to-end encryption state of one member (docs/protocol.md §6), mirroring
// src/relaydesk/protocol/e2e.py: the verified tickets of the roster, the current epoch
// (and the previous one for a short grace period), per-channel send counters and
// per-sender replay windows. Content frames are sealed with AES-256-GCM under a
// per-sender, per-channel key with the plaintext header as associated data, and signed
// with the sender's Ed25519 key (§6.3).
//
// Pure like the Python core: the caller passes the clock (`now`, Unix seconds) and the
// RNG. WebCrypto is asynchronous, so the operations that use it return promises; they
// run one at a time, in the order they were called (so frames sealed one after the
// other come out in sequence order, and a replayed frame can never slip between a check
// and the record of its sequence number).

import {
  CommitRejected,
  DecryptionFailed,
  NoEpochKey,
  ReplayDetected,
  SignatureInvalid,
} from "./errors.js";
import { concat, equalBytes, u64, utf8 } from "./bytes.js";
import { EVERYONE, FrameType, Flags, channelOf, isContentType, packHeader } from "./frames.js";
import * as ks from "./keys.js";
import {
  EPOCH_GRACE_SECONDS,
  EPOCH_MAX_AGE_SECONDS,
  MAX_FRAME_BODY,
  MAX_STRAY_EPOCH_JUMP,
} from "./limits.js";
import { decodeMessage, encodeMessage } from "./messages.js";
import {
  aesGcmDecrypt,
  aesGcmEncrypt,
  ed25519Sign,
  ed25519Verify,
  importAesKey,
} from "./primitives.js";
import { sameTicket, verifyTicket } from "./tickets.js";

export const CONTENT_LABEL = utf8("relaydesk/v1 content");
export const TAG_SIZE = 16;
export const SIGNATURE_SIZE = 64;
const U32_MAX = 0xffffffff;

/** @typedef {import("./tickets.js").Ticket} Ticket */
/** @typedef {import("./frames.js").Frame} Frame */
/** @typedef {import("./frames.js").Header} Header */
/** @typedef {import("./keys.js").KeyCommit} KeyCommit */

/**
 * An epoch this member holds. Treat it as read-only.
 * @typedef {object} Epoch
 * @property {number} number
 * @property {number} leader the key leader who made it
 * @property {ReadonlySet<number>} members the commit's members
 * @property {Uint8Array} rosterHash
 * @property {string} securityCode what people compare out of band (§6.5)
 * @property {Uint8Array} secret the epoch secret
 * @property {number} startedAt when this member applied it
 * @property {number | null} expiresAt set when a newer epoch replaces it (grace, §6.3)
 * @property {Map<string, Promise<CryptoKey>>} keys content keys by "sender:channel"
 */

/** The AES-GCM nonce of a content frame: four zero bytes, then u64(sequence) (§6.3). */
export function nonce(/** @type {number | bigint} */ sequence) {
  return concat(new Uint8Array(4), u64(sequence));
}

/** One member's view of a session's keys. */
export class EndToEnd {
  /** @type {Map<number, Ticket>} every verified ticket still of use */
  #tickets = new Map();
  /** @type {Set<number>} */
  #present = new Set();
  /** @type {Map<number, number>} member id -> current role, as the relay last announced it */
  #roles = new Map();
  /** @type {Map<number, Epoch>} the current epoch and at most one before it */
  #epochs = new Map();
  /** @type {Epoch | null} */
  #current = null;
  /** @type {Map<number, bigint>} channel -> last sequence sealed in the current epoch */
  #sendSequence = new Map();
  /** @type {Map<number, Map<string, bigint>>} epoch -> "sender:channel" -> highest seen */
  #highestSeen = new Map();
  #controlSequence = 0;
  #newestEpoch = 0; // the highest epoch number seen anywhere, even unopened
  #strayAnsweredAt = null; // when a stray epoch last counted (strayEpoch)
  /** @type {Promise<unknown>} */
  #queue = Promise.resolve();

  /**
   * @param {Uint8Array} sessionUid the 16-byte session uid of this member's ticket
   * @param {number} memberId this member's id
   * @param {ks.MemberKeys} memberKeys this member's private keys
   * @param {Uint8Array} brokerPublic the broker's 32-byte Ed25519 public key
   */
  constructor(sessionUid, memberId, memberKeys, brokerPublic) {
    this.sessionUid = sessionUid;
    this.memberId = memberId;
    this.memberKeys = memberKeys;
    this.brokerPublic = brokerPublic;
  }

  /**
   * Run `operation` after every operation called before it has finished.
   * @template T @param {() => Promise<T>} operation @returns {Promise<T>}
   */
  #serial(operation) {
    const result = this.#queue.then(operation);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  // Roster ------------------------------------------------------------------------------

  /**
   * Verify a roster member's ticket (ROSTER entries and MEMBER_JOINED, §7.1) against the
   * broker key and this session, not its expiry, refuse a low-order X25519 key, and
   * remember the member as present with its current role (the roster entry's; the
   * key leader follows current roles, §6.1).
   * @param {Uint8Array} ticketBlob
   * @param {number} now Unix seconds
   * @param {number} [role] the Role the relay announces (undefined/null: the ticket's)
   * @returns {Promise<Ticket>}
   * @throws {import("./errors.js").TicketError} a bad ticket
   * @throws {CommitRejected} the member id was shown before with another ticket
   */
  addMember(ticketBlob, now, role) {
    return this.#serial(async () => {
      const ticket = await verifyTicket(ticketBlob, this.brokerPublic, {
        now,
        sessionUid: this.sessionUid,
        checkExpiry: false,
      });
      await ks.checkAgreementKey(ticket.agreement);
      const known = this.#tickets.get(ticket.memberId);
      // A refreshed ticket (§7.3) changes only its expiry, home relay and placement.
      const moved = { expiresAt: known?.expiresAt, relay: known?.relay, placement: known?.placement };
      if (known !== undefined && !sameTicket(known, { ...ticket, ...moved })) {
        throw new CommitRejected(`member ${ticket.memberId} was shown with two different keys`);
      }
      this.#tickets.set(ticket.memberId, ticket);
      this.#present.add(ticket.memberId);
      this.#roles.set(ticket.memberId, role ?? ticket.role);
      return ticket;
    });
  }

  /**
   * A ROLE_CHANGE from the relay: the key leader follows the current hosts (§6.1). A
   * member this side holds no ticket for is ignored.
   * @param {number} memberId @param {number} role
   */
  setRole(memberId, role) {
    if (this.#tickets.has(memberId)) this.#roles.set(memberId, role);
  }

  /** A known member's current role, or undefined. @param {number} memberId */
  role(memberId) {
    return this.#roles.get(memberId);
  }

  /** The key leader of the members present (§6.1), or null when nobody is. */
  get leader() {
    return this.#leaderOf(this.#present);
  }

  /** @param {ReadonlySet<number>} present @returns {number | null} */
  #leaderOf(present) {
    if (present.size === 0) return null;
    /** @type {[number, number][]} */
    const pairs = [...present].map((id) => [id, this.#roles.get(id) ?? 0]);
    return ks.expectedLeader(pairs);
  }

  /** A member left (MEMBER_LEFT): it no longer counts for the leader or the next epoch. */
  removeMember(/** @type {number} */ memberId) {
    this.#present.delete(memberId);
  }

  /** The members present, ascending: member id -> verified ticket. @returns {Map<number, Ticket>} */
  get roster() {
    const ids = [...this.#present].sort((a, b) => a - b);
    return new Map(ids.map((id) => [id, /** @type {Ticket} */ (this.#tickets.get(id))]));
  }

  /** A verified ticket this member still holds, or undefined. @param {number} memberId */
  ticket(memberId) {
    return this.#tickets.get(memberId);
  }

  /** True if this member is the key leader of the members present (§6.1). */
  get isLeader() {
    return this.leader === this.memberId;
  }

  /** The current epoch, or null before the first commit. @returns {Epoch | null} */
  get current() {
    return this.#current;
  }

  /** The security code of the current epoch (§6.5), or null before the first commit. */
  get securityCode() {
    return this.#current === null ? null : this.#current.securityCode;
  }

  /**
   * The leader must start an epoch (§6.3, rekey rule): none yet, the members present
   * differ from the current epoch's, another leader made the current one (the host
   * handed over), or it is EPOCH_MAX_AGE_SECONDS old.
   * @param {number} now
   */
  needsRekey(now) {
    if (!this.isLeader) return false;
    const epoch = this.#current;
    if (epoch === null || epoch.leader !== this.memberId) return true;
    const same =
      epoch.members.size === this.#present.size &&
      [...this.#present].every((id) => epoch.members.has(id));
    // A newer epoch made while this leader's link was down: it holds no key for it.
    if (this.#newestEpoch > epoch.number) return true;
    return !same || now - epoch.startedAt >= EPOCH_MAX_AGE_SECONDS;
  }

  // Epochs ------------------------------------------------------------------------------

  /**
   * An epoch number seen in the ROSTER or a KEY_COMMIT header: a member that becomes
   * leader later must start above it, or the others would refuse its commit (§6.2).
   * @param {number} number
   */
  noteEpoch(number) {
    this.#newestEpoch = Math.max(this.#newestEpoch, number);
  }

  /**
   * As key leader: make, apply and return a KEY_COMMIT frame for the members present
   * (§6.2). Draws the 32-byte epoch secret; the KEM draws its own randomness.
   * @param {ks.Rng} rng (n) => n random bytes, e.g. `randomBytes` of primitives.js
   * @param {number} now
   * @returns {Promise<Frame>} send it with serializeFrame
   * @throws {CommitRejected} if this member is not the key leader
   */
  startEpoch(rng, now) {
    return this.#serial(async () => {
      if (!this.isLeader) throw new CommitRejected("only the key leader starts an epoch");
      const number = Math.max(this.#newestEpoch, this.#current?.number ?? 0) + 1;
      if (number > U32_MAX) {
        // noted from an unauthenticated header: there is no u32 above it
        throw new CommitRejected("no epoch number is left above the newest one seen");
      }
      const roster = this.roster;
      const secret = rng(ks.EPOCH_SECRET_SIZE);
      const commit = await ks.makeCommit(
        this.sessionUid,
        number,
        this.memberId,
        this.memberKeys,
        roster,
        secret,
      );
      this.#controlSequence += 1;
      /** @type {Header} */
      const header = {
        type: FrameType.KEY_COMMIT,
        sessionUid: this.sessionUid,
        epoch: number,
        sender: this.memberId,
        target: EVERYONE,
        sequence: BigInt(this.#controlSequence),
        flags: Flags.NONE,
      };
      const body = encodeMessage({ type: FrameType.KEY_COMMIT, ...commit });
      await this.#applyCommit(header, commit, now);
      return { header, body };
    });
  }

  /**
   * Check a KEY_COMMIT from the relay and move to its epoch (§6.2, "Applying a commit").
   * Decode the frame's body first: `decodeMessage(FrameType.KEY_COMMIT, frame.body)`.
   * @param {Header} header the KEY_COMMIT frame's header
   * @param {KeyCommit} commit the decoded KEY_COMMIT message ({content, signature})
   * @param {number} now
   * @returns {Promise<Epoch>}
   * @throws {CommitRejected}
   */
  applyCommit(header, commit, now) {
    return this.#serial(() => this.#applyCommit(header, commit, now));
  }

  /** @param {Header} header @param {KeyCommit} commit @param {number} now */
  async #applyCommit(header, commit, now) {
    // The members present when the commit arrived (a removeMember made while this runs
    // counts as made after it).
    const present = new Set(this.#present);
    if (!equalBytes(header.sessionUid, this.sessionUid)) {
      throw new CommitRejected("the key commit belongs to another session");
    }
    const leader = this.#leaderOf(present);
    if (leader === null || header.sender !== leader) {
      throw new CommitRejected(`the key commit is not from the key leader (member ${leader})`);
    }
    const leaderTicket = /** @type {Ticket} */ (this.#tickets.get(leader));
    const content = await ks.verifyCommit(commit, leaderTicket);
    if (!equalBytes(content.sessionUid, this.sessionUid) || content.epoch !== header.epoch) {
      throw new CommitRejected("the key commit's session or epoch does not match its header");
    }
    const current = this.#current;
    // A stand-in's epoch (led while the leader was away) may carry the number the
    // returning leader picks for its own: the leader's commit replaces it (§6.2).
    const replaces =
      current !== null && current.number === content.epoch && current.leader !== leader;
    if (current !== null && content.epoch <= current.number && !replaces) {
      throw new CommitRejected(`epoch ${content.epoch} is not newer than ${current.number}`);
    }
    const members = content.members;
    if (members.some((id, i) => i > 0 && id <= members[i - 1])) {
      throw new CommitRejected("the key commit's members are not sorted and distinct");
    }
    const sealedIds = content.sealed.map((s) => s.memberId);
    if (sealedIds.length !== members.length || sealedIds.some((id, i) => id !== members[i])) {
      throw new CommitRejected("the key commit does not seal one key to each member");
    }
    const unknown = members.filter((id) => !this.#tickets.has(id));
    if (unknown.length > 0) {
      throw new CommitRejected(`the key commit names members this client never saw: ${unknown}`);
    }
    const tickets = members.map((id) => /** @type {Ticket} */ (this.#tickets.get(id)));
    const roster = await ks.rosterHash(tickets);
    if (!equalBytes(roster, content.rosterHash)) {
      throw new CommitRejected("the key leader sees other members' keys than this client");
    }
    const secret = await ks.openEpochSecret(content, this.memberId, this.memberKeys);
    /** @type {Epoch} */
    const epoch = {
      number: content.epoch,
      leader,
      members: new Set(members),
      rosterHash: roster,
      securityCode: await ks.securityCode(this.sessionUid, leaderTicket.ed25519, roster),
      secret,
      startedAt: now,
      expiresAt: null,
      keys: new Map(),
    };
    this.#retireEpochs(now, epoch.members, present);
    if (replaces) {
      // The stand-in's epoch of that number is gone, its replay windows too.
      this.#epochs.delete(epoch.number);
      this.#highestSeen.delete(epoch.number);
    }
    this.#epochs.set(epoch.number, epoch);
    this.#current = epoch;
    this.#sendSequence.clear();
    return epoch;
  }

  /**
   * Keep only the epoch being replaced, for the grace period; forget the rest.
   * @param {number} now @param {ReadonlySet<number>} incoming @param {ReadonlySet<number>} present
   */
  #retireEpochs(now, incoming, present) {
    const current = this.#current;
    for (const number of [...this.#epochs.keys()]) {
      if (current === null || number !== current.number) this.#epochs.delete(number);
    }
    if (current !== null) current.expiresAt = now + EPOCH_GRACE_SECONDS;
    for (const number of [...this.#highestSeen.keys()]) {
      if (!this.#epochs.has(number)) this.#highestSeen.delete(number);
    }
    // The incoming epoch's members too: one may have left since the leader committed.
    const needed = new Set([...present, ...incoming]);
    for (const epoch of this.#epochs.values()) for (const id of epoch.members) needed.add(id);
    for (const id of [...this.#tickets.keys()]) {
      if (!needed.has(id)) {
        this.#tickets.delete(id);
        this.#roles.delete(id);
      }
    }
  }

  /** @param {number} number @param {number} now @returns {Epoch} */
  #epoch(number, now) {
    const epoch = this.#epochs.get(number);
    if (epoch === undefined || (epoch.expiresAt !== null && now >= epoch.expiresAt)) {
      throw new NoEpochKey(`no key for epoch ${number}`);
    }
    return epoch;
  }

  /** @param {Epoch} epoch @param {number} sender @param {number} channel @returns {Promise<CryptoKey>} */
  #contentKey(epoch, sender, channel) {
    const id = `${sender}:${channel}`;
    let key = epoch.keys.get(id);
    if (key === undefined) {
      key = ks
        .contentKey(this.sessionUid, epoch.secret, epoch.number, sender, channel)
        .then(importAesKey);
      epoch.keys.set(id, key);
    }
    return key;
  }

  // Content -----------------------------------------------------------------------------

  /**
   * Encrypt and sign a content message for the current epoch (§6.3).
   * @param {any} message a content message, e.g. {type: FrameType.CHAT, text: "hi"}
   * @param {number} [target] EVERYONE (default) or one member id
   * @param {number} [flags] Flags bits (KEYFRAME, SUPERSEDABLE)
   * @returns {Promise<Frame>} send it with serializeFrame
   * @throws {NoEpochKey} before the first commit
   * @throws {TypeError} for a control message, an invalid message or target
   */
  seal(message, target = EVERYONE, flags = Flags.NONE) {
    return this.#serial(async () => {
      const epoch = this.#current;
      if (epoch === null) throw new NoEpochKey("no epoch yet: wait for the key leader's commit");
      const type = message?.type;
      if (!isContentType(type)) throw new TypeError(`frame type ${type} is not a content type`);
      const channel = channelOf(type);
      const plaintext = encodeMessage(message);
      const length = plaintext.length + TAG_SIZE + SIGNATURE_SIZE;
      if (length > MAX_FRAME_BODY) throw new TypeError("the message is too large for one frame");
      const sequence = (this.#sendSequence.get(channel) ?? 0n) + 1n;
      /** @type {Header} */
      const header = {
        type,
        sessionUid: this.sessionUid,
        epoch: epoch.number,
        sender: this.memberId,
        target,
        sequence,
        flags,
      };
      const headerBytes = packHeader(header, length);
      this.#sendSequence.set(channel, sequence);
      const key = await this.#contentKey(epoch, this.memberId, channel);
      const ciphertext = await aesGcmEncrypt(key, nonce(sequence), headerBytes, plaintext);
      const signed = concat(CONTENT_LABEL, headerBytes, ciphertext);
      const signature = await ed25519Sign(this.memberKeys.signing.privateKey, signed);
      return { header, body: concat(ciphertext, signature) };
    });
  }

  /**
   * Verify, decrypt and decode a content frame (from parseFrame), with the checks of
   * §6.3 in their order: content type, session (DecryptionFailed), epoch held and not
   * expired (NoEpochKey), sender a member of the epoch (SignatureInvalid), body length
   * (DecryptionFailed), signature (SignatureInvalid), sequence above the highest seen
   * (ReplayDetected), decryption (DecryptionFailed), then decoding (MessageError).
   * @param {Frame} frame
   * @param {number} now
   * @returns {Promise<any>} the message; frame.header.sender says who sent it
   */
  /**
   * Does this content frame, sealed in an epoch this member lacks, show that a newer
   * epoch was made while it was away (§6.3)? Then it is noted, and a leader starts one
   * above it. Only a frame a present member really signed counts, only a bounded jump
   * above the newest epoch known, and at most once per EPOCH_GRACE_SECONDS — as in
   * src/relaydesk/protocol/e2e.py stray_epoch.
   * @param {Frame} frame
   * @param {number} now
   * @returns {Promise<boolean>}
   */
  strayEpoch(frame, now) {
    return this.#serial(async () => {
      const { header, body } = frame;
      const held = this.#current?.number ?? 0;
      const highest = Math.max(held, this.#newestEpoch);
      if (
        !isContentType(header.type) ||
        !equalBytes(header.sessionUid, this.sessionUid) ||
        !this.#present.has(header.sender) ||
        !(held < header.epoch && header.epoch <= highest + MAX_STRAY_EPOCH_JUMP) ||
        body.length < TAG_SIZE + SIGNATURE_SIZE
      ) {
        return false;
      }
      if (this.#strayAnsweredAt !== null && now - this.#strayAnsweredAt < EPOCH_GRACE_SECONDS) {
        return false;
      }
      const headerBytes = packHeader(header, body.length);
      const ciphertext = body.subarray(0, body.length - SIGNATURE_SIZE);
      const signature = body.subarray(body.length - SIGNATURE_SIZE);
      const sender = /** @type {Ticket} */ (this.#tickets.get(header.sender));
      if (!(await ed25519Verify(sender.ed25519, signature, concat(CONTENT_LABEL, headerBytes, ciphertext)))) {
        return false;
      }
      this.#strayAnsweredAt = now;
      this.noteEpoch(header.epoch);
      return true;
    });
  }

  open(frame, now) {
    return this.#serial(async () => {
      const { header, body } = frame;
      if (!isContentType(header.type)) {
        throw new DecryptionFailed(`frame type ${header.type} is not a content frame`);
      }
      if (!equalBytes(header.sessionUid, this.sessionUid)) {
        throw new DecryptionFailed("the message belongs to another session");
      }
      const epoch = this.#epoch(header.epoch, now);
      if (!epoch.members.has(header.sender)) {
        throw new SignatureInvalid(`member ${header.sender} holds no key in epoch ${epoch.number}`);
      }
      if (body.length < TAG_SIZE + SIGNATURE_SIZE) {
        throw new DecryptionFailed("the sealed body is too short");
      }
      const headerBytes = packHeader(header, body.length);
      const ciphertext = body.subarray(0, body.length - SIGNATURE_SIZE);
      const signature = body.subarray(body.length - SIGNATURE_SIZE);
      const sender = /** @type {Ticket} */ (this.#tickets.get(header.sender));
      const signed = concat(CONTENT_LABEL, headerBytes, ciphertext);
      if (!(await ed25519Verify(sender.ed25519, signature, signed))) {
        throw new SignatureInvalid(`not signed by member ${header.sender}`);
      }
      const channel = channelOf(header.type);
      const sequence = BigInt(header.sequence);
      let window = this.#highestSeen.get(epoch.number);
      if (window === undefined) this.#highestSeen.set(epoch.number, (window = new Map()));
      const slot = `${header.sender}:${channel}`;
      if (sequence <= (window.get(slot) ?? 0n)) {
        throw new ReplayDetected(`sequence ${sequence} from member ${header.sender} again`);
      }
      const key = await this.#contentKey(epoch, header.sender, channel);
      const plaintext = await aesGcmDecrypt(key, nonce(sequence), headerBytes, ciphertext);
      if (plaintext === null) {
        throw new DecryptionFailed("the message was altered or sealed with another key");
      }
      window.set(slot, sequence);
      return decodeMessage(header.type, plaintext);
    });
  }
}
