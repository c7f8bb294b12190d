/**
 * rs and export cells of an experiment file, on the bundled sample with the offline baseline as
 * the reward model: each runs the same core as `preflab rs` / `preflab export` (the files equal the
 * CLI's for the same options), into OUT/CELL; a finished cell is skipped; a cancelled rs cell
 * resumes (what it scored is not scored again); a changed cell is refused; the export of an rs
 * cell's kept examples waits for it; the report and the status show counts, acceptance and files;
 * bad export settings are refused at load naming file, line and field.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, existsSync, rmSync } from "node:fs";
import * as path from "node:path";
import { main } from "../../src/cli/main.js";
import { loadExperiment, runExperiment, experimentStatus, experimentReport, estimateExperiment, ExperimentError, type ExperimentHost } from "../../src/app/experiment.js";
import { ALLOW_ALL } from "../../src/app/gate.js";
import { sampleRsRequests, type RsReport } from "../../src/core/finetune/rs.js";
import { scaleEstimate } from "../../src/core/cost/estimate.js";
import type { ExportReport } from "../../src/core/finetune/export.js";
import { tempDir } from "../helpers/tmp.js";

const repo = path.resolve(__dirname, "../..");
const root = tempDir("preflab-exp-ft-");
const file = path.join(root, "ft.preflab.yaml");
const out = path.join(root, "out");

const SPEC = [
  "name: ft",
  "dataset:",
  `  build: { train: ${JSON.stringify(path.join(repo, "samples/train.jsonl"))}, test: ${JSON.stringify(path.join(repo, "samples/test.jsonl"))} }`,
  "out: out",
  "models:",
  "  baseline: { provider: baseline }",
  "evaluations:",
  "  rs: { kind: rs, keep: 0.5, historySize: 3, maxInputTokens: 2500 }",
  "  sft: { kind: export, format: sft, target: trl, keepFrom: rs, historySize: 3, maxInputTokens: 2500 }",
  "  dpo: { kind: export, format: dpo, target: openai, historySize: 3, maxInputTokens: 2500 }",
  "matrix:",
  "  - { models: [baseline], evaluations: [sft, rs, dpo] }",
  "",
].join("\n");

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const o: string[] = [];
  const e: string[] = [];
  const code = await main(args, { out: (s) => void o.push(s), err: (s) => void e.push(s) });
  return { code, out: o.join(""), err: e.join("") };
}

function host(over: Partial<ExperimentHost> = {}, events: string[] = []): ExperimentHost {
  return { getKey: () => undefined, runner: { concurrency: 2 }, hooksFor: () => ({ gate: ALLOW_ALL }), onCell: (c, ev) => void events.push(`${c.name}:${ev}`), ...over };
}

const json = <T>(f: string) => JSON.parse(readFileSync(f, "utf8")) as T;

test("rs and export cells: the CLI's outputs in OUT/CELL, cancelled rs resumes, finished cells skipped, shown in status and report", async () => {
  writeFileSync(file, SPEC);
  const exp = await loadExperiment(file);
  assert.deepEqual(
    exp.cells.map((c) => [c.name, c.kind, c.source ?? null]),
    [
      ["rs-baseline", "rs", null],
      ["sft-baseline", "export", "rs-baseline"],
      ["dpo-baseline", "export", null],
    ],
    "the export of rs's kept examples runs after it",
  );
  // Export sends nothing (said, not guessed); rs is estimated from its first examples rendered as
  // the run renders them (here all 135 fit in the sample, so the figure is exact).
  const est = await estimateExperiment(exp, { getKey: () => undefined });
  assert.deepEqual(est.pending.map((p) => p.cell).sort(), ["dpo-baseline", "sft-baseline"]);
  assert.deepEqual(est.estimates.map((e) => [e.label, e.requests]), [["rs-baseline", 270]], "2 verdicts (both orders) per train example");
  // From a sample of 20 examples, scaled to the 135: the same request count, marked as not exact.
  const sample = await sampleRsRequests(path.join(out, "dataset"), { keep: 0.5, historySize: 3, maxInputTokens: 2500 }, "probability", 20);
  assert.deepEqual([sample.sampledExamples, sample.examples, sample.requests.length], [20, 135, 40]);
  const scaled = scaleEstimate(est.estimates[0]!, sample.examples / sample.sampledExamples, "from 20 of 135 examples");
  assert.equal(scaled.label, "rs-baseline (from 20 of 135 examples)");
  assert.equal(scaled.tokenizer.exact, false);

  // The export of rs's selection refuses to run before rs has finished.
  await assert.rejects(runExperiment(exp, host(), ["sft-baseline"]), (e: Error) => e instanceof ExperimentError && /sft-baseline exports what rs-baseline kept, which has not finished/.test(e.message));
  assert.equal(existsSync(path.join(out, "sft-baseline")), false, "nothing written");

  // rs cancelled part-way (the signal a host's Cancel gives): the cell is cancelled, nothing after it runs.
  const ac = new AbortController();
  const events: string[] = [];
  const first = await runExperiment(
    exp,
    host({ hooksFor: () => ({ gate: ALLOW_ALL, signal: ac.signal, onProgress: (p) => (p.done >= 60 ? ac.abort() : undefined) }) }, events),
  );
  assert.equal(first.cancelled, true);
  assert.deepEqual(events, ["rs-baseline:start", "rs-baseline:done"]);
  assert.equal(existsSync(path.join(out, "rs-baseline", "rs.json")), false, "no report for an unfinished rs");
  let st = await experimentStatus(exp);
  assert.equal(st[0]!.status, "cancelled");
  assert.equal(st[1]!.status, "not started");
  const scoredBefore = st[0]!.usage!.requests;
  assert.ok(scoredBefore > 0);

  // Rerun: rs resumes (what was scored is not sent again), then both exports run.
  const second = await runExperiment(exp, host());
  assert.equal(second.cancelled, false);
  const rsOut = second.cells.find((c) => c.cell.name === "rs-baseline")!.finetune!;
  assert.ok(rsOut.kind === "rs");
  assert.ok(rsOut.summary.skipped >= 60, `resumed: ${rsOut.summary.skipped} items already scored were skipped`);
  assert.equal(rsOut.summary.skipped + rsOut.summary.finishedThisSession, rsOut.summary.totals.items);
  assert.equal(rsOut.summary.totals.items, est.estimates[0]!.requests, "the estimate counted what the run sent");
  const rs = json<RsReport>(path.join(out, "rs-baseline", "rs.json"));
  assert.equal(rs.counts.examples, 135);
  assert.equal(rs.counts.scored, 135);
  assert.equal(rs.keep, 0.5);
  assert.equal(rs.provider.id, "baseline");
  const sft = json<ExportReport>(path.join(out, "sft-baseline", "export.json"));
  assert.equal(sft.format, "sft");
  assert.equal(sft.rejectionSampling?.dir, path.join(out, "rs-baseline"));
  assert.equal(sft.counts.written + sft.counts.filteredOut + sft.counts.overBudget, sft.counts.examples);
  assert.equal(sft.counts.written, rs.byPart.a!.kept, "the SFT file holds what rs kept of part a");
  const dpo = json<ExportReport>(path.join(out, "dpo-baseline", "export.json"));
  assert.equal(dpo.target, "openai");
  assert.equal(dpo.rejectionSampling, null);
  assert.equal(readFileSync(path.join(out, "dpo-baseline", "train.jsonl"), "utf8").trim().split("\n").length, dpo.counts.written);
  for (const c of ["rs-baseline", "sft-baseline", "dpo-baseline"]) assert.ok(existsSync(path.join(out, c, "cell.json")), `${c} records its settings`);

  // The same files as the CLI commands with the same options.
  const ds = path.join(out, "dataset");
  const cliRs = path.join(root, "cli-rs");
  const r1 = await cli(["rs", ds, "--rm-provider", "baseline", "--rm-no-cache", "--keep", "0.5", "--history-size", "3", "--max-input-tokens", "2500", "--out", cliRs]);
  assert.equal(r1.code, 0, r1.err);
  assert.equal(readFileSync(path.join(cliRs, "scores.jsonl"), "utf8"), readFileSync(path.join(out, "rs-baseline", "scores.jsonl"), "utf8"));
  const cliSft = path.join(root, "cli-sft");
  const r2 = await cli(["export", ds, "--format", "sft", "--target", "trl", "--history-size", "3", "--max-input-tokens", "2500", "--keep-from", cliRs, "--out", cliSft]);
  assert.equal(r2.code, 0, r2.err);
  assert.equal(readFileSync(path.join(cliSft, "train.jsonl"), "utf8"), readFileSync(path.join(out, "sft-baseline", "train.jsonl"), "utf8"));

  // Status and report: counts, acceptance, files.
  st = await experimentStatus(exp);
  assert.deepEqual(st.map((s) => s.status), ["finished", "finished", "finished"]);
  assert.equal(st[0]!.finetune!.headline, `kept ${rs.counts.kept} of 135 (p=0.5)`);
  assert.deepEqual(st[0]!.finetune!.rs!.byPart.map((p) => [p.part, p.kept, p.examples]), [["a", rs.byPart.a!.kept, rs.byPart.a!.examples], ["b", rs.byPart.b!.kept, rs.byPart.b!.examples]]);
  assert.equal(st[0]!.usage!.requests, 270, "both orders of every example");
  assert.equal(st[1]!.finetune!.headline, `${sft.counts.written} sft/trl lines, ${sft.counts.filteredOut} not kept by rs`);
  assert.deepEqual(st[1]!.finetune!.files, ["train.jsonl", "examples.jsonl", "export.json"]);
  const text = await experimentReport(exp, "text");
  assert.match(text, /Fine-tuning data \(rs, export\):/);
  assert.match(text, new RegExp(`rs-baseline \\(rs, baseline\\): finished; kept ${rs.counts.kept} of 135`));
  assert.match(text, new RegExp(`part a: ${rs.byPart.a!.kept} kept / ${rs.byPart.a!.dropped} dropped of ${rs.byPart.a!.examples} \\(acceptance [\\d.]+%\\)`));
  assert.match(text, new RegExp(`sft/trl: ${sft.counts.written} lines written of ${sft.counts.examples} examples \\(${sft.counts.filteredOut} not kept by rs-baseline`));
  assert.ok(text.includes(path.join(out, "dpo-baseline", "train.jsonl")), "output files listed");
  const j = JSON.parse(await experimentReport(exp, "json")) as { cells: { name: string; finetune?: { counts: Record<string, number> } }[] };
  assert.equal(j.cells.find((c) => c.name === "sft-baseline")!.finetune!.counts.written, sft.counts.written);

  // A rerun skips all three; the files are untouched.
  const mtime = readFileSync(path.join(out, "sft-baseline", "train.jsonl"), "utf8");
  const ev2: string[] = [];
  const third = await runExperiment(exp, host({}, ev2));
  assert.deepEqual(ev2, ["rs-baseline:skipped", "sft-baseline:skipped", "dpo-baseline:skipped"]);
  assert.ok(third.cells.every((c) => c.skipped));
  assert.equal(readFileSync(path.join(out, "sft-baseline", "train.jsonl"), "utf8"), mtime);

  // An export whose output was removed is made again; a changed cell is refused, naming it.
  rmSync(path.join(out, "dpo-baseline", "export.json"));
  const ev3: string[] = [];
  await runExperiment(exp, host({}, ev3), ["dpo-baseline"]);
  assert.deepEqual(ev3, ["dpo-baseline:start", "dpo-baseline:done"]);
  assert.ok(existsSync(path.join(out, "dpo-baseline", "export.json")));
  writeFileSync(file, SPEC.replace("format: dpo, target: openai", "format: dpo, target: trl"));
  await assert.rejects(runExperiment(await loadExperiment(file), host(), ["dpo-baseline"]), /cell dpo-baseline changed since it ran/);

  // The CLI's `preflab run` over the same file prints the section too.
  writeFileSync(file, SPEC);
  const run = await cli(["run", file, "--no-cache"]);
  assert.equal(run.code, 0, run.err);
  assert.match(run.err, /rs-baseline: skipped/);
  assert.match(run.out, /Fine-tuning data/);
});

test("export settings are checked at load: rm needs target trl, keepFrom names an rs evaluation", async () => {
  const bad = path.join(root, "bad.preflab.yaml");
  writeFileSync(bad, SPEC.replace("format: dpo, target: openai", "format: rm, target: openai"));
  await assert.rejects(loadExperiment(bad), (e: Error) => e instanceof ExperimentError && e.message.startsWith(`${bad}:10: evaluations.dpo:`) && /reward-model method/.test(e.message));
  writeFileSync(bad, SPEC.replace("keepFrom: rs", "keepFrom: dpo"));
  await assert.rejects(loadExperiment(bad), (e: Error) => e.message.startsWith(`${bad}:9: evaluations.sft.keepFrom: "dpo" is not an rs evaluation`));
  writeFileSync(bad, SPEC.replace("format: sft, ", ""));
  await assert.rejects(loadExperiment(bad), (e: Error) => e.message.startsWith(`${bad}:9: evaluations.sft.format:`));
});
