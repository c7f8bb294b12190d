/**
 * Cost: dated default prices and their precedence, the model's tokenizer, the estimate (caching
 * and batch arithmetic checked by hand), `--estimate` on the CLI (nothing sent, no key needed),
 * and what a finished run records (cache writes, batch discount, the price it used).
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { getEncoding } from "js-tiktoken";
import { resolvePrice, DEFAULT_PRICES, batchPricing } from "../../src/core/cost/prices.js";
import { tokenizerFor, type Tokenizer } from "../../src/core/templates/tokens.js";
import { estimateCost, formatEstimates, totalEstimate, MESSAGE_OVERHEAD_TOKENS } from "../../src/core/cost/estimate.js";
import { buildDataset } from "../../src/core/data/builder.js";
import { planRm } from "../../src/core/eval/rm.js";
import { runBatch, readRunJson } from "../../src/core/eval/runner.js";
import type { Provider, ProviderRequest } from "../../src/core/providers/types.js";
import { main } from "../../src/cli/main.js";
import { FakeApiServer } from "../servers/fake-apis.js";
import { tempDir } from "../helpers/tmp.js";
import { testRunner } from "../helpers/eval.js";

const dir = tempDir();
const ds = path.join(dir, "ds");
before(async () => {
  await buildDataset({ train: "samples/train.jsonl", test: "samples/test.jsonl", out: ds });
});

test("prices: flags beat settings beat dated defaults; snapshots fall back to their alias; unknown stays unknown", () => {
  assert.deepEqual(resolvePrice("openai", "gpt-4o")?.pricing, DEFAULT_PRICES["openai/gpt-4o"]);
  assert.equal(resolvePrice("openai", "gpt-4o-2024-08-06")?.key, "openai/gpt-4o");
  assert.equal(resolvePrice("openai", "gpt-4o-2024-05-13")?.key, "openai/gpt-4o-2024-05-13", "the paper's snapshot has its own price");
  assert.equal(resolvePrice("anthropic", "claude-sonnet-4-5-20250929")?.key, "anthropic/claude-sonnet-4-5");
  assert.equal(resolvePrice("openai", "my-private-model"), undefined);
  assert.equal(resolvePrice("openai-compatible", "gpt-4o"), undefined, "a compatible server's model is never priced as OpenAI's");
  assert.equal(resolvePrice("anthropic", "gpt-4o"), undefined);
  assert.deepEqual(resolvePrice("openai", "gpt-4o", { prices: { "gpt-4o": { input: 9 } } }), { pricing: { input: 9 }, source: "settings", key: "gpt-4o" });
  assert.deepEqual(resolvePrice("openai", "gpt-4o", { flags: { input: 1, output: 2 }, prices: { "gpt-4o": { input: 9 } } })?.source, "flags");
  assert.equal(resolvePrice("llamacpp", "tiny.gguf")?.source, "free");
  const claude = DEFAULT_PRICES["anthropic/claude-sonnet-4-5"]!;
  assert.equal(claude.cachedInput, 0.3);
  assert.equal(claude.cacheWrite, 3.75);
  assert.deepEqual(batchPricing("anthropic", claude), { input: 1.5, output: 7.5, cachedInput: 0.15, cacheWrite: 1.875 });
  assert.equal(batchPricing("openai-compatible", claude), undefined);
});

/** One token per character: makes the arithmetic below exact. */
const charTok: Tokenizer = { name: "chars", exact: true, count: (s) => s.length, countMessages: (ms) => ms.reduce((n, m) => n + m.content.length + MESSAGE_OVERHEAD_TOKENS, 0) };
const req = (history: string, rest: string, maxTokens?: number): { request: ProviderRequest } => ({
  request: { messages: [{ role: "user", content: history + rest, cacheUntil: history.length }], ...(maxTokens ? { params: { maxTokens } } : {}) },
});

test("estimate: cacheable share, reads vs writes per shared prefix, and dollars naive / cached / batch+cached by hand", () => {
  const h1 = "x".repeat(2000);
  const h2 = "y".repeat(2000);
  const short = "z".repeat(500); // below the 1,024-token minimum: never cached
  const requests = [req(h1, "a".repeat(100), 10), req(h1, "b".repeat(100), 10), req(h1, "c".repeat(100), 10), req(h2, "d".repeat(100), 10), req(short, "e".repeat(100), 10)];
  const price = resolvePrice("anthropic", "claude-sonnet-4-5")!;
  const e = estimateCost({ label: "rm", provider: "anthropic", model: "claude-sonnet-4-5", requests, tokenizer: charTok, price });
  const o = MESSAGE_OVERHEAD_TOKENS;
  assert.equal(e.requests, 5);
  assert.equal(e.inputTokens, 4 * (2100 + 2 * o) + (600 + 2 * o), "content, one message's overhead and the reply's");
  assert.equal(e.cacheablePrefixTokens, 4 * (2000 + o) + (500 + o));
  assert.equal(e.cacheWriteTokens, 2 * (2000 + o), "h1 and h2 are each written once");
  assert.equal(e.cacheReadTokens, 2 * (2000 + o), "h1 is read by its second and third prompt");
  assert.equal(e.outputTokens, 50);
  const plain = e.inputTokens - e.cacheReadTokens - e.cacheWriteTokens;
  const naive = (e.inputTokens * 3 + 50 * 15) / 1e6;
  const cached = (plain * 3 + e.cacheReadTokens * 0.3 + e.cacheWriteTokens * 3.75 + 50 * 15) / 1e6;
  assert.ok(Math.abs(e.dollars!.naive - naive) < 1e-12);
  assert.ok(Math.abs(e.dollars!.cached - cached) < 1e-12);
  assert.ok(Math.abs(e.dollars!.batchCached! - cached / 2) < 1e-12);
  // A model without prompt caching gains nothing from it; an unknown price stays unknown.
  const nocache = estimateCost({ label: "x", provider: "openai", model: "gpt-4o-2024-05-13", requests, tokenizer: charTok, price: resolvePrice("openai", "gpt-4o-2024-05-13") });
  assert.equal(nocache.dollars!.cached, nocache.dollars!.naive);
  const unknown = estimateCost({ label: "x", provider: "openai", model: "mystery", requests, tokenizer: charTok, price: undefined });
  assert.equal(unknown.dollars, undefined);
  const table = formatEstimates([e, unknown]);
  assert.match(table, /price unknown/);
  assert.equal(totalEstimate([e, unknown]).dollars, undefined, "a total over an unpriced cell is not a price");
  // Observed output means replace max_tokens when a run exists; no max_tokens at all is flagged.
  assert.equal(estimateCost({ label: "x", provider: "openai", model: "gpt-4o", requests, tokenizer: charTok, price, observedOutputMean: 3.5 }).outputTokens, 18);
  const assumed = estimateCost({ label: "x", provider: "openai", model: "gpt-4o", requests: [req(h1, "q")], tokenizer: charTok, price });
  assert.equal(assumed.outputSource, "assumed");
  assert.match(formatEstimates([assumed]), /assumed/);
});

test("estimate, OpenAI: each prompt reads its longest common prefix with earlier prompts under its prompt_cache_key, in 128-token blocks", () => {
  // Segments (lines) count one token per character, so every prefix length below is by hand.
  const tok: Tokenizer = { ...charTok, segmentsAdd: true };
  const line = (c: string, n: number) => c.repeat(n - 1) + "\n";
  const H = line("h", 1500); // the history: the cache mark is after it
  const I = line("i", 300); // the instruction, shared by the user's four prompts
  const [m0, m1, m2] = [line("a", 500), line("b", 500), line("c", 500)];
  const user = (h: string, a: string, b: string) => req(h, I + a + b, 10);
  const H2 = line("g", 1500);
  const requests = [user(H, m0, m1), user(H, m1, m0), user(H, m0, m2), user(H, m2, m0), user(H2, m0, m1), req(line("s", 600), line("t", 300), 10), req(line("s", 600), line("t", 300), 10)];
  const price = resolvePrice("openai", "gpt-4o")!;
  const e = estimateCost({ label: "rm", provider: "openai", model: "gpt-4o", requests, tokenizer: tok, price });
  const o = MESSAGE_OVERHEAD_TOKENS;
  const hi = o + 1500 + 300; // message start, history, instruction: 1,803 tokens
  const block = (n: number) => Math.floor(n / 128) * 128;
  assert.equal(e.inputTokens, 5 * (2 * o + 2800) + 2 * (2 * o + 900));
  // p1 writes; p2 and p4 share history + instruction with it; p3 also shares response A (m0).
  // H2 is another key: nothing shared. The two short prompts share all but the reply priming, under 1,024.
  assert.equal(e.cacheReadTokens, block(hi) + block(hi + 500) + block(hi));
  assert.equal(block(hi), 1792);
  assert.equal(e.cacheWriteTokens, 0, "OpenAI bills no cache writes");
  assert.equal(e.cacheablePrefixTokens, block(hi + 500) + block(hi) + block(hi + 500) + block(hi));
  // The marked model (what Anthropic does) would read only the history for p2..p4.
  const marked = estimateCost({ label: "rm", provider: "openai", model: "gpt-4o", requests, tokenizer: tok, price, caching: "marked" });
  assert.equal(marked.cacheReadTokens, 3 * (1500 + o));
  // Dollars: reads at gpt-4o's cached price; in the Batch API gpt-4o has no cached-input price, so
  // batch + caching is the batch price of every input token.
  const out = 7 * 10;
  const cached = ((e.inputTokens - e.cacheReadTokens) * 2.5 + e.cacheReadTokens * 1.25 + out * 10) / 1e6;
  assert.ok(Math.abs(e.dollars!.cached - cached) < 1e-12);
  assert.ok(Math.abs(e.dollars!.batchCached! - (e.inputTokens * 1.25 + out * 5) / 1e6) < 1e-12);
  // GPT-5's batch price list has a cached-input price: there the discounts stack.
  const g5 = estimateCost({ label: "rm", provider: "openai", model: "gpt-5", requests, tokenizer: tok, price: resolvePrice("openai", "gpt-5")! });
  assert.ok(Math.abs(g5.dollars!.batchCached! - ((g5.inputTokens - g5.cacheReadTokens) * 0.625 + g5.cacheReadTokens * 0.0625 + out * 5) / 1e6) < 1e-12);
  // A probability verdict read after an answer prefix costs a text verdict's output; without a prefix, one token.
  const prob = (answerPrefix?: string) => requests.map((r) => ({ request: { ...r.request, probabilities: { candidates: ["A", "B"], ...(answerPrefix ? { answerPrefix } : {}) } } }));
  assert.equal(estimateCost({ label: "p", provider: "openai", model: "gpt-4o", requests: prob("[["), tokenizer: tok, price }).outputTokens, 70);
  assert.equal(estimateCost({ label: "p", provider: "openai", model: "gpt-4o", requests: prob(), tokenizer: tok, price }).outputTokens, 7);
  assert.equal(estimateCost({ label: "p", provider: "llamacpp", model: "m", requests: prob("[["), tokenizer: tok, price }).outputTokens, 7, "llama.cpp prefills the prefix");
});

test("prices: OpenAI batch cached input is the batch input price before GPT-5, the batch discount on cachedInput from GPT-5 and for Anthropic", () => {
  assert.deepEqual(batchPricing("openai", DEFAULT_PRICES["openai/gpt-4o"]!), { input: 1.25, output: 5, cachedInput: 1.25, cacheWrite: 1.25 });
  assert.deepEqual(batchPricing("openai", DEFAULT_PRICES["openai/gpt-5"]!), { input: 0.625, output: 5, cachedInput: 0.0625, cacheWrite: 0.625 });
  assert.equal(batchPricing("openai", { input: 2, cachedInput: 1, batchCachedInput: 0.7 })!.cachedInput, 0.7, "a user's batch cached price wins");
});

test("preflab rm --estimate: counts the planned prompts with the model's tokenizer, needs no key, sends and writes nothing", async () => {
  const api = await FakeApiServer.start();
  try {
    const out: string[] = [];
    const io = { out: (s: string) => void out.push(s), err: (s: string) => void out.push(s) };
    const runDir = path.join(dir, "est-rm");
    const env = process.env.OPENAI_API_KEY;
    delete process.env.OPENAI_API_KEY;
    let code: number;
    try {
      code = await main(["rm", ds, "--provider", "openai", "--model", "gpt-4o", "--base-url", api.openaiBaseUrl, "--limit", "3", "--max-tokens", "300", "--out", runDir, "--estimate"], io);
    } finally {
      if (env !== undefined) process.env.OPENAI_API_KEY = env;
    }
    assert.equal(code, 0, out.join(""));
    assert.equal(api.requests.length, 0, "nothing was sent");
    assert.equal(existsSync(runDir), false, "no run folder was made");
    const tokenizer = await tokenizerFor({ provider: "openai", model: "gpt-4o" });
    assert.equal(tokenizer.name, "tiktoken:o200k_base");
    const plan = await planRm(ds, { limit: 3, tokenizer });
    const enc = getEncoding("o200k_base");
    // OpenAI's chat rule (3 tokens per message and 3 for the reply), each message's content
    // encoded whole: the estimate is exact.
    const tok = (x: string) => enc.encode(x, [], []).length;
    const tokens = plan.items.reduce((n, i) => n + 3 + i.request.messages.reduce((m, x) => m + 3 + tok(x.content), 0), 0);
    assert.equal(plan.items.reduce((n, i) => n + tokenizer.countMessages(i.request.messages), 0), tokens);
    const text = out.join("");
    assert.match(text, new RegExp(`rm\\s+openai/gpt-4o\\s+${plan.items.length}\\s+${tokens.toLocaleString("en-US")}\\s`));
    assert.match(text, new RegExp(`${(plan.items.length * 300).toLocaleString("en-US")}`));
    assert.match(text, /\$\d/);
    // Flag prices: a batch cached-input price as OpenAI lists none makes batch + caching half of naive.
    const flagged: string[] = [];
    const prices = ["--price-input", "2.5", "--price-cached-input", "1.25", "--price-output", "10"];
    await main(["rm", ds, "--provider", "openai", "--model", "gpt-4o", "--limit", "3", "--max-tokens", "300", "--out", runDir, "--estimate", ...prices, "--price-batch-cached-input", "1.25"], { out: (s) => void flagged.push(s), err: () => undefined });
    assert.match(flagged.join(""), /\(50\.0%\)/);
    const stacked: string[] = [];
    await main(["rm", ds, "--provider", "openai", "--model", "gpt-4o", "--limit", "3", "--max-tokens", "300", "--out", runDir, "--estimate", ...prices], { out: (s) => void stacked.push(s), err: () => undefined });
    assert.doesNotMatch(stacked.join(""), /\(50\.0%\)/, "without it the discounts stack");
    const unknown: string[] = [];
    await main(["rm", ds, "--provider", "openai", "--model", "not-a-listed-model", "--limit", "1", "--out", runDir, "--estimate"], { out: (s) => void unknown.push(s), err: () => undefined });
    assert.match(unknown.join(""), /price unknown/);
  } finally {
    await api.close();
  }
});

test("run.json after a run: cache writes, batch lines at the batch discount, and the price used", async () => {
  const pricing = { input: 3, output: 15, cachedInput: 0.3, cacheWrite: 3.75 };
  let n = 0;
  const provider: Provider = {
    id: "anthropic",
    model: "claude-test",
    capabilities: { tokenProbabilities: false },
    async call() {
      n++;
      return { text: "ok", usage: { inputTokens: 1000, outputTokens: 10, cachedInputTokens: 400, cacheWriteTokens: 100 }, latencyMs: 1, ...(n % 2 === 0 ? { batch: true } : {}) };
    },
  };
  const runDir = path.join(dir, "priced");
  const items = Array.from({ length: 4 }, (_, i) => ({ id: `i${i}`, request: { messages: [{ role: "user" as const, content: `q${i}` }] } }));
  await runBatch(items, provider, testRunner(runDir, provider, { concurrency: 1, pricing, meta: { provider: "anthropic", model: "claude-test", params: {} } }));
  const rj = (await readRunJson(runDir))!;
  const one = (500 * 3 + 400 * 0.3 + 100 * 3.75 + 10 * 15) / 1e6;
  assert.equal(rj.totals.cacheWriteTokens, 400);
  assert.equal(rj.totals.batchRequests, 2);
  assert.ok(Math.abs(rj.totals.costUsd - (2 * one + 2 * one * 0.5)) < 1e-6);
  assert.ok(Math.abs(rj.totals.batchDiscountUsd - one) < 1e-6);
  assert.deepEqual(rj.pricing, pricing);
  const lines = readFileSync(path.join(runDir, "results.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { batch?: boolean });
  assert.equal(lines.filter((l) => l.batch).length, 2);
});
