/**
 * One behaviour in every host: the same evaluation started from the CLI (`preflab rm|generate`) and
 * from the extension's palette code (src/extension/runs/controller.ts, driven in plain Node with a
 * stand-in `vscode` module and the core bundle's exports from source) makes the same run folder:
 * run.json (less timestamps), eval.json, items.jsonl and results. A resume from the extension
 * (eval.json read through the session layer's schema) completes it to the same record.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { ALLOW_ALL } from "../../src/app/gate.js";
import { main } from "../../src/cli/main.js";
import { buildDataset } from "../../src/core/data/builder.js";
import { DIMENSIONS } from "../../src/core/data/schema.js";
import { GENERATION_DIMENSIONS } from "../../src/core/eval/generation.js";
import { readConfig } from "../../src/extension/config.js";
import type { Services } from "../../src/extension/services.js";
import { FakeApiServer, type ChatBody } from "../servers/fake-apis.js";
import { useExtensionStubs } from "../helpers/extension-stubs.js";
import { stub } from "../fixtures/finetune/vscode-stub.js";
import { tempDir } from "../helpers/tmp.js";

// `vscode` -> the stand-in; the core bundle -> its exports from source.
const restoreResolver = useExtensionStubs();

const dir = tempDir("preflab-hosts-");
const ds = path.join(dir, "ds");
let api: FakeApiServer;

before(async () => {
  // No server-side prompt caching: the second host would see the first one's prompts as cached.
  api = await FakeApiServer.start({ chat: (b: ChatBody) => ({ text: `answer to ${String(b.messages?.at(-1)?.content).length} chars` }), minCacheTokens: Number.MAX_SAFE_INTEGER });
  await buildDataset({ train: "samples/train.jsonl", test: "samples/test.jsonl", out: ds });
});
after(async () => {
  restoreResolver();
  await api.close();
});

async function cli(args: string[]) {
  let out = "";
  let err = "";
  const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

const jsonl = (file: string) =>
  readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** What a run folder records, less what differs between any two runs (times, latencies). */
function record(runDir: string) {
  const run = JSON.parse(readFileSync(path.join(runDir, "run.json"), "utf8")) as Record<string, unknown>;
  for (const k of ["startedAt", "resumedAt", "updatedAt", "finishedAt"]) delete run[k];
  const results = jsonl(path.join(runDir, "results.jsonl"))
    .map(({ finishedAt: _f, latencyMs: _l, ...rest }) => rest)
    .sort((a, b) => String(a.itemId).localeCompare(String(b.itemId)));
  return { run, results, eval: JSON.parse(readFileSync(path.join(runDir, "eval.json"), "utf8")), items: readFileSync(path.join(runDir, "items.jsonl"), "utf8") };
}

/** The extension's RunController over fake services with the given settings. */
async function extensionController(settings: Record<string, unknown>, extra: Partial<Record<"policy" | "keys", unknown>> = {}) {
  const { RunController } = await import("../../src/extension/runs/controller.js");
  const { ActiveRuns } = await import("../../src/extension/state.js");
  const cfg = readConfig({ get: <T>(k: string) => settings[k] as T | undefined });
  const state = new Map<string, unknown>();
  const runs = path.join(dir, "ext-runs");
  const logs: string[] = [];
  const s = {
    config: () => cfg,
    folders: () => ({ datasets: path.join(dir, "datasets"), runs, cache: path.join(dir, "ext-cache") }),
    baseDir: () => dir,
    trusted: true,
    // Trusted workspace: Services.checkFolder lets every folder through.
    checkFolder: async (d: string) => d,
    gate: ALLOW_ALL,
    keys: { get: async () => undefined },
    log: { info: (m: string) => logs.push(m), warn: (m: string) => logs.push(m), error: (m: string) => logs.push(m), show: () => undefined },
    active: new ActiveRuns(),
    dataset: { dir: ds, users: async () => undefined },
    context: { workspaceState: { get: (k: string) => state.get(k), update: async (k: string, v: unknown) => void state.set(k, v) } },
    ...extra,
  } as unknown as Services;
  return { controller: new RunController(s, { refresh: () => undefined } as never), logs, runs };
}

test("reward-model evaluation: the CLI and the extension's palette make the same run record; an extension resume completes it the same way", async () => {
  const cliDir = path.join(dir, "cli-rm");
  const r = await cli(["rm", ds, "--provider", "baseline", "--limit", "3", "--out", cliDir, "--no-cache"]);
  assert.equal(r.code, 0, r.err);

  const { controller, runs } = await extensionController({ "cache.enabled": false });
  const summary = await controller.runRewardModelEval({ dimensions: [...DIMENSIONS], provider: "baseline", model: "tfidf-style", limit: 3 });
  assert.ok(summary);
  assert.equal(summary.status, "finished");
  const extDir = summary.runDir;
  assert.equal(path.dirname(extDir), runs);
  const want = record(cliDir);
  assert.ok(want.results.length > 0);
  assert.deepEqual(record(extDir), want);

  // Drop the last results and resume from the extension: the run is completed to the same record.
  const lines = readFileSync(path.join(extDir, "results.jsonl"), "utf8").split("\n").filter(Boolean);
  writeFileSync(path.join(extDir, "results.jsonl"), lines.slice(0, -3).join("\n") + "\n");
  const resumed = await controller.resumeRun(extDir);
  assert.equal(resumed?.status, "finished");
  assert.equal(resumed?.skipped, lines.length - 3);
  assert.deepEqual(record(extDir).results, want.results);
  assert.deepEqual(record(extDir).eval, want.eval);
});

test("generation against a compatible server: same requests, same record, from the CLI and the extension", async () => {
  const cliDir = path.join(dir, "cli-gen");
  const before = api.requestsTo("/v1/chat/completions").length;
  const r = await cli(["generate", ds, "--provider", "openai-compatible", "--model", "served", "--base-url", api.openaiBaseUrl, "--limit", "2", "--max-tokens", "64", "--out", cliDir, "--no-cache"]);
  assert.equal(r.code, 0, r.err);
  const cliBodies = api.requestsTo("/v1/chat/completions").slice(before).map((q) => JSON.stringify(q.body));

  const { controller } = await extensionController({ "cache.enabled": false, "openaiCompatible.baseUrl": api.openaiBaseUrl, "generation.maxTokens": 64 });
  const mid = api.requestsTo("/v1/chat/completions").length;
  const summary = await controller.runGenerationEval({ dimensions: [...GENERATION_DIMENSIONS], provider: "openai-compatible", model: "served", limit: 2 });
  assert.equal(summary?.status, "finished");
  const extBodies = api.requestsTo("/v1/chat/completions").slice(mid).map((q) => JSON.stringify(q.body));
  assert.deepEqual(extBodies.sort(), cliBodies.sort());
  assert.deepEqual(record(summary.runDir), record(cliDir));
});

test("the extension refuses an Anthropic temperature with the CLI's sentence, naming its setting", async () => {
  const { controller } = await extensionController({ "generation.temperature": 0.7 });
  await assert.rejects(controller.runGenerationEval({ dimensions: ["style"], provider: "anthropic", model: "claude-x", limit: 1 }), (e: unknown) => {
    assert.match((e as Error).message, /the Anthropic Messages API no longer accepts temperature or top_p; remove preflab\.generation\.temperature/);
    return true;
  });
  assert.equal(stub.commands.filter((c) => c[0] === "preflab.resumeRun").length, 0);
});

test("a registered fine-tuned model chosen by name in the extension runs on its registered server", async () => {
  const { registerModel } = await import("../../src/core/finetune/models.js");
  await registerModel(dir, { name: "ft-gen", provider: "openai-compatible", model: "served-ft", baseUrl: api.openaiBaseUrl, kind: "generation", createdAt: "2026-01-01T00:00:00Z" });
  // The settings point at another server: the registry's wins for its model.
  const { controller } = await extensionController({ "cache.enabled": false, "openaiCompatible.baseUrl": "http://127.0.0.1:9/v1" });
  const before = api.requestsTo("/v1/chat/completions").length;
  const summary = await controller.runGenerationEval({ dimensions: ["style"], provider: "openai-compatible", model: "ft-gen", limit: 1 });
  assert.equal(summary?.status, "finished");
  assert.equal(summary?.totals.failed, 0);
  const sent = api.requestsTo("/v1/chat/completions").slice(before);
  assert.ok(sent.length > 0);
  for (const q of sent) assert.equal((q.body as ChatBody).model, "served-ft");
  const run = JSON.parse(readFileSync(path.join(summary.runDir, "run.json"), "utf8"));
  assert.equal(run.model, "served-ft");
});

test("with a key, a registered model's server (read from a workspace file) is asked about first, through the extension's policy", async () => {
  const { KeyDestinationPolicy, MemoryOriginStore } = await import("../../src/app/origins.js");
  const { registerModel } = await import("../../src/core/finetune/models.js");
  await registerModel(dir, { name: "ft-gen", provider: "openai-compatible", model: "served-ft", baseUrl: api.openaiBaseUrl, kind: "generation", createdAt: "2026-01-01T00:00:00Z" });
  const KEY = "sk-compat-key-0123456789";
  const keys = { get: async (p: string) => (p === "openai-compatible" ? { key: KEY, from: "secret storage" } : undefined) };
  const asked: string[] = [];
  const policy = new KeyDestinationPolicy({ gate: ALLOW_ALL, store: new MemoryOriginStore(), confirm: async (q) => (asked.push(q.origin), true) });
  const preset = { dimensions: ["style" as const], provider: "openai-compatible" as const, model: "ft-gen", limit: 1 };
  // Without a policy that can ask, the key does not go to an origin named by a workspace file.
  const refused = await extensionController({ "cache.enabled": false }, { keys });
  await assert.rejects(refused.controller.runGenerationEval(preset), /not sent there until you confirm/);
  const { controller } = await extensionController({ "cache.enabled": false }, { keys, policy });
  const summary = await controller.runGenerationEval(preset);
  assert.equal(summary?.status, "finished");
  assert.deepEqual(asked, [new URL(api.openaiBaseUrl).origin]);
  assert.ok(!readFileSync(path.join(summary.runDir, "run.json"), "utf8").includes(KEY));
});
