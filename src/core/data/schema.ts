/**
 * Row schemas of the public Hugging Face datasets:
 * - MultiFacet collection (train): main_source, original_source, preference_set, system, prompt, output
 * - Multifaceted-Bench (test): source, preference_set, system, prompt, reference_answer, rubrics
 * Extra columns are tolerated (and dropped); a missing or mistyped field is a DataError that names
 * the file, the line or row and the field path.
 */
import { z } from "zod";

export const DIMENSIONS = ["style", "background_knowledge", "informativeness", "harmlessness"] as const;
export type Dimension = (typeof DIMENSIONS)[number];

export function isDimension(d: string): d is Dimension {
  return (DIMENSIONS as readonly string[]).includes(d);
}

export const preferenceEntrySchema = z.object({
  dimension: z.enum(DIMENSIONS),
  subdimension: z.string(),
  preference: z.string(),
  description: z.string(),
});
export type PreferenceEntry = z.infer<typeof preferenceEntrySchema>;

/** Exactly four entries, one per dimension. */
export const preferenceSetSchema = z
  .array(preferenceEntrySchema)
  .length(4, { message: "must hold exactly 4 entries, one per dimension" })
  .superRefine((set, ctx) => {
    const seen = new Set<string>();
    set.forEach((e, i) => {
      if (seen.has(e.dimension)) ctx.addIssue({ code: "custom", path: [i, "dimension"], message: `dimension "${e.dimension}" appears twice` });
      seen.add(e.dimension);
    });
  });

// Source columns are provenance only; real shards hold nulls in them now and then.
const sourceColumn = z.string().nullable();

export const trainRowSchema = z.object({
  main_source: sourceColumn,
  original_source: sourceColumn,
  preference_set: preferenceSetSchema,
  system: z.string(),
  prompt: z.string().min(1, { message: "must not be empty" }),
  output: z.string(),
});
export type TrainRow = z.infer<typeof trainRowSchema>;

export const rubricSchema = z.object({
  criteria: z.string(),
  score_descriptions: z.object({ "1": z.string(), "2": z.string(), "3": z.string(), "4": z.string(), "5": z.string() }),
});
export type Rubric = z.infer<typeof rubricSchema>;

export const testRowSchema = z.object({
  source: sourceColumn,
  preference_set: preferenceSetSchema,
  system: z.string(),
  prompt: z.string().min(1, { message: "must not be empty" }),
  reference_answer: z.string(),
  rubrics: z.array(rubricSchema).length(4, { message: "must hold exactly 4 rubrics, one per dimension" }),
});
export type TestRow = z.infer<typeof testRowSchema>;

export type Split = "train" | "test";

/** Where a bad value was found: a JSONL line (1-based) or a JSON / Parquet row (0-based index). */
export type Location = { file: string; line: number } | { file: string; row: number } | { file: string };

export function formatLocation(loc: Location): string {
  if ("line" in loc) return `${loc.file}:${loc.line}`;
  if ("row" in loc) return `${loc.file} row ${loc.row}`;
  return loc.file;
}

/** Bad input: the message names the file, the line or row, and the field. */
export class DataError extends Error {
  readonly location: Location;
  readonly field?: string;
  constructor(location: Location, message: string, field?: string) {
    super(`${formatLocation(location)}: ${field ? `field "${field}": ` : ""}${message}`);
    this.name = "DataError";
    this.location = location;
    this.field = field;
  }
}

/** Formats a zod path like preference_set[2].subdimension. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

const isSource = (v: unknown): v is string | null => v === null || typeof v === "string";

/**
 * The train row when it is valid, as the schema would return it (its fields only, in schema
 * order), without the schema's cost; undefined otherwise (the schema then names the bad field).
 * A build validates every one of ~200,000 train rows.
 */
function quickTrainRow(raw: Record<string, unknown>): TrainRow | undefined {
  const { main_source, original_source, preference_set, system, prompt, output } = raw;
  if (!isSource(main_source) || !isSource(original_source) || typeof system !== "string" || typeof prompt !== "string" || !prompt || typeof output !== "string") return undefined;
  if (!Array.isArray(preference_set) || preference_set.length !== 4) return undefined;
  const set: PreferenceEntry[] = [];
  for (const e of preference_set as unknown[]) {
    if (e === null || typeof e !== "object") return undefined;
    const { dimension, subdimension, preference, description } = e as Record<string, unknown>;
    if (typeof dimension !== "string" || !isDimension(dimension) || set.some((x) => x.dimension === dimension)) return undefined;
    if (typeof subdimension !== "string" || typeof preference !== "string" || typeof description !== "string") return undefined;
    set.push({ dimension, subdimension, preference, description });
  }
  return { main_source, original_source, preference_set: set, system, prompt, output };
}

/** Validates one row; throws DataError naming the first bad field. */
export function validateRow<S extends Split>(split: S, raw: unknown, loc: Location): S extends "train" ? TrainRow : TestRow {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new DataError(loc, `expected a ${split} row object, got ${describe(raw)}`);
  }
  if (split === "train") {
    const row = quickTrainRow(raw as Record<string, unknown>);
    if (row) return row as S extends "train" ? TrainRow : TestRow;
  }
  const schema = split === "train" ? trainRowSchema : testRowSchema;
  const res = schema.safeParse(raw);
  if (res.success) return res.data as S extends "train" ? TrainRow : TestRow;
  const issue = res.error.issues[0]!;
  const field = formatPath(issue.path);
  let value: unknown = raw;
  for (const p of issue.path) value = value == null ? undefined : (value as Record<PropertyKey, unknown>)[p];
  const msg = value === undefined && issue.code === "invalid_type" ? "missing" : issue.message;
  throw new DataError(loc, msg, field || undefined);
}
