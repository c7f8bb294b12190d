/**
 * The generated MultiFacet-shaped corpus the benchmarks and the e2e scale test read: train rows in
 * snappy Parquet shards (row groups of 10,000 rows) and the test split in one Parquet file, with
 * the real corpus's text sizes (REAL_SIZES: long system prompts and responses, about 4.4 KB a row
 * as JSONL) and English-like text that compresses like the real text (about 410 MB of shards);
 * with column statistics (min, max, null count), as pyarrow writes the real shards.
 * Generated once into `dir` (under the ignored .bench/) and reused while `done` is there.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { openMultifacetParquet } from "./multifacet-parquet.js";
import { REAL_SIZES, synthTestRows, synthTrainRows } from "./synth-corpus.js";

export const FULL_TRAIN_TRIPLES = 65_666; // 196,998 rows
export const FULL_TEST_TRIPLES = 307; // 921 rows

export interface CorpusSpec {
  trainTriples: number;
  testTriples: number;
  shards: number;
}

export interface Corpus {
  dir: string;
  train: string;
  test: string;
  /** The size of all rows (train and test) as JSONL: the input text an output is compared to. */
  jsonlBytes: number;
  /** The size of the Parquet files (train shards and test). */
  parquetBytes: number;
}

/** Bumped when the generated text changes, so that a corpus generated before is generated again. */
const GENERATOR = 3;

/** Generates the corpus into `dir` unless it is already there; returns its input paths. */
export async function ensureCorpus(dir: string, spec: CorpusSpec, log: (s: string) => void = () => {}): Promise<Corpus> {
  const paths = { dir, train: path.join(dir, "train"), test: path.join(dir, "test.parquet") };
  const stamp = path.join(dir, "done");
  if (existsSync(stamp)) {
    const done = JSON.parse(readFileSync(stamp, "utf8")) as { spec?: CorpusSpec; generator?: number; jsonlBytes?: number; parquetBytes?: number };
    if (JSON.stringify(done.spec) === JSON.stringify(spec) && done.generator === GENERATOR && done.jsonlBytes && done.parquetBytes) return { ...paths, jsonlBytes: done.jsonlBytes, parquetBytes: done.parquetBytes };
  }
  const corpus = { ...paths, jsonlBytes: 0, parquetBytes: 0 };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(corpus.train, { recursive: true });
  const t0 = Date.now();
  const perShard = Math.ceil(spec.trainTriples / spec.shards) * 3;
  let shard = -1;
  let writer: ReturnType<typeof openMultifacetParquet> | undefined;
  let inShard = perShard;
  let batch: Record<string, unknown>[] = [];
  for (const row of synthTrainRows(spec.trainTriples, REAL_SIZES)) {
    if (inShard === perShard) {
      if (writer) {
        await writer.write(batch);
        batch = [];
        await writer.close();
      }
      shard++;
      inShard = 0;
      writer = openMultifacetParquet(path.join(corpus.train, `train-${String(shard).padStart(5, "0")}-of-${String(spec.shards).padStart(5, "0")}.parquet`), "train", 10_000, true);
    }
    batch.push(row);
    corpus.jsonlBytes += Buffer.byteLength(JSON.stringify(row)) + 1;
    inShard++;
    if (batch.length === 10_000) {
      await writer!.write(batch);
      batch = [];
    }
  }
  await writer!.write(batch);
  await writer!.close();
  const test = openMultifacetParquet(corpus.test, "test", 1000, true);
  const testRows = [...synthTestRows(spec.testTriples, REAL_SIZES)];
  for (const row of testRows) corpus.jsonlBytes += Buffer.byteLength(JSON.stringify(row)) + 1;
  await test.write(testRows);
  await test.close();
  corpus.parquetBytes = readdirSync(corpus.train).reduce((n, f) => n + statSync(path.join(corpus.train, f)).size, statSync(corpus.test).size);
  writeFileSync(stamp, JSON.stringify({ spec, generator: GENERATOR, jsonlBytes: corpus.jsonlBytes, parquetBytes: corpus.parquetBytes }));
  log(`generated corpus in ${((Date.now() - t0) / 1000).toFixed(1)} s (${dir})`);
  return corpus;
}
