/**
 * The benchmark corpus generator (scripts/lib/synth-corpus.ts): its English-like text compresses
 * under snappy about as real text does (about 2x), so the full-scale shards are as large as the
 * real ones; the 52-word text the small test corpora use compresses several times better.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { snappyCompress } from "hyparquet-writer/src/snappy.js";
import { REAL_SIZES, synthTrainRows, text } from "../../scripts/lib/synth-corpus.js";
import { Rng } from "../../src/core/util/rng.js";

const snappyRatio = (s: string) => {
  const bytes = new TextEncoder().encode(s);
  let packed = 0;
  for (let i = 0; i < bytes.length; i += 1 << 20) packed += snappyCompress(bytes.subarray(i, i + (1 << 20))).length;
  return bytes.length / packed;
};

test("English-like text compresses about like real text; the small vocabulary much better", () => {
  const sample = (english: boolean) => {
    const rng = new Rng(3, "t");
    let s = "";
    while (s.length < 1_000_000) s += text(rng, 2000, english);
    return s;
  };
  const english = snappyRatio(sample(true));
  const small = snappyRatio(sample(false));
  assert.ok(english > 1.5 && english < 2.2, `English-like text: ${english.toFixed(2)}x`);
  assert.ok(small > 3, `52-word text: ${small.toFixed(2)}x`);
});

test("English-like text: the requested length, capitalised sentences, the same text for the same seed", () => {
  const a = text(new Rng(1, "x"), 1500, true);
  assert.equal(a.length, 1500);
  assert.equal(a, text(new Rng(1, "x"), 1500, true));
  assert.notEqual(a, text(new Rng(2, "x"), 1500, true));
  assert.match(a, /^[A-Z][a-z]+( [a-z]+)+[.?] [A-Z]/);
  assert.ok(new Set(a.split(/[ .?]+/)).size > 60, "a large vocabulary");
  const [row] = synthTrainRows(1, REAL_SIZES);
  assert.ok(String(row!.output).length >= 1200 && String(row!.output).length <= 3200);
});
