import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, existsSync, mkdirSync } from "node:fs";
import * as path from "node:path";
import { buildDataset } from "../../src/core/data/builder.js";
import { runTrainWorker, trainWorkerFile } from "../../src/core/data/build.js";
import { DataError } from "../../src/core/data/schema.js";
import { Dataset } from "../../src/core/data/dataset.js";
import { DIMENSIONS } from "../../src/core/data/schema.js";
import type { SyntheticUser } from "../../src/core/data/types.js";
import { readDatasetFiles } from "../fixtures/dataset-files.js";
import { synthTestRows, synthTrainRows } from "../../scripts/lib/synth-corpus.js";
import { tempDir, writeJsonl } from "../helpers/tmp.js";

const small = { subdimensions: 3, preferencesPerSub: 3, responseChars: [40, 80] as [number, number] };
const dir = tempDir();
const testRows = [...synthTestRows(4, small)] as Record<string, unknown>[];
const trainRows = [...synthTrainRows(60, small)] as Record<string, unknown>[];
// A train instruction that is also a test instruction: it must never enter that user's history.
const leaked = testRows[0]!.prompt as string;
for (let j = 0; j < 3; j++) trainRows[j]!.prompt = leaked;
// Groups of a size other than 3 are skipped and counted: one of 2 and one of 4.
trainRows.push({ ...trainRows[10]!, prompt: "pair only" }, { ...trainRows[11]!, prompt: "pair only" });
for (let k = 0; k < 4; k++) trainRows.push({ ...trainRows[20 + k]!, prompt: "four rows" });
const train = writeJsonl(path.join(dir, "train.jsonl"), trainRows);
const testFile = writeJsonl(path.join(dir, "test.jsonl"), testRows);

function readJsonl<T>(file: string): T[] {
  return readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as T);
}

test("builds triples, pairs and users with the counts in the manifest", async () => {
  const { manifest } = await buildDataset({ train, test: testFile, out: path.join(dir, "base") });
  assert.equal(manifest.counts.trainRows, 186);
  assert.equal(manifest.counts.trainTriples, 60);
  assert.equal(manifest.counts.trainPairs, 180);
  assert.equal(manifest.counts.testTriples, 4);
  assert.equal(manifest.counts.users, 4 * 3 * 4);
  assert.equal(manifest.skipped.trainGroups, 2);
  assert.equal(manifest.skipped.trainRows, 6);
  assert.deepEqual(manifest.skipped.groupSizes.train, { "2": 1, "4": 1 });
  assert.equal(manifest.inputs.length, 2);
  assert.match(manifest.inputs[0]!.sha256, /^[0-9a-f]{64}$/);
  const triples = readJsonl<{ id: string; members: { response: string; rubrics: unknown[] }[] }>(path.join(dir, "base", "triples.jsonl"));
  assert.equal(triples.length, 4);
  assert.equal(triples[0]!.members[1]!.response, testRows[1]!.reference_answer);
  assert.equal(triples[0]!.members[2]!.rubrics.length, 4);
});

test("pairs: chosen is member j's response, rejected another member's; --pairs all gives both", async () => {
  const pairs = readDatasetFiles(path.join(dir, "base")).pairs;
  const byPrompt = new Map<string, Record<string, unknown>[]>();
  for (const r of trainRows) byPrompt.set(r.prompt as string, [...(byPrompt.get(r.prompt as string) ?? []), r]);
  for (const p of pairs) {
    const rows = byPrompt.get(p.prompt)!;
    assert.notEqual(p.chosenMember, p.rejectedMember);
    assert.equal(p.chosen, rows[p.chosenMember]!.output);
    assert.equal(p.rejected, rows[p.rejectedMember]!.output);
    assert.deepEqual(p.chosenPreferenceSet, rows[p.chosenMember]!.preference_set);
    assert.equal(p.id, `${p.tripleId}.${p.chosenMember}v${p.rejectedMember}`);
  }
  const rejectedSides = new Set(pairs.map((p) => (p.rejectedMember - p.chosenMember + 3) % 3));
  assert.deepEqual([...rejectedSides].sort(), [1, 2], "the seeded choice picks both other members over the corpus");
  const all = await buildDataset({ train, test: testFile, out: path.join(dir, "all"), pairs: "all" });
  assert.equal(all.manifest.counts.trainPairs, 360);
});

test("every history pair shares the user's subdimension, never the evaluated instruction, at most one per train instruction", async () => {
  const users = readDatasetFiles(path.join(dir, "base")).users;
  const pairs = new Map(readDatasetFiles(path.join(dir, "base")).pairs.map((p) => [p.id, p]));
  const triples = new Map(readJsonl<{ id: string; prompt: string }>(path.join(dir, "base", "triples.jsonl")).map((t) => [t.id, t]));
  assert.deepEqual([...new Set(users.map((u) => u.dimension))], [...DIMENSIONS]);
  let total = 0;
  for (const u of users) {
    assert.equal(u.history.length, 10, `user ${u.id} has a full history`);
    const prompt = triples.get(u.tripleId)!.prompt;
    const seen = new Set<string>();
    for (const h of u.history) {
      const p = pairs.get(h.pairId)!;
      assert.ok(p, `history pair ${h.pairId} exists`);
      const chosenPref = p.chosenPreferenceSet.find((e) => e.dimension === u.dimension)!;
      const rejectedPref = p.rejectedPreferenceSet.find((e) => e.dimension === u.dimension)!;
      assert.equal(chosenPref.subdimension.toLowerCase(), u.preference.subdimension.toLowerCase());
      assert.notEqual(rejectedPref.preference, chosenPref.preference, "the pair expresses the preference");
      assert.notEqual(p.prompt, prompt, "never the same instruction");
      assert.ok(!seen.has(p.tripleId), "at most one pair per train instruction");
      seen.add(p.tripleId);
      assert.equal(h.chosen, p.chosen);
      assert.equal(h.preference.preference, chosenPref.preference);
      assert.ok(h.score >= 0 && h.score <= 1.000001);
      total++;
    }
    const scores = u.history.map((h) => h.score);
    assert.deepEqual(scores, [...scores].sort((a, b) => a - b), "chronological: the most similar pair is the most recent");
  }
  assert.ok(total > 0);
  // The leaked instruction is a candidate for other users but never for the users of its own triple.
  const leakedTriple = [...triples.values()].find((t) => t.prompt === leaked)!;
  const leakedPairIds = [...pairs.values()].filter((p) => p.prompt === leaked).map((p) => p.id);
  assert.equal(leakedPairIds.length, 3);
  for (const u of users.filter((x) => x.tripleId === leakedTriple.id)) {
    for (const h of u.history) assert.ok(!leakedPairIds.includes(h.pairId));
  }
});

test("ranking prefers the closest preference text", async () => {
  const users = readDatasetFiles(path.join(dir, "base")).users;
  // With 3 preference phrases per subdimension, the top of each history states the user's own phrase.
  let exact = 0;
  for (const u of users) if (u.history.at(-1)!.preference.preference === u.preference.preference) exact++;
  assert.ok(exact / users.length > 0.9, `top-ranked pair carries the same preference for ${exact}/${users.length} users`);
});

test("same inputs and seed give byte-identical output; another seed gives other histories", async () => {
  await buildDataset({ train, test: testFile, out: path.join(dir, "again") });
  for (const f of ["manifest.json", "train.jsonl", "pairs.jsonl", "users.jsonl", "triples.jsonl", "triples.idx", "train.idx", "users.idx"]) {
    assert.equal(readFileSync(path.join(dir, "again", f), "utf8"), readFileSync(path.join(dir, "base", f), "utf8"), f);
  }
  await buildDataset({ train, test: testFile, out: path.join(dir, "seed7"), seed: 7 });
  const a = readDatasetFiles(path.join(dir, "base")).users;
  const b = readDatasetFiles(path.join(dir, "seed7")).users;
  assert.deepEqual(a.map((u) => u.id), b.map((u) => u.id), "ids are stable across seeds");
  const differ = a.filter((u, i) => JSON.stringify(u.history.map((h) => h.pairId)) !== JSON.stringify(b[i]!.history.map((h) => h.pairId)));
  assert.ok(differ.length > a.length / 4, `${differ.length} of ${a.length} histories differ`);
});

test("the train pass runs in a worker thread, and the in-process pass writes the same bytes", async () => {
  // The worker loads from source (tsx) here; it must not fall back silently.
  const file = trainWorkerFile();
  assert.ok(file, "the worker file is found beside build.ts");
  const wdir = path.join(dir, "worker-direct");
  mkdirSync(wdir, { recursive: true });
  const sink = { triples: () => {}, progress: () => {} };
  // One pass gives up on the 4-row group (undefined: count first); with counts it completes.
  assert.equal(await runTrainWorker(file, { dir: wdir, trainFiles: [train], testPrompts: new Set([leaked]), seed: 0, pairsMode: "one" }, sink), undefined);
  const groupSize = new Map<string, number>();
  for (const r of trainRows) groupSize.set(r.prompt as string, (groupSize.get(r.prompt as string) ?? 0) + 1);
  let triples = 0;
  const result = await runTrainWorker(file, { dir: wdir, trainFiles: [train], testPrompts: new Set([leaked]), seed: 0, pairsMode: "one", groupSize }, {
    triples: (batch) => (triples += batch.length),
    progress: () => {},
  });
  assert.notEqual(result, "no-worker", "the worker thread started");
  assert.ok(result && result !== "no-worker");
  assert.equal(triples, 60);
  assert.equal(result.trainIds.length, 60);
  assert.deepEqual(result.otherSizes.sort(), [2, 4]);
  assert.equal(readFileSync(path.join(wdir, "train.jsonl"), "utf8"), readFileSync(path.join(dir, "base", "train.jsonl"), "utf8"));
  // A bad row found in the worker is a DataError naming file, line and field.
  const bad = writeJsonl(path.join(dir, "bad-in-worker.jsonl"), trainRows.map((r, i) => (i === 40 ? { ...r, output: 7 } : r)));
  await assert.rejects(
    runTrainWorker(file, { dir: wdir, trainFiles: [bad], testPrompts: new Set(), seed: 0, pairsMode: "one" }, sink),
    (e: unknown) => {
      assert.ok(e instanceof DataError, String(e));
      assert.equal(e.field, "output");
      assert.match(e.message, /bad-in-worker\.jsonl:41: field "output"/);
      return true;
    },
  );
  // The in-process fallback (no worker) gives byte-identical output.
  process.env.PREFLAB_BUILD_WORKER = "0";
  try {
    await buildDataset({ train, test: testFile, out: path.join(dir, "in-process") });
  } finally {
    delete process.env.PREFLAB_BUILD_WORKER;
  }
  for (const f of ["manifest.json", "train.jsonl", "pairs.jsonl", "users.jsonl", "triples.jsonl", "triples.idx", "train.idx", "users.idx"]) {
    assert.equal(readFileSync(path.join(dir, "in-process", f), "utf8"), readFileSync(path.join(dir, "base", f), "utf8"), f);
  }
});

test("rows of one instruction need not be consecutive: the build counts them first and gives the same dataset", async () => {
  // Interleave each two neighbouring instructions (A0 B0 A1 B1 A2 B2): every group still completes
  // in the same order, so the output must be byte-identical; and split the 4-row group apart.
  const mixed: Record<string, unknown>[] = [];
  const base = trainRows.slice(0, 180);
  for (let t = 0; t < 60; t += 2) for (let k = 0; k < 3; k++) mixed.push(base[t * 3 + k]!, base[(t + 1) * 3 + k]!);
  const tail = trainRows.slice(180);
  mixed.splice(7, 0, tail[2]!); // one row of the 4-row group, far from the others
  mixed.push(tail[0]!, tail[1]!, tail[3]!, tail[4]!, tail[5]!);
  const file = writeJsonl(path.join(dir, "mixed.jsonl"), mixed);
  const { manifest } = await buildDataset({ train: file, test: testFile, out: path.join(dir, "mixed") });
  assert.equal(manifest.counts.trainTriples, 60);
  assert.deepEqual(manifest.skipped.groupSizes.train, { "2": 1, "4": 1 });
  for (const f of ["train.jsonl", "pairs.jsonl", "users.jsonl", "triples.jsonl", "triples.idx", "train.idx", "users.idx"]) {
    assert.equal(readFileSync(path.join(dir, "mixed", f), "utf8"), readFileSync(path.join(dir, "base", f), "utf8"), f);
  }
});

test("interleaved rows and no group over three: built in one pass, the same dataset", async () => {
  const mixed: Record<string, unknown>[] = [];
  const base = trainRows.slice(0, 180);
  for (let t = 0; t < 60; t += 2) for (let k = 0; k < 3; k++) mixed.push(base[t * 3 + k]!, base[(t + 1) * 3 + k]!);
  mixed.splice(5, 0, trainRows[180]!); // the 2-row group, apart
  mixed.push(trainRows[181]!);
  const file = writeJsonl(path.join(dir, "one-pass.jsonl"), mixed);
  const { manifest } = await buildDataset({ train: file, test: testFile, out: path.join(dir, "one-pass") });
  assert.deepEqual(manifest.skipped.groupSizes.train, { "2": 1 });
  for (const f of ["train.jsonl", "pairs.jsonl", "users.jsonl", "triples.jsonl", "triples.idx", "train.idx", "users.idx"]) {
    assert.equal(readFileSync(path.join(dir, "one-pass", f), "utf8"), readFileSync(path.join(dir, "base", f), "utf8"), f);
  }
});

test("fixed mode reuses one history per (dimension, subdimension, preference)", async () => {
  const { manifest } = await buildDataset({ train, test: testFile, out: path.join(dir, "fixed"), historyMode: "fixed" });
  assert.equal(manifest.historyMode, "fixed");
  const users = readDatasetFiles(path.join(dir, "fixed")).users;
  const groups = new Map<string, SyntheticUser[]>();
  for (const u of users) {
    const k = `${u.dimension}|${u.preference.subdimension}|${u.preference.preference}`;
    groups.set(k, [...(groups.get(k) ?? []), u]);
  }
  const shared = [...groups.values()].filter((g) => g.length > 1);
  assert.ok(shared.length > 0, "the corpus has users sharing a preference");
  for (const g of shared) {
    const tripleIds = new Set(g.map((u) => u.tripleId));
    for (const u of g) assert.deepEqual(u.history, g[0]!.history);
    if (tripleIds.size > 1) assert.ok(true);
  }
  // Fixed histories exclude every test instruction of that preference.
  const triples = new Map(readJsonl<{ id: string; prompt: string }>(path.join(dir, "fixed", "triples.jsonl")).map((t) => [t.id, t.prompt]));
  for (const u of users) for (const h of u.history) assert.notEqual(h.prompt, triples.get(u.tripleId));
});

test("too few matches are reported per user instead of padded", async () => {
  const { manifest } = await buildDataset({ train, test: testFile, out: path.join(dir, "big"), historySize: 50 });
  assert.ok(manifest.shortHistories.length > 0);
  const users = readDatasetFiles(path.join(dir, "big")).users;
  for (const s of manifest.shortHistories) {
    const u = users.find((x) => x.id === s.userId)!;
    assert.equal(u.history.length, s.found);
    assert.equal(s.wanted, 50);
    assert.ok(s.found < 50);
  }
});

test("an existing output is kept unless --force, and kept whole when a forced build fails", async () => {
  const out = path.join(dir, "keep");
  await buildDataset({ train, test: testFile, out });
  const before = readFileSync(path.join(out, "users.jsonl"), "utf8");
  await assert.rejects(buildDataset({ train, test: testFile, out }), /already exists/);
  const broken = path.join(dir, "broken.jsonl");
  writeFileSync(broken, readFileSync(train, "utf8") + "{not json\n");
  await assert.rejects(buildDataset({ train: broken, test: testFile, out, force: true }), /broken\.jsonl:187: invalid JSON/);
  assert.equal(readFileSync(path.join(out, "users.jsonl"), "utf8"), before);
  await buildDataset({ train, test: testFile, out, force: true, seed: 3 });
  assert.notEqual(readFileSync(path.join(out, "users.jsonl"), "utf8"), before);
});

test("Dataset reads a built directory and refuses a non-dataset", async () => {
  const ds = await Dataset.open(path.join(dir, "base"));
  assert.match(ds.manifestHash, /^[0-9a-f]{64}$/);
  const t = await ds.triple((await ds.triples().next()).value!.id);
  assert.ok(t);
  const empty = path.join(dir, "empty");
  mkdirSync(empty);
  await assert.rejects(Dataset.open(empty), /manifest\.json not found/);
  assert.ok(!existsSync(path.join(dir, "base.tmp")));
});
