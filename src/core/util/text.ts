/** Small text utilities shared by retrieval (data) and the baseline provider. */
import type { Grow } from "./grow.js";

const STOP = new Set(
  "a an the and or of to in on for with by at as is are be was were it its this that these those from into than then so such can will would should could may might not no do does did have has had i you your we our they their he she his her them me my us".split(
    " ",
  ),
);

const NON_WORD = /[^\p{L}\p{N}]+/u;
const NOT_ASCII = /[^\x00-\x7f]/;

/** Lower-cased word tokens (runs of letters and digits), stop words removed. */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  const lower = text.toLowerCase();
  if (NOT_ASCII.test(lower)) {
    // Splitting on the runs between words is about twice as fast as matching the words.
    for (const w of lower.split(NON_WORD)) {
      if (w.length > 1 && !STOP.has(w)) out.push(w);
    }
    return out;
  }
  // ASCII (nearly every text): the same tokens from a scan of the character codes, several times
  // faster than the Unicode split (the build tokenizes four preference texts of every train row).
  let start = 0;
  const n = lower.length;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? lower.charCodeAt(i) : 0;
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39)) continue;
    if (i - start > 1) {
      const w = lower.slice(start, i);
      if (!STOP.has(w)) out.push(w);
    }
    start = i + 1;
  }
  return out;
}

export type SparseVector = Map<string, number>;

/** Term counts of a token list. */
export function termCounts(tokens: string[]): SparseVector {
  const tf: SparseVector = new Map();
  for (const t of tokens) tf.set(t, (tf.get(t) ?? 0) + 1);
  return tf;
}

/**
 * TF-IDF with smoothed idf = ln((1 + N) / (1 + df)) + 1 and sublinear tf = 1 + ln(count),
 * L2-normalised, so cosine similarity is a dot product.
 */
export class TfIdf {
  private readonly df = new Map<string, number>();
  private docs = 0;

  addDocument(tokens: Iterable<string>): void {
    this.docs++;
    for (const t of new Set(tokens)) this.df.set(t, (this.df.get(t) ?? 0) + 1);
  }

  idf(term: string): number {
    return Math.log((1 + this.docs) / (1 + (this.df.get(term) ?? 0))) + 1;
  }

  vector(tokens: string[]): SparseVector {
    const v: SparseVector = new Map();
    let norm = 0;
    for (const [t, c] of termCounts(tokens)) {
      const w = (1 + Math.log(c)) * this.idf(t);
      v.set(t, w);
      norm += w * w;
    }
    norm = Math.sqrt(norm);
    if (norm > 0) for (const [t, w] of v) v.set(t, w / norm);
    return v;
  }
}

/** Dot product of two sparse vectors (cosine when both are L2-normalised). */
export function dot(a: SparseVector, b: SparseVector): number {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let s = 0;
  for (const [t, w] of small) {
    const o = large.get(t);
    if (o !== undefined) s += w * o;
  }
  return s;
}

/**
 * The distinct term ids of one document and their counts, in first-occurrence order, in reused
 * scratch arrays (no Map per document: the build and the history index count every train row).
 * A term is found in O(1): each term id's last document and its slot there.
 */
export class TermCounts {
  tids = new Int32Array(64);
  counts = new Int32Array(64);
  /** Distinct terms so far. */
  k = 0;
  private stamp = new Int32Array(1 << 12);
  private slot = new Int32Array(1 << 12);
  private doc = 0;

  /** Starts a document. */
  reset(): this {
    this.doc++;
    this.k = 0;
    return this;
  }

  add(tid: number): void {
    if (tid >= this.stamp.length) {
      const n = Math.max(tid + 1, this.stamp.length * 2);
      const stamp = new Int32Array(n);
      stamp.set(this.stamp);
      this.stamp = stamp;
      const slot = new Int32Array(n);
      slot.set(this.slot);
      this.slot = slot;
    }
    if (this.stamp[tid] === this.doc) {
      this.counts[this.slot[tid]!]!++;
      return;
    }
    const k = this.k;
    if (k === this.tids.length) {
      const tids = new Int32Array(k * 2);
      tids.set(this.tids);
      this.tids = tids;
      const counts = new Int32Array(k * 2);
      counts.set(this.counts);
      this.counts = counts;
    }
    this.stamp[tid] = this.doc;
    this.slot[tid] = k;
    this.tids[k] = tid;
    this.counts[k] = 1;
    this.k = k + 1;
  }

  /** Appends k, the term ids and their counts to `out`. */
  appendTo(out: Grow<Int32Array>): void {
    out.push(this.k);
    for (let j = 0; j < this.k; j++) out.push(this.tids[j]!);
    for (let j = 0; j < this.k; j++) out.push(this.counts[j]!);
  }
}
