/**
 * The non-LLM baseline: a deterministic pairwise "reward model" that needs no network and no model.
 * It reads only the structured `request.task` (a PairwiseTask) and says which response the user
 * whose feedback history H is given would prefer.
 *
 * Computation (for candidates c ∈ {A, B}; L = the liked (chosen) responses of H, N = the not-liked
 * (rejected) responses of H):
 *
 *   1. Lexical term. Fit TF-IDF (src/core/util/text.ts: sublinear tf, smoothed idf, L2-normalised,
 *      stop words removed) on the documents L ∪ N ∪ {A, B}. With μ_L and μ_N the L2-normalised
 *      centroids (sum of the document vectors, normalised) of L and N:
 *        lexical(c) = cos(v(c), μ_L) − cos(v(c), μ_N)            (a zero centroid gives cos = 0)
 *   2. Style term. Six features f(x):
 *        f1 = ln(1 + characters)
 *        f2 = fraction of non-empty lines that are list items ("- ", "* ", "+ ", "• ", "1. ", "1) ")
 *        f3 = ln(1 + number of markdown headings and emphasis spans: "# " lines, **x**, __x__, *x*, _x_, `x`)
 *        f4 = ln(1 + average sentence length in words)   (sentences split at . ! ? and line breaks)
 *        f5 = question marks per sentence
 *        f6 = exclamation marks per sentence
 *      standardised over the same pool L ∪ N ∪ {A, B}: z_j(x) = (f_j(x) − mean_j) / sd_j
 *      (population sd; z_j = 0 where sd_j = 0). The direction the user likes is
 *        w = mean_{x∈L} z(x) − mean_{x∈N} z(x)
 *      and
 *        style(c) = (w · z(c)) / 6
 *   3. score(c) = lexical(c) + STYLE_WEIGHT · style(c), with STYLE_WEIGHT = 0.5.
 *   4. Verdict: A if score(A) > score(B), B if score(B) > score(A). On a tie (|difference| ≤ 1e-12, e.g.
 *      an empty history) the response with the smaller FNV-1a hash of its text wins (A if the texts are
 *      equal), so the verdict depends on the responses, never on their positions.
 *   5. tokenProbabilities: P(A) = σ(K · (score(A) − score(B))) with K = 10, P(B) = 1 − P(A).
 *
 * The text reads `Baseline: score A = 0.123, score B = 0.045. [[A]]`, the verdict format of the
 * paper's reward-model prompt (Appendix B.1). Usage is zero tokens.
 */
import { hash32 } from "../util/rng.js";
import { dot, TfIdf, tokenize, type SparseVector } from "../util/text.js";
import type { ProviderConfig } from "./types.js";
import { emptyUsage, ProviderError, type PairwiseTask, type Provider, type ProviderCapabilities, type ProviderRequest, type ProviderResponse } from "./types.js";

/** Weight of the style term against the lexical term. */
export const STYLE_WEIGHT = 0.5;
/** Slope of the logistic that turns the score difference into P(A). */
export const PROBABILITY_SLOPE = 10;
const TIE_EPSILON = 1e-12;
const FEATURES = 6;

export interface BaselineScores {
  scoreA: number;
  scoreB: number;
  lexicalA: number;
  lexicalB: number;
  styleA: number;
  styleB: number;
  verdict: "A" | "B";
  probabilityA: number;
  tie: boolean;
}

/** The six style features of a text (see the module comment). */
export function styleFeatures(text: string): number[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim().length > 0);
  const listLines = lines.filter((l) => /^\s*(?:[-*+•]|\d+[.)])\s+/.test(l)).length;
  const headings = lines.filter((l) => /^\s*#{1,6}\s/.test(l)).length;
  const emphasis =
    (text.match(/\*\*[^*\n]+\*\*|__[^_\n]+__/g)?.length ?? 0) +
    (text.replace(/\*\*[^*\n]+\*\*|__[^_\n]+__/g, "").match(/(?<![\w*])\*[^*\s][^*\n]*\*(?![\w*])|(?<![\w_])_[^_\s][^_\n]*_(?![\w_])/g)?.length ?? 0) +
    (text.match(/`[^`\n]+`/g)?.length ?? 0);
  const sentences = text
    .split(/[.!?]+|\n+/)
    .map((s) => s.trim())
    .filter((s) => /[\p{L}\p{N}]/u.test(s));
  const nSentences = Math.max(1, sentences.length);
  const words = sentences.reduce((a, s) => a + s.split(/\s+/).filter(Boolean).length, 0);
  const questions = text.match(/\?/g)?.length ?? 0;
  const exclamations = text.match(/!/g)?.length ?? 0;
  return [
    Math.log1p(text.length),
    lines.length ? listLines / lines.length : 0,
    Math.log1p(headings + emphasis),
    Math.log1p(words / nSentences),
    questions / nSentences,
    exclamations / nSentences,
  ];
}

function centroid(vectors: SparseVector[]): SparseVector {
  const c: SparseVector = new Map();
  for (const v of vectors) for (const [t, w] of v) c.set(t, (c.get(t) ?? 0) + w);
  let norm = 0;
  for (const w of c.values()) norm += w * w;
  norm = Math.sqrt(norm);
  if (norm > 0) for (const [t, w] of c) c.set(t, w / norm);
  return c;
}

function mean(rows: number[][], dims: number): number[] {
  const m = new Array<number>(dims).fill(0);
  if (rows.length === 0) return m;
  for (const r of rows) for (let j = 0; j < dims; j++) m[j]! += r[j]!;
  return m.map((x) => x / rows.length);
}

/** Scores both responses of a pairwise task (the exact computation of the module comment). */
export function scorePairwise(task: PairwiseTask): BaselineScores {
  const liked = task.history.map((h) => h.chosen);
  const notLiked = task.history.map((h) => h.rejected);
  const pool = [...liked, ...notLiked, task.responseA, task.responseB];

  // 1. lexical
  const tfidf = new TfIdf();
  const tokens = pool.map((t) => tokenize(t));
  for (const t of tokens) tfidf.addDocument(t);
  const vectors = tokens.map((t) => tfidf.vector(t));
  const nL = liked.length;
  const muL = centroid(vectors.slice(0, nL));
  const muN = centroid(vectors.slice(nL, nL + notLiked.length));
  const vA = vectors[pool.length - 2]!;
  const vB = vectors[pool.length - 1]!;
  const lexicalA = dot(vA, muL) - dot(vA, muN);
  const lexicalB = dot(vB, muL) - dot(vB, muN);

  // 2. style
  const feats = pool.map(styleFeatures);
  const mu = mean(feats, FEATURES);
  const sd = mu.map((m, j) => Math.sqrt(feats.reduce((a, f) => a + (f[j]! - m) ** 2, 0) / feats.length));
  const z = feats.map((f) => f.map((x, j) => (sd[j]! > 1e-12 ? (x - mu[j]!) / sd[j]! : 0)));
  const zL = mean(z.slice(0, nL), FEATURES);
  const zN = mean(z.slice(nL, nL + notLiked.length), FEATURES);
  const w = zL.map((x, j) => x - zN[j]!);
  const styleOf = (zc: number[]): number => zc.reduce((a, x, j) => a + x * w[j]!, 0) / FEATURES;
  const styleA = styleOf(z[pool.length - 2]!);
  const styleB = styleOf(z[pool.length - 1]!);

  // 3-5. combine, decide, probability
  const scoreA = lexicalA + STYLE_WEIGHT * styleA;
  const scoreB = lexicalB + STYLE_WEIGHT * styleB;
  const diff = scoreA - scoreB;
  const tie = Math.abs(diff) <= TIE_EPSILON;
  let verdict: "A" | "B";
  if (!tie) verdict = diff > 0 ? "A" : "B";
  else verdict = hash32(task.responseB) < hash32(task.responseA) ? "B" : "A";
  const probabilityA = tie ? 0.5 : 1 / (1 + Math.exp(-PROBABILITY_SLOPE * diff));
  return { scoreA, scoreB, lexicalA, lexicalB, styleA, styleB, verdict, probabilityA, tie };
}

export class BaselineProvider implements Provider {
  readonly id = "baseline";
  readonly model: string;
  readonly capabilities: ProviderCapabilities = { tokenProbabilities: true, structuredOnly: true };

  constructor(config: Partial<ProviderConfig> = {}) {
    this.model = config.model ?? "tfidf-style";
  }

  async call(request: ProviderRequest, opts: { signal?: AbortSignal } = {}): Promise<Omit<ProviderResponse, "cached">> {
    const started = performance.now();
    if (opts.signal?.aborted) throw new ProviderError("aborted", "baseline: request aborted");
    const task = request.task;
    if (!task || task.kind !== "pairwise") {
      throw new ProviderError("unsupported", "the baseline provider answers reward-model (pairwise) requests only");
    }
    const s = scorePairwise(task);
    const text = `Baseline: score A = ${s.scoreA.toFixed(3)}, score B = ${s.scoreB.toFixed(3)}. [[${s.verdict}]]`;
    return {
      text,
      usage: emptyUsage(),
      latencyMs: performance.now() - started,
      finishReason: "stop",
      tokenProbabilities: { A: s.probabilityA, B: 1 - s.probabilityA },
    };
  }
}
