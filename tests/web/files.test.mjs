// The browser's file-name sanitiser gives the names the Python client gives
// (src/relaydesk/client/files.py; tests/integration/test_files.py has the same cases).

import { test } from "node:test";
import assert from "node:assert/strict";

import { formatSize, sanitizeFileName } from "../../src/relaydesk/web/static/js/files.js";
import { MAX_KEPT_NAME_CHARS } from "../../src/relaydesk/web/static/js/protocol/limits.js";

test("names are sanitised as the Python client sanitises them", () => {
  const cases = [
    ["report.pdf", "report.pdf"],
    ["../../etc/passwd", "passwd"],
    ["..\\x", "x"],
    ["/etc/shadow", "shadow"],
    ["C:\\Windows\\system32\\evil.dll", "evil.dll"],
    ["a\u0000b.txt", "ab.txt"],
    ["line\nbreak\r.txt", "linebreak.txt"],
    ["CON", "_CON"],
    ["con.txt", "_con.txt"],
    ["LPT1.log", "_LPT1.log"],
    [".bashrc", "bashrc"],
    ["...hidden", "hidden"],
    ["trailing. . ", "trailing"],
    ["evil\u202egnp.exe", "evilgnp.exe"],
    ["x".repeat(250) + ".pdf", "x".repeat(MAX_KEPT_NAME_CHARS - 4) + ".pdf"],
  ];
  for (const [offered, kept] of cases) assert.equal(sanitizeFileName(offered), kept, offered);
});

test("a name with nothing left is refused", () => {
  for (const offered of ["..", "/", "\\", "a/", "\u0000", " . ", "\u0001\u0002", "..\\..\\"]) {
    assert.equal(sanitizeFileName(offered), null, JSON.stringify(offered));
  }
});

test("sizes read as the terminal client says them", () => {
  assert.equal(formatSize(999), "999 bytes");
  assert.equal(formatSize(1_234_567), "1.2 MB");
  assert.equal(formatSize(14_000), "14.0 kB");
});
