/**
 * End-to-end evaluations on the bundled sample through the production code paths: the real
 * OpenAI SDK against the wire-format test server, the baseline provider, and the CLI.
 */
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { buildDataset } from "../../src/core/data/builder.js";
import { runRm, planRm } from "../../src/core/eval/rm.js";
import { runGeneration } from "../../src/core/eval/generation.js";
import { runJudge, steerabilityOf, type JudgeResultLine } from "../../src/core/eval/judge.js";
import { buildReport } from "../../src/core/metrics/report.js";
import { compareRuns } from "../../src/core/metrics/compare.js";
import { createProvider } from "../../src/core/providers/registry.js";
import type { Provider } from "../../src/core/providers/types.js";
import { readResults } from "../../src/core/eval/runner.js";
import { main } from "../../src/cli/main.js";
import { FakeApiServer, type ChatBody } from "../servers/fake-apis.js";
import { tempDir } from "../helpers/tmp.js";
import { testRunner } from "../helpers/eval.js";

const dir = tempDir();
const ds = path.join(dir, "ds");
let api: FakeApiServer;
const runner = (runDir: string, provider: Provider) => testRunner(runDir, provider, { concurrency: 4, maxRetries: 2, backoff: { baseMs: 1, maxMs: 5 } });
const lastUser = (b: ChatBody) => String(b.messages!.at(-1)!.content);
const between = (s: string, a: string, b: string) => s.slice(s.indexOf(a) + a.length, s.indexOf(b, s.indexOf(a)));

async function openai(): Promise<Provider> {
  return createProvider({ provider: "openai", model: "gpt-test", apiKey: "sk-test-key", baseUrl: api.openaiBaseUrl });
}

before(async () => {
  api = await FakeApiServer.start();
  await buildDataset({ train: "samples/train.jsonl", test: "samples/test.jsonl", out: ds });
});
after(() => api.close());

test("reward-model run: verdicts parsed, unparsable counted, faults retried, accuracy as hand-computed", async () => {
  // The fake judge prefers the shorter response; one in seven answers is unparsable; the first call is a 500.
  let calls = 0;
  api.chat = (b) => {
    calls++;
    const p = lastUser(b);
    const a = between(p, "###Response A:\n", "\n\n###End of Response A");
    const bb = between(p, "###Response B:\n", "\n\n###End of Response B");
    if (a.length % 7 === 0) return { text: "I cannot decide." };
    return { text: `Reasoning... first [[B]] then finally ${a.length <= bb.length ? "[[A]]" : "[[B]]"}` };
  };
  api.faults.push({ kind: "status", status: 500 });
  const provider = await openai();
  const runDir = path.join(dir, "rm-openai");
  const { report, summary } = await runRm(ds, { limit: 12 }, provider, runner(runDir, provider));
  assert.equal(summary.totals.failed, 0, JSON.stringify(summary.failures[0]));
  assert.equal(summary.totals.items, 12 * 4, "12 users x 2 pairs x 2 orders");
  // Hand computation from the plan and the same rule.
  const plan = await planRm(ds, { limit: 12 });
  const triples = new Map(readFileSync(path.join(ds, "triples.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).map((t) => [t.id, t]));
  let correct = 0;
  let parsed = 0;
  let unparsable = 0;
  for (const m of plan.meta) {
    const t = triples.get(m.tripleId);
    const chosen = t.members[m.member].response as string;
    const rejected = t.members[m.rejectedMember].response as string;
    const [a, b] = m.order === "ab" ? [chosen, rejected] : [rejected, chosen];
    if (a.length % 7 === 0) {
      unparsable++;
      continue;
    }
    parsed++;
    if ((a.length <= b.length ? "A" : "B") === m.chosen) correct++;
  }
  const style = report.byDimension.style!;
  const all = report.overall;
  assert.equal(all.n, parsed);
  assert.equal(all.unparsable, unparsable);
  assert.ok(Math.abs(all.accuracy - correct / parsed) < 0.02, `${all.accuracy} vs ${correct / parsed}`);
  assert.ok(style.ci[0] <= style.accuracy && style.accuracy <= style.ci[1]);
  assert.equal(calls, 48, "one answer per item");
  assert.equal(api.requests.length, 49, "the 500 was retried once");
  // Item ids keep a pair's two orders together and users are whole under --limit.
  const ids = plan.meta.map((m) => m.itemId);
  for (const m of plan.meta) assert.ok(ids.includes(m.itemId.replace(/\.(ab|ba)$/, m.order === "ab" ? ".ba" : ".ab")));
  assert.equal(new Set(plan.meta.map((m) => m.userId)).size, 12);
  // Requests carry the user's history; the run records provenance without the key.
  const run = readFileSync(path.join(runDir, "run.json"), "utf8");
  assert.match(run, /"templateHash": "[0-9a-f]{64}"/);
  assert.match(run, /"datasetManifestHash": "[0-9a-f]{64}"/);
  assert.match(run, /"seed": 0/, "the dataset's build seed is the run's seed");
  for (const f of ["run.json", "results.jsonl", "eval.json", "items.jsonl"]) assert.ok(!readFileSync(path.join(runDir, f), "utf8").includes("sk-test-key"), f);
  assert.match(lastUser(api.requests.at(-1)!.body as ChatBody), /# START OF EXAMPLES\nExample 1:\n## Instruction\n/);
});

test("probability verdicts read P(A) vs P(B) from OpenAI logprobs; providers without them are refused", async () => {
  // The model explains, then writes the verdict: "[[" and the letter are separate tokens, and the
  // first generated token ("Response") says nothing about A vs B.
  let n = 0;
  api.chat = (b) => {
    assert.equal(b.logprobs, true);
    assert.equal(b.max_completion_tokens, undefined, "room to explain before the verdict");
    assert.match(lastUser(b), /Let's think step by step\.$/, "the paper's prompt, unchanged");
    const low = n++ % 4 === 3; // every fourth item: the model hesitates between a letter and something else
    const top = low
      ? [{ token: "C", logprob: Math.log(0.6) }, { token: "B", logprob: Math.log(0.3) }, { token: "A", logprob: Math.log(0.1) }]
      : [{ token: "A", logprob: Math.log(0.7) }, { token: "B", logprob: Math.log(0.2) }];
    return {
      text: "Response A is better. [[A]]",
      logprobs: [
        { token: "Response", logprob: -0.1, top: [{ token: "Response", logprob: -0.1 }, { token: "B", logprob: Math.log(0.05) }] },
        { token: " A", logprob: -0.1, top: [{ token: " A", logprob: -0.1 }, { token: " B", logprob: -2.4 }] },
        { token: " is", logprob: -0.1 },
        { token: " better", logprob: -0.1 },
        { token: ".", logprob: -0.1 },
        { token: " [[", logprob: -0.1 },
        { token: "A", logprob: top[0]!.logprob, top },
        { token: "]]", logprob: -0.01 },
      ],
    };
  };
  const provider = await openai();
  const { report } = await runRm(ds, { limit: 3, verdict: "probability" }, provider, runner(path.join(dir, "rm-prob"), provider));
  assert.equal(report.overall.unparsable, 3, "P(A) + P(B) = 0.4 < 0.5: unparsable, not a guess");
  assert.equal(report.overall.n, 9);
  assert.equal(report.overall.aRate, 1);
  assert.ok(Math.abs(report.overall.meanVerdictMass! - (9 * 0.9 + 3 * 0.4) / 12) < 1e-9, String(report.overall.meanVerdictMass));
  assert.ok(Math.abs(report.overall.meanChosenProbability! - (0.5 * 0.7 / 0.9 + 0.5 * 0.2 / 0.9)) < 0.1);
  const anthropic = await createProvider({ provider: "anthropic", model: "claude-test", apiKey: "k", baseUrl: api.anthropicBaseUrl });
  await assert.rejects(runRm(ds, { limit: 1, verdict: "probability" }, anthropic, runner(path.join(dir, "rm-anth"), anthropic)), /cannot give next-token probabilities/);
});

test("sampling defaults per provider (paper appendix A): open models at 0.9, overridable, recorded in run.json", async () => {
  api.chat = () => ({ text: "ok" });
  const compat = await createProvider({ provider: "openai-compatible", model: "llama-3-8b", baseUrl: api.openaiBaseUrl });
  const before = api.requests.length;
  const d1 = path.join(dir, "gen-compat");
  await runGeneration(ds, { limit: 1, history: "with" }, compat, runner(d1, compat));
  const sent = api.requests.slice(before).map((r) => (r.body as { temperature?: number }).temperature);
  assert.ok(sent.length > 0 && sent.every((t) => t === 0.9), JSON.stringify(sent));
  const run1 = JSON.parse(readFileSync(path.join(d1, "run.json"), "utf8")) as { params: { protocol: { sampling: unknown } } };
  assert.deepEqual(run1.params.protocol.sampling, { temperature: 0.9, source: "paper-default" });
  const mark = api.requests.length;
  const d2 = path.join(dir, "gen-compat-t");
  await runGeneration(ds, { limit: 1, history: "with", params: { temperature: 0.2 } }, compat, runner(d2, compat));
  assert.ok(api.requests.slice(mark).every((r) => (r.body as { temperature?: number }).temperature === 0.2));
  const run2 = JSON.parse(readFileSync(path.join(d2, "run.json"), "utf8")) as { params: { protocol: { sampling: unknown } } };
  assert.deepEqual(run2.params.protocol.sampling, { temperature: 0.2, source: "set" });
  const anthropic = await createProvider({ provider: "anthropic", model: "claude-test", apiKey: "k", baseUrl: api.anthropicBaseUrl });
  const d3 = path.join(dir, "gen-anth");
  await runGeneration(ds, { limit: 1, history: "with" }, anthropic, runner(d3, anthropic));
  const run3 = JSON.parse(readFileSync(path.join(d3, "run.json"), "utf8")) as { params: { protocol: { sampling: unknown } } };
  assert.deepEqual(run3.params.protocol.sampling, { temperature: "api-default", source: "api-rejects-temperature" });
});

test("the baseline beats 50% on style on the sample, with a CI that excludes 50%", async () => {
  const provider = await createProvider({ provider: "baseline" });
  const { report } = await runRm(ds, {}, provider, runner(path.join(dir, "rm-baseline"), provider));
  const s = report.byDimension.style!;
  assert.ok(s.accuracy > 0.5 && s.ci[0] > 0.5, JSON.stringify(s));
  assert.equal(report.overall.unparsable, 0);
  assert.equal(Object.keys(report.byDimension).length, 4);
});

test("generation with and without history, judged with messy formats, retried when unscored, Table 2 as hand-computed", async () => {
  api.chat = (b) => {
    const p = lastUser(b);
    return { text: p.includes("# START OF EXAMPLES") ? `Personalised answer (${p.length})` : "Plain answer" };
  };
  const gen = await openai();
  const genDir = path.join(dir, "gen");
  const before = api.requests.length;
  // A tight input budget: some histories are cut, and Table 2 says how many.
  const gs = await runGeneration(ds, { limit: 6, maxInputTokens: 3000 }, gen, runner(genDir, gen));
  assert.equal(gs.totals.failed, 0);
  const genReq = api.requests.slice(before).filter((r) => lastUser(r.body as ChatBody).includes("# START OF EXAMPLES"));
  assert.ok(genReq.length >= 6);
  // Paper appendix A: GPT-4o at the API's default settings (no temperature sent), recorded as such.
  assert.equal((genReq[0]!.body as { temperature?: number }).temperature, undefined, "openai: API default temperature");
  const genRun = JSON.parse(readFileSync(path.join(genDir, "run.json"), "utf8")) as { params: { protocol: { sampling: unknown } } };
  assert.deepEqual(genRun.params.protocol.sampling, { temperature: "api-default", source: "api-default" });

  // Judge: personalised answers score by a messy format, plain answers 2; one rubric never gets a score.
  const seen = new Map<string, number>();
  const formats = ["Feedback: ok [RESULT] 4/5", "Feedback: ok\nScore: 4", "Feedback: fine [RESULT] (4)", "[Result] Result: 4"];
  api.chat = (b) => {
    const p = lastUser(b);
    const n = (seen.get(p) ?? 0) + 1;
    seen.set(p, n);
    const response = between(p, "###Response to evaluate:\n", "\n\n###Reference Answer");
    if (response.startsWith("Plain")) return { text: n === 1 ? "The response is fine." : "Feedback: generic. [RESULT] 2" };
    return { text: formats[p.length % formats.length]! };
  };
  const judge = await openai();
  const judgeDir = path.join(dir, "judge");
  const { judged } = await runJudge(genDir, {}, judge, runner(judgeDir, judge));
  const lines = readFileSync(path.join(judgeDir, "results.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as JudgeResultLine);
  assert.deepEqual(lines, judged);
  for (const l of lines) {
    assert.deepEqual(Object.keys(l).slice(0, 10), ["itemId", "userId", "dimension", "member", "withHistory", "rubricMember", "score", "feedback", "raw", "calls"]);
    assert.equal(l.score, l.withHistory ? 4 : 2);
    if (!l.withHistory) assert.equal(l.calls, 2, "the unscored first answer was asked again");
  }
  const withH = lines.filter((l) => l.withHistory);
  assert.equal(withH.length, 6);
  assert.equal(lines.filter((l) => !l.withHistory).length, 6, "the no-history answer is judged once per user");
  const rep = (await buildReport([judgeDir])).generation!;
  const d = Object.values(rep.byDimension)[0]!;
  assert.equal(d.withHistory.mean, 4);
  assert.equal(d.withoutHistory.mean, 2);
  assert.equal(d.delta, 1, "relative delta (4 - 2) / 2");
  const genItems = readFileSync(path.join(genDir, "items.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { withHistory: boolean; historyDropped: number; dimension: string });
  for (const [dim, x] of Object.entries(rep.byDimension)) {
    const cut = genItems.filter((g) => g.withHistory && g.dimension === dim && g.historyDropped > 0).length;
    assert.ok(cut > 0, `${dim}: cut ${cut}`);
    assert.equal(x.truncated, cut, dim);
  }

  // A judge that never gives a score ends as score null after the bounded retries, never a default.
  api.chat = () => ({ text: "I refuse to grade." });
  const j2 = await openai();
  const never = await runJudge(genDir, { maxParseRetries: 1 }, j2, runner(path.join(dir, "judge-never"), j2));
  assert.ok(never.judged.every((l) => l.score === null && l.calls === 2 && l.raw === "I refuse to grade."));
});

test("cross judging gives 3x3 matrices and steerability; a constant judge is at chance", async () => {
  api.chat = (b) => {
    const p = lastUser(b);
    return { text: p.includes("# START OF EXAMPLES") ? "answer" : "Feedback: x [RESULT] 3" };
  };
  const gen = await openai();
  const genDir = path.join(dir, "gen-cross");
  // Users of one instruction on one dimension: limit to style and the first 2 triples (6 users).
  await runGeneration(ds, { dimensions: ["style"], limit: 6, history: "with" }, gen, runner(genDir, gen));
  const judge = await openai();
  const judgeDir = path.join(dir, "judge-cross");
  const { judged } = await runJudge(genDir, { cross: true }, judge, runner(judgeDir, judge));
  assert.equal(judged.length, 18);
  const rep = await buildReport([judgeDir]);
  const s = rep.steerability!.byDimension.style!;
  assert.equal(s.instructions, 2);
  assert.ok(Math.abs(s.steerability - 1 / 3) < 1e-12);
  assert.equal(s.margin, 0);
  // Hand-computed matrices.
  assert.deepEqual(steerabilityOf([[5, 1, 1], [2, 4, 3], [3, 3, 3]]), { steer: (1 + 1 + 1 / 3) / 3, margin: (5 + 4 + 3) / 3 - (1 + 1 + 2 + 3 + 3 + 3) / 6 });
  assert.deepEqual(steerabilityOf([[1, 5, 1], [5, 1, 1], [1, 1, 1]]).steer, (0 + 0 + 1 / 3) / 3);
});

test("compare: McNemar on two reward-model runs over the same items", async () => {
  const c = await compareRuns(path.join(dir, "rm-openai"), path.join(dir, "rm-baseline"));
  assert.equal(c.kind, "rm");
  const results = await readResults(path.join(dir, "rm-openai"));
  assert.ok(c.overall.n > 0 && c.overall.n <= results.size);
  assert.ok(c.overall.pValue >= 0 && c.overall.pValue <= 1);
  await assert.rejects(compareRuns(path.join(dir, "rm-openai"), path.join(dir, "judge")), /cannot compare a rm run with a judge run/);
});

async function cli(args: string[]) {
  let out = "";
  let err = "";
  const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

test("CLI end to end on the sample: build, users, show, rm, report, compare, errors", async () => {
  const out = path.join(dir, "cli-ds");
  const b = await cli(["build", "--train", "samples/train.parquet", "--test", "samples/test.parquet", "--out", out]);
  assert.equal(b.code, 0, b.err);
  assert.match(b.out, /synthetic users\s+-\s+156/);
  // Parquet and JSONL copies of the sample build the same dataset.
  for (const f of ["train.jsonl", "users.jsonl", "pairs.jsonl", "triples.jsonl", "triples.idx", "train.idx", "users.idx"]) assert.equal(readFileSync(path.join(out, f), "utf8"), readFileSync(path.join(ds, f), "utf8"), f);
  const u = await cli(["users", out, "--dimension", "style", "--json"]);
  const users = JSON.parse(u.out) as { id: string; tripleId: string; historySize: number }[];
  assert.equal(users.length, 39);
  assert.ok(users.every((x) => x.historySize === 10));
  const s = await cli(["show", out, users[0]!.tripleId]);
  assert.equal(s.code, 0);
  assert.match(s.out, /=== Member 2 ===/);
  assert.equal((await cli(["show", out, "te-nope"])).code, 1);
  const rm = await cli(["rm", out, "--provider", "baseline", "--out", path.join(dir, "cli-rm"), "--no-cache", "--dimensions", "style,harmlessness", "--format", "json"]);
  assert.equal(rm.code, 0, rm.err);
  const j = JSON.parse(rm.out) as { rm: { byDimension: Record<string, { accuracy: number; ci: number[] }> }; runs: { provider: string }[] };
  assert.deepEqual(Object.keys(j.rm.byDimension), ["style", "harmlessness"]);
  assert.equal(j.runs[0]!.provider, "baseline");
  const md = await cli(["report", path.join(dir, "cli-rm"), path.join(dir, "rm-openai"), "--format", "md"]);
  assert.match(md.out, /\| run \| Style \| Knowledge \| Informative \| Harmless \|/);
  assert.match(md.out, /cli-rm \(baseline\/tfidf-style\)/);
  const csv = await cli(["report", path.join(dir, "judge"), "--format", "csv"]);
  assert.match(csv.out, /Table 2/);
  assert.equal((await cli(["rm", out, "--provider", "baseline"])).code, 2, "missing --out is a usage error");
  const bad = await cli(["rm", out, "--provider", "nope", "--out", path.join(dir, "x")]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--provider must be one of/);
  const mismatch = await cli(["rm", out, "--provider", "baseline", "--out", path.join(dir, "cli-rm"), "--no-cache", "--orders", "ab"]);
  assert.equal(mismatch.code, 1);
  assert.match(mismatch.err, /holds a different rm evaluation/);
  const h = await cli(["rm", "--help"]);
  assert.match(h.out, /--verdict text\|probability/);
});

test("reward model with probability verdicts on a local GGUF through node-llama-cpp", async () => {
  const { writeTinyGguf } = await import("../../scripts/make-gguf.js");
  const model = path.join(dir, "tiny-llama3.gguf");
  await writeTinyGguf(model, { layers: 2, embd: 64, chatTemplate: "llama3", contextLength: 8192 });
  const provider = await createProvider({ provider: "llamacpp", modelPath: model, gpu: false, threads: 1, contextSize: 8192 });
  try {
    const runDir = path.join(dir, "rm-llama");
    // A small input budget: the oldest history pairs are dropped so the prompt fits the tiny context.
    // Random weights put little mass on A/B after the prefix: no mass threshold, so every item has a verdict.
    const { report, summary } = await runRm(ds, { limit: 1, verdict: "probability", maxInputTokens: 2500, minVerdictMass: 0 }, provider, runner(runDir, provider));
    assert.equal(summary.totals.failed, 0, JSON.stringify(summary.failures[0]));
    assert.equal(report.overall.n, 4, "every item has a verdict read from P(A) vs P(B)");
    assert.equal(report.overall.unparsable, 0);
    assert.ok(report.overall.meanVerdictMass! > 0 && report.overall.meanVerdictMass! < 1);
    assert.ok(report.overall.meanChosenProbability! > 0 && report.overall.meanChosenProbability! < 1);
    const results = [...(await readResults(runDir)).values()];
    for (const r of results) {
      assert.ok(r.tokenProbabilities!.A! > 0 && r.tokenProbabilities!.B! > 0);
      assert.ok(r.tokenProbabilities!.A! + r.tokenProbabilities!.B! <= 1 + 1e-9);
    }
    // Items of one user share its history prefix: later prompts reuse the KV cache.
    assert.ok(results.some((r) => r.usage.cachedInputTokens > 0));
    const items = readFileSync(path.join(runDir, "items.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { historyDropped: number; historyKept: number; promptTokens: number });
    assert.ok(items.every((i) => i.historyDropped > 0 && i.historyKept + i.historyDropped === 10));
    // The budget is counted with the model's own tokenizer, chat template included: what the provider reports as input.
    const evalJson = JSON.parse(readFileSync(path.join(runDir, "eval.json"), "utf8")) as { tokenizer: { name: string; exact: boolean } };
    assert.deepEqual(evalJson.tokenizer, { name: "llama.cpp:tiny-llama3.gguf", exact: true });
    const byId = await readResults(runDir);
    const metaIds = readFileSync(path.join(runDir, "items.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { itemId: string; promptTokens: number });
    for (const m of metaIds) {
      assert.ok(m.promptTokens <= 2500);
      const evaluated = byId.get(m.itemId)!.usage.inputTokens;
      assert.ok(m.promptTokens > evaluated - 40 && m.promptTokens <= evaluated, `budget count ${m.promptTokens} vs ${evaluated} evaluated`);
    }
    assert.equal(report.overall.truncated, 4, "the report counts the items whose history was cut");
  } finally {
    await provider.dispose?.();
  }
});
