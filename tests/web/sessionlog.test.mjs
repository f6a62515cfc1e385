// The browser's session log (js/sessionlog.js): the same columns as the Python client's
// (client/session_log.py), CSV cells a spreadsheet takes as text.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  CSV_COLUMNS,
  csvCell,
  sessionLogCsv,
  sessionLogText,
} from "../../src/relaydesk/web/static/js/sessionlog.js";

const LOG = {
  server: "https://desk.example.org:8443",
  sessionId: "123456789",
  title: "Weekly, \"sync\"",
  name: "=Bob",
  role: "participant",
  memberId: 3,
  people: ["=Bob", "Hannah Host"],
  startedAt: Date.UTC(2026, 11, 7, 9, 0, 0),
  endedAt: Date.UTC(2026, 11, 7, 10, 2, 3, 500),
  bytesSent: 12345,
  bytesReceived: 1234567,
};

test("the text says who, when, how long and how many bytes", () => {
  const text = sessionLogText(LOG);
  assert.match(text, /^Session ID: {6}123 456 789$/m);
  assert.match(text, /^Started \(UTC\): {3}2026-12-07 09:00:00$/m);
  assert.match(text, /^Duration: {8}1:02:03 \(3723\.5 s\)$/m);
  assert.match(text, /^Bytes received: {2}1,234,567$/m);
  assert.match(text, /^People: {10}=Bob, Hannah Host$/m);
});

test("the CSV has the Python client's columns, one row, no formulas", () => {
  const [header, row, end] = sessionLogCsv(LOG).split("\n");
  assert.equal(header, CSV_COLUMNS.join(","));
  assert.equal(end, "");
  assert.equal(
    row,
    "2026-12-07T09:00:00+00:00,2026-12-07T10:02:03+00:00,3723.5,https://desk.example.org:8443," +
      "123456789,\"Weekly, \"\"sync\"\"\",'=Bob,participant,3,12345,1234567,'=Bob; Hannah Host",
  );
  assert.equal(csvCell("+1"), "'+1");
  assert.equal(csvCell(7), "7");
  assert.equal(csvCell("a\nb"), "\"a\nb\"");
});
