/**
 * The counterfactual build (paper section 3.1): MultiFacet rows -> test triples, train
 * preference pairs, and synthetic users with retrieved feedback histories.
 *
 * Memory: train rows are streamed twice (pass 1 counts rows per instruction, reading only the
 * `prompt` column of Parquet files; pass 2 validates rows, holds each instruction's rows only
 * until its group is complete, and streams pairs.jsonl to disk). Retrieval keeps compact typed
 * arrays of the preference texts; history texts are read back from pairs.jsonl by byte offset.
 * Everything is written into a temp directory that is renamed into place at the end, so a
 * failed build leaves no partial output and never destroys an earlier one.
 */
import { mkdir, open, rename, rm, stat, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { normText } from "./contrast.js";
import { Grow, HistoryIndex, type RetrievalQuery } from "./history-index.js";
import { pairId, tripleId, userId } from "./ids.js";
import { LineWriter } from "./jsonl.js";
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
