/**
 * Experiment files in the extension (src/extension/experiments.ts), driven in plain Node with the
 * stand-in `vscode` module: "Run Experiment" runs the shipped sample experiment's baseline cell into
 * its run folder and writes the report; an estimate above `preflab.cost.confirmAboveUsd` asks
 * first (requests, tokens, dollars) and a decline writes no run folder and sends nothing; Restricted
 * Mode refuses a cloud cell before any request (a local listener counts zero).
 */
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { after, before, beforeEach, test } from "node:test";
import { ALLOW_ALL } from "../../src/app/gate.js";
import { cliAllowHint, cliOriginStore, KeyDestinationPolicy } from "../../src/app/origins.js";
import { readRunJson } from "../../src/core/eval/runner.js";
import { readConfig } from "../../src/extension/config.js";
import type { Services } from "../../src/extension/services.js";
import { workspaceTrustGate } from "../../src/extension/trust.js";
import { FakeApiServer } from "../servers/fake-apis.js";
import { useExtensionStubs } from "../helpers/extension-stubs.js";
import { stub, Uri } from "../fixtures/finetune/vscode-stub.js";
import { tempDir } from "../helpers/tmp.js";

// `vscode` -> the stand-in; the core bundle -> its exports from source.
const restoreResolver = useExtensionStubs();

const repo = path.resolve(__dirname, "../..");
const root = tempDir("preflab-exp-ext-");
const sampleFile = path.join(root, "experiments", "sample.preflab.yaml");
const cloudFile = path.join(root, "experiments", "cloud.preflab.yaml");
let api: FakeApiServer;

before(async () => {
  mkdirSync(path.join(root, "experiments"), { recursive: true });
  cpSync(path.join(repo, "experiments", "sample.preflab.yaml"), sampleFile);
  symlinkSync(path.join(repo, "samples"), path.join(root, "samples"));
  api = await FakeApiServer.start({ chat: () => ({ text: "A" }) });
  writeFileSync(
    cloudFile,
    [
      "name: cloud",
      "dataset:",
      "  build: { train: ../samples/train.jsonl, test: ../samples/test.jsonl }",
      "out: ../.preflab/experiments/cloud",
      "models:",
      `  served: { provider: openai-compatible, model: served, baseUrl: "${api.openaiBaseUrl}" }`,
      "prices:",
      "  openai-compatible/served: { input: 1000, output: 1000 }",
      "evaluations:",
      "  rm: { kind: rm, limit: 1, maxInputTokens: 2500 }",
      "matrix:",
      "  - models: [served]",
      "    evaluations: [rm]",
      "",
    ].join("\n"),
  );
});
after(async () => {
  restoreResolver();
  await api.close();
});
beforeEach(() => {
  stub.answers.length = 0;
  stub.messages.length = 0;
});

/** The extension's experiment feature over fake services (trusted or not, with these settings). */
async function feature(settings: Record<string, unknown>, trusted: boolean) {
  const { ExperimentFeature } = await import("../../src/extension/experiments.js");
  const { ActiveRuns } = await import("../../src/extension/state.js");
  const cfg = readConfig({ get: <T>(k: string) => settings[k] as T | undefined });
  const logs: string[] = [];
  const gate = trusted ? ALLOW_ALL : workspaceTrustGate(() => false);
  const s = {
    config: () => cfg,
    folders: () => ({ datasets: path.join(root, "datasets"), runs: path.join(root, "runs"), cache: path.join(root, "cache") }),
    baseDir: () => root,
    trusted,
    checkFolder: async (d: string) => d,
    gate,
    // The confirmed origins of a trusted user: the test server's.
    policy: new KeyDestinationPolicy({ gate, store: cliOriginStore([new URL(api.openaiBaseUrl).origin]), allowHint: cliAllowHint }),
    keys: { get: async () => ({ key: "sk-test" }) },
    log: { info: (m: string) => logs.push(m), warn: (m: string) => logs.push(m), error: (m: string) => logs.push(m), show: () => undefined },
    active: new ActiveRuns(),
  } as unknown as Services;
  return { f: new ExperimentFeature(s), logs, s };
}

test("Run Experiment runs the shipped sample's baseline cell into its run folder and writes the report", async () => {
  const { f } = await feature({ "cache.enabled": false }, true);
  let runs = 0;
  f.onDidRun(() => runs++);
  const r = await f.run(sampleFile, ["rm-baseline"]);
  assert.ok(r, "ran");
  const out = path.join(root, ".preflab", "experiments", "sample");
  const rj = await readRunJson(path.join(out, "rm-baseline"));
  assert.equal(rj?.status, "finished");
  assert.ok((rj?.totals.items ?? 0) > 0);
  assert.equal(existsSync(path.join(out, "rm-tiny")), false, "only the selected cell ran");
  assert.equal(r.report, path.join(out, "report.md"));
  assert.match(readFileSync(r.report, "utf8"), /rm-baseline|baseline/);
  assert.equal(stub.messages.length, 0, "a free run asks nothing");
  assert.ok(runs > 0, "the views hear about the run");
});

test("above the cost threshold a modal shows requests, tokens and dollars; declining writes no run folder and sends nothing", async () => {
  const { f } = await feature({ "cache.enabled": false, "cost.confirmAboveUsd": 0.01 }, true);
  const before = api.requests.length;
  stub.answers.push(undefined); // dismiss the modal
  const r = await f.run(cloudFile);
  assert.equal(r, undefined);
  assert.equal(stub.messages.length, 1);
  assert.match(stub.messages[0]!, /run experiment "cloud" for about \$\d+\.\d\d\? \(above your \$0\.01 threshold\)/);
  assert.match(stub.details.at(-1)!, /^\d[\d,]* requests, [\d,]+ input tokens, [\d,]+ output tokens\./);
  assert.ok(Number(/about \$(\d+\.\d\d)/.exec(stub.messages[0]!)![1]) > 0.01);
  assert.equal(existsSync(path.join(root, ".preflab", "experiments", "cloud", "rm-served")), false, "no run folder");
  assert.equal(api.requests.length, before, "nothing was sent");

  // The same, confirmed: it runs against the server.
  stub.answers.push("Run");
  const ran = await f.run(cloudFile);
  assert.ok(ran);
  assert.ok(api.requests.length > before, "requests after the confirmation");
  assert.equal((await readRunJson(path.join(root, ".preflab", "experiments", "cloud", "rm-served")))?.status, "finished");

  // A threshold above the estimate asks nothing.
  const { f: high } = await feature({ "cache.enabled": false, "cost.confirmAboveUsd": 1e9 }, true);
  stub.messages.length = 0;
  assert.ok(await high.estimate(cloudFile));
  assert.equal(stub.messages.length, 0);
});

test("Restricted Mode refuses a cloud cell before any request, with the standard message; the baseline still runs", async () => {
  const { f } = await feature({ "cache.enabled": false, "cost.confirmAboveUsd": 0 }, false);
  const before = api.requests.length;
  await assert.rejects(f.run(cloudFile), (e: Error) => e.name === "RestrictedModeError" && /openai-compatible provider .* disabled in Restricted Mode/.test(e.message) && /rm-served/.test(e.message));
  await assert.rejects(f.estimate(cloudFile), (e: Error) => e.name === "RestrictedModeError");
  assert.equal(api.requests.length, before, "zero requests");
  assert.equal(stub.messages.length, 0, "no confirmation either");
  // The GGUF cell is refused too (it loads native code named by the workspace).
  await assert.rejects(f.run(sampleFile, ["rm-tiny"]), (e: Error) => e.name === "RestrictedModeError" && /llamacpp/.test(e.message));
  const ok = await f.run(sampleFile, ["rm-baseline"]);
  assert.ok(ok);
});

test("the Runs tree shows each run's cost from run.json: dollars for a priced run, nothing for a free one, 'price unknown' without a price", async () => {
  const { RunsTree } = await import("../../src/extension/runs-tree.js");
  const { costText } = await import("../../src/extension/runs-model.js");
  const { s } = await feature({}, true);
  const cloudOut = path.join(root, ".preflab", "experiments", "cloud");
  const tree = new RunsTree({ ...s, folders: () => ({ datasets: root, runs: cloudOut, cache: root }) } as unknown as Services);
  try {
    const runs = await tree.getChildren();
    const served = runs.find((r) => r.name === "rm-served");
    assert.ok(served, "the cloud cell's run is listed");
    const rj = (await readRunJson(served.dir))!;
    assert.ok(rj.totals.costUsd > 0, "the priced run cost something");
    const item = tree.getTreeItem(served);
    assert.match(String(item.description), new RegExp(`\\$${rj.totals.costUsd.toFixed(2).replace(".", "\\.")}`));
    assert.match((item.tooltip as { value: string }).value, /cost: \$\d+\.\d\d/);
  } finally {
    tree.dispose();
  }
  const sampleTree = new RunsTree({ ...s, folders: () => ({ datasets: root, runs: path.join(root, ".preflab", "experiments", "sample"), cache: root }) } as unknown as Services);
  try {
    const base = (await sampleTree.getChildren()).find((r) => r.name === "rm-baseline")!;
    assert.ok(base);
    const item = sampleTree.getTreeItem(base);
    assert.doesNotMatch(String(item.description), /\$/, "a free run shows no $0.00");
    assert.match((item.tooltip as { value: string }).value, /cost: \$0\.00/);
  } finally {
    sampleTree.dispose();
  }
  const totals = { items: 1, done: 1, failed: 0, cached: 0, inputTokens: 10, outputTokens: 1, cachedInputTokens: 0, cacheWriteTokens: 0, batchRequests: 0, batchDiscountUsd: 0, costUsd: 0 };
  assert.equal(costText({ totals, pricing: null }), "price unknown");
  assert.equal(costText({ totals }), undefined, "older runs recorded no price");
});

test("code lenses: run / estimate / run cell on the sample; in Restricted Mode the GGUF cell's lens says why and runs nothing", async () => {
  const { experimentLenses, cellLine } = await import("../../src/extension/experiment-lens.js");
  const { ALL_COMMANDS } = await import("../../src/extension/commands.js");
  const { loadExperiment } = await import("../../src/app/experiment.js");
  const exp = await loadExperiment(sampleFile);
  const text = readFileSync(sampleFile, "utf8");
  const tinyLine = text.split("\n").findIndex((l) => /^\s+rm-tiny:/.test(l));
  assert.ok(tinyLine > 0);
  assert.equal(cellLine(text, "rm-tiny"), tinyLine, "a cell with an override: its line under cells:");
  assert.equal(cellLine(text, "rm-baseline"), text.split("\n").findIndex((l) => l.startsWith("matrix:")), "else the matrix line");

  const trusted = experimentLenses(exp, text, true, "F");
  assert.deepEqual(
    trusted.map((l) => [l.command, l.args]),
    [
      ["preflab.openExperimentDashboard", ["F"]],
      ["preflab.experiment.run", ["F"]],
      ["preflab.experiment.estimate", ["F"]],
      ["preflab.experiment.run", ["F", "rm-baseline"]],
      ["preflab.experiment.run", ["F", "rm-tiny"]],
      ["preflab.experiment.run", ["F", "rs-baseline"]],
      ["preflab.experiment.run", ["F", "sft-baseline"]],
    ],
  );
  for (const l of trusted) assert.ok((ALL_COMMANDS as readonly string[]).includes(l.command), l.command);

  const restricted = experimentLenses(exp, text, false, "F");
  const runs = restricted.filter((l) => l.command === "preflab.experiment.run");
  assert.deepEqual(runs.map((l) => l.args), [["F", ["rm-baseline", "rs-baseline", "sft-baseline"]], ["F", "rm-baseline"], ["F", "rs-baseline"], ["F", "sft-baseline"]], "only baseline cells run");
  const tiny = restricted.find((l) => l.line === tinyLine)!;
  assert.equal(tiny.command, "workbench.trust.manage");
  assert.match(tiny.title, /rm-tiny: disabled in Restricted Mode/);
  assert.equal(restricted[0]!.command, "preflab.openExperimentDashboard", "the dashboard only reads: offered in Restricted Mode too");
  assert.match(restricted[1]!.title, /Restricted Mode/);
});

test("the Experiments tree lists experiment files → cells with status, headline and cost; a changed cell shows it; it refreshes after a run", async () => {
  const { ExperimentsTree } = await import("../../src/extension/experiments-tree.js");
  const { f, s } = await feature({ "cache.enabled": false }, true);
  // The cloud experiment again, with the cell's limit changed: the same out folder, so its run differs.
  const changedFile = path.join(root, "experiments", "changed.preflab.yaml");
  writeFileSync(changedFile, readFileSync(cloudFile, "utf8").replace("name: cloud", "name: changed").replace("limit: 1,", "limit: 2,"));
  stub.workspaceFiles = [sampleFile, cloudFile, changedFile];
  const tree = new ExperimentsTree(s, f);
  try {
    const files = await tree.getChildren();
    assert.deepEqual(files.map((n) => n.type === "experiment" && path.basename(n.experimentFile)), ["changed.preflab.yaml", "cloud.preflab.yaml", "sample.preflab.yaml"]);
    const cellsOf = async (file: string) => {
      const node = files.find((n) => n.experimentFile === file)!;
      const cells = await tree.getChildren(node);
      return Object.fromEntries(cells.map((c) => [c.type === "cell" ? c.cell : "", c])) as Record<string, import("../../src/extension/experiments-tree.js").CellNode>;
    };
    const sample = await cellsOf(sampleFile);
    assert.equal(sample["rm-baseline"]!.status, "finished");
    assert.match(sample["rm-baseline"]!.headline ?? "", /^accuracy \d+\.\d%$/);
    assert.equal(sample["rm-tiny"]!.status, "not started");
    assert.equal(sample["rm-tiny"]!.cost, undefined);
    const item = tree.getTreeItem(sample["rm-baseline"]!);
    assert.match(String(item.description), /^finished · accuracy \d+\.\d% · \$0\.00$/);
    assert.equal(item.contextValue, "preflabExperimentCell.finished");

    const cloud = await cellsOf(cloudFile);
    assert.equal(cloud["rm-served"]!.status, "finished");
    assert.match(cloud["rm-served"]!.cost ?? "", /^\$\d+\.\d\d$/);
    assert.equal((await cellsOf(changedFile))["rm-served"]!.status, "settings changed");

    // rs / export cells: what they made is their headline; the rs cell's scoring cost (free here).
    assert.equal(sample["rs-baseline"]!.status, "not started");
    await f.run(sampleFile, ["rs-baseline", "sft-baseline"]);
    const ft = await cellsOf(sampleFile);
    assert.equal(ft["rs-baseline"]!.status, "finished");
    assert.match(ft["rs-baseline"]!.headline ?? "", /^kept \d+ of 135 \(p=0\.6\)$/);
    assert.equal(ft["rs-baseline"]!.cost, "$0.00");
    assert.match(ft["sft-baseline"]!.headline ?? "", /^\d+ sft\/trl lines, \d+ not kept by rs$/);
    assert.equal(ft["sft-baseline"]!.cost, undefined, "an export sends nothing");
    assert.match(String(tree.getTreeItem(ft["sft-baseline"]!).description), /^finished · \d+ sft\/trl lines/);
    assert.equal(ft["sft-baseline"]!.detail, "export · baseline");

    // A cell running in this window shows as running.
    const { cellNodes } = await import("../../src/extension/experiments-tree.js");
    const { loadExperiment, experimentStatus } = await import("../../src/app/experiment.js");
    const exp = await loadExperiment(sampleFile);
    const st = await experimentStatus(exp);
    const running = await cellNodes(exp, st, new Set([st.find((x) => x.cell.name === "rm-tiny")!.dir]));
    assert.equal(running.find((c) => c.cell === "rm-tiny")!.status, "running");

    // The explorer menu passes the clicked URI and every selected URI: not a cell list. A cell
    // finished with the same settings is skipped and costs nothing more, so no confirmation (the
    // default $5 threshold is below this cell's price).
    stub.messages.length = 0;
    const fromMenu = await f.run(Uri.file(cloudFile) as never, [Uri.file(cloudFile)]);
    assert.deepEqual(fromMenu?.cells.map((c) => [c.cell.name, c.skipped]), [["rm-served", true]]);
    assert.equal(stub.shown.at(-1), path.join(root, ".preflab", "experiments", "cloud", "report.md"), "the report opens");
    assert.equal(stub.messages.length, 0, "no confirmation for finished cells");
    // A tree cell node runs just that cell.
    const fromNode = await f.run(sample["rm-baseline"]);
    assert.deepEqual(fromNode?.cells.map((c) => [c.cell.name, c.skipped]), [["rm-baseline", true]]);

    // A run (here: the finished baseline cell, skipped) refreshes the tree.
    const refreshed = new Promise<void>((resolve) => tree.onDidChangeTreeData(() => resolve()));
    await f.run(sampleFile, "rm-baseline");
    await refreshed;
  } finally {
    tree.dispose();
    stub.workspaceFiles = [];
  }
});

test("the code-lens provider reads the file from disk: lenses with their commands, or one lens naming the file's error", async () => {
  const { ExperimentLensProvider } = await import("../../src/extension/experiment-lens.js");
  const { f, s } = await feature({}, false);
  const provider = new ExperimentLensProvider({ ...s, log: { ...(s.log as object), redact: (t: string) => t } } as unknown as Services, f);
  const doc = (file: string) => ({ uri: { scheme: "file", fsPath: file }, getText: () => readFileSync(file, "utf8") }) as never;
  try {
    const lenses = await provider.provideCodeLenses(doc(sampleFile));
    const tiny = lenses.find((l) => /rm-tiny/.test(l.command?.title ?? ""))!;
    assert.equal(tiny.command?.command, "workbench.trust.manage", "Restricted Mode: the GGUF cell's lens does not run it");
    assert.ok(lenses.some((l) => l.command?.command === "preflab.experiment.run" && l.command.arguments?.[1] === "rm-baseline"));
    const bad = path.join(root, "experiments", "bad.preflab.yaml");
    writeFileSync(bad, readFileSync(sampleFile, "utf8").replace("models: [baseline, tiny]", "models: [baseline, nosuch]"));
    const err = await provider.provideCodeLenses(doc(bad));
    assert.equal(err.length, 1);
    assert.match(err[0]!.command!.title, /bad\.preflab\.yaml:\d+: matrix\.0\.models\.1: no model "nosuch"/);
    assert.equal(err[0]!.command!.command, "");
  } finally {
    provider.dispose();
  }
});

test("Cancel on the progress notification stops the experiment resumable; running it again completes it", async () => {
  const file = path.join(root, "experiments", "cancel.preflab.yaml");
  writeFileSync(file, readFileSync(cloudFile, "utf8").replace("name: cloud", "name: cancel").replace("experiments/cloud", "experiments/cancel").replace("limit: 1,", "limit: 2,"));
  const { f, s } = await feature({ "cache.enabled": false, "cost.confirmAboveUsd": 1e9 }, true);
  stub.cancelProgress = true;
  let r;
  try {
    r = await f.run(file);
  } finally {
    stub.cancelProgress = false;
  }
  assert.equal(r?.cancelled, true);
  const dir = path.join(root, ".preflab", "experiments", "cancel", "rm-served");
  const rj = await readRunJson(dir);
  assert.equal(rj?.status, "cancelled");
  assert.ok(rj.totals.done < rj.totals.items, "stopped before the end");
  assert.equal((s as unknown as { active: { all: unknown[] } }).active.all.length, 0, "nothing left in the active runs");
  const again = await f.run(file);
  assert.equal(again?.cancelled, false);
  assert.equal((await readRunJson(dir))?.status, "finished");
});
