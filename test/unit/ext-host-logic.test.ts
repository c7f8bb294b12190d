/**
 * Host logic that needs no VS Code: the typed config, provider configs, trust refusals, the
 * users index behind the Synthetic Users tree, the feedback-pair document, run folders for the
 * Runs view (status, headline, names) and progress text. Runs on the bundled sample with the
 * baseline provider (no network).
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import * as path from "node:path";
import { before, test } from "node:test";
import { buildDataset } from "../../src/core/data/builder.js";
import { DIMENSIONS } from "../../src/core/data/schema.js";
import type { SyntheticUser } from "../../src/core/data/types.js";
import { runRm } from "../../src/core/eval/rm.js";
import { loadRunReport } from "../../src/core/metrics/report.js";
import { createProvider } from "../../src/core/providers/registry.js";
import { readConfig, resolveFolder } from "../../src/extension/config.js";
import { resolveProviderConfig } from "../../src/app/provider.js";
import { providerContext, providerRequest, type RunEnv } from "../../src/extension/runs/plan.js";
import { formatDuration, formatTokens, fractionDone, increment, progressMessage } from "../../src/extension/format.js";
import { lockRunDir } from "../../src/core/eval/runlog.js";
import { deriveStatus, headlineOf, listRuns, lockHeld, newRunName, readRunInfo } from "../../src/extension/runs-model.js";
import { assertProviderAllowed, RestrictedModeError, trustRefusal } from "../../src/extension/trust.js";
import { DIMENSION_LIST, renderPairDocument, userLabel } from "../../src/extension/users-index.js";
import { UsersIndex } from "../../src/core/data/users-index.js";
import { readDatasetFiles } from "../fixtures/dataset-files.js";
import { tempDir } from "../helpers/tmp.js";

const dir = tempDir("preflab-ext-");
const ds = path.join(dir, "ds");
const runs = path.join(dir, "runs");
const rmDir = path.join(runs, "rm-baseline-tfidf-style-20250101-000000");

const cfgOf = (values: Record<string, unknown>) => readConfig({ get: <T>(k: string) => values[k] as T | undefined });

before(async () => {
  await buildDataset({ train: "samples/train.jsonl", test: "samples/test.jsonl", out: ds });
  const baseline = await createProvider({ provider: "baseline" });
  await runRm(ds, { limit: 8 }, baseline, {
    concurrency: 2,
    timeoutMs: 5000,
    maxRetries: 0,
    cacheDir: false,
    runDir: rmDir,
    meta: { provider: baseline.id, model: baseline.model, params: {} },
  });
});

test("readConfig: defaults, valid values, and invalid values falling back", () => {
  const d = cfgOf({});
  assert.equal(d.provider, "baseline");
  assert.equal(d.runner.concurrency, 8);
  assert.equal(d.evaluation.maxInputTokens, 12_800);
  assert.equal(d.data.historySize, 10);
  assert.deepEqual(d.folders, { datasets: ".preflab/datasets", runs: ".preflab/runs", cache: ".preflab/cache/responses" });
  assert.equal(d.cacheEnabled, true);
  assert.equal(d.generation.temperature, undefined);
  const v = cfgOf({
    provider: "llamacpp",
    "llamacpp.modelPath": " /m/tiny.gguf ",
    "llamacpp.gpu": "off",
    "llamacpp.threads": 2,
    "runner.concurrency": 0, // invalid: falls back
    "runner.requestsPerMinute": 60,
    "generation.temperature": 3, // out of range
    "openaiCompatible.baseUrl": "not a url",
    "judge.provider": "baseline", // the baseline cannot judge
    prices: { "openai/gpt-4o-mini": { input: 0.15, output: 0.6, bogus: 1 }, bad: { input: -1 } },
    "cache.enabled": false,
  });
  assert.equal(v.provider, "llamacpp");
  assert.equal(v.llamacpp.modelPath, "/m/tiny.gguf");
  assert.equal(v.llamacpp.gpu, "off");
  assert.equal(v.llamacpp.threads, 2);
  assert.equal(v.runner.concurrency, 8);
  assert.equal(v.runner.rpm, 60);
  assert.equal(v.generation.temperature, undefined);
  assert.equal(v.openaiCompatible.baseUrl, undefined);
  assert.equal(v.judge.provider, "openai");
  assert.deepEqual(v.prices, { "openai/gpt-4o-mini": { input: 0.15, output: 0.6 } });
  assert.equal(v.cacheEnabled, false);
  assert.equal(cfgOf({ provider: "nope" }).provider, "baseline");
});

test("provider configs from settings: per-provider fields, prices by provider/model or model, the key only when the provider takes one", async () => {
  const cfg = cfgOf({
    "openai.baseUrl": "https://proxy.example/v1",
    "openaiCompatible.baseUrl": "http://localhost:8000/v1",
    "llamacpp.gpu": "off",
    "llamacpp.threads": 1,
    prices: { "openai/gpt-4o-mini": { input: 0.15, output: 0.6 }, "tiny.gguf": { input: 0 } },
  });
  const gguf = path.join(dir, "tiny.gguf");
  writeFileSync(gguf, "");
  const env: RunEnv = { cfg, root: dir, cacheDir: path.join(dir, "cache"), getKey: async () => "sk-test-123456789" };
  const configOf = async (choice: Parameters<typeof providerRequest>[1], params = {}) => (await resolveProviderConfig(providerRequest(cfg, choice, params), providerContext(env, choice.provider))).config;
  // Local providers cost nothing; a listed cloud model without a setting gets the dated default price.
  assert.deepEqual(await configOf({ provider: "baseline", model: "tfidf-style" }), { provider: "baseline", pricing: { input: 0, output: 0 } });
  assert.deepEqual((await configOf({ provider: "anthropic", model: "claude-haiku-4-5" })).pricing, { input: 1, output: 5, cachedInput: 0.1, cacheWrite: 1.25 });
  assert.deepEqual(await configOf({ provider: "openai", model: "gpt-4o-mini" }, { temperature: 0.5 }), {
    provider: "openai",
    model: "gpt-4o-mini",
    baseUrl: "https://proxy.example/v1",
    temperature: 0.5,
    pricing: { input: 0.15, output: 0.6 },
    apiKey: "sk-test-123456789",
  });
  assert.deepEqual(await configOf({ provider: "openai-compatible", model: "qwen" }), { provider: "openai-compatible", model: "qwen", baseUrl: "http://localhost:8000/v1", apiKey: "sk-test-123456789" });
  assert.deepEqual(await configOf({ provider: "llamacpp", model: gguf }), { provider: "llamacpp", modelPath: gguf, gpu: false, threads: 1, pricing: { input: 0 } });
  // The settings the refusals name.
  await assert.rejects(configOf({ provider: "anthropic", model: "c" }, { temperature: 0.2 }), /no longer accepts temperature or top_p; remove preflab\.generation\.temperature/);
  await assert.rejects(resolveProviderConfig(providerRequest(cfgOf({}), { provider: "openai-compatible", model: "q" }, {}), providerContext(env, "openai-compatible")), /preflab\.openaiCompatible\.baseUrl is required/);
  assert.equal(resolveFolder(".preflab/runs", "/ws"), "/ws/.preflab/runs");
  assert.equal(resolveFolder("/abs/runs", "/ws"), "/abs/runs");
});

test("trust: in Restricted Mode only the baseline runs, with a message that says why", () => {
  for (const p of ["baseline", "openai", "anthropic", "openai-compatible", "llamacpp"] as const) assert.equal(trustRefusal(p, true), undefined);
  assert.equal(trustRefusal("baseline", false), undefined);
  assert.match(trustRefusal("openai", false)!, /openai provider sends this workspace's data to a cloud API, which is disabled in Restricted Mode/);
  assert.match(trustRefusal("openai-compatible", false)!, /Restricted Mode/);
  assert.match(trustRefusal("llamacpp", false)!, /local model loading \(llamacpp\) is disabled in Restricted Mode/);
  assert.throws(() => assertProviderAllowed("anthropic", false), RestrictedModeError);
});

test("UsersIndex (core): every user's summary from one read; a user's history texts read back on demand", async () => {
  assert.deepEqual(DIMENSION_LIST, [...DIMENSIONS]);
  const index = await UsersIndex.load(ds);
  const all: SyntheticUser[] = readDatasetFiles(ds).users;
  assert.equal(index.size, all.length);
  assert.deepEqual(index.dimensions(), [...DIMENSIONS]);
  for (const d of DIMENSIONS) assert.equal(index.usersOf(d).length, all.filter((u) => u.dimension === d).length);
  for (const u of [all[0]!, all[all.length - 1]!, all[57]!]) {
    assert.deepEqual(await index.user(u.id), u);
    const s = index.summary(u.id)!;
    assert.equal(s.historySize, u.history.length);
    assert.equal(userLabel(s), `${u.preference.subdimension} · ${u.preference.preference}`);
  }
  const u = all[3]!;
  const doc = renderPairDocument(u, 1);
  const e = u.history[1]!;
  assert.match(doc, new RegExp(`^# Feedback pair 2 of ${u.history.length}`));
  assert.ok(doc.includes(e.prompt) && doc.includes(e.chosen) && doc.includes(e.rejected));
  assert.ok(doc.indexOf("## Liked response (chosen)") < doc.indexOf("## Not-liked response (rejected)"));
  assert.match(doc, new RegExp(`Similarity score: ${e.score.toFixed(3)}`));
  assert.match(renderPairDocument(u, 99), /No feedback pair 100/);
  // A response containing a code fence cannot close the document's fence.
  const fenced = { ...u, history: [{ ...e, chosen: "before\n````\nafter" }] };
  assert.match(renderPairDocument(fenced, 0), /`````text\nbefore\n````\nafter\n`````/);
});

test("runs model: listing, status from run.json and the lock, headline accuracy, resumable after a crash", async () => {
  const list = await listRuns(runs);
  assert.equal(list.length, 1);
  const info = list[0]!;
  assert.equal(info.kind, "rm");
  assert.equal(info.provider, "baseline");
  assert.equal(info.status, "finished");
  assert.equal(info.totals!.done, info.items);
  const report = await loadRunReport(rmDir);
  const h = await headlineOf(info, loadRunReport);
  assert.equal(h!.value, report.rm!.overall.accuracy);
  assert.match(h!.text, /^accuracy \d+\.\d%$/);
  assert.equal((await readRunInfo(rmDir, true))!.status, "running", "active in this host");
  assert.equal(await listRuns(path.join(dir, "missing")).then((l) => l.length), 0);

  // A run whose process died mid-run: run.json still says running, the lock names a dead pid.
  const crashed = path.join(runs, "rm-crashed");
  mkdirSync(crashed, { recursive: true });
  writeFileSync(path.join(crashed, "eval.json"), readFileSync(path.join(rmDir, "eval.json")));
  const rj = JSON.parse(readFileSync(path.join(rmDir, "run.json"), "utf8")) as Record<string, unknown>;
  writeFileSync(path.join(crashed, "run.json"), JSON.stringify({ ...rj, status: "running", startedAt: "2099-01-01T00:00:00.000Z" }));
  writeFileSync(path.join(crashed, "run.lock"), JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname() }));
  assert.equal(await lockHeld(crashed), false);
  assert.equal((await readRunInfo(crashed))!.status, "resumable");
  // A lock naming this process but not held by it is stale too; one this process takes is held.
  writeFileSync(path.join(crashed, "run.lock"), JSON.stringify({ pid: process.pid, host: hostname() }));
  assert.equal(await lockHeld(crashed), false);
  const release = await lockRunDir(crashed);
  assert.equal(await lockHeld(crashed), true);
  assert.equal((await readRunInfo(crashed))!.status, "running");
  await release();
  assert.deepEqual((await listRuns(runs)).map((r) => r.name), ["rm-crashed", path.basename(rmDir)], "newest first");

  assert.equal(deriveStatus(null, false, false), "not started");
  assert.equal(deriveStatus("cancelled", false, false), "resumable");
  assert.equal(deriveStatus("failed", false, false), "failed");
  assert.equal(deriveStatus("finished", true, false), "running");
  assert.equal(newRunName("rm", "llamacpp", "My Model.Q4_K_M.gguf", new Date(2025, 0, 2, 3, 4, 5)), "rm-llamacpp-My-Model.Q4_K_M-20250102-030405");
});

test("progress text: finished/total, ETA, tokens and estimated cost", () => {
  const p = { done: 30, failed: 2, cached: 5, total: 64, inFlight: 4, etaMs: 65_000, inputTokens: 123_456, outputTokens: 789, costUsd: 0.01234 };
  assert.equal(progressMessage(p, true), "32/64 · ETA 1m 05s · 123k in / 789 out tokens · est. $0.0123 · 5 cached · 2 failed");
  assert.equal(progressMessage({ ...p, etaMs: null, cached: 0, failed: 0 }, false), "30/64 · 123k in / 789 out tokens · cost n/a (no price set)");
  assert.equal(fractionDone(p), 0.5);
  assert.equal(fractionDone({ done: 0, failed: 0, total: 0 }), 1);
  assert.equal(increment(0.25, 0.5), 25);
  assert.equal(increment(0.5, 0.25), 0);
  assert.equal(formatDuration(3_725_000), "1h 02m");
  assert.equal(formatTokens(1500), "1.5k");
  assert.equal(formatTokens(2_500_000), "2.5M");
});
