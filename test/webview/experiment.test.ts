/**
 * The experiment dashboard in Chromium with a stub host, fed the model the extension host builds
 * (experimentDashboardModel over a real experiment run on the bundled sample: two baseline
 * reward-model cells, rejection sampling and the SFT export of what it kept, one cell not run):
 * the cells table (status, requests, input / cached / output tokens, dollars, headline, total),
 * Table 1 of the rm cells side by side, the paired test between them, the rs acceptance per part
 * and the export's counts; Run / Open / file buttons post the cell's name; a new model (a cell
 * finished) re-renders; a hostile cell name and headline stay text under the extension's CSP; a
 * host message that fails its schema is dropped and reported.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import type { Page } from "playwright-core";
import { Harness, hostPost, posted, postedCount, screenshot, waitPosted, type Dom, type El } from "./harness.js";
import { ROOT } from "./harness.js";
import { tempDir } from "../helpers/tmp.js";
import { useExtensionStubs } from "../helpers/extension-stubs.js";
import { ALLOW_ALL } from "../../src/app/gate.js";
import { loadExperiment, runExperiment } from "../../src/app/experiment.js";
import * as core from "../../src/app/experiment.js";
import type { ExperimentDashboardModel } from "../../src/protocol/webview.js";
import { HOSTILE_PAYLOADS, MARK } from "./hostile-corpus.js";

const restoreResolver = useExtensionStubs();
const root = tempDir("preflab-exp-webview-");
let hx: Harness;
let model: ExperimentDashboardModel;

before(async () => {
  const file = path.join(root, "e.preflab.yaml");
  writeFileSync(
    file,
    [
      "name: e",
      "dataset:",
      `  build: { train: ${JSON.stringify(path.join(ROOT, "samples/train.jsonl"))}, test: ${JSON.stringify(path.join(ROOT, "samples/test.jsonl"))} }`,
      "models:",
      "  baseline: { provider: baseline }",
      "evaluations:",
      "  rm: { kind: rm, limit: 6, maxInputTokens: 2500 }",
      "  rs: { kind: rs, historySize: 3, maxInputTokens: 2500 }",
      "  sft: { kind: export, format: sft, target: trl, keepFrom: rs, historySize: 3, maxInputTokens: 2500 }",
      "  dpo: { kind: export, format: dpo, target: trl, historySize: 3, maxInputTokens: 2500 }",
      "matrix:",
      "  - { models: [baseline], evaluations: [rm], options: { oracle: [false, true] } }",
      "  - { models: [baseline], evaluations: [rs, sft, dpo] }",
      "",
    ].join("\n"),
  );
  const exp = await loadExperiment(file);
  const only = exp.cells.map((c) => c.name).filter((n) => n !== "dpo-baseline");
  const [h] = await Promise.all([Harness.start(), runExperiment(exp, { getKey: () => undefined, hooksFor: () => ({ gate: ALLOW_ALL }) }, only)]);
  hx = h;
  const { experimentDashboardModel } = await import("../../src/extension/panels/experiment-panel.js");
  model = await experimentDashboardModel(core, exp, new Set());
});
after(async () => {
  await hx?.close();
  restoreResolver();
});

const rowsOf = (page: Page, id: string) =>
  page.$$eval(`#${id} table tbody tr`, (trs) => (trs as unknown as El[]).map((tr) => Array.from(tr.children).map((c) => (c.textContent ?? "").trim())));

async function show(page: Page, m: ExperimentDashboardModel): Promise<void> {
  await hostPost(page, { type: "experiment", model: m });
  await page.waitForSelector("#cells table");
}

const int = (n: number) => n.toLocaleString("en-US");

test("every cell with status, tokens, dollars and headline; the rm tables side by side with their paired test; rs acceptance and export counts", async () => {
  const { page, errors } = await hx.open("experiment", { theme: "dark", csp: true });
  assert.deepEqual((await posted(page))[0], { type: "ready" });
  await show(page, model);
  assert.equal(await page.locator("#title").textContent(), "Experiment: e");

  // The model itself is what the experiment made (not hand-written).
  const byName = Object.fromEntries(model.cells.map((c) => [c.name, c]));
  assert.deepEqual(Object.keys(byName).sort(), ["dpo-baseline", "rm-baseline-oracle=false", "rm-baseline-oracle=true", "rs-baseline", "sft-baseline"]);
  assert.equal(byName["dpo-baseline"]!.status, "not started");
  assert.match(byName["rm-baseline-oracle=false"]!.headline ?? "", /^accuracy \d+\.\d%$/);
  assert.match(byName["rs-baseline"]!.headline ?? "", /^kept \d+ of 135 \(p=0\.6\)$/);
  assert.ok(model.report && model.comparisons.length === 1);

  const rows = await rowsOf(page, "cells");
  assert.equal(rows.length, model.cells.length + 1, "one row per cell and a total");
  for (const [i, c] of model.cells.entries()) {
    const r = rows[i]!;
    assert.deepEqual(r.slice(0, 4), [c.name, c.kind, c.model, c.status]);
    if (c.usage) assert.deepEqual(r.slice(4, 9), [int(c.usage.requests), int(c.usage.inputTokens), int(c.usage.cachedInputTokens), int(c.usage.outputTokens), "$0.00"]);
    else assert.deepEqual(r.slice(4, 9), ["–", "–", "–", "–", "–"]);
    assert.equal(r[9], c.headline ?? "–");
  }
  const total = rows.at(-1)!;
  assert.equal(total[0], "total");
  assert.equal(total[3], "4/5 finished");
  assert.equal(total[4], int(model.cells.reduce((a, c) => a + (c.usage?.requests ?? 0), 0)));
  assert.equal(total[8], "$0.00");

  // Table 1: both rm cells side by side; the paired test between them (McNemar).
  const t1 = await rowsOf(page, "table1");
  assert.equal(t1.length, 2);
  assert.ok(t1[0]![0]!.startsWith("rm-baseline-oracle=false"));
  const cmp = model.comparisons[0]!;
  assert.ok(cmp.result.kind === "rm");
  const paired = await page.$$eval("#paired table tbody tr", (trs) => (trs as unknown as El[]).map((tr) => Array.from(tr.children).map((c) => (c.textContent ?? "").trim())));
  const overall = paired.find((r) => r[0] === "overall")!;
  assert.deepEqual(overall.slice(3, 6), [String(cmp.result.overall.b), String(cmp.result.overall.c), String(cmp.result.overall.n)]);
  assert.match((await page.locator("#paired h2").nth(1).textContent()) ?? "", new RegExp(`${cmp.a} vs ${cmp.b}`.replace(/[.*+?^${}()|[\]\\=]/g, "\\$&")));

  // rs: kept / dropped and acceptance per part, then all; export: counts and where it kept from.
  const rs = byName["rs-baseline"]!.finetune!.rs!;
  const rsRows = await rowsOf(page, "rs");
  assert.deepEqual(
    rsRows.slice(0, rs.byPart.length).map((r) => r.slice(2, 8)),
    rs.byPart.map((p) => [p.part, int(p.examples), int(p.scored), int(p.kept), int(p.dropped), ((100 * p.kept) / p.examples).toFixed(1)]),
  );
  assert.equal(rsRows.at(-1)![2], "all");
  const sft = byName["sft-baseline"]!.finetune!;
  const ex = await rowsOf(page, "export");
  assert.deepEqual(ex[0]!.slice(0, 8), ["sft-baseline", "finished", "sft/trl", int(sft.counts.examples!), int(sft.counts.written!), int(sft.counts.filteredOut!), int(sft.counts.overBudget!), "rs-baseline"]);
  assert.deepEqual(ex[1]!.slice(0, 3), ["dpo-baseline", "not started", "–"]);

  // Buttons post cell names (the host resolves them); Refresh asks again.
  let n = await postedCount(page);
  await page.locator("#cells vscode-button.run-cell").first().click();
  assert.deepEqual(await waitPosted(page, "runCell", n), { type: "runCell", cell: "dpo-baseline" });
  n = await postedCount(page);
  await page.locator("#cells vscode-button.open-cell").first().click();
  assert.deepEqual(await waitPosted(page, "openCell", n), { type: "openCell", cell: "rm-baseline-oracle=false" });
  n = await postedCount(page);
  await page.locator("#export vscode-button.open-file").first().click();
  assert.deepEqual(await waitPosted(page, "openFile", n), { type: "openFile", cell: "sft-baseline", file: "train.jsonl" });
  n = await postedCount(page);
  await page.locator("#refresh").click();
  await waitPosted(page, "refresh", n);
  assert.equal(await page.locator("#cells vscode-button.run-cell").count(), 1, "only the cell that has not run offers Run");
  assert.equal(await page.locator("#cells vscode-button.open-cell").count(), 2, "Open (results dashboard) for the evaluation cells only");
  assert.deepEqual(await page.locator("#rs vscode-button.open-file").allTextContents(), ["rs.json", "scores.jsonl", "plan.json"], "the rs files once, on the cell's total row");

  // A cell finished (the host sends the model again): the page follows.
  const next: ExperimentDashboardModel = JSON.parse(JSON.stringify(model)) as ExperimentDashboardModel;
  const dpo = next.cells.find((c) => c.name === "dpo-baseline")!;
  dpo.status = "finished";
  dpo.headline = "90 dpo/trl lines";
  await hostPost(page, { type: "experiment", model: next });
  await page.waitForFunction(() => (globalThis as unknown as Dom).document.querySelector("#cells tbody tr:last-child")?.textContent?.includes("5/5 finished") ?? false);
  assert.equal(await page.locator("#cells vscode-button.run-cell").count(), 0);
  // The webview keeps the file for a reload (the host revives the panel from it).
  assert.equal(await page.evaluate(() => JSON.parse((globalThis as unknown as Dom).sessionStorage.getItem("vscode-webview-state") ?? "{}").file as string), model.file);
  await screenshot(page, "experiment-dark", true);
  assert.deepEqual(errors, []);
  await page.close();
});

test("hostile cell names, models and headlines stay text under the CSP; a malformed host message is dropped and reported", async () => {
  const { page, errors, requests } = await hx.open("experiment", { csp: true });
  const hostile: ExperimentDashboardModel = JSON.parse(JSON.stringify(model)) as ExperimentDashboardModel;
  hostile.name = HOSTILE_PAYLOADS[0]!;
  hostile.cells.forEach((c, i) => {
    c.name = HOSTILE_PAYLOADS[(2 * i + 1) % HOSTILE_PAYLOADS.length]!;
    c.headline = HOSTILE_PAYLOADS[(2 * i + 2) % HOSTILE_PAYLOADS.length]!;
    c.model = `${MARK}model <img src=x onerror="window.__pwned='model'">`;
    if (c.finetune) c.finetune.files = [`${MARK}f <script>window.__pwned='file'</script>`];
  });
  await show(page, hostile);
  const state = await page.evaluate(() => {
    const w = globalThis as unknown as Dom;
    const app = w.document.getElementById("app")!;
    const active = Array.from(w.document.querySelectorAll("#app *")).filter((el) => ["SCRIPT", "IMG", "IFRAME", "OBJECT", "EMBED", "STYLE", "LINK", "A"].includes(el.tagName) || Array.from(el.attributes).some((a) => /^on/i.test(a.name))).length;
    return { pwned: w.__pwned ?? null, text: app.textContent ?? "", active, violations: w.__cspViolations };
  });
  assert.equal(state.pwned, null);
  assert.equal(state.active, 0, "no element from the payloads");
  assert.ok(state.text.includes(hostile.cells[0]!.name), "the hostile cell name shown verbatim, as text");
  assert.ok(state.text.includes(`${MARK}model <img src=x`), "the model name shown as text");
  assert.equal(await page.locator("#title").textContent(), `Experiment: ${HOSTILE_PAYLOADS[0]}`);
  // A button of a hostile cell posts its name back unchanged (the host checks it against its own list).
  const n = await postedCount(page);
  await page.locator("#cells vscode-button.run-cell").first().click();
  const run = await waitPosted(page, "runCell", n);
  assert.equal(run.cell, hostile.cells.find((c) => c.status === "not started")!.name);
  assert.deepEqual(requests.filter((r) => !r.startsWith(hx.origin)), []);

  // A message of a known type whose payload fails the schema: dropped, reported, nothing rendered.
  const before = await page.locator("#cells").innerHTML();
  const m = await postedCount(page);
  await hostPost(page, { type: "experiment", model: { ...hostile, cells: [{ name: 1, kind: "<b>x</b>" }] } });
  const inv = await waitPosted(page, "invalidHostMessage", m);
  assert.match(String(inv.reason), /^experiment: model\.cells\.0/);
  assert.equal(await page.locator("#cells").innerHTML(), before);
  assert.deepEqual(errors, []);
  await page.close();
});
