// The session rules a client checks again after the relay (docs/protocol.md §5.5),
// mirroring src/relaydesk/protocol/session.py; tests/vectors/chat_rules.json checks both.

import { EVERYONE } from "./frames.js";
import { ChatRule } from "./messages.js";

/**
 * May a member send a chat line to `target` (EVERYONE or one member)? Presenters and
 * hosts ("leads") always may; under EVERYONE anyone may; under PRESENTER attendees only
 * privately, to a presenter or host; under NOBODY attendees not at all.
 * @param {number} rule a ChatRule
 * @param {boolean} senderLeads the sender presents or is a host
 * @param {number} target
 * @param {boolean} targetLeads the target presents or is a host
 */
export function chatAllowed(rule, senderLeads, target, targetLeads) {
  if (senderLeads || rule === ChatRule.EVERYONE) return true;
  return rule === ChatRule.PRESENTER && target !== EVERYONE && targetLeads;
}
