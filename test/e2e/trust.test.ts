/**
 * Workspace trust in a real VS Code: with trust enabled and the folder not trusted (Restricted
 * Mode), Preflab's views, the bundled sample and the baseline provider work, and a cloud provider
 * is refused with a clear message. Screenshots: test-results/e2e/trust-*.png.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, test } from "node:test";
import { loadEnv, Session } from "./harness.ts";

let s: Session;
/** A local listener that job, model and experiment files point at: it must see no request. */
let listener: Server;
const hits: string[] = [];
let base = "";

/** Files someone else planted: an active OpenAI job, an active Slurm job, a registered model and an experiment, all naming the listener. */
function plantedFiles(): Record<string, string> {
  const job = (id: string, extra: Record<string, unknown>) =>
    JSON.stringify({ version: 1, id, name: `planted-${id.slice(-6)}`, method: "sft", baseModel: "gpt-4o-mini", status: "running", createdAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:00Z", trainFile: "/x/train.jsonl", hyperparameters: {}, remoteId: "ftjob-planted", ...extra });
  return {
    ".preflab/finetune/jobs/ft-20260101-000000-aaaaaa.json": job("ft-20260101-000000-aaaaaa", { backend: "openai", openai: { baseUrl: `${base}/v1` } }),
    ".preflab/finetune/jobs/ft-20260101-000000-bbbbbb.json": job("ft-20260101-000000-bbbbbb", { backend: "slurm", slurm: { host: "attacker.example", remoteDir: "x", script: "s", jobDir: "j" } }),
    ".preflab/models.json": JSON.stringify({ version: 1, models: [{ name: "planted-model", provider: "openai-compatible", model: "m", baseUrl: `${base}/v1`, kind: "generation", createdAt: "2026-01-01T00:00:00Z" }] }),
    "experiments/planted.json": JSON.stringify({ name: "planted", provider: "openai-compatible", baseUrl: `${base}/v1` }),
  };
}

before(async () => {
  listener = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.writeHead(500).end();
  });
  await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(listener.address() as { port: number }).port}`;
  s = new Session(loadEnv(), { name: "trust", trust: true, files: plantedFiles() });
  await s.start();
});

after(async () => {
  await new Promise<void>((r) => listener.close(() => r()));
  if (s) {
    await s.screenshot("final").catch(() => undefined);
    const log = await s.readLog();
    if (log) process.stderr.write(`[e2e] Preflab log (restricted):\n${log}\n`);
    await s.stop();
  }
});

test("in Restricted Mode the sample builds and a cloud provider is refused with a clear message", { timeout: 180_000 }, async () => {
  const page = s.page;
  await s.openPreflab();
  await s.view("Synthetic Users").getByRole("button", { name: "Build from Bundled Sample" }).waitFor({ timeout: 30_000 });
  let log = "";
  for (let i = 0; i < 40 && !/activated in/.test(log); i++) {
    await new Promise((r) => setTimeout(r, 250));
    log = await s.readLog();
  }
  assert.match(log, /workspace restricted/, "the extension runs in Restricted Mode");

  // The bundled sample builds in Restricted Mode.
  await s.palette("Preflab: Build Dataset");
  await s.quickPick("Bundled sample");
  await s.view("Synthetic Users").locator(".monaco-list-row", { hasText: "Style" }).first().waitFor({ timeout: 60_000 });

  // A cloud provider is refused.
  await s.palette("Preflab: Run Reward-Model Evaluation");
  await s.quickPick("All dimensions");
  const openai = page.locator(".quick-input-widget .monaco-list-row", { hasText: "OpenAI" }).first();
  await openai.waitFor();
  assert.match(await openai.innerText(), /disabled in Restricted Mode/);
  await s.screenshot("provider-pick");
  await openai.click();
  const refusal = page.locator(".notifications-toasts .notification-toast", { hasText: /disabled in Restricted Mode/ }).first();
  await refusal.waitFor({ timeout: 30_000 });
  const text = await refusal.innerText();
  assert.match(text, /openai provider sends this workspace's data to a cloud API/);
  assert.match(text, /Manage Workspace Trust/);
  await s.screenshot("cloud-refused");

  // The baseline provider still runs.
  await s.palette("Preflab: Run Reward-Model Evaluation");
  await s.quickPick("All dimensions");
  await s.quickPick("Baseline");
  await s.quickPick("First 12 users");
  await page.locator(".notifications-toasts .notification-toast", { hasText: /Reward-model evaluation finished: accuracy/ }).first().waitFor({ timeout: 120_000 });
  await s.view("Runs").locator(".monaco-list-row", { hasText: /accuracy \d+\.\d%/ }).first().waitFor({ timeout: 30_000 });
  await s.screenshot("baseline-ran");
});

test("Restricted Mode: with planted job, model and experiment files, expanding the views and running the commands sends nothing", { timeout: 180_000 }, async () => {
  const page = s.page;
  await s.openPreflab();
  const jobs = s.view("Fine-tuning Jobs");
  const header = jobs.locator(".pane-header");
  if ((await header.getAttribute("aria-expanded")) !== "true") await header.click();
  await jobs.locator(".monaco-list-row", { hasText: "planted-" }).first().waitFor({ timeout: 30_000 });
  assert.match(await jobs.innerText(), /Restricted Mode/, "the view says why nothing is refreshed");
  for (const cmd of ["Preflab: Refresh Fine-tuning Job Status", "Preflab: Show Fine-tuning Job Logs"]) {
    await s.palette(cmd).catch(() => undefined);
    await page.keyboard.press("Enter").catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1500));
    await page.keyboard.press("Escape").catch(() => undefined);
  }
  // Longer than one polling interval (15 s).
  await new Promise((r) => setTimeout(r, 17_000));
  await s.screenshot("planted-restricted");
  assert.deepEqual(hits, [], "the listener named by the workspace's files got no request");
});

test("trusted: the first request to a job file's origin waits for the user's answer", { timeout: 240_000 }, async () => {
  const t = new Session(loadEnv(), { name: "trust-trusted", trust: false, files: plantedFiles() });
  await t.start();
  try {
    await t.openPreflab();
    const jobs = t.view("Fine-tuning Jobs");
    const header = jobs.locator(".pane-header");
    if ((await header.getAttribute("aria-expanded")) !== "true") await header.click();
    const row = jobs.locator(".monaco-list-row", { hasText: "planted-aaaaaa" }).first();
    await row.waitFor({ timeout: 30_000 });
    await new Promise((r) => setTimeout(r, 17_000)); // background polling never asks and never sends
    assert.deepEqual(hits, []);
    await t.palette("Preflab: Refresh Fine-tuning Job Status");
    const dialog = t.page.locator(".monaco-dialog-box", { hasText: base });
    await dialog.waitFor({ timeout: 30_000 });
    await t.screenshot("origin-confirm");
    assert.deepEqual(hits, [], "nothing sent while the question is open");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(hits, [], "declined: nothing sent");
  } finally {
    await t.stop();
  }
});
