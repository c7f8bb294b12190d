/**
 * Train examples for fine-tuning (paper section 3.3 / Appendix A): each train preference pair
 * becomes an example whose input is a feedback history plus the pair's instruction.
 *
 * - History retrieval: the builder's own rule (src/core/data/history-index.ts) over the
 *   dataset's train pairs: pairs whose chosen side has the example's subdimension on the example's
 *   dimension and whose rejected side states a different preference there, ranked by TF-IDF
 *   cosine of the chosen sides' `preference + description`, ties broken by the seeded hash, at
 *   most one pair per train instruction, and never from the example's own instruction (so never
 *   the example's own pair). Chronological order as in users.jsonl: the most similar pair last.
 *   The index is rebuilt from the train triples and pairs: the three rows of a triple are its
 *   members' preference sets, registered in member order, exactly as the builder registered them, so idf and tie-breaks
 *   match the builder's. Tie-break stream: `train:<pairId>.<dimension>`.
 * - Dimension: an example is one (pair, dimension) with the pair expressing the dimension (its two
 *   sides state different preferences there). `perPair: "one"` (default) picks one such dimension
 *   per pair with the seeded RNG (stream `dimension:<pairId>`); `"all"` emits one per dimension.
 *   A pair that expresses none of the requested dimensions gives no example (counted).
 * - Split: by train instruction (triple), never splitting a triple's pairs across parts. The triples
 *   are shuffled with the seeded RNG (stream `finetune-split`) and the first round(split x N) form
 *   part "a" (the paper's 1/3 for SFT and the reward model), the rest part "b" (DPO).
 *
 * Memory: the train triples are read once to build the index (texts are dropped; the index is
 * sealed: its postings built, the per-row documents freed), and example and history texts are
 * read back through the dataset reader's index, so a full-scale dataset streams.
 */
import * as path from "node:path";
import { HistoryIndex } from "../data/history-index.js";
import { Dataset, historyEntryOf } from "../data/dataset.js";
import { DataError, DIMENSIONS, type Dimension, type PreferenceEntry } from "../data/schema.js";
import { DATASET_FILES, type HistoryEntry, type Pair, type UserPreference } from "../data/types.js";
import { Rng } from "../util/rng.js";

export type Part = "a" | "b";
export type PartChoice = Part | "all";
export type PerPair = "one" | "all";

/** The paper's split: one third of the train instructions for SFT / the reward model, the rest for DPO. */
export const DEFAULT_SPLIT = 1 / 3;

export interface ExampleOptions {
  /** Seed for the dimension choice, the split and history tie-breaks (default: the dataset's seed). */
  seed?: number;
  /** Pairs per history (default: the dataset's history size, the paper's T=10). */
  historySize?: number;
  dimensions?: Dimension[];
  perPair?: PerPair;
  /** Fraction of train instructions in part "a" (default 1/3). */
  split?: number;
  /** Which part to produce (default all). */
  part?: PartChoice;
}

/** The options that decide which examples exist and what their histories are (recorded by exports and rs runs). */
export interface ResolvedExampleOptions {
  seed: number;
  historySize: number;
  dimensions: Dimension[];
  perPair: PerPair;
  split: number;
  part: PartChoice;
}

export interface TrainExample {
  /** `<pairId>.<dimension>` */
  id: string;
  pairId: string;
  tripleId: string;
  dimension: Dimension;
  part: Part;
  prompt: string;
  chosen: string;
  rejected: string;
  /** The chosen side's preference on the dimension (what the history expresses). */
  preference: UserPreference;
  /** Oldest first; the most similar pair is last (right before the instruction). */
  history: HistoryEntry[];
}


/** Parses a split given as a fraction ("0.25") or a ratio ("1/3"). */
export function parseSplit(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(\d+(?:\.\d+)?)\s*$/.exec(text);
  const v = m ? Number(m[1]) / Number(m[2]) : Number(text);
  if (!Number.isFinite(v) || v < 0 || v > 1 || text.trim() === "") throw new Error(`split must be a fraction in [0, 1] such as 0.33 or 1/3, got "${text}"`);
  return v;
}

export function resolveExampleOptions(opts: ExampleOptions, manifest: { seed: number; historySize: number }): ResolvedExampleOptions {
  const seed = opts.seed ?? manifest.seed;
  const historySize = opts.historySize ?? manifest.historySize;
  const split = opts.split ?? DEFAULT_SPLIT;
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  if (!Number.isInteger(historySize) || historySize < 1) throw new Error(`history size must be a positive integer, got ${historySize}`);
  if (!(split >= 0 && split <= 1)) throw new Error(`split must be in [0, 1], got ${split}`);
  const dimensions = opts.dimensions ?? [...DIMENSIONS];
  if (dimensions.length === 0) throw new Error("at least one dimension is needed");
  return { seed, historySize, dimensions: DIMENSIONS.filter((d) => dimensions.includes(d)), perPair: opts.perPair ?? "one", split, part: opts.part ?? "all" };
}

/**
 * The train pairs of a dataset with a history index over them (see the module comment).
 * Call `close()` when done.
 */
export class TrainPairs {
  private constructor(
    readonly dataset: Dataset,
    readonly index: HistoryIndex,
    /** Per pair (index = order of pairs.jsonl). */
    private readonly ids: string[],
    /** Per triple. */
    readonly tripleIds: string[],
  ) {}

  get pairCount(): number {
    return this.ids.length;
  }

  static async open(datasetDir: string, opts: { seed: number; historySize: number }): Promise<TrainPairs> {
    const dataset = await Dataset.open(datasetDir, { keepOpen: true });
    const file = path.join(dataset.dir, DATASET_FILES.pairs);
    const index = new HistoryIndex(opts.seed, opts.historySize);
    const ids: string[] = [];
    const tripleIds: string[] = [];
    const seenTriples = new Set<string>();
    // Train triples and pairs are in the same order: walk both, registering each triple's rows
    // (its members' preference sets, in member order, as the builder did) before its pairs.
    const train = dataset.trainTriples();
    let current: string | undefined;
    try {
      for await (const ref of dataset.pairRefs()) {
        while (current !== ref.tripleId) {
          if (seenTriples.has(ref.tripleId)) throw new DataError({ file, line: ref.line }, `pairs of triple ${ref.tripleId} are not contiguous`);
          const next = await train.next();
          if (next.done) throw new DataError({ file, line: ref.line }, `pair ${ref.id}: triple ${ref.tripleId} is not among the train triples (in order)`);
          const t = next.value;
          for (const m of t.members) index.addRow(m.preference_set);
          index.addTriple("");
          tripleIds.push(t.id);
          seenTriples.add(t.id);
          current = t.id;
        }
        const t = tripleIds.length - 1;
        index.addPair({ triple: t, chosenRow: 3 * t + ref.chosenMember, rejectedRow: 3 * t + ref.rejectedMember });
        ids.push(ref.id);
      }
    } finally {
      await train.return(undefined);
    }
    index.seal(); // every candidate bucket built now; the per-row documents are freed
    return new TrainPairs(dataset, index, ids, tripleIds);
  }

  async readPair(p: number): Promise<Pair> {
    const pair = await this.dataset.pair(this.ids[p]!);
    if (!pair) throw new DataError({ file: this.dataset.dir }, `pair ${this.ids[p]} is not in the dataset`);
    return pair;
  }

  pairId(p: number): string {
    return this.ids[p]!;
  }

  /** Part of each triple (index = triple index) for a split fraction and seed. */
  splitParts(split: number, seed: number): Part[] {
    const n = this.tripleIds.length;
    const order = new Rng(seed, "finetune-split").shuffle(Array.from({ length: n }, (_, i) => i));
    const inA = Math.round(split * n);
    const parts = new Array<Part>(n).fill("b");
    for (let i = 0; i < inA; i++) parts[order[i]!] = "a";
    return parts;
  }

  /** The feedback history of a train example: oldest first, never from the example's own instruction. */
  async history(p: number, dimension: Dimension, entry: PreferenceEntry, key: string): Promise<HistoryEntry[]> {
    const triple = this.index.pairs[p]!.triple;
    const picked = this.index.retrieve({ key, dimension, entry, excludePrompts: new Set(), excludeTriples: new Set([triple]) }).reverse();
    const history: HistoryEntry[] = [];
    for (const { pair, score } of picked) history.push(historyEntryOf(await this.readPair(pair), dimension, score));
    return history;
  }

  async close(): Promise<void> {
    await this.dataset.close();
  }
}

export interface ExampleStats {
  pairs: number;
  /** Pairs of the selected part(s). */
  pairsInParts: number;
  /** Pairs that express none of the requested dimensions. */
  noDimension: number;
  examples: number;
  /** Examples whose history has fewer pairs than the history size. */
  shortHistories: number;
  triples: { a: number; b: number };
}

/** A train pair chosen for examples: its index, id, part and the dimensions it gives examples on. */
interface SelectedPair {
  p: number;
  pairId: string;
  part: Part;
  dims: Dimension[];
}

/**
 * The pairs of the selected part(s) that give examples, in pairs.jsonl order, without reading
 * their texts or retrieving histories. `stats` gets the pair counts (not the examples).
 */
function* selectedPairs(train: TrainPairs, opts: ResolvedExampleOptions, stats: ExampleStats): Generator<SelectedPair> {
  const parts = train.splitParts(opts.split, opts.seed);
  stats.pairs = train.pairCount;
  stats.triples = { a: parts.filter((p) => p === "a").length, b: parts.filter((p) => p === "b").length };
  for (let p = 0; p < train.pairCount; p++) {
    const triple = train.index.pairs[p]!.triple;
    const part = parts[triple]!;
    if (opts.part !== "all" && opts.part !== part) continue;
    stats.pairsInParts++;
    const pairId = train.pairId(p);
    const eligible = opts.dimensions.filter((d) => train.index.expresses(p, d));
    if (eligible.length === 0) {
      stats.noDimension++;
      continue;
    }
    const dims = opts.perPair === "all" ? eligible : [eligible[new Rng(opts.seed, `dimension:${pairId}`).int(eligible.length)]!];
    yield { p, pairId, part, dims };
  }
}

/** How many examples `trainExamples` yields for these options (cheap: no texts, no retrieval). */
export function countTrainExamples(train: TrainPairs, opts: ResolvedExampleOptions): number {
  let n = 0;
  for (const s of selectedPairs(train, opts, emptyExampleStats())) n += s.dims.length;
  return n;
}

/**
 * The train examples of the selected part(s), in pairs.jsonl order (and dimension order within
 * a pair). `stats` is filled in as the generator runs.
 */
export async function* trainExamples(train: TrainPairs, opts: ResolvedExampleOptions, stats: ExampleStats): AsyncGenerator<TrainExample> {
  for (const { p, pairId, part, dims } of selectedPairs(train, opts, stats)) {
    const pair = await train.readPair(p);
    for (const d of dims) {
      const entry = pair.chosenPreferenceSet.find((e) => e.dimension === d)!;
      const id = `${pairId}.${d}`;
      const history = await train.history(p, d, entry, `train:${id}`);
      if (history.length < opts.historySize) stats.shortHistories++;
      stats.examples++;
      yield {
        id,
        pairId,
        tripleId: pair.tripleId,
        dimension: d,
        part,
        prompt: pair.prompt,
        chosen: pair.chosen,
        rejected: pair.rejected,
        preference: { subdimension: entry.subdimension, preference: entry.preference, description: entry.description },
        history,
      };
    }
  }
}

export function emptyExampleStats(): ExampleStats {
  return { pairs: 0, pairsInParts: 0, noDimension: 0, examples: 0, shortHistories: 0, triples: { a: 0, b: 0 } };
}
