/**
 * The dataset format (issue 14): format 2 stores each train text once and indexes every line;
 * the one reader (src/core/data/dataset.ts) hydrates the same pairs and histories from format 2
 * and from a folder of the previous format (a committed build of the bundled sample made by
 * Preflab at format 1), and the evaluations render the same prompts from both.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { brotliDecompressSync } from "node:zlib";
import { buildDataset } from "../../src/core/data/builder.js";
import { contrasts } from "../../src/core/data/contrast.js";
import { Dataset } from "../../src/core/data/dataset.js";
import { DIMENSIONS } from "../../src/core/data/schema.js";
import type { Manifest, SyntheticUser } from "../../src/core/data/types.js";
import { SortedLineIndex } from "../../src/core/data/line-index.js";
import { UsersIndex } from "../../src/core/data/users-index.js";
import { planRm } from "../../src/core/eval/rm.js";
import { planGeneration } from "../../src/core/eval/generation.js";
import { emptyExampleStats, resolveExampleOptions, trainExamples, TrainPairs } from "../../src/core/finetune/examples.js";
import { main } from "../../src/cli/main.js";
import { readDatasetFiles } from "../fixtures/dataset-files.js";
import { tempDir, writeJsonl } from "../helpers/tmp.js";
import { synthTestRows, synthTrainRows } from "../../scripts/lib/synth-corpus.js";

const dir = tempDir();
const v2 = path.join(dir, "v2");
const v1 = path.join(dir, "v1");

before(async () => {
  await buildDataset({ train: "samples/train.jsonl", test: "samples/test.jsonl", out: v2 });
  const fixture = JSON.parse(brotliDecompressSync(readFileSync(path.join(__dirname, "..", "fixtures", "format1", "sample.json.br"))).toString("utf8")) as { files: Record<string, string> };
  mkdirSync(v1);
  for (const [name, text] of Object.entries(fixture.files)) writeFileSync(path.join(v1, name), text);
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test("format 2: each train response is stored once, pairs and histories name them by id", async () => {
  const manifest = JSON.parse(readFileSync(path.join(v2, "manifest.json"), "utf8")) as Manifest;
  assert.equal(manifest.version, 2);
  const all = ["train.jsonl", "pairs.jsonl", "users.jsonl", "triples.jsonl"].map((f) => readFileSync(path.join(v2, f), "utf8")).join("\n");
  const train = readFileSync(path.join(v2, "train.jsonl"), "utf8").trim().split("\n");
  assert.equal(train.length, manifest.counts.trainTriples);
  const responses = readFileSync("samples/train.jsonl", "utf8")
    .trim()
    .split("\n")
    .map((l) => (JSON.parse(l) as { output: string }).output);
  for (const r of responses.slice(0, 30)) {
    const quoted = JSON.stringify(r);
    assert.equal(all.split(quoted).length - 1, 1, "a train response appears exactly once in the dataset");
  }
  for (const l of readFileSync(path.join(v2, "pairs.jsonl"), "utf8").trim().split("\n")) assert.deepEqual(Object.keys(JSON.parse(l) as object), ["id", "tripleId", "chosenMember", "rejectedMember"]);
  for (const l of readFileSync(path.join(v2, "users.jsonl"), "utf8").trim().split("\n")) {
    for (const h of (JSON.parse(l) as { history: object[] }).history) assert.deepEqual(Object.keys(h), ["pairId", "score"]);
  }
  // The old format copied texts into pairs and histories: the new one is several times smaller.
  const size = (d: string, fs: string[]) => fs.reduce((n, f) => n + readFileSync(path.join(d, f)).length, 0);
  assert.ok(size(v2, ["train.jsonl", "pairs.jsonl", "users.jsonl"]) * 3 < size(v1, ["pairs.jsonl", "users.jsonl"]));
});

test("the .idx files: every line of triples, train and users by id, at its byte offset, sorted by id", async () => {
  for (const name of ["triples", "train", "users"] as const) {
    const bytes = readFileSync(path.join(v2, `${name}.jsonl`));
    const idx = readFileSync(path.join(v2, `${name}.idx`), "utf8").split("\n").slice(0, -1);
    const lines = bytes.toString("utf8").split("\n").slice(0, -1);
    assert.equal(idx.length, lines.length);
    assert.equal(new Set(idx.map((l) => l.length)).size, 1, "fixed-width lines");
    const entries = idx.map((l) => {
      const [id, offset, length] = l.trim().split(/ +/) as [string, string, string];
      return { id, offset: Number(offset), length: Number(length) };
    });
    assert.deepEqual(entries.map((e) => e.id), entries.map((e) => e.id).sort());
    for (const e of entries) assert.equal((JSON.parse(bytes.subarray(e.offset, e.offset + e.length).toString("utf8")) as { id: string }).id, e.id);
    const index = await SortedLineIndex.load(path.join(v2, `${name}.idx`));
    for (const e of entries) assert.deepEqual(index.range(e.id), e);
    assert.equal(index.range(entries[0]!.id.slice(0, -1)), undefined, "a prefix of an id is not that id");
    assert.deepEqual(index.all().map((e) => e.id), lines.map((l) => (JSON.parse(l) as { id: string }).id), "all() in file order");
  }
});

test("manifest counts, per dimension, the test pairs whose two members state the same preference there", async () => {
  // Two preference phrases per subdimension: members often share one.
  const few = { subdimensions: 2, preferencesPerSub: 2, responseChars: [40, 80] as [number, number] };
  const out = path.join(dir, "few");
  await buildDataset({ train: writeJsonl(path.join(dir, "few-train.jsonl"), [...synthTrainRows(30, few)]), test: writeJsonl(path.join(dir, "few-test.jsonl"), [...synthTestRows(6, few)]), out });
  const { manifest, triples } = readDatasetFiles(out);
  const expected = Object.fromEntries(DIMENSIONS.map((d) => [d, 0]));
  for (const t of triples)
    for (const d of DIMENSIONS) {
      const e = t.members.map((m) => m.preference_set.find((x) => x.dimension === d)!);
      for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) if (j !== k && e[j]!.preference.trim().toLowerCase() === e[k]!.preference.trim().toLowerCase()) expected[d]!++;
    }
  assert.deepEqual(manifest.nonContrastive, expected);
  // Some but not all: a count of zero (or of every pair) would not show the rule at work.
  const total = Object.values(expected).reduce((a, b) => a + b, 0);
  assert.ok(total > 0 && total < triples.length * 6 * DIMENSIONS.length, `${total}`);
  assert.equal(contrasts({ preference: " Concise " }, { preference: "concise" }), false);
});

for (const [label, folder] of [
  ["format 2", v2],
  ["format 1 (a folder of the previous version)", v1],
] as const) {
  test(`reader on ${label}: streams and random access give the pairs and histories written`, async () => {
    const files = readDatasetFiles(folder);
    const ds = await Dataset.open(folder);
    assert.equal(ds.format, folder === v2 ? 2 : 1);
    assert.deepEqual(await collect(ds.users()), files.users);
    assert.deepEqual(await collect(ds.pairs()), files.pairs);
    assert.deepEqual(await collect(ds.triples()), files.triples);
    assert.deepEqual(await ds.tripleIds(), files.triples.map((t) => t.id));
    for (const u of [files.users[0]!, files.users[77]!, files.users.at(-1)!]) {
      assert.deepEqual(await ds.user(u.id), u);
      assert.deepEqual(
        await ds.usersOfTriple(u.tripleId),
        files.users.filter((x) => x.tripleId === u.tripleId),
      );
      assert.deepEqual(await ds.triple(u.tripleId), files.triples.find((t) => t.id === u.tripleId));
    }
    for (const p of [files.pairs[0]!, files.pairs[50]!, files.pairs.at(-1)!]) assert.deepEqual(await ds.pair(p.id), p);
    assert.equal(await ds.user("te-0000000000000000.0.style"), undefined);
    assert.equal(await ds.pair("tr-0000000000000000.0v1"), undefined);
    const summaries = await ds.userSummaries();
    assert.deepEqual(
      summaries.map((s) => [s.id, s.historySize]),
      files.users.map((u) => [u.id, u.history.length]),
    );
    const index = await UsersIndex.load(folder);
    assert.equal(index.size, files.users.length);
    assert.deepEqual(await index.user(files.users[5]!.id), files.users[5]);
  });
}

test("both formats of the same build hold the same users and pairs", async () => {
  const a = readDatasetFiles(v1);
  const b = readDatasetFiles(v2);
  assert.deepEqual(b.users, a.users);
  assert.deepEqual(b.pairs, a.pairs);
  assert.deepEqual(b.triples, a.triples);
  const { version: _a, nonContrastive: _n, inputs: ia, ...restB } = b.manifest;
  const { version: _b, inputs: ib, ...restA } = a.manifest;
  assert.deepEqual(restB, restA);
  assert.deepEqual(
    ib.map((i) => i.sha256),
    ia.map((i) => i.sha256),
  );
});

test("the format change alone changes no rendered prompt: rm, generation and fine-tuning examples", async () => {
  const strip = (items: { id: string; request: unknown }[]) => items.map((i) => ({ id: i.id, request: i.request }));
  const rm1 = await planRm(v1, {});
  const rm2 = await planRm(v2, {});
  assert.ok(rm1.items.length > 100);
  assert.deepEqual(strip(rm2.items), strip(rm1.items));
  assert.deepEqual(rm2.meta, rm1.meta);
  const gen1 = await planGeneration(v1, { history: "both", maxInputTokens: 3000 });
  const gen2 = await planGeneration(v2, { history: "both", maxInputTokens: 3000 });
  assert.deepEqual(strip(gen2.items), strip(gen1.items));
  assert.deepEqual(gen2.meta, gen1.meta, "the same histories are kept and dropped under a token budget");
  assert.ok(gen1.meta.some((m) => m.historyDropped > 0), "the budget drops pairs, so the order of history texts matters");
  const examples = async (folder: string) => {
    const train = await TrainPairs.open(folder, { seed: 0, historySize: 10 });
    try {
      return await collect(trainExamples(train, resolveExampleOptions({}, { seed: 0, historySize: 10 }), emptyExampleStats()));
    } finally {
      await train.close();
    }
  };
  const e1 = await examples(v1);
  assert.ok(e1.length > 50);
  assert.deepEqual(await examples(v2), e1);
});

test("a folder of an unknown format is refused with how to rebuild it; a stale index is caught", async () => {
  const future = path.join(dir, "future");
  mkdirSync(future);
  writeFileSync(path.join(future, "manifest.json"), JSON.stringify({ ...readDatasetFiles(v2).manifest, version: 3 }));
  await assert.rejects(Dataset.open(future), /format version 3 is not one this Preflab reads \(1 or 2\); rebuild the dataset .*preflab build --train … --test … --out .*future --force/);

  const stale = path.join(dir, "stale");
  await buildDataset({ train: "samples/train.jsonl", test: "samples/test.jsonl", out: stale });
  // Swap two users' byte ranges: each id now points at the other user's line.
  const idx = readFileSync(path.join(stale, "users.idx"), "utf8").split("\n");
  const cut = (l: string) => [l.slice(0, -27), l.slice(-27)] as const; // id column | " offset length"
  const [a, b] = [cut(idx[3]!), cut(idx[4]!)];
  idx[3] = a[0] + b[1];
  idx[4] = b[0] + a[1];
  writeFileSync(path.join(stale, "users.idx"), idx.join("\n"));
  const ds = await Dataset.open(stale);
  await assert.rejects(ds.user(a[0].trim()), /index is stale: rebuild the dataset/);
});

test("preflab show prints a train pair and a user with their texts", async () => {
  const files = readDatasetFiles(v2);
  const run = async (args: string[]) => {
    let out = "";
    const code = await main(args, { out: (t) => (out += t), err: (t) => (out += t) });
    return { code, out };
  };
  const p = files.pairs[7]!;
  const shown = await run(["show", v2, p.id, "--json"]);
  assert.equal(shown.code, 0, shown.out);
  assert.deepEqual(JSON.parse(shown.out), p);
  const u: SyntheticUser = files.users[9]!;
  const text = await run(["show", v2, u.id]);
  assert.equal(text.code, 0, text.out);
  assert.ok(text.out.includes(u.history[0]!.chosen) && text.out.includes(u.history.at(-1)!.rejected));
  const tr = await run(["show", v2, p.tripleId, "--json"]);
  assert.equal((JSON.parse(tr.out) as { members: { response: string }[] }).members[p.chosenMember]!.response, p.chosen);
});
