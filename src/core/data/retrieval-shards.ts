/**
 * The build's history retrieval, shared between this thread and the build's worker threads once
 * they have finished decoding: the queries are split by candidate bucket (a bucket's postings are
 * built by one thread only), the buckets dealt out so that each thread gets about the same work,
 * and the workers retrieve from a snapshot of the index (its arrays shared, not copied). Every
 * thread runs the same retrieval on the same index, so the histories are the ones this thread
 * alone would retrieve; a worker that fails has its share retrieved here.
 */
import { availableParallelism } from "node:os";
import { normText } from "./contrast.js";
import { retrievedAt, type HistoryIndex, type IndexSnapshot, type RetrievalQuery, type RetrievedBatch } from "./history-index.js";

/** Worker threads that can retrieve (the build's pool). */
export interface RetrievalWorkers {
  readonly workers: number;
  retrieve(w: number, snapshot: IndexSnapshot, queries: RetrievalQuery[]): Promise<RetrievedBatch>;
}

/**
 * The queries (by index) of each of `shards` threads: each candidate bucket's queries go to one
 * thread, the largest buckets first to the thread with the least work so far. A bucket's work is
 * its size times (its queries + BUILD_COST): building its postings costs about as much as a few
 * queries.
 */
export function planShards(index: HistoryIndex, queries: RetrievalQuery[], shards: number): number[][] {
  const BUILD_COST = 4;
  const buckets = new Map<string, { size: number; queries: number[] }>();
  queries.forEach((q, i) => {
    const key = `${q.dimension}\0${normText(q.entry.subdimension)}`;
    let b = buckets.get(key);
    if (!b) buckets.set(key, (b = { size: index.candidates(q.dimension, q.entry.subdimension), queries: [] }));
    b.queries.push(i);
  });
  const plan = Array.from({ length: Math.max(1, shards) }, () => ({ work: 0, queries: [] as number[] }));
  const order = [...buckets.values()].map((b) => ({ ...b, work: b.size * (b.queries.length + BUILD_COST) })).sort((a, b) => b.work - a.work);
  for (const b of order) {
    const least = plan.reduce((a, s) => (s.work < a.work ? s : a));
    least.work += b.work;
    for (const q of b.queries) least.queries.push(q);
  }
  return plan.map((s) => s.queries.sort((a, b) => a - b));
}

/**
 * `index.retrieve` of every query, in order: shared between this thread and up to
 * (available cores - 1) of `pool`'s workers. `progress` is told how many queries are done.
 */
export async function retrieveSharded(index: HistoryIndex, queries: RetrievalQuery[], pool: RetrievalWorkers | undefined, progress: (done: number) => void = () => {}): Promise<{ pair: number; score: number }[][]> {
  const helpers = Math.min(pool?.workers ?? 0, availableParallelism() - 1);
  const results = new Array<{ pair: number; score: number }[]>(queries.length);
  let done = 0;
  const own = (shard: number[]) => {
    for (const i of shard) {
      results[i] = index.retrieve(queries[i]!);
      if (++done % 200 === 0) progress(done);
    }
  };
  if (!pool || helpers < 1 || queries.length === 0) {
    own(queries.map((_, i) => i));
    return results;
  }
  const [mine, ...theirs] = planShards(index, queries, helpers + 1);
  const snapshot = index.snapshot();
  const asked = theirs.map((shard, w) =>
    pool.retrieve(w, snapshot, shard.map((i) => queries[i]!)).then(
      (batch) => {
        shard.forEach((i, k) => (results[i] = retrievedAt(batch, k)));
        done += shard.length;
        progress(done);
      },
      () => own(shard), // the worker failed: the same histories, retrieved here
    ),
  );
  own(mine!);
  await Promise.all(asked);
  return results;
}
