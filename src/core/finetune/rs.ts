/**
 * Rejection sampling guided by a personalized reward model (paper section 4.3): score every train
 * example (pair + retrieved history, see examples.ts), and keep the top p (default 0.6) by reward
 * margin, within each split part, so an export of either part keeps its top p.
 *
 * Reward and margin:
 * - `probability` mode (any provider with next-token probability verdicts, e.g. the baseline,
 *   openai, llamacpp): the reward-model prompt (the paper's B.1, with the example's history under
 *   the token budget) is asked in both orders, A = chosen then B = chosen. With P(A), P(B) the
 *   verdict-token probabilities renormalised over the two, P(chosen) is P(A) in order ab and P(B)
 *   in order ba; reward(chosen) = the mean of P(chosen) over the orders that returned usable
 *   probabilities, reward(rejected) = 1 - reward(chosen), margin = reward(chosen) - reward(rejected)
 *   = 2 reward(chosen) - 1, in [-1, 1].
 * - `scalar` mode (a served Bradley-Terry reward model, scalar-reward.ts): the generation prompt
 *   (history + instruction, as in the exported reward-model data) followed by the response is
 *   scored once for the chosen and once for the rejected response; margin = r(chosen) - r(rejected).
 * - Selection: per part, the examples with a margin are sorted by margin (descending; ties by
 *   example id) and the first round(p x n) are kept. Examples without a margin (failed requests, or
 *   over the token budget even without history) are not kept and are counted apart.
 *
 * Scoring goes through one run session (src/core/eval/runner.ts, openRun + runStream) in `OUT/run`,
 * fed on demand and keeping no result lines in memory (results.jsonl is read when the session
 * opens and once more at the end, for the scores), so memory stays bounded whatever the size; a
 * killed run resumes where it stopped: rerun the same command. OUT also holds plan.json (what is scored;
 * a resume must match it), scores.jsonl (one line per example: rewards, margin, kept) and rs.json
 * (the report: counts, kept / dropped per part, the margin distribution), both written atomically.
 */
import { readFile } from "node:fs/promises";
import * as path from "node:path";
import { Dataset } from "../data/dataset.js";
import { templateVerdictFormat } from "../eval/rm.js";
import { DEFAULT_MIN_VERDICT_MASS, verdictFromProbabilities } from "../eval/parse.js";
import { templatesHash } from "../eval/plan.js";
import { RESULTS_FILE } from "../eval/runlog.js";
import { jsonlLines } from "../data/dataset.js";
import { openRun, type ResultLine, type RunItem, type RunnerOptions, type RunStatus, type RunSummary } from "../eval/runner.js";
import type { Provider, ProviderRequest } from "../providers/types.js";
import { DEFAULT_MAX_INPUT_TOKENS, renderWithBudget } from "../templates/budget.js";
import { templateOfKind } from "../templates/template.js";
import { stableStringify } from "../eval/cache.js";
import {
  countTrainExamples,
  emptyExampleStats,
  resolveExampleOptions,
  trainExamples,
  TrainPairs,
  type ExampleOptions,
  type Part,
  type ResolvedExampleOptions,
  type TrainExample,
} from "./examples.js";
import { renderExamplePrompt, rewardConversation } from "./formats.js";
import { exists, writeFileAtomic, writeJsonFileAtomic } from "./fsutil.js";
import { SCALAR_REWARD_ID } from "./scalar-reward.js";

export const RS_FILES = { plan: "plan.json", run: "run", scores: "scores.jsonl", report: "rs.json" } as const;
export const DEFAULT_KEEP = 0.6;

export type RsMode = "probability" | "scalar";

/**
 * Which examples rejection sampling keeps (`--rs-rule`). The paper (section 4.3) "filter[s] out
 * training data where the reward differences are marginal between two candidate responses ...
 * keeping only p=60%". Two readings:
 * - `signed` (default): keep the top p by margin = r(chosen) - r(rejected); examples the reward
 *   model scores the wrong way round (negative margin) go first, then the marginal ones.
 * - `absolute`: drop the smallest |margin| (the literal "marginal differences"); an example the
 *   reward model confidently reverses is kept.
 */
export type RsRule = "signed" | "absolute";
export const RS_RULES: readonly RsRule[] = ["signed", "absolute"];

export interface RsOptions extends ExampleOptions {
  out: string;
  /** Fraction kept (default 0.6, the paper's p). */
  keep?: number;
  /** Keep the top p by signed margin (default) or drop the smallest |margin|. */
  rule?: RsRule;
  maxInputTokens?: number;
  /** Reward-model template (probability mode); default the paper's B.1. */
  rmTemplate?: string;
  /** Generation template (scalar mode); default the paper's B.2. */
  template?: string;
  historyTemplate?: string;
}

export type ScoreStatus = "ok" | "failed" | "missing" | "over_budget";

export interface RsScore {
  id: string;
  pairId: string;
  dimension: string;
  part: Part;
  status: ScoreStatus;
  rewardChosen: number | null;
  rewardRejected: number | null;
  margin: number | null;
  kept: boolean;
}

export interface MarginStats {
  n: number;
  mean: number | null;
  min: number | null;
  max: number | null;
  quantiles: Record<string, number | null>;
  histogram: { lo: number; hi: number; counts: number[] };
}

export interface RsPartReport {
  examples: number;
  scored: number;
  kept: number;
  dropped: number;
  /** Smallest kept margin (rule absolute: smallest kept |margin|). */
  threshold: number | null;
}

export interface RsReport {
  version: 1;
  mode: RsMode;
  keep: number;
  /** The selection rule (absent in reports written before it existed: signed). */
  rule: RsRule;
  status: RunStatus;
  provider: { id: string; model: string };
  dataset: { dir: string; manifestHash: string };
  options: ResolvedExampleOptions & { maxInputTokens: number };
  counts: { examples: number; scored: number; failed: number; missing: number; overBudget: number; kept: number; dropped: number; noDimension: number };
  byPart: Partial<Record<Part, RsPartReport>>;
  margins: MarginStats;
  keptMargins: MarginStats;
  droppedMargins: MarginStats;
  runDir: string;
  files: typeof RS_FILES;
}

export interface RsResult {
  report: RsReport;
  summary: RunSummary;
}

interface Planned {
  id: string;
  pairId: string;
  dimension: string;
  part: Part;
  overBudget: boolean;
}

const QUANTILES = [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95];

/** Quantile with linear interpolation between order statistics (type 7). */
export function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** Summary of a margin distribution; `range` fixes the histogram bounds (else min..max). */
export function marginStats(values: number[], bins = 20, range?: [number, number]): MarginStats {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const lo = range ? range[0] : (sorted[0] ?? 0);
  const hi = range ? range[1] : (sorted[n - 1] ?? 0);
  const nb = hi > lo ? bins : 1;
  const counts = new Array<number>(nb).fill(0);
  for (const v of sorted) {
    const i = hi > lo ? Math.min(nb - 1, Math.max(0, Math.floor(((v - lo) / (hi - lo)) * nb))) : 0;
    counts[i]!++;
  }
  const r = (x: number | null) => (x === null ? null : Math.round(x * 1e6) / 1e6);
  return {
    n,
    mean: n ? r(sorted.reduce((a, b) => a + b, 0) / n) : null,
    min: r(sorted[0] ?? null),
    max: r(sorted[n - 1] ?? null),
    quantiles: Object.fromEntries(QUANTILES.map((q) => [`p${Math.round(q * 100)}`, r(quantile(sorted, q))])),
    histogram: { lo, hi, counts },
  };
}

/**
 * Keeps the top `keep` fraction by margin: sorted by margin descending (rule `signed`) or by
 * |margin| descending (rule `absolute`: the smallest |margin| are dropped), ties by id; the first
 * round(keep x n) are kept. Returns the kept ids.
 */
export function selectTopByMargin(items: { id: string; margin: number }[], keep: number, rule: RsRule = "signed"): Set<string> {
  const key = rule === "absolute" ? (m: number) => Math.abs(m) : (m: number) => m;
  const sorted = [...items].sort((a, b) => key(b.margin) - key(a.margin) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const k = Math.round(keep * sorted.length);
  return new Set(sorted.slice(0, k).map((i) => i.id));
}

function modeOf(provider: Provider): RsMode {
  if (provider.id === SCALAR_REWARD_ID) return "scalar";
  if (provider.capabilities.tokenProbabilities) return "probability";
  throw new Error(`provider "${provider.id}" gives neither next-token probabilities nor scalar rewards; use a probability provider (baseline, openai, llamacpp) or --rm-provider scalar-reward`);
}

/**
 * P(A) renormalised over A and B, read after the template's verdict prefix (as `preflab rm`
 * does); null when unusable, including when P(A) + P(B) is below DEFAULT_MIN_VERDICT_MASS (the
 * model was not answering with a letter there). An exact tie is a usable 0.5 here: a margin of 0.
 */
function probabilityA(r: ResultLine | undefined): number | null {
  if (!r || r.error || r.text === null || !r.tokenProbabilities) return null;
  const a = r.tokenProbabilities.A ?? 0;
  const b = r.tokenProbabilities.B ?? 0;
  if (a > 0 && a === b && a + b >= DEFAULT_MIN_VERDICT_MASS) return 0.5;
  return verdictFromProbabilities(r.tokenProbabilities, DEFAULT_MIN_VERDICT_MASS)?.pA ?? null;
}

function scalarOf(r: ResultLine | undefined): number | null {
  if (!r || r.error || r.text === null) return null;
  const v = Number(r.text);
  return Number.isFinite(v) ? v : null;
}

export async function runRejectionSampling(
  datasetDir: string,
  opts: RsOptions,
  provider: Provider,
  runner: Omit<RunnerOptions, "runDir">,
): Promise<RsResult> {
  const keep = opts.keep ?? DEFAULT_KEEP;
  if (!(keep > 0 && keep <= 1)) throw new Error(`keep must be a fraction in (0, 1], got ${keep}`);
  const rule = opts.rule ?? "signed";
  if (!RS_RULES.includes(rule)) throw new Error(`rule must be one of ${RS_RULES.join(", ")}, got ${String(rule)}`);
  const mode = modeOf(provider);
  const ds = await Dataset.open(datasetDir);
  const { options, rmTpl, genTpl, htpl, maxInputTokens, verdictPrefix, templates } = rsContext(opts, mode, ds.manifest);

  // plan.json: what this directory scores; a resume must match it.
  const out = path.resolve(opts.out);
  const runDir = path.join(out, RS_FILES.run);
  const plan = {
    version: 1,
    mode,
    provider: { id: provider.id, model: provider.model },
    dataset: { dir: ds.dir, manifestHash: ds.manifestHash },
    options: { ...options, maxInputTokens },
    templates: Object.fromEntries(Object.entries(templates).map(([k, t]) => [k, { name: t.name, hash: t.hash }])),
  };
  const planFile = path.join(out, RS_FILES.plan);
  if (await exists(planFile)) {
    const old = JSON.parse(await readFile(planFile, "utf8")) as typeof plan;
    const key = (p: typeof plan) => stableStringify([p.mode, p.provider, p.dataset.manifestHash, p.options, p.templates]);
    if (key(old) !== key(plan)) throw new Error(`${out} holds rejection sampling with other settings (provider, dataset, options or templates); use another --out`);
  } else {
    await writeJsonFileAtomic(planFile, plan);
  }

  const meta = {
    ...runner.meta,
    // The selection rule and p are recorded with the params (cache keys ignore `protocol`).
    params: { ...runner.meta.params, protocol: { rsRule: rule, rsKeep: keep } },
    templateHash: templatesHash(templates),
    datasetManifestHash: ds.manifestHash,
    seed: options.seed,
  };
  const planned: Planned[] = [];
  const stats = emptyExampleStats();
  const train = await TrainPairs.open(datasetDir, options);
  // One run session, fed on demand: an example's prompts are rendered (and its history retrieved)
  // only when a worker is free, so memory holds about `concurrency` requests whatever the size;
  // results.jsonl is read once when the session opens and the run is finished once, at the end.
  // The session keeps no result lines (a few dozen bytes an item); the scores are read back from
  // results.jsonl once, at the end.
  const session = await openRun(provider, { ...runner, runDir, meta, keepResults: false }).catch(async (e: unknown) => {
    await train.close();
    throw e;
  });
  async function* items(): AsyncGenerator<RunItem> {
    for await (const ex of trainExamples(train, options, stats)) {
      const its = itemsFor(ex, mode, { rmTpl, genTpl, htpl, maxInputTokens, verdictPrefix });
      planned.push({ id: ex.id, pairId: ex.pairId, dimension: ex.dimension, part: ex.part, overBudget: its === null });
      if (its) yield* its;
    }
  }
  let cancelled = false;
  try {
    cancelled = !(await session.runStream(items()));
  } catch (e) {
    await session.finish(e);
    throw e;
  } finally {
    await train.close();
  }
  const summary = await session.finish();
  cancelled ||= summary.status === "cancelled";

  const values = await readRewards(runDir, mode);
  const scores: RsScore[] = planned.map((p) => scoreOf(p, mode, values));
  const report = buildReport(scores, { mode, keep, rule, provider, ds, options, maxInputTokens, runDir, noDimension: stats.noDimension, status: cancelled ? "cancelled" : "finished" });
  if (!cancelled) {
    await writeFileAtomic(path.join(out, RS_FILES.scores), scores.map((s) => JSON.stringify(s)).join("\n") + (scores.length ? "\n" : ""));
    await writeJsonFileAtomic(path.join(out, RS_FILES.report), report);
  }
  return { report, summary };
}

type RsContext = {
  options: ResolvedExampleOptions;
  rmTpl: ReturnType<typeof templateOfKind>;
  genTpl: ReturnType<typeof templateOfKind>;
  htpl: ReturnType<typeof templateOfKind>;
  maxInputTokens: number;
  verdictPrefix: string;
  templates: Record<string, { name: string; hash: string; file: string }>;
};

/** The options, templates and verdict prefix an rs run (and its estimate) renders with. */
function rsContext(opts: RsOptions, mode: RsMode, manifest: Dataset["manifest"]): RsContext {
  const maxInputTokens = opts.maxInputTokens ?? DEFAULT_MAX_INPUT_TOKENS;
  const options = resolveExampleOptions(opts, manifest);
  const rmTpl = templateOfKind(opts.rmTemplate, "reward-model", "reward-model");
  const genTpl = templateOfKind(opts.template, "generation", "generation");
  const htpl = templateOfKind(opts.historyTemplate, "history", "history");
  // Probability verdicts are read right after the template's verdict prefix ("[[" for B.1).
  const verdictFormat = mode === "probability" ? templateVerdictFormat(rmTpl) : undefined;
  if (mode === "probability" && !verdictFormat) throw new Error(`${rmTpl.file}: the template names no verdict format (e.g. "[[A]]" / "[[B]]"), so its verdicts cannot be read`);
  const verdictPrefix = verdictFormat?.prefix ?? "";
  const templates: Record<string, { name: string; hash: string; file: string }> =
    mode === "probability"
      ? { "reward-model": { name: rmTpl.name, hash: rmTpl.hash, file: rmTpl.file }, history: { name: htpl.name, hash: htpl.hash, file: htpl.file } }
      : { generation: { name: genTpl.name, hash: genTpl.hash, file: genTpl.file }, history: { name: htpl.name, hash: htpl.hash, file: htpl.file } };
  return { options, rmTpl, genTpl, htpl, maxInputTokens, verdictPrefix, templates };
}

/** The rs mode of a provider id: scalar rewards from a scalar-reward server, else verdict probabilities. */
export function rsModeOfProvider(providerId: string): RsMode {
  return providerId === SCALAR_REWARD_ID ? "scalar" : "probability";
}

/**
 * For a cost estimate before any request: the requests of the first `maxExamples` train examples
 * exactly as a run renders them, and how many examples the whole run has (rs renders its prompts
 * as it runs, and a full-scale run's prompts do not fit in memory at once).
 */
export async function sampleRsRequests(
  datasetDir: string,
  opts: Omit<RsOptions, "out">,
  mode: RsMode,
  maxExamples: number,
): Promise<{ requests: RunItem[]; sampledExamples: number; examples: number }> {
  const ds = await Dataset.open(datasetDir);
  const ctx = rsContext({ ...opts, out: "" }, mode, ds.manifest);
  const train = await TrainPairs.open(datasetDir, ctx.options);
  try {
    const examples = countTrainExamples(train, ctx.options);
    const requests: RunItem[] = [];
    let sampledExamples = 0;
    for await (const ex of trainExamples(train, ctx.options, emptyExampleStats())) {
      if (sampledExamples >= maxExamples) break;
      sampledExamples++;
      requests.push(...(itemsFor(ex, mode, ctx) ?? []));
    }
    return { requests, sampledExamples, examples };
  } finally {
    await train.close();
  }
}

function itemsFor(
  ex: TrainExample,
  mode: RsMode,
  t: { rmTpl: ReturnType<typeof templateOfKind>; genTpl: ReturnType<typeof templateOfKind>; htpl: ReturnType<typeof templateOfKind>; maxInputTokens: number; verdictPrefix: string },
): RunItem[] | null {
  if (mode === "scalar") {
    const p = renderExamplePrompt(ex, t.genTpl, t.htpl, t.maxInputTokens);
    if (p.overBudget) return null;
    return (["chosen", "rejected"] as const).map((side) => ({
      id: `${ex.id}.${side}`,
      userKey: ex.id,
      request: { messages: rewardConversation(p.messages, side === "chosen" ? ex.chosen : ex.rejected) },
    }));
  }
  const items: RunItem[] = [];
  for (const order of ["ab", "ba"] as const) {
    const [a, b] = order === "ab" ? [ex.chosen, ex.rejected] : [ex.rejected, ex.chosen];
    const p = renderWithBudget(t.rmTpl, t.htpl, ex.history, { instruction: ex.prompt, response_a: a, response_b: b }, t.maxInputTokens);
    if (p.overBudget) return null;
    const messages = p.messages.map((m) => ({ role: m.role, content: m.content }));
    const kept = ex.history.slice(p.dropped);
    const request: ProviderRequest = {
      messages,
      sequenceKey: ex.id,
      probabilities: { candidates: ["A", "B"], answerPrefix: t.verdictPrefix },
      task: { kind: "pairwise", history: kept.map((h) => ({ prompt: h.prompt, chosen: h.chosen, rejected: h.rejected })), instruction: ex.prompt, responseA: a, responseB: b },
    };
    items.push({ id: `${ex.id}.${order}`, userKey: ex.id, request });
  }
  return items;
}

/**
 * What each item's last line in the run's results.jsonl says, read in one pass: the scalar reward
 * (scalar mode) or P(A) (probability mode), null where the line is unusable.
 */
async function readRewards(runDir: string, mode: RsMode): Promise<Map<string, number | null>> {
  const values = new Map<string, number | null>();
  const file = path.join(runDir, RESULTS_FILE);
  for await (const { text, line } of jsonlLines(file)) {
    let l: ResultLine;
    try {
      l = JSON.parse(text) as ResultLine;
    } catch (e) {
      throw new Error(`${file}:${line}: invalid JSON (${(e as Error).message})`);
    }
    values.set(l.itemId, mode === "scalar" ? scalarOf(l) : probabilityA(l));
  }
  return values;
}

function scoreOf(p: Planned, mode: RsMode, values: Map<string, number | null>): RsScore {
  const base = { id: p.id, pairId: p.pairId, dimension: p.dimension, part: p.part, kept: false };
  if (p.overBudget) return { ...base, status: "over_budget", rewardChosen: null, rewardRejected: null, margin: null };
  const keys = mode === "scalar" ? [`${p.id}.chosen`, `${p.id}.rejected`] : [`${p.id}.ab`, `${p.id}.ba`];
  if (keys.some((k) => !values.has(k))) return { ...base, status: "missing", rewardChosen: null, rewardRejected: null, margin: null };
  const [v0, v1] = keys.map((k) => values.get(k) ?? null) as [number | null, number | null];
  if (mode === "scalar") {
    const c = v0;
    const r = v1;
    if (c === null || r === null) return { ...base, status: "failed", rewardChosen: c, rewardRejected: r, margin: null };
    return { ...base, status: "ok", rewardChosen: c, rewardRejected: r, margin: c - r };
  }
  const pChosen: number[] = [];
  const ab = v0;
  const ba = v1;
  if (ab !== null) pChosen.push(ab);
  if (ba !== null) pChosen.push(1 - ba);
  if (pChosen.length === 0) return { ...base, status: "failed", rewardChosen: null, rewardRejected: null, margin: null };
  const rc = pChosen.reduce((a, b) => a + b, 0) / pChosen.length;
  return { ...base, status: "ok", rewardChosen: rc, rewardRejected: 1 - rc, margin: rc - (1 - rc) };
}

function buildReport(
  scores: RsScore[],
  c: { mode: RsMode; keep: number; rule: RsRule; provider: Provider; ds: Dataset; options: ResolvedExampleOptions; maxInputTokens: number; runDir: string; noDimension: number; status: RunStatus },
): RsReport {
  const byPart: RsReport["byPart"] = {};
  for (const part of ["a", "b"] as const) {
    const inPart = scores.filter((s) => s.part === part);
    if (inPart.length === 0) continue;
    const ok = inPart.filter((s) => s.status === "ok");
    const kept = selectTopByMargin(ok.map((s) => ({ id: s.id, margin: s.margin! })), c.keep, c.rule);
    for (const s of ok) s.kept = kept.has(s.id);
    const keptMargins = ok.filter((s) => s.kept).map((s) => s.margin!);
    byPart[part] = { examples: inPart.length, scored: ok.length, kept: kept.size, dropped: inPart.length - kept.size, threshold: keptMargins.length ? keptMargins.map((m) => (c.rule === "absolute" ? Math.abs(m) : m)).reduce((a, b) => Math.min(a, b)) : null };
  }
  const ok = scores.filter((s) => s.status === "ok");
  const range: [number, number] | undefined = c.mode === "probability" ? [-1, 1] : undefined;
  const all = marginStats(ok.map((s) => s.margin!), 20, range);
  const hist = (vals: number[]) => marginStats(vals, all.histogram.counts.length, [all.histogram.lo, all.histogram.hi]);
  const kept = scores.filter((s) => s.kept).length;
  return {
    version: 1,
    mode: c.mode,
    keep: c.keep,
    rule: c.rule,
    status: c.status,
    provider: { id: c.provider.id, model: c.provider.model },
    dataset: { dir: c.ds.dir, manifestHash: c.ds.manifestHash },
    options: { ...c.options, maxInputTokens: c.maxInputTokens },
    counts: {
      examples: scores.length,
      scored: ok.length,
      failed: scores.filter((s) => s.status === "failed").length,
      missing: scores.filter((s) => s.status === "missing").length,
      overBudget: scores.filter((s) => s.status === "over_budget").length,
      kept,
      dropped: scores.length - kept,
      noDimension: c.noDimension,
    },
    byPart,
    margins: all,
    keptMargins: hist(ok.filter((s) => s.kept).map((s) => s.margin!)),
    droppedMargins: hist(ok.filter((s) => !s.kept).map((s) => s.margin!)),
    runDir: c.runDir,
    files: RS_FILES,
  };
}

export interface RsSelection {
  options: ResolvedExampleOptions & { maxInputTokens: number };
  keep: number;
  datasetManifestHash: string;
  kept: Set<string>;
}

/** The kept example ids of a finished rejection-sampling directory (for `preflab export --keep-from`). */
export async function readRsSelection(dir: string): Promise<RsSelection> {
  let report: RsReport;
  try {
    report = JSON.parse(await readFile(path.join(dir, RS_FILES.report), "utf8")) as RsReport;
  } catch {
    throw new Error(`${dir} holds no finished rejection sampling (${RS_FILES.report} missing); run \`preflab rs\` to the end first`);
  }
  const kept = new Set<string>();
  const text = await readFile(path.join(dir, RS_FILES.scores), "utf8");
  let n = 0;
  for (const line of text.split("\n")) {
    n++;
    if (!line.trim()) continue;
    let s: RsScore;
    try {
      s = JSON.parse(line) as RsScore;
    } catch (e) {
      throw new Error(`${path.join(dir, RS_FILES.scores)}:${n}: invalid JSON (${(e as Error).message})`);
    }
    if (s.kept) kept.add(s.id);
  }
  return { options: report.options, keep: report.keep, datasetManifestHash: report.dataset.manifestHash, kept };
}

function bar(counts: number[], width = 40): string[] {
  const max = Math.max(1, ...counts);
  return counts.map((c) => "#".repeat(Math.round((c / max) * width)));
}

export function formatRsReport(r: RsReport): string {
  const c = r.counts;
  const f = (x: number | null) => (x === null ? "-" : x.toFixed(4));
  const lines = [
    `rejection sampling: ${r.status} (${r.mode} rewards from ${r.provider.id}/${r.provider.model}; keep p=${r.keep} per part by ${r.rule === "absolute" ? "|margin| (the smallest |margin| dropped)" : "signed margin"})`,
    `  examples   ${c.examples} (scored ${c.scored}, failed ${c.failed}, not run ${c.missing}, over budget ${c.overBudget}; ${c.noDimension} pairs express no requested dimension)`,
    `  kept       ${c.kept}`,
    `  dropped    ${c.dropped}`,
  ];
  for (const [part, p] of Object.entries(r.byPart)) {
    lines.push(`  part ${part}     ${p.kept} kept / ${p.dropped} dropped of ${p.examples} (scored ${p.scored}); threshold ${r.rule === "absolute" ? "|margin|" : "margin"} ${f(p.threshold)}`);
  }
  const m = r.margins;
  lines.push(
    `margin = reward(chosen) - reward(rejected): n=${m.n} mean ${f(m.mean)} min ${f(m.min)} max ${f(m.max)}`,
    `  quantiles  ${Object.entries(m.quantiles).map(([k, v]) => `${k} ${f(v)}`).join("  ")}`,
    `  histogram  [${m.histogram.lo.toFixed(3)}, ${m.histogram.hi.toFixed(3)}]  (kept | dropped)`,
  );
  const nb = m.histogram.counts.length;
  const w = (m.histogram.hi - m.histogram.lo) / nb;
  const bars = bar(m.histogram.counts);
  for (let i = 0; i < nb; i++) {
    const lo = m.histogram.lo + i * w;
    lines.push(`  ${lo >= 0 ? " " : ""}${lo.toFixed(3)}  ${String(r.keptMargins.histogram.counts[i] ?? 0).padStart(6)} | ${String(r.droppedMargins.histogram.counts[i] ?? 0).padEnd(6)} ${bars[i]}`);
  }
  return lines.join("\n") + "\n";
}
