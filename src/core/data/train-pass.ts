/**
 * The build's train pass without the history index: takes the decoded train rows (train-rows.ts)
 * in input order, groups them by instruction and, as each group of three completes, writes the
 * train triple once (train.jsonl) and its pairs by id (pairs.jsonl), handing each triple's
 * preference texts and pairs to a sink (the history index). The rows are decoded by worker
 * threads in parallel (build.ts: runTrainWorker) or, when none can start, in turn on this thread;
 * both write the same bytes.
 */
import * as path from "node:path";
import { pairId, tripleId } from "./ids.js";
import { ByteWriter } from "./jsonl.js";
import { sha256File } from "./loaders.js";
import { decodeUnit, deserializeError, LocalVocabulary, planUnits, type RowBatch, type TrainUnit } from "./train-rows.js";
import { DATASET_FILES, type Manifest, type PairsMode } from "./types.js";
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
  /** The train files' units, already planned (planUnits); else planned here. */
  units?: TrainUnit[];
}

/** One completed train triple, in write order: what the history index registers. */
export interface TrainTripleEvent {
  /** The three rows, member order: their batch (RowBatch.docs: the index's view of each row) and index there. */
  members: PendingRow[];
  /** The prompt when it is a test prompt (retrieval excludes it by text), else "". */
  exclusion: string;
  /** Pairs as flat [chosen, rejected, chosen, rejected, ...] member indices, in write order. */
  pairs: number[];
}

export interface TrainSink {
  /** Each batch as it is taken, in input order, before its rows are (the texts first seen in it). */
  batch?(b: RowBatch): void;
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

/** The decoded rows of the planned units, in input order (worker threads, or this thread). */
export type BatchSource = (units: TrainUnit[]) => AsyncIterable<RowBatch>;

/** Decodes the units in turn on this thread. */
export const inProcessSource: BatchSource = (units) => ({
  async *[Symbol.asyncIterator]() {
    const vocabulary = new LocalVocabulary();
    for (let i = 0; i < units.length; i++) yield* decodeUnit(i, units[i]!, vocabulary);
  },
});

/** Rows held for groups not yet complete, above which a one-pass build starts over with counts. */
const MAX_PENDING_ROWS = 50_000;
/** Triples handed to the sink at once. */
const BATCH = 256;

/** A row waiting for its group: where its member's and its prompt's JSON are in its batch. */
export interface PendingRow {
  batch: RowBatch;
  row: number;
}

const A = (s: string) => Buffer.from(s, "latin1");
const MEMBERS = A(',"members":[');
const COMMA = A(",");
const CLOSE = A("]}\n");

/**
 * Writes train.jsonl and pairs.jsonl into `dir`. Without `groupSize` (one pass), rows wait in
 * their group until it completes; the pass gives up (undefined) when a group grows past three
 * after it was written or when too many rows wait, and the caller counts first: both ways write
 * the same bytes.
 */
export async function writeTrainPass(p: TrainPassParams, sink: TrainSink, source: BatchSource = inProcessSource): Promise<TrainWriteResult | undefined> {
  const { seed, pairsMode } = p;
  // Rows are grouped by triple id (a hash of the prompt, computed where the rows are decoded).
  const groupSize = p.groupSize && new Map([...p.groupSize].map(([prompt, n]) => [tripleId("train", prompt), n]));
  const testTids = new Map([...p.testPrompts].map((prompt) => [tripleId("train", prompt), prompt]));
  const trainIds: string[] = [];
  const trainOffsets: number[] = [];
  const inputs: Manifest["inputs"] = [];
  const pending = new Map<string, PendingRow[]>();
  let pendingRows = 0;
  const written = new Set<string>();
  const units = p.units ?? (await planUnits(p.trainFiles));
  const trainWriter = await ByteWriter.open(path.join(p.dir, DATASET_FILES.train));
  const pairsWriter = await ByteWriter.open(path.join(p.dir, DATASET_FILES.pairs));
  let trainRows = 0;
  let fileRows = 0;
  let batch: TrainTripleEvent[] = [];

  const emitTriple = async (tid: string, g: PendingRow[]) => {
    trainIds.push(tid);
    trainOffsets.push(trainWriter.offset);
    const out = trainWriter.buffer;
    const first = g[0]!;
    out.ascii(`{"id":"${tid}","prompt":`);
    out.push(first.batch.bytes.subarray(first.batch.ends[2 * first.row], first.batch.ends[2 * first.row + 1]));
    out.push(MEMBERS);
    for (let j = 0; j < 3; j++) {
      const { batch: b, row } = g[j]!;
      if (j > 0) out.push(COMMA);
      out.push(b.bytes.subarray(row === 0 ? 0 : b.ends[2 * row - 1]!, b.ends[2 * row]));
    }
    out.push(CLOSE);
    await trainWriter.flushIfFull();
    const rng = new Rng(seed, `pairs:${tid}`);
    const pairs: number[] = [];
    const pout = pairsWriter.buffer;
    for (let j = 0; j < 3; j++) {
      // The other two members in order; one of them drawn, or both with --pairs all.
      const k0 = j === 0 ? 1 : 0;
      const k1 = j === 2 ? 1 : 2;
      const rejected = pairsMode === "all" ? [k0, k1] : [rng.int(2) === 0 ? k0 : k1];
      for (const k of rejected) {
        pout.ascii(`{"id":"${pairId(tid, j, k)}","tripleId":"${tid}","chosenMember":${j},"rejectedMember":${k}}\n`);
        pairs.push(j, k);
      }
    }
    await pairsWriter.flushIfFull();
    batch.push({ members: g, exclusion: testTids.get(tid) ?? "", pairs });
    if (batch.length >= BATCH) {
      sink.triples(batch);
      batch = [];
    }
  };

  const finishFile = async (file: string) => {
    trainRows += fileRows;
    inputs.push({ split: "train", path: file, sha256: p.hashInputs === false ? "" : await sha256File(file), rows: fileRows });
    fileRows = 0;
  };

  try {
    let unitFile: string | undefined;
    for await (const b of source(units)) {
      sink.batch?.(b);
      const file = units[b.unit]!.file;
      if (unitFile !== undefined && file !== unitFile) await finishFile(unitFile);
      unitFile = file;
      for (let r = 0; r < b.n; r++) {
        fileRows++;
        if ((trainRows + fileRows) % 20000 === 0) sink.progress(trainRows + fileRows);
        const tid = b.tids[r]!;
        if (groupSize) {
          if (groupSize.get(tid) !== 3) continue; // counted from groupSize
        } else if (written.size && written.has(tid)) {
          return undefined; // a fourth row of a group already written: count first
        }
        let g = pending.get(tid);
        if (!g) pending.set(tid, (g = []));
        g.push({ batch: b, row: r });
        pendingRows++;
        if (g.length === 3) {
          pending.delete(tid);
          pendingRows -= 3;
          if (!groupSize) written.add(tid);
          await emitTriple(tid, g);
        } else if (!groupSize && pendingRows > MAX_PENDING_ROWS) {
          return undefined;
        }
      }
      if (b.error) throw deserializeError(b.error);
    }
    if (unitFile !== undefined) await finishFile(unitFile);
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
