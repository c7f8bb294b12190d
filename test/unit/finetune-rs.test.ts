/**
 * Rejection sampling: keeps exactly the top p by reward margin, with the baseline provider
 * (probability verdicts, both orders) and with a scalar-reward endpoint (a vLLM-shaped /classify
 * route on the wire-format test server); resumable; the CLI and `export --keep-from`.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { main } from "../../src/cli/main.js";
import { BaselineProvider } from "../../src/core/providers/baseline.js";
import { readResults } from "../../src/core/eval/runner.js";
import { exportFinetuneData } from "../../src/core/finetune/export.js";
import { marginStats, quantile, runRejectionSampling, selectTopByMargin, type RsReport, type RsScore } from "../../src/core/finetune/rs.js";
import { readJsonPath, ScalarRewardProvider } from "../../src/core/finetune/scalar-reward.js";
import { FakeApiServer, sendJson } from "../servers/fake-apis.js";
import { synthDataset } from "../fixtures/finetune/datasets.js";
import { readDatasetFiles } from "../fixtures/dataset-files.js";
import { tempDir } from "../helpers/tmp.js";

const dir = tempDir("preflab-ft-rs-");
let api: FakeApiServer;
let ds: string;
/** The scalar reward the fake endpoint gives a response: a deterministic function of its text. */
const reward = (text: string): number => {
  let h = 0;
  for (const ch of text) h = (h * 31 + ch.charCodeAt(0)) % 1009;
  return h / 100;
};

before(async () => {
  api = await FakeApiServer.start();
  // vLLM's classify shape: {"data": [{"index", "label", "probs": [score], "num_classes"}], "usage"}
  api.route("POST", "/classify", ({ res, recorded }) => {
    const body = recorded.body as { model: string; messages: { role: string; content: string }[] };
    const last = body.messages.at(-1)!;
    sendJson(res, 200, {
      id: "classify-1",
      object: "list",
      created: 1,
      model: body.model,
      data: [{ index: 0, label: "LABEL_0", probs: [reward(last.content)], num_classes: 1 }],
      usage: { prompt_tokens: 100, total_tokens: 100, completion_tokens: 0, prompt_tokens_details: null },
    });
  });
  ds = await synthDataset(dir, "rs", 10, { historySize: 3 });
});
after(async () => {
  await api.close();
});

const runner = (meta: { provider: string; model: string }) => ({ concurrency: 4, maxRetries: 2, timeoutMs: 10_000, backoff: { baseMs: 1, maxMs: 5 }, cacheDir: false as const, meta: { ...meta, params: {} } });
const readScores = (out: string) =>
  readFileSync(path.join(out, "scores.jsonl"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as RsScore);

test("selection keeps exactly round(p x n) by margin, ties by id (hand-checked)", () => {
  const items = [
    { id: "e1", margin: 0.9 },
    { id: "e2", margin: -0.2 },
    { id: "e3", margin: 0.5 },
    { id: "e4", margin: 0.1 },
    { id: "e5", margin: 0.7 },
  ];
  assert.deepEqual([...selectTopByMargin(items, 0.6)].sort(), ["e1", "e3", "e5"]);
  assert.deepEqual([...selectTopByMargin(items, 0.5)].sort(), ["e1", "e3", "e5"], "round(2.5) = 3");
  assert.deepEqual([...selectTopByMargin(items, 0.2)], ["e1"]);
  assert.equal(selectTopByMargin(items, 1).size, 5);
  const ties = [
    { id: "b", margin: 0.5 },
    { id: "a", margin: 0.5 },
    { id: "c", margin: 0.5 },
  ];
  assert.deepEqual([...selectTopByMargin(ties, 0.6)], ["a", "b"]);
  // --rs-rule absolute: the smallest |margin| go; a confidently reversed example (e2) stays.
  const rev = [...items, { id: "e6", margin: -0.95 }];
  assert.deepEqual([...selectTopByMargin(rev, 0.5)].sort(), ["e1", "e3", "e5"]);
  assert.deepEqual([...selectTopByMargin(rev, 0.5, "signed")].sort(), ["e1", "e3", "e5"]);
  assert.deepEqual([...selectTopByMargin(rev, 0.5, "absolute")].sort(), ["e1", "e5", "e6"]);
  assert.deepEqual([...selectTopByMargin(rev, 4 / 6, "absolute")].sort(), ["e1", "e3", "e5", "e6"]);
  const s = marginStats([1, 2, 3, 4], 4, [0, 4]);
  assert.equal(s.mean, 2.5);
  assert.equal(s.quantiles.p50, 2.5);
  assert.equal(quantile([1, 2, 3, 4], 0.25), 1.75);
  assert.deepEqual(s.histogram.counts, [0, 1, 1, 2]);
  assert.equal(readJsonPath({ data: [{ probs: [0.25] }] }, "data[0].probs[0]"), 0.25);
  assert.equal(readJsonPath({ data: [{ probs: [0.25] }] }, "data.0.probs.0"), 0.25);
  assert.equal(readJsonPath({ data: [] }, "data.0.probs.0"), undefined);
});

test("baseline (probability verdicts, both orders): margins from P(chosen), top 60% per part, resumable", async () => {
  const out = path.join(dir, "rs-baseline");
  const provider = new BaselineProvider();
  const { report, summary } = await runRejectionSampling(ds, { out }, provider, runner({ provider: "baseline", model: provider.model }));
  assert.equal(summary.status, "finished");
  const scores = readScores(out);
  assert.equal(scores.length, 30);
  assert.equal(summary.totals.items, 60, "two orders per example");
  const results = await readResults(path.join(out, "run"));
  for (const s of scores) {
    assert.equal(s.status, "ok");
    const pa = (id: string) => {
      const p = results.get(id)!.tokenProbabilities!;
      return p.A! / (p.A! + p.B!);
    };
    const pChosen = (pa(`${s.id}.ab`) + (1 - pa(`${s.id}.ba`))) / 2;
    assert.ok(Math.abs(s.rewardChosen! - pChosen) < 1e-12);
    assert.ok(Math.abs(s.margin! - (2 * pChosen - 1)) < 1e-12);
  }
  for (const part of ["a", "b"] as const) {
    const inPart = scores.filter((s) => s.part === part);
    const kept = inPart.filter((s) => s.kept);
    assert.equal(kept.length, Math.round(0.6 * inPart.length), `part ${part}`);
    const minKept = Math.min(...kept.map((s) => s.margin!));
    assert.ok(inPart.filter((s) => !s.kept).every((s) => s.margin! <= minKept), `part ${part}: every dropped margin is below the kept ones`);
    assert.equal(report.byPart[part]!.threshold, minKept);
  }
  assert.equal(report.counts.kept + report.counts.dropped, 30);
  assert.equal(report.margins.n, 30);
  assert.equal(report.margins.histogram.counts.reduce((a, b) => a + b, 0), 30);
  assert.equal(report.keptMargins.n, report.counts.kept);
  // Resume: nothing is asked again and the selection is the same.
  const again = await runRejectionSampling(ds, { out }, provider, runner({ provider: "baseline", model: provider.model }));
  assert.equal(again.summary.finishedThisSession, 0);
  assert.equal(again.summary.skipped, 60);
  assert.deepEqual(readScores(out), scores);
  // Other settings in the same folder are refused.
  await assert.rejects(runRejectionSampling(ds, { out, seed: 5 }, provider, runner({ provider: "baseline", model: provider.model })), /other settings/);
});

test("scalar-reward endpoint: margin = r(chosen) - r(rejected); exactly the top 60% (hand-checked ranking)", async () => {
  const out = path.join(dir, "rs-scalar");
  const provider = new ScalarRewardProvider({ baseUrl: api.url, model: "llama-rm" });
  api.faults = [{ kind: "status", status: 503 }]; // retried by the runner
  const { report, summary } = await runRejectionSampling(ds, { out, split: 0, keep: 0.6 }, provider, runner({ provider: provider.id, model: provider.model }));
  assert.equal(summary.totals.failed, 0);
  assert.equal(report.mode, "scalar");
  const scores = readScores(out);
  const pairs = new Map(readDatasetFiles(ds).pairs.map((p) => [p.id, p]));
  // By hand: margins from the endpoint's rule, sorted, top round(0.6 x 30) = 18.
  const expected = scores.map((s) => ({ id: s.id, margin: reward(pairs.get(s.pairId)!.chosen) - reward(pairs.get(s.pairId)!.rejected) }));
  for (const s of scores) assert.ok(Math.abs(s.margin! - expected.find((e) => e.id === s.id)!.margin) < 1e-9);
  expected.sort((a, b) => b.margin - a.margin || (a.id < b.id ? -1 : 1));
  assert.deepEqual(scores.filter((s) => s.kept).map((s) => s.id).sort(), expected.slice(0, 18).map((e) => e.id).sort());
  assert.equal(report.counts.kept, 18);
  assert.equal(report.counts.dropped, 12);
  assert.deepEqual(Object.keys(report.byPart), ["b"]);
  // The wire: POST /classify {model, messages: [...prompt, {assistant: response}]}.
  const reqs = api.requestsTo("/classify");
  const body = reqs.at(-1)!.body as { model: string; messages: { role: string; content: string }[] };
  assert.equal(body.model, "llama-rm");
  assert.equal(body.messages.at(-1)!.role, "assistant");
  assert.match(body.messages[0]!.content, /# START OF EXAMPLES/);
  // --rs-rule absolute on the same scores: the top 18 by |margin|, recorded in rs.json and run.json.
  const outAbs = path.join(dir, "rs-scalar-abs");
  const abs = await runRejectionSampling(ds, { out: outAbs, split: 0, keep: 0.6, rule: "absolute" }, provider, runner({ provider: provider.id, model: provider.model }));
  const byAbs = [...expected].sort((a, b) => Math.abs(b.margin) - Math.abs(a.margin) || (a.id < b.id ? -1 : 1));
  assert.deepEqual(readScores(outAbs).filter((s) => s.kept).map((s) => s.id).sort(), byAbs.slice(0, 18).map((e) => e.id).sort());
  assert.notDeepEqual(byAbs.slice(0, 18).map((e) => e.id).sort(), expected.slice(0, 18).map((e) => e.id).sort(), "the rules differ on this data");
  assert.equal(abs.report.rule, "absolute");
  assert.equal(report.rule, "signed");
  assert.ok(Math.abs(abs.report.byPart.b!.threshold! - Math.abs(byAbs[17]!.margin)) < 1e-9);
  const rj = JSON.parse(readFileSync(path.join(outAbs, "run", "run.json"), "utf8")) as { params: { protocol: unknown } };
  assert.deepEqual(rj.params.protocol, { rsRule: "absolute", rsKeep: 0.6 });
  // Text mode and the pooling shape are settings.
  const text = new ScalarRewardProvider({ baseUrl: api.url, model: "m", input: "text", path: "/pooling", scorePath: "data.0.data.0" });
  assert.deepEqual(Object.keys(text.body({ messages: [{ role: "user", content: "x" }] })), ["model", "input"]);
  assert.equal(text.url, `${api.url}/pooling`);
});

test("preflab rs (scalar endpoint, a malformed score is a failure, never a margin) and export --keep-from", async () => {
  const out = path.join(dir, "rs-cli");
  let stdout = "";
  let stderr = "";
  const io = { out: (t: string) => (stdout += t), err: (t: string) => (stderr += t) };
  const base = ["rs", ds, "--rm-provider", "scalar-reward", "--rm-base-url", api.url, "--rm-model", "llama-rm", "--rm-no-cache", "--rm-max-retries", "0", "--out", out];
  // One answer without a score at the path: that example gets no margin and is not kept.
  let n = 0;
  api.faultFn = (req) => (req.path === "/classify" && ++n === 3 ? { kind: "empty_json" } : undefined);
  assert.equal(await main([...base, "--json"], io), 1, stderr);
  let report = JSON.parse(stdout) as RsReport;
  assert.equal(report.counts.failed, 1);
  assert.equal(report.counts.examples, 30);
  assert.match(stderr, /rerun the same command/);
  // Rerun: the failure is retried, nothing else is asked again.
  api.faultFn = undefined;
  const before = api.requestsTo("/classify").length;
  stdout = "";
  stderr = "";
  assert.equal(await main([...base, "--json"], io), 0, stderr);
  assert.equal(api.requestsTo("/classify").length - before, 1);
  report = JSON.parse(stdout) as RsReport;
  assert.equal(report.counts.failed, 0);
  assert.equal(report.byPart.a!.kept, Math.round(0.6 * report.byPart.a!.examples));
  stdout = "";
  assert.equal(await main(["rs", ds, "--rm-provider", "baseline", "--rm-no-cache", "--out", path.join(dir, "rs-cli-text")], io), 0);
  assert.match(stdout, /margin = reward\(chosen\) - reward\(rejected\)/);
  assert.match(stdout, /histogram/);
  // export --keep-from: exactly the kept examples of part a.
  const exp = await exportFinetuneData(ds, { format: "sft", target: "trl", out: path.join(dir, "kept-sft"), keepFrom: out });
  const kept = readScores(out).filter((s) => s.part === "a" && s.kept).map((s) => s.id);
  assert.equal(exp.counts.written, kept.length);
  const ids = readFileSync(path.join(dir, "kept-sft", "examples.jsonl"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { id: string }).id);
  assert.deepEqual(ids.sort(), kept.sort());
  await assert.rejects(exportFinetuneData(ds, { format: "sft", target: "trl", out: path.join(dir, "kept-x"), keepFrom: out, seed: 3 }), /other examples/);
  stderr = "";
  assert.equal(await main(["rs", ds, "--rm-provider", "baseline", "--rm-path", "/x", "--out", path.join(dir, "y")], io), 2);
  assert.match(stderr, /apply to provider scalar-reward only, not baseline/);
});

test("probability verdicts are read after the template's verdict prefix; low verdict mass is unusable, never a margin", async () => {
  const out = path.join(dir, "rs-prefix");
  const seen: { prefix: string | undefined; last: string }[] = [];
  const provider = {
    id: "scripted-probs",
    model: "m",
    capabilities: { tokenProbabilities: true },
    async call(r: import("../../src/core/providers/types.js").ProviderRequest) {
      seen.push({ prefix: r.probabilities?.answerPrefix, last: String(r.messages.at(-1)!.content) });
      return { text: "A", usage: { inputTokens: 1, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0 }, latencyMs: 0, tokenProbabilities: { A: 0.2, B: 0.1 } };
    },
  };
  const { report } = await runRejectionSampling(ds, { out }, provider, runner({ provider: "scripted-probs", model: "m" }));
  assert.ok(seen.length > 0);
  assert.ok(seen.every((s) => s.prefix === "[["), "the B.1 verdict prefix");
  assert.ok(seen.every((s) => /Let's think step by step\.$/.test(s.last)), "the paper's prompt, nothing appended");
  // P(A) + P(B) = 0.3 < 0.5: no margin is made up from it.
  assert.ok(readScores(out).every((s) => s.status === "failed" && s.margin === null));
  assert.equal(report.counts.kept, 0);
});
