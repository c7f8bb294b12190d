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
 * - An rs cell is `preflab rs` with the cell's model as the reward model (the same core function
 *   through the same session, withProvider): OUT/CELL is the `--out` folder (plan.json, run/,
 *   scores.jsonl, rs.json), resumed like any run. An export cell is `preflab export` (the same
 *   core function) into OUT/CELL (train.jsonl, examples.jsonl, export.json): it sends nothing, its
 *   model's tokenizer counts the input budget, and with `keepFrom` it exports what the rs cell of
 *   the same model and options kept (it runs after it). Neither goes through a batch API.
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
import { scaleEstimate, type CostEstimate } from "../core/cost/estimate.js";
import { resolvePrice } from "../core/cost/prices.js";
import { tokenizerFor } from "../core/templates/tokens.js";
import { buildReport, formatReport, type Report } from "../core/metrics/report.js";
import { compareRuns, type JudgeComparison, type RmComparison } from "../core/metrics/compare.js";
import type { ProviderId } from "../core/providers/registry.js";
import { resolveProviderConfig, type ProviderRequest, type ResolvedProvider } from "./provider.js";
import { runEvaluation, runnerSettings, type EvalOutcome, type EvalRequest, type RunnerSettings, type SessionHooks } from "./session.js";
import { keyNameFor, type KeyDestinationPolicy } from "./origins.js";
import { estimateItems } from "./estimate.js";
import { childPath, segmentProblem } from "../core/util/safe-path.js";
import { runRejectionSampling, rsModeOfProvider, RS_FILES, sampleRsRequests, type RsOptions, type RsReport } from "../core/finetune/rs.js";
import { exportFinetuneData, EXPORT_FILES, type ExportOptions, type ExportReport } from "../core/finetune/export.js";
import { checkFormatTarget } from "../core/finetune/formats.js";
import type { ExampleOptions } from "../core/finetune/examples.js";
import type { RunSummary, RunTotals } from "../core/eval/runner.js";
import { withProvider } from "./session.js";

export const CELL_FILE = "cell.json";

export class ExperimentError extends Error {
  override name = "ExperimentError";
}

export type CellKind = "rm" | "generate" | "judge" | "rs" | "export";
/** Cells that make fine-tuning data (not an evaluation run folder). */
export const FINETUNE_KINDS: readonly CellKind[] = ["rs", "export"];
const isFinetune = (k: CellKind): k is "rs" | "export" => k === "rs" || k === "export";

export interface Cell {
  name: string;
  /** The model the cell evaluates (for a judge cell: the generation model). */
  model: string;
  evaluation: string;
  kind: CellKind;
  options: EvalOptions;
  batch: boolean;
  /** Judge cells: the judge model and the generate cell judged. */
  judgeModel?: string;
  /** Judge cells: the generate cell judged; export cells with keepFrom: the rs cell whose kept examples are exported. */
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
          delete base.keepFrom;
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
          if (ev.kind === "export" && ev.keepFrom !== undefined) {
            const of = spec.evaluations[ev.keepFrom];
            if (!of || of.kind !== "rs") fail(["evaluations", evName, "keepFrom"], `"${ev.keepFrom}" is not an rs evaluation`);
            cell.source = `${ev.keepFrom}-${model}${suffix}`;
          }
          if (isFinetune(kind)) cell.batch = false;
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
    if (over.batch !== undefined && !isFinetune(c.kind)) c.batch = over.batch;
  }
  for (const c of cells.values()) {
    if (c.source && !cells.has(c.source)) {
      if (c.kind === "judge") fail(["evaluations", c.evaluation, "of"], `cell ${c.name} judges ${c.source}, which the matrix does not produce`);
      fail(["evaluations", c.evaluation, "keepFrom"], `cell ${c.name} exports what ${c.source} kept, which the matrix does not produce`);
    }
    if (c.kind === "export") {
      try {
        checkFormatTarget(c.options.format!, c.options.target!);
      } catch (e) {
        fail(spec.cells?.[c.name] ? ["cells", c.name] : ["evaluations", c.evaluation], `cell ${c.name}: ${(e as Error).message}`);
      }
    }
  }
  // Cells that read another cell's output (judge, export with keepFrom) after their sources.
  const late = (c: Cell) => Number(c.kind === "judge" || c.kind === "export");
  return [...cells.values()].sort((a, b) => late(a) - late(b));
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

/** Runner settings of a batch cell: the batch API, under the model's enqueued-token limit if it sets one. */
function batchSettings(exp: LoadedExperiment, cell: Cell): Partial<RunnerSettings> {
  const limit = exp.spec.models[cell.model]!.batchMaxEnqueuedTokens;
  return { batch: true, ...(limit !== undefined ? { batchMaxEnqueuedTokens: limit } : {}) };
}

function cellModelRequest(exp: LoadedExperiment, model: string): ProviderRequest {
  const m = exp.spec.models[model]!;
  const req: ProviderRequest = {};
  for (const [k, v] of Object.entries(m)) if (v !== undefined && k !== "batch" && k !== "batchMaxEnqueuedTokens") (req as Record<string, unknown>)[k] = v;
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

/** A template option: a built-in name, or a file relative to the experiment file. */
const templateFile = (exp: LoadedExperiment, f: string | undefined) => (f === undefined ? undefined : ["bare", "b2-empty"].includes(f) ? f : path.resolve(exp.dir, f));

/** What a cell runs: an evaluation (session.ts) or fine-tuning data (rs / export, src/core/finetune). */
type CellRequest =
  | EvalRequest
  | { kind: "rs"; datasetDir: string; options: RsOptions }
  | { kind: "export"; datasetDir: string; options: Omit<ExportOptions, "tokenizer" | "force"> };

/** The options of `preflab rs` / `preflab export` a cell sets (example selection, budget, templates). */
function exampleOptionsOf(exp: LoadedExperiment, o: EvalOptions): ExampleOptions & { maxInputTokens?: number; template?: string; historyTemplate?: string } {
  return {
    ...(o.split !== undefined ? { split: o.split } : {}),
    ...(o.part ? { part: o.part } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.dimensions ? { dimensions: o.dimensions } : {}),
    ...(o.perPair ? { perPair: o.perPair } : {}),
    ...(o.historySize !== undefined ? { historySize: o.historySize } : {}),
    ...(o.maxInputTokens !== undefined ? { maxInputTokens: o.maxInputTokens } : {}),
    ...(o.template ? { template: templateFile(exp, o.template)! } : {}),
    ...(o.historyTemplate ? { historyTemplate: templateFile(exp, o.historyTemplate)! } : {}),
  };
}

function cellRequest(exp: LoadedExperiment, cell: Cell, ds: string): CellRequest {
  const o = cell.options;
  if (cell.kind === "rs") {
    const options: RsOptions = {
      ...exampleOptionsOf(exp, o),
      out: cellDir(exp, cell.name),
      ...(o.keep !== undefined ? { keep: o.keep } : {}),
      ...(o.rule ? { rule: o.rule } : {}),
      ...(o.rmTemplate ? { rmTemplate: templateFile(exp, o.rmTemplate)! } : {}),
    };
    return { kind: "rs", datasetDir: ds, options };
  }
  if (cell.kind === "export") {
    const options = {
      ...exampleOptionsOf(exp, o),
      format: o.format!,
      target: o.target!,
      out: cellDir(exp, cell.name),
      ...(cell.source ? { keepFrom: cellDir(exp, cell.source) } : {}),
    };
    return { kind: "export", datasetDir: ds, options };
  }
  return evalRequest(exp, cell, ds);
}

function evalRequest(exp: LoadedExperiment, cell: Cell, ds: string): EvalRequest {
  const o = cell.options;
  const file = (f: string | undefined) => templateFile(exp, f);
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

/** What identifies a cell's run: its request and its model (no key). An export cell's model only gives the tokenizer. */
function cellIdentity(cell: Cell, request: CellRequest, provider: ResolvedProvider): string {
  const { apiKey: _key, pricing: _pricing, ...config } = provider.config;
  const model = cell.kind === "export" ? { provider: config.provider, model: config.model ?? null, modelPath: config.modelPath ?? null } : config;
  return stableStringify({ cell: { kind: cell.kind, options: cell.options, batch: cell.batch, source: cell.source ?? null }, request, config: model });
}

/** Tokens and dollars a cell's requests used (from its run.json). */
export interface CellUsage {
  requests: number;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  /** null: price unknown. */
  costUsd: number | null;
}

export interface CellStatus {
  cell: Cell;
  dir: string;
  status: RunStatus | "not started";
  costUsd: number | null;
  /** Where the cell's run.json is (rs: DIR/run; export cells send nothing and have none). */
  runDir: string | null;
  usage: CellUsage | null;
  /** rs / export cells: what they made (rs.json / export.json), once finished. */
  finetune?: FinetuneCellSummary;
}

/** An rs or export cell's outcome for reports and views (counts, output files, rs acceptance). */
export interface FinetuneCellSummary {
  kind: "rs" | "export";
  /** One line: "kept 81 of 135 (p=0.6)", "45 sft/trl lines". */
  headline: string;
  counts: Record<string, number>;
  /** The output files, relative to the cell folder. */
  files: string[];
  rs?: {
    mode: string;
    keep: number;
    rule: string;
    byPart: { part: string; examples: number; scored: number; kept: number; dropped: number; threshold: number | null }[];
    meanMargin: number | null;
    meanKeptMargin: number | null;
    meanDroppedMargin: number | null;
  };
  export?: { format: string; target: string; keptFrom: string | null; droppedHistoryPairs: number; maxPromptTokens: number; tokenizer: string };
}

async function readJsonFile<T>(file: string): Promise<T | undefined> {
  return readFile(file, "utf8").then((t) => JSON.parse(t) as T, () => undefined);
}

function finetuneSummary(cell: Cell, dir: string, rs: RsReport | undefined, ex: ExportReport | undefined, cells: LoadedExperiment["cells"]): FinetuneCellSummary | undefined {
  if (rs) {
    const c = rs.counts;
    return {
      kind: "rs",
      headline: `kept ${c.kept} of ${c.examples} (p=${rs.keep})${c.failed + c.missing ? `, ${c.failed + c.missing} unscored` : ""}`,
      counts: { ...c },
      files: [RS_FILES.report, RS_FILES.scores, RS_FILES.plan].filter((f) => existsSync(path.join(dir, f))),
      rs: {
        mode: rs.mode,
        keep: rs.keep,
        rule: rs.rule,
        byPart: Object.entries(rs.byPart).map(([part, p]) => ({ part, ...p })),
        meanMargin: rs.margins.mean,
        meanKeptMargin: rs.keptMargins.mean,
        meanDroppedMargin: rs.droppedMargins.mean,
      },
    };
  }
  if (ex) {
    const c = ex.counts;
    const keptFrom = cell.source && cells.some((x) => x.name === cell.source) ? cell.source : ex.rejectionSampling ? path.basename(ex.rejectionSampling.dir) : null;
    return {
      kind: "export",
      headline: `${c.written} ${ex.format}/${ex.target} lines${c.filteredOut ? `, ${c.filteredOut} not kept by rs` : ""}${c.overBudget ? `, ${c.overBudget} over budget` : ""}`,
      counts: { examples: c.examples, written: c.written, filteredOut: c.filteredOut, overBudget: c.overBudget, trainPairs: c.trainPairs, noDimension: c.noDimension },
      files: [EXPORT_FILES.train, EXPORT_FILES.examples, EXPORT_FILES.report].filter((f) => existsSync(path.join(dir, f))),
      export: { format: ex.format, target: ex.target, keptFrom, droppedHistoryPairs: ex.history.droppedPairs, maxPromptTokens: ex.tokens.maxPrompt, tokenizer: ex.tokenizer.name },
    };
  }
  return undefined;
}

function usageOf(rj: { pricing?: unknown; totals: RunTotals } | undefined): CellUsage | null {
  if (!rj) return null;
  const t = rj.totals;
  return { requests: t.items, inputTokens: t.inputTokens, cachedInputTokens: t.cachedInputTokens, outputTokens: t.outputTokens, costUsd: rj.pricing !== null && rj.pricing !== undefined ? t.costUsd : null };
}

/** The status of one cell (from its run.json; rs: and rs.json; export: export.json). */
export async function cellStatus(exp: LoadedExperiment, cell: Cell): Promise<CellStatus> {
  const dir = cellDir(exp, cell.name);
  if (cell.kind === "export") {
    const ex = await readJsonFile<ExportReport>(path.join(dir, EXPORT_FILES.report));
    const finetune = finetuneSummary(cell, dir, undefined, ex, exp.cells);
    return { cell, dir, status: ex ? "finished" : "not started", costUsd: null, runDir: null, usage: null, ...(finetune ? { finetune } : {}) };
  }
  const runDir = cell.kind === "rs" ? path.join(dir, RS_FILES.run) : dir;
  const rj = await readRunJson(runDir).catch(() => undefined);
  let status: CellStatus["status"] = rj?.status ?? "not started";
  let finetune: FinetuneCellSummary | undefined;
  if (cell.kind === "rs") {
    const rs = await readJsonFile<RsReport>(path.join(dir, RS_FILES.report));
    // The scores are written once the run has ended; until then the run is not finished.
    if (status === "finished" && !rs) status = "cancelled";
    finetune = rs && status === "finished" ? finetuneSummary(cell, dir, rs, undefined, exp.cells) : undefined;
  }
  const usage = usageOf(rj);
  return { cell, dir, status, costUsd: usage?.costUsd ?? null, runDir, usage, ...(finetune ? { finetune } : {}) };
}

/** The status of every cell, for trees and reports. */
export async function experimentStatus(exp: LoadedExperiment): Promise<CellStatus[]> {
  const out: CellStatus[] = [];
  for (const cell of exp.cells) out.push(await cellStatus(exp, cell));
  return out;
}

function selected(exp: LoadedExperiment, only: string[] | undefined): Cell[] {
  if (!only || only.length === 0) return exp.cells;
  const names = new Set(exp.cells.map((c) => c.name));
  for (const n of only) if (!names.has(n)) throw new ExperimentError(`${exp.file}: no cell "${n}" (cells: ${[...names].join(", ")})`);
  return exp.cells.filter((c) => only.includes(c.name));
}

/** Per-cell estimates (nothing is sent; a judge cell whose generation has not run has no estimate yet). */
/** rs cells are estimated from the requests of this many train examples, scaled to the run. */
export const RS_ESTIMATE_EXAMPLES = 500;

export async function estimateExperiment(exp: LoadedExperiment, host: Pick<ExperimentHost, "getKey">, only?: string[]): Promise<{ estimates: CostEstimate[]; pending: { cell: string; why: string }[] }> {
  const ds = await datasetDir(exp, true);
  const estimates: CostEstimate[] = [];
  const pending: { cell: string; why: string }[] = [];
  for (const cell of selected(exp, only)) {
    if (cell.kind === "export") {
      pending.push({ cell: cell.name, why: "an export sends no requests" });
      continue;
    }
    const resolved = await resolveModel(exp, cell.judgeModel ?? cell.model, host, false);
    const tokenizer = await tokenizerFor(resolved.config);
    if (cell.kind === "rs") {
      // rs renders its prompts as it runs (a full-scale run's do not fit in memory at once):
      // the first RS_ESTIMATE_EXAMPLES examples are rendered as the run would, then scaled.
      const req = cellRequest(exp, cell, ds);
      if (req.kind !== "rs") continue;
      const { out: _out, ...opts } = req.options;
      const sample = await sampleRsRequests(req.datasetDir, opts, rsModeOfProvider(resolved.config.provider), RS_ESTIMATE_EXAMPLES);
      const est = await estimateItems(cell.name, resolved, sample.requests, path.join(cellDir(exp, cell.name), RS_FILES.run), tokenizer);
      estimates.push(sample.sampledExamples === 0 ? est : scaleEstimate(est, sample.examples / sample.sampledExamples, `from ${sample.sampledExamples} of ${sample.examples} examples`));
      continue;
    }
    const req = evalRequest(exp, cell, ds);
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

/** What an rs or export cell made this time. */
export type FinetuneOutcome = { kind: "rs"; report: RsReport; summary: RunSummary } | { kind: "export"; report: ExportReport };

export interface ExperimentRunResult {
  cells: { cell: Cell; dir: string; outcome?: EvalOutcome; finetune?: FinetuneOutcome; skipped?: boolean }[];
  cancelled: boolean;
}

/** Runs (or resumes) the selected cells in order; finished cells with the same settings are skipped. */
export async function runExperiment(exp: LoadedExperiment, host: ExperimentHost, only?: string[]): Promise<ExperimentRunResult> {
  const cells = selected(exp, only);
  // Resolve every model and authorize every URL before anything runs.
  const providers = new Map<string, ResolvedProvider>();
  // An export cell's model only gives its tokenizer: no key, no URL (unless another cell sends to it).
  const sending = new Set(cells.filter((c) => c.kind !== "export").map((c) => c.judgeModel ?? c.model));
  for (const cell of cells) {
    const model = cell.judgeModel ?? cell.model;
    if (providers.has(model)) continue;
    if (!sending.has(model)) {
      providers.set(model, await resolveModel(exp, model, host, false));
      continue;
    }
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
    const before = await cellStatus(exp, cell);
    if (recorded === identity && before.status === "finished") {
      host.onCell?.(cell, "skipped", "finished with the same settings");
      out.cells.push({ cell, dir, skipped: true });
      continue;
    }
    const record = () => writeJsonAtomic(path.join(dir, CELL_FILE), { experiment: exp.spec.name, file: exp.file, cell, identity });
    if (request.kind === "export") {
      // `preflab export --out DIR` replaces DIR as a whole; only a folder of this cell's is replaced.
      if (recorded === undefined && existsSync(dir)) throw new ExperimentError(`${exp.file}: cell ${cell.name}: ${dir} exists and is not this experiment's; delete it or rename the cell`);
      if (cell.source && (await cellStatus(exp, exp.cells.find((c) => c.name === cell.source)!)).status !== "finished") {
        throw new ExperimentError(`${exp.file}: cell ${cell.name} exports what ${cell.source} kept, which has not finished; run it first (or run both)`);
      }
      host.onCell?.(cell, "start");
      const report = await exportFinetuneData(request.datasetDir, { ...request.options, tokenizer: await tokenizerFor(provider.config), force: true });
      await record();
      host.onCell?.(cell, "done", "finished");
      out.cells.push({ cell, dir, finetune: { kind: "export", report } });
      continue;
    }
    await mkdir(dir, { recursive: true });
    await record();
    host.onCell?.(cell, "start");
    const hooks = host.hooksFor(cell);
    let status: RunStatus;
    if (request.kind === "rs") {
      // `preflab rs`: the same core function through the same session (withProvider), resumable.
      const opts = request.options;
      const { report, summary } = await withProvider(provider, runnerSettings({ ...host.runner, batch: false }), hooks, (p, r) => runRejectionSampling(request.datasetDir, opts, p, r));
      status = summary.status;
      out.cells.push({ cell, dir, finetune: { kind: "rs", report, summary } });
    } else {
      const outcome = await runEvaluation(request, { runDir: dir, provider, runner: runnerSettings({ ...host.runner, ...(cell.batch ? batchSettings(exp, cell) : {}) }) }, hooks);
      status = outcome.summary.status;
      out.cells.push({ cell, dir, outcome });
    }
    host.onCell?.(cell, "done", status);
    if (status === "cancelled") {
      out.cancelled = true;
      break;
    }
  }
  return out;
}

/** A paired test between two cells of one evaluation (McNemar for rm, paired bootstrap for judge). */
export interface CellComparison {
  a: string;
  b: string;
  result: RmComparison | JudgeComparison;
}

/** Everything a report over the experiment shows: every cell's status, the tables of the cells that ran, paired tests. */
export interface ExperimentReportModel {
  name: string;
  file: string;
  out: string;
  cells: CellStatus[];
  /** The paper's tables over the evaluation cells that have run (null when none has). */
  report: Report | null;
  comparisons: CellComparison[];
}

/** The report's data (the CLI prints it; the extension's experiment dashboard shows it). */
export async function experimentReportModel(exp: LoadedExperiment): Promise<ExperimentReportModel> {
  const status = await experimentStatus(exp);
  const ran = status.filter((s) => s.status !== "not started" && !isFinetune(s.cell.kind) && existsSync(path.join(s.dir, "eval.json")));
  const report = ran.length ? await buildReport(ran.map((s) => s.dir)) : null;
  const comparisons: CellComparison[] = [];
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
  return { name: exp.spec.name, file: exp.file, out: exp.out, cells: status, report, comparisons };
}

const f4 = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(4));

/** The rs and export cells: status, counts, output files, rs acceptance (text or Markdown lines). */
function finetuneLines(cells: CellStatus[], md: boolean): string[] {
  const ft = cells.filter((c) => isFinetune(c.cell.kind));
  if (!ft.length) return [];
  const lines = [md ? "\n## Fine-tuning data (rs, export)\n" : "\nFine-tuning data (rs, export):"];
  for (const c of ft) {
    const f = c.finetune;
    const head = `${c.cell.name} (${c.cell.kind}, ${c.cell.model}): ${c.status}${f ? `; ${f.headline}` : ""}`;
    lines.push(md ? `- **${c.cell.name}** (${c.cell.kind}, ${c.cell.model}): ${c.status}${f ? `; ${f.headline}` : ""}` : `  ${head}`);
    if (!f) continue;
    const sub = (t: string) => lines.push(md ? `  - ${t}` : `    ${t}`);
    if (f.rs) {
      const n = f.counts;
      sub(`examples ${n.examples}: scored ${n.scored}, kept ${n.kept}, dropped ${n.dropped}, failed ${n.failed}, not run ${n.missing}, over budget ${n.overBudget} (${f.rs.mode} rewards, keep p=${f.rs.keep} per part by ${f.rs.rule} margin)`);
      for (const p of f.rs.byPart) sub(`part ${p.part}: ${p.kept} kept / ${p.dropped} dropped of ${p.examples} (acceptance ${p.examples ? ((100 * p.kept) / p.examples).toFixed(1) : "-"}%), threshold ${f4(p.threshold)}`);
      sub(`mean margin ${f4(f.rs.meanMargin)} (kept ${f4(f.rs.meanKeptMargin)}, dropped ${f4(f.rs.meanDroppedMargin)})`);
    }
    if (f.export) {
      const n = f.counts;
      sub(`${f.export.format}/${f.export.target}: ${n.written} lines written of ${n.examples} examples (${n.filteredOut} not kept${f.export.keptFrom ? ` by ${f.export.keptFrom}` : ""}, ${n.overBudget} over budget); ${f.export.droppedHistoryPairs} history pairs dropped by the budget (${f.export.tokenizer})`);
    }
    sub(`files: ${f.files.map((x) => path.join(c.dir, x)).join(", ")}`);
  }
  return lines;
}

/** One report over every cell that has run: the tables side by side, then paired tests between cells of one evaluation, then the fine-tuning data cells. */
export async function experimentReport(exp: LoadedExperiment, format: "text" | "md" | "json" = "text"): Promise<string> {
  const m = await experimentReportModel(exp);
  const status = m.cells;
  if (format === "json") {
    const cells = status.map((s) => ({ name: s.cell.name, kind: s.cell.kind, status: s.status, costUsd: s.costUsd, usage: s.usage, dir: s.dir, ...(s.finetune ? { finetune: s.finetune } : {}) }));
    return JSON.stringify({ cells, report: m.report, comparisons: m.comparisons }, null, 2) + "\n";
  }
  const md = format === "md";
  if (!m.report && !status.some((s) => isFinetune(s.cell.kind) && s.status !== "not started")) return "No cell has run yet.\n";
  const lines: string[] = m.report ? [formatReport(m.report, md ? "md" : "text")] : [];
  const comparisons = m.comparisons;
  if (comparisons.length) {
    lines.push(md ? "\n## Paired tests between cells\n" : "\nPaired tests between cells (overall):");
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
  lines.push(...finetuneLines(status, md));
  return lines.join("\n") + "\n";
}
