/**
 * Writes MultiFacet rows as Parquet in the Hugging Face layout: `preference_set` and `rubrics`
 * are LIST<STRUCT> columns (3-level lists), `score_descriptions` a nested STRUCT. Used by the
 * sample script, the tests and the benchmark's full-scale corpus. Rows are written in batches,
 * one or more row groups per batch, so a large corpus never sits in memory whole.
 */
import { ParquetWriter } from "hyparquet-writer";
import { fileWriter } from "hyparquet-writer/src/node.js";

type SchemaElement = Record<string, unknown>;

const str = (name: string, repetition = "REQUIRED"): SchemaElement => ({ name, type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: repetition });

const listOf = (name: string, element: SchemaElement[], numChildren: number): SchemaElement[] => [
  { name, repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
  { name: "list", repetition_type: "REPEATED", num_children: 1 },
  { name: "element", repetition_type: "OPTIONAL", num_children: numChildren },
  ...element,
];

const preferenceSet = listOf("preference_set", [str("dimension", "OPTIONAL"), str("subdimension", "OPTIONAL"), str("preference", "OPTIONAL"), str("description", "OPTIONAL")], 4);
const rubrics = listOf(
  "rubrics",
  [str("criteria", "OPTIONAL"), { name: "score_descriptions", repetition_type: "OPTIONAL", num_children: 5 }, ...["1", "2", "3", "4", "5"].map((k) => str(k, "OPTIONAL"))],
  2,
);

export const TRAIN_COLUMNS = ["main_source", "original_source", "preference_set", "system", "prompt", "output"] as const;
export const TEST_COLUMNS = ["source", "preference_set", "system", "prompt", "reference_answer", "rubrics"] as const;

function schemaFor(split: "train" | "test"): SchemaElement[] {
  const body =
    split === "train"
      ? [str("main_source", "OPTIONAL"), str("original_source", "OPTIONAL"), ...preferenceSet, str("system", "OPTIONAL"), str("prompt", "OPTIONAL"), str("output", "OPTIONAL")]
      : [str("source", "OPTIONAL"), ...preferenceSet, str("system", "OPTIONAL"), str("prompt", "OPTIONAL"), str("reference_answer", "OPTIONAL"), ...rubrics];
  return [{ name: "root", num_children: 6 }, ...body];
}

export interface MultifacetParquetWriter {
  /** Writes a batch of rows as row groups of at most `rowGroupSize` rows. */
  write(rows: Record<string, unknown>[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * `statistics`: column chunk statistics (min, max, null count) as pyarrow writes them by default.
 * `pageSize`: the target uncompressed size of a data page (the writer's default, 1 MB).
 */
export function openMultifacetParquet(file: string, split: "train" | "test", rowGroupSize = 5000, statistics = false, pageSize?: number): MultifacetParquetWriter {
  const columns = split === "train" ? TRAIN_COLUMNS : TEST_COLUMNS;
  const writer = new ParquetWriter({ writer: fileWriter(file), schema: schemaFor(split) as never, statistics });
  return {
    async write(rows) {
      if (rows.length === 0) return;
      await writer.write({ columnData: columns.map((name) => ({ name, data: rows.map((r) => r[name] ?? null) })), rowGroupSize, ...(pageSize ? { pageSize } : {}) });
    },
    async close() {
      await writer.finish();
    },
  };
}

export async function writeMultifacetParquet(file: string, split: "train" | "test", rows: Record<string, unknown>[], rowGroupSize = 5000, statistics = false, pageSize?: number): Promise<void> {
  const w = openMultifacetParquet(file, split, rowGroupSize, statistics, pageSize);
  await w.write(rows);
  await w.close();
}
