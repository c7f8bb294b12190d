/**
 * The counterfactual build (paper section 3.1): MultiFacet rows -> test triples, train
 * preference pairs, and synthetic users with retrieved feedback histories.
 *
 * Output (format 2, see types.ts): triples.jsonl (test triples), train.jsonl (each train
 * instruction once with its three rows' preference sets and responses), pairs.jsonl (pairs by
 * member), users.jsonl (users with their histories as pair ids and scores), triples.idx,
 * train.idx and users.idx (where each line is, by id: line-index.ts) and manifest.json.
 *
 * Memory and time: train rows are streamed once: each instruction's rows are held only until its
 * group of three is complete, and train.jsonl and pairs.jsonl are streamed to disk. Only when an
 * instruction turns out to have more than three rows after its triple was written (or very many
 * rows wait for their groups) does the build start over, counting rows per instruction first
 * (reading only the `prompt` column of Parquet files); the output is the same either way.
 * Retrieval keeps compact typed arrays of the preference texts; no text is read back. The
 * decoding threads, idle once the train rows are read, retrieve a share of the users' histories
 * from a snapshot of the index (retrieval-shards.ts); the histories are the same either way.
 * Everything is written into a temp directory that is renamed into place at the end, so a
 * failed build leaves no partial output and never destroys an earlier one.
 */
import { existsSync } from "node:fs";
import { mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import * as path from "node:path";
import { contrasts, normText } from "./contrast.js";
import { Grow } from "../util/grow.js";
import { HistoryIndex, type IndexSnapshot, type RetrievalQuery, type RetrievedBatch } from "./history-index.js";
import { pairId, tripleId, userId } from "./ids.js";
import { LineWriter } from "./jsonl.js";
import { writeTrainPass, type BatchSource, type TrainPassParams, type TrainSink, type TrainWriteResult } from "./train-pass.js";
import { deserializeError, planUnits, type RowBatch, type TrainUnit } from "./train-rows.js";
import type { FromWorker, ToWorker } from "./train-worker.js";
import { formatLineIndex } from "./line-index.js";
import { readRawRows, resolveInputs, sha256File } from "./loaders.js";
import { retrieveSharded } from "./retrieval-shards.js";
import { DataError, DIMENSIONS, validateRow, type Dimension, type PreferenceEntry, type TestRow } from "./schema.js";
import {
  DATASET_FILES,
  FORMAT_VERSION,
  type HistoryMode,
  type HistoryRef,
  type Manifest,
  type PairsMode,
  type ShortHistory,
  type StoredUser,
  type Triple,
} from "./types.js";

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
    const workerFile = (await useWorkers(trainFiles)) ? trainWorkerFile() : undefined;
    const manifest = await buildInto(tmp, { trainFiles, testFiles, historySize, historyMode, pairsMode, seed, progress, workerFile });
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
  /** The decoding workers' script; undefined: decode in-process. */
  workerFile?: string;
  /** The train units, planned when the workers were started on them. */
  units?: TrainUnit[];
}

/** Train inputs below this size are decoded in-process: starting the workers would cost more. */
const SMALL_INPUT_BYTES = 16 << 20;

/** Whether to decode with worker threads: not when disabled, nor for small inputs unless a worker count is set. */
async function useWorkers(trainFiles: string[]): Promise<boolean> {
  if (workerDisabled()) return false;
  if (process.env.PREFLAB_BUILD_WORKERS) return true;
  let bytes = 0;
  for (const f of trainFiles) bytes += (await stat(f)).size;
  return bytes >= SMALL_INPUT_BYTES;
}

interface TrainPass {
  index: HistoryIndex;
  trainIds: string[];
  trainOffsets: number[];
  trainRows: number;
  inputs: Manifest["inputs"];
  skippedTrainGroups: number;
  skippedTrainRows: number;
  skippedSizes: Record<string, number>;
}

/**
 * Where the train pass's worker is: beside the bundle (dist/data-train-worker.js) or beside this
 * source file when run from source (tsx); undefined (the pass runs in-process) when neither is.
 */
export function trainWorkerFile(): string | undefined {
  for (const f of [path.join(__dirname, "data-train-worker.js"), path.join(__dirname, "train-worker.ts")]) if (existsSync(f)) return f;
  return undefined;
}

/** Set PREFLAB_BUILD_WORKER=0 to decode the train rows in-process (same output; also below SMALL_INPUT_BYTES of train input). */
const workerDisabled = () => process.env.PREFLAB_BUILD_WORKER === "0";

/**
 * Decoding worker threads: two (the main thread assembles, registers the index and hashes the
 * inputs meanwhile). Each holds about one row group's rows at a time; PREFLAB_BUILD_WORKERS
 * changes the count.
 */
export function decodeWorkerCount(units: number): number {
  const asked = Number(process.env.PREFLAB_BUILD_WORKERS);
  const n = Number.isInteger(asked) && asked > 0 ? asked : Math.min(2, Math.max(1, availableParallelism()));
  return Math.max(1, Math.min(n, units));
}

/**
 * A larger young generation than V8's default: decoding allocates row values at a high rate and
 * a row group's values live until its rows are written, so a small one copies them again and
 * again (at 64 MB about a fifth more CPU on the full-scale benchmark). 96 MB, not more: each
 * thread commits its young generation, and at 128 MB the build's peak RSS came within a few
 * percent of its 1 GB budget. A bounded old generation: a worker's live objects are one row
 * group's rows (tens of MB; the texts are outside the heap), and without a bound V8 lets garbage
 * grow to hundreds of MB per thread.
 */
const resourceLimits = { maxYoungGenerationSizeMb: 96, maxOldGenerationSizeMb: 320 };

/** Thrown by the pool when no worker thread could start (before any sent anything). */
class NoWorker extends Error {}

/**
 * The build's worker threads, started before they are needed: the batches they decode, then the
 * histories they retrieve.
 */
export interface DecodePool {
  /** Their batches in input order (once per pool: a worker's vocabulary carries on). */
  source: BatchSource;
  /** Worker threads that started (and have not failed). */
  readonly workers: number;
  /**
   * Histories of `queries` retrieved by worker `w` (once the decoding is done) from an index
   * rebuilt from `snapshot`; rejects when the worker fails or the pool is closed.
   */
  retrieve(w: number, snapshot: IndexSnapshot, queries: RetrievalQuery[]): Promise<RetrievedBatch>;
  close(): Promise<void>;
}

/**
 * Starts the decoding workers (`file`: the worker script) now, so that their start overlaps with
 * the build's other work; given the planned `units`, they start decoding them now too (the
 * pool's `source` must then be asked for the same units). The planned units are handed out in input order: a worker is given the
 * next unit when it is idle and the unit is at most `workers` units ahead of the one being taken
 * (one unit of slack: a worker that finished early need not wait for the other's unit to be
 * taken), so memory stays at a few units' rows whatever the input size.
 */
export function startDecodeWorkers(file: string, units?: TrainUnit[]): DecodePool {
  const count = decodeWorkerCount(Infinity);
  const workers: Worker[] = [];
  let closed = false;
  let heard = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const signal = () => {
    wake?.();
    wake = undefined;
  };
  const fail = (e: Error) => {
    failure ??= heard ? e : new NoWorker(e.message);
    signal();
  };
  const queued = new Map<number, RowBatch[]>();
  const idle: number[] = [];
  let assign = () => {};
  // Retrieval requests by id, each on one worker.
  const requests = new Map<number, { w: number; resolve: (b: RetrievedBatch) => void; reject: (e: Error) => void }>();
  let nextRequest = 0;
  const failRequests = (e: Error, w?: number) => {
    for (const [id, r] of requests)
      if (w === undefined || r.w === w) {
        requests.delete(id);
        r.reject(e);
      }
  };
  for (let w = 0; w < count; w++) {
    let worker: Worker;
    try {
      // A bundle's worker is plain JS and needs none of the host's flags. From source the worker is
      // TypeScript: it registers tsx (which runs this source) itself, as a worker does not inherit it.
      worker = file.endsWith(".ts")
        ? new Worker(`require(require.resolve("tsx/cjs", { paths: [${JSON.stringify(path.dirname(file))}] })); require(${JSON.stringify(file)});`, { eval: true, resourceLimits })
        : new Worker(file, { execArgv: [], resourceLimits });
    } catch (e) {
      fail(e as Error);
      break;
    }
    workers.push(worker);
    worker.on("message", (m: FromWorker) => {
      heard = true;
      if (m.type === "retrieved") {
        const r = requests.get(m.id);
        requests.delete(m.id);
        if ("error" in m) r?.reject(deserializeError(m.error));
        else r?.resolve(m.batch);
      } else if (m.type === "fatal") fail(deserializeError(m.error));
      else {
        m.batch.producer = w;
        queued.get(m.batch.unit)!.push(m.batch);
        if (m.batch.last) idle.push(w);
        assign();
        signal();
      }
    });
    worker.on("error", (e) => {
      fail(e);
      failRequests(e, w);
    });
    worker.on("exit", (code) => {
      const e = new Error(`the build's worker thread exited (code ${code}) before it finished`);
      if (!closed) fail(e);
      failRequests(e, w);
    });
    idle.push(w);
  }
  // The units being handed out: set by the first `source` (or at the start, given `units`).
  let plan: { units: TrainUnit[]; producer: Map<number, number>; next: number; current: number } | undefined;
  const begin = (units: TrainUnit[]) => {
    if (plan) {
      if (plan.units.length !== units.length) throw new Error("the build's workers were started on other units");
      return plan;
    }
    const p = (plan = { units, producer: new Map<number, number>(), next: 0, current: 0 });
    assign = () => {
      while (idle.length && p.next < p.units.length && p.next < p.current + workers.length + 1) {
        const w = idle.shift()!;
        p.producer.set(p.next, w);
        queued.set(p.next, []);
        workers[w]!.postMessage({ type: "unit", index: p.next, unit: p.units[p.next]! } satisfies ToWorker);
        p.next++;
      }
    };
    assign();
    return p;
  };
  if (units) begin(units);
  const source: BatchSource = (units) => ({
    async *[Symbol.asyncIterator]() {
      const p = begin(units);
      while (p.current < p.units.length) {
        const q = queued.get(p.current);
        if (q?.length) {
          const b = q.shift()!;
          workers[p.producer.get(p.current)!]!.postMessage({ type: "taken" } satisfies ToWorker);
          if (b.last) {
            queued.delete(p.current);
            p.producer.delete(p.current);
            p.current++;
            assign();
          }
          yield b;
          continue;
        }
        if (failure) throw failure;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  });
  return {
    source,
    get workers() {
      return failure ? 0 : workers.length;
    },
    retrieve: (w, snapshot, queries) =>
      new Promise<RetrievedBatch>((resolve, reject) => {
        if (closed || failure || !workers[w]) return reject(failure ?? new Error(`the build has no worker thread ${w}`));
        const id = nextRequest++;
        requests.set(id, { w, resolve, reject });
        workers[w].postMessage({ type: "retrieve", id, snapshot, queries } satisfies ToWorker);
      }),
    close: async () => {
      closed = true;
      failRequests(new Error("the build's worker threads were stopped"));
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

/**
 * Runs the train pass with its rows decoded by worker threads (`file`: the worker script, or a
 * pool of them already started), handing its triples to `sink` as they come. Resolves to
 * "no-worker" when no worker could start (before any sent anything): the caller then runs the
 * pass in-process, which rewrites the same files.
 */
export async function runTrainWorker(file: string, params: TrainPassParams, sink: TrainSink, pool?: DecodePool): Promise<TrainWriteResult | undefined | "no-worker"> {
  const own = pool ?? startDecodeWorkers(file);
  try {
    return await writeTrainPass(params, sink, own.source);
  } catch (e) {
    if (e instanceof NoWorker) return "no-worker";
    throw e;
  } finally {
    // Settled once the workers are gone, so a failed build's temp dir is removed after their last
    // read (a pool passed in is closed by its owner).
    if (!pool) await own.close();
  }
}

/**
 * The train pass (train-pass.ts: train.jsonl and pairs.jsonl), registering each triple's rows and
 * pairs in the history index as they come; the rows are decoded by worker threads when they can
 * run, so decoding runs in parallel with the index work and the writing here. Undefined when a
 * one-pass build must start over with counts (`groupSize`); both ways write the same bytes.
 */
async function trainPass(dir: string, ctx: BuildContext, testPrompts: Set<string>, groupSize?: Map<string, number>, pool?: DecodePool): Promise<TrainPass | undefined> {
  const { seed, historySize, pairsMode, progress } = ctx;
  // The units the pool was started on (the first pass only: a pass with counts starts its own workers).
  const params: TrainPassParams = { dir, trainFiles: ctx.trainFiles, testPrompts, seed, pairsMode, groupSize, units: pool ? ctx.units : undefined };
  let index = new HistoryIndex(seed, historySize);
  // Each decoding thread's vocabulary (train-rows.ts), its local ids mapped onto the index's when
  // a row using them is registered (so the index interns in registration order, as addRow does).
  interface Vocabulary {
    terms: string[];
    subdimensions: string[];
    preferences: string[];
    /** Local id -> the index's id, -1 until a registered row uses it. */
    termIds: Grow<Int32Array>;
    subdimensionIds: number[][];
    preferenceIds: number[];
  }
  let vocabularies = new Map<number, Vocabulary>();
  const sink: TrainSink = {
    batch: (b) => {
      let v = vocabularies.get(b.producer);
      if (!v) vocabularies.set(b.producer, (v = { terms: [], subdimensions: [], preferences: [], termIds: new Grow(new Int32Array(1 << 12)), subdimensionIds: DIMENSIONS.map(() => []), preferenceIds: [] }));
      for (const t of b.terms) {
        v.terms.push(t);
        v.termIds.push(-1);
      }
      for (const t of b.subdimensions) v.subdimensions.push(t);
      for (const t of b.preferences) v.preferences.push(t);
    },
    triples: (batch) => {
      for (const t of batch) {
        // Register the three rows contiguously: row 3t+j is member j of train triple t.
        for (const { batch: b, row } of t.members) {
          const v = vocabularies.get(b.producer)!;
          const termIds = v.termIds.data;
          const docs = b.docs;
          const start = b.docAt[row]!;
          let at = start;
          for (let k = 0; k < DIMENSIONS.length; k++) {
            const sub = docs[at]!;
            docs[at] = v.subdimensionIds[k]![sub] ??= index.subdimensionId(DIMENSIONS[k]!, v.subdimensions[sub]!);
            const pref = docs[at + 1]!;
            docs[at + 1] = v.preferenceIds[pref] ??= index.preferenceId(v.preferences[pref]!);
            const n = docs[at + 2]!;
            for (let i = at + 3; i < at + 3 + n; i++) {
              const local = docs[i]!;
              let id = termIds[local]!;
              if (id < 0) termIds[local] = id = index.termId(v.terms[local]!);
              docs[i] = id;
            }
            at += 3 + 2 * n;
          }
          index.addRowIds(docs, start);
        }
        const tIdx = index.addTriple(t.exclusion);
        for (let i = 0; i < t.pairs.length; i += 2) index.addPair({ triple: tIdx, chosenRow: 3 * tIdx + t.pairs[i]!, rejectedRow: 3 * tIdx + t.pairs[i + 1]! });
      }
    },
    progress: (done) => progress({ phase: "building pairs", done }),
  };
  const file = ctx.workerFile;
  // The main thread waits for the workers' rows much of the time: it hashes the inputs meanwhile.
  let hashed = Promise.resolve("");
  const hashes = new Map(ctx.trainFiles.map((f) => [f, (hashed = hashed.then(() => sha256File(f)))]));
  for (const h of hashes.values()) h.catch(() => undefined); // surfaced when awaited
  let result = file ? await runTrainWorker(file, { ...params, hashInputs: false }, sink, pool) : "no-worker";
  if (result === "no-worker") {
    index = new HistoryIndex(seed, historySize);
    vocabularies = new Map();
    result = await writeTrainPass({ ...params, hashInputs: false }, sink);
  }
  if (!result) return undefined;
  const { trainIds, trainOffsets, trainRows, inputs, otherSizes } = result;
  for (const input of inputs) input.sha256 ||= await hashes.get(input.path)!;
  let skippedTrainGroups = 0;
  let skippedTrainRows = 0;
  const skippedSizes: Record<string, number> = {};
  for (const size of otherSizes) {
    skippedTrainGroups++;
    skippedTrainRows += size;
    skippedSizes[size] = (skippedSizes[size] ?? 0) + 1;
  }
  return { index, trainIds, trainOffsets, trainRows, inputs, skippedTrainGroups, skippedTrainRows, skippedSizes };
}

async function buildInto(dir: string, ctx: BuildContext): Promise<Manifest> {
  // The decoding workers start first, on the first train units: their start (loading the code)
  // and their first row groups overlap with the test split.
  const units = ctx.workerFile ? await planUnits(ctx.trainFiles) : undefined;
  const pool = ctx.workerFile ? startDecodeWorkers(ctx.workerFile, units) : undefined;
  ctx = { ...ctx, units };
  try {
    return await buildWith(dir, ctx, pool);
  } finally {
    await pool?.close();
  }
}

async function buildWith(dir: string, ctx: BuildContext, pool: DecodePool | undefined): Promise<Manifest> {
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

  // ---- Train: one pass, unless an instruction turns out to have more than 3 rows after its
  // triple was written (or too many rows wait for their group): then again, rows counted first.
  let train = await trainPass(dir, ctx, testPrompts, undefined, pool);
  if (!train) {
    // The workers may still be decoding for the abandoned pass: stopped (the pass with counts
    // starts its own; the histories are then retrieved on this thread).
    await pool?.close();
    pool = undefined;
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
    train = (await trainPass(dir, ctx, testPrompts, groupSize))!;
  }
  const { index, trainIds, trainOffsets, trainRows, skippedTrainGroups, skippedTrainRows } = train;
  inputs.push(...train.inputs);
  skippedSizes.train = train.skippedSizes;

  // ---- Users and their histories (pairs by id, with their retrieval scores).
  const pairIdOf = (p: number) => {
    const m = index.pairs[p]!;
    return pairId(trainIds[m.triple]!, m.chosenRow - 3 * m.triple, m.rejectedRow - 3 * m.triple);
  };
  const userIds: string[] = [];
  const userOffsets: number[] = [];
  const shortHistories: ShortHistory[] = [];
  const fixedKey = (d: Dimension, e: PreferenceEntry) => JSON.stringify([d, normText(e.subdimension), normText(e.preference)]);
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
  const nonContrastive = Object.fromEntries(DIMENSIONS.map((d) => [d, 0])) as Record<Dimension, number>;
  // The users in order, each with its query: one per user, or one per (dimension, subdimension,
  // preference) with --history fixed.
  const queries: RetrievalQuery[] = [];
  const queryOf = new Map<string, number>();
  const pending: { head: Omit<StoredUser, "history">; query: number }[] = [];
  for (const t of triples) {
    for (let j = 0; j < 3; j++) {
      for (const d of DIMENSIONS) {
        const entryOf = (m: number) => t.members[m]!.preference_set.find((e) => e.dimension === d)!;
        const entry = entryOf(j);
        for (let k = 0; k < 3; k++) if (k !== j && !contrasts(entry, entryOf(k))) nonContrastive[d]++;
        const id = userId(t.id, j, d);
        const key = historyMode === "fixed" ? fixedKey(d, entry) : id;
        let query = queryOf.get(key);
        if (query === undefined) {
          queryOf.set(key, (query = queries.length));
          queries.push({ key, dimension: d, entry, excludePrompts: historyMode === "fixed" ? fixedExclusions.get(key)! : new Set([t.prompt]) });
        }
        pending.push({
          head: { id, tripleId: t.id, member: j, dimension: d, preference: { subdimension: entry.subdimension, preference: entry.preference, description: entry.description } },
          query,
        });
      }
    }
  }
  const totalUsers = pending.length;
  progress({ phase: "retrieving histories", done: 0, total: queries.length });
  const retrieved = await retrieveSharded(index, queries, pool, (done) => progress({ phase: "retrieving histories", done, total: queries.length }));
  // Chronological order: the most similar pair is the most recent, right before the new
  // instruction; a token budget drops the oldest (least similar) first.
  const histories = retrieved.map((found) => ({
    json: JSON.stringify(found.reverse().map(({ pair, score }): HistoryRef => ({ pairId: pairIdOf(pair), score }))),
    found: found.length,
  }));
  const usersWriter = await LineWriter.open(path.join(dir, DATASET_FILES.users));
  let users = 0;
  try {
    for (const { head, query } of pending) {
      const h = histories[query]!;
      if (h.found < historySize) shortHistories.push({ userId: head.id, found: h.found, wanted: historySize });
      userIds.push(head.id);
      userOffsets.push((await usersWriter.write(`${JSON.stringify(head).slice(0, -1)},"history":${h.json}}`))[0]);
      users++;
      if (users % 2000 === 0) progress({ phase: "writing users", done: users, total: totalUsers });
    }
    userOffsets.push(usersWriter.offset);
  } finally {
    await usersWriter.close();
  }

  const triplesWriter = await LineWriter.open(path.join(dir, DATASET_FILES.triples));
  const tripleOffsets: number[] = [];
  try {
    for (const t of triples) tripleOffsets.push((await triplesWriter.write(JSON.stringify(t)))[0]);
    tripleOffsets.push(triplesWriter.offset);
  } finally {
    await triplesWriter.close();
  }
  await writeFile(path.join(dir, DATASET_FILES.triplesIndex), formatLineIndex(triples.map((t) => t.id), tripleOffsets));
  await writeFile(path.join(dir, DATASET_FILES.trainIndex), formatLineIndex(trainIds, trainOffsets));
  await writeFile(path.join(dir, DATASET_FILES.usersIndex), formatLineIndex(userIds, userOffsets));

  const manifest: Manifest = {
    version: FORMAT_VERSION,
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
    nonContrastive,
  };
  await writeFile(path.join(dir, DATASET_FILES.manifest), JSON.stringify(manifest, null, 2) + "\n");
  return manifest;
}
