/**
 * The history retrieval of the builder (paper section 3.1), as a reusable index over train rows
 * and pairs: compact typed arrays of the preference texts, per-(dimension, subdimension) buckets
 * of candidate pairs with an inverted index over their chosen sides. The fine-tuning exporters
 * retrieve train examples' histories with it (src/core/finetune).
 */
import { DIMENSIONS, type Dimension, type PreferenceEntry } from "./schema.js";
import { normText } from "./contrast.js";
import { Rng } from "../util/rng.js";
import { Grow } from "../util/grow.js";
import { TermCounts, tokenize } from "../util/text.js";

const prefText = (e: PreferenceEntry) => `${e.preference} ${e.description}`;

/** Interns strings to dense integer ids. */
class Interner {
  readonly ids = new Map<string, number>();
  readonly values: string[] = [];
  id(s: string): number {
    let i = this.ids.get(s);
    if (i === undefined) {
      i = this.values.length;
      this.ids.set(s, i);
      this.values.push(s);
    }
    return i;
  }
}

/** 1 + ln(c) for small term counts (the same doubles as computing them: sublinear tf). */
const LOG_TF = Float64Array.from({ length: 64 }, (_, c) => 1 + Math.log(c));
const logTf = (c: number) => (c < 64 ? LOG_TF[c]! : 1 + Math.log(c));

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * Per-dimension retrieval corpus: one document per train row (its preference entry on the
 * dimension, `preference + description`), stored as flat typed arrays (CSR) so a full-scale
 * corpus costs a few bytes per term instead of an object per document.
 */
class DimensionCorpus {
  private readonly start = new Grow<Int32Array<ArrayBufferLike>>(new Int32Array(1024)); // doc -> first term slot
  private readonly termIds = new Grow<Int32Array<ArrayBufferLike>>(new Int32Array(4096));
  private readonly termCounts = new Grow<Int32Array<ArrayBufferLike>>(new Int32Array(4096));
  private df: Int32Array<ArrayBufferLike> = new Int32Array(1024); // term id -> documents containing it
  private frozen?: FrozenCorpus;
  private released = false;
  docs = 0;

  constructor(private readonly terms: Interner) {
    this.start.push(0);
  }

  private static readonly scratch = new TermCounts();

  /** Adds a row's preference entry as the next document. */
  add(entry: PreferenceEntry): void {
    if (this.released) throw new Error("history index: rows cannot be added after seal()");
    this.frozen = undefined; // idf changes
    const tokens = tokenize(prefText(entry));
    const tc = DimensionCorpus.scratch.reset();
    for (const t of tokens) tc.add(this.terms.id(t));
    this.addCounts(tc.k, tc.tids, 0, tc.counts, 0);
  }

  /** Adds the next document from its k distinct term ids and their counts (first-occurrence order). */
  addCounts(k: number, ids: ArrayLike<number>, idsAt: number, counts: ArrayLike<number>, countsAt: number): void {
    for (let j = 0; j < k; j++) {
      const tid = ids[idsAt + j]!;
      const c = counts[countsAt + j]!;
      this.termIds.push(tid);
      this.termCounts.push(c);
      if (tid >= this.df.length) {
        const next = new Int32Array(Math.max(this.df.length * 2, tid + 1));
        next.set(this.df);
        this.df = next;
      }
      this.df[tid]!++;
    }
    this.start.push(this.termIds.length);
    this.docs++;
  }

  private idfOf(term: number): number {
    return Math.log((1 + this.docs) / (1 + (this.df[term] ?? 0))) + 1;
  }

  /**
   * The documents as flat arrays with every term's idf and every document's norm computed once
   * (until a document is added), so building a bucket's postings is a pass over its documents.
   */
  freeze(): FrozenCorpus {
    if (this.frozen) return this.frozen;
    const idf = Float64Array.from({ length: this.terms.values.length }, (_, t) => this.idfOf(t));
    const start = this.start.data;
    const termIds = this.termIds.data;
    const termCounts = this.termCounts.data;
    const norm = new Float64Array(this.docs);
    for (let d = 0; d < this.docs; d++) {
      let n = 0;
      for (let i = start[d]!; i < start[d + 1]!; i++) {
        const w = logTf(termCounts[i]!) * idf[termIds[i]!]!;
        n += w * w;
      }
      norm[d] = Math.sqrt(n) || 1;
    }
    return (this.frozen = { start, termIds, termCounts, idf, norm });
  }

  /**
   * Frees the documents once every bucket's postings are built (queries need only idf); adding
   * a document after that is an error.
   */
  release(): void {
    const f = this.freeze();
    this.released = true;
    this.frozen = { ...f, start: new Int32Array(0), termIds: new Int32Array(0), termCounts: new Int32Array(0), norm: new Float64Array(0) };
    this.start.data = new Int32Array(1);
    this.termIds.data = new Int32Array(1);
    this.termCounts.data = new Int32Array(1);
  }

  /** The documents and document frequencies on shared memory (the corpus keeps using them). */
  snapshot(): CorpusSnapshot {
    if (this.released) throw new Error("history index: a sealed index cannot be snapshotted (its documents are freed)");
    const df = new Int32Array(new SharedArrayBuffer(this.df.byteLength));
    df.set(this.df);
    this.df = df;
    const { idf, norm } = this.freeze();
    const shared = (a: Float64Array) => {
      const c = new Float64Array(new SharedArrayBuffer(a.byteLength));
      c.set(a);
      return c;
    };
    const snap = { start: this.start.share(), termIds: this.termIds.share(), termCounts: this.termCounts.share(), df, docs: this.docs, idf: shared(idf), norm: shared(norm) };
    // The same values, now shared.
    this.frozen = { start: snap.start, termIds: snap.termIds, termCounts: snap.termCounts, idf: snap.idf, norm: snap.norm };
    return snap;
  }

  /** Takes a snapshot's documents (shared, not copied) in place of its own. */
  restore(snap: CorpusSnapshot): void {
    this.start.adopt(snap.start);
    this.termIds.adopt(snap.termIds);
    this.termCounts.adopt(snap.termCounts);
    this.df = snap.df;
    this.docs = snap.docs;
    this.frozen = { start: snap.start, termIds: snap.termIds, termCounts: snap.termCounts, idf: snap.idf, norm: snap.norm };
  }

  /** Query vector for free text, in the same space. */
  query(text: string): Map<number, number> {
    const { idf } = this.freeze();
    const counts = new Map<number, number>();
    for (const t of tokenize(text)) {
      const tid = this.terms.ids.get(t);
      if (tid !== undefined) counts.set(tid, (counts.get(tid) ?? 0) + 1);
    }
    const q = new Map<number, number>();
    let n = 0;
    for (const [t, c] of counts) {
      const w = (1 + Math.log(c)) * idf[t]!;
      q.set(t, w);
      n += w * w;
    }
    n = Math.sqrt(n);
    if (n > 0) for (const [t, w] of q) q.set(t, w / n);
    return q;
  }
}

/**
 * A DimensionCorpus's documents (`start` has docs + 1 entries) and document frequencies, with
 * the idf per term and norm per document it had computed (so a thread it is sent to need not).
 */
interface CorpusSnapshot {
  start: Int32Array;
  termIds: Int32Array;
  termCounts: Int32Array;
  df: Int32Array;
  docs: number;
  idf: Float64Array;
  norm: Float64Array;
}

/**
 * What retrieval needs of a HistoryIndex, to rebuild it in another thread: plain values that
 * postMessage clones, the large arrays on SharedArrayBuffers (shared, not copied). Per-dimension
 * fields are in DIMENSIONS order.
 */
export interface IndexSnapshot {
  seed: number;
  historySize: number;
  terms: string[];
  subdimensions: string[][];
  preferences: string[];
  corpora: CorpusSnapshot[];
  rowSub: Int32Array[];
  rowPref: Int32Array[];
  /** Per pair: triple, chosenRow, rejectedRow. */
  pairs: Int32Array;
  triplePrompts: string[];
  rows: number;
  /** Per dimension, the candidate buckets: subdimension id and its pairs. */
  buckets: [number, Int32Array][][];
}

/**
 * A corpus's documents in CSR form (doc d's terms are slots start[d]..start[d+1]), with idf per
 * term and the L2 norm per document: the weight of slot s of doc d is
 * logTf(termCounts[s]) * idf[termIds[s]] / norm[d] (sublinear tf x idf, L2-normalised).
 */
interface FrozenCorpus {
  start: Int32Array;
  termIds: Int32Array;
  termCounts: Int32Array;
  idf: Float64Array;
  norm: Float64Array;
}

const weightAt = (c: FrozenCorpus, slot: number, doc: number) => (logTf(c.termCounts[slot]!) * c.idf[c.termIds[slot]!]!) / c.norm[doc]!;

/**
 * A term's postings in a bucket: positions in the bucket (ascending) and weights; for a term in
 * at least 2/3 of the bucket's documents, a weight per position instead (0 where absent: adding
 * w x 0 leaves a score as it is), which is smaller and scanned without indirection.
 */
interface Posting {
  at: Int32Array;
  w: Float64Array;
  dense?: Float64Array;
}

/** Candidate pairs of one (dimension, subdimension), with an inverted index over their chosen sides. */
class Bucket {
  readonly pairs: number[] = [];
  private index?: { postings: Map<number, Posting> };

  /**
   * `docOf(pair)` is the corpus document of the pair's chosen side; `scratch` is a zeroed
   * Int32Array with a slot per term of the corpus, left zeroed.
   */
  build(corpus: FrozenCorpus, docOf: (p: number) => number, scratch: Int32Array): NonNullable<Bucket["index"]> {
    if (this.index) return this.index;
    // Two passes straight into typed arrays (no per-term JS arrays to collect); a term's count,
    // then its posting's slot, is kept in `scratch` by term id (no map lookup per term slot).
    const { start, termIds } = corpus;
    const docs = Int32Array.from(this.pairs, docOf);
    const at = scratch;
    const terms: number[] = [];
    for (const d of docs)
      for (let s = start[d]!; s < start[d + 1]!; s++) {
        const t = termIds[s]!;
        if (at[t]!++ === 0) terms.push(t);
      }
    const n = docs.length;
    const posts = terms.map((t, k) => {
      const c = at[t]!;
      at[t] = k;
      return c * 3 >= n * 2 ? { at: new Int32Array(0), w: new Float64Array(0), dense: new Float64Array(n), fill: 0 } : { at: new Int32Array(c), w: new Float64Array(c), fill: 0 };
    });
    docs.forEach((d, i) => {
      for (let s = start[d]!; s < start[d + 1]!; s++) {
        const post = posts[at[termIds[s]!]!]!;
        if (post.dense) post.dense[i] = weightAt(corpus, s, d);
        else {
          post.at[post.fill] = i;
          post.w[post.fill++] = weightAt(corpus, s, d);
        }
      }
    });
    const postings = new Map<number, Posting>();
    terms.forEach((t, k) => {
      postings.set(t, posts[k]!);
      at[t] = 0;
    });
    this.index = { postings };
    return this.index;
  }
}

export interface PairMeta {
  triple: number; // train triple index
  chosenRow: number; // global train row index (into rowDocs)
  rejectedRow: number;
}

export interface RetrievalQuery {
  key: string; // tie-break stream
  dimension: Dimension;
  entry: PreferenceEntry;
  excludePrompts: Set<string>;
  /** Train triples (by index) never to draw from, e.g. a train example's own instruction. */
  excludeTriples?: Set<number>;
}

/**
 * The history retrieval of the builder, as a reusable index over train rows and pairs (the
 * fine-tuning exporters retrieve train examples' histories with it, src/core/finetune):
 * candidates are the pairs whose chosen side has the query's subdimension on the dimension and
 * whose rejected side states a different preference there; they are ranked by TF-IDF cosine of
 * `preference + description` texts (idf over all registered rows), ties broken by a seeded hash;
 * at most one pair per train instruction, never an excluded instruction.
 *
 * Register rows (`addRow`, three per triple, contiguously), triples (`addTriple`) and pairs
 * (`addPair`) first; the candidate buckets are built on the first `retrieve`.
 */
export class HistoryIndex {
  private readonly terms = new Interner();
  private readonly corpora = Object.fromEntries(DIMENSIONS.map((d) => [d, new DimensionCorpus(this.terms)])) as Record<Dimension, DimensionCorpus>;
  private readonly subdims = Object.fromEntries(DIMENSIONS.map((d) => [d, new Interner()])) as Record<Dimension, Interner>;
  private readonly prefs = new Interner(); // normalised preference phrase, to tell a pair's sides apart
  private readonly rowSub = Object.fromEntries(DIMENSIONS.map((d) => [d, new Grow<Int32Array<ArrayBufferLike>>(new Int32Array(1024))])) as Record<Dimension, Grow<Int32Array<ArrayBufferLike>>>;
  private readonly rowPref = Object.fromEntries(DIMENSIONS.map((d) => [d, new Grow<Int32Array<ArrayBufferLike>>(new Int32Array(1024))])) as Record<Dimension, Grow<Int32Array<ArrayBufferLike>>>;
  readonly pairs: PairMeta[] = [];
  /** Per train triple: its prompt when retrieval must be able to exclude it by text, else "". */
  private readonly triplePrompts: string[] = [];
  private rowCount = 0;
  private buckets?: Record<Dimension, Map<number, Bucket>>;
  private sealed = false;
  private scratch = new Float64Array(1024);
  private termSlots = new Int32Array(0);

  /** A zeroed Int32Array with a slot per term of `corpus` (Bucket.build leaves it zeroed). */
  private termScratch(corpus: FrozenCorpus): Int32Array {
    if (this.termSlots.length < corpus.idf.length) this.termSlots = new Int32Array(corpus.idf.length);
    return this.termSlots;
  }

  constructor(
    readonly seed: number,
    readonly historySize: number,
  ) {}

  get rows(): number {
    return this.rowCount;
  }
  get triples(): number {
    return this.triplePrompts.length;
  }

  /** Interned ids by the raw text, in front of normText (the same texts recur on many rows). */
  private readonly rawSub = Object.fromEntries(DIMENSIONS.map((d) => [d, new Map<string, number>()])) as Record<Dimension, Map<string, number>>;
  private readonly rawPref = new Map<string, number>();

  /** The id of a term (a token of `tokenize`), interned. */
  termId(term: string): number {
    return this.terms.id(term);
  }
  /** The id of a subdimension on dimension `d` (its normText), interned. */
  subdimensionId(d: Dimension, normalised: string): number {
    return this.subdims[d].id(normalised);
  }
  /** The id of a preference phrase (its normText), interned. */
  preferenceId(normalised: string): number {
    return this.prefs.id(normalised);
  }

  /**
   * Registers one train row from ids (texts tokenized and normalised elsewhere: the build's
   * decoding threads), the same as `addRow` with its texts: per dimension in DIMENSIONS order,
   * `row` holds at `at` the subdimension id, the preference id, the number k of distinct terms
   * of `preference + " " + description`, then k term ids and k counts (first-occurrence order).
   * Returns the row index.
   */
  addRowIds(row: Int32Array, at: number): number {
    for (const d of DIMENSIONS) {
      this.rowSub[d].push(row[at]!);
      this.rowPref[d].push(row[at + 1]!);
      const k = row[at + 2]!;
      this.corpora[d].addCounts(k, row, at + 3, row, at + 3 + k);
      at += 3 + 2 * k;
    }
    return this.rowCount++;
  }

  /** Registers one train row (its preference entry on every dimension); returns its row index. */
  addRow(preferenceSet: PreferenceEntry[]): number {
    if (this.sealed) throw new Error("history index: rows cannot be added after seal()");
    this.buckets = undefined; // idf changes
    for (const d of DIMENSIONS) {
      const e = preferenceSet.find((p) => p.dimension === d)!;
      this.corpora[d].add(e); // document index == row index
      let sub = this.rawSub[d].get(e.subdimension);
      if (sub === undefined) this.rawSub[d].set(e.subdimension, (sub = this.subdims[d].id(normText(e.subdimension))));
      this.rowSub[d].push(sub);
      let pref = this.rawPref.get(e.preference);
      if (pref === undefined) this.rawPref.set(e.preference, (pref = this.prefs.id(normText(e.preference))));
      this.rowPref[d].push(pref);
    }
    return this.rowCount++;
  }

  /** Registers a train triple; `exclusionPrompt` is its prompt if queries may exclude it by text, else "". */
  addTriple(exclusionPrompt: string): number {
    this.triplePrompts.push(exclusionPrompt);
    return this.triplePrompts.length - 1;
  }

  /**
   * Builds every candidate bucket's postings now and frees the per-row documents they were built
   * from (about as large again); for a reader that has registered everything and only retrieves.
   * Nothing can be added afterwards.
   */
  seal(): void {
    if (this.sealed) return;
    const buckets = this.bucketsFor();
    for (const d of DIMENSIONS) {
      const corpus = this.corpora[d].freeze();
      for (const b of buckets[d].values()) b.build(corpus, (p) => this.pairs[p]!.chosenRow, this.termScratch(corpus));
      this.corpora[d].release();
    }
    this.sealed = true;
  }

  addPair(meta: PairMeta): number {
    if (this.sealed) throw new Error("history index: pairs cannot be added after seal()");
    this.buckets = undefined;
    this.pairs.push(meta);
    return this.pairs.length - 1;
  }

  /** Whether pair `p` expresses dimension `d`: its sides state different preferences there. */
  expresses(p: number, d: Dimension): boolean {
    const meta = this.pairs[p]!;
    return this.rowPref[d].get(meta.chosenRow) !== this.rowPref[d].get(meta.rejectedRow);
  }

  // Candidate pairs per (dimension, subdimension of the chosen side). A pair whose rejected side
  // states the same preference on that dimension does not express it, so it is left out.
  private bucketsFor(): Record<Dimension, Map<number, Bucket>> {
    if (this.buckets) return this.buckets;
    const buckets = Object.fromEntries(DIMENSIONS.map((d) => [d, new Map<number, Bucket>()])) as Record<Dimension, Map<number, Bucket>>;
    const { rowPref, rowSub } = this;
    this.pairs.forEach((p, i) => {
      for (const d of DIMENSIONS) {
        if (rowPref[d].get(p.chosenRow) === rowPref[d].get(p.rejectedRow)) continue;
        const s = rowSub[d].get(p.chosenRow);
        let b = buckets[d].get(s);
        if (!b) buckets[d].set(s, (b = new Bucket()));
        b.pairs.push(i);
      }
    });
    this.buckets = buckets;
    return buckets;
  }

  /**
   * Everything retrieval needs, to rebuild this index in another thread (`fromSnapshot`): its
   * typed arrays move onto shared memory, which this index keeps using. Not on a sealed index.
   */
  snapshot(): IndexSnapshot {
    if (this.sealed) throw new Error("history index: a sealed index cannot be snapshotted (its documents are freed)");
    const pairs = new Int32Array(new SharedArrayBuffer(this.pairs.length * 12));
    this.pairs.forEach((p, i) => {
      pairs[3 * i] = p.triple;
      pairs[3 * i + 1] = p.chosenRow;
      pairs[3 * i + 2] = p.rejectedRow;
    });
    return {
      seed: this.seed,
      historySize: this.historySize,
      terms: this.terms.values,
      subdimensions: DIMENSIONS.map((d) => this.subdims[d].values),
      preferences: this.prefs.values,
      corpora: DIMENSIONS.map((d) => this.corpora[d].snapshot()),
      rowSub: DIMENSIONS.map((d) => this.rowSub[d].share()),
      rowPref: DIMENSIONS.map((d) => this.rowPref[d].share()),
      pairs,
      triplePrompts: this.triplePrompts,
      rows: this.rowCount,
      buckets: DIMENSIONS.map((d) => [...this.bucketsFor()[d]].map(([sub, b]): [number, Int32Array] => [sub, Int32Array.from(b.pairs)])),
    };
  }

  /** The index a snapshot was taken of (its arrays shared, not copied): it retrieves the same. */
  static fromSnapshot(snap: IndexSnapshot): HistoryIndex {
    const index = new HistoryIndex(snap.seed, snap.historySize);
    for (const t of snap.terms) index.terms.id(t);
    for (const p of snap.preferences) index.prefs.id(p);
    DIMENSIONS.forEach((d, k) => {
      for (const v of snap.subdimensions[k]!) index.subdims[d].id(v);
      index.corpora[d].restore(snap.corpora[k]!);
      index.rowSub[d].adopt(snap.rowSub[k]!);
      index.rowPref[d].adopt(snap.rowPref[k]!);
    });
    for (let i = 0; i < snap.pairs.length; i += 3) index.pairs.push({ triple: snap.pairs[i]!, chosenRow: snap.pairs[i + 1]!, rejectedRow: snap.pairs[i + 2]! });
    for (const p of snap.triplePrompts) index.triplePrompts.push(p);
    index.rowCount = snap.rows;
    index.buckets = Object.fromEntries(
      DIMENSIONS.map((d, k) => [
        d,
        new Map(
          snap.buckets[k]!.map(([sub, pairs]) => {
            const b = new Bucket();
            for (const p of pairs) b.pairs.push(p);
            return [sub, b];
          }),
        ),
      ]),
    ) as Record<Dimension, Map<number, Bucket>>;
    return index;
  }

  /** How many candidate pairs a query on (dimension, subdimension) scores: its bucket's size. */
  candidates(dimension: Dimension, subdimension: string): number {
    const sub = this.subdims[dimension].ids.get(normText(subdimension));
    return sub === undefined ? 0 : (this.bucketsFor()[dimension].get(sub)?.pairs.length ?? 0);
  }

  /** The `historySize` best pairs for a query, most similar first. */
  retrieve(q: RetrievalQuery): { pair: number; score: number }[] {
    return this.retrieveWith(q, false);
  }

  /**
   * What `retrieve` returns, by the plain method: every candidate scored from its document (not
   * through the postings), rounded, and all of them sorted. The reference the tests hold
   * `retrieve` to; O(n log n) a query, and not on a sealed index.
   */
  retrieveExhaustive(q: RetrievalQuery): { pair: number; score: number }[] {
    if (this.sealed) throw new Error("history index: retrieveExhaustive needs the documents, which seal() freed");
    return this.retrieveWith(q, true);
  }

  private retrieveWith(q: RetrievalQuery, exhaustive: boolean): { pair: number; score: number }[] {
    const { seed, historySize, pairs } = this;
    const trainTriplePrompts = this.triplePrompts;
    const buckets = this.bucketsFor();
    const sub = this.subdims[q.dimension].ids.get(normText(q.entry.subdimension));
    const bucket = sub === undefined ? undefined : buckets[q.dimension].get(sub);
    if (!bucket) return [];
    const corpus = this.corpora[q.dimension];
    const frozenCorpus = corpus.freeze();
    const index = bucket.build(frozenCorpus, (p) => pairs[p]!.chosenRow, this.termScratch(frozenCorpus));
    const n = bucket.pairs.length;
    // One scratch buffer for every query (a bucket can hold a large share of the train pairs).
    if (this.scratch.length < n) this.scratch = new Float64Array(Math.max(n, this.scratch.length * 2));
    const score = this.scratch;
    score.fill(0, 0, n);
    // Query terms in order; consecutive dense ones in one pass (each score still gets their
    // products added one after the other, in query order).
    const run: { w: number; d: Float64Array }[] = [];
    const flush = () => {
      if (run.length > 0) addDense(score, n, run);
      run.length = 0;
    };
    for (const [t, w] of corpus.query(prefText(q.entry))) {
      const post = index.postings.get(t);
      if (!post) continue;
      if (post.dense) {
        run.push({ w, d: post.dense });
        continue;
      }
      flush();
      const at = post.at;
      const pw = post.w;
      for (let i = 0; i < at.length; i++) score[at[i]!]! += w * pw[i]!;
    }
    flush();
    // Scores are compared at 1e-6 so that equal texts tie exactly; ties go to the seeded RNG.
    // Rounding is done where a score is compared (the scan below skips, unrounded, what cannot
    // reach the current floor), so a query makes one pass over the bucket, not two.
    const r6 = (i: number) => (score[i] = Math.round(score[i]! * 1e6) / 1e6);
    const salt = new Rng(seed, `history:${q.key}`).int(0x7fffffff);
    const tie = (i: number) => mix32(salt ^ Math.imul(bucket.pairs[i]!, 0x9e3779b1));
    const better = (a: number, b: number) => score[a]! - score[b]! || tie(b) - tie(a) || bucket.pairs[b]! - bucket.pairs[a]!;
    const pick = (order: number[]) => {
      const chosen: { pair: number; score: number }[] = [];
      const usedTriples = new Set<number>();
      for (const i of order) {
        const meta = pairs[bucket.pairs[i]!]!;
        if (usedTriples.has(meta.triple)) continue; // at most one pair per train instruction
        if (q.excludeTriples?.has(meta.triple)) continue; // e.g. a train example's own instruction
        const tp = trainTriplePrompts[meta.triple]!;
        if (tp && q.excludePrompts.has(tp)) continue; // never the instruction being evaluated
        usedTriples.add(meta.triple);
        chosen.push({ pair: bucket.pairs[i]!, score: score[i]! });
        if (chosen.length === historySize) break;
      }
      return chosen;
    };
    if (exhaustive) {
      // Each candidate scored on its own from its document (not from the postings): its weight
      // for each query term, in query-term order, as the postings are summed.
      const frozen = corpus.freeze();
      const qv = [...corpus.query(prefText(q.entry))];
      for (let i = 0; i < n; i++) {
        const d = pairs[bucket.pairs[i]!]!.chosenRow;
        let x = 0;
        for (const [t, w] of qv) {
          for (let s = frozen.start[d]!; s < frozen.start[d + 1]!; s++) if (frozen.termIds[s] === t) x += w * weightAt(frozen, s, d);
        }
        score[i] = x;
      }
      for (let i = 0; i < n; i++) r6(i);
      const all = pick(Array.from({ length: n }, (_, i) => i).sort((a, b) => better(b, a)));
      score.fill(0, 0, n);
      return all;
    }
    // Bounded top-k selection (k leaves room for exclusions); a full sort only if they eat it.
    const limit = Math.min(n, historySize * 4 + 16);
    const top: number[] = [];
    for (let i = 0; i < limit; i++) {
      r6(i);
      top.push(i);
    }
    top.sort((a, b) => better(b, a));
    let floor = limit > 0 ? score[top[limit - 1]!]! : 0;
    const skipBelow = () => floor - 1e-6; // rounding moves a score by at most 5e-7
    let below = skipBelow();
    for (let i = limit; i < n; i++) {
      if (score[i]! < below) continue;
      if (r6(i) < floor || better(i, top[limit - 1]!) <= 0) continue;
      let lo = 0;
      let hi = limit - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (better(i, top[mid]!) > 0) hi = mid;
        else lo = mid + 1;
      }
      top.splice(lo, 0, i);
      top.pop();
      floor = score[top[limit - 1]!]!;
      below = skipBelow();
    }
    let chosen = pick(top);
    if (chosen.length < historySize && limit < n) {
      for (let i = limit; i < n; i++) r6(i); // idempotent for those already rounded
      chosen = pick(Array.from({ length: n }, (_, i) => i).sort((a, b) => better(b, a)));
    }
    return chosen;
  }
}

/**
 * Retrieved histories of a list of queries, flat (they cross threads as three buffers): query i's
 * pairs and scores, most similar first, are at [at[i], at[i + 1]).
 */
export interface RetrievedBatch {
  at: Int32Array;
  pairs: Int32Array;
  scores: Float64Array;
}

/** `retrieve` for each query, in order, as one RetrievedBatch. */
export function retrieveBatch(index: HistoryIndex, queries: RetrievalQuery[]): RetrievedBatch {
  const at = new Int32Array(queries.length + 1);
  const pairs: number[] = [];
  const scores: number[] = [];
  queries.forEach((q, i) => {
    for (const { pair, score } of index.retrieve(q)) {
      pairs.push(pair);
      scores.push(score);
    }
    at[i + 1] = pairs.length;
  });
  return { at, pairs: Int32Array.from(pairs), scores: Float64Array.from(scores) };
}

/** Query i's histories of a RetrievedBatch, as `retrieve` returns them. */
export function retrievedAt(batch: RetrievedBatch, i: number): { pair: number; score: number }[] {
  const out: { pair: number; score: number }[] = [];
  for (let k = batch.at[i]!; k < batch.at[i + 1]!; k++) out.push({ pair: batch.pairs[k]!, score: batch.scores[k]! });
  return out;
}

/** score[i] += w x d[i] for each dense posting of `run` in turn, in one pass (up to three at a time). */
function addDense(score: Float64Array, n: number, run: { w: number; d: Float64Array }[]): void {
  let k = 0;
  for (; k + 3 <= run.length; k += 3) {
    const [a, b, c] = [run[k]!, run[k + 1]!, run[k + 2]!];
    const { w: wa, d: da } = a;
    const { w: wb, d: db } = b;
    const { w: wc, d: dc } = c;
    for (let i = 0; i < n; i++) {
      let x = score[i]!;
      x += wa * da[i]!;
      x += wb * db[i]!;
      x += wc * dc[i]!;
      score[i] = x;
    }
  }
  for (; k < run.length; k++) {
    const { w, d } = run[k]!;
    for (let i = 0; i < n; i++) score[i]! += w * d[i]!;
  }
}
