/**
 * History retrieval (src/core/data/history-index.ts): `retrieve`'s bounded top-k selection (with
 * its unrounded skip, insertion and full-sort fallback) must return exactly what the plain method
 * returns, every candidate scored and sorted (`retrieveExhaustive`), on random corpora built to
 * tie: a handful of words, many identical texts, a word in most documents (dense postings),
 * exclusions by triple and by prompt that eat the top-k, buckets smaller and larger than the
 * top-k, several history sizes and seeds. The reference scores each candidate from its document,
 * not from the postings.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { HistoryIndex, type RetrievalQuery } from "../../src/core/data/history-index.js";
import { DIMENSIONS, type Dimension, type PreferenceEntry } from "../../src/core/data/schema.js";
import { Rng } from "../../src/core/util/rng.js";

const WORDS = ["brief", "formal", "vivid", "expert", "simple", "safe"];

/** `common`: the share of descriptions that start with three words of their own (dense postings). */
function entry(rng: Rng, d: Dimension, common = 0): PreferenceEntry {
  // Subdimension 0 is common (a large bucket), 2 is rare (a bucket smaller than the top-k).
  const r = rng.next();
  const sub = r < 0.75 ? 0 : r < 0.97 ? 1 : 2;
  const pick = (n: number) => Array.from({ length: n }, () => WORDS[rng.int(WORDS.length)]!).join(" ");
  return { dimension: d, subdimension: `${d} aspect ${sub}`, preference: pick(1), description: `${rng.next() < common ? "user likes when " : ""}${rng.next() < 0.5 ? `prefers ${pick(1)}` : pick(1 + rng.int(3))}` };
}

function corpus(seed: number, historySize: number, triples: number, common = 0): { index: HistoryIndex; rng: Rng; common: number } {
  const rng = new Rng(seed, "corpus");
  const index = new HistoryIndex(seed, historySize);
  for (let t = 0; t < triples; t++) {
    for (let j = 0; j < 3; j++) index.addRow(DIMENSIONS.map((d) => entry(rng, d, common)));
    const tIdx = index.addTriple(rng.next() < 0.8 ? `prompt ${rng.int(20)}` : "");
    // Between one and all six ordered pairs of the triple's members.
    for (let c = 0; c < 3; c++) for (let r = 0; r < 3; r++) if (c !== r && (rng.next() < 0.4 || (c === 0 && r === 1))) index.addPair({ triple: tIdx, chosenRow: 3 * tIdx + c, rejectedRow: 3 * tIdx + r });
  }
  return { index, rng, common };
}

function query(rng: Rng, index: HistoryIndex, k: number, common = 0): RetrievalQuery {
  const d = DIMENSIONS[rng.int(DIMENSIONS.length)]!;
  const excludeTriples = new Set<number>();
  const share = [0, 0.05, 0.5, 0.7, 0.8, 0.9, 0.97][rng.int(7)]!; // up to nearly every triple: the top-k runs dry
  for (let t = 0; t < index.triples; t++) if (rng.next() < share) excludeTriples.add(t);
  const excludePrompts = new Set(Array.from({ length: rng.int(4) }, () => `prompt ${rng.int(20)}`));
  return { key: `q${k}`, dimension: d, entry: entry(rng, d, common), excludePrompts, excludeTriples };
}

test("retrieve returns what scoring and sorting every candidate returns (random corpora with ties and exclusions)", () => {
  let compared = 0;
  let short = 0;
  let full = 0;
  let ties = 0;
  for (const [seed, historySize, triples, common] of [
    [1, 10, 160, 0],
    [2, 3, 120, 0],
    [3, 1, 90, 0],
    [4, 10, 12, 0],
    [5, 10, 160, 0.8],
    [6, 3, 120, 0.9],
  ] as const) {
    const { index, rng } = corpus(seed, historySize, triples, common);
    for (let k = 0; k < 250; k++) {
      const q = query(rng, index, k, common);
      const got = index.retrieve(q);
      assert.deepEqual(got, index.retrieveExhaustive(q), `seed ${seed}, query ${k}`);
      compared++;
      if (got.length < historySize) short++;
      else full++;
      for (let i = 1; i < got.length; i++) if (got[i]!.score === got[i - 1]!.score) ties++;
      // Most similar first, at most one pair per train instruction, none excluded.
      for (let i = 1; i < got.length; i++) assert.ok(got[i - 1]!.score >= got[i]!.score);
      const triplesUsed = got.map((h) => index.pairs[h.pair]!.triple);
      assert.equal(new Set(triplesUsed).size, triplesUsed.length);
      for (const t of triplesUsed) assert.ok(!q.excludeTriples!.has(t));
    }
  }
  // The corpora exercise what they are meant to: full histories, histories the exclusions cut
  // short (the full-sort fallback), and equal scores ranked by the tie hash.
  assert.equal(compared, 1500);
  assert.ok(full > 100 && short > 20 && ties > 100, JSON.stringify({ full, short, ties }));
});

test("a query with a candidate's own text scores it 1 and ranks it first; an unknown subdimension retrieves nothing", () => {
  const idx = new HistoryIndex(0, 3);
  const rows: PreferenceEntry[][] = [
    DIMENSIONS.map((d) => ({ dimension: d, subdimension: "tone", preference: "formal", description: "formal expert wording" })),
    DIMENSIONS.map((d) => ({ dimension: d, subdimension: "tone", preference: "casual", description: "casual simple wording" })),
    DIMENSIONS.map((d) => ({ dimension: d, subdimension: "tone", preference: "vivid", description: "vivid imagery please" })),
  ];
  for (let t = 0; t < 4; t++) {
    for (const r of rows) idx.addRow(r);
    const tIdx = idx.addTriple("");
    idx.addPair({ triple: tIdx, chosenRow: 3 * tIdx + (t % 3), rejectedRow: 3 * tIdx + ((t + 1) % 3) });
  }
  const got = idx.retrieve({ key: "own", dimension: "style", entry: rows[0]![0]!, excludePrompts: new Set() });
  assert.equal(got[0]!.score, 1);
  // Pairs whose chosen side is member 0 (triples 0 and 3) state the query's text: score 1, first.
  assert.deepEqual(got.map((h) => idx.pairs[h.pair]!.chosenRow % 3 === 0), [true, true, false]);
  assert.deepEqual(got.map((h) => h.score === 1), [true, true, false]);
  assert.deepEqual(idx.retrieve({ key: "x", dimension: "style", entry: { dimension: "style", subdimension: "unknown", preference: "formal", description: "" }, excludePrompts: new Set() }), []);
});

test("a sealed index (every bucket built, the per-row documents freed) retrieves the same; nothing can be added after", () => {
  const open = corpus(5, 4, 80, 0.8);
  const sealed = corpus(5, 4, 80, 0.8);
  sealed.index.seal();
  for (let k = 0; k < 200; k++) {
    const q = query(open.rng, open.index, k, 0.8);
    assert.deepEqual(sealed.index.retrieve(q), open.index.retrieve(q), `query ${k}`);
  }
  assert.throws(() => sealed.index.addRow(DIMENSIONS.map((d) => entry(sealed.rng, d))), /after seal/);
  assert.throws(() => sealed.index.retrieveExhaustive(query(open.rng, open.index, 0)), /seal/);
  assert.throws(() => sealed.index.addPair({ triple: 0, chosenRow: 0, rejectedRow: 1 }), /after seal/);
});
