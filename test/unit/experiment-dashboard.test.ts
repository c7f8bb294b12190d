/**
 * The experiment dashboard's host side (src/extension/panels/experiment-panel.ts) in plain Node with
 * the stand-in `vscode`: "Preflab: Open Experiment Dashboard" opens one `preflab.experiment` panel
 * with the extension's CSP shell; on `ready` it posts the experiment's report over all cells (the
 * same data `preflab run` reports), redacted; when a cell finishes in this window it posts it again;
 * the page's messages act only on cells of the shown experiment (run, open results, open one of the
 * files the model listed), malformed ones are dropped; a file that does not load shows its error;
 * the serializer revives the panel from the file the page saved.
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { after, test } from "node:test";
import { ALLOW_ALL } from "../../src/app/gate.js";
import { experimentStatus, loadExperiment } from "../../src/app/experiment.js";
import { Redactor } from "../../src/core/util/redact.js";
import { readConfig } from "../../src/extension/config.js";
import type { Services } from "../../src/extension/services.js";
import type { ExperimentDashboardModel, ExperimentHostMessage } from "../../src/protocol/webview.js";
import { useExtensionStubs } from "../helpers/extension-stubs.js";
import { stub, type StubWebviewPanel } from "../fixtures/finetune/vscode-stub.js";
import { tempDir } from "../helpers/tmp.js";

const restoreResolver = useExtensionStubs();
after(() => restoreResolver());

const repo = path.resolve(__dirname, "../..");
const root = tempDir("preflab-exp-dash-");
/** A model name that is also a "secret" the log's redactor knows: posts must not carry it. */
const SECRET = "sk-secretmodelname-0123456789";
const file = path.join(root, "experiments", "d.preflab.yaml");

function writeExperiment(): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(
    file,
    [
      "name: d",
      "dataset:",
      `  build: { train: ${JSON.stringify(path.join(repo, "samples/train.jsonl"))}, test: ${JSON.stringify(path.join(repo, "samples/test.jsonl"))} }`,
      "models:",
      "  baseline: { provider: baseline }",
      `  ${SECRET}: { provider: baseline }`,
      "evaluations:",
      "  rm: { kind: rm, limit: 2, maxInputTokens: 2500 }",
      "  dpo: { kind: export, format: dpo, target: trl, historySize: 3, maxInputTokens: 2500 }",
      "matrix:",
      `  - { models: [baseline, ${SECRET}], evaluations: [rm] }`,
      "  - { models: [baseline], evaluations: [dpo] }",
      "",
    ].join("\n"),
  );
}

async function services() {
  const { ActiveRuns } = await import("../../src/extension/state.js");
  const { Uri } = await import("../fixtures/finetune/vscode-stub.js");
  const logs: string[] = [];
  const s = {
    context: { extensionUri: Uri.file(repo) },
    config: () => readConfig({ get: <T>(k: string) => ({ "cache.enabled": false })[k] as T | undefined }),
    folders: () => ({ datasets: path.join(root, "datasets"), runs: path.join(root, "runs"), cache: path.join(root, "cache") }),
    baseDir: () => root,
    trusted: true,
    checkFolder: async (d: string) => d,
    gate: ALLOW_ALL,
    keys: { get: async () => undefined },
    log: { redactor: new Redactor().add(SECRET), redact: (t: string) => t, info: (m: string) => logs.push(m), warn: (m: string) => logs.push(m), error: (m: string) => logs.push(m), debug: () => undefined, show: () => undefined },
    active: new ActiveRuns(),
  } as unknown as Services;
  return { s, logs };
}

const experimentPosts = (p: StubWebviewPanel) => (p.webview.posted as ExperimentHostMessage[]).filter((m): m is Extract<ExperimentHostMessage, { type: "experiment" }> => m.type === "experiment").map((m) => m.model);

async function until<T>(f: () => T | undefined, what: string, ms = 5000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("Open Experiment Dashboard: the CSP shell, the report over all cells on ready, redacted; refreshed when a cell finishes", async () => {
  writeExperiment();
  const { s } = await services();
  const { ExperimentFeature } = await import("../../src/extension/experiments.js");
  const { ExperimentDashboardFeature, ExperimentPanel } = await import("../../src/extension/panels/experiment-panel.js");
  const experiments = new ExperimentFeature(s);
  const dash = new ExperimentDashboardFeature(s, experiments);
  const disposables = dash.register();
  try {
    assert.ok(stub.serializers["preflab.experiment"], "a serializer revives the panel after a reload");
    const before = stub.panels.length;
    await dash.commands()["preflab.openExperimentDashboard"]!({ experimentFile: file });
    assert.equal(stub.panels.length, before + 1);
    const panel = stub.panels.at(-1)!;
    assert.equal(panel.viewType, "preflab.experiment");
    const html = panel.webview.html;
    assert.match(html, /Content-Security-Policy" content="default-src 'none';[^"]*script-src 'nonce-([A-Za-z0-9]+)'/);
    const nonce = /script-src 'nonce-([A-Za-z0-9]+)'/.exec(html)![1]!;
    assert.ok(html.includes(`<script nonce="${nonce}" src="vscode-webview://stub${repo}/dist/webview/experiment.js"></script>`), "the experiment bundle, with the nonce");
    assert.deepEqual((panel.webview.options as { enableCommandUris: boolean; localResourceRoots: { fsPath: string }[] }).localResourceRoots.map((u) => u.fsPath), [`${repo}/dist/webview`]);
    assert.equal((panel.webview.options as { enableCommandUris: boolean }).enableCommandUris, false);

    // The page says ready: loading, then the model.
    panel.webview.receive({ type: "ready" });
    const first = await until(() => experimentPosts(panel)[0], "the model");
    assert.equal((panel.webview.posted[0] as { type: string }).type, "loading");
    const exp = await loadExperiment(file);
    const st = await experimentStatus(exp);
    assert.deepEqual(first.cells.map((c) => [c.name, c.kind, c.status]), st.map((x) => [x.cell.name.replace(SECRET, "[redacted]"), x.cell.kind, "not started"]));
    assert.equal(first.report, null, "no table before a cell ran");
    assert.equal(first.file, file);
    assert.ok(!JSON.stringify(panel.webview.posted).includes(SECRET), "posts go through the log's redactor");
    assert.match(JSON.stringify(first), /"name":"rm-\[redacted\]","kind":"rm","model":"\[redacted\]"/);
    assert.equal(panel.title, "Experiment: d");

    // A cell runs in this window: the panel posts the model again with it finished.
    const n = experimentPosts(panel).length;
    await experiments.run(file, ["rm-baseline", "dpo-baseline"]);
    const after = await until(() => experimentPosts(panel).slice(n).find((m) => m.cells.find((c) => c.name === "dpo-baseline")?.status === "finished"), "a refresh after the run");
    const rm = after.cells.find((c) => c.name === "rm-baseline")!;
    assert.equal(rm.status, "finished");
    assert.match(rm.headline ?? "", /^accuracy \d+\.\d%$/);
    assert.ok(rm.usage && rm.usage.requests > 0 && rm.usage.costUsd === 0);
    assert.ok(after.report && after.report.perRun.length === 1, "the tables of the cell that ran");
    const dpo = after.cells.find((c) => c.name === "dpo-baseline")!;
    assert.deepEqual(dpo.finetune?.files, ["train.jsonl", "examples.jsonl", "export.json"]);
    assert.equal(dpo.usage, null, "an export sends nothing");

    // Opening it again reuses the panel.
    await dash.open(file);
    assert.equal(stub.panels.length, before + 1);
    assert.equal(panel.revealed, 1);
  } finally {
    ExperimentPanel.open?.dispose();
    for (const d of disposables) d.dispose();
    experiments.dispose();
  }
});

test("page messages act only on the shown experiment's cells and listed files; malformed ones are dropped; errors and revival", async () => {
  const { s, logs } = await services();
  const { ExperimentFeature } = await import("../../src/extension/experiments.js");
  const { ExperimentDashboardFeature, ExperimentPanel } = await import("../../src/extension/panels/experiment-panel.js");
  const experiments = new ExperimentFeature(s);
  const dash = new ExperimentDashboardFeature(s, experiments);
  const disposables = dash.register();
  try {
    const panel = (await dash.open(file))!.panel as unknown as StubWebviewPanel;
    panel.webview.receive({ type: "ready" });
    const model: ExperimentDashboardModel = await until(() => experimentPosts(panel)[0], "the model");
    const settle = () => new Promise((r) => setTimeout(r, 50));
    stub.commands.length = 0;
    stub.shown.length = 0;

    panel.webview.receive({ type: "runCell", cell: "rm-nosuch" });
    panel.webview.receive({ type: "openCell", cell: "dpo-baseline" });
    panel.webview.receive({ type: "openFile", cell: "dpo-baseline", file: "../../../etc/passwd" });
    panel.webview.receive({ type: "openFile", cell: "rm-baseline", file: "train.jsonl" });
    panel.webview.receive({ type: "runCell", cell: 42 });
    panel.webview.receive({ type: "openFile", cell: "dpo-baseline", file: "x\0y" });
    await settle();
    assert.deepEqual(stub.commands, [], "nothing ran");
    assert.deepEqual(stub.shown, [], "nothing opened");
    assert.equal(logs.filter((l) => /experiment dashboard: (no cell|cell .* has no run|.* is not an output|dropped a malformed message)/.test(l)).length, 6);

    panel.webview.receive({ type: "runCell", cell: "rm-baseline" });
    panel.webview.receive({ type: "openCell", cell: "rm-baseline" });
    panel.webview.receive({ type: "openFile", cell: "dpo-baseline", file: "train.jsonl" });
    await settle();
    const rmDir = model.cells.find((c) => c.name === "rm-baseline")!.dir;
    assert.deepEqual(stub.commands, [
      ["preflab.experiment.run", file, "rm-baseline"],
      ["preflab.showResults", rmDir],
    ]);
    assert.deepEqual(stub.shown, [path.join(path.dirname(rmDir), "dpo-baseline", "train.jsonl")]);

    // A file that does not load: its error (file, line, field) instead of a model.
    const bad = path.join(root, "experiments", "bad.preflab.yaml");
    writeFileSync(bad, "name: bad\ndataset: { dir: ds }\nmodels: {}\nevaluations:\n  rm: { kind: nosuch }\nmatrix: []\n");
    const n = panel.webview.posted.length;
    await dash.open(bad);
    const err = await until(() => (panel.webview.posted.slice(n) as ExperimentHostMessage[]).find((m) => m.type === "error"), "the error");
    assert.match((err as { message: string }).message, /bad\.preflab\.yaml:5: evaluations\.rm\.kind/);

    // Reload: the serializer revives from the file the page saved; a state naming another kind of file shows nothing of it.
    const { StubWebviewPanel: Panel } = await import("../fixtures/finetune/vscode-stub.js");
    const revived = new Panel("preflab.experiment", "Preflab Experiment");
    await stub.serializers["preflab.experiment"]!.deserializeWebviewPanel(revived, { file });
    assert.equal(ExperimentPanel.open?.panel, revived);
    revived.webview.receive({ type: "ready" });
    assert.equal((await until(() => experimentPosts(revived)[0], "the revived model")).file, file);
    const other = new Panel("preflab.experiment", "Preflab Experiment");
    await stub.serializers["preflab.experiment"]!.deserializeWebviewPanel(other, { file: "/etc/passwd" });
    other.webview.receive({ type: "ready" });
    const msg = await until(() => (other.webview.posted as ExperimentHostMessage[]).find((m) => m.type === "error"), "an error");
    assert.match((msg as { message: string }).message, /No experiment chosen/);
    assert.equal(revived.disposed, true, "one panel at a time");
  } finally {
    ExperimentPanel.open?.dispose();
    for (const d of disposables) d.dispose();
    experiments.dispose();
  }
});
