/**
 * OpenAI fine-tuning through the real `openai` SDK against the wire-format test server: upload,
 * create (method + hyperparameters), poll to success, events, cancel, the model registered;
 * and the same through `preflab finetune`.
 */
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { after, before, beforeEach, test } from "node:test";
import OpenAI from "openai";
import { main } from "../../src/cli/main.js";
import { exportFinetuneData } from "../../src/core/finetune/export.js";
import { listJobs, loadJob } from "../../src/core/finetune/jobs.js";
import { cancelJob, jobLogs, launchJob, refreshJob, resolveTrain } from "../../src/core/finetune/launch.js";
import { listModels } from "../../src/core/finetune/models.js";
import { FakeApiServer, parseMultipart } from "../servers/fake-apis.js";
import { sampleDataset } from "../fixtures/finetune/datasets.js";
import { tempDir } from "../helpers/tmp.js";

const KEY = "sk-FT-DISTINCTIVE-KEY-8a7b6c5d4e";
const dir = tempDir("preflab-ft-openai-");
let api: FakeApiServer;
let sftDir: string;
let dpoDir: string;
let trlDir: string;
const savedKey = process.env.OPENAI_API_KEY;

before(async () => {
  api = await FakeApiServer.start();
  const ds = await sampleDataset(dir);
  sftDir = path.join(dir, "sft");
  dpoDir = path.join(dir, "dpo");
  trlDir = path.join(dir, "trl");
  await exportFinetuneData(ds, { format: "sft", target: "openai", out: sftDir, maxInputTokens: 2000 });
  await exportFinetuneData(ds, { format: "dpo", target: "openai", out: dpoDir, maxInputTokens: 2000 });
  await exportFinetuneData(ds, { format: "sft", target: "trl", out: trlDir, maxInputTokens: 2000 });
});
after(async () => {
  await api.close();
  if (savedKey === undefined) delete process.env.OPENAI_API_KEY;
  else process.env.OPENAI_API_KEY = savedKey;
});
beforeEach(() => {
  api.requests.length = 0;
  api.fineTuning.progress = ["validating_files", "running", "succeeded"];
});

test("supervised job: upload, create with method + hyperparameters, poll to success, events, model registered", async () => {
  const root = path.join(dir, "ws1");
  const job = await launchJob({
    root,
    backend: "openai",
    model: "gpt-4o-mini-2024-07-18",
    train: sftDir,
    name: "rs-sft",
    suffix: "rs-sft",
    seed: 7,
    hyperparameters: { epochs: 2, batchSize: 8, learningRateMultiplier: 0.5 },
    apiKey: KEY,
    baseUrl: api.openaiBaseUrl,
  });
  assert.equal(job.method, "sft");
  assert.equal(job.status, "queued");
  assert.equal(job.remoteStatus, "validating_files");
  assert.match(job.remoteId!, /^ftjob-/);
  // The upload: multipart, purpose fine-tune, the file's exact bytes.
  const upload = api.requestsTo("/v1/files")[0]!;
  assert.equal(upload.headers.authorization, `Bearer ${KEY}`);
  const parts = parseMultipart(upload)!;
  assert.equal(parts.find((p) => p.name === "purpose")!.data, "fine-tune");
  assert.equal(parts.find((p) => p.name === "file")!.filename, "train.jsonl");
  assert.equal(parts.find((p) => p.name === "file")!.data, readFileSync(path.join(sftDir, "train.jsonl"), "utf8"));
  const create = api.requestsTo("/v1/fine_tuning/jobs")[0]!.body as Record<string, unknown>;
  assert.deepEqual(create.method, { type: "supervised", supervised: { hyperparameters: { n_epochs: 2, batch_size: 8, learning_rate_multiplier: 0.5 } } });
  assert.equal(create.model, "gpt-4o-mini-2024-07-18");
  assert.equal(create.training_file, job.openai!.trainingFileId);
  assert.equal(create.suffix, "rs-sft");
  assert.equal(create.seed, 7);
  assert.deepEqual(create.metadata, { preflab_job: job.id });

  const running = await refreshJob(root, job.id, { apiKey: KEY });
  assert.equal(running.status, "running");
  assert.equal((await listModels(root)).length, 0);
  const done = await refreshJob(root, job.id, { apiKey: KEY });
  assert.equal(done.status, "succeeded");
  assert.match(done.artifact!, /^ft:gpt-4o-mini-2024-07-18:fake-org:rs-sft:/);
  assert.equal(done.registeredModel, "rs-sft");
  const [model] = await listModels(root);
  assert.deepEqual({ ...model, createdAt: "" }, {
    name: "rs-sft",
    provider: "openai",
    model: done.artifact,
    kind: "generation",
    jobId: job.id,
    method: "sft",
    baseModel: "gpt-4o-mini-2024-07-18",
    createdAt: "",
    baseUrl: api.openaiBaseUrl,
  });
  // The record on disk holds everything status/logs need, and never the key.
  const text = readFileSync(path.join(root, ".preflab", "finetune", "jobs", `${job.id}.json`), "utf8");
  assert.ok(!text.includes(KEY));
  assert.equal((await loadJob(root, done.remoteId!)).id, job.id, "found by the OpenAI job id too");
  assert.equal((await loadJob(root, "rs-sft")).id, job.id, "and by name");
  // Events, oldest first.
  const lines: string[] = [];
  await jobLogs(root, job.id, { apiKey: KEY, onLine: (l) => lines.push(l) });
  assert.match(lines[0]!, /Created fine-tuning job/);
  assert.match(lines.at(-1)!, /successfully completed/);
  assert.ok(lines.some((l) => /training loss/.test(l)));
  // A terminal, registered job is not asked again.
  const n = api.requests.length;
  await refreshJob(root, job.id, { apiKey: KEY });
  assert.equal(api.requests.length, n);
});

test("DPO job with beta; cancel; a DPO file is checked against the backend and method", async () => {
  const root = path.join(dir, "ws2");
  api.fineTuning.progress = ["validating_files", "running"]; // never finishes on its own
  const job = await launchJob({ root, backend: "openai", model: "gpt-4o-2024-08-06", train: dpoDir, hyperparameters: { beta: 0.2, epochs: 1 }, apiKey: KEY, baseUrl: api.openaiBaseUrl });
  assert.equal(job.method, "dpo");
  const create = api.requestsTo("/v1/fine_tuning/jobs")[0]!.body as Record<string, unknown>;
  assert.deepEqual(create.method, { type: "dpo", dpo: { hyperparameters: { n_epochs: 1, beta: 0.2 } } });
  assert.equal((await refreshJob(root, job.id, { apiKey: KEY })).status, "running");
  const cancelled = await cancelJob(root, job.id, { apiKey: KEY });
  assert.equal(cancelled.status, "cancelled");
  assert.equal(api.requestsTo(`/v1/fine_tuning/jobs/${job.remoteId}/cancel`).length, 1);
  await assert.rejects(cancelJob(root, job.id, { apiKey: KEY }), /already cancelled/);
  assert.equal((await listModels(root)).length, 0);
  // Files that do not fit are refused before anything is uploaded.
  const before = api.requests.length;
  await assert.rejects(resolveTrain(trlDir, "openai"), /exported for trl/);
  await assert.rejects(resolveTrain(path.join(dpoDir, "train.jsonl"), "openai", "sft"), /holds dpo lines, not sft/);
  await assert.rejects(resolveTrain(path.join(dpoDir, "train.jsonl"), "skypilot", "dpo"), /needs trl lines/);
  await assert.rejects(launchJob({ root, backend: "openai", model: "m", train: path.join(sftDir, "train.jsonl"), apiKey: KEY, baseUrl: api.openaiBaseUrl }), /--method is required/);
  assert.equal(api.requests.length, before);
});

test("the fake service validates files like the real one; jobs list and events page through the SDK", async () => {
  const client = new OpenAI({ apiKey: KEY, baseURL: api.openaiBaseUrl, maxRetries: 0 });
  const bad = path.join(dir, "bad.jsonl");
  writeFileSync(bad, readFileSync(path.join(sftDir, "train.jsonl"), "utf8"));
  const file = await client.files.create({ file: (await import("node:fs")).createReadStream(bad), purpose: "fine-tune" });
  assert.equal((await client.files.retrieve(file.id)).bytes, readFileSync(bad).length);
  const job = await client.fineTuning.jobs.create({ model: "gpt-4o-mini", training_file: file.id, method: { type: "dpo", dpo: { hyperparameters: { beta: 0.1 } } } });
  const failed = await client.fineTuning.jobs.retrieve(job.id);
  assert.equal(failed.status, "failed");
  assert.equal(failed.error?.param, "training_file");
  await assert.rejects(client.fineTuning.jobs.create({ model: "m", training_file: "file-missing" }), /invalid training_file/);
  const ids: string[] = [];
  for await (const j of client.fineTuning.jobs.list({ limit: 1 })) ids.push(j.id);
  assert.ok(ids.length >= 3 && new Set(ids).size === ids.length, "cursor pagination over every job");
  const events: string[] = [];
  for await (const e of client.fineTuning.jobs.listEvents(job.id, { limit: 2 })) events.push(e.message);
  assert.match(events[0]!, /validation failed/, "newest first");
  assert.match(events.at(-1)!, /Created fine-tuning job/);
});

test("preflab finetune launch --wait, status, logs, models, cancel (CLI)", async () => {
  const root = path.join(dir, "ws3");
  process.env.OPENAI_API_KEY = KEY;
  let out = "";
  let err = "";
  const io = { out: (t: string) => (out += t), err: (t: string) => (err += t) };
  const code = await main(["finetune", "launch", "--root", root, "--backend", "openai", "--model", "gpt-4o-mini", "--train", sftDir, "--name", "cli-sft", "--epochs", "3", "--base-url", api.openaiBaseUrl, "--wait", "--interval", "0.01"], io);
  assert.equal(code, 0, err);
  assert.match(out, /Fine-tuning job started/);
  assert.match(out, /status {5}succeeded/);
  assert.match(out, /registered as "cli-sft"/);
  out = "";
  assert.equal(await main(["finetune", "models", "--root", root], io), 0);
  assert.match(out, /cli-sft\s+generation\s+openai\s+ft:gpt-4o-mini:fake-org::/);
  assert.match(out, /--provider openai --model ft:gpt-4o-mini/);
  // The job record (a workspace file) names the test server: the key goes there only with --allow-origin.
  const origin = new URL(api.openaiBaseUrl).origin;
  const before = api.requests.length;
  err = "";
  assert.equal(await main(["finetune", "logs", "cli-sft", "--root", root], io), 1);
  assert.match(err, new RegExp(`names ${origin.replace(/[.]/g, "\\.")} as the API server.*--allow-origin ${origin.replace(/[.]/g, "\\.")}`));
  assert.equal(api.requests.length, before, "nothing sent without --allow-origin");
  out = "";
  assert.equal(await main(["finetune", "status", "--root", root, "--allow-origin", origin], io), 0);
  assert.match(out, /cli-sft\s+openai\s+sft\s+succeeded/);
  out = "";
  assert.equal(await main(["finetune", "logs", "cli-sft", "--root", root, "--allow-origin", origin], io), 0);
  assert.match(out, /New fine-tuned model created/);
  api.fineTuning.progress = ["validating_files", "queued"];
  out = "";
  assert.equal(await main(["finetune", "launch", "--root", root, "--backend", "openai", "--model", "gpt-4o-mini", "--train", dpoDir, "--beta", "0.3", "--base-url", api.openaiBaseUrl], io), 0);
  const [latest] = await listJobs(root);
  assert.equal(latest!.method, "dpo");
  out = "";
  assert.equal(await main(["finetune", "cancel", latest!.id, "--root", root, "--allow-origin", origin], io), 0);
  assert.match(out, /status {5}cancelled/);
  err = "";
  assert.equal(await main(["finetune", "launch", "--root", root, "--backend", "openai", "--model", "m", "--train", sftDir, "--gpus", "2"], io), 2);
  assert.match(err, /--gpus does not apply to the openai backend/);
  delete process.env.OPENAI_API_KEY;
  err = "";
  assert.equal(await main(["finetune", "launch", "--root", root, "--backend", "openai", "--model", "m", "--train", sftDir], io), 2);
  assert.match(err, /OPENAI_API_KEY/);
  out = "";
  assert.equal(await main(["finetune", "--help"], io), 0);
  assert.match(out, /preflab finetune launch --backend openai\|skypilot\|slurm/);
});

test("following a job over 20+ polls on one signal adds no listener per poll (no MaxListeners warning)", async () => {
  const root = path.join(dir, "ws-poll");
  api.fineTuning.progress = ["validating_files", ...Array.from({ length: 24 }, () => "running" as const), "succeeded"];
  const job = await launchJob({ root, backend: "openai", model: "gpt-4o-mini-2024-07-18", train: sftDir, apiKey: KEY, baseUrl: api.openaiBaseUrl });
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on("warning", onWarning);
  try {
    const ac = new AbortController();
    const done = await jobLogs(root, job.id, { apiKey: KEY, follow: true, signal: ac.signal, pollMs: 1, onLine: () => undefined });
    assert.equal(done.status, "succeeded");
    assert.ok(api.requestsTo(`/v1/fine_tuning/jobs/${job.remoteId}`).length >= 20, "it polled at least 20 times");
    assert.equal(getEventListeners(ac.signal, "abort").length, 0);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(warnings.filter((w) => w.name === "MaxListenersExceededWarning"), []);
  } finally {
    process.off("warning", onWarning);
  }
});
