/**
 * Rows of the paper's tables that need a protocol choice: the "with preference" upper bound
 * (`--oracle`, {{preference}}) for rm and generate, and the without-H prompt of fine-tuned models
 * (`--plain-template b2-empty`). Each choice changes what is sent, is recorded in eval.json and
 * run.json params.protocol, and labels the row in reports.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { buildDataset } from "../../src/core/data/builder.js";
import { Dataset } from "../../src/core/data/dataset.js";
import type { SyntheticUser, Triple } from "../../src/core/data/types.js";
import { planRm, runRm } from "../../src/core/eval/rm.js";
import { planGeneration, runGeneration } from "../../src/core/eval/generation.js";
import { runJudge } from "../../src/core/eval/judge.js";
import { readRunJson } from "../../src/core/eval/runner.js";
import { buildReport, formatReport } from "../../src/core/metrics/report.js";
import { parseTemplate } from "../../src/core/templates/template.js";
import { KINDS } from "../../src/core/templates/kinds.js";
import { main } from "../../src/cli/main.js";
import { tempDir } from "../helpers/tmp.js";
import { lastMessage, scriptedProvider, testRunner } from "../helpers/eval.js";

const dir = tempDir();
const ds = path.join(dir, "ds");
const readJsonl = <T>(f: string): T[] => readFileSync(f, "utf8").trim().split("\n").map((l) => JSON.parse(l) as T);
async function allUsers(): Promise<Map<string, SyntheticUser>> {
  const out = new Map<string, SyntheticUser>();
  for await (const u of (await Dataset.open(ds)).users()) out.set(u.id, u);
  return out;
}

before(async () => {
  await buildDataset({ train: "samples/train.jsonl", test: "samples/test.jsonl", out: ds });
});

test("rm --oracle: the prompt states the user's preference instead of the history; recorded and labelled", async () => {
  const users = await allUsers();
  const plan = await planRm(ds, { oracle: true, limit: 4 });
  assert.equal(plan.items.length, 4 * 2 * 2);
  for (const [i, item] of plan.items.entries()) {
    const u = users.get(plan.meta[i]!.userId)!;
    const text = lastMessage(item.request);
    assert.ok(text.includes(`# USER PREFERENCE\n${u.preference.preference}: ${u.preference.description}\n# END OF USER PREFERENCE`), text.slice(0, 400));
    assert.ok(!text.includes("# START OF EXAMPLES"), "no feedback history");
    assert.ok(u.history.length > 0 && u.history.every((h) => typeof h.chosen === "string" && !text.includes(h.chosen)), "no history response leaks in");
    assert.equal(item.request.task!.history.length, 0);
  }
  // A template that states the preference cannot run as an ordinary (non-oracle) run, and --oracle needs one that does.
  await assert.rejects(planRm(ds, { template: "src/core/templates/builtin/reward-model-oracle.ptpl" }), /uses \{\{preference\}\}.*pass --oracle/);
  await assert.rejects(planRm(ds, { oracle: true, template: "src/core/templates/builtin/reward-model.ptpl" }), /--oracle needs a template with \{\{preference\}\}/);

  // The model says A when the stated preference's first word appears more often in A than in B.
  const provider = scriptedProvider("openai", "gpt-oracle", (r) => {
    const p = lastMessage(r);
    const pref = p.slice(p.indexOf("# USER PREFERENCE\n") + 18).split(/[\s:]/)[0]!.toLowerCase();
    const count = (s: string) => s.toLowerCase().split(pref).length;
    const a = p.slice(p.indexOf("###Response A:"), p.indexOf("###End of Response A"));
    const b = p.slice(p.indexOf("###Response B:"), p.indexOf("###End of Response B"));
    return count(a) >= count(b) ? "[[A]]" : "[[B]]";
  });
  const runDir = path.join(dir, "rm-oracle");
  await runRm(ds, { oracle: true, limit: 8 }, provider, testRunner(runDir, provider));
  const rj = await readRunJson(runDir);
  assert.equal((rj!.params as { protocol: { oracle: boolean } }).protocol.oracle, true);
  const plain = path.join(dir, "rm-plain");
  await runRm(ds, { limit: 8 }, scriptedProvider("openai", "gpt-oracle", () => "[[A]]"), testRunner(plain, provider));
  const text = formatReport(await buildReport([plain, runDir]), "text");
  const rows = text.split("\n").filter((l) => l.startsWith("rm-"));
  assert.ok(rows.some((l) => /^rm-oracle \(openai\/gpt-oracle\) \[w\/ preference\]\s+\d/.test(l)), text);
  assert.ok(rows.some((l) => /^rm-plain \(openai\/gpt-oracle\)\s+\d/.test(l)), text);
});

test("generate --oracle and --plain-template bare|b2-empty: what is sent, recorded per run, labelled through the judge", async () => {
  const triples = new Map(readJsonl<Triple>(path.join(ds, "triples.jsonl")).map((t) => [t.id, t]));
  const bare = await planGeneration(ds, { limit: 3 });
  const b2 = await planGeneration(ds, { limit: 3, plainTemplate: "b2-empty" });
  const noh = (p: typeof bare) => p.items.filter((i) => i.id.endsWith(".noh"));
  assert.equal(noh(bare).length, 1);
  const t = triples.get(bare.meta.find((m) => !m.withHistory)!.tripleId)!;
  assert.deepEqual(noh(bare)[0]!.request.messages.map((m) => m.content), [t.prompt]);
  const b2Text = lastMessage(noh(b2)[0]!.request);
  assert.ok(b2Text.startsWith("# Goal\nYour goal is to generate responses that adhere to preferences of the user."));
  assert.ok(b2Text.includes("# START OF EXAMPLES\n\n# END OF EXAMPLES"), "B.2 with an empty history");
  assert.ok(b2Text.endsWith(`# Instruction\n${t.prompt}`));
  assert.equal(b2.evalJson.options.plainTemplate, "b2-empty");
  assert.equal(bare.evalJson.options.plainTemplate, "bare");
  // With-H prompts are the same either way.
  assert.deepEqual(b2.items.filter((i) => i.id.endsWith(".h")), bare.items.filter((i) => i.id.endsWith(".h")));

  const oracle = await planGeneration(ds, { limit: 3, oracle: true, plainTemplate: "b2-empty" });
  const users = await allUsers();
  for (const m of oracle.meta.filter((x) => x.withHistory)) {
    const text = lastMessage(oracle.items.find((i) => i.id === m.itemId)!.request);
    const u = users.get(m.userId!)!;
    assert.ok(text.includes(`# USER PREFERENCE\n${u.preference.preference}: ${u.preference.description}\n`));
    assert.ok(!text.includes("# START OF EXAMPLES"));
  }
  assert.equal(lastMessage(noh(oracle)[0]!.request), b2Text, "b2-empty stays the B.2 template in an oracle run");

  const gen = scriptedProvider("openai-compatible", "sft-mistral", (r) => `answer to ${lastMessage(r).length}`);
  const genDir = path.join(dir, "gen-b2");
  await runGeneration(ds, { limit: 3, plainTemplate: "b2-empty", oracle: true }, gen, testRunner(genDir, gen));
  const rj = await readRunJson(genDir);
  {
    const want: Record<string, unknown> = { plainTemplate: "b2-empty", oracle: true };
    const got = (rj!.params as { protocol: Record<string, unknown> }).protocol;
    assert.deepEqual(Object.fromEntries(Object.keys(want).map((k) => [k, got[k]])), want);
  }
  const judge = scriptedProvider("openai", "gpt-judge", () => "Feedback: ok [RESULT] 3");
  const judgeDir = path.join(dir, "judge-b2");
  await runJudge(genDir, {}, judge, testRunner(judgeDir, judge));
  const text = formatReport(await buildReport([judgeDir]), "md");
  assert.match(text, /judge-b2 \(openai-compatible\/sft-mistral\) \[w\/ preference; without H = B\.2, empty history\]/);
});

test("the CLI takes --plain-template b2-empty and --oracle; {{preference}} is a placeholder of rm and generation templates", async () => {
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s) };
  const code = await main(["generate", ds, "--provider", "baseline", "--out", path.join(dir, "cli-gen"), "--limit", "1", "--plain-template", "b2-empty", "--oracle"], io);
  // The baseline reads structured pairs only: generation is refused, after the flags were accepted.
  assert.equal(code, 1, err.join(""));
  const ev = JSON.parse(readFileSync(path.join(dir, "cli-gen", "eval.json"), "utf8")) as { options: { plainTemplate: string; oracle: boolean } };
  assert.equal(ev.options.plainTemplate, "b2-empty");
  assert.equal(ev.options.oracle, true);
  assert.ok(KINDS["reward-model"].placeholders.preference && KINDS.generation.placeholders.preference);
  const rmNoUser = parseTemplate("---\nkind: reward-model\nname: x\n---\n{{instruction}} {{response_a}} {{response_b}} [[A]] [[B]]");
  assert.ok(rmNoUser.diagnostics.some((d) => d.code === "missing-placeholder" && /\{\{feedback_history\}\} or \{\{preference\}\}/.test(d.message)));
  const rmPref = parseTemplate("---\nkind: reward-model\nname: x\n---\n{{preference}} {{instruction}} {{response_a}} {{response_b}} [[A]] [[B]]");
  assert.deepEqual(rmPref.diagnostics, []);
});
