import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, truncateSync, statSync, writeFileSync, existsSync } from "node:fs";
import * as path from "node:path";
import { buildDataset } from "../../src/core/data/builder.js";
import { readRawRows, resolveInputs, globToRegExp } from "../../src/core/data/loaders.js";
import { DataError, trainRowSchema, validateRow } from "../../src/core/data/schema.js";
import { writeMultifacetParquet } from "../../scripts/lib/multifacet-parquet.js";
import { synthTestRows, synthTrainRows } from "../../scripts/lib/synth-corpus.js";
import { tempDir, writeJsonl } from "../helpers/tmp.js";

const small = { subdimensions: 3, preferencesPerSub: 3, responseChars: [40, 80] as [number, number] };
const trainRows = () => [...synthTrainRows(12, small)];
const testRows = () => [...synthTestRows(2, small)];

async function collect(file: string) {
  const out = [];
  for await (const r of readRawRows(file)) out.push(r);
  return out;
}

async function expectBuildError(train: string, test: string, pattern: RegExp) {
  const out = path.join(path.dirname(train), "out-" + Math.random().toString(36).slice(2));
  await assert.rejects(buildDataset({ train, test, out }), (e: Error) => {
    assert.ok(e instanceof DataError, `expected DataError, got ${e}`);
    assert.match(e.message, pattern);
    return true;
  });
  assert.equal(existsSync(out), false, "a failed build must leave no output directory");
  const leftovers = readdirSync(path.dirname(train)).filter((f) => f.includes(".tmp-"));
  assert.deepEqual(leftovers, [], "a failed build must leave no temp directory");
}

test("a missing field names the file, the line and the field", async () => {
  const dir = tempDir();
  const rows = trainRows();
  delete (rows[4] as Record<string, unknown>).output;
  const train = writeJsonl(path.join(dir, "train.jsonl"), rows);
  const test_ = writeJsonl(path.join(dir, "test.jsonl"), testRows());
  await expectBuildError(train, test_, /train\.jsonl:5: field "output": missing/);
});

test("a mistyped nested field names its path", async () => {
  const dir = tempDir();
  const rows = trainRows() as { preference_set: { subdimension: unknown }[] }[];
  rows[7]!.preference_set[2]!.subdimension = 42;
  const train = writeJsonl(path.join(dir, "train.jsonl"), rows);
  const test_ = writeJsonl(path.join(dir, "test.jsonl"), testRows());
  await expectBuildError(train, test_, /train\.jsonl:8: field "preference_set\[2\]\.subdimension": .*string/i);
});

test("a broken JSON line names the line", async () => {
  const dir = tempDir();
  const train = writeJsonl(path.join(dir, "train.jsonl"), trainRows());
  const lines = readFileSync(train, "utf8").split("\n");
  lines[2] = lines[2]!.slice(0, 30);
  writeFileSync(train, lines.join("\n"));
  const test_ = writeJsonl(path.join(dir, "test.jsonl"), testRows());
  await expectBuildError(train, test_, /train\.jsonl:3: invalid JSON/);
});

test("an empty file is refused by name", async () => {
  const dir = tempDir();
  const train = writeJsonl(path.join(dir, "train.jsonl"), trainRows());
  const test_ = path.join(dir, "test.jsonl");
  writeFileSync(test_, "\n\n");
  await expectBuildError(train, test_, /test\.jsonl: file is empty/);
});

test("a preference_set of the wrong length is refused", async () => {
  const dir = tempDir();
  const rows = testRows() as { preference_set: unknown[] }[];
  rows[1]!.preference_set.pop();
  const train = writeJsonl(path.join(dir, "train.jsonl"), trainRows());
  const test_ = writeJsonl(path.join(dir, "test.jsonl"), rows);
  await expectBuildError(train, test_, /test\.jsonl:2: field "preference_set": must hold exactly 4 entries/);
});

test("rubrics with a missing score description are refused with the path", () => {
  const row = testRows()[0] as { rubrics: { score_descriptions: Record<string, string> }[] };
  delete row.rubrics[3]!.score_descriptions["4"];
  assert.throws(() => validateRow("test", row, { file: "x.json", row: 7 }), /x\.json row 7: field "rubrics\[3\]\.score_descriptions\.4": missing/);
});

test("a truncated Parquet file is refused by name", async () => {
  const dir = tempDir();
  const pq = path.join(dir, "train.parquet");
  await writeMultifacetParquet(pq, "train", trainRows(), 6);
  truncateSync(pq, Math.floor(statSync(pq).size * 0.6));
  const test_ = writeJsonl(path.join(dir, "test.jsonl"), testRows());
  await expectBuildError(pq, test_, /train\.parquet: not a readable Parquet file/);
});

test("a bad row in a Parquet file names its row index", async () => {
  const dir = tempDir();
  const rows = trainRows();
  rows[9]!.system = null;
  const pq = path.join(dir, "train.parquet");
  await writeMultifacetParquet(pq, "train", rows, 4);
  const test_ = writeJsonl(path.join(dir, "test.jsonl"), testRows());
  await expectBuildError(pq, test_, /train\.parquet row 9: field "system"/);
});

test("JSON files: an array, an object of records, and a bad record by index", async () => {
  const dir = tempDir();
  const rows = trainRows();
  const arr = path.join(dir, "a.json");
  writeFileSync(arr, JSON.stringify(rows));
  const obj = path.join(dir, "b.json");
  writeFileSync(obj, JSON.stringify(Object.fromEntries(rows.map((r, i) => [`k${i}`, r]))));
  const wrapped = path.join(dir, "c.json");
  writeFileSync(wrapped, JSON.stringify({ rows }));
  for (const f of [arr, obj, wrapped]) {
    const got = await collect(f);
    assert.equal(got.length, rows.length);
    assert.deepEqual(got[5]!.raw, rows[5]);
    assert.deepEqual(got[5]!.loc, { file: f, row: 5 });
  }
  const bad = rows.slice();
  bad[3] = "oops" as never;
  writeFileSync(arr, JSON.stringify(bad));
  const test_ = writeJsonl(path.join(dir, "test.jsonl"), testRows());
  await expectBuildError(arr, test_, /a\.json row 3: expected a train row object, got string/);
});

test("Parquet is read row group by row group with the same rows as JSONL", async () => {
  const dir = tempDir();
  const rows = trainRows();
  const pq = path.join(dir, "t.parquet");
  await writeMultifacetParquet(pq, "train", rows, 5); // 36 rows -> 8 row groups
  const got = await collect(pq);
  assert.equal(got.length, rows.length);
  assert.deepEqual(got.map((r) => r.raw), rows);
  assert.deepEqual(got[17]!.loc, { file: pq, row: 17 });
});

test("a directory of shards and a glob resolve in name order, and build like one file", async () => {
  const dir = tempDir();
  const rows = trainRows();
  const shards = path.join(dir, "shards");
  mkdirSync(shards);
  await writeMultifacetParquet(path.join(shards, "train-00001-of-00002.parquet"), "train", rows.slice(18), 4);
  await writeMultifacetParquet(path.join(shards, "train-00000-of-00002.parquet"), "train", rows.slice(0, 18), 4);
  writeFileSync(path.join(shards, "README.md"), "not data");
  const files = await resolveInputs(shards);
  assert.deepEqual(files.map((f) => path.basename(f)), ["train-00000-of-00002.parquet", "train-00001-of-00002.parquet"]);
  const globbed = await resolveInputs(path.join(dir, "shards", "train-*.parquet"));
  assert.deepEqual(globbed, files);
  assert.deepEqual(await resolveInputs(path.join(dir, "**", "*-00001-*.parquet")), [files[1]]);
  await assert.rejects(resolveInputs(path.join(dir, "nothing-*.parquet")), /no .* files match/);

  const test_ = writeJsonl(path.join(dir, "test.jsonl"), testRows());
  const single = writeJsonl(path.join(dir, "train.jsonl"), rows);
  const a = await buildDataset({ train: shards, test: test_, out: path.join(dir, "a") });
  await buildDataset({ train: single, test: test_, out: path.join(dir, "b") });
  assert.equal(a.manifest.counts.trainPairs, 36);
  assert.deepEqual(a.manifest.inputs.filter((i) => i.split === "train").map((i) => i.rows), [18, 18]);
  for (const f of ["train.jsonl", "pairs.jsonl", "users.jsonl", "triples.jsonl", "triples.idx", "train.idx", "users.idx"]) {
    assert.equal(readFileSync(path.join(dir, "a", f), "utf8"), readFileSync(path.join(dir, "b", f), "utf8"), f);
  }
});

test("globToRegExp handles *, ** and ?", () => {
  assert.ok(globToRegExp("train-*.parquet").test("train-00000-of-00003.parquet"));
  assert.ok(!globToRegExp("train-*.parquet").test("sub/train-0.parquet"));
  assert.ok(globToRegExp("**/train-?.jsonl").test("a/b/train-1.jsonl"));
  assert.ok(globToRegExp("**/train-?.jsonl").test("train-1.jsonl"));
  assert.ok(!globToRegExp("train-?.jsonl").test("train-12.jsonl"));
});

test("a valid train row validates to what the schema returns (its fields, in schema order); a bad one names its field", () => {
  const loc = { file: "t.jsonl", line: 1 };
  for (const row of [...trainRows(), { ...trainRows()[0]!, extra: 1, main_source: null }]) {
    const shuffled = { ...row, preference_set: (row.preference_set as Record<string, unknown>[]).map((e) => ({ description: e.description, preference: e.preference, extra: true, subdimension: e.subdimension, dimension: e.dimension })) };
    assert.equal(JSON.stringify(validateRow("train", shuffled, loc)), JSON.stringify(trainRowSchema.parse(shuffled)));
  }
  const bad = trainRows()[0]! as { preference_set: Record<string, unknown>[] };
  const dup = { ...bad, preference_set: [bad.preference_set[0], bad.preference_set[0], bad.preference_set[2], bad.preference_set[3]] };
  assert.throws(() => validateRow("train", dup, loc), /t\.jsonl:1: field "preference_set\[1\]\.dimension": dimension "style" appears twice/);
  assert.throws(() => validateRow("train", { ...bad, output: 3 }, loc), /field "output"/);
  assert.throws(() => validateRow("train", { ...bad, prompt: "" }, loc), /field "prompt": must not be empty/);
});
