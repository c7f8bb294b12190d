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
import { mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { contrasts, normText } from "./contrast.js";
import { HistoryIndex, type RetrievalQuery } from "./history-index.js";
import { pairId, tripleId, userId } from "./ids.js";
import { LineWriter } from "./jsonl.js";
import { formatLineIndex } from "./line-index.js";
import { readRawRows, resolveInputs, sha256File } from "./loaders.js";
import { DataError, DIMENSIONS, validateRow, type Dimension, type PreferenceEntry, type TestRow, type TrainRow } from "./schema.js";
import {
  DATASET_FILES,
  FORMAT_VERSION,
  type HistoryMode,
  type HistoryRef,
  type Manifest,
  type PairRef,
  type PairsMode,
  type ShortHistory,
  type StoredUser,
  type TrainTriple,
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

/** Rows held for groups not yet complete, above which a one-pass build starts over with counts. */
const MAX_PENDING_ROWS = 50_000;

/**
 * Validates the train rows and, as each instruction's group of three completes, writes the train
 * triple once (train.jsonl) and its pairs by id (pairs.jsonl), registering its rows and pairs in
 * the history index. With `groupSize` (rows per instruction, counted first), groups of another
 * size are skipped as their rows come. Without it (one pass), rows wait in their group until it
 * completes; the pass gives up (undefined) when a group grows past three after it was written or
 * when too many rows wait, and the caller counts first: both ways write the same bytes.
 */
async function trainPass(dir: string, ctx: BuildContext, testPrompts: Set<string>, groupSize?: Map<string, number>): Promise<TrainPass | undefined> {
  const { seed, historySize, pairsMode, progress } = ctx;
  const index = new HistoryIndex(seed, historySize);
  const trainIds: string[] = [];
  const trainOffsets: number[] = [];
  const inputs: Manifest["inputs"] = [];
  const pending = new Map<string, TrainRow[]>();
  let pendingRows = 0;
  const written = new Set<string>();
  const trainWriter = await LineWriter.open(path.join(dir, DATASET_FILES.train));
  const pairsWriter = await LineWriter.open(path.join(dir, DATASET_FILES.pairs));
  let trainRows = 0;

  const emitTriple = async (tid: string, prompt: string, rows: TrainRow[]) => {
    // Register the three rows contiguously: row 3t+j is member j of train triple t.
    for (const r of rows) index.addRow(r.preference_set);
    // The prompt is only needed for exclusion checks against test prompts.
    const tIdx = index.addTriple(testPrompts.has(prompt) ? prompt : "");
    trainIds.push(tid);
    const line: TrainTriple = { id: tid, prompt, members: rows.map((r) => ({ preference_set: r.preference_set, response: r.output })) as TrainTriple["members"] };
    trainOffsets.push((await trainWriter.write(JSON.stringify(line)))[0]);
    const rng = new Rng(seed, `pairs:${tid}`);
    for (let j = 0; j < 3; j++) {
      const others = [0, 1, 2].filter((k) => k !== j);
      const rejected = pairsMode === "all" ? others : [others[rng.int(2)]!];
      for (const k of rejected) {
        const ref: PairRef = { id: pairId(tid, j, k), tripleId: tid, chosenMember: j, rejectedMember: k };
        await pairsWriter.write(JSON.stringify(ref));
        index.addPair({ triple: tIdx, chosenRow: 3 * tIdx + j, rejectedRow: 3 * tIdx + k });
      }
    }
  };

  try {
    for (const file of ctx.trainFiles) {
      let rows = 0;
      for await (const { raw, loc } of readRawRows(file)) {
        const row = validateRow("train", raw, loc);
        rows++;
        if ((trainRows + rows) % 20000 === 0) progress({ phase: "building pairs", done: trainRows + rows });
        if (groupSize) {
          if (groupSize.get(row.prompt) !== 3) continue; // counted from groupSize
        } else if (written.size && written.has(tripleId("train", row.prompt))) {
          return undefined; // a fourth row of a group already written: count first
        }
        let g = pending.get(row.prompt);
        if (!g) pending.set(row.prompt, (g = []));
        g.push(row);
        pendingRows++;
        if (g.length === 3) {
          pending.delete(row.prompt);
          pendingRows -= 3;
          const tid = tripleId("train", row.prompt);
          if (!groupSize) written.add(tid);
          await emitTriple(tid, row.prompt, g);
        } else if (!groupSize && pendingRows > MAX_PENDING_ROWS) {
          return undefined;
        }
      }
      trainRows += rows;
      inputs.push({ split: "train", path: file, sha256: await sha256File(file), rows });
    }
    trainOffsets.push(trainWriter.offset);
  } finally {
    await pairsWriter.close();
    await trainWriter.close();
  }
  let skippedTrainGroups = 0;
  let skippedTrainRows = 0;
  const skippedSizes: Record<string, number> = {};
  const sizes = groupSize ? [...groupSize.values()] : [...pending.values()].map((g) => g.length);
  for (const size of sizes) {
    if (size !== 3) {
      skippedTrainGroups++;
      skippedTrainRows += size;
      skippedSizes[size] = (skippedSizes[size] ?? 0) + 1;
    }
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
