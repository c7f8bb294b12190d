/**
 * The triple-view model builder (src/core/views/triple-view.ts) on the bundled sample: a real
 * dataset build, a baseline reward-model run, and a generation + cross judge run through an
 * in-process scripted provider (no network).
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { buildDataset } from "../../src/core/data/builder.js";
import { runRm } from "../../src/core/eval/rm.js";
import { runGeneration } from "../../src/core/eval/generation.js";
import { runJudge } from "../../src/core/eval/judge.js";
import { readResults } from "../../src/core/eval/runner.js";
import { createProvider } from "../../src/core/providers/registry.js";
import type { ProviderRequest } from "../../src/core/providers/types.js";
import type { SyntheticUser, Triple } from "../../src/core/data/types.js";
import { listTripleIds, loadTripleView, searchTriples, TripleViewLoader } from "../../src/core/views/triple-view.js";
import { tempDir } from "../helpers/tmp.js";
import { lastMessage, scriptedProvider, testRunner } from "../helpers/eval.js";
import { readDatasetFiles } from "../fixtures/dataset-files.js";

const dir = tempDir();
const ds = path.join(dir, "ds");
const rmDir = path.join(dir, "rm-baseline");
const genDir = path.join(dir, "gen");
const judgeDir = path.join(dir, "judge");
let triples: Triple[];
let users: SyntheticUser[];

const runner = testRunner;

const scripted = (id: string, answer: (r: ProviderRequest) => string) => scriptedProvider(id, `${id}-model`, answer);
const lastUser = lastMessage;

before(async () => {
  await buildDataset({ train: "samples/train.jsonl", test: "samples/test.jsonl", out: ds });
  triples = readFileSync(path.join(ds, "triples.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Triple);
  users = readDatasetFiles(ds).users;
  const baseline = await createProvider({ provider: "baseline" });
  // The first 12 users: the 4 dimensions x 3 members of the first triple(s), in users.jsonl order.
  await runRm(ds, { limit: 12 }, baseline, runner(rmDir, baseline));
  const gen = scripted("gen", (r) => (lastUser(r).includes("# START OF EXAMPLES") ? `With H for ${r.sequenceKey}: **bold** answer` : "Plain answer without H"));
  await runGeneration(ds, { dimensions: ["style"], limit: 6 }, gen, runner(genDir, gen));
  let n = 0;
  const judge = scripted("judge", () => `Feedback: judged #${n++}. [RESULT] ${1 + (n % 5)}`);
  await runJudge(genDir, { cross: true }, judge, runner(judgeDir, judge));
});

test("the model holds the triple, its members, users per dimension and member, and the id list", async () => {
  const t = triples[0]!;
  const m = await loadTripleView(ds, t.id);
  assert.equal(m.triple.id, t.id);
  assert.equal(m.triple.prompt, t.prompt);
  assert.equal(m.triple.members.length, 3);
  m.triple.members.forEach((mem, j) => {
    assert.equal(mem.index, j);
    assert.equal(mem.response, t.members[j]!.response);
    assert.deepEqual(mem.preference_set, t.members[j]!.preference_set);
    assert.deepEqual(mem.rubrics, t.members[j]!.rubrics);
  });
  assert.deepEqual(m.tripleIds, triples.map((x) => x.id));
  assert.equal(m.dataset.testTriples, triples.length);
  assert.equal(m.runs.length, 0);
  for (const d of ["style", "background_knowledge", "informativeness", "harmlessness"] as const) {
    const row = m.users[d]!;
    assert.equal(row.length, 3, d);
    row.forEach((u, j) => {
      const expected = users.find((x) => x.tripleId === t.id && x.member === j && x.dimension === d)!;
      assert.ok(u, `${d} member ${j}`);
      assert.equal(u.id, expected.id);
      assert.deepEqual(u.preference, expected.preference);
      assert.equal(u.history.length, expected.history.length);
      assert.ok(u.history.length > 0);
      assert.deepEqual(u.history[0], expected.history[0], "history entries carry prompt, chosen, rejected and score");
      assert.equal(typeof u.history[0]!.score, "number");
    });
  }
  // The last triple navigates too.
  const last = await loadTripleView(ds, triples.at(-1)!.id);
  assert.equal(last.triple.prompt, triples.at(-1)!.prompt);
  await assert.rejects(loadTripleView(ds, "no-such-triple"), /no triple with id no-such-triple/);
});

test("reward-model verdicts per pair and order, with raw text and correctness", async () => {
  const t = triples[0]!;
  const m = await loadTripleView(ds, t.id, [rmDir]);
  assert.equal(m.runs.length, 1);
  const r = m.runs[0]!;
  assert.equal(r.run.kind, "rm");
  assert.equal(r.run.provider, "baseline");
  assert.equal(r.run.status, "finished");
  assert.equal(r.run.dir, path.resolve(rmDir));
  const results = await readResults(rmDir);
  const tUsers = users.filter((u) => u.tripleId === t.id);
  let checked = 0;
  for (const u of tUsers) {
    const o = r.users[u.id];
    assert.ok(o, `outputs for ${u.id}`);
    assert.equal(o.member, u.member);
    assert.equal(o.rm!.length, 4, "2 rejected members x 2 orders");
    assert.deepEqual(o.rm!.map((v) => `${v.rejectedMember}${v.order}`), [0, 1, 2].filter((k) => k !== u.member).flatMap((k) => [`${k}ab`, `${k}ba`]));
    for (const v of o.rm!) {
      const line = results.get(v.itemId)!;
      assert.equal(v.itemId, `${u.id}.vs${v.rejectedMember}.${v.order}`);
      assert.equal(v.raw, line.text);
      assert.equal(v.chosen, v.order === "ab" ? "A" : "B");
      const said = /\[\[(A|B)\]\]/.exec(line.text!)![1];
      assert.equal(v.verdict, said);
      assert.equal(v.correct, said === v.chosen);
      assert.equal(v.status, "ok");
      checked++;
    }
    // The baseline's verdict depends on the responses, not their positions: the two orders agree.
    const [ab, ba] = [o.rm![0]!, o.rm![1]!];
    assert.equal(ab.correct, ba.correct, "position-independent baseline");
    assert.notEqual(ab.verdict, ba.verdict);
  }
  assert.equal(checked, 48, "12 users x 4 verdicts");
  // A triple beyond the run's limit has no RM outputs but still the run.
  const other = await loadTripleView(ds, triples.at(-1)!.id, [rmDir]);
  assert.deepEqual(other.runs[0]!.users, {});
});

test("generation texts with and without H, and judge scores with feedback incl. cross rubrics", async () => {
  const t = triples[0]!;
  const m = await loadTripleView(ds, t.id, [genDir, judgeDir]);
  const [gen, judge] = m.runs;
  assert.equal(gen!.run.kind, "generate");
  assert.equal(gen!.run.provider, "gen");
  assert.equal(gen!.withoutHistory!.text, "Plain answer without H");
  const styleUsers = users.filter((u) => u.tripleId === t.id && u.dimension === "style");
  assert.equal(styleUsers.length, 3);
  for (const u of styleUsers) {
    assert.equal(gen!.users[u.id]!.withHistory!.text, `With H for ${u.id}: **bold** answer`);
    assert.equal(gen!.users[u.id]!.rm, undefined);
  }
  assert.equal(judge!.run.kind, "judge");
  assert.equal(judge!.run.provider, "judge");
  assert.equal(judge!.run.source!.provider, "gen", "the judged generation run's model");
  assert.equal(judge!.withoutHistory!.text, "Plain answer without H", "a judge run shows the judged texts");
  const judged = new Map(
    readFileSync(path.join(judgeDir, "results.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { itemId: string; score: number; feedback: string; raw: string }).map((l) => [l.itemId, l]),
  );
  for (const u of styleUsers) {
    const o = judge!.users[u.id]!;
    assert.equal(o.withHistory!.text, `With H for ${u.id}: **bold** answer`);
    const scores = o.judge!;
    // Without H once (own rubric), with H against all three rubrics (own first).
    assert.deepEqual(scores.map((s) => [s.withHistory, s.rubricMember]), [[false, u.member], [true, u.member], ...[0, 1, 2].filter((k) => k !== u.member).map((k) => [true, k])]);
    for (const s of scores) {
      const l = judged.get(s.itemId)!;
      assert.equal(s.score, l.score);
      assert.equal(s.feedback, l.feedback);
      assert.equal(s.raw, l.raw);
      assert.match(s.feedback, /judged #\d+/);
      assert.equal(s.calls, 1);
    }
  }
});

test("a missing or foreign run folder shows as an error entry, not a failure of the view", async () => {
  const m = await loadTripleView(ds, triples[0]!.id, [path.join(dir, "nope"), rmDir]);
  assert.equal(m.runs.length, 2);
  assert.match(m.runs[0]!.error!, /not a Preflab evaluation run/);
  assert.equal(m.runs[1]!.run.kind, "rm");
});

test("a hand-edited eval.json or items.jsonl is refused with the file, the line or the field named", async () => {
  const bad = path.join(dir, "rm-edited");
  cpSync(rmDir, bad, { recursive: true });
  const evalFile = path.join(bad, "eval.json");
  const ev = JSON.parse(readFileSync(evalFile, "utf8")) as Record<string, unknown>;
  writeFileSync(evalFile, JSON.stringify({ ...ev, kind: "rm; rm -rf /" }));
  let m = await loadTripleView(ds, triples[0]!.id, [bad]);
  assert.match(m.runs[0]!.error!, /eval\.json: field kind:/);
  writeFileSync(evalFile, JSON.stringify({ ...ev, items: "many" }));
  m = await loadTripleView(ds, triples[0]!.id, [bad]);
  assert.match(m.runs[0]!.error!, /eval\.json: field items:/);
  writeFileSync(evalFile, JSON.stringify(ev));
  const itemsFile = path.join(bad, "items.jsonl");
  const lines = readFileSync(itemsFile, "utf8").split("\n");
  lines[1] = "{not json";
  writeFileSync(itemsFile, lines.join("\n"));
  m = await loadTripleView(ds, triples[0]!.id, [bad]);
  assert.match(m.runs[0]!.error!, /items\.jsonl:2: not valid JSON/);
  // The untouched run still loads: the check rejects only what is wrong.
  m = await loadTripleView(ds, triples[0]!.id, [rmDir]);
  assert.equal(m.runs[0]!.run.kind, "rm");
});

test("listTripleIds and searchTriples match ids and instruction text, case-insensitively", async () => {
  assert.deepEqual(await listTripleIds(ds), triples.map((t) => t.id));
  const t = triples[1]!;
  assert.deepEqual(await listTripleIds(ds, t.id), [t.id], "by id");
  assert.deepEqual((await listTripleIds(ds, t.id.toUpperCase()))[0], t.id, "id match is case-insensitive");
  // A distinctive chunk of the instruction, in other case and spacing.
  const words = t.prompt.split(/\s+/).filter(Boolean).slice(0, 4);
  const q = `  ${words.join("   ").toUpperCase()} `;
  const hits = await listTripleIds(ds, q);
  assert.ok(hits.includes(t.id), `"${q}" finds ${t.id}`);
  for (const id of hits) {
    const x = triples.find((y) => y.id === id)!;
    assert.ok(`${x.id} ${x.prompt}`.toLowerCase().replace(/\s+/g, " ").includes(words.join(" ").toLowerCase()));
  }
  assert.deepEqual(await listTripleIds(ds, "zzzz-no-such-text-qqq"), []);
  const s = await searchTriples(ds, "", 2);
  assert.equal(s.hits.length, 2);
  assert.equal(s.total, triples.length);
  assert.ok(s.hits.every((h) => h.prompt.length <= 200));
});

test("the loader caches reads and sees new results after a run grows", async () => {
  const copy = path.join(dir, "rm-copy");
  cpSync(rmDir, copy, { recursive: true });
  const full = readFileSync(path.join(copy, "results.jsonl"), "utf8").trim().split("\n");
  writeFileSync(path.join(copy, "results.jsonl"), "");
  const loader = new TripleViewLoader();
  const id = triples[0]!.id;
  const a = await loader.load(ds, id, [copy]);
  assert.ok(Object.values(a.runs[0]!.users).every((o) => o.rm!.every((v) => v.status === "missing" && v.raw === null)));
  assert.deepEqual(await loader.load(ds, id, [copy]), a, "cached read gives the same model");
  writeFileSync(path.join(copy, "results.jsonl"), full.join("\n") + "\n");
  const b = await loader.load(ds, id, [copy]);
  assert.ok(Object.values(b.runs[0]!.users).every((o) => o.rm!.every((v) => v.status === "ok" && v.raw !== null)));
  const c = await loader.load(ds, triples[1]!.id, [copy]);
  assert.equal(c.triple.id, triples[1]!.id);
});
