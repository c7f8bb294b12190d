/**
 * Probability verdicts read where the letter is decided, on GGUF models with a real vocabulary:
 * the Llama 3.1 BPE tokenizer (where `[[A]]` is three tokens) with weights rigged to always answer
 * `[[A]]` (or `[[B]]`), written by scripts/make-gguf.ts into a temp dir (~24 MB each, F16).
 * Real inference through node-llama-cpp on the bundled sample dataset, 1 thread.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { writeTinyGguf } from "../../scripts/make-gguf.js";
import { buildDataset } from "../../src/core/data/builder.js";
import { runRm, scoreItems, type RmItem } from "../../src/core/eval/rm.js";
import { readResults } from "../../src/core/eval/runner.js";
import { LlamaCppProvider } from "../../src/core/providers/llamacpp.js";
import { tempDir } from "../helpers/tmp.js";
import { testRunner } from "../helpers/eval.js";

const dir = tempDir("preflab-verdict-");
const ds = path.join(dir, "ds");
const providers: Record<"A" | "B", LlamaCppProvider | undefined> = { A: undefined, B: undefined };
const rigged = { layers: 1, embd: 32, heads: 2, kvHeads: 2, ff: 64, type: "f16", contextLength: 8192, vocabulary: "llama3.1" } as const;

before(async () => {
  await buildDataset({ train: "samples/train.jsonl", test: "samples/test.jsonl", out: ds });
  for (const letter of ["A", "B"] as const) {
    const file = path.join(dir, `rigged-${letter}.gguf`);
    await writeTinyGguf(file, { ...rigged, rig: { verdict: letter } });
    providers[letter] = await LlamaCppProvider.create({ provider: "llamacpp", modelPath: file, gpu: false, threads: 1, contextSize: 8192, sequences: 1, flashAttention: false });
  }
});
after(async () => {
  for (const p of Object.values(providers)) await p?.dispose();
});

test("the real vocabulary splits the verdict into several tokens", () => {
  const t = providers.A!.tokenizer();
  assert.equal(t.count("[[A]]"), 3, "[[, A, ]]");
  assert.equal(t.count("[["), 1);
  assert.equal(t.count(" [["), 1, "' [[' is a token of its own");
  assert.equal(providers.A!.chatWrapperName, "Llama 3");
});

for (const letter of ["A", "B"] as const) {
  test(`a model rigged to answer [[${letter}]]: text and probability verdicts agree on every item`, async () => {
    const provider = providers[letter]!;
    const opts = { limit: 2, maxInputTokens: 6000 };
    const textDir = path.join(dir, `text-${letter}`);
    const probDir = path.join(dir, `prob-${letter}`);
    const text = await runRm(ds, { ...opts, verdict: "text" }, provider, testRunner(textDir, provider, { concurrency: 1, timeoutMs: 120_000 }));
    const prob = await runRm(ds, { ...opts, verdict: "probability" }, provider, testRunner(probDir, provider, { concurrency: 1, timeoutMs: 120_000 }));
    assert.equal(text.summary.totals.failed, 0, JSON.stringify(text.summary.failures[0]));
    assert.equal(prob.summary.totals.failed, 0, JSON.stringify(prob.summary.failures[0]));
    const items = readFileSync(path.join(probDir, "items.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as RmItem);
    assert.equal(items.length, 8, "2 users x 2 pairs x 2 orders");
    const textResults = await readResults(textDir);
    const probResults = await readResults(probDir);
    const textScored = scoreItems(items, textResults, "text");
    const probScored = scoreItems(items, probResults, "probability", { minVerdictMass: 0.5 });
    for (let i = 0; i < items.length; i++) {
      assert.equal(textResults.get(items[i]!.itemId)!.text!.trim(), `[[${letter}]]`, "the model writes the verdict as three tokens");
      assert.equal(textScored[i]!.verdict, letter);
      assert.equal(probScored[i]!.verdict, textScored[i]!.verdict, `item ${items[i]!.itemId}`);
      assert.ok(probScored[i]!.mass! > 0.99, `mass ${probScored[i]!.mass} at the letter position`);
    }
    for (const r of [text.report, prob.report]) {
      assert.equal(r.overall.n, 8);
      assert.equal(r.overall.aRate, letter === "A" ? 1 : 0);
      assert.equal(r.overall.accuracy, 0.5, "a constant letter is right in exactly one of the two orders");
    }
    assert.ok(prob.report.overall.meanVerdictMass! > 0.99);
    assert.equal(text.report.overall.meanVerdictMass, undefined);
    // The verdict prefix comes from the template and is recorded with the run.
    const ev = JSON.parse(readFileSync(path.join(probDir, "eval.json"), "utf8")) as { options: { verdictFormat: unknown; minVerdictMass: number } };
    assert.deepEqual(ev.options.verdictFormat, { prefix: "[[", suffix: "]]" });
    assert.equal(ev.options.minVerdictMass, 0.5);
  });
}

test("read at the first generated position (no prefix), the candidates hold no mass: unparsable, never a guess", async () => {
  const provider = providers.A!;
  const r = await provider.call({ messages: [{ role: "user", content: 'Pick one. Answer "[[A]]" or "[[B]]".' }], probabilities: { candidates: ["A", "B"] } }, {});
  const mass = r.tokenProbabilities!.A! + r.tokenProbabilities!.B!;
  assert.ok(mass < 1e-6, `mass ${mass} at the [[ position`);
  const item = { itemId: "x", userId: "u", tripleId: "t", member: 0, dimension: "style", rejectedMember: 1, order: "ab", chosen: "A", historyKept: 0, historyDropped: 0, promptTokens: 1 } as RmItem;
  const results = new Map([["x", { id: "x", text: r.text, tokenProbabilities: r.tokenProbabilities, usage: r.usage } as never]]);
  const scored = scoreItems([item], results, "probability", { minVerdictMass: 0.5 })[0]!;
  assert.equal(scored.status, "unparsable");
  assert.ok(scored.mass! < 1e-6, "the mass is recorded with the item");
});
