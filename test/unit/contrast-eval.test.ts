/**
 * Pairs that do not contrast: a test pair whose rejected member states the same preference as the
 * chosen one on the user's dimension does not test that preference. `rm` leaves such pairs out by
 * default (and counts them in eval.json, run.json and every report), keeps them with
 * keepNonContrastive; feedback histories never hold such a pair.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { buildDataset } from "../../src/core/data/builder.js";
import { contrasts } from "../../src/core/data/contrast.js";
import { Dataset } from "../../src/core/data/dataset.js";
import type { Pair, SyntheticUser, Triple } from "../../src/core/data/types.js";
import type { Dimension } from "../../src/core/data/schema.js";
import { planRm, runRm } from "../../src/core/eval/rm.js";
import { readRunJson } from "../../src/core/eval/runner.js";
import { buildReport, formatReport } from "../../src/core/metrics/report.js";
import { createProvider } from "../../src/core/providers/registry.js";
import { tempDir } from "../helpers/tmp.js";
import { testRunner } from "../helpers/eval.js";

const dir = tempDir();
const ds = path.join(dir, "ds");
const readJsonl = <T>(f: string): T[] => readFileSync(f, "utf8").trim().split("\n").map((l) => JSON.parse(l) as T);
type Row = { prompt: string; preference_set: { dimension: string; preference: string }[] };

/** Gives the second row of an instruction the first row's style preference (other case and spacing). */
function sameStyle(rows: Row[], every: number): Row[] {
  const byPrompt = new Map<string, Row[]>();
  for (const r of rows) byPrompt.set(r.prompt, [...(byPrompt.get(r.prompt) ?? []), r]);
  [...byPrompt.values()].forEach((g, i) => {
    if (i % every !== 0 || g.length !== 3) return;
    const first = g[0]!.preference_set.find((e) => e.dimension === "style")!;
    const second = g[1]!.preference_set.find((e) => e.dimension === "style")!;
    second.preference = `  ${first.preference.toUpperCase().replace(/ /g, "   ")} `;
  });
  return rows;
}

before(async () => {
  const train = sameStyle(readJsonl<Row>("samples/train.jsonl"), 2);
  const testRows = sameStyle(readJsonl<Row>("samples/test.jsonl"), 4);
  writeFileSync(path.join(dir, "train.jsonl"), train.map((r) => JSON.stringify(r)).join("\n") + "\n");
  writeFileSync(path.join(dir, "test.jsonl"), testRows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  await buildDataset({ train: path.join(dir, "train.jsonl"), test: path.join(dir, "test.jsonl"), out: ds });
});

const pref = (t: Triple, m: number, d: Dimension) => t.members[m]!.preference_set.find((e) => e.dimension === d)!;

test("rm leaves non-contrastive test pairs out by default, counts them per dimension, and keeps them on request", async () => {
  const triples = new Map(readJsonl<Triple>(path.join(ds, "triples.jsonl")).map((t) => [t.id, t]));
  const users = readJsonl<SyntheticUser>(path.join(ds, "users.jsonl"));
  // Hand count: pairs (user, k) whose member preferences on the user's dimension are equal after normalisation.
  const expected: string[] = [];
  for (const u of users) {
    const t = triples.get(u.tripleId)!;
    for (let k = 0; k < 3; k++) {
      if (k !== u.member && pref(t, u.member, u.dimension).preference.trim().replace(/\s+/g, " ").toLowerCase() === pref(t, k, u.dimension).preference.trim().replace(/\s+/g, " ").toLowerCase()) expected.push(`${u.id}.vs${k}`);
    }
  }
  assert.ok(expected.length >= 4, `the modified sample has non-contrastive test pairs (${expected.length})`);

  const excl = await planRm(ds, {});
  const keep = await planRm(ds, { keepNonContrastive: true });
  assert.deepEqual(excl.evalJson.nonContrastive!.pairs.sort(), [...expected].sort());
  assert.deepEqual(excl.evalJson.nonContrastive!.byDimension, { style: expected.length });
  assert.deepEqual(excl.evalJson.datasetNonContrastive, { style: expected.length, background_knowledge: 0, informativeness: 0, harmlessness: 0 }, "the manifest's count agrees");
  assert.equal(keep.items.length - excl.items.length, expected.length * 2, "both orders of each pair");
  for (const id of expected) {
    assert.ok(!excl.meta.some((m) => m.itemId.startsWith(`${id}.`)), `${id} excluded`);
    assert.ok(keep.meta.filter((m) => m.itemId.startsWith(`${id}.`)).every((m) => m.contrastive === false));
  }
  assert.ok(keep.meta.filter((m) => m.contrastive === undefined).length === excl.meta.length);

  // The run records the choice (eval.json, run.json params.protocol) and the report shows the count.
  const provider = await createProvider({ provider: "baseline" });
  const runDir = path.join(dir, "rm");
  const { report } = await runRm(ds, { dimensions: ["style"] }, provider, testRunner(runDir, provider));
  assert.deepEqual(report.nonContrastive, { policy: "exclude", total: expected.length });
  assert.equal(report.byDimension.style!.nonContrastive, expected.length);
  const rj = await readRunJson(runDir);
  {
    const want: Record<string, unknown> = { contrastFilter: "exclude", nonContrastivePairs: expected.length, oracle: false };
    const got = (rj!.params as { protocol: Record<string, unknown> }).protocol;
    assert.deepEqual(Object.fromEntries(Object.keys(want).map((k) => [k, got[k]])), want);
  }
  const text = formatReport(await buildReport([runDir]), "text");
  assert.match(text, new RegExp(`style\\s.*\\b${expected.length} excluded`));
  const runKeep = path.join(dir, "rm-keep");
  await runRm(ds, { dimensions: ["style"], keepNonContrastive: true }, provider, testRunner(runKeep, provider));
  assert.match(formatReport(await buildReport([runKeep]), "md"), new RegExp(`\\| ${expected.length} kept \\|`));
});

test("feedback histories hold only pairs whose sides state different preferences on the user's dimension", async () => {
  const data = await Dataset.open(ds);
  const pairs = new Map<string, Pair>();
  for await (const p of data.pairs()) pairs.set(p.id, p);
  const users: SyntheticUser[] = [];
  for await (const u of data.users()) users.push(u);
  const on = (set: Pair["chosenPreferenceSet"], d: string) => set.find((e) => e.dimension === d)!;
  const flat = [...pairs.values()].filter((p) => !contrasts(on(p.chosenPreferenceSet, "style"), on(p.rejectedPreferenceSet, "style")));
  assert.ok(flat.length > 0, "the train pairs include some that do not contrast on style");
  let checked = 0;
  for (const u of users) {
    for (const h of u.history) {
      const p = pairs.get(h.pairId)!;
      assert.ok(contrasts(on(p.chosenPreferenceSet, u.dimension), on(p.rejectedPreferenceSet, u.dimension)), `${u.id}: history pair ${h.pairId} does not contrast on ${u.dimension}`);
      checked++;
    }
  }
  assert.ok(checked > 100);
  const flatIds = new Set(flat.map((p) => p.id));
  const styleUsers = users.filter((u) => u.dimension === "style");
  assert.ok(styleUsers.every((u) => u.history.every((h) => !flatIds.has(h.pairId))));
});
