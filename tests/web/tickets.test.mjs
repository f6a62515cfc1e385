// Tickets (docs/protocol.md §7) against tests/vectors/tickets.json.

import { test } from "node:test";
import assert from "node:assert/strict";

import { Role } from "../../src/relaydesk/web/static/js/protocol/messages.js";
import {
  REFRESH_LABEL,
  TICKET_LABEL,
  TICKET_VERSION,
  TicketRule,
  readTicket,
  HELLO_LABEL,
  helloMessage,
  proveHello,
  refreshMessage,
  signRefresh,
  sameTicket,
  signTicket,
  verifyTicket,
} from "../../src/relaydesk/web/static/js/protocol/tickets.js";
import {
  ed25519Sign,
  ed25519Verify,
  importEd25519Private,
} from "../../src/relaydesk/web/static/js/protocol/primitives.js";
import { TicketError, CloseCode } from "../../src/relaydesk/web/static/js/protocol/errors.js";
import { errorClass, exactly, h, load, toHex } from "./helpers.mjs";

const V = load("tickets.json");

function ticketFromJson(fields) {
  return {
    sessionUid: h(fields.session_uid),
    memberId: fields.member_id,
    displayName: fields.display_name,
    role: Role[fields.role],
    agreement: h(fields.agreement),
    ed25519: h(fields.ed25519),
    relay: fields.relay,
    expiresAt:
      typeof fields.expires_at === "string" ? BigInt(fields.expires_at) : fields.expires_at,
    email: fields.email,
    rules: fields.rules,
    placement: fields.placement,
  };
}

test("the broker key and the label", async () => {
  const broker = await importEd25519Private(h(V.broker_private));
  assert.equal(toHex(broker.publicKey), V.broker_public);
  assert.equal(new TextDecoder().decode(TICKET_LABEL), V.label);
});

for (const [i, vector] of V.valid.entries()) {
  test(`valid ticket ${i + 1}: ${vector.fields.display_name.slice(0, 10)}, member ${vector.fields.member_id}`, async () => {
    const expected = ticketFromJson(vector.fields);
    assert.equal(expected.role, vector.fields.role_code);
    const { content, signature, ticket } = readTicket(h(vector.ticket));
    assert.equal(toHex(content), vector.content);
    assert.equal(toHex(signature), vector.signature);
    assert.deepEqual(ticket, expected);
    assert.ok(sameTicket(ticket, expected));
    const verified = await verifyTicket(h(vector.ticket), h(V.broker_public), {
      now: 0,
      sessionUid: expected.sessionUid,
    });
    assert.deepEqual(verified, expected);
    // the broker's encoding and signature, reproduced
    const broker = await importEd25519Private(h(V.broker_private));
    assert.equal(toHex(await signTicket(expected, broker.privateKey)), vector.ticket);
  });
}

for (const vector of V.checks) {
  test(`ticket check: ${vector.name} -> ${vector.error ?? "accepted"}`, async () => {
    const verifying = verifyTicket(h(vector.ticket), h(V.broker_public), {
      now: vector.now,
      sessionUid: vector.session_uid === null ? null : h(vector.session_uid),
      checkExpiry: vector.check_expiry,
    });
    if (vector.error === null) {
      const ticket = await verifying;
      assert.equal(ticket.memberId, V.valid[0].fields.member_id);
    } else {
      await assert.rejects(verifying, exactly(errorClass(vector.error)));
    }
  });
}

test("every ticket error closes with 4003 BAD_TICKET", () => {
  for (const name of [
    "TicketError",
    "TicketSignatureInvalid",
    "TicketExpired",
    "TicketWrongSession",
  ]) {
    const error = new (errorClass(name))("x");
    assert.ok(error instanceof TicketError);
    assert.equal(error.closeCode, CloseCode.BAD_TICKET);
  }
});

test("expiry is compared with a fractional clock and a u64 expiry", async () => {
  const broker = await importEd25519Private(h(V.broker_private));
  const base = ticketFromJson(V.valid[0].fields);
  const blob = await signTicket({ ...base, expiresAt: 100 }, broker.privateKey);
  await verifyTicket(blob, broker.publicKey, { now: 99.999 });
  await assert.rejects(
    verifyTicket(blob, broker.publicKey, { now: 100 }),
    exactly(errorClass("TicketExpired")),
  );
  const forever = await signTicket({ ...base, expiresAt: (1n << 64n) - 1n }, broker.privateKey);
  assert.equal(
    (await verifyTicket(forever, broker.publicKey, { now: 1e12 })).expiresAt,
    (1n << 64n) - 1n,
  );
});

test("ticket version 4: e-mail, rule bits, placement and a hybrid agreement key", async () => {
  assert.equal(TICKET_VERSION, 4);
  assert.deepEqual(TicketRule, {
    WAIT_IN_LOBBY: 1, TWO_PARTY: 2, JOIN_BEFORE_HOST: 4, NO_SHARING: 8, NO_CONTROL: 16,
  });
  const broker = await importEd25519Private(h(V.broker_private));
  const base = ticketFromJson(V.valid[0].fields);
  const { email, rules, placement, ...old } = base; // a caller that knows nothing of them
  assert.deepEqual([email, rules, placement], ["", 0, 0]);
  const plain = readTicket(await signTicket(old, broker.privateKey)).ticket;
  assert.ok(sameTicket(plain, base));
  const lobby = { ...base, email: "a@example.org", rules: TicketRule.WAIT_IN_LOBBY };
  const read = readTicket(await signTicket(lobby, broker.privateKey)).ticket;
  assert.deepEqual(read, lobby);
  assert.ok(!sameTicket(read, base));
  assert.ok(!sameTicket(read, { ...lobby, email: "b@example.org" }));
  const site = { ...base, rules: TicketRule.NO_SHARING | TicketRule.NO_CONTROL };
  assert.deepEqual(readTicket(await signTicket(site, broker.privateKey)).ticket.rules, 24);
  for (const bad of [32, 0x80000000, 2 ** 32]) {
    const blob = await signTicket({ ...base, rules: bad }, broker.privateKey);
    assert.throws(() => readTicket(blob), exactly(TicketError), String(bad));
  }
  const long = await signTicket({ ...base, email: "e".repeat(255) }, broker.privateKey);
  assert.throws(() => readTicket(long), exactly(TicketError));
});

test("a ticket above 4096 bytes is malformed", async () => {
  const broker = await importEd25519Private(h(V.broker_private));
  const base = ticketFromJson(V.valid[0].fields);
  const blob = await signTicket({ ...base, relay: "x".repeat(2048) }, broker.privateKey);
  assert.ok(blob.length < 4096);
  await verifyTicket(blob, broker.publicKey, { now: 0 });
  const huge = new Uint8Array(4200);
  huge.set([0x92, 0xc5, 0x10, 0x00]);
  assert.throws(() => readTicket(huge), exactly(TicketError));
});

test("a refresh request: the signed message and its signature (§7.3)", async () => {
  const r = V.refresh;
  assert.equal(new TextDecoder().decode(REFRESH_LABEL), r.label);
  const message = refreshMessage(h(r.ticket), r.timestamp);
  assert.equal(toHex(message), r.message);
  const member = await importEd25519Private(h(r.member_private));
  assert.equal(toHex(member.publicKey), r.member_public);
  assert.equal(toHex(await ed25519Sign(member.privateKey, message)), r.signature); // deterministic
  assert.equal(toHex(await signRefresh(h(r.ticket), r.timestamp, member.privateKey)), r.signature);
  assert.equal(await ed25519Verify(h(r.member_public), h(r.signature), message), true);
  assert.equal(readTicket(h(r.ticket)).ticket.ed25519.length, 32);
  assert.notEqual(toHex(refreshMessage(h(r.ticket), r.timestamp + 1)), r.message);
});

test("a HELLO proof: the signed message, its signature, the proofs refused (§7.1)", async () => {
  const v = V.hello;
  assert.equal(new TextDecoder().decode(HELLO_LABEL), v.label);
  const message = await helloMessage(h(v.challenge), h(v.ticket), v.relay);
  assert.equal(toHex(message), v.message);
  const member = await importEd25519Private(h(v.member_private));
  assert.equal(toHex(member.publicKey), v.member_public);
  const proof = await proveHello(member.privateKey, h(v.challenge), h(v.ticket), v.relay);
  assert.equal(toHex(proof), v.proof); // Ed25519 is deterministic
  assert.equal(await ed25519Verify(h(v.member_public), proof, message), true);
  assert.ok(v.refused.length >= 3);
  for (const refused of v.refused) {
    assert.equal(await ed25519Verify(h(v.member_public), h(refused.proof), message), false, refused.name);
  }
});
