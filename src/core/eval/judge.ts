/**
 * Rubric judging of a generation run (MultiFacet absolute grading, 1-5) and the counterfactual
 * steerability matrix.
 *
 * - Each with-H response of user (triple t, member j, dimension d) is judged against member j's
 *   rubric for d, with member j's golden response as the score-5 reference.
 * - The without-H response of triple t is judged against the rubric of every user of t.
 * - `cross`: each with-H response is also judged against the other two members' rubrics for d,
 *   giving a 3x3 matrix per (instruction, dimension).
 * The built-in judge is the MultiFacet authors' own (kaistAI/Janus, see janus.ts): their prompt
 * verbatim, the rubric as json.dumps(rubric, indent=4), their sampling parameters (the template's
 * defaults: temperature 1.0, top_p 0.9, max 1024 tokens; flags override them) and their re-ask
 * count (5). A judge output without a score is asked again (a new sample, bounded); if it still has
 * none it is recorded with `score: null`, never a default. The score is read by the robust parser
 * (default) or by theirs (`parse: "janus"`); the choice is recorded in eval.json and run.json. Raw calls live in JUDGE_DIR/calls (a normal,
 * resumable runner directory); JUDGE_DIR/results.jsonl holds one judged line per item.
 */
import { readFile } from "node:fs/promises";
import { writeFileAtomic } from "../util/atomic.js";
import * as path from "node:path";
import { Dataset } from "../data/dataset.js";
import { DIMENSIONS, type Dimension, type Rubric } from "../data/schema.js";
import type { Triple } from "../data/types.js";
import type { GenerationParams, Provider, ProviderRequest } from "../providers/types.js";
import { renderMessages, templateOfKind } from "../templates/template.js";
import { bootstrapMeanCI, mean, pairedBootstrap } from "../metrics/stats.js";
import { judgeParser, type JudgeParser } from "./parse.js";
import { JANUS_MAX_RETRIES, janusRubric } from "./janus.js";
import { evalRunMeta, prepareEvalDir, readEvalJson, readItems, type EvalJson } from "./plan.js";
import { openRun, readResults, readRunJson, type ResultLine, type RunItem, type RunnerOptions, type RunSummary } from "./runner.js";
import { selectUsers, type GenItem } from "./generation.js";
import { createHash } from "node:crypto";

export interface JudgeOptions {
  cross?: boolean;
  template?: string;
  /** Extra judge calls for an output without a score (default 5, as kaistAI/Janus run_eval_openai.py). */
  maxParseRetries?: number;
  /** How a judge output is read: robust (default) or janus (the MultiFacet authors' pattern, first match). */
  parse?: JudgeParser;
  params?: GenerationParams;
}

export interface JudgeItem {
  itemId: string;
  genItemId: string;
  tripleId: string;
  /** The user whose rubric is applied. */
  userId: string;
  dimension: Dimension;
  /** Member whose response was judged: the user's member for with-H; null for without-H. */
  member: number | null;
  withHistory: boolean;
  rubricMember: number;
}

/** One line of JUDGE_DIR/results.jsonl. */
export interface JudgeResultLine {
  itemId: string;
  userId: string;
  dimension: Dimension;
  member: number | null;
  withHistory: boolean;
  rubricMember: number;
  score: number | null;
  feedback: string | null;
  /** The judge's whole output (of the last call), or null when every call failed. */
  raw: string | null;
  calls: number;
  error?: string;
}

export const CALLS_DIR = "calls";
export const JUDGED_FILE = "results.jsonl";

/** The rubric as the judge prompt holds it: json.dumps(rubric, indent=4), as kaistAI/Janus run_eval_openai.py writes it. */
export function formatRubric(r: Rubric): string {
  return janusRubric(r);
}

function rubricFor(t: Triple, member: number, d: Dimension): Rubric {
  const m = t.members[member]!;
  const i = m.preference_set.findIndex((e) => e.dimension === d);
  const r = m.rubrics[i];
  if (!r) throw new Error(`triple ${t.id} member ${member} has no rubric for ${d}`);
  return r;
}

async function dirHash(runDir: string): Promise<string> {
  const h = createHash("sha256");
  for (const f of ["eval.json", "items.jsonl"]) h.update(await readFile(path.join(runDir, f)));
  return h.digest("hex");
}

/** The judge's sampling parameters: the template's defaults (the built-in: Janus's), under the caller's. */
export function judgeParams(defaults: { temperature?: number; topP?: number; maxTokens?: number; model?: string } | undefined, given: GenerationParams | undefined): GenerationParams | undefined {
  const p: GenerationParams = {};
  if (defaults?.temperature !== undefined) p.temperature = defaults.temperature;
  if (defaults?.topP !== undefined) p.topP = defaults.topP;
  if (defaults?.maxTokens !== undefined) p.maxTokens = defaults.maxTokens;
  Object.assign(p, given ?? {});
  return Object.keys(p).length ? p : undefined;
}

export interface JudgePlan {
  items: RunItem[];
  meta: JudgeItem[];
  evalJson: EvalJson;
}

export async function planJudge(genRunDir: string, opts: JudgeOptions = {}): Promise<JudgePlan> {
  const gen = await readEvalJson(genRunDir);
  if (gen.kind !== "generate") throw new Error(`${genRunDir} is a ${gen.kind} run; the judge takes a generation run`);
  if (!gen.dataset) throw new Error(`${genRunDir}: eval.json names no dataset`);
  const ds = await Dataset.open(gen.dataset.dir);
  if (ds.manifestHash !== gen.dataset.manifestHash) throw new Error(`${gen.dataset.dir} changed since ${genRunDir} was generated (manifest hash differs)`);
  const genItems = await readItems<GenItem>(genRunDir);
  const results = await readResults(genRunDir);
  const tpl = templateOfKind(opts.template, "judge", "judge");
  const params = judgeParams(tpl.defaults, opts.params);
  const parse = opts.parse ?? "robust";
  const maxParseRetries = opts.maxParseRetries ?? JANUS_MAX_RETRIES;
  const triples = new Map<string, Triple>();
  for await (const t of ds.triples()) triples.set(t.id, t);
  const usersByTriple = new Map<string, { id: string; member: number; dimension: Dimension }[]>();
  for await (const u of selectUsers(ds, gen.options.dimensions as Dimension[], gen.options.limit as number | null)) {
    usersByTriple.set(u.tripleId, [...(usersByTriple.get(u.tripleId) ?? []), { id: u.id, member: u.member, dimension: u.dimension }]);
  }
  const items: RunItem[] = [];
  const meta: JudgeItem[] = [];
  const notGenerated: string[] = [];
  const add = (g: GenItem, text: string, t: Triple, user: { id: string; member: number; dimension: Dimension }, rubricMember: number, itemId: string) => {
    const request: ProviderRequest = {
      messages: renderMessages(tpl, {
        instruction: t.prompt,
        response: text,
        reference_answer: t.members[rubricMember]!.response,
        rubric: formatRubric(rubricFor(t, rubricMember, user.dimension)),
      }),
    };
    if (params) request.params = params;
    items.push({ id: itemId, request });
    meta.push({ itemId, genItemId: g.itemId, tripleId: t.id, userId: user.id, dimension: user.dimension, member: g.withHistory ? user.member : null, withHistory: g.withHistory, rubricMember });
  };
  for (const g of genItems) {
    const r = results.get(g.itemId);
    if (!r || r.text === null || r.error) {
      notGenerated.push(g.itemId);
      continue;
    }
    const t = triples.get(g.tripleId)!;
    if (g.withHistory) {
      const user = { id: g.userId!, member: g.member!, dimension: g.dimension! };
      const rubricMembers = opts.cross ? [0, 1, 2] : [user.member];
      for (const k of rubricMembers) add(g, r.text, t, user, k, `${g.itemId}@${k}`);
    } else {
      for (const u of usersByTriple.get(g.tripleId) ?? []) add(g, r.text, t, u, u.member, `${g.itemId}@${u.member}.${u.dimension}`);
    }
  }
  const evalJson: EvalJson = {
    kind: "judge",
    options: { cross: opts.cross ?? false, maxParseRetries, params: params ?? null, parse },
    protocol: { judgeParse: parse, judgeMaxParseRetries: maxParseRetries, judgeParams: params ?? null },
    dataset: gen.dataset,
    templates: { judge: { name: tpl.name, hash: tpl.hash, file: tpl.file } },
    source: { runDir: path.resolve(genRunDir), runHash: await dirHash(genRunDir) },
    items: items.length,
    overBudget: notGenerated,
  };
  return { items, meta, evalJson };
}

export interface JudgeRunResult {
  summary: RunSummary;
  judged: JudgeResultLine[];
}

/** Judges a generation run into `runner.runDir` (raw calls in its calls/ folder); resumable. */
export async function runJudge(genRunDir: string, opts: JudgeOptions, provider: Provider, runner: RunnerOptions): Promise<JudgeRunResult> {
  if (provider.capabilities.scalarReward) throw new Error(`provider "${provider.id}" is a scalar reward model: it cannot write judge feedback`);
  const plan = await planJudge(genRunDir, opts);
  const judgeDir = runner.runDir;
  await prepareEvalDir(judgeDir, plan.evalJson, plan.meta);
  const callsDir = path.join(judgeDir, CALLS_DIR);
  const maxRetries = plan.evalJson.options.maxParseRetries as number;
  const parse = judgeParser(plan.evalJson.options.parse as JudgeParser);
  const meta = evalRunMeta(runner.meta, plan.evalJson);
  // Round 0 asks every item once; each later round asks again (a new sample) for outputs without a
  // score. One run session for all rounds: results.jsonl is read once, and the run is finished once.
  const session = await openRun(provider, { ...runner, runDir: callsDir, meta });
  try {
    const byId = new Map(plan.items.map((i) => [i.id, i]));
    let batch: RunItem[] = plan.items;
    for (let round = 0; round <= maxRetries && batch.length > 0; round++) {
      if (!(await session.run(batch))) break;
      const again: RunItem[] = [];
      if (round < maxRetries) {
        for (const item of plan.items) {
          const last = latestCall(item.id, round, (id) => session.result(id));
          if (last && last.text !== null && parse(last.text).score === null) {
            const base = byId.get(item.id)!;
            again.push({ id: `${item.id}#${round + 1}`, request: { ...base.request, sample: round + 1 } });
          }
        }
      }
      batch = again;
    }
  } catch (e) {
    await session.finish(e);
    throw e;
  }
  const summary = await session.finish();
  const judged = await writeJudged(judgeDir, plan.meta, maxRetries, parse);
  return { summary, judged };
}

/** The latest call of an item up to `round` (item id, then id#1, id#2...). */
function latestCall(itemId: string, round: number, result: (id: string) => ResultLine | undefined): ResultLine | undefined {
  for (let r = round; r >= 0; r--) {
    const line = result(r === 0 ? itemId : `${itemId}#${r}`);
    if (line) return line;
  }
  return undefined;
}

async function writeJudged(judgeDir: string, meta: JudgeItem[], maxRetries: number, parseScore: (text: string) => { score: number | null; feedback: string }): Promise<JudgeResultLine[]> {
  const results = await readResults(path.join(judgeDir, CALLS_DIR));
  const lines: JudgeResultLine[] = [];
  for (const m of meta) {
    let calls = 0;
    let scored: { score: number; feedback: string; raw: string } | undefined;
    let lastRaw: string | null = null;
    let lastError: string | undefined;
    for (let r = 0; r <= maxRetries; r++) {
      const line = results.get(r === 0 ? m.itemId : `${m.itemId}#${r}`);
      if (!line) continue;
      calls++;
      if (line.text === null) {
        lastError = line.error ? `${line.error.kind}: ${line.error.message}` : "no output";
        continue;
      }
      lastRaw = line.text;
      const p = parseScore(line.text);
      if (p.score !== null) {
        scored = { score: p.score, feedback: p.feedback, raw: line.text };
        break;
      }
    }
    const base = { itemId: m.itemId, userId: m.userId, dimension: m.dimension, member: m.member, withHistory: m.withHistory, rubricMember: m.rubricMember };
    if (scored) lines.push({ ...base, score: scored.score, feedback: scored.feedback, raw: scored.raw, calls });
    else {
      const l: JudgeResultLine = { ...base, score: null, feedback: null, raw: lastRaw, calls };
      if (lastRaw === null) l.error = lastError ?? "not judged yet";
      else l.error = "no score found in the judge's output";
      lines.push(l);
    }
  }
  const file = path.join(judgeDir, JUDGED_FILE);
  await writeFileAtomic(file, lines.map((l) => JSON.stringify(l)).join("\n") + (lines.length ? "\n" : ""));
  return lines;
}

// ---- Reports

export interface ScoreSummary {
  mean: number;
  ci: [number, number];
  n: number;
}

export interface GenerationDimensionReport {
  withHistory: ScoreSummary;
  withoutHistory: ScoreSummary;
  /** Relative change (with - without) / without, as in the paper's Table 2; null if either side is empty. */
  delta: number | null;
  /** Paired by user: mean difference, its 95% CI and a two-sided bootstrap p-value. */
  meanDiff: number | null;
  diffCi: [number, number] | null;
  pValue: number | null;
  /** Judgments without a score (after retries) or not made. */
  unscored: number;
  /** With-H generations whose feedback history was cut to fit the input budget (from the generation run's items). */
  truncated?: number;
}

export interface GenerationReport {
  byDimension: Partial<Record<Dimension, GenerationDimensionReport>>;
}

export interface SteerabilityDimensionReport {
  steerability: number;
  ci: [number, number];
  margin: number;
  /** Instructions with a complete 3x3 matrix. */
  instructions: number;
}

export interface SteerabilityReport {
  byDimension: Partial<Record<Dimension, SteerabilityDimensionReport>>;
}

function summary(xs: number[], seed: number): ScoreSummary {
  const ci = bootstrapMeanCI(xs, { seed });
  return { mean: mean(xs), ci: [ci.lo, ci.hi], n: xs.length };
}

/** Share of rows whose own column holds the row maximum (ties split) and the diagonal margin. */
export function steerabilityOf(matrix: number[][]): { steer: number; margin: number } {
  let steer = 0;
  let diag = 0;
  let off = 0;
  for (let i = 0; i < 3; i++) {
    const row = matrix[i]!;
    const max = Math.max(...row);
    if (row[i] === max) steer += 1 / row.filter((x) => x === max).length;
    diag += row[i]!;
    off += row.reduce((s, x, k) => (k === i ? s : s + x), 0);
  }
  return { steer: steer / 3, margin: diag / 3 - off / 6 };
}

export async function readJudged(judgeDir: string): Promise<JudgeResultLine[]> {
  const text = await readFile(path.join(judgeDir, JUDGED_FILE), "utf8").catch(() => "");
  return text.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as JudgeResultLine);
}

export function generationReport(lines: JudgeResultLine[], seed = 0): { generation: GenerationReport; steerability?: SteerabilityReport; cross: boolean } {
  const generation: GenerationReport = { byDimension: {} };
  const cross = lines.some((l) => l.withHistory && l.rubricMember !== l.member);
  for (const d of DIMENSIONS) {
    const own = lines.filter((l) => l.dimension === d && l.rubricMember === (l.withHistory ? l.member : l.rubricMember));
    if (own.length === 0) continue;
    const withH = new Map(own.filter((l) => l.withHistory && l.score !== null).map((l) => [l.userId, l.score!]));
    const withoutH = new Map(own.filter((l) => !l.withHistory && l.score !== null).map((l) => [l.userId, l.score!]));
    const paired = [...withH.keys()].filter((u) => withoutH.has(u));
    const a = [...withH.values()];
    const b = [...withoutH.values()];
    const wo = summary(b, seed);
    const w = summary(a, seed);
    const rep: GenerationDimensionReport = {
      withHistory: w,
      withoutHistory: wo,
      delta: a.length && b.length ? (w.mean - wo.mean) / wo.mean : null,
      meanDiff: null,
      diffCi: null,
      pValue: null,
      unscored: own.filter((l) => l.score === null).length,
    };
    if (paired.length) {
      const pb = pairedBootstrap(paired.map((u) => withoutH.get(u)!), paired.map((u) => withH.get(u)!), { seed });
      rep.meanDiff = pb.meanDiff;
      rep.diffCi = [pb.ci.lo, pb.ci.hi];
      rep.pValue = pb.pValue;
    }
    generation.byDimension[d] = rep;
  }
  if (!cross) return { generation, cross };
  const steerability: SteerabilityReport = { byDimension: {} };
  for (const d of DIMENSIONS) {
    // matrix[(triple)][member][rubricMember]
    const mats = new Map<string, (number | null)[][]>();
    for (const l of lines) {
      if (l.dimension !== d || !l.withHistory || l.member === null) continue;
      const tripleId = l.userId.split(".")[0]!;
      let m = mats.get(tripleId);
      if (!m) mats.set(tripleId, (m = [0, 1, 2].map(() => [null, null, null])));
      m[l.member]![l.rubricMember] = l.score;
    }
    const complete = [...mats.values()].filter((m): m is number[][] => m.every((row) => row.every((x) => x !== null)));
    if (complete.length === 0) continue;
    const per = complete.map(steerabilityOf);
    const ci = bootstrapMeanCI(per.map((p) => p.steer), { seed });
    steerability.byDimension[d] = { steerability: mean(per.map((p) => p.steer)), ci: [ci.lo, ci.hi], margin: mean(per.map((p) => p.margin)), instructions: complete.length };
  }
  return { generation, steerability, cross };
}

export async function judgeReport(judgeDir: string, seed = 0): Promise<{ generation: GenerationReport; steerability?: SteerabilityReport; source: { runDir: string; provider: string | null; model: string | null } }> {
  const ev = await readEvalJson(judgeDir);
  const { generation, steerability } = generationReport(await readJudged(judgeDir), seed);
  const genRun = ev.source ? await readRunJson(ev.source.runDir).catch(() => undefined) : undefined;
  // How many with-H prompts lost history pairs to the input budget, per dimension.
  const genItems = ev.source ? await readItems<GenItem>(ev.source.runDir).catch(() => undefined) : undefined;
  if (genItems) {
    for (const [d, rep] of Object.entries(generation.byDimension)) {
      rep.truncated = genItems.filter((g) => g.withHistory && g.dimension === d && g.historyDropped > 0).length;
    }
  }
  return { generation, steerability, source: { runDir: ev.source?.runDir ?? "", provider: genRun?.provider ?? null, model: genRun?.model ?? null } };
}
