/**
 * Experiments at scale (issue 13):
 * 1. The estimate for the full-scale reward-model evaluation: 3,684 synthetic users x 2 rejected
 *    members x 2 orders = 14,736 prompts, histories of 10 pairs with texts sized like the real
 *    MultiFacet data (responses 1,200-3,200 characters), rendered with the paper's templates under
 *    the 12,800-token budget; dollars naive vs prompt caching vs batch + caching for a GPT-4o-class
 *    and a Claude-class model (goal: batch + caching <= 35% of naive), with text verdicts
 *    (max_tokens 256) and, for GPT-4o, one-token probability verdicts. Counting is exact
 *    (tiktoken) for GPT-4o, approximate for Claude (no public tokenizer).
 * 2. The batch path against its wire-format test server (in this process): 14,736 requests through
 *    the OpenAI Batch API (BatchProvider over the official SDK, the real runner and run log):
 *    submission, polling and result-ingestion time per request, and peak memory.
 *
 *   npx tsx scripts/bench-scale.ts [--users N] [--skip-estimate] [--skip-batch]
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { Rng } from "../src/core/util/rng.js";
import { text } from "./lib/synth-corpus.js";
import { builtinTemplate } from "../src/core/templates/template.js";
import { renderWithBudget } from "../src/core/templates/budget.js";
import { ESTIMATE_TOKENIZER, tokenizerFor } from "../src/core/templates/tokens.js";
import { estimateCost, formatEstimates } from "../src/core/cost/estimate.js";
import { resolvePrice } from "../src/core/cost/prices.js";
import type { ProviderRequest } from "../src/core/providers/types.js";
import { OpenAIProvider } from "../src/core/providers/openai.js";
import { OpenAIBatchBackend } from "../src/core/batch/backend.js";
import { BatchProvider } from "../src/core/batch/provider.js";
import { runBatch, type RunItem } from "../src/core/eval/runner.js";
import { FakeApiServer } from "../test/servers/fake-apis.js";
import { installBatchApis } from "../test/servers/batch-apis.js";
import { BATCH_RUNNER_CONCURRENCY } from "../src/app/batch.js";

const { values } = parseArgs({ options: { users: { type: "string" }, requests: { type: "string" }, "skip-estimate": { type: "boolean" }, "skip-batch": { type: "boolean" } } });
const USERS = Number(values.users ?? 3684);

function fullScaleRequests(users: number): { request: ProviderRequest }[] {
  const rng = new Rng(13, "bench-scale");
  const between = (lo: number, hi: number) => lo + rng.int(hi - lo);
  const tpl = builtinTemplate("reward-model");
  const htpl = builtinTemplate("history");
  const out: { request: ProviderRequest }[] = [];
  for (let u = 0; u < users; u++) {
    const history = Array.from({ length: 10 }, () => ({ prompt: text(rng, between(80, 700)), chosen: text(rng, between(1200, 3200)), rejected: text(rng, between(1200, 3200)) }));
    const instruction = text(rng, between(80, 700));
    const members = [text(rng, between(1200, 3200)), text(rng, between(1200, 3200)), text(rng, between(1200, 3200))];
    for (const k of [1, 2]) {
      for (const order of ["ab", "ba"]) {
        const [a, b] = order === "ab" ? [members[0]!, members[k]!] : [members[k]!, members[0]!];
        const p = renderWithBudget(tpl, htpl, history, { instruction, response_a: a, response_b: b }, 12_800, ESTIMATE_TOKENIZER);
        out.push({ request: { messages: p.messages, sequenceKey: `u${u}`, params: { maxTokens: 256 } } });
      }
    }
  }
  return out;
}

async function benchEstimate(): Promise<void> {
  let t0 = performance.now();
  const requests = fullScaleRequests(USERS);
  console.log(`planned ${requests.length.toLocaleString("en-US")} prompts for ${USERS.toLocaleString("en-US")} users in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const rows = [];
  for (const [provider, model] of [
    ["anthropic", "claude-sonnet-4-5"],
    ["openai", "gpt-4o"],
  ] as const) {
    const tokenizer = await tokenizerFor({ provider, model });
    t0 = performance.now();
    const e = estimateCost({ label: `rm ${model}`, provider, model, requests, tokenizer, price: resolvePrice(provider, model) });
    const s = (performance.now() - t0) / 1000;
    rows.push(e);
    const d = e.dollars!;
    console.log(`${provider}/${model} (${tokenizer.name}): estimate took ${s.toFixed(1)} s; naive $${d.naive.toFixed(0)}, cached $${d.cached.toFixed(0)} (${((100 * d.cached) / d.naive).toFixed(1)}%), batch+cached $${d.batchCached!.toFixed(0)} (${((100 * d.batchCached!) / d.naive).toFixed(1)}% of naive; goal <= 35%)`);
    if (provider === "openai") {
      const prob = requests.map((r) => ({ request: { ...r.request, probabilities: { candidates: ["A", "B"] } } }));
      const p = estimateCost({ label: `rm ${model} probability`, provider, model, requests: prob, tokenizer, price: resolvePrice(provider, model) });
      rows.push(p);
      const pd = p.dollars!;
      console.log(`${provider}/${model} with probability verdicts (1 output token): naive $${pd.naive.toFixed(0)}, batch+cached $${pd.batchCached!.toFixed(0)} (${((100 * pd.batchCached!) / pd.naive).toFixed(1)}% of naive)`);
    }
  }
  console.log(formatEstimates(rows));
}

async function benchBatch(n: number): Promise<void> {
  const api = await FakeApiServer.start({ chat: () => ({ text: "[[A]]", completionTokens: 3 }), record: false });
  const batches = installBatchApis(api);
  const dir = await mkdtemp(path.join(os.tmpdir(), "preflab-bench-batch-"));
  try {
    const config = { provider: "openai" as const, model: "gpt-4o", apiKey: "sk-bench-key", baseUrl: api.openaiBaseUrl, maxTokens: 16 };
    const inner = new OpenAIProvider(config, "openai");
    let ended = 0;
    const start = performance.now();
    const cpu0 = process.cpuUsage();
    const bp = await BatchProvider.create(inner, new OpenAIBatchBackend(config), {
      runDir: dir,
      pollMs: 100,
      collectMs: 50,
      onProgress: (p) => {
        if (p.status === "completed" && !ended) ended = performance.now();
      },
    });
    const rng = new Rng(7, "batch");
    const items: RunItem[] = Array.from({ length: n }, (_, i) => ({
      id: `te-${(i >> 2).toString(16).padStart(12, "0")}.0.style.vs${1 + ((i >> 1) & 1)}.${i & 1 ? "ba" : "ab"}`,
      request: { messages: [{ role: "user" as const, content: text(rng, 1000) }] },
    }));
    const s = await runBatch(items, bp, { concurrency: BATCH_RUNNER_CONCURRENCY, timeoutMs: 3_600_000, maxRetries: 2, cacheDir: false, runDir: dir, meta: { provider: "openai", model: "gpt-4o", params: { maxTokens: 16 } } });
    await bp.dispose();
    const total = performance.now() - start;
    const cpu = process.cpuUsage(cpu0);
    const created = batches.batches.size;
    const b = [...batches.batches.values()][0]!;
    const submitMs = b.createdAt - (start + performance.timeOrigin);
    const ingestMs = performance.now() - ended - (performance.now() - start - total);
    const per = (ms: number) => `${((ms * 1000) / n).toFixed(1)} µs/request`;
    console.log(`batch path: ${n.toLocaleString("en-US")} requests, ${created} batch(es), status ${s.status}, ${s.totals.done} done, ${s.totals.failed} failed`);
    console.log(`  submission (collect, JSONL, upload, create): ${(submitMs / 1000).toFixed(2)} s = ${per(submitMs)}`);
    console.log(`  polling: ${b.polls} polls of one batch (server answered every request on the first)`);
    console.log(`  ingestion (download output file, parse, hand to the runner, append results.jsonl): ${(ingestMs / 1000).toFixed(2)} s = ${per(ingestMs)}`);
    console.log(`  total wall ${(total / 1000).toFixed(2)} s; process CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s (client and in-process server) = ${per((cpu.user + cpu.system) / 1000)}`);
    console.log(`  peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (client and in-process server)`);
  } finally {
    await api.close();
    await rm(dir, { recursive: true, force: true });
  }
}

void (async () => {
  if (!values["skip-batch"]) await benchBatch(Number(values.requests ?? 14_736));
  if (!values["skip-estimate"]) await benchEstimate();
})();
