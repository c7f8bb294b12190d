/**
 * End to end in a real VS Code (code-server + chromium): install the packaged .vsix, open a
 * workspace, build the bundled sample from the welcome view, see the synthetic users, open a
 * feedback pair and a counterfactual triple, run the reward-model evaluation with the baseline
 * provider from the command palette, and see the progress finish and the accuracy appear in the
 * Runs view and the results dashboard; open the experiment dashboard and run a cell from it.
 * Screenshots: test-results/e2e/main-*.png.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import type { Frame } from "playwright-core";
import { loadEnv, Session } from "./harness.ts";

let s: Session;
/** A tiny random-weight Llama GGUF for the local-model run (scripts/make-gguf.ts), if that script is here. */
let gguf: string | undefined;

before(async () => {
  s = new Session(loadEnv(), {
    name: "main",
    settings: {
      "preflab.llamacpp.threads": 1,
      "preflab.llamacpp.gpu": "off",
      "preflab.generation.maxTokens": 8,
      // The tiny model has a 4,096-token context; the budget counts with its own tokenizer, so the
      // oldest history pairs are dropped to fit 3,000 tokens (and a 130-item run lasts long enough
      // to be cancelled from its notification).
      "preflab.evaluation.maxInputTokens": 3000,
    },
  });
  const maker = path.join(__dirname, "..", "..", "scripts", "make-gguf.ts");
  if (existsSync(maker)) {
    const { writeTinyGguf } = (await import(maker)) as { writeTinyGguf: (file: string, opts: object) => Promise<unknown> };
    gguf = path.join(s.workspace, "models", "tiny-chatml.gguf");
    mkdirSync(path.dirname(gguf), { recursive: true });
    await writeTinyGguf(gguf, { layers: 2, embd: 64, ff: 192, heads: 4, kvHeads: 2, vocab: 1024, contextLength: 4096, type: "f32" });
    s.opts.settings!["preflab.llamacpp.modelPath"] = gguf;
  }
  await s.start();
});

after(async () => {
  if (s) {
    await s.screenshot("final").catch(() => undefined);
    const log = await s.readLog();
    if (log) process.stderr.write(`[e2e] Preflab log:\n${log}\n`);
    await s.stop();
  }
});

const hasText = (text: string) => async (f: Frame) => (await f.locator("#app").count()) > 0 && (await f.locator("#app").innerText()).includes(text);

test("the extension activates, logs its activation time and shows the welcome view", { timeout: 120_000 }, async () => {
  await s.openPreflab();
  const users = s.view("Synthetic Users");
  await users.getByRole("button", { name: "Build from Bundled Sample" }).waitFor({ timeout: 30_000 });
  await s.screenshot("welcome");
  // The extension logs its own activation time.
  let log = "";
  for (let i = 0; i < 40 && !/activated in/.test(log); i++) {
    await new Promise((r) => setTimeout(r, 250));
    log = await s.readLog();
  }
  const m = /Preflab activated in ([\d.]+) ms \(activate\(\) ([\d.]+) ms \+ module evaluation ([\d.]+) ms\)/.exec(log);
  assert.ok(m, `activation line in the log:\n${log}`);
  process.stderr.write(`[e2e] ACTIVATION: ${m[0]}\n`);
  // Its parts add up. The 100 ms budget is measured by `npm run bench` (scripts/bench-activation.ts,
  // the median of fresh sessions): one timing on a shared CI machine is not a budget check.
  assert.ok(Math.abs(Number(m[1]) - Number(m[2]) - Number(m[3])) < 0.2, m[0]);
  // The welcome view's walkthrough link opens the Getting Started walkthrough.
  await users.locator("a", { hasText: "Getting Started walkthrough" }).click();
  await s.page.locator(".gettingStartedContainer", { hasText: "Get Started with Preflab" }).first().waitFor({ timeout: 30_000 });
  await s.page.locator(".gettingStartedContainer", { hasText: "Build the bundled sample" }).first().waitFor();
  await s.screenshot("walkthrough");
  await s.palette("View: Close All Editors");
});

test("build the bundled sample from the welcome view and browse users and a feedback pair", { timeout: 120_000 }, async () => {
  const page = s.page;
  const users = s.view("Synthetic Users");
  await users.getByRole("button", { name: "Build from Bundled Sample" }).click();
  const style = users.locator(".monaco-list-row", { hasText: "Style" }).first();
  await style.waitFor({ timeout: 60_000 });
  assert.ok(existsSync(path.join(s.workspace, ".preflab", "datasets", "sample", "manifest.json")), "dataset written into the workspace");
  await page.locator(".notifications-toasts", { hasText: "156 synthetic users" }).first().waitFor({ timeout: 30_000 });
  for (const d of ["Background knowledge", "Informativeness", "Harmlessness"]) await users.locator(".monaco-list-row", { hasText: d }).first().waitFor();
  await s.screenshot("sample-built");

  await style.click();
  const user = users.locator(".monaco-list-row[aria-level='2']").first();
  await user.waitFor({ timeout: 30_000 });
  assert.match(await user.innerText(), /member \d · te-/);
  // Expand the user (its twistie) to list its feedback history.
  await user.locator(".monaco-tl-twistie").click();
  const pair = users.locator(".monaco-list-row[aria-level='3']").first();
  await pair.waitFor({ timeout: 30_000 });
  assert.match(await pair.innerText(), /sim \d\.\d\d/);
  await s.screenshot("users-tree");
  await pair.click();
  const editor = page.locator(".editor-instance .view-lines").first();
  await page.locator(".tab", { hasText: "pair-1.md" }).first().waitFor({ timeout: 30_000 });
  // Monaco renders spaces as no-break spaces.
  await page.waitForFunction('/Feedback\\s+pair\\s+1\\s+of/.test((document.querySelector(".editor-instance .view-lines")?.textContent ?? "").replace(/\\u00a0/g, " "))', undefined, { timeout: 30_000 });
  const text = (await editor.innerText()).replace(/\u00a0/g, " ");
  assert.match(text, /Similarity score/);
  await s.screenshot("pair-document");
});

test("open a counterfactual triple from a user", { timeout: 120_000 }, async () => {
  const users = s.view("Synthetic Users");
  const user = users.locator(".monaco-list-row[aria-level='2']").first();
  await user.locator(".label-name").click();
  const frame = await s.webviewFrame(hasText("Member 3"), 60_000);
  const text = await frame.locator("#app").innerText();
  assert.match(text, /Member 1/);
  assert.match(text, /Member 2/);
  // Our page inside VS Code's webview frame: a nonce CSP that allows no remote content.
  const csp = await frame.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute("content");
  assert.match(csp ?? "", /default-src 'none'/);
  assert.match(csp ?? "", /script-src 'nonce-[A-Za-z0-9]+'(;|$)/, `scripts only with the nonce: ${csp}`);
  assert.doesNotMatch(csp ?? "", /unsafe-inline|unsafe-eval|\s\*|https:(;|\s|$)/, `no inline code and no wildcard sources: ${csp}`);
  await s.screenshot("triple");
});

test("run the reward-model evaluation with the baseline provider from the palette", { timeout: 180_000 }, async () => {
  const page = s.page;
  await s.palette("Preflab: Run Reward-Model Evaluation");
  await s.quickPick("All dimensions", { title: /Reward-model evaluation \(1\/4\)/ });
  await s.quickPick("Baseline", { title: /\(2\/4\)/ });
  await s.quickPick("First 12 users", { title: /\(4\/4\)/ });
  // Progress notification, then the finished message with the accuracy.
  const done = page.locator(".notifications-toasts .notification-toast", { hasText: /Reward-model evaluation finished: accuracy \d+\.\d%/ }).first();
  await done.waitFor({ timeout: 120_000 });
  await s.screenshot("rm-finished");
  const runs = s.view("Runs");
  const row = runs.locator(".monaco-list-row", { hasText: /accuracy \d+\.\d%/ }).first();
  await row.waitFor({ timeout: 30_000 });
  const rowText = await row.innerText();
  assert.match(rowText, /Reward model · baseline\/tfidf-style\s*finished · accuracy \d+\.\d%/);
  const runsDir = path.join(s.workspace, ".preflab", "runs");
  const runDir = path.join(runsDir, readdirSync(runsDir)[0]!);
  const rj = JSON.parse(readFileSync(path.join(runDir, "run.json"), "utf8")) as { status: string; totals: { items: number; done: number } };
  assert.equal(rj.status, "finished");
  assert.equal(rj.totals.done, rj.totals.items);
  assert.ok(rj.totals.items > 0);
  process.stderr.write(`[e2e] RUNS VIEW: ${rowText.replace(/\s+/g, " ")}\n`);
  await s.screenshot("runs-view");

  // "Open Report" on the notification opens the dashboard.
  await done.getByRole("button", { name: "Open Report" }).click();
  const dash = await s.webviewFrame(hasText("Reward-model accuracy"), 60_000);
  const dashText = await dash.locator("#app").innerText();
  const acc = /accuracy \d+\.\d%/.exec(rowText)![0].replace("accuracy ", "").replace("%", "");
  assert.ok(dashText.includes(acc.split(".")[0]!), `the dashboard shows the accuracy (${acc}%):\n${dashText.slice(0, 800)}`);
  await s.screenshot("dashboard");

  // Export the tables as CSV through the save dialog (VS Code's own dialog here: accept its default path).
  await dash.locator("#export-csv").click();
  const input = page.locator(".quick-input-widget .quick-input-box input");
  await input.waitFor({ state: "visible", timeout: 30_000 });
  // VS Code's simple file dialog fills in the folder first, then the default file name.
  let value = "";
  for (let i = 0; i < 40 && !/\.csv$/.test(value); i++) {
    await new Promise((r) => setTimeout(r, 250));
    value = await input.inputValue();
  }
  assert.match(value, /\.preflab\/runs\/rm-[^/]+\.csv$/);
  await input.press("Enter");
  const csv = path.join(runsDir, `${path.basename(runDir)}.csv`);
  for (let i = 0; i < 40 && !existsSync(csv); i++) await new Promise((r) => setTimeout(r, 250));
  assert.match(readFileSync(csv, "utf8"), /^"?Table 1\. Reward-model accuracy/);

  // The triple panel now shows the run's verdicts beside the responses.
  await page.locator(".tab", { hasText: "Triple te-" }).first().click();
  await s.webviewFrame(hasText("user's at"), 60_000);
  await s.screenshot("triple-with-verdicts");
  await page.locator(".tab", { hasText: "Results:" }).first().click();
});

test("the dashboard comes back after a window reload (webview panel serializer)", { timeout: 120_000 }, async () => {
  // A proper window reload (it flushes workspace state, unlike a bare page reload).
  await s.palette("Developer: Reload Window");
  await s.page.waitForEvent("load", { timeout: 60_000 }).catch(() => undefined);
  await s.page.locator(".monaco-workbench").waitFor({ timeout: 90_000 });
  const dash = await s.webviewFrame(hasText("Reward-model accuracy"), 60_000);
  assert.match(await dash.locator("#app").innerText(), /Table 1/);
  await s.screenshot("dashboard-revived");
  await s.openPreflab();
});

test("the experiment dashboard opens from the palette, runs a cell from its button and shows it finished", { timeout: 180_000 }, async () => {
  const file = path.join(s.workspace, "experiments", "e2e.preflab.yaml");
  mkdirSync(path.dirname(file), { recursive: true });
  const samples = path.join(__dirname, "..", "..", "samples");
  writeFileSync(
    file,
    [
      "name: e2e",
      `dataset: { build: { train: ${JSON.stringify(path.join(samples, "train.jsonl"))}, test: ${JSON.stringify(path.join(samples, "test.jsonl"))} } }`,
      "models: { baseline: { provider: baseline } }",
      "evaluations: { rm: { kind: rm, limit: 2, maxInputTokens: 2500 } }",
      "matrix: [{ models: [baseline], evaluations: [rm] }]",
      "",
    ].join("\n"),
  );
  await s.palette("Preflab: Open Experiment Dashboard");
  await s.quickPick("e2e.preflab.yaml", { title: /experiment file/ });
  const dash = await s.webviewFrame(hasText("Experiment: e2e"), 60_000);
  assert.match(await dash.locator("#cells").innerText(), /rm-baseline\s+rm\s+baseline\s+not started/);
  await dash.locator("#cells vscode-button.run-cell").first().click();
  // The cell runs (progress, then its report opens); the dashboard shows it finished with its accuracy.
  const report = path.join(s.workspace, "experiments", "e2e", "report.md");
  for (let i = 0; i < 240 && !existsSync(report); i++) await new Promise((r) => setTimeout(r, 250));
  assert.ok(existsSync(report), "the cell ran and wrote the report");
  await s.page.locator(".tab", { hasText: "Experiment: e2e" }).first().click();
  const done = await s.webviewFrame(async (f) => (await f.locator("#cells").count()) > 0 && /finished[\s\S]*accuracy \d+\.\d%/.test(await f.locator("#cells").innerText()), 60_000);
  assert.match(await done.locator("#table1").innerText(), /Table 1/);
  await s.screenshot("experiment-dashboard");
});

test("an interrupted run shows as resumable and resumes from the Runs view without redoing or duplicating items", { timeout: 120_000 }, async () => {
  const page = s.page;
  const runsDir = path.join(s.workspace, ".preflab", "runs");
  const runDir = path.join(runsDir, readdirSync(runsDir).find((n) => n.startsWith("rm-"))!);
  const results = path.join(runDir, "results.jsonl");
  const lines = readFileSync(results, "utf8").trim().split("\n");
  // As if VS Code had been closed mid-run: half the results, run.json still "running", the lock of a dead process.
  writeFileSync(results, lines.slice(0, lines.length / 2).join("\n") + "\n");
  const rj = JSON.parse(readFileSync(path.join(runDir, "run.json"), "utf8")) as Record<string, unknown>;
  writeFileSync(path.join(runDir, "run.json"), JSON.stringify({ ...rj, status: "running", finishedAt: null }, null, 2));
  writeFileSync(path.join(runDir, "run.lock"), JSON.stringify({ pid: 4_000_000, host: hostname() }));
  const runs = s.view("Runs");
  const row = runs.locator(".monaco-list-row", { hasText: /resumable/ }).first();
  await row.waitFor({ timeout: 30_000 });
  await s.screenshot("resumable");
  // The row's inline action (the context menu has the same command).
  await row.hover();
  await row.locator('.action-label[aria-label="Resume Run"]').click();
  await page.locator(".notifications-toasts .notification-toast", { hasText: /Reward-model evaluation finished/ }).first().waitFor({ timeout: 60_000 });
  await runs.locator(".monaco-list-row", { hasText: /finished · accuracy/ }).first().waitFor({ timeout: 30_000 });
  const after = readFileSync(results, "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { itemId: string }).itemId);
  assert.equal(after.length, lines.length, "every item once");
  assert.equal(new Set(after).size, after.length, "no duplicates");
  const rj2 = JSON.parse(readFileSync(path.join(runDir, "run.json"), "utf8")) as { status: string; resumedAt?: string };
  assert.equal(rj2.status, "finished");
  assert.ok(rj2.resumedAt, "recorded as resumed");
  await s.screenshot("resumed");
});

/** Starts the generation evaluation from the palette with the tiny local GGUF model on all dimensions. */
async function startLocalGeneration(users: string | RegExp): Promise<void> {
  await s.palette("Preflab: Run Generation Evaluation");
  await s.quickPick("All dimensions", { title: /Generation \(1\/4\)/ });
  await s.quickPick("Local GGUF model", { title: /\(2\/4\)/ });
  await s.quickPick("tiny-chatml.gguf", { title: /\(3\/4\)/ });
  await s.quickPick(users, { title: /\(4\/4\)/ });
}

test("a local GGUF model runs the generation evaluation inside VS Code (node-llama-cpp from the .vsix)", { timeout: 180_000 }, async (t) => {
  if (!gguf) {
    t.skip("scripts/make-gguf.ts is not in this checkout");
    return;
  }
  const page = s.page;
  await startLocalGeneration("First 12 users");
  const done = page.locator(".notifications-toasts .notification-toast", { hasText: /Generation finished: (\d+)\/\1 generated/ }).first();
  await done.waitFor({ timeout: 150_000 });
  await s.screenshot("llamacpp-generation");
  const runsDir = path.join(s.workspace, ".preflab", "runs");
  const genDir = path.join(runsDir, readdirSync(runsDir).find((n) => n.startsWith("generate-llamacpp-tiny-chatml"))!);
  const rj = JSON.parse(readFileSync(path.join(genDir, "run.json"), "utf8")) as { status: string; provider: string; totals: { items: number; done: number; failed: number; outputTokens: number } };
  assert.equal(rj.status, "finished");
  assert.equal(rj.provider, "llamacpp");
  assert.equal(rj.totals.failed, 0);
  assert.ok(rj.totals.outputTokens > 0, "tokens were generated");
  process.stderr.write(`[e2e] LLAMACPP: ${rj.totals.done} generations, ${rj.totals.outputTokens} output tokens\n`);
});

test("a long run shows progress and the status bar, cancels from the notification, and resumes", { timeout: 240_000 }, async (t) => {
  if (!gguf) {
    t.skip("scripts/make-gguf.ts is not in this checkout");
    return;
  }
  const page = s.page;
  await startLocalGeneration(/^All \d+ users/);
  // Progress: "12/130 · ETA 14s · 18k in / 96 out tokens · cost n/a (no price set)"
  const progress = page.locator(".notifications-toasts .notification-toast", { hasText: /\d+\/\d+ · ETA/ }).first();
  await progress.waitFor({ timeout: 60_000 });
  const status = page.locator(".statusbar-item", { hasText: /Preflab: generate \d+%/ }).first();
  await status.waitFor({ timeout: 10_000 });
  await s.screenshot("progress");
  await progress.hover();
  await progress.getByRole("button", { name: "Cancel" }).click();
  const cancelled = page.locator(".notifications-toasts .notification-toast", { hasText: /Generation cancelled; \d+ of \d+ items are saved/ }).first();
  await cancelled.waitFor({ timeout: 60_000 });
  await s.view("Runs").locator(".monaco-list-row", { hasText: /Generation · llamacpp\/tiny-chatml\.gguf\s*resumable/ }).first().waitFor({ timeout: 30_000 });
  await s.screenshot("cancelled");
  await cancelled.getByRole("button", { name: "Resume" }).click();
  await page.locator(".notifications-toasts .notification-toast", { hasText: /Generation finished: (\d+)\/\1 generated/ }).first().waitFor({ timeout: 180_000 });
  const runsDir = path.join(s.workspace, ".preflab", "runs");
  const dirs = readdirSync(runsDir).filter((n) => n.startsWith("generate-llamacpp-tiny-chatml")).map((n) => path.join(runsDir, n));
  const all = dirs.map((d) => JSON.parse(readFileSync(path.join(d, "run.json"), "utf8")) as { status: string; resumedAt?: string; totals: { items: number; done: number } });
  const resumed = all.find((r) => r.resumedAt);
  assert.ok(resumed, "a resumed run");
  assert.equal(resumed.status, "finished");
  assert.equal(resumed.totals.done, resumed.totals.items);
  await s.screenshot("resumed-generation");
});
