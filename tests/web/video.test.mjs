// The browser viewer's video helpers (js/video.js): LayerChoice decides the golden cases
// of video_layers.json exactly as screen/video.py's does; nalUnits and checkAccessUnit
// take Annex B apart and refuse what a relaydesk presenter never sends.

import { test } from "node:test";
import assert from "node:assert/strict";

import { LayerChoice, checkAccessUnit, nalUnits } from "../../src/relaydesk/web/static/js/video.js";
import { load } from "./helpers.mjs";

const LAYERS = load("video_layers.json");

test("LayerChoice asks for one layer or both as the Python viewer does", () => {
  assert.ok(LAYERS.cases.length >= 3);
  for (const c of LAYERS.cases) {
    const choice = new LayerChoice();
    const asks = c.frames.map(([sent, now]) => choice.observe(sent, now));
    assert.deepEqual(asks, c.asks, c.name);
  }
});

const fail = (text) => new Error(text);
const sps = [0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01];
const annexB = (...units) => Uint8Array.from(units.flatMap((u) => [0, 0, 0, 1, ...u]));

test("nalUnits splits on start codes and refuses what does not start with one", () => {
  const units = nalUnits(annexB([0x09, 0xf0], [0x41, 1, 2, 0]));
  assert.deepEqual(units.map((u) => [...u]), [[0x09, 0xf0], [0x41, 1, 2]]);
  assert.equal(nalUnits(Uint8Array.from([1, 2, 0, 0, 1, 0x41])), null);
  assert.equal(nalUnits(Uint8Array.from([0, 0, 1])), null);
});

test("checkAccessUnit gives a keyframe's codec and refuses the rest", () => {
  const key = annexB(sps, [0x68, 0xce], [0x65, 0x88]);
  assert.equal(checkAccessUnit(key, true, fail), "avc1.42c01f");
  assert.equal(checkAccessUnit(annexB([0x41, 0x9a]), false, fail), null);
  for (const [data, keyframe] of [
    [key, false], // SPS, PPS and IDR in a frame said not to be a keyframe
    [annexB([0x41, 0x9a]), true], // a keyframe without SPS and IDR
    [annexB([0x0e, 1]), false], // a NAL unit type relaydesk never sends
    [annexB([0xc1, 1]), false], // the forbidden bit
    [annexB([0x67, 0x58, 0, 0x1f, 1], [0x68, 1], [0x65, 1]), true], // profile 88 (Extended)
    [annexB([0x06, 5]), false], // no slice
  ]) {
    assert.throws(() => checkAccessUnit(data, keyframe, fail), Error);
  }
});
