/**
 * Experiments at scale (issue 13):
 * 1. The estimate for the full-scale reward-model evaluation: 3,684 synthetic users x 2 rejected
 *    members x 2 orders = 14,736 prompts, histories of 10 pairs with texts sized like the real
 *    MultiFacet data (responses 1,200-3,200 characters), rendered with the paper's templates under
 *    the 12,800-token budget (counted with the model's tokenizer, one history per user, as
 *    `preflab rm` plans); dollars naive vs prompt caching vs batch + caching for a GPT-4o-class
 *    and a Claude-class model (goal: batch + caching <= 35% of naive), and GPT-5 (whose batch
 *    prices include cached input), with text verdicts (max_tokens 256) and, for GPT-4o,
 *    probability verdicts (with the "[[" prefix, as rm sends them, and with none: one token).
 *    Counting is exact (tiktoken) for OpenAI, approximate for Claude (no public tokenizer).
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
import { renderWithSharedBudget } from "../src/core/templates/budget.js";
import { tokenizerFor, type Tokenizer } from "../src/core/templates/tokens.js";
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

/**
 * The full-scale rm prompts, rendered as `preflab rm` renders them for the model (planRm): the
 * budget counted with the model's tokenizer, and one history per user (renderWithSharedBudget).
 */
function fullScaleRequests(users: number, tokenizer: Tokenizer): { request: ProviderRequest }[] {
  const rng = new Rng(13, "bench-scale");
  const between = (lo: number, hi: number) => lo + rng.int(hi - lo);
  const tpl = builtinTemplate("reward-model");
  const htpl = builtinTemplate("history");
  const out: { request: ProviderRequest }[] = [];
  for (let u = 0; u < users; u++) {
    const history = Array.from({ length: 10 }, () => ({ prompt: text(rng, between(80, 700)), chosen: text(rng, between(1200, 3200)), rejected: text(rng, between(1200, 3200)) }));
    const instruction = text(rng, between(80, 700));
    const members = [text(rng, between(1200, 3200)), text(rng, between(1200, 3200)), text(rng, between(1200, 3200))];
    const values = [1, 2].flatMap((k) => ["ab", "ba"].map((order) => (order === "ab" ? { instruction, response_a: members[0]!, response_b: members[k]! } : { instruction, response_a: members[k]!, response_b: members[0]! })));
    for (const p of renderWithSharedBudget(tpl, htpl, history, values, 12_800, tokenizer)) {
      if (!p.overBudget) out.push({ request: { messages: p.messages, sequenceKey: `u${u}`, params: { maxTokens: 256 } } });
    }
  }
  return out;
}

async function benchEstimate(): Promise<void> {
  const rows = [];
  const planned = new Map<string, { request: ProviderRequest }[]>();
  // GPT-5: the OpenAI family whose batch price list has a cached-input price (the discounts stack).
  for (const [provider, model] of [
    ["anthropic", "claude-sonnet-4-5"],
    ["openai", "gpt-4o"],
    ["openai", "gpt-5"],
  ] as const) {
    const tokenizer = await tokenizerFor({ provider, model });
    let t0 = performance.now();
    let requests = planned.get(tokenizer.name);
    if (!requests) {
      planned.set(tokenizer.name, (requests = fullScaleRequests(USERS, tokenizer)));
      console.log(`${provider}/${model}: planned ${requests.length.toLocaleString("en-US")} prompts for ${USERS.toLocaleString("en-US")} users (budget counted with ${tokenizer.name}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    t0 = performance.now();
    const e = estimateCost({ label: `rm ${model}`, provider, model, requests, tokenizer, price: resolvePrice(provider, model) });
    const s = (performance.now() - t0) / 1000;
    rows.push(e);
    const d = e.dollars!;
    console.log(`${provider}/${model} (${tokenizer.name}): estimate took ${s.toFixed(1)} s; naive $${d.naive.toFixed(0)}, cached $${d.cached.toFixed(0)} (${((100 * d.cached) / d.naive).toFixed(1)}%), batch+cached $${d.batchCached!.toFixed(0)} (${((100 * d.batchCached!) / d.naive).toFixed(1)}% of naive; goal <= 35%)`);
    if (model === "gpt-4o") {
      // rm --verdict probability: the verdict prefix "[[" is read from the model's own text, so the
      // output is as long as a text verdict's; without a prefix it is one token.
      const variants: [string, NonNullable<ProviderRequest["probabilities"]>][] = [
        ["probability", { candidates: ["A", "B"], answerPrefix: "[[" }],
        ["probability, no prefix", { candidates: ["A", "B"] }],
      ];
      for (const [label, probabilities] of variants) {
        const prob = requests.map((r) => ({ request: { ...r.request, probabilities } }));
        const p = estimateCost({ label: `rm ${model} ${label}`, provider, model, requests: prob, tokenizer, price: resolvePrice(provider, model) });
        rows.push(p);
        const pd = p.dollars!;
        console.log(`${provider}/${model} with ${label} verdicts (${p.outputTokens.toLocaleString("en-US")} output tokens): naive $${pd.naive.toFixed(0)}, batch+cached $${pd.batchCached!.toFixed(0)} (${((100 * pd.batchCached!) / pd.naive).toFixed(1)}% of naive)`);
      }
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
