/**
 * In-context reward-model evaluation (paper section 3.2, Table 1). For each synthetic user
 * (dimension d, member j) and each preference pair on its test triple (chosen = y_j, rejected =
 * each other member), the model sees the user's feedback history and picks A or B, in both
 * presentation orders by default. Accuracy is per dimension; random guessing is 50%.
 */
import { Dataset } from "../data/dataset.js";
import { DIMENSIONS, type Dimension, type PreferenceEntry } from "../data/schema.js";
import { contrasts } from "../data/contrast.js";
import { checkOracleTemplate, preferenceText } from "./oracle.js";
import type { SyntheticUser, Triple } from "../data/types.js";
import type { Provider, ProviderRequest } from "../providers/types.js";
import { DEFAULT_MAX_INPUT_TOKENS, renderWithSharedBudget } from "../templates/budget.js";
import { samplingRecord } from "../providers/sampling.js";
import { ESTIMATE_TOKENIZER, tokenizerFor, type Tokenizer } from "../templates/tokens.js";
import { templateOfKind, type Template } from "../templates/template.js";
import { bootstrapMeanCI, mean } from "../metrics/stats.js";
import { DEFAULT_MIN_VERDICT_MASS, massOf, parseVerdict, verdictFormatOf, verdictFromProbabilities, type Verdict, type VerdictFormat } from "./parse.js";
import { evalRunMeta, prepareEvalDir, type EvalJson } from "./plan.js";
import { planScalarRm, scoreScalarPair, type ScalarPair } from "./rm-scalar.js";
import { readResults, runBatch, type ResultLine, type RunItem, type RunnerOptions, type RunSummary } from "./runner.js";

export type Order = "ab" | "ba";
export type VerdictMode = "text" | "probability";

export interface RmOptions {
  dimensions?: Dimension[];
  orders?: "both" | "ab";
  verdict?: VerdictMode;
  /** The first N synthetic users (after the dimension filter), each with all its pairs and orders. */
  limit?: number;
  template?: string;
  historyTemplate?: string;
  maxInputTokens?: number;
  /**
   * Probability verdicts: below this P(A) + P(B) at the letter position an item is unparsable
   * (default DEFAULT_MIN_VERDICT_MASS).
   */
  minVerdictMass?: number;
  /** Counts the input budget; runRm uses the provider's (tokenizerFor), planRm alone the chars/4 estimate. */
  tokenizer?: Tokenizer;
  /**
   * Keep test pairs whose rejected member states the same preference as the chosen one on the
   * user's dimension (contrast.ts). Default false: such a pair does not test the preference, so it
   * is left out and counted (eval.json `nonContrastive`, every rm report).
   */
  keepNonContrastive?: boolean;
  /** The "with preference" upper bound: the template is told the user's preference ({{preference}}; built-in: reward-model-oracle). */
  oracle?: boolean;
}

/** Test pairs whose two sides state the same preference on the user's dimension, per dimension. */
export interface NonContrastiveCounts {
  /** Whether they were left out (the default) or kept. */
  policy: "exclude" | "keep";
  total: number;
  byDimension: Partial<Record<Dimension, number>>;
  /** Their pair ids (`<user>.vs<k>`). */
  pairs: string[];
}

/** The preference entry of a triple member on a dimension. */
export function memberPreference(t: Triple, member: number, d: Dimension): PreferenceEntry {
  const e = t.members[member]!.preference_set.find((x) => x.dimension === d);
  if (!e) throw new Error(`triple ${t.id} member ${member} has no preference on ${d}`);
  return e;
}

/** One synthetic user's test pairs as an rm plan scores them: the user, its triple, the rejected members kept. */
export interface RmUserPairs {
  user: SyntheticUser;
  triple: Triple;
  /** Rejected members in order; `contrastive: false` only when non-contrastive pairs are kept. */
  rejected: { member: number; contrastive: boolean }[];
}

/**
 * The test pairs of an rm plan, user by user (one place for the selection rules): dimensions and
 * `limit` (users) applied; a pair whose sides state the same preference on the user's dimension is
 * counted in `nonContrastive` and left out unless `keepNonContrastive`.
 */
export async function* rmUserPairs(ds: Dataset, opts: Pick<RmOptions, "dimensions" | "limit" | "keepNonContrastive">, nonContrastive: NonContrastiveCounts): AsyncGenerator<RmUserPairs> {
  const dims = opts.dimensions ?? [...DIMENSIONS];
  const triples = new Map<string, Triple>();
  for await (const t of ds.triples()) triples.set(t.id, t);
  let users = 0;
  for await (const u of ds.users()) {
    if (!dims.includes(u.dimension)) continue;
    if (opts.limit !== undefined && users >= opts.limit) break;
    users++;
    const t = triples.get(u.tripleId);
    if (!t) throw new Error(`${ds.dir}: user ${u.id} refers to missing triple ${u.tripleId}`);
    const rejected: RmUserPairs["rejected"] = [];
    for (let k = 0; k < 3; k++) {
      if (k === u.member) continue;
      const contrastive = contrasts(memberPreference(t, u.member, u.dimension), memberPreference(t, k, u.dimension));
      if (!contrastive) {
        nonContrastive.total++;
        nonContrastive.byDimension[u.dimension] = (nonContrastive.byDimension[u.dimension] ?? 0) + 1;
        nonContrastive.pairs.push(`${u.id}.vs${k}`);
        if (!opts.keepNonContrastive) continue;
      }
      rejected.push({ member: k, contrastive });
    }
    yield { user: u, triple: t, rejected };
  }
}

export interface RmItem {
  itemId: string;
  userId: string;
  tripleId: string;
  member: number;
  dimension: Dimension;
  rejectedMember: number;
  order: Order;
  /** Where the chosen (user-preferred) response is shown. */
  chosen: Verdict;
  /** False for a non-contrastive pair kept with keepNonContrastive. */
  contrastive?: boolean;
  /** Scalar reward models (rm-scalar.ts): the run items holding r(chosen) and r(rejected). */
  scalar?: ScalarPair;
  historyKept: number;
  /** History pairs dropped (least similar first) to fit the input budget. */
  historyDropped: number;
  /** Prompt tokens as counted by the run's tokenizer (eval.json `tokenizer`). */
  promptTokens: number;
}

/** An rm item's metadata: which user, which rejected member in which order, and its history fit. */
export function rmItem(
  u: Pick<SyntheticUser, "id" | "tripleId" | "member" | "dimension">,
  itemId: string,
  rejectedMember: number,
  order: Order,
  contrastive: boolean,
  fit: { historyKept: number; historyDropped: number; promptTokens: number },
): RmItem {
  return {
    itemId,
    userId: u.id,
    tripleId: u.tripleId,
    member: u.member,
    dimension: u.dimension,
    rejectedMember,
    order,
    chosen: order === "ab" ? "A" : "B",
    historyKept: fit.historyKept,
    historyDropped: fit.historyDropped,
    promptTokens: fit.promptTokens,
    ...(contrastive ? {} : { contrastive: false }),
  };
}

/** The verdict format a reward-model template asks for (its literal text, placeholders left out). */
export function templateVerdictFormat(t: Template): VerdictFormat | undefined {
  return verdictFormatOf(t.sections.map((s) => s.pieces.map((p) => ("text" in p ? p.text : "\n")).join("")).join("\n"));
}

export interface RmPlan {
  items: RunItem[];
  meta: RmItem[];
  evalJson: EvalJson;
}

export async function planRm(datasetDir: string, opts: RmOptions = {}): Promise<RmPlan> {
  const ds = await Dataset.open(datasetDir);
  const dims = opts.dimensions ?? [...DIMENSIONS];
  const orders: Order[] = opts.orders === "ab" ? ["ab"] : ["ab", "ba"];
  const verdict = opts.verdict ?? "text";
  const maxTokens = opts.maxInputTokens ?? DEFAULT_MAX_INPUT_TOKENS;
  const tokenizer = opts.tokenizer ?? ESTIMATE_TOKENIZER;
  const oracle = opts.oracle ?? false;
  const tpl: Template = templateOfKind(opts.template, "reward-model", oracle ? "reward-model-oracle" : "reward-model");
  checkOracleTemplate(tpl, oracle);
  const htpl: Template = templateOfKind(opts.historyTemplate, "history", "history");
  const format = templateVerdictFormat(tpl);
  if (!format) throw new Error(`${tpl.file}: the template names no verdict format (e.g. "[[A]]" / "[[B]]"), so its verdicts cannot be read`);
  const minVerdictMass = opts.minVerdictMass ?? DEFAULT_MIN_VERDICT_MASS;
  if (!(minVerdictMass >= 0 && minVerdictMass <= 1)) throw new Error(`minVerdictMass must be in [0, 1], got ${minVerdictMass}`);
  const items: RunItem[] = [];
  const meta: RmItem[] = [];
  const overBudget: string[] = [];
  const nonContrastive: NonContrastiveCounts = { policy: opts.keepNonContrastive ? "keep" : "exclude", total: 0, byDimension: {}, pairs: [] };
  for await (const { user: u, triple: t, rejected } of rmUserPairs(ds, opts, nonContrastive)) {
    const chosenText = t.members[u.member]!.response;
    const planned = rejected.flatMap(({ member: k, contrastive }) => orders.map((order) => ({ k, contrastive, order })));
    const pairOf = (k: number, order: Order): [string, string] => (order === "ab" ? [chosenText, t.members[k]!.response] : [t.members[k]!.response, chosenText]);
    // All prompts of one user keep the same history pairs, so they share it as a cached prefix.
    const rendered = renderWithSharedBudget(
      tpl,
      htpl,
      u.history,
      planned.map(({ k, order }) => {
        const [a, b] = pairOf(k, order);
        return { instruction: t.prompt, response_a: a, response_b: b, ...(oracle ? { preference: preferenceText(u.preference) } : {}) };
      }),
      maxTokens,
      tokenizer,
    );
    for (const [i, { k, contrastive, order }] of planned.entries()) {
      const [a, b] = pairOf(k, order);
      const itemId = `${u.id}.vs${k}.${order}`;
      const p = rendered[i]!;
      if (p.overBudget) {
        overBudget.push(itemId);
        continue;
      }
      const messages = p.messages;
      const kept = u.history.slice(p.dropped, p.dropped + p.kept);
      const request: ProviderRequest = {
        messages,
        sequenceKey: u.id,
        task: { kind: "pairwise", history: kept.map((h) => ({ prompt: h.prompt, chosen: h.chosen, rejected: h.rejected })), instruction: t.prompt, responseA: a, responseB: b },
      };
      // The letter is decided right after the verdict prefix: llama.cpp prefills it, OpenAI reads
      // the logprobs at the token after the prefix the model writes.
      if (verdict === "probability") request.probabilities = { candidates: ["A", "B"], answerPrefix: format.prefix };
      items.push({ id: itemId, request, userKey: u.id });
      meta.push(rmItem(u, itemId, k, order, contrastive, { historyKept: p.kept, historyDropped: p.dropped, promptTokens: p.tokens }));
    }
  }
  const templates = {
    "reward-model": { name: tpl.name, hash: tpl.hash, file: tpl.file },
    history: { name: htpl.name, hash: htpl.hash, file: htpl.file },
  };
  const evalJson: EvalJson = {
    kind: "rm",
    options: {
      dimensions: dims,
      orders: opts.orders ?? "both",
      verdict,
      limit: opts.limit ?? null,
      maxInputTokens: maxTokens,
      keepNonContrastive: opts.keepNonContrastive ?? false,
      verdictFormat: format,
      ...(verdict === "probability" ? { minVerdictMass } : {}),
      oracle,
    },
    tokenizer: { name: tokenizer.name, exact: tokenizer.exact },
    dataset: { dir: ds.dir, manifestHash: ds.manifestHash, seed: ds.manifest.seed },
    templates,
    items: items.length,
    overBudget,
    nonContrastive,
    protocol: { contrastFilter: nonContrastive.policy, nonContrastivePairs: nonContrastive.total, oracle },
  };
  // The builder's own count over the whole dataset (all users, every dimension), when it records one.
  if (ds.manifest.nonContrastive !== undefined) evalJson.datasetNonContrastive = ds.manifest.nonContrastive;
  return { items, meta, evalJson };
}

export interface RmRunResult {
  summary: RunSummary;
  report: RmReport;
}

/** Plans, runs (or resumes) and scores a reward-model evaluation in `runner.runDir`. */
export async function runRm(datasetDir: string, opts: RmOptions, provider: Provider, runner: RunnerOptions): Promise<RmRunResult> {
  // A served scalar reward model scores responses (rm-scalar.ts); every other provider gives verdicts.
  const scalar = provider.capabilities.scalarReward === true;
  const planOpts = { ...opts, tokenizer: opts.tokenizer ?? (await tokenizerFor(provider)) };
  const plan = scalar ? await planScalarRm(datasetDir, planOpts) : await planRm(datasetDir, planOpts);
  if (scalar && opts.verdict === "probability") throw new Error(`provider "${provider.id}" gives scalar rewards, not verdicts; drop --verdict probability`);
  // Text verdicts are sampled (probability verdicts read the raw distribution): record at what.
  // The tokenizer that counted the budget, with the run's protocol choices (run.json params.protocol).
  if (plan.evalJson.tokenizer) plan.evalJson.protocol = { ...(plan.evalJson.protocol ?? {}), tokenizer: plan.evalJson.tokenizer };
  if (!scalar && plan.evalJson.options.verdict === "text") {
    plan.evalJson.protocol = { ...(plan.evalJson.protocol ?? {}), sampling: samplingRecord(provider.id, runner.meta.params?.temperature) };
  }
  if (plan.evalJson.options.verdict === "probability" && !provider.capabilities.tokenProbabilities) {
    throw new Error(`provider "${provider.id}" cannot give next-token probabilities; use --verdict text`);
  }
  if (provider.capabilities.structuredOnly && plan.items.some((i) => !i.request.task)) throw new Error(`provider "${provider.id}" needs structured items`);
  await prepareEvalDir(runner.runDir, plan.evalJson, plan.meta);
  const summary = await runBatch(plan.items, provider, {
    ...runner,
    meta: evalRunMeta(runner.meta, plan.evalJson),
  });
  const report = withNonContrastive(
    scoreRm(plan.meta, await readResults(runner.runDir), plan.evalJson.options.verdict as VerdictMode, 0, scoringOptions(plan.evalJson.options)),
    plan.evalJson.nonContrastive,
  );
  return { summary, report };
}

export interface RmDimensionReport {
  /** Accuracy over parsed verdicts, as a fraction in 0..1 (mean over the orders run). */
  accuracy: number;
  ci: [number, number];
  /** Parsed verdicts. */
  n: number;
  /** Pairs judged right in both orders, over pairs with both orders parsed (null with one order). */
  consistentAccuracy: number | null;
  /** Share of parsed verdicts that chose A (position bias; 0.5 is none). */
  aRate: number;
  unparsable: number;
  /** Items the provider failed on (after retries), or not run yet. */
  failed: number;
  missing: number;
  /** Items whose feedback history was cut (pairs dropped) to fit the input budget. */
  truncated: number;
  /** Mean P(A) + P(B) at the letter position over items with probabilities (probability mode). */
  meanVerdictMass?: number;
  /** Mean P(chosen) in probability mode. */
  meanChosenProbability?: number;
  /** Non-contrastive test pairs on this dimension (left out, or kept: see RmReport.nonContrastive.policy). */
  nonContrastive?: number;
}

export interface RmReport {
  byDimension: Partial<Record<Dimension, RmDimensionReport>>;
  overall: RmDimensionReport;
  /** Non-contrastive test pairs: excluded (default) or kept, and how many (from eval.json). */
  nonContrastive?: { policy: "exclude" | "keep"; total: number };
}

/** Adds an rm run's non-contrastive counts (eval.json) to its report. */
export function withNonContrastive(report: RmReport, counts: NonContrastiveCounts | undefined): RmReport {
  if (!counts) return report;
  report.nonContrastive = { policy: counts.policy, total: counts.total };
  report.overall.nonContrastive = counts.total;
  for (const [d, r] of Object.entries(report.byDimension)) r.nonContrastive = counts.byDimension[d as Dimension] ?? 0;
  return report;
}

export interface RmScoredItem extends RmItem {
  verdict: Verdict | null;
  correct: boolean | null;
  status: "ok" | "unparsable" | "failed" | "missing";
  pA?: number;
  /** P(A) + P(B) at the letter position (probability mode). */
  mass?: number;
  /** Scalar reward models: r(chosen) and r(rejected). */
  rewardChosen?: number;
  rewardRejected?: number;
}

export interface RmScoring {
  /** Text verdicts: the template's format (default B.1's [[A]] / [[B]]). */
  verdictFormat?: VerdictFormat;
  /** Probability verdicts: minimum P(A) + P(B); default 0 for runs recorded before it existed. */
  minVerdictMass?: number;
}

/** Scoring options as recorded in an rm run's eval.json options. */
export function scoringOptions(options: Record<string, unknown>): RmScoring {
  const out: RmScoring = {};
  const f = options.verdictFormat as VerdictFormat | undefined;
  if (f && typeof f.prefix === "string" && typeof f.suffix === "string") out.verdictFormat = f;
  if (typeof options.minVerdictMass === "number") out.minVerdictMass = options.minVerdictMass;
  return out;
}

export function scoreItems(meta: RmItem[], results: Map<string, ResultLine>, mode: VerdictMode, scoring: RmScoring = {}): RmScoredItem[] {
  return meta.map((m) => {
    if (m.scalar) return scoreScalarPair(m as RmItem & { scalar: ScalarPair }, results);
    const r = results.get(m.itemId);
    if (!r) return { ...m, verdict: null, correct: null, status: "missing" };
    if (r.error || r.text === null) return { ...m, verdict: null, correct: null, status: "failed" };
    let verdict: Verdict | null;
    let pA: number | undefined;
    let mass: number | undefined;
    if (mode === "probability") {
      const v = verdictFromProbabilities(r.tokenProbabilities, scoring.minVerdictMass ?? 0);
      verdict = v?.verdict ?? null;
      pA = v?.pA;
      mass = massOf(r.tokenProbabilities);
    } else verdict = parseVerdict(r.text, scoring.verdictFormat);
    const extra = { ...(pA === undefined ? {} : { pA }), ...(mass === undefined ? {} : { mass }) };
    if (!verdict) return { ...m, verdict: null, correct: null, status: "unparsable", ...extra };
    return { ...m, verdict, correct: verdict === m.chosen, status: "ok", ...extra };
  });
}

function summarise(items: RmScoredItem[], seed: number): RmDimensionReport {
  const ok = items.filter((i) => i.status === "ok");
  // One unit per preference pair (user, rejected member): the mean over its parsed orders, so a
  // pair's two orders are resampled together in the bootstrap.
  const byPair = new Map<string, RmScoredItem[]>();
  for (const i of ok) {
    const k = `${i.userId}|${i.rejectedMember}`;
    byPair.set(k, [...(byPair.get(k) ?? []), i]);
  }
  const units = [...byPair.values()].map((g) => mean(g.map((i) => (i.correct ? 1 : 0))));
  const orders = new Set(items.map((i) => i.order));
  const accByOrder = [...orders].map((o) => ok.filter((i) => i.order === o)).filter((g) => g.length > 0).map((g) => mean(g.map((i) => (i.correct ? 1 : 0))));
  const both = [...byPair.values()].filter((g) => g.length === 2);
  const ci = bootstrapMeanCI(units, { seed });
  const probs = ok.filter((i) => i.pA !== undefined).map((i) => (i.chosen === "A" ? i.pA! : 1 - i.pA!));
  const rep: RmDimensionReport = {
    accuracy: accByOrder.length ? mean(accByOrder) : NaN,
    ci: [ci.lo, ci.hi],
    n: ok.length,
    consistentAccuracy: orders.size === 2 && both.length ? mean(both.map((g) => (g.every((i) => i.correct) ? 1 : 0))) : null,
    aRate: ok.length ? mean(ok.map((i) => (i.verdict === "A" ? 1 : 0))) : NaN,
    unparsable: items.filter((i) => i.status === "unparsable").length,
    failed: items.filter((i) => i.status === "failed").length,
    missing: items.filter((i) => i.status === "missing").length,
    truncated: items.filter((i) => i.historyDropped > 0).length,
  };
  if (probs.length) rep.meanChosenProbability = mean(probs);
  const masses = items.filter((i) => i.mass !== undefined).map((i) => i.mass!);
  if (masses.length) rep.meanVerdictMass = mean(masses);
  return rep;
}

export function scoreRm(meta: RmItem[], results: Map<string, ResultLine>, mode: VerdictMode, seed = 0, scoring: RmScoring = {}): RmReport {
  const scored = scoreItems(meta, results, mode, scoring);
  const byDimension: RmReport["byDimension"] = {};
  for (const d of DIMENSIONS) {
    const items = scored.filter((i) => i.dimension === d);
    if (items.length) byDimension[d] = summarise(items, seed);
  }
  return { byDimension, overall: summarise(scored, seed) };
}
