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
 * Retrieval keeps compact typed arrays of the preference texts; no text is read back.
 * Everything is written into a temp directory that is renamed into place at the end, so a
 * failed build leaves no partial output and never destroys an earlier one.
 */
import { existsSync } from "node:fs";
import { mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { Worker } from "node:worker_threads";
import * as path from "node:path";
import { contrasts, normText } from "./contrast.js";
import { HistoryIndex, type RetrievalQuery } from "./history-index.js";
import { pairId, tripleId, userId } from "./ids.js";
import { LineWriter } from "./jsonl.js";
import { writeTrainPass, type TrainPassParams, type TrainSink, type TrainWriteResult } from "./train-pass.js";
import type { TrainWorkerMessage } from "./train-worker.js";
import { formatLineIndex } from "./line-index.js";
import { readRawRows, resolveInputs, sha256File } from "./loaders.js";
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

/** Set PREFLAB_BUILD_WORKER=0 to run the train pass in-process (same output). */
const workerDisabled = () => process.env.PREFLAB_BUILD_WORKER === "0";

/**
 * Runs the train pass in a worker thread, handing its triples to `sink` as they come. Resolves
 * to "no-worker" when the worker could not start (before it sent anything): the caller then runs
 * the pass in-process, which rewrites the same files.
 */
/** A larger young generation: the pass allocates row objects and JSON lines at a high rate (less GC). */
const resourceLimits = { maxYoungGenerationSizeMb: 64 };

export function runTrainWorker(file: string, params: TrainPassParams, sink: TrainSink): Promise<TrainWriteResult | undefined | "no-worker"> {
  return new Promise((resolve, reject) => {
    let worker: Worker;
    try {
      // A bundle's worker is plain JS and needs none of the host's flags. From source the worker is
      // TypeScript: it registers tsx (which runs this source) itself, as a worker does not inherit it.
      worker = file.endsWith(".ts")
        ? new Worker(`require(require.resolve("tsx/cjs", { paths: [${JSON.stringify(path.dirname(file))}] })); require(${JSON.stringify(file)});`, { eval: true, workerData: params, resourceLimits })
        : new Worker(file, { workerData: params, execArgv: [], resourceLimits });
    } catch {
      resolve("no-worker");
      return;
    }
    let heard = false;
    let settled = false;
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      // Settled once the worker is gone, so a failed build's temp dir is removed after its last write.
      worker.terminate().then(f, f);
    };
    worker.on("message", (m: TrainWorkerMessage) => {
      heard = true;
      if (settled) return;
      try {
        if (m.type === "triples") sink.triples(m.batch);
        else if (m.type === "progress") sink.progress(m.done);
        else if (m.type === "done") finish(() => resolve(m.result));
        else {
          const err = m.data ? new DataError(m.data.location, "", m.data.field) : new Error(m.message);
          err.message = m.message;
          if (m.stack) err.stack = m.stack;
          finish(() => reject(err));
        }
      } catch (e) {
        finish(() => reject(e));
      }
    });
    worker.on("error", (e) => finish(() => (heard ? reject(e) : resolve("no-worker"))));
    worker.on("exit", (code) => finish(() => (heard ? reject(new Error(`the build's worker thread exited (code ${code}) before it finished`)) : resolve("no-worker"))));
  });
}

/**
 * The train pass (train-pass.ts: train.jsonl and pairs.jsonl), registering each triple's rows and
 * pairs in the history index as they come; in a worker thread when one can run, so the index work
 * here overlaps with decoding and writing there. Undefined when a one-pass build must start over
 * with counts (`groupSize`); both ways write the same bytes.
 */
async function trainPass(dir: string, ctx: BuildContext, testPrompts: Set<string>, groupSize?: Map<string, number>): Promise<TrainPass | undefined> {
  const { seed, historySize, pairsMode, progress } = ctx;
  const params: TrainPassParams = { dir, trainFiles: ctx.trainFiles, testPrompts, seed, pairsMode, groupSize };
  let index = new HistoryIndex(seed, historySize);
  const sink: TrainSink = {
    triples: (batch) => {
      for (const t of batch) {
        // Register the three rows contiguously: row 3t+j is member j of train triple t.
        for (const prefs of t.prefs) index.addRow(prefs);
        const tIdx = index.addTriple(t.exclusion);
        for (let i = 0; i < t.pairs.length; i += 2) index.addPair({ triple: tIdx, chosenRow: 3 * tIdx + t.pairs[i]!, rejectedRow: 3 * tIdx + t.pairs[i + 1]! });
      }
    },
    progress: (done) => progress({ phase: "building pairs", done }),
  };
  const file = workerDisabled() ? undefined : trainWorkerFile();
  // The main thread waits for the worker's triples much of the time: it hashes the inputs meanwhile.
  let hashed = Promise.resolve("");
  const hashes = file ? new Map(ctx.trainFiles.map((f) => [f, (hashed = hashed.then(() => sha256File(f)))])) : undefined;
  for (const h of hashes?.values() ?? []) h.catch(() => undefined); // surfaced when awaited
  let result = file ? await runTrainWorker(file, { ...params, hashInputs: false }, sink) : "no-worker";
  if (result === "no-worker") {
    index = new HistoryIndex(seed, historySize);
    result = await writeTrainPass(params, sink);
  }
  if (!result) return undefined;
  const { trainIds, trainOffsets, trainRows, inputs, otherSizes } = result;
  if (hashes && file) for (const input of inputs) input.sha256 ||= await hashes.get(input.path)!;
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
  let train = await trainPass(dir, ctx, testPrompts);
  if (!train) {
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
  const usersWriter = await LineWriter.open(path.join(dir, DATASET_FILES.users));
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
  const fixedHistories = new Map<string, { json: string; found: number }>();
  const nonContrastive = Object.fromEntries(DIMENSIONS.map((d) => [d, 0])) as Record<Dimension, number>;
  let users = 0;
  const totalUsers = triples.length * 3 * DIMENSIONS.length;
  try {
    for (const t of triples) {
      for (let j = 0; j < 3; j++) {
        for (const d of DIMENSIONS) {
          const entryOf = (m: number) => t.members[m]!.preference_set.find((e) => e.dimension === d)!;
          const entry = entryOf(j);
          for (let k = 0; k < 3; k++) if (k !== j && !contrasts(entry, entryOf(k))) nonContrastive[d]++;
          const id = userId(t.id, j, d);
          const historyFor = (q: RetrievalQuery) => {
            // Chronological order: the most similar pair is the most recent, right before the new
            // instruction; a token budget drops the oldest (least similar) first.
            const history: HistoryRef[] = index
              .retrieve(q)
              .reverse()
              .map(({ pair, score }) => ({ pairId: pairIdOf(pair), score }));
            return { json: JSON.stringify(history), found: history.length };
          };
          let h: { json: string; found: number };
          if (historyMode === "fixed") {
            const k = fixedKey(d, entry);
            let cached = fixedHistories.get(k);
            if (!cached) {
              cached = historyFor({ key: k, dimension: d, entry, excludePrompts: fixedExclusions.get(k)! });
              fixedHistories.set(k, cached);
            }
            h = cached;
          } else {
            h = historyFor({ key: id, dimension: d, entry, excludePrompts: new Set([t.prompt]) });
          }
          if (h.found < historySize) shortHistories.push({ userId: id, found: h.found, wanted: historySize });
          const head: Omit<StoredUser, "history"> = {
            id,
            tripleId: t.id,
            member: j,
            dimension: d,
            preference: { subdimension: entry.subdimension, preference: entry.preference, description: entry.description },
          };
          userIds.push(id);
          userOffsets.push((await usersWriter.write(`${JSON.stringify(head).slice(0, -1)},"history":${h.json}}`))[0]);
          users++;
          if (users % 200 === 0) progress({ phase: "retrieving histories", done: users, total: totalUsers });
        }
      }
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
