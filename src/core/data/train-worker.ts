/**
 * A decoding worker thread of the build (see train-rows.ts): decodes the units the main thread
 * assigns, one after the other, and posts their batches (the bytes transferred, not copied). It
 * waits for the main thread to take its batches when MAX_AHEAD of them are not yet taken, so a
 * large JSON(L) file is never held whole. Bundled as dist/data-train-worker.js (scripts/build.mjs).
 */
import { parentPort } from "node:worker_threads";
import { decodeUnit, LocalVocabulary, serializeError, type RowBatch, type SerializedError, type TrainUnit } from "./train-rows.js";

export type ToWorker = { type: "unit"; index: number; unit: TrainUnit } | { type: "taken" };
export type FromWorker = { type: "batch"; batch: RowBatch } | { type: "fatal"; error: SerializedError };

const MAX_AHEAD = 3;
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
      port.postMessage({ type: "batch", batch } satisfies FromWorker, [batch.bytes.buffer as ArrayBuffer]);
      ahead++;
      while (ahead >= MAX_AHEAD) await new Promise<void>((resolve) => (wakeTaken = resolve));
    }
  }
  running = false;
}

port.on("message", (m: ToWorker) => {
  if (m.type === "taken") {
    ahead--;
    wakeTaken?.();
    wakeTaken = undefined;
    return;
  }
  queue.push(m);
  if (!running) run().catch((e: unknown) => port.postMessage({ type: "fatal", error: serializeError(e) } satisfies FromWorker));
});
