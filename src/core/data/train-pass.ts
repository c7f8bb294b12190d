/**
 * The build's train pass without the history index: validates the train rows, groups them by
 * instruction and, as each group of three completes, writes the train triple once (train.jsonl)
 * and its pairs by id (pairs.jsonl), handing each triple's preference sets and pairs to a sink
 * (the history index). It runs in a worker thread (train-worker.ts) so that Parquet decoding,
 * validation, JSON serialisation, writing and input hashing overlap with the main thread's
 * index work; or in-process when no worker can be started. Both write the same bytes.
 */
import * as path from "node:path";
import { pairId, tripleId } from "./ids.js";
import { LineWriter } from "./jsonl.js";
import { readRawRows, sha256File } from "./loaders.js";
import { validateRow, type PreferenceEntry, type TrainRow } from "./schema.js";
import { DATASET_FILES, type Manifest, type PairRef, type PairsMode, type TrainTriple } from "./types.js";
import { Rng } from "../util/rng.js";

export interface TrainPassParams {
  dir: string;
  trainFiles: string[];
  /** Test prompts: a train triple with one of these prompts is registered with it for exclusion. */
  testPrompts: Set<string>;
  seed: number;
  pairsMode: PairsMode;
  /** Rows per instruction, counted first (a second pass); without it, one pass that may give up. */
  groupSize?: Map<string, number>;
  /** False when the caller hashes the inputs itself (in parallel with the pass): sha256 left "". */
  hashInputs?: boolean;
}

/** One completed train triple, in write order: what the history index registers. */
export interface TrainTripleEvent {
  /** The three rows' preference sets, member order. */
  prefs: PreferenceEntry[][];
  /** The prompt when it is a test prompt (retrieval excludes it by text), else "". */
  exclusion: string;
  /** Pairs as flat [chosen, rejected, chosen, rejected, ...] member indices, in write order. */
  pairs: number[];
}

export interface TrainSink {
  triples(batch: TrainTripleEvent[]): void;
  progress(done: number): void;
}

export interface TrainWriteResult {
  trainIds: string[];
  trainOffsets: number[];
  trainRows: number;
  inputs: Manifest["inputs"];
  /** Sizes of the instruction groups that are not triples (skipped). */
  otherSizes: number[];
}

/** Rows held for groups not yet complete, above which a one-pass build starts over with counts. */
const MAX_PENDING_ROWS = 50_000;
/** Triples handed to the sink at once. */
const BATCH = 256;

/**
 * Writes train.jsonl and pairs.jsonl into `dir`. Without `groupSize` (one pass), rows wait in
 * their group until it completes; the pass gives up (undefined) when a group grows past three
 * after it was written or when too many rows wait, and the caller counts first: both ways write
 * the same bytes.
 */
export async function writeTrainPass(p: TrainPassParams, sink: TrainSink): Promise<TrainWriteResult | undefined> {
  const { seed, pairsMode, groupSize, testPrompts } = p;
  const trainIds: string[] = [];
  const trainOffsets: number[] = [];
  const inputs: Manifest["inputs"] = [];
  const pending = new Map<string, TrainRow[]>();
  let pendingRows = 0;
  const written = new Set<string>();
  const trainWriter = await LineWriter.open(path.join(p.dir, DATASET_FILES.train));
  const pairsWriter = await LineWriter.open(path.join(p.dir, DATASET_FILES.pairs));
  let trainRows = 0;
  let batch: TrainTripleEvent[] = [];

  const emitTriple = async (tid: string, prompt: string, rows: TrainRow[]) => {
    trainIds.push(tid);
    const line: TrainTriple = { id: tid, prompt, members: rows.map((r) => ({ preference_set: r.preference_set, response: r.output })) as TrainTriple["members"] };
    trainOffsets.push((await trainWriter.write(JSON.stringify(line)))[0]);
    const rng = new Rng(seed, `pairs:${tid}`);
    const pairs: number[] = [];
    for (let j = 0; j < 3; j++) {
      const others = [0, 1, 2].filter((k) => k !== j);
      const rejected = pairsMode === "all" ? others : [others[rng.int(2)]!];
      for (const k of rejected) {
        const ref: PairRef = { id: pairId(tid, j, k), tripleId: tid, chosenMember: j, rejectedMember: k };
        await pairsWriter.write(JSON.stringify(ref));
        pairs.push(j, k);
      }
    }
    batch.push({ prefs: rows.map((r) => r.preference_set), exclusion: testPrompts.has(prompt) ? prompt : "", pairs });
    if (batch.length >= BATCH) {
      sink.triples(batch);
      batch = [];
    }
  };

  try {
    for (const file of p.trainFiles) {
      let rows = 0;
      for await (const { raw, loc } of readRawRows(file)) {
        const row = validateRow("train", raw, loc);
        rows++;
        if ((trainRows + rows) % 20000 === 0) sink.progress(trainRows + rows);
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
      inputs.push({ split: "train", path: file, sha256: p.hashInputs === false ? "" : await sha256File(file), rows });
    }
    trainOffsets.push(trainWriter.offset);
    if (batch.length) sink.triples(batch);
    batch = [];
  } finally {
    await pairsWriter.close();
    await trainWriter.close();
  }
  const otherSizes = (groupSize ? [...groupSize.values()] : [...pending.values()].map((g) => g.length)).filter((n) => n !== 3);
  return { trainIds, trainOffsets, trainRows, inputs, otherSizes };
}
