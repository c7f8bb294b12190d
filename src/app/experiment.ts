/**
 * Experiment files (`*.preflab.yaml`, schema in src/core/experiment/schema.ts): load and validate,
 * expand the matrix into cells, estimate, run every cell as an ordinary run folder under the
 * experiment's folder through the run session (session.ts), and report over all cells.
 *
 * - A cell's folder is OUT/CELL. Its `cell.json` records the cell's settings (model without key,
 *   evaluation options); a finished cell with the same settings is skipped, an unfinished one is
 *   resumed (the session resumes run folders), and one whose settings changed is refused with a
 *   message naming the cell (rename it or delete its folder): two experiments never mix.
 * - A judge cell judges the generate cell of the same model and options (`of`), with its own
 *   judge model; it runs after it.
 * - Base URLs read from the file go through the key-destination policy (origins.ts) as
 *   workspace-file URLs before anything is sent; GGUF paths and template files are relative to
 *   the file.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { experimentSchema, evalOptionsSchema, type EvalOptions, type Experiment } from "../core/experiment/schema.js";
import { buildDataset } from "../core/data/build.js";
import { planRm, type RmOptions } from "../core/eval/rm.js";
import { planGeneration, type GenerateOptions } from "../core/eval/generation.js";
import { planJudge, type JudgeOptions } from "../core/eval/judge.js";
import { readRunJson, type RunStatus } from "../core/eval/runner.js";
import { writeJsonAtomic } from "../core/eval/runlog.js";
import { stableStringify } from "../core/eval/cache.js";
import type { CostEstimate } from "../core/cost/estimate.js";
import { resolvePrice } from "../core/cost/prices.js";
import { tokenizerFor } from "../core/templates/tokens.js";
import { buildReport, formatReport } from "../core/metrics/report.js";
import { compareRuns, type JudgeComparison, type RmComparison } from "../core/metrics/compare.js";
import type { ProviderId } from "../core/providers/registry.js";
import { resolveProviderConfig, type ProviderRequest, type ResolvedProvider } from "./provider.js";
import { runEvaluation, runnerSettings, type EvalOutcome, type EvalRequest, type RunnerSettings, type SessionHooks } from "./session.js";
import { keyNameFor, type KeyDestinationPolicy } from "./origins.js";
import { estimateItems } from "./estimate.js";
import { childPath, segmentProblem } from "../core/util/safe-path.js";

export const CELL_FILE = "cell.json";

export class ExperimentError extends Error {
  override name = "ExperimentError";
}

export interface Cell {
  name: string;
  /** The model the cell evaluates (for a judge cell: the generation model). */
  model: string;
  evaluation: string;
  kind: "rm" | "generate" | "judge";
  options: EvalOptions;
  batch: boolean;
  /** Judge cells: the judge model and the generate cell judged. */
  judgeModel?: string;
  source?: string;
}

export interface LoadedExperiment {
  file: string;
  dir: string;
  out: string;
  spec: Experiment;
  cells: Cell[];
}

/** Line (1-based) of a YAML path in the document, for messages. */
function lineOf(doc: ReturnType<typeof parseDocument>, counter: LineCounter, p: readonly PropertyKey[]): number | undefined {
  for (let n = p.length; n >= 0; n--) {
    const node = doc.getIn(p.slice(0, n) as (string | number)[], true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === "object" && node.range) return counter.linePos(node.range[0]).line;
  }
  return undefined;
}

const fmtPath = (p: readonly PropertyKey[]) => p.map(String).join(".") || "(top level)";

/** Reads and validates an experiment file; errors name the file, the line and the field. */
export async function loadExperiment(file: string): Promise<LoadedExperiment> {
  const abs = path.resolve(file);
  const text = await readFile(abs, "utf8");
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    throw new ExperimentError(`${abs}:${counter.linePos(e.pos[0]).line}: not valid YAML: ${e.message.split("\n")[0]}`);
  }
  const parsed = experimentSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const line = lineOf(doc, counter, issue.path);
    throw new ExperimentError(`${abs}${line ? `:${line}` : ""}: ${fmtPath(issue.path)}: ${issue.message}`);
  }
  const spec = parsed.data;
  const fail = (p: (string | number)[], msg: string): never => {
    const line = lineOf(doc, counter, p);
    throw new ExperimentError(`${abs}${line ? `:${line}` : ""}: ${fmtPath(p)}: ${msg}`);
  };
  const dir = path.dirname(abs);
  const cells = expandCells(spec, fail);
  if (spec.out === undefined && segmentProblem(spec.name)) fail(["name"], `"${spec.name}" ${segmentProblem(spec.name)}; without out: it names the results folder, so it must be one plain file name`);
  return { file: abs, dir, out: path.resolve(dir, spec.out ?? spec.name), spec, cells };
}

function expandCells(spec: Experiment, fail: (p: (string | number)[], msg: string) => never): Cell[] {
  const cells = new Map<string, Cell>();
  spec.matrix.forEach((m, mi) => {
    m.models.forEach((model, i) => {
      if (!spec.models[model]) fail(["matrix", mi, "models", i], `no model "${model}" under models (${Object.keys(spec.models).join(", ")})`);
    });
    m.evaluations.forEach((ev, i) => {
      if (!spec.evaluations[ev]) fail(["matrix", mi, "evaluations", i], `no evaluation "${ev}" under evaluations (${Object.keys(spec.evaluations).join(", ")})`);
    });
    const axes = Object.entries(m.options ?? {});
    let combos: Record<string, unknown>[] = [{}];
    for (const [k, values] of axes) combos = combos.flatMap((c) => values.map((v) => ({ ...c, [k]: v })));
    for (const evName of m.evaluations) {
      const ev = spec.evaluations[evName]!;
      for (const model of m.models) {
        for (const combo of combos) {
          const suffix = axes.filter(([, vs]) => vs.length > 1).map(([k]) => `-${k}=${String(combo[k])}`).join("");
          const name = `${evName}-${model}${suffix}`;
          const { kind, ...base } = ev as Record<string, unknown> & { kind: Cell["kind"] };
          delete base.of;
          delete base.judge;
          const merged = evalOptionsSchema.safeParse({ ...base, ...combo });
          if (!merged.success) fail(["matrix", mi, "options", merged.error.issues[0]!.path[0] as string], merged.error.issues[0]!.message);
          const batch = merged.data.batch ?? m.batch ?? spec.models[model]!.batch ?? false;
          const cell: Cell = { name, model, evaluation: evName, kind, options: merged.data, batch };
          if (ev.kind === "judge") {
            const of = spec.evaluations[ev.of];
            if (!of || of.kind !== "generate") fail(["evaluations", evName, "of"], `"${ev.of}" is not a generate evaluation`);
            if (!spec.models[ev.judge]) fail(["evaluations", evName, "judge"], `no model "${ev.judge}" under models`);
            cell.judgeModel = ev.judge;
            cell.source = `${ev.of}-${model}${suffix}`;
          }
          const unsafe = segmentProblem(name);
          if (unsafe) fail(["matrix", mi], `cell name "${name}" ${unsafe}; it becomes a folder name, so model, evaluation and option names must keep it one plain file name`);
          if (cells.has(name)) fail(["matrix", mi], `cell "${name}" is produced twice`);
          cells.set(name, cell);
        }
      }
    }
  });
  for (const [name, over] of Object.entries(spec.cells ?? {})) {
    const c = cells.get(name);
    if (!c) fail(["cells", name], `no cell "${name}" in the matrix (cells: ${[...cells.keys()].join(", ")})`);
    c.options = { ...c.options, ...over };
    if (over.batch !== undefined) c.batch = over.batch;
  }
  for (const c of cells.values()) if (c.source && !cells.has(c.source)) fail(["evaluations", c.evaluation, "of"], `cell ${c.name} judges ${c.source}, which the matrix does not produce`);
  // Judge cells after their sources.
  return [...cells.values()].sort((a, b) => Number(a.kind === "judge") - Number(b.kind === "judge"));
}

export interface ExperimentHost {
  /** The API key of a provider (env, SecretStorage). */
  getKey: (provider: ProviderId) => string | undefined | Promise<string | undefined>;
  /** Base runner settings (concurrency, cache folder...). */
  runner?: Partial<RunnerSettings>;
  /** Session hooks per cell (gate, progress, cancel). */
  hooksFor: (cell: Cell) => SessionHooks;
  /** Where a base URL read from the file may receive a key (required when a model has a baseUrl). */
  policy?: KeyDestinationPolicy;
  onCell?: (cell: Cell, event: "skipped" | "start" | "done", detail?: string) => void;
}

function cellModelRequest(exp: LoadedExperiment, model: string): ProviderRequest {
  const m = exp.spec.models[model]!;
  const req: ProviderRequest = {};
  for (const [k, v] of Object.entries(m)) if (v !== undefined && k !== "batch") (req as Record<string, unknown>)[k] = v;
  if (m.modelPath) req.modelPath = path.resolve(exp.dir, m.modelPath);
  return req;
}

async function resolveModel(exp: LoadedExperiment, model: string, host: Pick<ExperimentHost, "getKey">, needKey: boolean): Promise<ResolvedProvider> {
  try {
    return await resolveProviderConfig(cellModelRequest(exp, model), {
      root: exp.dir,
      getKey: host.getKey,
      name: (s) => `models.${model}.${s}`,
      priceFor: (provider, name) => resolvePrice(provider, name, { prices: exp.spec.prices ?? {} })?.pricing,
      ...(needKey ? {} : { needKey: false }),
    });
  } catch (e) {
    throw new ExperimentError(`${exp.file}: model ${model}: ${(e as Error).message}`);
  }
}

export function cellDir(exp: LoadedExperiment, cell: string): string {
  return childPath(exp.out, cell, "cell name");
}

async function datasetDir(exp: LoadedExperiment, build: boolean): Promise<string> {
  const d = exp.spec.dataset;
  if ("build" in d) {
    const out = path.resolve(exp.dir, d.dir ?? path.join(exp.out, "dataset"));
    if (!existsSync(path.join(out, "manifest.json"))) {
      if (!build) throw new ExperimentError(`${exp.file}: the dataset is built on the first run (${out}); run once, or build it with preflab build`);
      await buildDataset({
        train: path.resolve(exp.dir, d.build.train),
        test: path.resolve(exp.dir, d.build.test),
        out,
        ...(d.build.history ? { historyMode: d.build.history } : {}),
        ...(d.build.historySize ? { historySize: d.build.historySize } : {}),
        ...(d.build.seed !== undefined ? { seed: d.build.seed } : {}),
      });
    }
    return out;
  }
  return path.resolve(exp.dir, d.dir);
}

function cellRequest(exp: LoadedExperiment, cell: Cell, ds: string): EvalRequest {
  const o = cell.options;
  const file = (f: string | undefined) => (f === undefined ? undefined : ["bare", "b2-empty"].includes(f) ? f : path.resolve(exp.dir, f));
  const common = {
    ...(o.dimensions ? { dimensions: o.dimensions } : {}),
    ...(o.limit !== undefined ? { limit: o.limit } : {}),
    ...(o.template ? { template: file(o.template)! } : {}),
    ...(o.historyTemplate ? { historyTemplate: file(o.historyTemplate)! } : {}),
    ...(o.maxInputTokens !== undefined ? { maxInputTokens: o.maxInputTokens } : {}),
    ...(o.oracle !== undefined ? { oracle: o.oracle } : {}),
  };
  if (cell.kind === "rm") {
    const options: RmOptions = {
      ...common,
      ...(o.orders ? { orders: o.orders } : {}),
      ...(o.verdict ? { verdict: o.verdict } : {}),
      ...(o.minVerdictMass !== undefined ? { minVerdictMass: o.minVerdictMass } : {}),
      ...(o.keepNonContrastive !== undefined ? { keepNonContrastive: o.keepNonContrastive } : {}),
    };
    return { kind: "rm", datasetDir: ds, options };
  }
  if (cell.kind === "generate") {
    const options: GenerateOptions = { ...common, ...(o.history ? { history: o.history } : {}), ...(o.plainTemplate ? { plainTemplate: file(o.plainTemplate)! } : {}) };
    return { kind: "generate", datasetDir: ds, options };
  }
  const options: JudgeOptions = {
    ...(o.cross !== undefined ? { cross: o.cross } : {}),
    ...(o.template ? { template: file(o.template)! } : {}),
    ...(o.maxParseRetries !== undefined ? { maxParseRetries: o.maxParseRetries } : {}),
    ...(o.parse ? { parse: o.parse } : {}),
  };
  return { kind: "judge", sourceRunDir: cellDir(exp, cell.source!), options };
}

/** What identifies a cell's run: its request and its model (no key). */
function cellIdentity(cell: Cell, request: EvalRequest, provider: ResolvedProvider): string {
  const { apiKey: _key, pricing: _pricing, ...config } = provider.config;
  return stableStringify({ cell: { kind: cell.kind, options: cell.options, batch: cell.batch, source: cell.source ?? null }, request, config });
}

export interface CellStatus {
  cell: Cell;
  dir: string;
  status: RunStatus | "not started";
  costUsd: number | null;
}

/** The status of every cell (from its run.json), for trees and reports. */
export async function experimentStatus(exp: LoadedExperiment): Promise<CellStatus[]> {
  const out: CellStatus[] = [];
  for (const cell of exp.cells) {
    const dir = cellDir(exp, cell.name);
    const rj = await readRunJson(dir).catch(() => undefined);
    out.push({ cell, dir, status: rj?.status ?? "not started", costUsd: rj && rj.pricing !== null && rj.pricing !== undefined ? rj.totals.costUsd : null });
  }
  return out;
}

function selected(exp: LoadedExperiment, only: string[] | undefined): Cell[] {
  if (!only || only.length === 0) return exp.cells;
  const names = new Set(exp.cells.map((c) => c.name));
  for (const n of only) if (!names.has(n)) throw new ExperimentError(`${exp.file}: no cell "${n}" (cells: ${[...names].join(", ")})`);
  return exp.cells.filter((c) => only.includes(c.name));
}

/** Per-cell estimates (nothing is sent; a judge cell whose generation has not run has no estimate yet). */
export async function estimateExperiment(exp: LoadedExperiment, host: Pick<ExperimentHost, "getKey">, only?: string[]): Promise<{ estimates: CostEstimate[]; pending: { cell: string; why: string }[] }> {
  const ds = await datasetDir(exp, true);
  const estimates: CostEstimate[] = [];
  const pending: { cell: string; why: string }[] = [];
  for (const cell of selected(exp, only)) {
    const resolved = await resolveModel(exp, cell.judgeModel ?? cell.model, host, false);
    const tokenizer = await tokenizerFor(resolved.config);
    const req = cellRequest(exp, cell, ds);
    let items: { request: import("../core/providers/types.js").ProviderRequest }[];
    if (req.kind === "rm") items = (await planRm(req.datasetDir, { ...req.options, tokenizer })).items;
    else if (req.kind === "generate") items = (await planGeneration(req.datasetDir, { ...req.options, tokenizer })).items;
    else if (req.kind === "judge") {
      const src = await readRunJson(req.sourceRunDir).catch(() => undefined);
      if (src?.status !== "finished") {
        pending.push({ cell: cell.name, why: `judges ${cell.source}, which has not finished` });
        continue;
      }
      items = (await planJudge(req.sourceRunDir, req.options)).items;
    } else continue;
    const est = await estimateItems(cell.name, resolved, items, cellDir(exp, cell.name), tokenizer);
    if (cell.batch && est.dollars && est.dollars.batchCached !== null) est.dollars.cached = est.dollars.batchCached;
    estimates.push(est);
  }
  return { estimates, pending };
}

export interface ExperimentRunResult {
  cells: { cell: Cell; dir: string; outcome?: EvalOutcome; skipped?: boolean }[];
  cancelled: boolean;
}

/** Runs (or resumes) the selected cells in order; finished cells with the same settings are skipped. */
export async function runExperiment(exp: LoadedExperiment, host: ExperimentHost, only?: string[]): Promise<ExperimentRunResult> {
  const cells = selected(exp, only);
  // Resolve every model and authorize every URL before anything runs.
  const providers = new Map<string, ResolvedProvider>();
  for (const cell of cells) {
    const model = cell.judgeModel ?? cell.model;
    if (providers.has(model)) continue;
    const resolved = await resolveModel(exp, model, host, true);
    const url = exp.spec.models[model]!.baseUrl;
    if (url) {
      if (!host.policy) throw new ExperimentError(`${exp.file}: model ${model} names a base URL; this host cannot confirm URLs from workspace files`);
      await host.policy.authorize({ key: keyNameFor(resolved.config.provider), url, source: "workspace-file", file: exp.file, what: `run experiment ${exp.spec.name} (model ${model})` });
    }
    providers.set(model, resolved);
  }
  const ds = await datasetDir(exp, true);
  await mkdir(exp.out, { recursive: true });
  const out: ExperimentRunResult = { cells: [], cancelled: false };
  for (const cell of cells) {
    const dir = cellDir(exp, cell.name);
    const provider = providers.get(cell.judgeModel ?? cell.model)!;
    const request = cellRequest(exp, cell, ds);
    const identity = cellIdentity(cell, request, provider);
    const recorded = await readFile(path.join(dir, CELL_FILE), "utf8").then((t) => (JSON.parse(t) as { identity: string }).identity).catch(() => undefined);
    if (recorded !== undefined && recorded !== identity) {
      throw new ExperimentError(`${exp.file}: cell ${cell.name} changed since it ran in ${dir}; rename the cell (a new folder) or delete that folder to run it again`);
    }
    const rj = await readRunJson(dir).catch(() => undefined);
    if (recorded === identity && rj?.status === "finished") {
      host.onCell?.(cell, "skipped", "finished with the same settings");
      out.cells.push({ cell, dir, skipped: true });
      continue;
    }
    await mkdir(dir, { recursive: true });
    await writeJsonAtomic(path.join(dir, CELL_FILE), { experiment: exp.spec.name, file: exp.file, cell, identity });
    host.onCell?.(cell, "start");
    const hooks = host.hooksFor(cell);
    const outcome = await runEvaluation(request, { runDir: dir, provider, runner: runnerSettings({ ...host.runner, ...(cell.batch ? { batch: true } : {}) }) }, hooks);
    host.onCell?.(cell, "done", outcome.summary.status);
    out.cells.push({ cell, dir, outcome });
    if (outcome.summary.status === "cancelled") {
      out.cancelled = true;
      break;
    }
  }
  return out;
}

/** One report over every cell that has run: the tables side by side, then paired tests between cells of one evaluation. */
export async function experimentReport(exp: LoadedExperiment, format: "text" | "md" | "json" = "text"): Promise<string> {
  const status = await experimentStatus(exp);
  const ran = status.filter((s) => s.status !== "not started" && existsSync(path.join(s.dir, "eval.json")));
  if (ran.length === 0) return "No cell has run yet.\n";
  const report = await buildReport(ran.map((s) => s.dir));
  const comparisons: { a: string; b: string; result: RmComparison | JudgeComparison }[] = [];
  for (let i = 0; i < ran.length; i++) {
    for (let j = i + 1; j < ran.length; j++) {
      const a = ran[i]!;
      const b = ran[j]!;
      if (a.cell.kind === "generate" || a.cell.kind !== b.cell.kind || a.cell.evaluation !== b.cell.evaluation) continue;
      try {
        comparisons.push({ a: a.cell.name, b: b.cell.name, result: await compareRuns(a.dir, b.dir) });
      } catch {
        // runs over different items cannot be paired
      }
    }
  }
  if (format === "json") return JSON.stringify({ cells: status.map((s) => ({ name: s.cell.name, status: s.status, costUsd: s.costUsd, dir: s.dir })), report, comparisons }, null, 2) + "\n";
  const lines = [formatReport(report, format === "md" ? "md" : "text")];
  if (comparisons.length) {
    lines.push(format === "md" ? "\n## Paired tests between cells\n" : "\nPaired tests between cells (overall):");
    for (const c of comparisons) {
      const o = c.result.overall;
      if (c.result.kind === "rm") {
        const r = o as RmComparison["overall"];
        lines.push(`  ${c.a} vs ${c.b}: accuracy ${r.accuracyA.toFixed(4)} vs ${r.accuracyB.toFixed(4)}, n ${r.n}, McNemar exact p = ${r.pValue.toFixed(4)}`);
      } else {
        const r = o as JudgeComparison["overall"];
        lines.push(`  ${c.a} vs ${c.b}: mean ${r.meanA.toFixed(3)} vs ${r.meanB.toFixed(3)}, n ${r.n}, paired bootstrap p = ${r.pValue.toFixed(4)}`);
      }
    }
  }
  return lines.join("\n") + "\n";
}

