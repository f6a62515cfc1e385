// Chat across reconnects (docs/protocol.md §4.3, §11): no line lost, none shown twice.
// The Python twin is src/relaydesk/client/chatlog.py; the rules are the same.
//
// The sender numbers its lines (CHAT `id`, from 1) and remembers the last
// MAX_CHAT_REPLAY_LINES with the members each reached. After this member reconnects (a
// ROSTER after an earlier one), or when a member it reached comes back (MEMBER_JOINED),
// it sends those of the last CHAT_REPLAY_SECONDS again, same ids, to each such member
// still present, once both hold the keys of an epoch that followed the one they had when
// the link came back. Receivers show each (sender, id) once, forgetting the oldest first.

import * as p from "./protocol/index.js";

const U32 = 0xffffffff;
/** Ids remembered per sender: more than one replay can carry. */
export const SEEN_PER_SENDER = 2 * p.limits.MAX_CHAT_REPLAY_LINES;

export class ChatLog {
  /** @param {number} memberId @param {() => number} clock Unix seconds */
  constructor(memberId, clock) {
    this.memberId = memberId;
    this.clock = clock;
    this.nextId = 1;
    this.sent = []; // {line, at, reached: Set<number>}, oldest first
    this.seen = new Map(); // sender -> {order: number[], ids: Set<number>}, least recent first
    this.pending = new Map(); // member -> the epoch [number, leader] a replay must follow
    this.rostered = false;
    this.replayed = 0; // lines sent again
  }

  /** The line as it goes out (numbered, its audience said), remembered for replay. */
  stamp(line, target, present) {
    if (!line.id) {
      line = { ...line, id: this.nextId, toEveryone: target === p.EVERYONE || Boolean(line.toEveryone) };
      this.nextId = (this.nextId % U32) + 1;
    }
    const reached = target === p.EVERYONE
      ? new Set([...present].filter((id) => id !== this.memberId))
      : new Set([target]);
    this.sent.push({ line, at: this.clock(), reached });
    if (this.sent.length > p.limits.MAX_CHAT_REPLAY_LINES) this.sent.shift();
    return line;
  }

  /** A control message about to be acted on; `epoch`: [number, leader] of the one held. */
  note(message, epoch) {
    if (message.type === p.FrameType.ROSTER) {
      if (this.rostered) {
        for (const sent of this.sent) for (const member of sent.reached) this.pending.set(member, epoch);
      }
      this.rostered = true;
    } else if (message.type === p.FrameType.MEMBER_JOINED) {
      const member = message.entry.memberId;
      if (this.sent.some((sent) => sent.reached.has(member))) this.pending.set(member, epoch);
    }
  }

  /**
   * A stand-in's epoch this member sent in was replaced by the leader's of the same
   * number: what was sealed in it opens for no one now, so every recent line goes again.
   */
  again(replaced) {
    for (const sent of this.sent) for (const member of sent.reached) this.pending.set(member, replaced);
  }

  /** [line, member] pairs to send again now, in the order first sent. */
  due(epoch, holders) {
    if (this.pending.size === 0 || !holders.has(this.memberId)) return [];
    const ready = new Set();
    // A later epoch: a higher number, or the same number from another leader (a
    // returning leader's epoch replaces a stand-in's, protocol §6.2).
    const follows = (since) =>
      epoch[0] >= since[0] && (epoch[0] !== since[0] || epoch[1] !== since[1]);
    for (const [member, since] of this.pending) if (follows(since) && holders.has(member)) ready.add(member);
    if (ready.size === 0) return [];
    for (const member of ready) this.pending.delete(member);
    const oldest = this.clock() - p.limits.CHAT_REPLAY_SECONDS;
    const lines = [];
    for (const sent of this.sent) {
      if (sent.at < oldest) continue;
      for (const member of [...sent.reached].sort((a, b) => a - b)) {
        if (ready.has(member)) lines.push([sent.line, member]);
      }
    }
    this.replayed += lines.length;
    return lines;
  }

  /** False for a (sender, id) already shown: a replay of a line that did arrive. */
  firstShowing(sender, line) {
    if (!line.id) return true;
    let known = this.seen.get(sender);
    if (known) {
      this.seen.delete(sender); // re-inserted below: the most recently heard goes last
    } else {
      known = { order: [], ids: new Set() };
      if (this.seen.size >= p.limits.MAX_MEMBERS) this.seen.delete(this.seen.keys().next().value);
    }
    this.seen.set(sender, known);
    if (known.ids.has(line.id)) return false;
    known.order.push(line.id);
    known.ids.add(line.id);
    if (known.order.length > SEEN_PER_SENDER) known.ids.delete(known.order.shift());
    return true;
  }
}
