/**
 * Fine-tuning exports: every line checked against the formats (zod schemas written from the
 * OpenAI and TRL docs, independent of the exporter), histories retrieved with the builder's rule
 * and never from the example's own pair or instruction, seeded split fractions, the token budget.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { z } from "zod";
import { main } from "../../src/cli/main.js";
import { Dataset } from "../../src/core/data/dataset.js";
import { emptyExampleStats, parseSplit, resolveExampleOptions, trainExamples, TrainPairs, type TrainExample } from "../../src/core/finetune/examples.js";
import { exportFinetuneData, type ExampleIndexLine, type ExportReport } from "../../src/core/finetune/export.js";
import { sampleDataset, synthDataset } from "../fixtures/finetune/datasets.js";
import { readDatasetFiles } from "../fixtures/dataset-files.js";
import { tempDir } from "../helpers/tmp.js";

const dir = tempDir("preflab-ft-export-");

// ---- the formats (OpenAI fine-tuning chat / preference input; TRL dataset formats)
const role = z.enum(["system", "user", "assistant"]);
const message = z.object({ role, content: z.string() }).strict();
const assistantMsg = z.object({ role: z.literal("assistant"), content: z.string().min(1) }).strict();
const promptMsgs = z.array(message).min(1).refine((m) => m.at(-1)!.role === "user", "the prompt ends with the user's turn");
const openaiSft = z
  .object({ messages: z.array(message).min(2) })
  .strict()
  .refine((l) => l.messages.at(-1)!.role === "assistant" && l.messages.at(-2)!.role === "user", "user turn then the assistant's answer");
const openaiDpo = z.object({ input: z.object({ messages: promptMsgs }).strict(), preferred_output: z.array(assistantMsg).length(1), non_preferred_output: z.array(assistantMsg).length(1) }).strict();
const trlSft = openaiSft;
const trlDpo = z.object({ prompt: promptMsgs, chosen: z.array(assistantMsg).length(1), rejected: z.array(assistantMsg).length(1) }).strict();
const trlRm = z
  .object({ chosen: z.array(message).min(2), rejected: z.array(message).min(2) })
  .strict()
  .refine((l) => l.chosen.at(-1)!.role === "assistant" && l.rejected.at(-1)!.role === "assistant", "both end with the assistant's response")
  .refine((l) => JSON.stringify(l.chosen.slice(0, -1)) === JSON.stringify(l.rejected.slice(0, -1)), "the same prompt inside each (implicit prompt)");

const readJsonl = <T>(file: string): T[] =>
  readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);

let sample: string;
let synth: string;
let synthAll: string;
const ready = (async () => {
  sample = await sampleDataset(dir);
  synth = await synthDataset(dir, "synth", 45, { historySize: 5 });
  synthAll = await synthDataset(dir, "synth-all", 30, { historySize: 4, pairs: "all", seed: 3 });
})();

async function allExamples(ds: string, opts: Parameters<typeof resolveExampleOptions>[0] = {}): Promise<TrainExample[]> {
  const d = await Dataset.open(ds);
  const o = resolveExampleOptions(opts, d.manifest);
  const train = await TrainPairs.open(ds, o);
  const out: TrainExample[] = [];
  try {
    for await (const ex of trainExamples(train, o, emptyExampleStats())) out.push(ex);
  } finally {
    await train.close();
  }
  return out;
}

test("the history index rebuilt from pairs.jsonl retrieves exactly the builder's user histories", async () => {
  await ready;
  for (const ds of [sample, synth, synthAll]) {
    const d = await Dataset.open(ds);
    const train = await TrainPairs.open(ds, { seed: d.manifest.seed, historySize: d.manifest.historySize });
    try {
      let users = 0;
      for await (const u of d.users()) {
        const picked = train.index.retrieve({ key: u.id, dimension: u.dimension, entry: { dimension: u.dimension, ...u.preference }, excludePrompts: new Set() }).reverse();
        assert.deepEqual(
          picked.map((p) => [train.pairId(p.pair), p.score]),
          u.history.map((h) => [h.pairId, h.score]),
          `user ${u.id}`,
        );
        users++;
      }
      assert.ok(users > 0);
    } finally {
      await train.close();
    }
  }
});

test("train histories: same subdimension, preference expressed, never the example's own pair or instruction", async () => {
  await ready;
  const pairs = new Map(readDatasetFiles(synth).pairs.map((p) => [p.id, p]));
  const norm = (s: string) => s.trim().replace(/\s+/g, " ").toLowerCase();
  const examples = await allExamples(synth, { perPair: "all" });
  assert.ok(examples.length > pairs.size, "per-pair all gives several dimensions per pair");
  for (const ex of examples) {
    assert.equal(ex.history.length, 5, `${ex.id}: a full history`);
    const triples = new Set<string>();
    for (const h of ex.history) {
      const p = pairs.get(h.pairId)!;
      assert.notEqual(h.pairId, ex.pairId, `${ex.id}: its own pair is in its history`);
      assert.notEqual(p.tripleId, ex.tripleId, `${ex.id}: a pair of its own instruction is in its history`);
      assert.notEqual(h.prompt, ex.prompt);
      assert.ok(!triples.has(p.tripleId), "at most one pair per instruction");
      triples.add(p.tripleId);
      const c = p.chosenPreferenceSet.find((e) => e.dimension === ex.dimension)!;
      const r = p.rejectedPreferenceSet.find((e) => e.dimension === ex.dimension)!;
      assert.equal(norm(c.subdimension), norm(ex.preference.subdimension));
      assert.notEqual(norm(c.preference), norm(r.preference));
    }
    // Oldest first: similarity does not decrease towards the instruction.
    for (let i = 1; i < ex.history.length; i++) assert.ok(ex.history[i]!.score >= ex.history[i - 1]!.score);
    // The pair expresses the dimension it teaches.
    const own = pairs.get(ex.pairId)!;
    assert.notEqual(
      norm(own.chosenPreferenceSet.find((e) => e.dimension === ex.dimension)!.preference),
      norm(own.rejectedPreferenceSet.find((e) => e.dimension === ex.dimension)!.preference),
    );
  }
  // Deterministic per seed; another seed changes the dimension choice and tie-breaks, not the rule.
  const again = await allExamples(synth, { perPair: "all" });
  assert.deepEqual(again, examples);
});

test("splits: seeded, by instruction, round(split x N) instructions in part a", async () => {
  await ready;
  const all = await allExamples(synth, { split: 1 / 3 });
  const byTriple = new Map<string, Set<string>>();
  for (const e of all) byTriple.set(e.tripleId, new Set([...(byTriple.get(e.tripleId) ?? []), e.part]));
  for (const parts of byTriple.values()) assert.equal(parts.size, 1, "a triple's pairs stay in one part");
  const inA = [...byTriple.values()].filter((p) => p.has("a")).length;
  assert.equal(byTriple.size, 45);
  assert.equal(inA, 15);
  for (const [split, expected] of [[0.5, 23], [0.2, 9], [0, 0], [1, 45]] as const) {
    const ex = await allExamples(synth, { split });
    assert.equal(new Set(ex.filter((e) => e.part === "a").map((e) => e.tripleId)).size, expected, `split ${split}`);
  }
  const other = await allExamples(synth, { split: 1 / 3, seed: 7 });
  const aOf = (xs: TrainExample[]) => new Set(xs.filter((e) => e.part === "a").map((e) => e.tripleId));
  assert.notDeepEqual([...aOf(other)].sort(), [...aOf(all)].sort(), "another seed, another split");
  const partB = await allExamples(synth, { part: "b" });
  assert.deepEqual(
    partB.map((e) => e.id),
    all.filter((e) => e.part === "b").map((e) => e.id),
  );
  assert.equal(parseSplit("1/3"), 1 / 3);
  assert.equal(parseSplit("0.25"), 0.25);
  assert.throws(() => parseSplit("3/2"));
});

const FORMATS = [
  ["sft", "openai", openaiSft],
  ["sft", "trl", trlSft],
  ["dpo", "openai", openaiDpo],
  ["dpo", "trl", trlDpo],
  ["rm", "trl", trlRm],
] as const;

for (const [format, target, schema] of FORMATS) {
  test(`export ${format} for ${target}: every line fits the format`, async () => {
    await ready;
    const out = path.join(dir, `exp-${format}-${target}`);
    const report = await exportFinetuneData(sample, { format, target, out });
    const lines = readFileSync(path.join(out, "train.jsonl"), "utf8").split("\n");
    assert.equal(lines.pop(), "", "ends with a newline");
    const index = readJsonl<ExampleIndexLine>(path.join(out, "examples.jsonl"));
    assert.equal(lines.length, report.counts.written);
    assert.equal(index.length, lines.length);
    assert.ok(lines.length > 0);
    const pairs = new Map(readDatasetFiles(sample).pairs.map((p) => [p.id, p]));
    lines.forEach((line, i) => {
      const parsed = schema.safeParse(JSON.parse(line));
      assert.ok(parsed.success, `line ${i + 1}: ${parsed.success ? "" : parsed.error.message}`);
      const o = JSON.parse(line) as Record<string, unknown>;
      const pair = pairs.get(index[i]!.pairId)!;
      const promptMessages = (format === "sft" ? (o.messages as { content: string }[]).slice(0, -1) : format === "dpo" ? (target === "openai" ? (o.input as { messages: { content: string }[] }).messages : (o.prompt as { content: string }[])) : (o.chosen as { content: string }[]).slice(0, -1));
      const prompt = promptMessages.map((m) => m.content).join("\n");
      // The instruction appears once, at the end: never inside its own history.
      assert.equal(prompt.split(pair.prompt).length - 1, 1, `line ${i + 1}: the instruction appears once`);
      assert.ok(prompt.trimEnd().endsWith(pair.prompt.trimEnd()));
      assert.equal((prompt.match(/^Example \d+:$/gm) ?? []).length, index[i]!.historyKept);
      const answer = (format === "sft" ? (o.messages as { content: string }[]).at(-1)! : format === "dpo" ? (target === "openai" ? (o.preferred_output as { content: string }[])[0]! : (o.chosen as { content: string }[])[0]!) : (o.chosen as { content: string }[]).at(-1)!).content;
      assert.equal(answer, pair.chosen);
      if (format !== "sft") {
        const worse = (format === "dpo" ? (target === "openai" ? (o.non_preferred_output as { content: string }[])[0]! : (o.rejected as { content: string }[])[0]!) : (o.rejected as { content: string }[]).at(-1)!).content;
        assert.equal(worse, pair.rejected);
      }
    });
    // Default parts: a (1/3) for sft and rm, b for dpo.
    assert.equal(report.options.part, format === "dpo" ? "b" : "a");
    assert.ok(index.every((e) => e.part === report.options.part));
    assert.equal(report.counts.triples.a, 15);
    assert.equal(report.counts.triples.b, 30);
    assert.deepEqual(readdirSync(out).sort(), ["examples.jsonl", "export.json", "train.jsonl"]);
  });
}

test("token budget: the oldest history pairs are dropped to fit; over-budget examples are left out and reported", async () => {
  await ready;
  const full = await exportFinetuneData(sample, { format: "sft", target: "trl", out: path.join(dir, "budget-full") });
  const tight = await exportFinetuneData(sample, { format: "sft", target: "trl", out: path.join(dir, "budget-tight"), maxInputTokens: 2500 });
  assert.equal(full.history.droppedPairs, 0);
  assert.ok(tight.history.droppedPairs > 0 && tight.history.examplesWithDrops > 0);
  assert.ok(tight.tokens.maxPrompt <= 2500);
  const idx = readJsonl<ExampleIndexLine>(path.join(dir, "budget-tight", "examples.jsonl"));
  assert.equal(idx.reduce((a, e) => a + e.historyDropped, 0), tight.history.droppedPairs);
  for (const e of idx) {
    assert.equal(e.historyKept + e.historyDropped, 10);
    assert.ok(e.promptTokens <= 2500);
  }
  // The newest (most similar) pairs stay: the kept history is the tail of the full one.
  const fullLine = JSON.parse(readFileSync(path.join(dir, "budget-full", "train.jsonl"), "utf8").split("\n")[0]!) as { messages: { content: string }[] };
  const tightLine = JSON.parse(readFileSync(path.join(dir, "budget-tight", "train.jsonl"), "utf8").split("\n")[0]!) as { messages: { content: string }[] };
  const lastExample = (t: string) => t.slice(t.lastIndexOf("## Instruction"), t.indexOf("# END OF EXAMPLES"));
  assert.equal(lastExample(tightLine.messages[0]!.content), lastExample(fullLine.messages[0]!.content));
  const none = await exportFinetuneData(sample, { format: "dpo", target: "openai", out: path.join(dir, "budget-none"), maxInputTokens: 40 });
  assert.equal(none.counts.written, 0);
  assert.equal(none.counts.overBudget, none.counts.examples);
  assert.equal(none.overBudgetIds.length, none.counts.examples);
  assert.equal(readFileSync(path.join(dir, "budget-none", "train.jsonl"), "utf8"), "");
});

test("exports are atomic: an existing folder needs --force; a failed export leaves nothing", async () => {
  await ready;
  const out = path.join(dir, "atomic");
  await exportFinetuneData(sample, { format: "sft", target: "openai", out });
  const before = readFileSync(path.join(out, "train.jsonl"), "utf8");
  await assert.rejects(exportFinetuneData(sample, { format: "dpo", target: "openai", out }), /already exists/);
  assert.equal(readFileSync(path.join(out, "train.jsonl"), "utf8"), before);
  await exportFinetuneData(sample, { format: "dpo", target: "openai", out, force: true });
  assert.notEqual(readFileSync(path.join(out, "train.jsonl"), "utf8"), before);
  await assert.rejects(exportFinetuneData(sample, { format: "rm", target: "openai", out: path.join(dir, "rm-openai") }), /no reward-model method/);
  await assert.rejects(exportFinetuneData(sample, { format: "sft", target: "trl", out: path.join(dir, "bad-template"), template: path.join(dir, "missing.ptpl") }), /not found/);
  assert.ok(!existsSync(path.join(dir, "rm-openai")) && !existsSync(path.join(dir, "bad-template")));
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.includes(".tmp-")),
    [],
  );
});

test("preflab export: the CLI writes the same files and reports counts", async () => {
  await ready;
  let out = "";
  let err = "";
  const io = { out: (t: string) => (out += t), err: (t: string) => (err += t) };
  const code = await main(["export", synth, "--format", "dpo", "--target", "trl", "--out", path.join(dir, "cli-dpo"), "--split", "0.5", "--per-pair", "all", "--json"], io);
  assert.equal(code, 0, err);
  const report = JSON.parse(out) as ExportReport;
  assert.equal(report.options.split, 0.5);
  assert.equal(report.options.part, "b");
  assert.equal(report.counts.triples.a, 23);
  assert.ok(report.counts.examples > report.counts.pairsInParts);
  for (const l of readJsonl(path.join(dir, "cli-dpo", "train.jsonl"))) assert.ok(trlDpo.safeParse(l).success);
  out = "";
  assert.equal(await main(["export", "--help"], io), 0);
  assert.match(out, /--format sft\|dpo\|rm/);
  err = "";
  assert.equal(await main(["export", synth, "--format", "rm", "--target", "openai", "--out", path.join(dir, "x")], io), 2);
  assert.match(err, /needs --target trl/);
});

test("export counts the budget with the base model's tokenizer (--tokenizer openai:MODEL), recorded in export.json", async () => {
  await ready;
  let out = "";
  let err = "";
  const io = { out: (t: string) => (out += t), err: (t: string) => (err += t) };
  const dirOut = path.join(dir, "tok-openai");
  const code = await main(["export", sample, "--format", "sft", "--target", "openai", "--out", dirOut, "--tokenizer", "openai:gpt-4o-mini", "--max-input-tokens", "2500", "--json"], io);
  assert.equal(code, 0, err);
  const report = JSON.parse(out) as ExportReport;
  assert.deepEqual(report.tokenizer, { name: "tiktoken:o200k_base", exact: true });
  const { tokenizerFor } = await import("../../src/core/templates/tokens.js");
  const tok = await tokenizerFor({ provider: "openai", model: "gpt-4o-mini" });
  const lines = readJsonl<{ messages: { role: "user" | "assistant" | "system"; content: string }[] }>(path.join(dirOut, "train.jsonl"));
  const idx = readJsonl<ExampleIndexLine>(path.join(dirOut, "examples.jsonl"));
  for (let i = 0; i < 3; i++) {
    const prompt = lines[i]!.messages.filter((m) => m.role !== "assistant");
    assert.equal(idx[i]!.promptTokens, tok.countMessages(prompt), "the recorded count is the real one");
    assert.ok(idx[i]!.promptTokens <= 2500);
  }
  const estimate = await exportFinetuneData(sample, { format: "sft", target: "openai", out: path.join(dir, "tok-estimate"), maxInputTokens: 2500 });
  assert.deepEqual(estimate.tokenizer, { name: "estimate:chars/4", exact: false });
  err = "";
  assert.equal(await main(["export", sample, "--format", "sft", "--target", "openai", "--out", path.join(dir, "tok-bad"), "--tokenizer", "claude:x"], io), 2);
  assert.match(err, /--tokenizer must be gguf:PATH or openai:MODEL/);
});
