/**
 * The counterfactual builder (paper section 3.1): MultiFacet rows -> test triples, train
 * preference pairs, and synthetic users with retrieved feedback histories.
 *
 * Memory: train rows are streamed twice (pass 1 counts rows per instruction, reading only the
 * `prompt` column of Parquet files; pass 2 validates rows, holds each instruction's rows only
 * until its group is complete, and streams pairs.jsonl to disk). Retrieval keeps compact typed
 * arrays of the preference texts; history texts are read back from pairs.jsonl by byte offset.
 * Everything is written into a temp directory that is renamed into place at the end, so a
 * failed build leaves no partial output and never destroys an earlier one.
 */
import { createHash } from "node:crypto";
import { mkdir, open, rename, rm, stat, writeFile, type FileHandle } from "node:fs/promises";
import * as path from "node:path";
import { readRawRows, resolveInputs, sha256File } from "./loaders.js";
import { DataError, DIMENSIONS, validateRow, type Dimension, type PreferenceEntry, type TestRow, type TrainRow } from "./schema.js";
import {
  DATASET_FILES,
  type HistoryEntry,
  type HistoryMode,
  type Manifest,
  type Pair,
  type PairsMode,
  type ShortHistory,
  type SyntheticUser,
  type Triple,
} from "./types.js";
import { Rng } from "../util/rng.js";
import { tokenize } from "../util/text.js";

export interface BuildOptions {
  /** File, directory of shards, or glob. */
  train: string;
  test: string;
  out: string;
  historySize?: number;
  historyMode?: HistoryMode;
  pairs?: PairsMode;
  seed?: number;
  /** Replace an existing output directory (only once the new one is complete). */
  force?: boolean;
  onProgress?: (event: { phase: string; done: number; total?: number }) => void;
}

export interface BuildResult {
  out: string;
  manifest: Manifest;
}

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
export const tripleId = (split: "train" | "test", prompt: string) => `${split === "train" ? "tr" : "te"}-${sha(prompt).slice(0, 16)}`;
export const pairId = (tid: string, chosen: number, rejected: number) => `${tid}.${chosen}v${rejected}`;
export const userId = (tid: string, member: number, d: Dimension) => `${tid}.${member}.${d}`;

const norm = (s: string) => s.trim().replace(/\s+/g, " ").toLowerCase();
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

/** A growable Int32Array / Float64Array. */
class Grow<T extends Int32Array | Float64Array> {
  length = 0;
  constructor(public data: T) {}
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new (this.data.constructor as new (n: number) => T)(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  get(i: number): number {
    return this.data[i]!;
  }
}

/** Buffered append-only writer that tracks byte offsets of the lines it writes. */
class LineWriter {
  private chunks: string[] = [];
  private pending = 0;
  offset = 0;
  private constructor(private fh: FileHandle) {}
  static async open(file: string): Promise<LineWriter> {
    return new LineWriter(await open(file, "w"));
  }
  /** Appends one line; returns [byte offset, byte length] of the line (without newline). */
  async write(line: string): Promise<[number, number]> {
    const len = Buffer.byteLength(line);
    const at = this.offset;
    this.chunks.push(line, "\n");
    this.offset += len + 1;
    this.pending += len + 1;
    if (this.pending > 4 << 20) await this.flush();
    return [at, len];
  }
  /** Hands the buffered lines to the file; the write overlaps with the caller's next work. */
  async flush(): Promise<void> {
    if (this.chunks.length === 0) return;
    const data = this.chunks.join("");
    this.chunks = [];
    this.pending = 0;
    await this.inFlight;
    this.inFlight = this.fh.write(data).then(() => undefined);
  }
  private inFlight: Promise<void> = Promise.resolve();
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.flush();
      await this.inFlight;
    } finally {
      await this.fh.close();
    }
  }
  private closed = false;
}

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
  private readonly start = new Grow(new Int32Array(1024)); // doc -> first term slot
  private readonly termIds = new Grow(new Int32Array(4096));
  private readonly termCounts = new Grow(new Int32Array(4096));
  private df = new Int32Array(1024); // term id -> documents containing it
  docs = 0;

  constructor(private readonly terms: Interner) {
    this.start.push(0);
  }

  /** Adds a row's preference entry as the next document. */
  add(entry: PreferenceEntry): void {
    const counts = new Map<number, number>();
    for (const t of tokenize(prefText(entry))) {
      const tid = this.terms.id(t);
      counts.set(tid, (counts.get(tid) ?? 0) + 1);
    }
    for (const [tid, c] of counts) {
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

  idf(term: number): number {
    return Math.log((1 + this.docs) / (1 + (this.df[term] ?? 0))) + 1;
  }

  /** Calls fn(term, weight) for the L2-normalised TF-IDF weights (sublinear tf) of a document. */
  forEachWeight(doc: number, fn: (term: number, weight: number) => void): void {
    const a = this.start.get(doc);
    const b = this.start.get(doc + 1);
    let n = 0;
    for (let i = a; i < b; i++) {
      const w = (1 + Math.log(this.termCounts.get(i))) * this.idf(this.termIds.get(i));
      n += w * w;
    }
    n = Math.sqrt(n) || 1;
    for (let i = a; i < b; i++) fn(this.termIds.get(i), ((1 + Math.log(this.termCounts.get(i))) * this.idf(this.termIds.get(i))) / n);
  }

  /** Query vector for free text, in the same space. */
  query(text: string): Map<number, number> {
    const counts = new Map<number, number>();
    for (const t of tokenize(text)) {
      const tid = this.terms.ids.get(t);
      if (tid !== undefined) counts.set(tid, (counts.get(tid) ?? 0) + 1);
    }
    const q = new Map<number, number>();
    let n = 0;
    for (const [t, c] of counts) {
      const w = (1 + Math.log(c)) * this.idf(t);
      q.set(t, w);
      n += w * w;
    }
    n = Math.sqrt(n);
    if (n > 0) for (const [t, w] of q) q.set(t, w / n);
    return q;
  }
}

/** Candidate pairs of one (dimension, subdimension), with an inverted index over their chosen sides. */
class Bucket {
  readonly pairs: number[] = [];
  private index?: { postings: Map<number, { at: Int32Array; w: Float64Array }> };

  /** `docOf(pair)` is the corpus document of the pair's chosen side. */
  build(corpus: DimensionCorpus, docOf: (p: number) => number): NonNullable<Bucket["index"]> {
    if (this.index) return this.index;
    const lists = new Map<number, { at: number[]; w: number[] }>();
    this.pairs.forEach((p, i) => {
      corpus.forEachWeight(docOf(p), (t, w) => {
        let e = lists.get(t);
        if (!e) lists.set(t, (e = { at: [], w: [] }));
        e.at.push(i);
        e.w.push(w);
      });
    });
    const postings = new Map<number, { at: Int32Array; w: Float64Array }>();
    for (const [t, e] of lists) postings.set(t, { at: Int32Array.from(e.at), w: Float64Array.from(e.w) });
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
  private readonly rowSub = Object.fromEntries(DIMENSIONS.map((d) => [d, new Grow(new Int32Array(1024))])) as Record<Dimension, Grow<Int32Array>>;
  private readonly rowPref = Object.fromEntries(DIMENSIONS.map((d) => [d, new Grow(new Int32Array(1024))])) as Record<Dimension, Grow<Int32Array>>;
  readonly pairs: PairMeta[] = [];
  /** Per train triple: its prompt when retrieval must be able to exclude it by text, else "". */
  private readonly triplePrompts: string[] = [];
  private rowCount = 0;
  private buckets?: Record<Dimension, Map<number, Bucket>>;

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

  /** Registers one train row (its preference entry on every dimension); returns its row index. */
  addRow(preferenceSet: PreferenceEntry[]): number {
    for (const d of DIMENSIONS) {
      const e = preferenceSet.find((p) => p.dimension === d)!;
      this.corpora[d].add(e); // document index == row index
      this.rowSub[d].push(this.subdims[d].id(norm(e.subdimension)));
      this.rowPref[d].push(this.prefs.id(norm(e.preference)));
    }
    return this.rowCount++;
  }

  /** Registers a train triple; `exclusionPrompt` is its prompt if queries may exclude it by text, else "". */
  addTriple(exclusionPrompt: string): number {
    this.triplePrompts.push(exclusionPrompt);
    return this.triplePrompts.length - 1;
  }

  addPair(meta: PairMeta): number {
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

  /** The `historySize` best pairs for a query, most similar first. */
  retrieve(q: RetrievalQuery): { pair: number; score: number }[] {
    const { seed, historySize, pairs } = this;
    const trainTriplePrompts = this.triplePrompts;
    const buckets = this.bucketsFor();
    const sub = this.subdims[q.dimension].ids.get(norm(q.entry.subdimension));
    const bucket = sub === undefined ? undefined : buckets[q.dimension].get(sub);
    if (!bucket) return [];
    const corpus = this.corpora[q.dimension];
    const index = bucket.build(corpus, (p) => pairs[p]!.chosenRow);
    const n = bucket.pairs.length;
    const score = new Float64Array(n);
    for (const [t, w] of corpus.query(prefText(q.entry))) {
      const post = index.postings.get(t);
      if (!post) continue;
      for (let i = 0; i < post.at.length; i++) score[post.at[i]!]! += w * post.w[i]!;
    }
    // Scores are compared at 1e-6 so that equal texts tie exactly; ties go to the seeded RNG.
    for (let i = 0; i < n; i++) score[i] = Math.round(score[i]! * 1e6) / 1e6;
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
    // Bounded top-k selection (k leaves room for exclusions); a full sort only if they eat it.
    const limit = Math.min(n, historySize * 4 + 16);
    const top: number[] = [];
    for (let i = 0; i < limit; i++) top.push(i);
    top.sort((a, b) => better(b, a));
    let floor = limit > 0 ? score[top[limit - 1]!]! : 0;
    for (let i = limit; i < n; i++) {
      if (score[i]! < floor || better(i, top[limit - 1]!) <= 0) continue;
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
    }
    let chosen = pick(top);
    if (chosen.length < historySize && limit < n) {
      chosen = pick(Array.from({ length: n }, (_, i) => i).sort((a, b) => better(b, a)));
    }
    return chosen;
  }
}

async function assertWritableTarget(out: string, force: boolean | undefined): Promise<void> {
  try {
    await stat(out);
  } catch {
    return;
  }
  if (!force) throw new DataError({ file: out }, "output directory already exists (pass --force to replace it)");
}

/** Builds a counterfactual dataset directory. */
export async function buildDataset(opts: BuildOptions): Promise<BuildResult> {
  const historySize = opts.historySize ?? 10;
  const historyMode = opts.historyMode ?? "per-example";
  const pairsMode = opts.pairs ?? "one";
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(historySize) || historySize < 1) throw new Error(`history size must be a positive integer, got ${historySize}`);
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  const progress = opts.onProgress ?? (() => {});
  const out = path.resolve(opts.out);
  await assertWritableTarget(out, opts.force);

  const trainFiles = await resolveInputs(opts.train);
  const testFiles = await resolveInputs(opts.test);

  await mkdir(path.dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp);
  try {
    const manifest = await buildInto(tmp, { trainFiles, testFiles, historySize, historyMode, pairsMode, seed, progress });
    // Swap in: an existing output is moved aside first and removed only after the new one is in place.
    let old: string | undefined;
    try {
      await stat(out);
      old = `${out}.old-${process.pid}-${Date.now()}`;
      await rename(out, old);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    await rename(tmp, out);
    if (old) await rm(old, { recursive: true, force: true });
    return { out, manifest };
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

interface BuildContext {
  trainFiles: string[];
  testFiles: string[];
  historySize: number;
  historyMode: HistoryMode;
  pairsMode: PairsMode;
  seed: number;
  progress: NonNullable<BuildOptions["onProgress"]>;
}

async function buildInto(dir: string, ctx: BuildContext): Promise<Manifest> {
  const { historySize, historyMode, pairsMode, seed, progress } = ctx;
  const inputs: Manifest["inputs"] = [];
  const skippedSizes = { train: {} as Record<string, number>, test: {} as Record<string, number> };

  // ---- Test split: small, held in memory.
  const testGroups = new Map<string, TestRow[]>();
  let testRows = 0;
  for (const file of ctx.testFiles) {
    let rows = 0;
    for await (const { raw, loc } of readRawRows(file)) {
      const row = validateRow("test", raw, loc);
      let g = testGroups.get(row.prompt);
      if (!g) testGroups.set(row.prompt, (g = []));
      g.push(row);
      rows++;
    }
    testRows += rows;
    inputs.push({ split: "test", path: file, sha256: await sha256File(file), rows });
  }
  const triples: Triple[] = [];
  let skippedTestGroups = 0;
  let skippedTestRows = 0;
  for (const [prompt, rows] of testGroups) {
    if (rows.length !== 3) {
      skippedTestGroups++;
      skippedTestRows += rows.length;
      skippedSizes.test[rows.length] = (skippedSizes.test[rows.length] ?? 0) + 1;
      continue;
    }
    triples.push({
      id: tripleId("test", prompt),
      prompt,
      members: rows.map((r) => ({ system: r.system, preference_set: r.preference_set, response: r.reference_answer, rubrics: r.rubrics })) as Triple["members"],
    });
  }
  const testPrompts = new Set(triples.map((t) => t.prompt));

  // ---- Train pass 1: rows per instruction (Parquet: only the prompt column is decoded).
  const groupSize = new Map<string, number>();
  let seen = 0;
  for (const file of ctx.trainFiles) {
    for await (const { raw, loc } of readRawRows(file, ["prompt"])) {
      const prompt = (raw as { prompt?: unknown } | null)?.prompt;
      if (typeof prompt !== "string") {
        validateRow("train", raw, loc); // throws the precise error
        throw new DataError(loc, "must be a string", "prompt");
      }
      groupSize.set(prompt, (groupSize.get(prompt) ?? 0) + 1);
      if (++seen % 20000 === 0) progress({ phase: "counting train rows", done: seen });
    }
  }

  // ---- Train pass 2: validate, emit pairs as each triple completes.
  const index = new HistoryIndex(seed, historySize);
  const pairOffsets = new Grow(new Float64Array(1024));
  const pairLengths = new Grow(new Int32Array(1024));
  const pending = new Map<string, TrainRow[]>();
  const pairsWriter = await LineWriter.open(path.join(dir, DATASET_FILES.pairs));
  let trainRows = 0;
  let skippedTrainGroups = 0;
  let skippedTrainRows = 0;

  const emitTriple = async (prompt: string, rows: TrainRow[], firstRow: number) => {
    const tid = tripleId("train", prompt);
    // The prompt is only needed for exclusion checks against test prompts.
    const tIdx = index.addTriple(testPrompts.has(prompt) ? prompt : "");
    const rng = new Rng(seed, `pairs:${tid}`);
    // Each response and preference set goes into several lines: serialise it once.
    const promptJson = JSON.stringify(prompt);
    const outputJson = rows.map((r) => JSON.stringify(r.output));
    const prefJson = rows.map((r) => JSON.stringify(r.preference_set));
    for (let j = 0; j < 3; j++) {
      const others = [0, 1, 2].filter((k) => k !== j);
      const rejected = pairsMode === "all" ? others : [others[rng.int(2)]!];
      for (const k of rejected) {
        // Field order and content as the Pair type (src/core/data/types.ts).
        const line =
          `{"id":${JSON.stringify(pairId(tid, j, k))},"prompt":${promptJson},"chosen":${outputJson[j]},"rejected":${outputJson[k]},` +
          `"chosenPreferenceSet":${prefJson[j]},"rejectedPreferenceSet":${prefJson[k]},"tripleId":"${tid}","chosenMember":${j},"rejectedMember":${k}}`;
        const [at, len] = await pairsWriter.write(line);
        pairOffsets.push(at);
        pairLengths.push(len);
        index.addPair({ triple: tIdx, chosenRow: firstRow + j, rejectedRow: firstRow + k });
      }
    }
  };

  try {
    for (const file of ctx.trainFiles) {
      let rows = 0;
      for await (const { raw, loc } of readRawRows(file)) {
        const row = validateRow("train", raw, loc);
        rows++;
        const size = groupSize.get(row.prompt) ?? 0;
        if (size !== 3) {
          continue; // counted below from groupSize
        }
        let g = pending.get(row.prompt);
        if (!g) pending.set(row.prompt, (g = []));
        g.push(row);
        if (g.length === 3) {
          pending.delete(row.prompt);
          // Register the three rows contiguously so pairs can address them by index.
          const first = index.rows;
          for (const r of g) index.addRow(r.preference_set);
          await emitTriple(row.prompt, g, first);
        }
        if ((trainRows + rows) % 20000 === 0) progress({ phase: "building pairs", done: trainRows + rows, total: seen });
      }
      trainRows += rows;
      inputs.push({ split: "train", path: file, sha256: await sha256File(file), rows });
    }
  } finally {
    await pairsWriter.close();
  }
  for (const size of groupSize.values()) {
    if (size !== 3) {
      skippedTrainGroups++;
      skippedTrainRows += size;
      skippedSizes.train[size] = (skippedSizes.train[size] ?? 0) + 1;
    }
  }
  groupSize.clear();

  // ---- Users and their histories.
  const pairsFile = await open(path.join(dir, DATASET_FILES.pairs), "r");
  const readPair = async (p: number): Promise<Pair> => {
    const len = pairLengths.get(p);
    const buf = Buffer.alloc(len);
    await pairsFile.read(buf, 0, len, pairOffsets.get(p));
    return JSON.parse(buf.toString("utf8")) as Pair;
  };
  const usersWriter = await LineWriter.open(path.join(dir, DATASET_FILES.users));
  const shortHistories: ShortHistory[] = [];
  const fixedKey = (d: Dimension, e: PreferenceEntry) => JSON.stringify([d, norm(e.subdimension), norm(e.preference)]);
  const fixedExclusions = new Map<string, Set<string>>();
  if (historyMode === "fixed") {
    for (const t of triples)
      for (const m of t.members)
        for (const e of m.preference_set) {
          const k = fixedKey(e.dimension, e);
          let s = fixedExclusions.get(k);
          if (!s) fixedExclusions.set(k, (s = new Set()));
          s.add(t.prompt);
        }
  }
  const fixedHistories = new Map<string, { json: string; found: number }>();
  let users = 0;
  const totalUsers = triples.length * 3 * DIMENSIONS.length;
  try {
    for (const t of triples) {
      for (let j = 0; j < 3; j++) {
        for (const d of DIMENSIONS) {
          const entry = t.members[j]!.preference_set.find((e) => e.dimension === d)!;
          const id = userId(t.id, j, d);
          const historyFor = async (q: RetrievalQuery) => {
            // Chronological order: the most similar pair is the most recent, right before the new
            // instruction; a token budget drops the oldest (least similar) first.
            const picked = index.retrieve(q).reverse();
            const history: HistoryEntry[] = [];
            for (const { pair, score } of picked) {
              const p = await readPair(pair);
              const pe = p.chosenPreferenceSet.find((e) => e.dimension === d)!;
              history.push({
                pairId: p.id,
                prompt: p.prompt,
                chosen: p.chosen,
                rejected: p.rejected,
                preference: { subdimension: pe.subdimension, preference: pe.preference, description: pe.description },
                score,
              });
            }
            return { json: JSON.stringify(history), found: history.length };
          };
          let h: { json: string; found: number };
          if (historyMode === "fixed") {
            const k = fixedKey(d, entry);
            let cached = fixedHistories.get(k);
            if (!cached) {
              cached = await historyFor({ key: k, dimension: d, entry, excludePrompts: fixedExclusions.get(k)! });
              fixedHistories.set(k, cached);
            }
            h = cached;
          } else {
            h = await historyFor({ key: id, dimension: d, entry, excludePrompts: new Set([t.prompt]) });
          }
          if (h.found < historySize) shortHistories.push({ userId: id, found: h.found, wanted: historySize });
          const head: Omit<SyntheticUser, "history"> = {
            id,
            tripleId: t.id,
            member: j,
            dimension: d,
            preference: { subdimension: entry.subdimension, preference: entry.preference, description: entry.description },
          };
          await usersWriter.write(`${JSON.stringify(head).slice(0, -1)},"history":${h.json}}`);
          users++;
          if (users % 200 === 0) progress({ phase: "retrieving histories", done: users, total: totalUsers });
        }
      }
    }
  } finally {
    await usersWriter.close();
    await pairsFile.close();
  }

  const triplesWriter = await LineWriter.open(path.join(dir, DATASET_FILES.triples));
  for (const t of triples) await triplesWriter.write(JSON.stringify(t));
  await triplesWriter.close();

  const manifest: Manifest = {
    version: 1,
    seed,
    historySize,
    historyMode,
    pairsMode,
    inputs,
    counts: {
      trainRows,
      testRows,
      trainTriples: index.triples,
      testTriples: triples.length,
      trainPairs: index.pairs.length,
      users,
    },
    skipped: {
      trainGroups: skippedTrainGroups,
      trainRows: skippedTrainRows,
      testGroups: skippedTestGroups,
      testRows: skippedTestRows,
      groupSizes: skippedSizes,
    },
    shortHistories,
  };
  await writeFile(path.join(dir, DATASET_FILES.manifest), JSON.stringify(manifest, null, 2) + "\n");
  return manifest;
}
