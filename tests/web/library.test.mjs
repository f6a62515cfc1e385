// The library as the browser loads it: plain ES modules with relative imports, on
// standard web APIs only (no Node built-ins), all reachable from index.js.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";

import * as protocol from "../../src/relaydesk/web/static/js/protocol/index.js";
import { PROTOCOL } from "./helpers.mjs";

const FILES = readdirSync(PROTOCOL).filter((name) => name.endsWith(".js"));

test("no Node-only API, and only relative imports a browser resolves", () => {
  for (const name of FILES) {
    const source = readFileSync(path.join(PROTOCOL, name), "utf8");
    for (const forbidden of [
      /\bnode:/,
      /\brequire\(/,
      /\bBuffer\b/,
      /\bprocess\./,
      /\b__dirname\b/,
    ]) {
      assert.doesNotMatch(source, forbidden, `${name} uses ${forbidden}`);
    }
    const imports = [...source.matchAll(/^(?:import|export)[^;]*?from "([^"]+)"/gms)];
    const leaf = ["bytes.js", "errors.js", "limits.js", "sha3.js"].includes(name);
    assert.equal(imports.length > 0, !leaf, `${name}: imports not found`);
    for (const [, specifier] of source.matchAll(/^(?:import|export)[^;]*?from "([^"]+)"/gms)) {
      assert.match(specifier, /^\.\/[a-z0-9]+\.js$/, `${name} imports ${specifier}`);
    }
  }
});

test("index.js re-exports every module", () => {
  const index = readFileSync(path.join(PROTOCOL, "index.js"), "utf8");
  for (const name of FILES.filter((n) => n !== "index.js")) {
    assert.ok(index.includes(`"./${name}"`), `${name} is not exported by index.js`);
  }
  for (const name of [
    "parseFrame",
    "serializeFrame",
    "decodeMessage",
    "encodeMessage",
    "controlFrame",
    "verifyTicket",
    "MemberKeys",
    "EndToEnd",
    "securityCode",
    "randomBytes",
    "CloseCode",
    "FrameError",
    "MessageError",
    "CommitRejected",
    "NoEpochKey",
    "DecryptionFailed",
    "SignatureInvalid",
    "ReplayDetected",
    "TicketError",
  ]) {
    assert.ok(name in protocol, `${name} is not exported`);
  }
});

test("error names and close codes mirror relaydesk.errors", () => {
  const expected = {
    FrameError: 4000,
    FrameTooLarge: 4001,
    MessageError: 4002,
    TileError: 4002,
    TicketError: 4003,
    TicketSignatureInvalid: 4003,
    TicketExpired: 4003,
    TicketWrongSession: 4003,
    HelloProofInvalid: 4003,
    CommitRejected: 4007,
    NoEpochKey: 4007,
    DecryptionFailed: 4007,
    SignatureInvalid: 4007,
    ReplayDetected: 4007,
  };
  for (const [name, code] of Object.entries(expected)) {
    const error = new protocol[name]("why");
    assert.equal(error.name, name);
    assert.equal(error.closeCode, code);
    assert.equal(error.message, "why");
    assert.ok(error instanceof protocol.RelaydeskError);
  }
  assert.ok(new protocol.FrameTooLarge() instanceof protocol.FrameError);
  assert.ok(new protocol.TileError() instanceof protocol.MessageError);
  assert.ok(new protocol.ReplayDetected() instanceof protocol.CryptoError);
});
