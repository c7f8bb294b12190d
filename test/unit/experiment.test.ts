/**
 * Experiment files: the shipped sample experiment runs offline end to end (baseline + a local GGUF
 * written by scripts/make-gguf.ts) through `preflab run`, a second run skips finished cells, a
 * changed cell is refused, `--estimate` sends nothing; validation errors name file, line and
 * field; the matrix expands with overrides; the paper experiment validates and estimates; the
 * JSON Schema contributed to the YAML extension is current.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import * as path from "node:path";
import { main } from "../../src/cli/main.js";
import { loadExperiment, estimateExperiment, ExperimentError } from "../../src/app/experiment.js";
import { readRunJson } from "../../src/core/eval/runner.js";
import { schemaText, SCHEMA_FILE } from "../../scripts/experiment-schema.js";
import { tempDir } from "../helpers/tmp.js";

const repo = path.resolve(__dirname, "../..");
const root = tempDir();
const expFile = path.join(root, "experiments", "sample.preflab.yaml");

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (s) => void out.push(s), err: (s) => void err.push(s) });
  return { code, out: out.join(""), err: err.join("") };
}

before(async () => {
  // The shipped file, unchanged, in a copy of the layout it expects (paths relative to the file).
  mkdirSync(path.join(root, "experiments"), { recursive: true });
  cpSync(path.join(repo, "experiments", "sample.preflab.yaml"), expFile);
  symlinkSync(path.join(repo, "samples"), path.join(root, "samples"));
  const { writeTinyGguf } = await import("../../scripts/make-gguf.js");
  mkdirSync(path.join(root, ".preflab", "models"), { recursive: true });
  await writeTinyGguf(path.join(root, ".preflab", "models", "sample-tiny.gguf"), { contextLength: 8192 });
});

test("sample experiment: preflab run runs both cells offline, reports them side by side with a paired test; a rerun skips them", async () => {
  const est = await cli(["run", expFile, "--estimate", "--no-cache"]);
  assert.equal(est.code, 0, est.err);
  assert.match(est.out, /rm-baseline\s+baseline\/tfidf-style|rm-baseline\s+baseline\//);
  assert.match(est.out, /rm-tiny\s+llamacpp\/sample-tiny\.gguf/);
  assert.match(est.out, /total/);
  const out = path.join(root, ".preflab", "experiments", "sample");
  assert.equal(existsSync(path.join(out, "rm-baseline", "run.json")), false, "the estimate ran nothing");

  const r = await cli(["run", expFile, "--no-cache"]);
  assert.equal(r.code, 0, r.err);
  for (const cell of ["rm-baseline", "rm-tiny"]) {
    const rj = (await readRunJson(path.join(out, cell)))!;
    assert.equal(rj.status, "finished", cell);
    assert.equal(rj.totals.failed, 0);
    assert.ok(rj.totals.items > 0);
    assert.ok(existsSync(path.join(out, cell, "cell.json")));
  }
  assert.equal((await readRunJson(path.join(out, "rm-tiny")))!.provider, "llamacpp");
  assert.match(r.out, /rm-baseline vs rm-tiny: accuracy [\d.]+ vs [\d.]+, n \d+, McNemar exact p = [\d.]+/);
  // The rejection sampling and the SFT file of what it kept (details: experiment-finetune.test.ts).
  const rs = JSON.parse(readFileSync(path.join(out, "rs-baseline", "rs.json"), "utf8")) as { counts: { kept: number; examples: number } };
  assert.ok(rs.counts.kept > 0 && rs.counts.kept < rs.counts.examples);
  assert.ok(existsSync(path.join(out, "sft-baseline", "train.jsonl")));
  assert.match(r.out, new RegExp(`rs-baseline \\(rs, baseline\\): finished; kept ${rs.counts.kept} of ${rs.counts.examples}`));

  const again = await cli(["run", expFile, "--no-cache"]);
  assert.equal(again.code, 0, again.err);
  assert.match(again.err, /rm-baseline: skipped \(finished with the same settings\)/);
  assert.match(again.err, /rm-tiny: skipped/);
  assert.match(again.err, /rs-baseline: skipped/);
  assert.match(again.err, /sft-baseline: skipped/);

  // A changed cell is refused, naming it; nothing is mixed into its folder.
  const changed = path.join(root, "experiments", "changed.preflab.yaml");
  writeFileSync(changed, readFileSync(expFile, "utf8").replace("limit: 2", "limit: 1"));
  const c = await cli(["run", changed, "--no-cache", "--only", "rm-baseline"]);
  assert.equal(c.code, 2);
  assert.match(c.err, /cell rm-baseline changed since it ran/);
});

test("validation: errors name the file, the line and the field", async () => {
  const bad = path.join(root, "bad.preflab.yaml");
  writeFileSync(bad, ["name: bad", "dataset: { dir: ds }", "models:", "  m: { provider: openai, model: gpt-4o, temperature: 7 }", "evaluations:", "  rm: { kind: rm }", "matrix:", "  - { models: [m], evaluations: [rm] }", ""].join("\n"));
  await assert.rejects(loadExperiment(bad), (e: Error) => e instanceof ExperimentError && e.message.startsWith(`${bad}:4: models.m.temperature:`));
  writeFileSync(bad, ["name: bad", "dataset: { dir: ds }", "models:", "  m: { provider: baseline }", "evaluations:", "  rm: { kind: rm }", "matrix:", "  - { models: [m, other], evaluations: [rm] }", ""].join("\n"));
  await assert.rejects(loadExperiment(bad), /bad\.preflab\.yaml:8: matrix\.0\.models\.1: no model "other"/);
  writeFileSync(bad, "name: [unclosed\n");
  await assert.rejects(loadExperiment(bad), /bad\.preflab\.yaml:\d+: not valid YAML/);
});

test("matrix: axes make one cell per combination, named by what varies; overrides by cell name; judge cells follow their generation", async () => {
  const f = path.join(root, "m.preflab.yaml");
  writeFileSync(
    f,
    [
      "name: m",
      "dataset: { dir: ds }",
      "models:",
      "  a: { provider: openai, model: gpt-4o }",
      "  b: { provider: anthropic, model: claude-sonnet-4-5, batch: true }",
      "evaluations:",
      "  rm: { kind: rm, limit: 5 }",
      "  gen: { kind: generate }",
      "  judge: { kind: judge, of: gen, judge: a }",
      "matrix:",
      "  - { models: [a, b], evaluations: [judge, rm, gen], options: { oracle: [false, true] } }",
      "cells:",
      "  rm-a-oracle=true: { limit: 9 }",
      "",
    ].join("\n"),
  );
  const exp = await loadExperiment(f);
  const names = exp.cells.map((c) => c.name);
  assert.equal(names.length, 12);
  assert.ok(names.indexOf("judge-b-oracle=false") > names.indexOf("gen-b-oracle=false"), "judges run after generations");
  const rmA = exp.cells.find((c) => c.name === "rm-a-oracle=true")!;
  assert.deepEqual(rmA.options, { limit: 9, oracle: true });
  assert.equal(exp.cells.find((c) => c.name === "rm-b-oracle=false")!.batch, true, "a model's batch: true applies to its cells");
  const j = exp.cells.find((c) => c.name === "judge-a-oracle=true")!;
  assert.equal(j.source, "gen-a-oracle=true");
  assert.equal(j.judgeModel, "a");
  writeFileSync(f, readFileSync(f, "utf8").replace("rm-a-oracle=true:", "rm-z:"));
  await assert.rejects(loadExperiment(f), /cells\.rm-z: no cell "rm-z"/);
});

test("paper experiment: validates, and its estimate prices every cell it can plan with the dated defaults", async () => {
  const exp = await loadExperiment(path.join(repo, "experiments", "paper.preflab.yaml"));
  assert.ok(exp.cells.some((c) => c.kind === "rm") && exp.cells.some((c) => c.kind === "generate") && exp.cells.some((c) => c.kind === "judge"));
  // Against the bundled sample instead of the full data (same file, dataset swapped).
  const f = path.join(root, "paper-sample.preflab.yaml");
  writeFileSync(f, readFileSync(path.join(repo, "experiments", "paper.preflab.yaml"), "utf8").replace(/^dataset:[\s\S]*?\n(?=\S)/m, `dataset:\n  build: { train: ${path.join(repo, "samples/train.jsonl")}, test: ${path.join(repo, "samples/test.jsonl")} }\nout: ${path.join(root, "paper-sample")}\n`));
  const small = await loadExperiment(f);
  const rmCells = small.cells.filter((c) => c.kind === "rm" && small.spec.models[c.model]!.provider !== "llamacpp" && small.spec.models[c.model]!.provider !== "openai-compatible").map((c) => c.name);
  const { estimates } = await estimateExperiment(small, { getKey: () => undefined }, rmCells);
  assert.equal(estimates.length, rmCells.length);
  for (const e of estimates) assert.ok(e.dollars && e.dollars.naive > 0, `${e.label} is priced`);
});

test("the JSON Schema for *.preflab.yaml is current and contributed to the YAML extension", () => {
  assert.equal(readFileSync(path.join(repo, SCHEMA_FILE), "utf8"), schemaText(), "run: npx tsx scripts/experiment-schema.ts");
  const pkg = JSON.parse(readFileSync(path.join(repo, "package.json"), "utf8")) as { contributes: { yamlValidation?: { fileMatch: string; url: string }[] } };
  assert.deepEqual(pkg.contributes.yamlValidation, [{ fileMatch: "*.preflab.yaml", url: "./schemas/preflab-experiment.schema.json" }]);
});
