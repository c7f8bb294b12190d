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
import { availableParallelism } from "node:os";
import { buildDataset } from "../../src/core/data/builder.js";
import { startDecodeWorkers, trainWorkerFile } from "../../src/core/data/build.js";
import { HistoryIndex, type IndexSnapshot, type RetrievalQuery } from "../../src/core/data/history-index.js";
import { planShards, retrieveSharded } from "../../src/core/data/retrieval-shards.js";
import { ByteBuffer } from "../../src/core/data/json-bytes.js";
import { leafShape, LocalVocabulary } from "../../src/core/data/train-rows.js";
import { DataError, DIMENSIONS, validateRow, type Dimension, type PreferenceEntry } from "../../src/core/data/schema.js";
import { Rng } from "../../src/core/util/rng.js";
import { Grow } from "../../src/core/util/grow.js";
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
  // Plain runs short and long (copied by a loop up to 512 bytes, through a view beyond).
  const pieces = ["a", "Hello world. ", '"', "\\", "\n", "\u0001", "\u001f", "\u007f", "é", "€", "🎉", "\u2028", "abcdefghijklmnopqrstuvwxyz", "plain text ".repeat(47)];
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
    // Subdimensions (looked up by their bytes) may be any text, also not ASCII, and recur.
    const sub = rng.next() < 0.3 ? ["Tóne ", "tone", "Überblick", "tone "][rng.int(4)]! : text(2);
    const [pref, desc] = [text(1 + rng.int(3)), text(rng.int(25))];
    const viaStrings = new Grow(new Int32Array(4));
    const viaBytes = new Grow(new Int32Array(4));
    a.entry(viaStrings, sub, pref, desc);
    assert.ok(b.entryBytes(viaBytes, Buffer.from(sub), Buffer.from(pref), Buffer.from(desc)));
    assert.deepEqual(viaBytes.data.subarray(0, viaBytes.length), viaStrings.data.subarray(0, viaStrings.length), `${sub} | ${pref} | ${desc}`);
    assert.deepEqual(b.take(), a.take());
  }
  const none = new Grow(new Int32Array(4));
  assert.equal(b.entryBytes(none, Buffer.from("s"), Buffer.from("café"), Buffer.from("x")), false, "not ASCII: the string path");
  assert.equal(b.entryBytes(none, Buffer.from("s"), Buffer.from("x"), Buffer.from("naïve")), false, "not ASCII: the string path");
  assert.equal(none.length, 0, "nothing appended");
});

test("preference_set read from its leaf columns: rows with a null list, entry or field, or not four entries, give validateRow's error for that row; the leaf path is the one the writer's files take", async () => {
  const { parquetSchema } = await import("hyparquet");
  const { openParquetFile } = await import("../../src/core/data/loaders.js");
  const plain = path.join(dir, "leaf-plain.parquet");
  await writeMultifacetParquet(plain, "train", trainRows.slice(0, 30), 7);
  assert.equal(leafShape(parquetSchema((await openParquetFile(plain)).metadata)), true, "the Hugging Face layout is read by its leaves");
  type Entry = Record<string, unknown> | null;
  const variants: [string, (set: Entry[]) => unknown][] = [
    ["null list", () => null],
    ["null entry", (set) => [set[0], null, set[2], set[3]]],
    ["null field", (set) => set.map((e, k) => (k === 2 ? { ...e, description: null } : e))],
    ["three entries", (set) => set.slice(0, 3)],
    ["five entries", (set) => [...set, set[0]]],
    ["a dimension twice", (set) => set.map((e, k) => (k === 3 ? { ...e, dimension: (set[0] as { dimension: string }).dimension } : e))],
  ];
  for (const [label, change] of variants) {
    const rows = trainRows.slice(0, 30).map((r) => ({ ...r }));
    const bad = 16; // row group 2 of 7 rows, after rows the leaf path took
    rows[bad]!.preference_set = change(rows[bad]!.preference_set as Entry[]);
    const file = path.join(dir, `leaf-${label.replace(/ /g, "-")}.parquet`);
    await writeMultifacetParquet(file, "train", rows, 7);
    let expected = "";
    try {
      validateRow("train", rows[bad], { file, row: bad });
    } catch (e) {
      expected = (e as Error).message;
    }
    assert.ok(expected, `${label}: validateRow rejects the row`);
    for (const workers of ["0", "2"]) {
      await assert.rejects(
        withEnv(workers === "0" ? { PREFLAB_BUILD_WORKER: "0" } : { PREFLAB_BUILD_WORKERS: workers }, () => buildDataset({ train: file, test: testFile, out: path.join(dir, `leaf-out-${workers}`) })),
        (e: unknown) => {
          assert.ok(e instanceof DataError, String(e));
          assert.equal(e.message, expected, `${label}, workers ${workers}`);
          return true;
        },
      );
    }
  }
  // Column chunks of many small pages (as real files have: pyarrow writes ~1 MB pages), a row's
  // list split across pages: the leaves' values by row are the rows' own, the same bytes as JSONL.
  const paged = path.join(dir, "leaf-paged.parquet");
  await writeMultifacetParquet(paged, "train", trainRows, 100, false, 256);
  const { metadata } = await openParquetFile(paged);
  const chunks = metadata.row_groups.flatMap((g) => g.columns.map((c) => c.meta_data!));
  assert.ok(chunks.some((c) => c.path_in_schema.join(".") === "preference_set.list.element.description" && Number(c.total_uncompressed_size) > 2048), "nested leaves over several pages");
  await withEnv({ PREFLAB_BUILD_WORKERS: "2" }, () => buildDataset({ train: paged, test: testFile, out: path.join(dir, "leaf-paged-pq") }));
  await withEnv({ PREFLAB_BUILD_WORKER: "0" }, () => buildDataset({ train: writeJsonl(path.join(dir, "leaf-paged.jsonl"), trainRows), test: testFile, out: path.join(dir, "leaf-paged-jsonl") }));
  same(path.join(dir, "leaf-paged-pq"), path.join(dir, "leaf-paged-jsonl"));
  // A valid row whose entries come in another order, and an empty description, take either path to the same bytes.
  const rows = trainRows.slice(0, 30).map((r) => ({ ...r }));
  rows[3]!.preference_set = [...(rows[3]!.preference_set as Entry[])].reverse();
  (rows[4]!.preference_set as { description: string }[])[0]!.description = "";
  const file = path.join(dir, "leaf-valid.parquet");
  await writeMultifacetParquet(file, "train", rows, 7);
  await withEnv({ PREFLAB_BUILD_WORKERS: "2" }, () => buildDataset({ train: file, test: testFile, out: path.join(dir, "leaf-valid-pq") }));
  await withEnv({ PREFLAB_BUILD_WORKER: "0" }, () => buildDataset({ train: writeJsonl(path.join(dir, "leaf-valid.jsonl"), rows), test: testFile, out: path.join(dir, "leaf-valid-jsonl") }));
  same(path.join(dir, "leaf-valid-pq"), path.join(dir, "leaf-valid-jsonl"));
});

test("the histories are retrieved partly by the build's worker threads, from a snapshot of the index: the same as retrieving them all here, also when a worker is gone", async () => {
  const rng = new Rng(5, "shards");
  const index = new HistoryIndex(3, 5);
  const dims = DIMENSIONS;
  const entry = (d: Dimension): PreferenceEntry => ({ dimension: d, subdimension: `${d} sub ${rng.int(6)}`, preference: ["brief", "formal", "vivid"][rng.int(3)]!, description: Array.from({ length: 1 + rng.int(6) }, () => ["clear", "expert", "simple", "safe", "vivid", "short"][rng.int(6)]).join(" ") });
  for (let t = 0; t < 300; t++) {
    for (let j = 0; j < 3; j++) index.addRow(dims.map((d) => entry(d)));
    const tIdx = index.addTriple(rng.next() < 0.5 ? `prompt ${rng.int(30)}` : "");
    index.addPair({ triple: tIdx, chosenRow: 3 * tIdx, rejectedRow: 3 * tIdx + 1 + rng.int(2) });
  }
  const queries = Array.from({ length: 400 }, (_, k) => {
    const d = dims[rng.int(4)]!;
    return { key: `user-${k}`, dimension: d, entry: entry(d), excludePrompts: new Set([`prompt ${rng.int(30)}`]) };
  });
  const expected = queries.map((q) => index.retrieve(q));
  // Every bucket's queries on one thread, every query once.
  const plan = planShards(index, queries, 3);
  assert.deepEqual(plan.flat().sort((a, b) => a - b), queries.map((_, i) => i));
  const threadOf = new Map<string, number>();
  plan.forEach((shard, s) => {
    for (const i of shard) {
      const key = `${queries[i]!.dimension} ${queries[i]!.entry.subdimension}`;
      assert.equal(threadOf.get(key) ?? s, s, key);
      threadOf.set(key, s);
    }
  });
  const pool = startDecodeWorkers(trainWorkerFile()!);
  try {
    // The real workers: a share of the queries crosses to one of them (this machine's cores allowing).
    const asked: number[] = [];
    const counting = { get workers() { return pool.workers; }, retrieve: (w: number, snap: IndexSnapshot, qs: RetrievalQuery[]) => (asked.push(qs.length), pool.retrieve(w, snap, qs)) };
    assert.deepEqual(await retrieveSharded(index, queries, counting), expected);
    if (availableParallelism() > 1) assert.ok(asked.length >= 1 && asked[0]! > 0 && asked[0]! < queries.length, JSON.stringify(asked));
    // The index keeps working on its arrays, now shared (a second snapshot, more retrievals).
    assert.deepEqual(queries.map((q) => HistoryIndex.fromSnapshot(structuredClone(index.snapshot())).retrieve(q)), expected);
  } finally {
    await pool.close();
  }
  // A closed pool (a worker gone): its share is retrieved here, the same histories.
  const gone = { workers: 1, retrieve: () => Promise.reject(new Error("the worker exited")) };
  if (availableParallelism() > 1) assert.deepEqual(await retrieveSharded(index, queries, gone), expected);
  assert.deepEqual(await retrieveSharded(index, queries, undefined), expected);
});
