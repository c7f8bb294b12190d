/**
 * The application layer (src/app): provider validation with one message per rule in every host,
 * registered fine-tuned models by name, the gate before a provider exists, template defaults in
 * every host, prompt sets, and resume from a schema-checked eval.json.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { ALLOW_ALL, type GatedAction, type RunGate } from "../../src/app/gate.js";
import { InputError } from "../../src/app/prompts.js";
import { anthropicSamplingRefusal, checkProviderGate, ProviderConfigError, resolveProviderConfig } from "../../src/app/provider.js";
import { readResumable, ResumeError } from "../../src/app/resume.js";
import { runEvaluation, runnerSettings } from "../../src/app/session.js";
import { main } from "../../src/cli/main.js";
import { buildDataset } from "../../src/core/data/builder.js";
import { registerModel } from "../../src/core/finetune/models.js";
import { readResults } from "../../src/core/eval/runner.js";
import { FakeApiServer, type ChatBody } from "../servers/fake-apis.js";
import { tempDir, writeJsonl } from "../helpers/tmp.js";

const dir = tempDir("preflab-app-");
const ds = path.join(dir, "ds");
let api: FakeApiServer;

before(async () => {
  api = await FakeApiServer.start();
  await buildDataset({ train: "samples/train.jsonl", test: "samples/test.jsonl", out: ds });
});
after(() => api.close());

async function cli(args: string[], cwd?: string) {
  let out = "";
  let err = "";
  const old = process.cwd();
  if (cwd) process.chdir(cwd);
  try {
    const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) });
    return { code, out, err };
  } finally {
    process.chdir(old);
  }
}

/** A gate that records what it was asked and refuses `refuse`. */
function recordingGate(refuse: GatedAction[] = []): RunGate & { asked: GatedAction[] } {
  const asked: GatedAction[] = [];
  return {
    asked,
    check(action, detail) {
      asked.push(action);
      if (refuse.includes(action)) throw new Error(`refused: ${action} (${detail})`);
    },
  };
}

describe("provider config", () => {
  test("the Anthropic temperature refusal is one rule with one message, naming the host's setting", async () => {
    const req = { provider: "anthropic" as const, model: "claude-x", temperature: 0.5 };
    await assert.rejects(resolveProviderConfig(req, { getKey: () => "k-1234567890", name: (s) => `--${s}` }), (e: unknown) => {
      assert.ok(e instanceof ProviderConfigError);
      assert.equal(e.message, anthropicSamplingRefusal(["--temperature"]));
      assert.equal(e.setting, "temperature");
      return true;
    });
    await assert.rejects(resolveProviderConfig(req, { getKey: () => "k", name: (s) => `preflab.${s}` }), { message: anthropicSamplingRefusal(["preflab.temperature"]) });
    // The CLI refuses with the same sentence.
    const r = await cli(["run-prompts", "--input", "x.jsonl", "--out", path.join(dir, "never"), "--provider", "anthropic", "--model", "c", "--temperature", "0.2"]);
    assert.equal(r.code, 2);
    assert.ok(r.err.includes(anthropicSamplingRefusal(["--temperature"])), r.err);
  });

  test("requirements and keys: each names its setting; the key goes to secrets", async () => {
    await assert.rejects(resolveProviderConfig({ provider: "openai" }), (e: unknown) => e instanceof ProviderConfigError && e.setting === "model");
    await assert.rejects(resolveProviderConfig({ provider: "openai-compatible", model: "m" }), (e: unknown) => e instanceof ProviderConfigError && e.setting === "baseUrl");
    await assert.rejects(resolveProviderConfig({ provider: "llamacpp", modelPath: path.join(dir, "missing.gguf") }), /missing\.gguf does not exist/);
    await assert.rejects(resolveProviderConfig({ provider: "openai", model: "m" }, { keyHint: (_p, env) => `store it, or set ${env}` }), /needs an API key: store it, or set OPENAI_API_KEY/);
    const ok = await resolveProviderConfig({ provider: "openai", model: "m" }, { getKey: async () => "sk-abcdef123456", priceFor: (p, m) => (p === "openai" && m === "m" ? { input: 1 } : undefined) });
    assert.equal(ok.config.apiKey, "sk-abcdef123456");
    assert.deepEqual(ok.secrets, ["sk-abcdef123456"]);
    assert.deepEqual(ok.config.pricing, { input: 1 });
    const compat = await resolveProviderConfig({ provider: "openai-compatible", model: "m", baseUrl: "http://127.0.0.1:1/v1" });
    assert.equal(compat.config.apiKey, undefined, "a compatible server runs without a key");
  });

  test("a registered fine-tuned model is chosen by its name, in the session and the CLI", async () => {
    const root = path.join(dir, "ws");
    mkdirSync(root, { recursive: true });
    await registerModel(root, { name: "my-sft", provider: "openai-compatible", model: "served-sft", baseUrl: api.openaiBaseUrl, kind: "generation", createdAt: "2026-01-01T00:00:00Z" });
    await registerModel(root, { name: "my-rm", provider: "scalar-reward", model: "rm", baseUrl: "http://127.0.0.1:1", kind: "reward", createdAt: "2026-01-01T00:00:00Z" });
    const r = await resolveProviderConfig({ model: "my-sft" }, { root });
    assert.equal(r.config.provider, "openai-compatible");
    assert.equal(r.config.model, "served-sft");
    assert.equal(r.config.baseUrl, api.openaiBaseUrl);
    assert.deepEqual(r.registered, { name: "my-sft", kind: "generation", file: path.join(root, ".preflab", "models.json"), baseUrl: api.openaiBaseUrl });
    // A registered reward model by name: the scalar-reward provider on its server.
    const rm = await resolveProviderConfig({ model: "my-rm" }, { root });
    assert.deepEqual([rm.config.provider, rm.config.model, rm.config.baseUrl], ["scalar-reward", "rm", "http://127.0.0.1:1"]);
    await assert.rejects(resolveProviderConfig({ model: "not-registered" }, { root }), (e: unknown) => e instanceof ProviderConfigError && e.setting === "provider");
    // Another provider asked for explicitly: the name is that provider's model name.
    const other = await resolveProviderConfig({ provider: "openai", model: "my-sft" }, { root, getKey: () => "sk-1234567890" });
    assert.equal(other.config.model, "my-sft");

    // The CLI: --model NAME alone picks the registered model (its provider and server).
    api.chat = () => ({ text: "fine-tuned answer" });
    const input = writeJsonl(path.join(root, "p.jsonl"), [{ id: "a", messages: [{ role: "user", content: "hi" }] }]);
    const before = api.requestsTo("/v1/chat/completions").length;
    const out = path.join(root, "run");
    const c = await cli(["run-prompts", "--input", input, "--out", out, "--model", "my-sft", "--no-cache"], root);
    assert.equal(c.code, 0, c.err);
    const sent = api.requestsTo("/v1/chat/completions").slice(before);
    assert.equal(sent.length, 1);
    assert.equal((sent[0]!.body as ChatBody).model, "served-sft");
    const run = JSON.parse(readFileSync(path.join(out, "run.json"), "utf8"));
    assert.equal(run.provider, "openai-compatible");
    assert.equal(run.model, "served-sft");
  });

  test("the gate is asked before a provider exists: nothing for the baseline, model for llamacpp, network and key for clouds", () => {
    const g = recordingGate();
    checkProviderGate(g, { provider: "baseline" });
    assert.deepEqual(g.asked, []);
    checkProviderGate(g, { provider: "llamacpp", modelPath: "/m.gguf" });
    assert.deepEqual(g.asked, ["model"]);
    checkProviderGate(g, { provider: "openai-compatible", model: "m", baseUrl: "http://x/v1" });
    assert.deepEqual(g.asked, ["model", "network"]);
    checkProviderGate(g, { provider: "openai", model: "m", apiKey: "sk" });
    assert.deepEqual(g.asked, ["model", "network", "network", "key"]);
  });

  test("a refusing gate stops the run before the provider is created and before anything is written", async () => {
    const gate = recordingGate(["network"]);
    let created = 0;
    const runDir = path.join(dir, "gated");
    const provider = await resolveProviderConfig({ provider: "openai-compatible", model: "m", baseUrl: api.openaiBaseUrl });
    await assert.rejects(
      runEvaluation({ kind: "rm", datasetDir: ds, options: { limit: 1 } }, { runDir, provider, runner: runnerSettings() }, { gate, createProvider: async () => { created++; throw new Error("must not be created"); } }),
      /refused: network/,
    );
    assert.equal(created, 0);
    assert.throws(() => readFileSync(path.join(runDir, "eval.json")), /ENOENT/);
  });
});

describe("sessions", () => {
  test("two GGUF files with the same file name never share cached answers", async () => {
    const cacheDir = path.join(dir, "gguf-cache");
    const runs: string[] = [];
    const answerFrom = async (folder: string, answer: string) => {
      mkdirSync(path.join(dir, folder), { recursive: true });
      const modelPath = path.join(dir, folder, "model.gguf");
      writeFileSync(modelPath, "");
      const provider = await resolveProviderConfig({ provider: "llamacpp", modelPath });
      const input = writeJsonl(path.join(dir, `${folder}.jsonl`), [{ id: "q", messages: [{ role: "user", content: "same question" }] }]);
      const runDir = path.join(dir, `run-${folder}-${runs.length}`);
      runs.push(runDir);
      // A local model that answers `answer` (the session creates it like the registry would: id llamacpp, model = the file's name).
      const createProvider = async () => ({ id: "llamacpp", model: "model.gguf", capabilities: { tokenProbabilities: false }, call: async () => ({ text: answer, usage: { inputTokens: 1, outputTokens: 1, cachedInputTokens: 0, cacheWriteTokens: 0 }, latencyMs: 0 }) });
      const gate = recordingGate();
      const out = await runEvaluation({ kind: "prompts", input }, { runDir, provider, runner: runnerSettings({ cacheDir }) }, { gate, createProvider });
      assert.deepEqual(gate.asked, ["model"]);
      return { out, text: [...(await readResults(runDir)).values()][0]!.text };
    };
    const a = await answerFrom("a", "from file a");
    const b = await answerFrom("b", "from file b");
    assert.equal(b.out.summary.cache.hits, 0, "a model file of the same name elsewhere is another model");
    assert.equal(a.text, "from file a");
    assert.equal(b.text, "from file b");
    const again = await answerFrom("a", "not asked");
    assert.equal(again.out.summary.cache.hits, 1, "the same file again: from the cache");
    assert.equal(again.text, "from file a");
  });

  test("template front-matter defaults apply to CLI runs; flags win over them", async () => {
    const tpl = path.join(dir, "gen.ptpl");
    const builtin = readFileSync("src/core/templates/builtin/generation.ptpl", "utf8");
    writeFileSync(tpl, builtin.replace("name: paper-b2-generation", "name: cool-gen\ndefaults: { temperature: 0.25, maxTokens: 77, topP: 0.5 }"));
    api.chat = () => ({ text: "a response" });
    const base = ["generate", ds, "--provider", "openai-compatible", "--model", "m", "--base-url", api.openaiBaseUrl, "--limit", "1", "--history", "with", "--template", tpl, "--no-cache"];
    const before = api.requestsTo("/v1/chat/completions").length;
    const r = await cli([...base, "--out", path.join(dir, "gen-defaults")]);
    assert.equal(r.code, 0, r.err);
    const bodies = api.requestsTo("/v1/chat/completions").slice(before).map((q) => q.body as ChatBody & { temperature?: number; max_tokens?: number; max_completion_tokens?: number; top_p?: number });
    assert.ok(bodies.length > 0);
    for (const b of bodies) {
      assert.equal(b.temperature, 0.25);
      assert.equal(b.top_p, 0.5);
      assert.equal(b.max_tokens ?? b.max_completion_tokens, 77);
    }
    const run = JSON.parse(readFileSync(path.join(dir, "gen-defaults", "run.json"), "utf8"));
    const { protocol: _protocol, ...sampling } = run.params;
    assert.deepEqual(sampling, { temperature: 0.25, maxTokens: 77, topP: 0.5 });

    const mid = api.requestsTo("/v1/chat/completions").length;
    const r2 = await cli([...base, "--temperature", "0.6", "--out", path.join(dir, "gen-flag")]);
    assert.equal(r2.code, 0, r2.err);
    for (const q of api.requestsTo("/v1/chat/completions").slice(mid)) assert.equal((q.body as { temperature?: number }).temperature, 0.6);
  });

  test("prompt sets: bad input writes nothing; a run records eval.json so it can be resumed", async () => {
    const bad = writeJsonl(path.join(dir, "bad.jsonl"), [{ id: "a", messages: [] }]);
    const provider = await resolveProviderConfig({ provider: "baseline" });
    const badDir = path.join(dir, "prompts-bad");
    await assert.rejects(runEvaluation({ kind: "prompts", input: bad }, { runDir: badDir, provider, runner: runnerSettings() }, { gate: ALLOW_ALL }), (e: unknown) => e instanceof InputError && /bad\.jsonl:1: messages/.test(e.message));
    assert.throws(() => readFileSync(path.join(badDir, "eval.json")), /ENOENT/);

    const rmDir = path.join(dir, "rm-resume");
    const first = await runEvaluation({ kind: "rm", datasetDir: ds, options: { limit: 2, orders: "ab" } }, { runDir: rmDir, provider, runner: runnerSettings() }, { gate: ALLOW_ALL });
    assert.equal(first.summary.status, "finished");
    const resumable = await readResumable(rmDir);
    assert.equal(resumable.kind, "rm");
    assert.deepEqual(resumable.recorded, { provider: "baseline", model: "tfidf-style", params: {} });
    const evalFile = path.join(rmDir, "eval.json");
    const ev = JSON.parse(readFileSync(evalFile, "utf8"));
    const templates = { template: ev.templates["reward-model"].file, historyTemplate: ev.templates.history.file };
    assert.deepEqual(resumable.request, { kind: "rm", datasetDir: ds, options: { dimensions: ["style", "background_knowledge", "informativeness", "harmlessness"], orders: "ab", verdict: "text", maxInputTokens: 12_800, limit: 2, ...templates } });

    // eval.json rewritten with its options in another key order: the resume still matches it.
    ev.options = Object.fromEntries(Object.entries(ev.options).reverse());
    writeFileSync(evalFile, JSON.stringify(ev));
    const again = await runEvaluation(resumable.request, { runDir: rmDir, provider, runner: runnerSettings() }, { gate: ALLOW_ALL });
    assert.equal(again.summary.skipped, first.summary.totals.items);
    assert.equal((await readResults(rmDir)).size, first.summary.totals.items);

    // A field of the wrong type is named, with the file.
    ev.options.orders = "sideways";
    writeFileSync(evalFile, JSON.stringify(ev));
    await assert.rejects(readResumable(rmDir), (e: unknown) => e instanceof ResumeError && e.message.includes(`${evalFile}: options.orders`));
  });

  test("every kind resumes from its own eval.json: generate, judge and prompts round-trip to the same plan", async () => {
    api.chat = (b) => ({ text: String(b.messages?.at(-1)?.content).includes("[RESULT]") ? "Feedback: fine. [RESULT] 4" : "a generated answer" });
    const provider = await resolveProviderConfig({ provider: "openai-compatible", model: "m", baseUrl: api.openaiBaseUrl, maxTokens: 64 });
    const target = (runDir: string) => ({ runDir, provider, runner: runnerSettings({ maxRetries: 0 }) });
    const genDir = path.join(dir, "rt-gen");
    const judgeDir = path.join(dir, "rt-judge");
    const promptsDir = path.join(dir, "rt-prompts");
    const input = writeJsonl(path.join(dir, "rt.jsonl"), [{ id: "p1", messages: [{ role: "user", content: "hello" }] }]);
    const first = [
      await runEvaluation({ kind: "generate", datasetDir: ds, options: { limit: 2, history: "both", dimensions: ["style"] } }, target(genDir), { gate: ALLOW_ALL }),
      await runEvaluation({ kind: "judge", sourceRunDir: genDir, options: { cross: true } }, target(judgeDir), { gate: ALLOW_ALL }),
      await runEvaluation({ kind: "prompts", input }, target(promptsDir), { gate: ALLOW_ALL }),
    ];
    for (const o of first) assert.equal(o.summary.status, "finished", `${o.kind}: ${JSON.stringify(o.summary.failures[0])}`);
    for (const runDir of [genDir, judgeDir, promptsDir]) {
      const evalBefore = readFileSync(path.join(runDir, "eval.json"), "utf8");
      const r = await readResumable(runDir);
      assert.deepEqual(r.recorded.params.maxTokens, 64);
      const resumedProvider = await resolveProviderConfig({ provider: r.recorded.provider, model: r.recorded.model, baseUrl: api.openaiBaseUrl, ...r.recorded.params });
      const again = await runEvaluation(r.request, { runDir, provider: resumedProvider, runner: runnerSettings({ maxRetries: 0 }) }, { gate: ALLOW_ALL });
      assert.equal(again.summary.status, "finished", `${r.kind}: resumed`);
      assert.ok(again.summary.skipped > 0, `${r.kind}: nothing redone`);
      assert.equal(readFileSync(path.join(runDir, "eval.json"), "utf8"), evalBefore, `${r.kind}: the same evaluation`);
    }
  });
});
