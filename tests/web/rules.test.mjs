// The chat rule (chat_rules.json): docs/protocol.md §5.5, the same table as the relay's.

import { test } from "node:test";
import assert from "node:assert/strict";

import { ChatRule } from "../../src/relaydesk/web/static/js/protocol/messages.js";
import { chatAllowed } from "../../src/relaydesk/web/static/js/protocol/rules.js";
import { load } from "./helpers.mjs";

const RULES = load("chat_rules.json");

test("every case of the chat rule decides as the relay does", () => {
  assert.ok(RULES.cases.length >= 12);
  for (const c of RULES.cases) {
    const got = chatAllowed(ChatRule[c.rule], c.sender_leads, c.target, c.target_leads);
    assert.equal(got, c.allowed, JSON.stringify(c));
  }
});
