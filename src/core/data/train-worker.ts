/**
 * A worker thread of the build. First it decodes (see train-rows.ts) the units the main thread
 * assigns, one after the other, and posts their batches (the bytes transferred, not copied); it
 * waits for the main thread to take its batches when MAX_AHEAD of them are not yet taken, so a
 * large JSON(L) file is never held whole. Then it retrieves a share of the users' histories from
 * a snapshot of the main thread's history index (its arrays shared, not copied). Bundled as
 * dist/data-train-worker.js (scripts/build.mjs).
 */
import { parentPort } from "node:worker_threads";
import { HistoryIndex, retrieveBatch, type IndexSnapshot, type RetrievalQuery, type RetrievedBatch } from "./history-index.js";
import { decodeUnit, LocalVocabulary, serializeError, type RowBatch, type SerializedError, type TrainUnit } from "./train-rows.js";

export type ToWorker = { type: "unit"; index: number; unit: TrainUnit } | { type: "taken" } | { type: "retrieve"; id: number; snapshot: IndexSnapshot; queries: RetrievalQuery[] };
export type FromWorker =
  | { type: "batch"; batch: RowBatch }
  | { type: "fatal"; error: SerializedError }
  | { type: "retrieved"; id: number; batch: RetrievedBatch }
  | { type: "retrieved"; id: number; error: SerializedError };

const MAX_AHEAD = 8;
const port = parentPort!;
const queue: { index: number; unit: TrainUnit }[] = [];
let ahead = 0;
let wakeTaken: (() => void) | undefined;
let running = false;
const vocabulary = new LocalVocabulary();

async function run(): Promise<void> {
  running = true;
  while (queue.length) {
    const { index, unit } = queue.shift()!;
    for await (const batch of decodeUnit(index, unit, vocabulary)) {
      // Transferred, not copied: the batch's arrays are views of buffers of its own (train-rows.ts:
      // finish; its builder is not used again).
      port.postMessage({ type: "batch", batch } satisfies FromWorker, [batch.bytes.buffer, batch.docs.buffer, batch.docAt.buffer, batch.ends.buffer] as ArrayBuffer[]);
      ahead++;
      while (ahead >= MAX_AHEAD) await new Promise<void>((resolve) => (wakeTaken = resolve));
    }
  }
  running = false;
}

port.on("message", (m: ToWorker) => {
  if (m.type === "retrieve") {
    let reply: FromWorker;
    try {
      const ix = HistoryIndex.fromSnapshot(m.snapshot);
      reply = { type: "retrieved", id: m.id, batch: retrieveBatch(ix, m.queries) };
    } catch (e) {
      reply = { type: "retrieved", id: m.id, error: serializeError(e) };
    }
    port.postMessage(reply, "batch" in reply ? [reply.batch.at.buffer as ArrayBuffer, reply.batch.pairs.buffer as ArrayBuffer, reply.batch.scores.buffer as ArrayBuffer] : []);
    return;
  }
  if (m.type === "taken") {
    ahead--;
    wakeTaken?.();
    wakeTaken = undefined;
    return;
  }
  queue.push(m);
  if (!running) run().catch((e: unknown) => port.postMessage({ type: "fatal", error: serializeError(e) } satisfies FromWorker));
});
