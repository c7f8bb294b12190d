/**
 * Workspace trust in a real VS Code: with trust enabled and the folder not trusted (Restricted
 * Mode), Preflab's views, the bundled sample and the baseline provider work, and a cloud provider
 * is refused with a clear message. Screenshots: test-results/e2e/trust-*.png.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { loadEnv, Session } from "./harness.ts";

let s: Session;

before(async () => {
  s = new Session(loadEnv(), { name: "trust", trust: true });
  await s.start();
});

after(async () => {
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
