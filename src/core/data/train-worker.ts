/**
 * Worker thread of the build (see train-pass.ts): runs the train pass and posts its triples in
 * batches, its progress, and its result (or its error, with a DataError's location and field) to
 * the main thread. Bundled as dist/data-train-worker.js (scripts/build.mjs).
 */
import { parentPort, workerData } from "node:worker_threads";
import { DataError } from "./schema.js";
import { writeTrainPass, type TrainPassParams, type TrainTripleEvent } from "./train-pass.js";

export type TrainWorkerMessage =
  | { type: "triples"; batch: TrainTripleEvent[] }
  | { type: "progress"; done: number }
  | { type: "done"; result: Awaited<ReturnType<typeof writeTrainPass>> }
  | { type: "error"; message: string; stack?: string; data?: { location: DataError["location"]; field?: string } };

const port = parentPort!;
const post = (m: TrainWorkerMessage) => port.postMessage(m);

writeTrainPass(workerData as TrainPassParams, {
  triples: (batch) => post({ type: "triples", batch }),
  progress: (done) => post({ type: "progress", done }),
}).then(
  (result) => post({ type: "done", result }),
  (e: unknown) => {
    const err = e instanceof Error ? e : new Error(String(e));
    post({ type: "error", message: err.message, stack: err.stack, data: e instanceof DataError ? { location: e.location, field: e.field } : undefined });
  },
);
