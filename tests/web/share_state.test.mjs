// The share-state card (src/relaydesk/web/static/js/share_state.js), on a minimal
// stand-in for the DOM: which sentence, which classes, text as text only.

import { test } from "node:test";
import assert from "node:assert/strict";

import { ShareMode } from "../../src/relaydesk/web/static/js/protocol/index.js";
import { shareStateText, showShareState } from "../../src/relaydesk/web/static/js/share_state.js";

class FakeClassList {
  constructor() {
    this.names = new Set();
  }
  toggle(name, on) {
    if (on) this.names.add(name);
    else this.names.delete(name);
    return on;
  }
  contains(name) {
    return this.names.has(name);
  }
}

class FakeElement {
  constructor(document, tag) {
    this.ownerDocument = document;
    this.tag = tag;
    this.children = [];
    this.attributes = new Map();
    this.classList = new FakeClassList();
    this.textContent = "";
    this.hidden = false;
  }
  set className(value) {
    this.classList = new FakeClassList();
    for (const name of value.split(/\s+/).filter(Boolean)) this.classList.toggle(name, true);
  }
  get className() {
    return [...this.classList.names].join(" ");
  }
  set innerHTML(_) {
    throw new Error("innerHTML must not be used");
  }
  setAttribute(name, value) {
    this.attributes.set(name, value);
  }
  append(child) {
    this.children.push(child);
  }
  querySelector(selector) {
    const name = selector.replace(/^\./, "");
    return this.children.find((child) => child.classList.contains(name)) ?? null;
  }
}

function stage() {
  const document = { createElement: (tag) => new FakeElement(document, tag) };
  return new FakeElement(document, "div");
}

const state = (mode, onlyWindow = false, masked = false) => ({ mode, onlyWindow, masked });

test("the sentences", () => {
  assert.equal(shareStateText(null, "Olga"), "");
  assert.equal(shareStateText(state(ShareMode.LIVE), "Olga"), "");
  assert.equal(shareStateText(state(ShareMode.PAUSED, false, true), "Olga"), "Olga paused the share");
  assert.equal(shareStateText(state(ShareMode.HIDDEN), "Olga"), "Olga has hidden the screen");
  assert.equal(shareStateText(state(ShareMode.LIVE, true, true), "Olga"), "Olga shares one application only");
  assert.equal(shareStateText(state(ShareMode.LIVE, false, true), "Olga"), "Parts of Olga's screen are hidden");
});

test("one card, its classes and the stage's follow the state", () => {
  const box = stage();
  const paused = showShareState(box, state(ShareMode.PAUSED), "<b>Olga</b>");
  assert.equal(paused.textContent, "<b>Olga</b> paused the share"); // text, not markup
  assert.equal(paused.hidden, false);
  assert.equal(paused.attributes.get("role"), "status");
  assert.ok(paused.classList.contains("share-state") && paused.classList.contains("paused"));
  assert.ok(box.classList.contains("share-paused") && !box.classList.contains("share-hidden"));

  const hidden = showShareState(box, state(ShareMode.HIDDEN), "Olga");
  assert.equal(hidden, paused); // the same card
  assert.equal(box.children.length, 1);
  assert.ok(hidden.classList.contains("hidden-screen") && !hidden.classList.contains("paused"));
  assert.ok(box.classList.contains("share-hidden") && !box.classList.contains("share-paused"));

  const note = showShareState(box, state(ShareMode.LIVE, true, true), "Olga");
  assert.ok(note.classList.contains("note") && !note.classList.contains("hidden-screen"));
  assert.ok(!box.classList.contains("share-hidden"));

  const live = showShareState(box, null, "Olga");
  assert.equal(live.hidden, true);
  assert.equal(live.textContent, "");
  assert.deepEqual([...live.classList.names], ["share-state"]);
});
