/**
 * The batch runner (src/core/eval/runner.ts) driving the real OpenAI / Anthropic SDK providers
 * against the wire-format test servers: retries, faults, timeouts, cancellation, cache, run log,
 * resume (torn lines, a SIGKILLed process) and key hygiene.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, appendFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { AnthropicProvider } from "../../src/core/providers/anthropic.js";
import { OpenAIProvider } from "../../src/core/providers/openai.js";
import { emptyUsage, type Provider } from "../../src/core/providers/types.js";
import {
  RunMismatchError,
  backoffDelay,
  costOf,
  dispatchOrder,
  openRun,
  readResults,
  runBatch,
  type Progress,
  type ResultLine,
  type RunItem,
  type RunJson,
  type RunnerOptions,
} from "../../src/core/eval/runner.js";
import { FakeApiServer, type ChatBody, type RecordedRequest } from "../servers/fake-apis.js";
import { CHILD_META, childItems } from "../servers/runner-child.js";

const KEY = "sk-PREFLAB-SECRET-7f3a9c2e51";
let api: FakeApiServer;
let root: string;

before(async () => {
  api = await FakeApiServer.start();
  root = await mkdtemp(path.join(os.tmpdir(), "preflab-runner-"));
});
after(async () => {
  await api.close();
  await rm(root, { recursive: true, force: true });
});
beforeEach(() => {
  api.requests.length = 0;
  api.faults = [];
  api.faultFn = undefined;
  api.latencyMs = 0;
  api.chat = (body) => ({ text: `answer to ${lastContent(body)}` });
});

let dirCounter = 0;
const newDir = (name: string) => path.join(root, `${name}-${++dirCounter}`);
const lastContent = (body: ChatBody) => String(body.messages?.[body.messages.length - 1]?.content ?? "");
const promptOf = (r: RecordedRequest) => lastContent(r.body as ChatBody);

function provider(model = "gpt-test"): OpenAIProvider {
  return new OpenAIProvider({ provider: "openai", model, apiKey: KEY, baseUrl: api.openaiBaseUrl }, "openai");
}

function items(n: number, prefix = "q"): RunItem[] {
  return Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, request: { messages: [{ role: "user", content: `${prefix} prompt ${i}` }] } }));
}

function opts(runDir: string, over: Partial<RunnerOptions> = {}): RunnerOptions {
  return {
    concurrency: 4,
    timeoutMs: 5000,
    maxRetries: 3,
    backoff: { baseMs: 5, maxMs: 20 },
    cacheDir: false,
    runDir,
    meta: { provider: "openai", model: "gpt-test", params: {} },
    secrets: [KEY],
    ...over,
  };
}

async function lines(runDir: string): Promise<ResultLine[]> {
  const text = await readFile(path.join(runDir, "results.jsonl"), "utf8");
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l) as ResultLine);
}
async function runJson(runDir: string): Promise<RunJson> {
  return JSON.parse(await readFile(path.join(runDir, "run.json"), "utf8")) as RunJson;
}
function countBy<T>(xs: T[], key: (x: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of xs) m.set(key(x), (m.get(key(x)) ?? 0) + 1);
  return m;
}

describe("runner basics", () => {
  test("runs every item, writes results.jsonl and run.json, reports progress and cost", async () => {
    const dir = newDir("basic");
    const events: Progress[] = [];
    const s = await runBatch(items(12), provider(), opts(dir, { onProgress: (p) => events.push(p), pricing: { input: 1, output: 2 }, meta: { provider: "openai", model: "gpt-test", params: {}, templateHash: "t1", datasetManifestHash: "d1", seed: 3 } }));
    assert.equal(s.status, "finished");
    assert.equal(s.totals.done, 12);
    assert.equal(s.totals.failed, 0);
    const ls = await lines(dir);
    assert.equal(ls.length, 12);
    for (const l of ls) {
      assert.equal(l.text, `answer to ${l.itemId.replace("q", "q prompt ")}`);
      assert.equal(l.attempts, 1);
      assert.equal(l.cached, false);
      assert.match(l.requestHash, /^[0-9a-f]{64}$/);
      assert.ok(l.usage.inputTokens > 0);
    }
    const rj = await runJson(dir);
    assert.equal(rj.status, "finished");
    assert.equal(rj.provider, "openai");
    assert.equal(rj.model, "gpt-test");
    assert.equal(rj.templateHash, "t1");
    assert.equal(rj.datasetManifestHash, "d1");
    assert.equal(rj.seed, 3);
    assert.ok(rj.finishedAt);
    assert.equal(rj.totals.items, 12);
    assert.equal(rj.totals.done, 12);
    const input = ls.reduce((a, l) => a + l.usage.inputTokens, 0);
    const output = ls.reduce((a, l) => a + l.usage.outputTokens, 0);
    assert.equal(rj.totals.inputTokens, input);
    assert.ok(Math.abs(rj.totals.costUsd - (input * 1 + output * 2) / 1e6) < 1e-9);
    const last = events[events.length - 1]!;
    assert.equal(last.done, 12);
    assert.equal(last.total, 12);
    assert.equal(last.inFlight, 0);
    assert.ok(events.some((e) => e.etaMs !== null));
    const results = await readResults(dir);
    assert.equal(results.size, 12);
  });

  test("items of one userKey are dispatched back to back", async () => {
    const its: RunItem[] = ["a1:u1", "b1:u2", "a2:u1", "c1:", "b2:u2", "a3:u1"].map((s) => {
      const [id, u] = s.split(":") as [string, string];
      return { id, request: { messages: [{ role: "user", content: id }] }, ...(u ? { userKey: u } : {}) };
    });
    assert.deepEqual(dispatchOrder(its).map((i) => i.id), ["a1", "a2", "a3", "b1", "b2", "c1"]);
    await runBatch(its, provider(), opts(newDir("order"), { concurrency: 1 }));
    assert.deepEqual(api.requests.map(promptOf), ["a1", "a2", "a3", "b1", "b2", "c1"]);
  });

  test("duplicate ids are refused before anything is written", async () => {
    const dir = newDir("dup");
    const its = [...items(2), ...items(1)];
    await assert.rejects(runBatch(its, provider(), opts(dir)), /duplicate item id "q0"/);
    await assert.rejects(stat(dir));
  });

  test("cost: cached input and cache writes at their own prices; backoff stays in bounds", () => {
    const c = costOf({ inputTokens: 1000, outputTokens: 100, cachedInputTokens: 600, cacheWriteTokens: 200 }, { input: 3, output: 15, cachedInput: 0.3, cacheWrite: 3.75 });
    assert.ok(Math.abs(c - (200 * 3 + 600 * 0.3 + 200 * 3.75 + 100 * 15) / 1e6) < 1e-12);
    assert.equal(costOf({ inputTokens: 5, outputTokens: 5, cachedInputTokens: 0, cacheWriteTokens: 0 }, undefined), 0);
    for (let a = 1; a < 12; a++) {
      const d = backoffDelay(a, { baseMs: 100, maxMs: 1000 }, () => 0.999);
      assert.ok(d <= Math.min(1000, 100 * 2 ** (a - 1)));
    }
  });
});

describe("faults and retries", () => {
  test("429 with Retry-After is honoured, then the item succeeds", async () => {
    api.faults.push({ kind: "rate_limit", retryAfter: "1" });
    const dir = newDir("429");
    const s = await runBatch(items(1), provider(), opts(dir, { concurrency: 1 }));
    assert.equal(s.totals.done, 1);
    const [a, b] = api.requests;
    const gap = b!.receivedAt - a!.receivedAt;
    assert.ok(gap >= 950 && gap < 3000, `waited ${gap} ms for Retry-After: 1`);
    assert.equal((await lines(dir))[0]!.attempts, 2);
  });

  test("a 429 pauses other dispatching too (retry-after-ms)", async () => {
    let limited = false;
    api.faultFn = (r) => {
      if (limited || promptOf(r) !== "q prompt 0") return undefined;
      limited = true;
      return { kind: "rate_limit", retryAfterMs: 400 };
    };
    api.latencyMs = 30;
    const t0 = Date.now();
    await runBatch(items(3), provider(), opts(newDir("429pause"), { concurrency: 2 }));
    const q2 = api.requests.find((r) => promptOf(r) === "q prompt 2")!;
    assert.ok(q2.receivedAt - t0 >= 370, `q2 dispatched ${q2.receivedAt - t0} ms after the start, inside the 429 pause`);
  });

  test("500 then success; malformed and cut bodies are retried", async () => {
    api.faults.push({ kind: "status", status: 500 }, { kind: "malformed" }, { kind: "cut" });
    const dir = newDir("retry");
    const s = await runBatch(items(1), provider(), opts(dir, { concurrency: 1 }));
    assert.equal(s.totals.done, 1);
    const [l] = await lines(dir);
    assert.equal(l!.attempts, 4);
    assert.equal(l!.text, "answer to q prompt 0");
  });

  test("a hang past the timeout is retried", async () => {
    api.faults.push({ kind: "hang" });
    const dir = newDir("hang");
    const t0 = Date.now();
    const s = await runBatch(items(1), provider(), opts(dir, { concurrency: 1, timeoutMs: 300 }));
    assert.equal(s.totals.done, 1);
    assert.ok(Date.now() - t0 >= 280);
    assert.equal((await lines(dir))[0]!.attempts, 2);
  });

  test("exhausted retries: a failed line with kind, status and attempts, never an answer", async () => {
    api.faultFn = (r) => (promptOf(r) === "q prompt 1" ? { kind: "status", status: 503, message: "overloaded" } : undefined);
    const dir = newDir("exhaust");
    const s = await runBatch(items(3), provider(), opts(dir, { maxRetries: 2 }));
    assert.equal(s.status, "finished");
    assert.equal(s.totals.done, 2);
    assert.equal(s.totals.failed, 1);
    assert.deepEqual(s.failures.map((f) => [f.itemId, f.kind, f.status, f.attempts]), [["q1", "server", 503, 3]]);
    const failed = (await lines(dir)).find((l) => l.itemId === "q1")!;
    assert.equal(failed.text, null);
    assert.equal(failed.error!.kind, "server");
    assert.equal(failed.error!.status, 503);
    assert.match(failed.error!.message, /overloaded/);
    assert.equal(failed.attempts, 3);
    assert.equal(api.requests.filter((r) => promptOf(r) === "q prompt 1").length, 3);
    assert.equal((await runJson(dir)).totals.failed, 1);
  });

  test("400 is not retried", async () => {
    api.faults.push({ kind: "status", status: 400, message: "context too long" });
    const dir = newDir("400");
    const s = await runBatch(items(1), provider(), opts(dir, { concurrency: 1 }));
    assert.equal(s.totals.failed, 1);
    assert.equal(api.requests.length, 1);
    const [l] = await lines(dir);
    assert.equal(l!.attempts, 1);
    assert.equal(l!.error!.kind, "bad_request");
  });

  test("anthropic through the runner: 429 then success, usage with cache fields", async () => {
    api.faults.push({ kind: "rate_limit", retryAfterMs: 50 });
    const p: Provider = new AnthropicProvider({ provider: "anthropic", model: "claude-test", apiKey: KEY, baseUrl: api.anthropicBaseUrl });
    const history = "history ".repeat(700);
    const its: RunItem[] = [0, 1].map((i) => ({ id: `a${i}`, request: { messages: [{ role: "user", content: history, cachePrefix: true }, { role: "user", content: `question ${i}` }] } }));
    const dir = newDir("anthropic");
    const s = await runBatch(its, p, opts(dir, { concurrency: 1, meta: { provider: "anthropic", model: "claude-test", params: {} }, pricing: { input: 3, output: 15, cachedInput: 0.3, cacheWrite: 3.75 } }));
    assert.equal(s.totals.done, 2);
    const ls = await lines(dir);
    assert.equal(ls[0]!.attempts, 2);
    assert.ok(ls[0]!.usage.cacheWriteTokens > 0);
    assert.ok(ls[1]!.usage.cachedInputTokens > 0);
    assert.ok(s.totals.cachedInputTokens > 0);
  });
});

describe("cancellation, cache and resume", () => {
  test("cancel mid-run: in-flight items are not recorded; a resume finishes the rest exactly once", async () => {
    api.latencyMs = 80;
    const dir = newDir("cancel");
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 250);
    const s = await runBatch(items(30), provider(), opts(dir, { concurrency: 3, signal: ac.signal }));
    assert.equal(s.status, "cancelled");
    const before = await lines(dir);
    assert.ok(before.length > 0 && before.length < 30, `${before.length} lines before cancel`);
    assert.ok(before.every((l) => !l.error), "cancelled items are not failures");
    assert.equal((await runJson(dir)).status, "cancelled");
    api.latencyMs = 0;
    const s2 = await runBatch(items(30), provider(), opts(dir));
    assert.equal(s2.status, "finished");
    assert.equal(s2.skipped, before.length);
    const all = await lines(dir);
    assert.equal(all.length, 30);
    assert.ok([...countBy(all, (l) => l.itemId).values()].every((n) => n === 1));
  });

  test("response cache: hits on rerun, errors not cached, can be disabled", async () => {
    const cacheDir = newDir("cache");
    api.faultFn = (r) => (promptOf(r) === "q prompt 2" ? { kind: "status", status: 400 } : undefined);
    const s1 = await runBatch(items(5), provider(), opts(newDir("c1"), { cacheDir }));
    assert.equal(s1.totals.failed, 1);
    assert.equal(s1.cache.misses, 5);
    const files = await readdir(cacheDir, { recursive: true });
    assert.equal(files.filter((f) => String(f).endsWith(".json")).length, 4, "4 successes cached, the error not");
    assert.ok(files.some((f) => /^[0-9a-f]{2}[/\\][0-9a-f]{2}[/\\][0-9a-f]{64}\.json$/.test(String(f))), "2-level fan-out");
    api.requests.length = 0;
    api.faultFn = undefined;
    const dir2 = newDir("c2");
    const s2 = await runBatch(items(5), provider(), opts(dir2, { cacheDir, pricing: { input: 1, output: 1 } }));
    assert.equal(s2.cache.hits, 4);
    assert.equal(s2.cache.misses, 1);
    assert.deepEqual(api.requests.map(promptOf), ["q prompt 2"], "only the earlier error is asked again");
    const ls = await lines(dir2);
    assert.equal(ls.filter((l) => l.cached && l.attempts === 0).length, 4);
    assert.equal(s2.totals.cached, 4);
    assert.ok(s2.totals.inputTokens < s1.totals.inputTokens, "cache hits cost nothing");
    // A different model, or a different sample index, is a different key.
    api.requests.length = 0;
    await runBatch(items(2), provider("gpt-other"), opts(newDir("c3"), { cacheDir, meta: { provider: "openai", model: "gpt-other", params: {} } }));
    assert.equal(api.requests.length, 2);
    api.requests.length = 0;
    await runBatch(items(2), provider(), opts(newDir("c4"), { cacheDir: false }));
    assert.equal(api.requests.length, 2, "cache disabled");
  });

  test("a torn last line is ignored and truncated away on resume", async () => {
    const dir = newDir("torn");
    await runBatch(items(4), provider(), opts(dir));
    await appendFile(path.join(dir, "results.jsonl"), '{"itemId":"q9","requestHash":"ab');
    const s = await runBatch(items(6), provider(), opts(dir));
    assert.ok(s.tornBytes > 0);
    assert.equal(s.skipped, 4);
    const ls = await lines(dir); // parses every line: the torn bytes are gone
    assert.equal(ls.length, 6);
    assert.deepEqual([...countBy(ls, (l) => l.itemId).values()], [1, 1, 1, 1, 1, 1]);
  });

  test("resume re-attempts failed items; the later line wins; successes are never redone", async () => {
    const dir = newDir("refail");
    api.faultFn = (r) => (promptOf(r) === "q prompt 1" ? { kind: "status", status: 400 } : undefined);
    await runBatch(items(3), provider(), opts(dir));
    api.faultFn = undefined;
    api.requests.length = 0;
    const s = await runBatch(items(3), provider(), opts(dir));
    assert.equal(s.retriedFailed, 1);
    assert.equal(s.skipped, 2);
    assert.deepEqual(api.requests.map(promptOf), ["q prompt 1"]);
    assert.equal(s.totals.done, 3);
    assert.equal(s.totals.failed, 0);
    const res = await readResults(dir);
    assert.equal(res.get("q1")!.text, "answer to q prompt 1");
    assert.equal((await lines(dir)).length, 4);
    api.requests.length = 0;
    const s3 = await runBatch(items(3), provider(), opts(dir, { retryFailed: false }));
    assert.equal(s3.finishedThisSession, 0);
    assert.equal(api.requests.length, 0);
  });

  test("keepResults false: the same totals, failures, resume and mismatch checks, no result lines in memory", async () => {
    const dir = newDir("compact");
    api.faultFn = (r) => (promptOf(r) === "q prompt 1" ? { kind: "status", status: 400 } : undefined);
    await runBatch(items(3), provider(), opts(dir, { keepResults: false }));
    api.faultFn = (r) => (promptOf(r) === "q prompt 4" ? { kind: "status", status: 400 } : undefined);
    api.requests.length = 0;
    const session = await openRun(provider(), opts(dir, { keepResults: false }));
    assert.equal(await session.run(items(5)), true);
    assert.deepEqual(api.requests.map(promptOf).sort(), ["q prompt 1", "q prompt 3", "q prompt 4"], "q0 and q2 were done; q1 failed before");
    assert.throws(() => session.result("q0"), /keeps no result lines/);
    await assert.rejects(session.run(items(1)), /duplicate item id "q0"/);
    const s = await session.finish();
    assert.deepEqual([s.totals.items, s.totals.done, s.totals.failed, s.skipped, s.retriedFailed, s.finishedThisSession], [5, 4, 1, 2, 1, 3]);
    assert.deepEqual(s.failures.map((f) => [f.itemId, f.kind, f.status]), [["q4", "bad_request", 400]]);
    assert.equal((await runJson(dir)).totals.done, 4);
    // The lines are all in results.jsonl: the same as a run that keeps them.
    const res = await readResults(dir);
    assert.equal(res.get("q3")!.text, "answer to q prompt 3");
    assert.equal(res.get("q4")!.error?.kind, "bad_request");
    // A changed request is still refused on resume.
    const changed = items(5);
    changed[2] = { id: "q2", request: { messages: [{ role: "user", content: "something else" }] } };
    await assert.rejects(runBatch(changed, provider(), opts(dir, { keepResults: false })), (e) => e instanceof RunMismatchError && /item "q2"/.test(e.message));
  });

  test("resume is refused when provider, model, params or a request differ", async () => {
    const dir = newDir("mismatch");
    await runBatch(items(2), provider(), opts(dir, { meta: { provider: "openai", model: "gpt-test", params: { temperature: 0.9 } } }));
    await assert.rejects(runBatch(items(2), provider("gpt-other"), opts(dir, { meta: { provider: "openai", model: "gpt-other", params: { temperature: 0.9 } } })), (e) => e instanceof RunMismatchError && /model "gpt-test" vs "gpt-other"/.test(e.message));
    await assert.rejects(runBatch(items(2), provider(), opts(dir, { meta: { provider: "openai", model: "gpt-test", params: { temperature: 0.5 } } })), (e) => e instanceof RunMismatchError && /params/.test(e.message));
    const changed = items(2);
    changed[1]!.request.messages[0]!.content = "something else";
    await assert.rejects(runBatch(changed, provider(), opts(dir, { meta: { provider: "openai", model: "gpt-test", params: { temperature: 0.9 } } })), (e) => e instanceof RunMismatchError && /item "q1"/.test(e.message));
  });

  test("SIGKILL mid-run, then resume: every item exactly once, successful items never asked again", async () => {
    const dir = newDir("kill");
    const n = 60;
    api.latencyMs = 40;
    const child = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "../servers/runner-child.ts"), api.openaiBaseUrl, dir, String(n), "4"], {
      env: { ...process.env, OPENAI_API_KEY: KEY },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on("exit", (code, sig) => resolve(sig ?? code)));
    let written = 0;
    for (let i = 0; i < 1500 && written < 12; i++) {
      await new Promise((r) => setTimeout(r, 20));
      written = (await readFile(path.join(dir, "results.jsonl"), "utf8").catch(() => "")).split("\n").filter(Boolean).length;
    }
    assert.ok(written >= 12, `child wrote ${written} lines; stderr: ${stderr}`);
    child.kill("SIGKILL");
    assert.equal(await exited, "SIGKILL");
    const killedAt = Date.now();
    const beforeResume = (await readFile(path.join(dir, "results.jsonl"), "utf8")).split("\n").filter((l) => l.trim()).map((l) => {
      try {
        return (JSON.parse(l) as ResultLine).itemId;
      } catch {
        return undefined; // a torn last line
      }
    });
    const doneBefore = new Set(beforeResume.filter((x): x is string => x !== undefined));
    assert.ok(doneBefore.size < n, "killed before the end");
    assert.equal((await runJson(dir)).status, "running", "a killed run never got to write its end");

    api.latencyMs = 0;
    const p = new OpenAIProvider({ provider: "openai", model: "gpt-kill", apiKey: KEY, baseUrl: api.openaiBaseUrl, maxTokens: 16 }, "openai");
    const s = await runBatch(childItems(n), p, opts(dir, { meta: CHILD_META }));
    assert.equal(s.status, "finished");
    assert.equal(s.totals.done, n);
    assert.equal(s.totals.failed, 0);
    const all = await lines(dir);
    const counts = countBy(all, (l) => l.itemId);
    assert.equal(counts.size, n);
    assert.ok([...counts.values()].every((c) => c === 1), "no duplicates");
    assert.ok(all.every((l) => l.error === undefined && typeof l.text === "string"));
    const askedAgain = api.requests.filter((r) => r.receivedAt >= killedAt).map((r) => promptOf(r).replace("prompt number ", ""));
    for (const id of doneBefore) assert.ok(!askedAgain.includes(String(Number(id.slice(5)))), `${id} was asked again`);
  });
});

describe("robustness", () => {
  test("a provider that ignores its signal still times out, and is retried", async () => {
    let calls = 0;
    const stubborn: Provider = {
      id: "stub",
      model: "m",
      capabilities: { tokenProbabilities: false },
      call: () => (++calls === 1 ? new Promise(() => undefined) : Promise.resolve({ text: "late but fine", usage: emptyUsage(), latencyMs: 1 })),
    };
    const dir = newDir("stubborn");
    const s = await runBatch(items(1), stubborn, opts(dir, { timeoutMs: 150, meta: { provider: "stub", model: "m", params: {} } }));
    assert.equal(s.totals.done, 1);
    assert.equal((await lines(dir))[0]!.attempts, 2);
  });

  test("an error that is not a ProviderError stops the run (status failed) instead of being retried", async () => {
    const buggy: Provider = { id: "bug", model: "m", capabilities: { tokenProbabilities: false }, call: () => Promise.reject(new TypeError("undefined is not a function")) };
    const dir = newDir("bug");
    await assert.rejects(runBatch(items(3), buggy, opts(dir, { meta: { provider: "bug", model: "m", params: {} } })), /undefined is not a function/);
    const rj = await runJson(dir);
    assert.equal(rj.status, "failed");
    assert.match(rj.error!, /undefined is not a function/);
    assert.equal((await readFile(path.join(dir, "results.jsonl"), "utf8")).trim(), "", "nothing recorded as an answer or a failure");
  });

  test("a run dir in use by a live process is refused; a stale lock is taken over", async () => {
    const dir = newDir("lock");
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "run.lock"), JSON.stringify({ pid: process.ppid, host: os.hostname() }));
    await assert.rejects(runBatch(items(1), provider(), opts(dir)), /in use by another run/);
    await writeFile(path.join(dir, "run.lock"), JSON.stringify({ pid: 2 ** 22 + 12345, host: os.hostname() }));
    const s = await runBatch(items(1), provider(), opts(dir));
    assert.equal(s.totals.done, 1);
    await assert.rejects(stat(path.join(dir, "run.lock")), "the lock is released at the end");
  });
});

describe("runs in rounds and run.json writes", () => {
  test("a run grows in rounds: one lock and read, totals over every round, finished once at the end", async () => {
    const dir = newDir("rounds");
    // Something recorded before: a resume in rounds skips it and counts it.
    await runBatch(items(3, "a"), provider(), opts(dir));
    api.requests.length = 0;
    const session = await openRun(provider(), opts(dir));
    assert.equal(await session.run(items(5, "a")), true);
    assert.equal(api.requests.length, 2, "a0..a2 were done before");
    let rj = await runJson(dir);
    assert.equal(rj.status, "running", "not finished after a round");
    assert.equal(rj.totals.items, 5);
    assert.equal(session.result("a4")?.text, "answer to a prompt 4", "results come from memory");
    await assert.rejects(session.run(items(1, "a")), /duplicate item id "a0"/);
    assert.equal(await session.run(items(4, "b")), true);
    assert.equal(api.requests.length, 6);
    const s = await session.finish();
    assert.equal(s.status, "finished");
    assert.deepEqual([s.totals.items, s.totals.done, s.totals.failed], [9, 9, 0]);
    assert.equal(s.skipped, 3);
    assert.equal(s.finishedThisSession, 6);
    rj = await runJson(dir);
    assert.equal(rj.status, "finished");
    assert.equal(rj.totals.items, 9);
    assert.equal(rj.totals.done, 9);
    assert.equal((await lines(dir)).length, 9);
    await assert.rejects(stat(path.join(dir, "run.lock")), "the lock is released at the end");
    assert.equal((await session.finish()).status, "finished", "finish is idempotent");
  });

  test("runStream pulls items on demand (about `concurrency` ahead), resumes, and a throwing source fails the run", async () => {
    const dir = newDir("stream");
    await runBatch(items(5, "s"), provider(), opts(dir)); // s0..s4 done before
    api.requests.length = 0;
    let pulled = 0;
    let maxAhead = 0;
    let recorded = 0;
    const session = await openRun(provider(), opts(dir, { concurrency: 3, onProgress: () => recorded++ })); // one call per line written
    function* source(): Generator<RunItem> {
      for (const item of items(40, "s")) {
        pulled++;
        if (pulled > 5) maxAhead = Math.max(maxAhead, pulled - 5 - recorded); // s0..s4 are skipped, not dispatched
        yield item;
      }
    }
    assert.equal(await session.runStream(source()), true);
    const s = await session.finish();
    assert.equal(s.status, "finished");
    assert.deepEqual([s.totals.items, s.totals.done, s.skipped, s.finishedThisSession], [40, 40, 5, 35]);
    assert.equal(api.requests.length, 35);
    assert.ok(maxAhead <= 3 + 1, `pulled at most concurrency + 1 ahead of what was recorded (was ${maxAhead})`);
    const bad = newDir("stream-bad");
    const s2 = await openRun(provider(), opts(bad));
    function* broken(): Generator<RunItem> {
      yield* items(2, "b");
      throw new Error("source broke at row 3");
    }
    await assert.rejects(s2.runStream(broken()), /source broke at row 3/);
    assert.equal((await s2.finish()).status, "failed");
    assert.equal((await runJson(bad)).status, "failed");
  });

  test("a run.json write that fails (rename onto a directory) is retried; the run finishes with every result", async () => {
    const dir = newDir("status-retry");
    const file = path.join(dir, "run.json");
    let broke = false;
    const s = await runBatch(
      items(10),
      provider(),
      opts(dir, {
        concurrency: 1,
        runJsonIntervalMs: 5,
        onProgress: (p) => {
          if (p.done === 2 && !broke) {
            broke = true;
            // Every write now fails (EISDIR / ENOTEMPTY on rename) until the directory goes away.
            rmSync(file, { force: true });
            mkdirSync(path.join(file, "x"), { recursive: true });
            setTimeout(() => rmSync(file, { recursive: true, force: true }), 60);
          }
        },
      }),
    );
    assert.ok(broke);
    assert.equal(s.status, "finished");
    assert.equal(s.statusWriteError, undefined);
    assert.equal(s.totals.done, 10);
    const rj = await runJson(dir);
    assert.equal(rj.status, "finished");
    assert.equal(rj.totals.done, 10);
    assert.equal((await lines(dir)).length, 10);
  });

  test("a run.json that cannot be written at all never fails the run; the next open repairs it from results.jsonl", async () => {
    const dir = newDir("status-broken");
    const file = path.join(dir, "run.json");
    await mkdir(path.join(file, "x"), { recursive: true }); // run.json is a non-empty directory
    const s = await runBatch(items(6), provider(), opts(dir));
    assert.equal(s.status, "finished", "every result was recorded, so the run did not fail");
    assert.equal(s.totals.done, 6);
    assert.match(s.statusWriteError ?? "", /run\.json/);
    assert.equal((await lines(dir)).length, 6);
    await rm(file, { recursive: true });
    // Missing run.json: reopening rewrites it from results.jsonl (nothing is asked again).
    api.requests.length = 0;
    const again = await runBatch(items(6), provider(), opts(dir));
    assert.equal(api.requests.length, 0);
    assert.equal(again.skipped, 6);
    let rj = await runJson(dir);
    assert.deepEqual([rj.status, rj.totals.items, rj.totals.done], ["finished", 6, 6]);
    // Stale run.json (left "running" with wrong totals by a killed process): repaired the same way.
    await writeFile(file, JSON.stringify({ ...rj, status: "running", finishedAt: null, totals: { ...rj.totals, done: 1, inputTokens: 0 } }));
    const session = await openRun(provider(), opts(dir));
    rj = await runJson(dir);
    assert.equal(rj.totals.inputTokens, s.totals.inputTokens, "usage recounted from results.jsonl on open");
    await session.run(items(6));
    await session.finish();
    rj = await runJson(dir);
    assert.deepEqual([rj.status, rj.totals.items, rj.totals.done], ["finished", 6, 6]);
  });
});

describe("limits and hygiene", () => {
  test("requests-per-minute limit paces dispatching", async () => {
    const t0 = Date.now();
    await runBatch(items(30), provider(), opts(newDir("rpm"), { concurrency: 8, rpm: 1200 })); // 20/s, bucket of 20
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 400, `30 requests at 1200 rpm took ${elapsed} ms`);
  });

  test("tokens-per-minute limit paces dispatching", async () => {
    const big = Array.from({ length: 6 }, (_, i) => ({ id: `t${i}`, request: { messages: [{ role: "user" as const, content: `${i} ` + "x".repeat(3996) }] } })); // ~1000 tokens each
    const t0 = Date.now();
    await runBatch(big, provider(), opts(newDir("tpm"), { concurrency: 6, tpm: 240_000 })); // 4000 tokens/s, bucket of 4000
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 400, `6k tokens at 240k tpm took ${elapsed} ms`);
  });

  test("the API key never reaches run.json, results.jsonl or the cache, even when echoed back", async () => {
    const dir = newDir("keys");
    const cacheDir = newDir("keys-cache");
    api.chat = (_b, r) => ({ text: `I saw ${String(r.headers.authorization)}` });
    api.faultFn = (r) => (promptOf(r) === "q prompt 1" ? { kind: "status", status: 401, message: `Incorrect API key provided: ${KEY}` } : undefined);
    await runBatch(items(3), provider(), opts(dir, { cacheDir, meta: { provider: "openai", model: "gpt-test", params: { apiKey: KEY } } }));
    const files = [path.join(dir, "run.json"), path.join(dir, "results.jsonl")];
    for (const f of await readdir(cacheDir, { recursive: true })) if (String(f).endsWith(".json")) files.push(path.join(cacheDir, String(f)));
    for (const f of files) {
      const text = await readFile(f, "utf8");
      assert.ok(!text.includes(KEY), `${f} contains the API key`);
    }
    const ls = await lines(dir);
    assert.ok(ls.some((l) => l.text?.includes("[redacted]")));
    assert.equal(ls.find((l) => l.itemId === "q1")!.error!.kind, "auth");
  });
});
