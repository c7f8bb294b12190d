/**
 * The build's train pass decodes its inputs in units (a Parquet row group, a JSON(L) file) on
 * several worker threads and assembles them in input order (train-rows.ts, train-pass.ts,
 * build.ts): the output must not depend on how many threads decode, on which unit finishes
 * first, or on whether the texts took the byte path (Parquet) or the string path (JSON).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { isUtf8 } from "node:buffer";
import { mkdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { buildDataset } from "../../src/core/data/builder.js";
import { ByteBuffer } from "../../src/core/data/json-bytes.js";
import { LocalVocabulary } from "../../src/core/data/train-rows.js";
import { DataError } from "../../src/core/data/schema.js";
import { Rng } from "../../src/core/util/rng.js";
import { writeMultifacetParquet } from "../../scripts/lib/multifacet-parquet.js";
import { synthTestRows, synthTrainRows } from "../../scripts/lib/synth-corpus.js";
import { tempDir, writeJsonl } from "../helpers/tmp.js";

const FILES = ["manifest.json", "train.jsonl", "pairs.jsonl", "users.jsonl", "triples.jsonl", "triples.idx", "train.idx", "users.idx"];
const small = { subdimensions: 3, preferencesPerSub: 3, responseChars: [40, 300] as [number, number], english: true };
const dir = tempDir();
const testRows = [...synthTestRows(4, small)] as Record<string, unknown>[];
const trainRows = [...synthTrainRows(90, small)] as Record<string, unknown>[];
// Texts JSON must escape, and non-ASCII ones: quotes, backslashes, control characters, U+2028,
// accents, an emoji (4 UTF-8 bytes).
const tricky = ['He said "no" \\ then\nleft.\r\n\ttab', "nul\u0000 bell\u0007 esc\u001b del\u007f", "Line\u2028separator, café, naïve, Ünïcödé", "emoji 🎉 and 中文 text", ""];
trainRows.forEach((r, i) => {
  if (i % 7 === 0) r.output = `${tricky[i % tricky.length]}${String(r.output)}`;
  if (i % 11 === 0) (r.preference_set as { description: string }[])[1]!.description += ` ${tricky[(i + 1) % tricky.length]}`;
});
for (let j = 0; j < 3; j++) trainRows[30 + j]!.prompt = `Quoted "prompt" with\nnewline and é`;
const testFile = writeJsonl(path.join(dir, "test.jsonl"), testRows);

const withEnv = async <T>(env: Record<string, string>, f: () => Promise<T>): Promise<T> => {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return await f();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
};

/** The same dataset files; the manifests the same but for their inputs (other files). */
const same = (a: string, b: string) => {
  for (const f of FILES) {
    const read = (d: string) => {
      const text = readFileSync(path.join(d, f), "utf8");
      if (f !== "manifest.json") return text;
      const { inputs: _, ...rest } = JSON.parse(text) as { inputs: unknown };
      return JSON.stringify(rest);
    };
    assert.equal(read(a), read(b), f);
  }
};

test("Parquet shards of many row groups: 1, 2 or 3 decoding threads, or none, write the bytes JSONL input writes", async () => {
  // Shards cut inside an instruction's rows (rows of one group in two row groups and two files),
  // row groups of 7 rows: dozens of units, finishing out of order on several threads.
  const shards = path.join(dir, "shards");
  mkdirSync(shards);
  const cuts = [0, 100, 101, 270];
  for (let s = 0; s + 1 < cuts.length; s++) await writeMultifacetParquet(path.join(shards, `train-${s}.parquet`), "train", trainRows.slice(cuts[s], cuts[s + 1]), 7);
  const jsonl = writeJsonl(path.join(dir, "train.jsonl"), trainRows);
  await withEnv({ PREFLAB_BUILD_WORKER: "0" }, () => buildDataset({ train: jsonl, test: testFile, out: path.join(dir, "from-jsonl") }));
  const train = readFileSync(path.join(dir, "from-jsonl", "train.jsonl"), "utf8").trim().split("\n");
  assert.equal(train.length, 90);
  // Each line is what JSON.stringify writes for the triple, texts as given.
  const first = JSON.parse(train[0]!) as { members: { response: string }[] };
  assert.equal(first.members[0]!.response, trainRows[0]!.output);
  for (const piece of ["\\u0000", "\\u001b", '\\"no\\"', "\\n", "🎉", "中文", "\u2028", "\u007f"]) assert.ok(train.some((l) => l.includes(piece)), piece);
  for (const [label, env] of [
    ["in-process", { PREFLAB_BUILD_WORKER: "0" }],
    ["1 thread", { PREFLAB_BUILD_WORKERS: "1" }],
    ["2 threads", { PREFLAB_BUILD_WORKERS: "2" }],
    ["3 threads", { PREFLAB_BUILD_WORKERS: "3" }],
  ] as const) {
    const out = path.join(dir, `from-parquet-${label}`);
    const { manifest } = await withEnv(env, () => buildDataset({ train: shards, test: testFile, out }));
    assert.deepEqual(manifest.inputs.filter((i) => i.split === "train").map((i) => i.rows), [100, 1, 169], label);
    same(out, path.join(dir, "from-jsonl"));
  }
});

test("Parquet strings that are not valid UTF-8 are decoded as the reader decodes them (U+FFFD), the same line as from text", async () => {
  const rows = trainRows.slice(0, 9).map((r) => ({ ...r }));
  rows[4]!.output = new Uint8Array([0x48, 0x69, 0xff, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0x21]); // "Hi", invalid bytes, "(", a surrogate, "!"
  mkdirSync(path.join(dir, "bad-utf8"));
  const pq = path.join(dir, "bad-utf8", "train.parquet");
  await writeMultifacetParquet(pq, "train", rows, 4);
  await withEnv({ PREFLAB_BUILD_WORKERS: "2" }, () => buildDataset({ train: pq, test: testFile, out: path.join(dir, "bad-utf8-out") }));
  const lines = readFileSync(path.join(dir, "bad-utf8-out", "train.jsonl"), "utf8").trim().split("\n");
  const decoded = new TextDecoder().decode(rows[4]!.output as Uint8Array);
  assert.ok(decoded.includes("\ufffd"));
  const member = (JSON.parse(lines[1]!) as { members: { response: string }[] }).members[1]!;
  assert.equal(member.response, decoded);
});

test("a bad row in a later shard is reported, not one found first by another thread; nothing is written", async () => {
  const shards = path.join(dir, "bad-shards");
  mkdirSync(shards);
  const rows = trainRows.slice(0, 60).map((r) => ({ ...r }));
  rows[41]!.system = null; // shard 1, row 11
  rows[55]!.output = null; // shard 1, row 25: later in input order
  await writeMultifacetParquet(path.join(shards, "train-0.parquet"), "train", rows.slice(0, 30), 5);
  await writeMultifacetParquet(path.join(shards, "train-1.parquet"), "train", rows.slice(30), 5);
  for (const workers of ["1", "3"]) {
    const out = path.join(dir, `bad-out-${workers}`);
    await assert.rejects(
      withEnv({ PREFLAB_BUILD_WORKERS: workers }, () => buildDataset({ train: shards, test: testFile, out })),
      (e: unknown) => {
        assert.ok(e instanceof DataError, String(e));
        assert.match(e.message, /train-1\.parquet row 11: field "system"/);
        return true;
      },
    );
    assert.throws(() => readFileSync(path.join(out, "manifest.json")));
  }
});

test("a Parquet text's JSON from its bytes is JSON.stringify's, and invalid UTF-8 is told apart (isUtf8)", () => {
  const rng = new Rng(9, "json-bytes");
  const out = new ByteBuffer(16);
  const pieces = ["a", "Hello world. ", '"', "\\", "\n", "\u0001", "\u001f", "\u007f", "é", "€", "🎉", "\u2028", "abcdefghijklmnopqrstuvwxyz"];
  for (let t = 0; t < 4000; t++) {
    let bytes: Uint8Array;
    if (t % 3) {
      let s = "";
      for (let k = rng.int(30); k > 0; k--) s += pieces[rng.int(pieces.length)];
      // At every alignment inside a shared buffer (the word-at-a-time scan reads aligned words).
      const shift = rng.int(4);
      const buf = new Uint8Array(Buffer.byteLength(s) + shift + 8);
      buf.set(Buffer.from(s), shift);
      bytes = buf.subarray(shift, shift + Buffer.byteLength(s));
    } else {
      bytes = Uint8Array.from({ length: rng.int(24) }, () => (rng.next() < 0.5 ? 0x41 : rng.int(256)));
    }
    out.clear();
    out.ascii("x");
    const ok = out.jsonString(bytes);
    assert.equal(ok, isUtf8(bytes), Buffer.from(bytes).toString("hex"));
    if (!ok) assert.equal(out.length, 1, "nothing written for invalid UTF-8");
    else assert.equal(Buffer.from(out.bytes.subarray(1, out.length)).toString("utf8"), JSON.stringify(new TextDecoder().decode(bytes)));
  }
});

test("Parquet with column statistics (as pyarrow writes): `system` is left undecoded where no row group holds a null; same bytes, and bad rows still name their field", async () => {
  const stats = path.join(dir, "stats");
  mkdirSync(stats);
  await writeMultifacetParquet(path.join(stats, "train-0.parquet"), "train", trainRows.slice(0, 100), 7, true);
  await writeMultifacetParquet(path.join(stats, "train-1.parquet"), "train", trainRows.slice(100), 7, true);
  await withEnv({ PREFLAB_BUILD_WORKERS: "2" }, () => buildDataset({ train: stats, test: testFile, out: path.join(dir, "from-stats") }));
  same(path.join(dir, "from-stats"), path.join(dir, "from-jsonl"));
  // A bad field in a row group whose `system` was skipped: the row group is read again whole and
  // the error is the one the full row gives; a null `system` (counted in the statistics) is found.
  for (const [field, row] of [
    ["output", 12],
    ["system", 23],
  ] as const) {
    const rows = trainRows.slice(0, 30).map((r) => ({ ...r }));
    rows[row]![field] = null;
    const file = path.join(dir, `stats-bad-${field}.parquet`);
    await writeMultifacetParquet(file, "train", rows, 7, true);
    await assert.rejects(
      withEnv({ PREFLAB_BUILD_WORKERS: "2" }, () => buildDataset({ train: file, test: testFile, out: path.join(dir, `stats-bad-${field}`) })),
      (e: unknown) => {
        assert.ok(e instanceof DataError, String(e));
        assert.match(e.message, new RegExp(`stats-bad-${field}\\.parquet row ${row}: field "${field}"`));
        return true;
      },
    );
  }
});

test("preference texts tokenized from their bytes give the ids and new terms the string tokenizer gives", () => {
  const rng = new Rng(11, "entry-bytes");
  const a = new LocalVocabulary();
  const b = new LocalVocabulary();
  const words = ["The", "user", "PREFERS", "a", "concise", "step-by-step", "x", "of", "it's", "42", "b2b", "Energy", "and", "the", "  ", ",", "longwordlongwordlongwordlongword", "Q&A"];
  const text = (n: number) => Array.from({ length: n }, () => words[rng.int(words.length)]).join(rng.next() < 0.5 ? " " : "");
  for (let t = 0; t < 2000; t++) {
    const [sub, pref, desc] = [text(2), text(1 + rng.int(3)), text(rng.int(25))];
    const viaStrings: number[] = [];
    const viaBytes: number[] = [];
    a.entry(viaStrings, sub, pref, desc);
    assert.ok(b.entryBytes(viaBytes, sub, pref, Buffer.from(pref), Buffer.from(desc)));
    assert.deepEqual(viaBytes, viaStrings, `${pref} | ${desc}`);
    assert.deepEqual(b.take(), a.take());
  }
  assert.equal(b.entryBytes([], "s", "café", Buffer.from("café"), Buffer.from("x")), false, "not ASCII: the string path");
});
