/**
 * Paths from workspace data cannot leave their folder (issue 12): hostile ids and names ("..",
 * absolute, NUL, Windows device names) are refused by the one helper (src/core/util/safe-path.ts)
 * where they would become a folder (experiment cells, results folder), a job file or the
 * preflab-pair: virtual document of a user; and in Restricted Mode the extension refuses to open a
 * dataset folder that is (or sits under) a symlink out of the workspace, while a trusted workspace
 * opens it. Extension code runs in plain Node with the stand-in `vscode` module.
 */
import assert from "node:assert/strict";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { cellDir, loadExperiment } from "../../src/app/experiment.js";
import { buildDataset } from "../../src/core/data/builder.js";
import { childPath, UnsafePathError } from "../../src/core/util/safe-path.js";
import type { Services } from "../../src/extension/services.js";
import { useExtensionStubs } from "../helpers/extension-stubs.js";
import { tempDir } from "../helpers/tmp.js";

// `vscode` -> the stand-in; the core bundle -> its exports from source.
const restoreResolver = useExtensionStubs();

const HOSTILE = ["..", ".", "../escape", "/etc/passwd", "C:\\Windows", "a\0b", "CON", "nul.txt", "com1", "x/../../y", "", "trailing."];
const dir = tempDir("preflab-safe-paths-");
const workspace = path.join(dir, "workspace");
const outside = path.join(dir, "outside");

before(async () => {
  mkdirSync(workspace, { recursive: true });
  await buildDataset({ train: "samples/train.jsonl", test: "samples/test.jsonl", out: path.join(outside, "ds") });
  await buildDataset({ train: "samples/train.jsonl", test: "samples/test.jsonl", out: path.join(workspace, "inside") });
  symlinkSync(path.join(outside, "ds"), path.join(workspace, "linked"), "dir");
  symlinkSync(outside, path.join(workspace, "linked-parent"), "dir");
});
after(() => {
  restoreResolver();
});

test("childPath refuses every hostile name and keeps a plain one inside its folder", () => {
  for (const name of HOSTILE) assert.throws(() => childPath(workspace, name, "user id"), UnsafePathError, JSON.stringify(name));
  assert.equal(childPath(workspace, "user-12.json"), path.join(workspace, "user-12.json"));
});

test("experiments: a cell name or results folder name that is not one plain segment is refused at load, naming file and line", async () => {
  const file = path.join(workspace, "hostile.preflab.yaml");
  const yaml = (name: string, model: string) =>
    [`name: ${JSON.stringify(name)}`, "dataset: { dir: ds }", "models:", `  ${JSON.stringify(model)}: { provider: baseline }`, "evaluations:", "  rm: { kind: rm }", "matrix:", `  - { models: [${JSON.stringify(model)}], evaluations: [rm] }`, ""].join("\n");
  writeFileSync(file, yaml("ok", "../../../tmp/x"));
  // Model (and evaluation) names are record keys the schema already limits, so a cell name built from them stays one segment.
  await assert.rejects(loadExperiment(file), /hostile\.preflab\.yaml:4: models\.\.\.\/\.\.\/\.\.\/tmp\/x: Invalid key/);
  // Names the schema allows can still make a bad folder: a Windows device name, a trailing dot.
  writeFileSync(file, yaml("CON", "m"));
  await assert.rejects(loadExperiment(file), /hostile\.preflab\.yaml:1: name: "CON" is a reserved device name on Windows; without out: it names the results folder/);
  writeFileSync(file, yaml("ok", "m."));
  await assert.rejects(loadExperiment(file), /hostile\.preflab\.yaml:8: matrix\.0: cell name "rm-m\." ends with a dot or a space/);
  writeFileSync(file, yaml("fine", "m"));
  const exp = await loadExperiment(file);
  assert.equal(cellDir(exp, "rm-m"), path.join(workspace, "fine", "rm-m"));
  for (const name of HOSTILE) assert.throws(() => cellDir(exp, name), UnsafePathError);
});

test("preflab-pair: documents: a hostile user id makes no URI, and a crafted URI naming one is not read", async () => {
  const { pairUri, parsePairUri } = await import("../../src/extension/users-tree.js");
  for (const id of HOSTILE) assert.throws(() => pairUri(workspace, id, 0), UnsafePathError, JSON.stringify(id));
  const ok = pairUri(workspace, "u-1", 2) as unknown as { path: string; query: string };
  assert.deepEqual(parsePairUri(ok as never), { datasetDir: workspace, userId: "u-1", index: 2 });
  for (const id of ["..", "CON", "a\0b", "aux.md", "x:y"]) {
    assert.equal(parsePairUri({ path: `/${id}/pair-1.md`, query: workspace } as never), undefined, JSON.stringify(id));
  }
});

/** Fake services around the real Services.checkFolder, trusted or not, with `workspace` as the folder. */
async function services(trusted: boolean) {
  const { Services } = await import("../../src/extension/services.js");
  const opened: string[] = [];
  const s = {
    trusted,
    baseDir: () => workspace,
    // The real method, on these fake services.
    checkFolder(dir: string, what: string) {
      return Services.prototype.checkFolder.call(this as unknown as Services, dir, what);
    },
    dataset: { set: async (d: string) => void opened.push(d) },
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
  } as unknown as Services;
  return { s, opened };
}

test("Restricted Mode: opening a dataset folder that is, or sits under, a symlink out of the workspace is refused; trusted opens it", async () => {
  const { DatasetFeature } = await import("../../src/extension/dataset-feature.js");
  const untrusted = await services(false);
  const f = new DatasetFeature(untrusted.s);
  await assert.rejects(f.open(path.join(workspace, "linked")), (e: Error) => e instanceof UnsafePathError && /leads out of the workspace/.test(e.message) && e.message.includes(path.join(workspace, "linked")));
  await assert.rejects(f.open(path.join(workspace, "linked-parent", "ds")), UnsafePathError);
  assert.deepEqual(untrusted.opened, [], "nothing opened");
  // A real folder inside the workspace still opens in Restricted Mode.
  assert.equal(await f.open(path.join(workspace, "inside")), path.join(workspace, "inside"));
  const trusted = await services(true);
  assert.equal(await new DatasetFeature(trusted.s).open(path.join(workspace, "linked")), path.join(workspace, "linked"));
  assert.deepEqual(trusted.opened, [path.join(workspace, "linked")]);
});

test("preflab-pair: a crafted URI whose dataset folder is a symlink out of an untrusted workspace is not read", async () => {
  const { UsersTree } = await import("../../src/extension/users-tree.js");
  const { s } = await services(false);
  const tree = new UsersTree(Object.assign(s, { dataset: { ...s.dataset, dir: undefined, onDidChange: () => ({ dispose: () => undefined }) } }));
  await assert.rejects(tree.provideTextDocumentContent({ path: "/u-1/pair-1.md", query: path.join(workspace, "linked") } as never), UnsafePathError);
});
