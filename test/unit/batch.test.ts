/**
 * Provider batch APIs end to end: the real `openai` and `@anthropic-ai/sdk` clients against the
 * wire-format batch servers (test/servers/batch-apis.ts). Same scripted answers through the
 * ordinary path and the batch path give identical results and reports; per-item errors, malformed
 * and missing result lines and expiry go back through the ordinary path; sharding; the custom-id
 * mapping kept in the run folder; cancel cancels the remote batch and a resume finishes without
 * duplicates; a kill -9 while polling, then a resume, loses and duplicates nothing; a kill right
 * after the API created a batch (before the run recorded it), then a resume, finds that batch in
 * the paginated batch list and creates exactly one batch per shard.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { buildDataset } from "../../src/core/data/builder.js";
import { planRm, runRm } from "../../src/core/eval/rm.js";
import { buildReport } from "../../src/core/metrics/report.js";
import { readResults, readRunJson, runBatch, type RunnerOptions } from "../../src/core/eval/runner.js";
import { OpenAIProvider } from "../../src/core/providers/openai.js";
import { AnthropicProvider } from "../../src/core/providers/anthropic.js";
import type { ProviderConfig } from "../../src/core/providers/registry.js";
import type { Provider } from "../../src/core/providers/types.js";
import { AmbiguousSubmissionError, AnthropicBatchBackend, OpenAIBatchBackend, type BatchBackend } from "../../src/core/batch/backend.js";
import { BATCH_FILE, BatchProvider, LIMIT_RESUBMITS, type BatchProgress, type BatchState } from "../../src/core/batch/provider.js";
import { CUSTOM_ID_PATTERN, customIdFor } from "../../src/core/batch/ids.js";
import { withBatchMode } from "../../src/app/batch.js";
import { FakeApiServer, type ChatBody, type MessagesBody } from "../servers/fake-apis.js";
import { installBatchApis, type BatchApis } from "../servers/batch-apis.js";
import { CHILD_META, childItems } from "../servers/runner-child.js";
import { childBatchSetup } from "../servers/batch-child.js";
import { tempDir } from "../helpers/tmp.js";
import { testRunner } from "../helpers/eval.js";

const dir = tempDir();
const ds = path.join(dir, "ds");
let api: FakeApiServer;
let batches: BatchApis;

const between = (s: string, a: string, b: string) => s.slice(s.indexOf(a) + a.length, s.indexOf(b, s.indexOf(a)));
/** A deterministic reward model: prefers the shorter response; unparsable when A's length is a multiple of 5. */
function verdict(prompt: string): string {
  const a = between(prompt, "###Response A:\n", "\n\n###End of Response A");
  const b = between(prompt, "###Response B:\n", "\n\n###End of Response B");
  if (a.length % 5 === 0) return "No idea.";
  return `Thinking... ${a.length <= b.length ? "[[A]]" : "[[B]]"}`;
}
const chatText = (b: ChatBody) => String(b.messages!.at(-1)!.content);
const messagesText = (b: MessagesBody) => {
  const c = b.messages!.at(-1)!.content;
  return typeof c === "string" ? c : c.map((x) => x.text ?? "").join("");
};

before(async () => {
  api = await FakeApiServer.start({ chat: (b) => ({ text: verdict(chatText(b)) }), messages: (b) => ({ text: verdict(messagesText(b)) }) });
  batches = installBatchApis(api);
  await buildDataset({ train: "samples/train.jsonl", test: "samples/test.jsonl", out: ds });
});
after(() => api.close());

function reset(opts: Partial<BatchApis> = {}) {
  batches.itemsPerPoll = opts.itemsPerPoll;
  batches.itemFault = opts.itemFault;
  batches.expireAfterPolls = opts.expireAfterPolls;
  api.requests.length = 0;
}

const openaiConfig = (): ProviderConfig => ({ provider: "openai", model: "gpt-4o", apiKey: "sk-test-key-123", baseUrl: api.openaiBaseUrl });
const anthropicConfig = (): ProviderConfig => ({ provider: "anthropic", model: "claude-sonnet-4-5", apiKey: "sk-ant-test-123", baseUrl: api.anthropicBaseUrl });
const fast = (runDir: string, provider: Provider, over: Partial<RunnerOptions> = {}) => testRunner(runDir, provider, { concurrency: 4, maxRetries: 3, ...over });

async function batchRun<T>(config: ProviderConfig, inner: Provider, runDir: string, fn: (p: Provider, o: RunnerOptions) => Promise<T>, extra: { onProgress?: (p: BatchProgress) => void; signal?: AbortSignal } = {}): Promise<T> {
  const options = fast(runDir, inner, extra.signal ? { signal: extra.signal } : {});
  return withBatchMode(inner, config, options, runDir, { batch: true, batchPollMs: 10 }, extra.onProgress, fn);
}

for (const [name, config, make] of [
  ["openai", openaiConfig, (c: ProviderConfig) => new OpenAIProvider(c, "openai")],
  ["anthropic", anthropicConfig, (c: ProviderConfig) => new AnthropicProvider(c)],
] as const) {
  test(`${name}: the batch path and the ordinary path give the same results.jsonl answers and identical reports`, async () => {
    reset({ itemsPerPoll: 7 });
    const ordinaryDir = path.join(dir, `${name}-ordinary`);
    const batchDir = path.join(dir, `${name}-batch`);
    const p1 = make(config());
    await runRm(ds, { limit: 8 }, p1, fast(ordinaryDir, p1));
    const ordinaryCalls = api.requests.length;
    assert.ok(ordinaryCalls > 0);
    reset({ itemsPerPoll: 7 });
    const progress: BatchProgress[] = [];
    const p2 = make(config());
    const { summary } = await batchRun(config(), p2, batchDir, (p, o) => runRm(ds, { limit: 8 }, p, { ...o, runDir: batchDir }), { onProgress: (p) => progress.push(p) });
    assert.equal(summary.totals.failed, 0);
    const direct = api.requests.filter((r) => r.path === "/v1/chat/completions" || r.path === "/v1/messages");
    assert.equal(direct.length, 0, "nothing went through the ordinary endpoint");
    assert.equal(batches.log.filter((l) => l.op === "create").length > 0, true);
    // Slow completion: the batch's own counts grew poll by poll.
    const succeeded = progress.map((p) => p.counts.succeeded);
    assert.ok(succeeded.length >= 3 && succeeded.at(-1) === summary.totals.items && succeeded[0]! < succeeded.at(-1)!, JSON.stringify(succeeded));
    const a = await readResults(ordinaryDir);
    const b = await readResults(batchDir);
    assert.equal(a.size, b.size);
    for (const [id, l] of a) {
      assert.equal(b.get(id)?.text, l.text, id);
      assert.equal(b.get(id)?.batch, true);
    }
    const ra = await buildReport([ordinaryDir]);
    const rb = await buildReport([batchDir]);
    assert.deepEqual(rb.rm, ra.rm);
    assert.ok(ra.rm!.overall.n > 0);
    // The custom-id mapping is in the run folder, and every custom id is valid for both APIs.
    const state = JSON.parse(readFileSync(path.join(batchDir, BATCH_FILE), "utf8")) as BatchState;
    assert.equal(Object.keys(state.ids).length, summary.totals.items);
    for (const [cid, itemId] of Object.entries(state.ids)) {
      assert.match(cid, CUSTOM_ID_PATTERN);
      assert.equal(customIdFor(itemId), cid);
      assert.ok(a.has(itemId));
    }
    const rj = (await readRunJson(batchDir))!;
    assert.equal(rj.totals.batchRequests, summary.totals.items);
  });
}

test("custom ids: dots and long ids map to distinct ids matching ^[a-zA-Z0-9_-]{1,64}$", () => {
  const ids = ["te-1.0.style.vs1.ab", "te-1.0.style.vs1.ba", "te_1_0_style_vs1_ab", "x".repeat(200), "x".repeat(199) + "y", "ü.ß/?"];
  const cids = ids.map(customIdFor);
  for (const c of cids) assert.match(c, CUSTOM_ID_PATTERN);
  assert.equal(new Set(cids).size, ids.length);
});

test("anthropic: errored, malformed, missing and expired items go through the ordinary path; a 400 is recorded as it is; shards at the request limit", async () => {
  reset({
    itemsPerPoll: 5,
    itemFault: (cid) => (cid.includes("_0_style_vs1_ab-") ? 529 : cid.includes("_1_style_vs0_ba-") ? "malformed" : cid.includes("_1_informativeness_vs0_ab-") ? "drop" : undefined),
  });
  const logStart = batches.log.length;
  const runDir = path.join(dir, "anthropic-faults");
  const inner = new AnthropicProvider(anthropicConfig());
  const backend = new AnthropicBatchBackend(anthropicConfig(), { maxRequests: 10 });
  const bp = await BatchProvider.create(inner, backend, { runDir, pollMs: 10, collectMs: 20, concurrency: 2 });
  const { summary } = await runRm(ds, { limit: 8 }, bp, { ...fast(runDir, inner), concurrency: 50_000, timeoutMs: 600_000 });
  await bp.dispose();
  const creates = batches.log.slice(logStart).filter((l) => l.op === "create");
  assert.ok(creates.length >= 3, "sharded at 10 requests");
  assert.ok(creates.every((c) => c.requests! <= 10));
  const results = await readResults(runDir);
  const ordinary = api.requestsTo("/v1/messages").length;
  const viaOrdinary = [...results.values()].filter((l) => !l.batch);
  assert.ok(ordinary >= 3, "an errored, a malformed and a dropped item at least");
  assert.equal(viaOrdinary.length, ordinary, "each faulted item made one ordinary call");
  assert.ok(viaOrdinary.every((l) => /\.(0\.style\.vs1\.ab|1\.style\.vs0\.ba|1\.informativeness\.vs0\.ab)$/.test(l.itemId)), viaOrdinary.map((l) => l.itemId).join());
  assert.equal(summary.totals.failed, 0);
  assert.equal(summary.totals.done, summary.totals.items);
  // Expiry: a batch that expires sends its unprocessed items the ordinary way.
  reset({ itemsPerPoll: 2, expireAfterPolls: 1 });
  const expDir = path.join(dir, "anthropic-expired");
  const inner2 = new AnthropicProvider(anthropicConfig());
  const bp2 = await BatchProvider.create(inner2, new AnthropicBatchBackend(anthropicConfig()), { runDir: expDir, pollMs: 10, collectMs: 20 });
  const s2 = await runRm(ds, { limit: 3 }, bp2, { ...fast(expDir, inner2), concurrency: 50_000, timeoutMs: 600_000 });
  await bp2.dispose();
  const r2 = await readResults(expDir);
  assert.equal([...r2.values()].filter((l) => l.batch).length, 2, "two were answered before the batch expired");
  assert.equal(api.requestsTo("/v1/messages").length, s2.summary.totals.items - 2);
  assert.equal(s2.summary.totals.failed, 0);
  // A non-retryable item error (400) is recorded as that failure, not retried.
  reset({ itemFault: (cid) => (cid.includes("_0_style_") ? 400 : undefined) });
  const badDir = path.join(dir, "anthropic-400");
  const inner3 = new AnthropicProvider(anthropicConfig());
  const bp3 = await BatchProvider.create(inner3, new AnthropicBatchBackend(anthropicConfig()), { runDir: badDir, pollMs: 10, collectMs: 20 });
  const s3 = await runRm(ds, { limit: 3 }, bp3, { ...fast(badDir, inner3), concurrency: 50_000, timeoutMs: 600_000 });
  await bp3.dispose();
  assert.ok(s3.summary.totals.failed > 0);
  assert.ok(s3.summary.failures.every((f) => f.kind === "bad_request" && f.itemId.includes(".0.style.")));
  assert.equal(api.requestsTo("/v1/messages").length, 0);
});

test("openai: a batch the API refuses fails its items with the reason; cancel cancels the remote batch and a resume finishes without duplicates", async () => {
  reset({ itemsPerPoll: 3 });
  const runDir = path.join(dir, "openai-cancel");
  const ac = new AbortController();
  let seen = 0;
  const inner = new OpenAIProvider(openaiConfig(), "openai");
  const first = await batchRun(openaiConfig(), inner, runDir, (p, o) => runRm(ds, { limit: 6 }, p, { ...o, runDir }), {
    signal: ac.signal,
    onProgress: () => {
      if (++seen === 2) ac.abort();
    },
  });
  assert.equal(first.summary.status, "cancelled");
  const cancels = batches.log.filter((l) => l.op === "cancel");
  assert.equal(cancels.length, 1, "the remote batch was cancelled");
  const state = JSON.parse(readFileSync(path.join(runDir, BATCH_FILE), "utf8")) as BatchState;
  assert.equal(state.batches.length, 1);
  assert.equal(state.batches[0]!.cancelRequested, true);
  const createsBefore = batches.log.filter((l) => l.op === "create").length;
  reset({ itemsPerPoll: 100 });
  const second = await batchRun(openaiConfig(), new OpenAIProvider(openaiConfig(), "openai"), runDir, (p, o) => runRm(ds, { limit: 6 }, p, { ...o, runDir }));
  assert.equal(second.summary.status, "finished");
  assert.equal(second.summary.totals.failed, 0);
  const lines = readFileSync(path.join(runDir, "results.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { itemId: string });
  assert.equal(new Set(lines.map((l) => l.itemId)).size, lines.length, "no item recorded twice");
  assert.equal(lines.length, second.summary.totals.items);
  const newCreates = batches.log.filter((l) => l.op === "create").slice(createsBefore);
  assert.equal(newCreates.length, 1, "the cancelled batch's unfinished items went in one new batch");
  assert.ok(newCreates[0]!.requests! < second.summary.totals.items, "what the cancelled batch finished was read, not resubmitted");
  assert.equal(api.requestsTo("/v1/chat/completions").length, 0);

  // A refused input file fails the batch; its items fail with the service's reason.
  reset();
  const badDir = path.join(dir, "openai-refused");
  const refusing: BatchBackend = new OpenAIBatchBackend(openaiConfig());
  const orig = refusing.entry.bind(refusing);
  refusing.entry = (cid, r) => orig(cid, r).replace('"method":"POST"', '"method":"GET"');
  const inner2 = new OpenAIProvider(openaiConfig(), "openai");
  const bp = await BatchProvider.create(inner2, refusing, { runDir: badDir, pollMs: 10, collectMs: 20 });
  const s = await runRm(ds, { limit: 1 }, bp, { ...fast(badDir, inner2, { maxRetries: 0 }), concurrency: 50_000, timeoutMs: 600_000 });
  await bp.dispose();
  assert.equal(s.summary.totals.failed, s.summary.totals.items);
  assert.match(s.summary.failures[0]!.message, /failed: line 1: method must be POST/);
});

test("kill -9 while polling, then resume: every item recorded exactly once, no batch submitted twice", async () => {
  reset({ itemsPerPoll: 4 });
  const runDir = path.join(dir, "killed");
  const n = 40;
  const child = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "../servers/batch-child.ts"), api.openaiBaseUrl, runDir, String(n)], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += String(d)));
  const exited = new Promise((r) => child.once("exit", r));
  // Wait until the batch is submitted and partly processed (polling), then kill.
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const b = [...batches.batches.values()].at(-1);
    if (existsSync(path.join(runDir, BATCH_FILE)) && b && b.processed >= 8 && b.processed < n) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill("SIGKILL");
  await exited;
  assert.ok(existsSync(path.join(runDir, BATCH_FILE)), stderr);
  const creates = batches.log.filter((l) => l.op === "create").length;
  const before = (await readResults(runDir)).size;
  assert.ok(before < n, "killed before the batch ended");
  // Resume in-process with the same items.
  const config: ProviderConfig = { provider: "openai", model: "gpt-kill", apiKey: "sk-child-key", baseUrl: api.openaiBaseUrl, maxTokens: 16 };
  const inner = new OpenAIProvider(config, "openai");
  const bp = await BatchProvider.create(inner, new OpenAIBatchBackend(config), { runDir, pollMs: 10, collectMs: 20 });
  const s = await runBatch(childItems(n), bp, { concurrency: 50_000, timeoutMs: 600_000, maxRetries: 2, backoff: { baseMs: 1, maxMs: 2 }, cacheDir: false, runDir, meta: CHILD_META });
  await bp.dispose();
  assert.equal(s.status, "finished");
  assert.equal(s.totals.done, n);
  assert.equal(batches.log.filter((l) => l.op === "create").length, creates, "the resume polled the batch instead of submitting again");
  const lines = readFileSync(path.join(runDir, "results.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { itemId: string; text: string });
  assert.equal(lines.length, n);
  assert.equal(new Set(lines.map((l) => l.itemId)).size, n);
  assert.equal(api.requestsTo("/v1/chat/completions").length, 0);
});

for (const name of ["openai", "anthropic"] as const) {
  test(`${name}: killed right after the API created a batch, before the run recorded it: the resume finds that batch (past a page of others) and creates exactly one batch per shard`, async () => {
    reset({ itemsPerPoll: 3 });
    const runDir = path.join(dir, `crash-after-create-${name}`);
    const n = 12; // shards of 5, 5 and 2
    // Earlier tests sent the same item ids: only batches made from here on count.
    const earlier = new Set(batches.batches.keys());
    const fresh = () => [...batches.batches.values()].filter((b) => !earlier.has(b.id));
    const baseUrl = name === "openai" ? api.openaiBaseUrl : api.anthropicBaseUrl;
    const child = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "../servers/batch-child.ts"), baseUrl, runDir, String(n), name, "after-create", "5"], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += String(d)));
    const [, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => child.once("exit", (code, sig) => r([code, sig])));
    assert.equal(signal, "SIGKILL", stderr);
    const state = JSON.parse(readFileSync(path.join(runDir, BATCH_FILE), "utf8")) as BatchState;
    assert.equal(state.batches.length, 0, "the run died before it could record the batch");
    assert.equal(state.pending?.length, 1, "but it had recorded the submission first");
    const lost = fresh().filter((b) => b.requests.some((r) => state.pending![0]!.customIds.includes(r.customId)));
    assert.equal(lost.length, 1, "the API did create it");
    // Other batches created since, more than one page of the list: three of them the shard's size.
    const { backend: noise } = childBatchSetup(name, baseUrl);
    for (let i = 0; i < 105; i++) {
      const size = i % 40 === 0 ? 5 : 1 + (i % 3);
      const id = await noise.submit(Array.from({ length: size }, (_, j) => noise.entry(`noise-${i}-${j}`, { messages: [{ role: "user", content: "x" }] })));
      // The same size as a shard: ended, so its results show other custom ids (two polls of 3).
      if (size === 5) for (let k = 0; k < 2; k++) await noise.poll(id);
    }
    // Resume in-process with the same items.
    const { inner, backend, meta } = childBatchSetup(name, baseUrl, 5);
    const bp = await BatchProvider.create(inner, backend, { runDir, pollMs: 10, collectMs: 20 });
    assert.equal(bp.batches[0]?.id, lost[0]!.id, "the resume adopted the batch the killed run created");
    const s = await runBatch(childItems(n), bp, { concurrency: 50_000, timeoutMs: 600_000, maxRetries: 2, backoff: { baseMs: 1, maxMs: 2 }, cacheDir: false, runDir, meta });
    await bp.dispose();
    assert.equal(s.status, "finished");
    assert.equal(s.totals.done, n);
    const mine = new Set(childItems(n).map((i) => customIdFor(i.id)));
    const created = fresh().filter((b) => b.requests.some((r) => mine.has(r.customId)));
    assert.equal(created.length, 3, "one batch per shard, the adopted one included");
    assert.deepEqual(created.flatMap((b) => b.requests.map((r) => r.customId)).sort(), [...mine].sort(), "no request in two batches");
    const lines = readFileSync(path.join(runDir, "results.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { itemId: string });
    assert.equal(lines.length, n);
    assert.equal(new Set(lines.map((l) => l.itemId)).size, n, "nothing recorded twice");
    assert.equal(api.requestsTo(name === "openai" ? "/v1/chat/completions" : "/v1/messages").length, 0, "nothing went the ordinary way");
    assert.ok(batches.log.some((l) => l.op === "list"));
    const after = JSON.parse(readFileSync(path.join(runDir, BATCH_FILE), "utf8")) as BatchState;
    assert.equal(after.pending, undefined, "no submission left pending");
  });
}

test("a pending submission the API never created is submitted again; Anthropic refuses to guess between two unfinished batches of the shard's size", async () => {
  reset({ itemsPerPoll: 1 });
  // Batches of earlier tests are the run's own (never matched), as a run's recorded batches are.
  const known = new Set(batches.batches.keys());
  const pending = (customIds: string[], ago = 1000) => ({ key: "k".repeat(32), customIds, startedAt: new Date(Date.now() - ago).toISOString() });
  const oa = new OpenAIBatchBackend(openaiConfig());
  assert.equal(await oa.findSubmitted(pending(["a", "b"]), known), undefined, "no batch carries the key");
  const an = new AnthropicBatchBackend(anthropicConfig());
  const ids = ["p-1", "p-2", "p-3"];
  assert.equal(await an.findSubmitted(pending(ids), known), undefined);
  const entries = (prefix: string) => ids.map((c) => an.entry(`${prefix}${c}`, { messages: [{ role: "user", content: "x" }] }));
  const one = await an.submit(entries(""));
  assert.equal(await an.findSubmitted(pending(ids), known), one, "one unfinished batch of the size, created since");
  assert.equal(await an.findSubmitted(pending(ids), new Set([...known, one])), undefined, "a batch the run already has is never taken");
  const two = await an.submit(entries("other-"));
  await assert.rejects(an.findSubmitted(pending(ids), known), (e: Error) => e instanceof AmbiguousSubmissionError && e.message.includes(one) && e.message.includes(two) && /cancel the ones that are not this run's/.test(e.message));
  // Once they end, the results tell them apart.
  for (let i = 0; i < 4; i++) {
    await an.poll(one);
    await an.poll(two);
  }
  assert.equal(await an.findSubmitted(pending(ids), known), one);
  assert.equal(await an.findSubmitted(pending(ids, -10 * 60_000), known), undefined, "batches created before the submission started are not it");
  // A run folder whose batch.json holds a pending shard that was never created (killed between
  // the upload and the create) submits it as usual and deletes the orphaned input file.
  const runDir = path.join(dir, "pending-never-created");
  const items = childItems(4);
  const { inner, backend, meta } = childBatchSetup("openai", api.openaiBaseUrl);
  const { mkdir, writeFile } = await import("node:fs/promises");
  await mkdir(runDir, { recursive: true });
  const { default: OpenAI, toFile } = await import("openai");
  const orphan = await new OpenAI({ apiKey: "sk-x", baseURL: api.openaiBaseUrl }).files.create({ file: await toFile(Buffer.from("{}\n"), "x.jsonl"), purpose: "batch" });
  assert.ok(api.fineTuning.files.has(orphan.id));
  const state: BatchState = { version: 1, provider: "openai", model: "gpt-kill", ids: {}, batches: [], token: "t", pending: [{ ...pending(items.map((i) => customIdFor(i.id))), inputFileId: orphan.id }] };
  await writeFile(path.join(runDir, BATCH_FILE), JSON.stringify(state));
  const creates = batches.log.filter((l) => l.op === "create").length;
  const bp = await BatchProvider.create(inner, backend, { runDir, pollMs: 5, collectMs: 5 });
  const s = await runBatch(items, bp, { concurrency: 50_000, timeoutMs: 600_000, maxRetries: 2, cacheDir: false, runDir, meta });
  await bp.dispose();
  assert.equal(s.totals.done, 4);
  assert.equal(batches.log.filter((l) => l.op === "create").length, creates + 1);
  assert.equal(api.fineTuning.files.has(orphan.id), false, "the orphaned input file was deleted");
});

test("openai enqueued-token limit: a run-side limit keeps unfinished batches under it; a batch the API refuses for it goes again after another ends; refused for good, its items fail saying so", async () => {
  const items = (tag: string) => Array.from({ length: 12 }, (_, i) => ({ id: `${tag}-${i}`, request: { messages: [{ role: "user" as const, content: `${i}`.padEnd(400, "x") }] } }));
  const config: ProviderConfig = { provider: "openai", model: "gpt-kill", apiKey: "sk-child-key", baseUrl: api.openaiBaseUrl, maxTokens: 16 };
  const run = async (tag: string, over: { maxRequests?: number; maxEnqueuedTokens?: number }) => {
    const runDir = path.join(dir, `enqueued-${tag}`);
    const earlier = new Set(batches.batches.keys());
    const bp = await BatchProvider.create(new OpenAIProvider(config, "openai"), new OpenAIBatchBackend(config, over.maxRequests ? { maxRequests: over.maxRequests } : {}), { runDir, pollMs: 5, collectMs: 5, ...(over.maxEnqueuedTokens ? { maxEnqueuedTokens: over.maxEnqueuedTokens } : {}) });
    const s = await runBatch(items(tag), bp, { concurrency: 50_000, timeoutMs: 600_000, maxRetries: 2, cacheDir: false, runDir, meta: CHILD_META });
    await bp.dispose();
    const made = [...batches.batches.values()].filter((b) => !earlier.has(b.id));
    return { s, made, lines: readFileSync(path.join(runDir, "results.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { itemId: string; error?: { message: string } }) };
  };
  try {
    // 12 requests of 100 prompt tokens; the organisation may have 450 enqueued.
    reset({ itemsPerPoll: 2 });
    // The limit is the organisation's: batches earlier tests left unfinished would count.
    for (const b of batches.batches.values()) if (b.dialect === "openai" && ["validating", "in_progress"].includes(b.status)) b.status = "cancelled";
    batches.enqueuedTokenLimit = 450;
    batches.maxEnqueuedTokens = 0;
    const limited = await run("limited", { maxEnqueuedTokens: 450 });
    assert.equal(limited.s.totals.done, 12);
    assert.equal(limited.made.length, 3, "shards of 4 requests, one after another");
    assert.ok(limited.made.every((b) => b.status === "completed"), "none refused");
    assert.ok(batches.maxEnqueuedTokens <= 450 && batches.maxEnqueuedTokens > 0);
    // Without the run-side limit: two shards of 600 under a 700 limit; the second is refused,
    // then accepted once the first has ended.
    batches.enqueuedTokenLimit = 700;
    const retried = await run("retried", { maxRequests: 6 });
    assert.equal(retried.s.totals.done, 12);
    assert.equal(retried.s.totals.failed, 0);
    assert.deepEqual(retried.made.map((b) => b.status), ["completed", "failed", "completed"]);
    assert.match(retried.made[1]!.errors![0]!.code, /token_limit_exceeded/);
    assert.equal(new Set(retried.lines.map((l) => l.itemId)).size, 12);
    assert.equal(retried.lines.length, 12);
    // A limit no batch of the run fits: refused LIMIT_RESUBMITS + 1 times, then the items fail.
    batches.enqueuedTokenLimit = 300;
    const refused = await run("refused", {});
    assert.equal(refused.made.length, LIMIT_RESUBMITS + 1);
    assert.equal(refused.s.totals.failed, 12);
    assert.match(refused.lines[0]!.error!.message, /Enqueued token limit reached.*--batch-max-enqueued-tokens/);
    assert.equal(api.requestsTo("/v1/chat/completions").length, 0);
  } finally {
    batches.enqueuedTokenLimit = undefined;
  }
});

test("the run's rpm paces the ordinary-path calls of a batch run (items sent again after a batch error), not the hand-over to the batch", async () => {
  reset({ itemFault: () => 500 });
  const runDir = path.join(dir, "batch-rpm");
  const inner = new OpenAIProvider(openaiConfig(), "openai");
  // 120 requests a minute: a bucket of 2, then one every 500 ms.
  const options = fast(runDir, inner, { rpm: 120 });
  const s = await withBatchMode(inner, openaiConfig(), options, runDir, { batch: true, batchPollMs: 10 }, undefined, (p, o) => runBatch(childItems(6), p, { ...o, meta: CHILD_META }));
  assert.equal(s.totals.done, 6);
  const sent = api.requestsTo("/v1/chat/completions").map((r) => r.receivedAt);
  assert.equal(sent.length, 6, "every item went the ordinary way");
  assert.ok(sent.at(-1)! - sent[0]! >= 1500, `6 calls at 120 rpm take >= 2 s, took ${sent.at(-1)! - sent[0]!} ms`);
  assert.equal(batches.log.filter((l) => l.op === "create").length >= 1, true);
});

test("Ctrl-C while a batch is being created: once the API has made it, it is cancelled, not left to run and bill", async () => {
  reset({ itemsPerPoll: 1 });
  const runDir = path.join(dir, "cancel-during-create");
  const ac = new AbortController();
  const { inner, backend, meta } = childBatchSetup("openai", api.openaiBaseUrl);
  const submit = backend.submit.bind(backend);
  let created = "";
  backend.submit = async (...args) => {
    created = await submit(...args);
    ac.abort(); // the user cancels while the create request is still on its way back
    return created;
  };
  const bp = await BatchProvider.create(inner, backend, { runDir, pollMs: 5, collectMs: 5 });
  const s = await runBatch(childItems(5), bp, { concurrency: 50_000, timeoutMs: 600_000, maxRetries: 2, cacheDir: false, runDir, meta, signal: ac.signal });
  await bp.dispose();
  assert.equal(s.status, "cancelled");
  assert.ok(created);
  assert.deepEqual(batches.log.filter((l) => l.op === "cancel").map((l) => l.id).filter((id) => id === created), [created], "the new batch was cancelled");
  const state = JSON.parse(readFileSync(path.join(runDir, BATCH_FILE), "utf8")) as BatchState;
  assert.equal(state.batches[0]?.id, created);
  assert.equal(state.batches[0]?.cancelRequested, true);
});

/**
 * A run-side enqueued-token limit for an rm run of 3 users on gpt-4o: the server reset, earlier
 * unfinished OpenAI batches closed, `limit` just above the largest prompt (o200k tokens), and the
 * server's own limit set with room (it counts characters / 4, more than o200k does for this text).
 */
async function enqueuedLimitSetup(): Promise<{ sizes: number[]; limit: number }> {
  reset({ itemsPerPoll: 2 });
  for (const b of batches.batches.values()) if (b.dialect === "openai" && ["validating", "in_progress"].includes(b.status)) b.status = "cancelled";
  const { tokenizerFor } = await import("../../src/core/templates/tokens.js");
  const tokenizer = await tokenizerFor({ provider: "openai", model: "gpt-4o" });
  const sizes = (await planRm(ds, { limit: 3, tokenizer })).items.map((i) => tokenizer.countMessages(i.request.messages));
  const limit = Math.max(...sizes) + 10;
  batches.enqueuedTokenLimit = Math.ceil(limit * 1.6);
  batches.maxEnqueuedTokens = 0;
  return { sizes, limit };
}

test("preflab rm --batch --batch-max-enqueued-tokens: the CLI cuts and paces batches to the limit, counted with the model's tokenizer", async () => {
  const { sizes, limit } = await enqueuedLimitSetup();
  assert.ok(sizes.reduce((a, b) => a + b, 0) > 2 * limit, "the run needs several batches");
  const { main } = await import("../../src/cli/main.js");
  const earlier = new Set(batches.batches.keys());
  const err: string[] = [];
  const runDir = path.join(dir, "cli-batch-limit");
  const old = process.env.OPENAI_API_KEY;
  process.env.OPENAI_API_KEY = "sk-cli-test-123";
  let code: number;
  try {
    code = await main(["rm", ds, "--provider", "openai", "--model", "gpt-4o", "--base-url", api.openaiBaseUrl, "--limit", "3", "--out", runDir, "--batch", "--batch-poll-ms", "5", "--batch-max-enqueued-tokens", String(limit), "--no-cache"], { out: () => undefined, err: (s) => void err.push(s) });
  } finally {
    if (old === undefined) delete process.env.OPENAI_API_KEY;
    else process.env.OPENAI_API_KEY = old;
    batches.enqueuedTokenLimit = undefined;
  }
  assert.equal(code, 0, err.join(""));
  const made = [...batches.batches.values()].filter((b) => !earlier.has(b.id));
  assert.ok(made.length >= 3, `${made.length} batches`);
  assert.ok(made.every((b) => b.status === "completed"), "none refused for the limit");
  const state = JSON.parse(readFileSync(path.join(runDir, BATCH_FILE), "utf8")) as BatchState;
  assert.ok(state.batches.every((b) => b.inputTokens! <= limit), "each batch within the limit, in o200k tokens");
  assert.equal(api.requestsTo("/v1/chat/completions").length, 0);
});

test("preflab rm --batch: the CLI runs through the batch API, prints the batch's counts and the batch discount", async () => {
  reset({ itemsPerPoll: 3 });
  const { main } = await import("../../src/cli/main.js");
  const out: string[] = [];
  const err: string[] = [];
  const runDir = path.join(dir, "cli-batch");
  const old = process.env.ANTHROPIC_API_KEY;
  process.env.ANTHROPIC_API_KEY = "sk-ant-cli-test-123";
  let code: number;
  try {
    code = await main(["rm", ds, "--provider", "anthropic", "--model", "claude-sonnet-4-5", "--base-url", api.anthropicBaseUrl, "--limit", "2", "--out", runDir, "--batch", "--batch-poll-ms", "10", "--no-cache"], { out: (s) => void out.push(s), err: (s) => void err.push(s) });
  } finally {
    if (old === undefined) delete process.env.ANTHROPIC_API_KEY;
    else process.env.ANTHROPIC_API_KEY = old;
  }
  const e = err.join("");
  assert.equal(code, 0, e);
  assert.match(e, /batch msgbatch_\w+ in_progress: 3\/\d+ succeeded/);
  assert.match(e, /batch +\d+ answered by the batch API, saving \$\d/);
  assert.equal(api.requestsTo("/v1/messages").length, 0);
  assert.ok(existsSync(path.join(runDir, BATCH_FILE)));
  const rj = (await readRunJson(runDir))!;
  assert.ok(rj.totals.batchDiscountUsd > 0 && Math.abs(rj.totals.batchDiscountUsd - rj.totals.costUsd) < 1e-6, "half price: the discount equals what was paid");
});

test("experiment file: a model's batchMaxEnqueuedTokens cuts its batch cell's batches; prices may set batchCachedInput", async () => {
  const { limit } = await enqueuedLimitSetup();
  const { writeFileSync } = await import("node:fs");
  const { loadExperiment, runExperiment, estimateExperiment } = await import("../../src/app/experiment.js");
  const { cliOriginStore, cliAllowHint, KeyDestinationPolicy } = await import("../../src/app/origins.js");
  const { ALLOW_ALL } = await import("../../src/app/gate.js");
  const spec = (price: string) =>
    [
      "name: batched",
      `dataset: { dir: ${JSON.stringify(ds)} }`,
      "out: out",
      "prices:",
      `  openai/gpt-4o: { input: 2.5, output: 10, cachedInput: 1.25${price} }`,
      "models:",
      `  g: { provider: openai, model: gpt-4o, baseUrl: ${JSON.stringify(api.openaiBaseUrl)}, batch: true, batchMaxEnqueuedTokens: ${limit} }`,
      "evaluations:",
      "  rm: { kind: rm, limit: 3 }",
      "matrix:",
      "  - { models: [g], evaluations: [rm] }",
      "",
    ].join("\n");
  const expDir = path.join(dir, "exp-batch");
  const { mkdirSync } = await import("node:fs");
  mkdirSync(expDir, { recursive: true });
  const file = path.join(expDir, "b.preflab.yaml");
  const host = { getKey: () => "sk-exp-test-123" };
  // The estimate prices cached tokens inside a batch at the file's batchCachedInput.
  writeFileSync(file, spec(""));
  const plain = (await estimateExperiment(await loadExperiment(file), host)).estimates[0]!;
  writeFileSync(file, spec(", batchCachedInput: 0.3"));
  const exp = await loadExperiment(file);
  const cheap = (await estimateExperiment(exp, host)).estimates[0]!;
  assert.ok(cheap.cacheReadTokens > 0, "the sample's rm prompts share a cached prefix");
  assert.ok(cheap.dollars!.batchCached! < plain.dollars!.batchCached!, `${cheap.dollars!.batchCached} < ${plain.dollars!.batchCached}`);
  const earlier = new Set(batches.batches.keys());
  const policy = new KeyDestinationPolicy({ gate: ALLOW_ALL, store: cliOriginStore([new URL(api.openaiBaseUrl).origin]), allowHint: cliAllowHint });
  try {
    const result = await runExperiment(exp, { ...host, policy, runner: { concurrency: 4, batchPollMs: 5 }, hooksFor: () => ({ gate: ALLOW_ALL }) });
    assert.equal(result.cancelled, false);
  } finally {
    batches.enqueuedTokenLimit = undefined;
  }
  const made = [...batches.batches.values()].filter((b) => !earlier.has(b.id));
  assert.ok(made.length >= 3, `the model's limit cut the cell into ${made.length} batches`);
  assert.ok(made.every((b) => b.status === "completed"), "none refused for the limit");
  const state = JSON.parse(readFileSync(path.join(expDir, "out", "rm-g", BATCH_FILE), "utf8")) as BatchState;
  assert.ok(state.batches.every((b) => b.inputTokens! <= limit), "each batch within the limit");
  assert.equal(api.requestsTo("/v1/chat/completions").length, 0);
});
