/** `preflab run-prompts` end to end (in-process `main`), against the wire-format test server. */
import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { main } from "../../src/cli/main.js";
import { providerOptionSpec, resolveProviderOptions } from "../../src/cli/provider-options.js";
import { UsageError } from "../../src/cli/command.js";
import type { ResultLine } from "../../src/core/eval/runlog.js";
import { FakeApiServer, type ChatBody } from "../servers/fake-apis.js";

const KEY = "sk-CLI-DISTINCTIVE-KEY-5b8e1d0c44";
let api: FakeApiServer;
let root: string;
const savedKey = process.env.OPENAI_API_KEY;

before(async () => {
  api = await FakeApiServer.start();
  root = await mkdtemp(path.join(os.tmpdir(), "preflab-cli-"));
  process.env.OPENAI_API_KEY = KEY;
});
after(async () => {
  await api.close();
  await rm(root, { recursive: true, force: true });
  if (savedKey === undefined) delete process.env.OPENAI_API_KEY;
  else process.env.OPENAI_API_KEY = savedKey;
});
beforeEach(() => {
  api.requests.length = 0;
  api.faults = [];
  api.faultFn = undefined;
  api.latencyMs = 0;
  api.chat = (b) => ({ text: `answer: ${lastContent(b)}` });
  process.env.OPENAI_API_KEY = KEY;
});

const lastContent = (b: ChatBody) => String(b.messages?.[b.messages.length - 1]?.content ?? "");
let n = 0;
const tmp = (name: string) => path.join(root, `${name}-${++n}`);

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(["run-prompts", ...args], { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

async function promptsFile(lines: unknown[], name = "prompts"): Promise<string> {
  const f = tmp(name) + ".jsonl";
  await writeFile(f, lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n") + "\n");
  return f;
}

const prompt = (id: string, content = `question ${id}`, extra: Record<string, unknown> = {}) => ({ id, messages: [{ role: "user", content }], ...extra });
const base = () => ["--provider", "openai", "--model", "gpt-cli", "--base-url", api.openaiBaseUrl];

async function results(dir: string): Promise<ResultLine[]> {
  return (await readFile(path.join(dir, "results.jsonl"), "utf8")).split("\n").filter(Boolean).map((l) => JSON.parse(l) as ResultLine);
}
const exists = (p: string) => stat(p).then(() => true, () => false);

describe("run-prompts", () => {
  test("runs a prompts file into a run dir, with params, summary and cost", async () => {
    const input = await promptsFile([
      prompt("a"),
      prompt("b", "hello", { params: { temperature: 0.1, maxTokens: 7 }, userKey: "u1" }),
      { ...prompt("c"), metadata: { note: "extra fields are fine" } },
      "",
      prompt("d", "verdict?", { probabilities: { candidates: ["A", "B"] } }),
    ]);
    const out = tmp("run");
    const cacheDir = tmp("cache");
    const r = await cli(["--input", input, "--out", out, ...base(), "--temperature", "0.5", "--max-tokens", "32", "--cache-dir", cacheDir, "--price-input", "2", "--price-output", "4", "--concurrency", "2"]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /run-prompts: finished/);
    assert.match(r.out, /done\s+4 \(0 from cache\)/);
    assert.match(r.out, /cost\s+\$\d+\.\d{4}/);
    assert.match(r.out, new RegExp(`run dir\\s+${out.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&")}`));
    assert.match(r.err, /\[run-prompts\] 4\/4 finished/);
    const ls = await results(out);
    assert.equal(ls.length, 4);
    const d = ls.find((l) => l.itemId === "d")!;
    assert.ok(Math.abs(d.tokenProbabilities!.A! - 0.7) < 1e-9);
    const bodies = api.requests.map((q) => q.body as ChatBody);
    const b = bodies.find((x) => lastContent(x) === "hello")!;
    assert.equal(b.temperature, 0.1);
    assert.equal(b.max_completion_tokens, 7);
    const a = bodies.find((x) => lastContent(x) === "question a")!;
    assert.equal(a.temperature, 0.5);
    assert.equal(a.max_completion_tokens, 32);
    const runJson = JSON.parse(await readFile(path.join(out, "run.json"), "utf8")) as { params: unknown; baseUrl: string; status: string };
    assert.deepEqual(runJson.params, { temperature: 0.5, maxTokens: 32 });
    assert.equal(runJson.status, "finished");

    // The same command again: everything is already done.
    api.requests.length = 0;
    const again = await cli(["--input", input, "--out", out, ...base(), "--temperature", "0.5", "--max-tokens", "32", "--cache-dir", cacheDir]);
    assert.equal(again.code, 0);
    assert.match(again.out, /resumed\s+4 already done/);
    assert.equal(api.requests.length, 0);
    // Same prompts into a new run dir: served from the cache.
    const fromCache = await cli(["--input", input, "--out", tmp("run"), ...base(), "--temperature", "0.5", "--max-tokens", "32", "--cache-dir", cacheDir]);
    assert.match(fromCache.out, /done\s+4 \(4 from cache\)/);
    assert.equal(api.requests.length, 0);
  });

  test("a bad line names file, line and field, and nothing is written", async () => {
    const input = await promptsFile([prompt("a"), { id: "b", messages: [{ role: "robot", content: "x" }] }, prompt("c")]);
    const out = tmp("bad");
    const cacheDir = tmp("bad-cache");
    const r = await cli(["--input", input, "--out", out, ...base(), "--cache-dir", cacheDir]);
    assert.equal(r.code, 1);
    assert.ok(r.err.includes(`${input}:2: messages.0.role:`), r.err);
    assert.match(r.err, /nothing was written/);
    assert.equal(await exists(out), false);
    assert.equal(await exists(cacheDir), false);
    assert.equal(api.requests.length, 0);
  });

  test("invalid JSON, a wrong type and a duplicate id are each reported with their line", async () => {
    const input = await promptsFile([prompt("a"), "{not json", { id: "b", messages: [{ role: "user", content: "x" }], params: { maxTokens: "ten" } }, prompt("a")]);
    const r = await cli(["--input", input, "--out", tmp("bad2"), ...base(), "--no-cache"]);
    assert.equal(r.code, 1);
    assert.ok(r.err.includes(`${input}:2: not valid JSON`), r.err);
    assert.ok(r.err.includes(`${input}:3: params.maxTokens:`), r.err);
    assert.ok(r.err.includes(`${input}:4: id: duplicate id "a" (first on line 1)`), r.err);
  });

  test("failed items exit 1 and are listed; a rerun retries them and exits 0", async () => {
    api.faultFn = (q) => (lastContent(q.body as ChatBody) === "question b" ? { kind: "status", status: 400, message: "no good" } : undefined);
    const input = await promptsFile([prompt("a"), prompt("b"), prompt("c")]);
    const out = tmp("fail");
    const r = await cli(["--input", input, "--out", out, ...base(), "--no-cache"]);
    assert.equal(r.code, 1);
    assert.match(r.out, /failed\s+1/);
    assert.match(r.out, /b {2}bad_request \(HTTP 400\) after 1 attempt: .*no good/);
    api.faultFn = undefined;
    const r2 = await cli(["--input", input, "--out", out, ...base(), "--no-cache"]);
    assert.equal(r2.code, 0, r2.out);
    assert.match(r2.out, /resumed\s+2 already done, 1 failed before and tried again/);
  });

  test("a different model for an existing run dir is refused", async () => {
    const input = await promptsFile([prompt("a")]);
    const out = tmp("mismatch");
    assert.equal((await cli(["--input", input, "--out", out, ...base(), "--no-cache"])).code, 0);
    const r = await cli(["--input", input, "--out", out, "--provider", "openai", "--model", "gpt-other", "--base-url", api.openaiBaseUrl, "--no-cache"]);
    assert.equal(r.code, 1);
    assert.match(r.err, /cannot resume .*model "gpt-cli" vs "gpt-other"/);
  });

  test("usage errors: missing key, missing flags, bad numbers", async () => {
    const input = await promptsFile([prompt("a")]);
    delete process.env.OPENAI_API_KEY;
    const noKey = await cli(["--input", input, "--out", tmp("nokey"), ...base()]);
    assert.equal(noKey.code, 2);
    assert.match(noKey.err, /set OPENAI_API_KEY/);
    process.env.OPENAI_API_KEY = KEY;
    assert.equal((await cli(["--input", input, "--out", tmp("x")])).code, 2);
    assert.match((await cli(["--input", input, "--out", tmp("x"), "--provider", "openai"])).err, /--model is required/);
    assert.match((await cli(["--input", input, "--out", tmp("x"), ...base(), "--concurrency", "0"])).err, /--concurrency must be an integer >= 1/);
    assert.match((await cli(["--input", input, "--out", tmp("x"), ...base(), "--api-key", "x"])).err, /Unknown option '--api-key'/);
    const help = await cli(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.out, /--max-retries N/);
  });

  test("Ctrl-C cancels (exit 130) and the same command resumes", async () => {
    api.latencyMs = 60;
    const input = await promptsFile(Array.from({ length: 20 }, (_, i) => prompt(`p${i}`)));
    const out = tmp("sigint");
    setTimeout(() => process.emit("SIGINT", "SIGINT"), 200);
    const r = await cli(["--input", input, "--out", out, ...base(), "--no-cache", "--concurrency", "2"]);
    assert.equal(r.code, 130, r.out + r.err);
    assert.match(r.err, /cancelling/);
    const partial = await results(out);
    assert.ok(partial.length > 0 && partial.length < 20);
    api.latencyMs = 0;
    const r2 = await cli(["--input", input, "--out", out, ...base(), "--no-cache"]);
    assert.equal(r2.code, 0);
    const all = await results(out);
    assert.equal(all.length, 20);
    assert.equal(new Set(all.map((l) => l.itemId)).size, 20);
  });

  test("the API key reaches neither the run dir, the cache, nor the console", async () => {
    api.chat = (_b, q) => ({ text: `echoing ${String(q.headers.authorization)}` });
    api.faultFn = (q) => (lastContent(q.body as ChatBody) === "question k2" ? { kind: "status", status: 401, message: `Incorrect API key provided: ${KEY}` } : undefined);
    const input = await promptsFile([prompt("k1"), prompt("k2")]);
    const out = tmp("keys");
    const cacheDir = tmp("keys-cache");
    const r = await cli(["--input", input, "--out", out, ...base(), "--cache-dir", cacheDir]);
    assert.equal(r.code, 1);
    assert.ok(!r.out.includes(KEY) && !r.err.includes(KEY), "console output holds the key");
    const files = [...(await readdir(out)).map((f) => path.join(out, f)), ...(await readdir(cacheDir, { recursive: true })).map((f) => path.join(cacheDir, String(f)))];
    for (const f of files) {
      if (!(await stat(f)).isFile()) continue;
      assert.ok(!(await readFile(f, "utf8")).includes(KEY), `${f} holds the key`);
    }
  });
});

describe("provider-options", () => {
  test("a prefix gives a second model its own flags", async () => {
    const spec = providerOptionSpec("judge-");
    assert.ok(spec["judge-model"] && spec["judge-no-cache"] && spec["judge-concurrency"]);
    const r = await resolveProviderOptions(
      { "judge-provider": "anthropic", "judge-model": "claude-x", "judge-concurrency": "3", "judge-no-cache": true, model: "ignored" },
      { prefix: "judge-", env: { ANTHROPIC_API_KEY: "sk-ant-123456789" } },
    );
    assert.equal(r.config.provider, "anthropic");
    assert.equal(r.config.model, "claude-x");
    assert.equal(r.config.apiKey, "sk-ant-123456789");
    assert.equal(r.runner.concurrency, 3);
    assert.equal(r.runner.cacheDir, false);
    assert.deepEqual(r.secrets, ["sk-ant-123456789"]);
    assert.equal(await resolveProviderOptions({}, { prefix: "judge-", required: false }), undefined);
    await assert.rejects(resolveProviderOptions({ "judge-provider": "anthropic", "judge-model": "c" }, { prefix: "judge-", env: {} }), (e) => e instanceof UsageError && /--judge-|ANTHROPIC_API_KEY/.test(e.message));
    await assert.rejects(resolveProviderOptions({ "judge-provider": "anthropic", "judge-model": "c", "judge-temperature": "0.9" }, { prefix: "judge-", env: { ANTHROPIC_API_KEY: "k-123456789" } }), /--judge-temperature/);
    const compat = await resolveProviderOptions({ provider: "openai-compatible", model: "m", "base-url": "http://127.0.0.1:1/v1" }, { env: {} });
    assert.equal(compat.config.apiKey, undefined, "openai-compatible runs without a key");
  });
});
