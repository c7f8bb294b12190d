/**
 * The decoding half of the build's train pass (train-pass.ts assembles): the train inputs are cut
 * into units (a Parquet row group, or a whole JSON / JSONL file), and each unit is decoded,
 * validated and serialised into batches of rows: per row its triple id, its preference entries
 * tokenized and normalised for the history index (ids of the thread's vocabulary) and the JSON of its member (`{"preference_set":…,"response":…}`) and of its
 * prompt as UTF-8 bytes, the pieces of a train.jsonl line. Units are independent, so worker
 * threads decode them in parallel (train-worker.ts) and the assembler takes the batches in input
 * order; one thread decoding them in turn gives the same batches.
 *
 * Parquet strings stay bytes: they are checked (UTF-8) and JSON-escaped straight into the
 * batch (json-bytes.ts); `system` and the source columns are type-checked only. A row that is not
 * plainly valid takes the string path: decoded as hyparquet would, validated by validateRow (whose
 * DataError names the file, the row and the field) and serialised with JSON.stringify, the same
 * bytes.
 */
import { createHash } from "node:crypto";
import { normText } from "./contrast.js";
import { ByteBuffer } from "./json-bytes.js";
import { detectFormat, openParquetFile, readRawRows } from "./loaders.js";
import { DataError, DIMENSIONS, validateRow, type Location, type TrainRow } from "./schema.js";
import { TermCounts, tokenize } from "../util/text.js";

/** A piece of the train inputs, decoded by one thread. */
export type TrainUnit =
  | { file: string; kind: "rows" }
  | { file: string; kind: "parquet"; group: number; start: number; end: number }
  | { file: string; kind: "error"; error: SerializedError };

/** An error as it crosses threads (a DataError keeps its location and field). */
export interface SerializedError {
  message: string;
  stack?: string;
  data?: { location: Location; field?: string };
}

export function serializeError(e: unknown): SerializedError {
  const err = e instanceof Error ? e : new Error(String(e));
  return { message: err.message, stack: err.stack, data: e instanceof DataError ? { location: e.location, field: e.field } : undefined };
}

export function deserializeError(s: SerializedError): Error {
  const err = s.data ? new DataError(s.data.location, "", s.data.field) : new Error(s.message);
  err.message = s.message;
  if (s.stack) err.stack = s.stack;
  return err;
}

/** Decoded rows of one unit, in input order. */
export interface RowBatch {
  /** The unit's index in the plan. */
  unit: number;
  /** Whether this is the unit's last batch. */
  last: boolean;
  /** Valid rows in this batch. */
  n: number;
  /** Per row: tripleId("train", prompt). */
  tids: string[];
  /** The decoding thread (its vocabulary: `terms`, `subdimensions`, `preferences` carry on from its earlier batches). */
  producer: number;
  /**
   * Per row, its preference entries for the history index as local ids of the producer's
   * vocabulary: for each dimension in DIMENSIONS order the subdimension, the preference, the
   * number k of distinct terms of `preference + " " + description`, k term ids, k counts
   * (HistoryIndex.addRowIds's layout once the ids are the index's). Row r starts at docAt[r].
   */
  docs: Int32Array;
  docAt: Int32Array;
  /** Texts first seen in this batch, in local id order: terms (tokens), normalised subdimensions and preferences. */
  terms: string[];
  subdimensions: string[];
  preferences: string[];
  /** Per row: its member's JSON, then its prompt's JSON (UTF-8). */
  bytes: Uint8Array;
  /** Per row, 2 offsets into `bytes`: where its member's JSON ends, where its prompt's ends. */
  ends: Int32Array;
  /** The unit's error, found after the `n` rows (the unit ends there). */
  error?: SerializedError;
}

/**
 * The units of the train files, in input order: one per Parquet row group, one per JSON(L) file;
 * a Parquet file that cannot be opened is an error unit, raised when the pass reaches it.
 */
export async function planUnits(files: string[]): Promise<TrainUnit[]> {
  const units: TrainUnit[] = [];
  for (const file of files) {
    if (detectFormat(file) !== "parquet") {
      units.push({ file, kind: "rows" });
      continue;
    }
    try {
      const { metadata } = await openParquet(file);
      let start = 0;
      metadata.row_groups.forEach((g, group) => {
        const end = start + Number(g.num_rows);
        units.push({ file, kind: "parquet", group, start, end });
        start = end;
      });
    } catch (e) {
      units.push({ file, kind: "error", error: serializeError(e) });
    }
  }
  return units;
}

type Parquet = { buf: import("hyparquet").AsyncBuffer; metadata: import("hyparquet").FileMetaData };
const opened = new Map<string, Promise<Parquet>>();

/** A Parquet file's buffer and metadata, opened once per thread and file. */
function openParquet(file: string): Promise<Parquet> {
  let p = opened.get(file);
  if (!p) opened.set(file, (p = openParquetFile(file)));
  return p;
}

/** Forgets the files opened for planning or decoding (their buffers' handles). */
export function closeParquetFiles(): void {
  opened.clear();
}

const decoder = new TextDecoder(); // what hyparquet decodes strings with
const DIMENSION_BYTES = DIMENSIONS.map((d) => Buffer.from(d));
const A = (s: string) => Buffer.from(s, "latin1");
const K = {
  memberOpen: A('{"preference_set":['),
  dimension: A('{"dimension":"'),
  subdimension: A('","subdimension":'),
  preference: A(',"preference":'),
  description: A(',"description":'),
  entryClose: A("}"),
  comma: A(","),
  response: A('],"response":'),
  memberClose: A("}"),
};

/**
 * One decoding thread's vocabulary: terms, normalised subdimensions and preferences interned to
 * local ids. Each batch carries the texts first seen in it, so the assembler maps a thread's ids
 * onto the index's as it takes that thread's batches, in order.
 */
export class LocalVocabulary {
  private readonly termIds = new Map<string, number>();
  private readonly subIds = new Map<string, number>();
  private readonly prefIds = new Map<string, number>();
  // By the raw text, in front of normText (the same texts recur on many rows).
  private readonly rawSub = new Map<string, number>();
  private readonly rawPref = new Map<string, number>();
  terms: string[] = [];
  subdimensions: string[] = [];
  preferences: string[] = [];
  private static readonly scratch = new TermCounts();

  private static intern(map: Map<string, number>, fresh: string[], s: string): number {
    let id = map.get(s);
    if (id === undefined) {
      map.set(s, (id = map.size));
      fresh.push(s);
    }
    return id;
  }
  private normalised(raw: Map<string, number>, map: Map<string, number>, fresh: string[], s: string): number {
    let id = raw.get(s);
    if (id === undefined) raw.set(s, (id = LocalVocabulary.intern(map, fresh, normText(s))));
    return id;
  }

  /** Appends one dimension's entry in addRowIds's layout (local ids) to `out`. */
  entry(out: number[], subdimension: string, preference: string, description: string): void {
    out.push(this.normalised(this.rawSub, this.subIds, this.subdimensions, subdimension), this.normalised(this.rawPref, this.prefIds, this.preferences, preference));
    const tokens = tokenize(`${preference} ${description}`);
    const tc = LocalVocabulary.scratch.reset(tokens.length);
    for (const t of tokens) tc.add(LocalVocabulary.intern(this.termIds, this.terms, t));
    tc.appendTo(out);
  }

  /**
   * `entry` for ASCII texts given as bytes (the Parquet path), the same ids: tokens are scanned,
   * lower-cased and looked up in a byte-keyed table, so only a token never seen before becomes a
   * string. False (nothing appended) when preference or description is not ASCII.
   */
  entryBytes(out: number[], subdimension: string, preference: string, preferenceBytes: Uint8Array, description: Uint8Array): boolean {
    for (let i = 0; i < preferenceBytes.length; i++) if (preferenceBytes[i]! >= 0x80) return false;
    for (let i = 0; i < description.length; i++) if (description[i]! >= 0x80) return false;
    out.push(this.normalised(this.rawSub, this.subIds, this.subdimensions, subdimension), this.normalised(this.rawPref, this.prefIds, this.preferences, preference));
    // At most one token per two bytes (two characters or more each, separated).
    const tc = LocalVocabulary.scratch.reset(((preferenceBytes.length + description.length) >> 1) + 2);
    const token = (tid: number) => {
      if (tid >= 0) tc.add(tid); // < 0: a stop word
    };
    this.scan(preferenceBytes, token);
    this.scan(description, token);
    tc.appendTo(out);
    return true;
  }

  private readonly table = new TokenTable();
  private static word = new Uint8Array(256);

  /** Calls `token` with the local id (or -1: a stop word) of each token of two or more characters in `src` (ASCII). */
  private scan(src: Uint8Array, token: (tid: number) => void): void {
    let word = LocalVocabulary.word;
    let n = 0;
    let h = 0x811c9dc5;
    for (let i = 0; i <= src.length; i++) {
      let c = i < src.length ? src[i]! : 0;
      if (c >= 0x41 && c <= 0x5a) c += 0x20;
      if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39)) {
        if (n === word.length) {
          const w = new Uint8Array(n * 2);
          w.set(word);
          word = LocalVocabulary.word = w;
        }
        word[n++] = c;
        h = Math.imul(h ^ c, 0x01000193);
        continue;
      }
      if (n > 1) token(this.table.id(word, n, h >>> 0, (w) => (tokenize(w).length === 0 ? -1 : LocalVocabulary.intern(this.termIds, this.terms, w))));
      n = 0;
      h = 0x811c9dc5;
    }
  }

  /** The texts first seen since the last call. */
  take(): { terms: string[]; subdimensions: string[]; preferences: string[] } {
    const fresh = { terms: this.terms, subdimensions: this.subdimensions, preferences: this.preferences };
    this.terms = [];
    this.subdimensions = [];
    this.preferences = [];
    return fresh;
  }
}

/** Ids of lower-cased ASCII tokens by their bytes (open addressing over a byte arena). */
class TokenTable {
  private slots = new Int32Array(1 << 12).fill(-1);
  private readonly hashes: number[] = [];
  private readonly starts: number[] = [];
  private readonly lengths: number[] = [];
  private readonly ids: number[] = [];
  private arena = new Uint8Array(1 << 16);
  private used = 0;

  /** The id of the token word[0..n) (hash h), made by `make` from its text the first time. */
  id(word: Uint8Array, n: number, h: number, make: (text: string) => number): number {
    const mask = this.slots.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const e = this.slots[i]!;
      if (e < 0) break;
      if (this.hashes[e] !== h || this.lengths[e] !== n) continue;
      const at = this.starts[e]!;
      let k = 0;
      while (k < n && this.arena[at + k] === word[k]) k++;
      if (k === n) return this.ids[e]!;
    }
    const id = make(Buffer.from(word.buffer, word.byteOffset, n).toString("latin1"));
    if (this.used + n > this.arena.length) {
      const a = new Uint8Array(Math.max(this.arena.length * 2, this.used + n));
      a.set(this.arena);
      this.arena = a;
    }
    this.arena.set(word.subarray(0, n), this.used);
    this.hashes.push(h);
    this.starts.push(this.used);
    this.lengths.push(n);
    this.ids.push(id);
    this.used += n;
    if (this.ids.length * 2 > this.slots.length) this.rehash();
    else this.place(this.ids.length - 1);
    return id;
  }
  private place(e: number): void {
    const mask = this.slots.length - 1;
    let i = this.hashes[e]! & mask;
    while (this.slots[i]! >= 0) i = (i + 1) & mask;
    this.slots[i] = e;
  }
  private rehash(): void {
    this.slots = new Int32Array(this.slots.length * 2).fill(-1);
    for (let e = 0; e < this.ids.length; e++) this.place(e);
  }
}

/** Builds one batch's rows. */
class BatchBuilder {
  tids: string[] = [];
  docs: number[] = [];
  docAt: number[] = [];
  ends: number[] = [];
  bytes: ByteBuffer;
  private lastPrompt?: Uint8Array;
  private lastTid = "";
  private readonly texts: Uint8Array[] = [];
  constructor(
    private readonly vocabulary: LocalVocabulary,
    capacity: number,
  ) {
    this.bytes = new ByteBuffer(capacity);
  }
  get n(): number {
    return this.tids.length;
  }
  private tidOfBytes(prompt: Uint8Array): string {
    // The rows of an instruction come together: hash each prompt once.
    if (this.lastPrompt && (this.lastPrompt === prompt || Buffer.compare(prompt, this.lastPrompt) === 0)) return this.lastTid;
    this.lastPrompt = prompt;
    this.lastTid = `tr-${createHash("sha256").update(prompt).digest("hex").slice(0, 16)}`;
    return this.lastTid;
  }

  /**
   * Adds a Parquet row whose strings are bytes; false when it needs the string path. `skipped`:
   * columns not decoded, whose values the metadata vouches for (skippableColumns).
   */
  addBytesRow(raw: Record<string, unknown>, skipped: Set<string>): boolean {
    const { main_source, original_source, preference_set, system, prompt, output } = raw;
    const isSource = (name: string, v: unknown) => skipped.has(name) || v === null || v instanceof Uint8Array;
    if (!isSource("main_source", main_source) || !isSource("original_source", original_source) || !(skipped.has("system") || system instanceof Uint8Array)) return false;
    if (!(prompt instanceof Uint8Array) || prompt.length === 0 || !(output instanceof Uint8Array)) return false;
    if (!Array.isArray(preference_set) || preference_set.length !== 4) return false;
    const b = this.bytes;
    const rowStart = b.length;
    const fail = () => {
      b.length = rowStart;
      return false;
    };
    // Each dimension's subdimension, preference and description, by dimension (DIMENSIONS order).
    const texts = this.texts;
    b.push(K.memberOpen);
    let seen = 0;
    for (let i = 0; i < 4; i++) {
      const e = preference_set[i] as Record<string, unknown> | null;
      if (e === null || typeof e !== "object") return fail();
      const { dimension, subdimension, preference, description } = e;
      if (!(dimension instanceof Uint8Array) || !(subdimension instanceof Uint8Array) || !(preference instanceof Uint8Array) || !(description instanceof Uint8Array)) return fail();
      let d = 0;
      while (d < 4 && Buffer.compare(dimension, DIMENSION_BYTES[d]!) !== 0) d++;
      if (d === 4 || seen & (1 << d)) return fail();
      seen |= 1 << d;
      if (i > 0) b.push(K.comma);
      b.push(K.dimension);
      b.push(DIMENSION_BYTES[d]!);
      b.push(K.subdimension);
      if (!b.jsonString(subdimension)) return fail();
      b.push(K.preference);
      if (!b.jsonString(preference)) return fail();
      b.push(K.description);
      if (!b.jsonString(description)) return fail();
      b.push(K.entryClose);
      texts[3 * d] = subdimension;
      texts[3 * d + 1] = preference;
      texts[3 * d + 2] = description;
    }
    b.push(K.response);
    if (!b.jsonString(output)) return fail();
    b.push(K.memberClose);
    const memberEnd = b.length;
    if (!b.jsonString(prompt)) return fail();
    this.ends.push(memberEnd, b.length);
    this.tids.push(this.tidOfBytes(prompt));
    this.docAt.push(this.docs.length);
    for (let d = 0; d < 4; d++) {
      const sub = decoder.decode(texts[3 * d]);
      const pref = decoder.decode(texts[3 * d + 1]);
      if (!this.vocabulary.entryBytes(this.docs, sub, pref, texts[3 * d + 1]!, texts[3 * d + 2]!)) this.vocabulary.entry(this.docs, sub, pref, decoder.decode(texts[3 * d + 2]));
    }
    return true;
  }

  /** Adds a validated row (JSON inputs, and Parquet rows the byte path did not take). */
  addRow(row: TrainRow): void {
    const b = this.bytes;
    b.push(Buffer.from(JSON.stringify({ preference_set: row.preference_set, response: row.output })));
    const memberEnd = b.length;
    b.push(Buffer.from(JSON.stringify(row.prompt)));
    this.ends.push(memberEnd, b.length);
    this.docAt.push(this.docs.length);
    for (const d of DIMENSIONS) {
      const e = row.preference_set.find((p) => p.dimension === d)!;
      this.vocabulary.entry(this.docs, e.subdimension, e.preference, e.description);
    }
    this.lastPrompt = undefined;
    this.tids.push(`tr-${createHash("sha256").update(row.prompt).digest("hex").slice(0, 16)}`);
  }

  finish(unit: number, last: boolean, error?: SerializedError): RowBatch {
    const batch: RowBatch = {
      unit,
      last,
      n: this.n,
      tids: this.tids,
      producer: 0,
      docs: Int32Array.from(this.docs),
      docAt: Int32Array.from(this.docAt),
      ...this.vocabulary.take(),
      bytes: this.bytes.bytes.subarray(0, this.bytes.length),
      ends: Int32Array.from(this.ends),
    };
    if (error) batch.error = error;
    return batch;
  }
}

/** A raw Parquet row with its byte strings decoded, as hyparquet's own decoding gives it. */
function decodeStrings(v: unknown): unknown {
  if (v instanceof Uint8Array) return decoder.decode(v);
  if (Array.isArray(v)) return v.map(decodeStrings);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decodeStrings(x)]));
  return v;
}

const NONE = new Set<string>();

/** The file's top-level column names (nested columns by their top-level name). */
function topLevelColumns(metadata: Parquet["metadata"]): string[] {
  const schema = metadata.schema;
  const names: string[] = [];
  const skip = (i: number): number => {
    let j = i + 1;
    for (let k = 0; k < (schema[i]!.num_children ?? 0); k++) j = skip(j);
    return j;
  };
  for (let i = 1; i < schema.length; i = skip(i)) names.push(schema[i]!.name);
  return names;
}

/**
 * Train columns a row group need not decode, as its metadata vouches for every value: the source
 * columns when they are string columns (any value, string or null, is valid), and `system` (not
 * written to the dataset, only required to be a string) when the row group's statistics count no
 * null in it. Files written by pyarrow (Hugging Face's) carry these statistics.
 */
function skippableColumns(metadata: Parquet["metadata"], group: number): Set<string> {
  const skipped = new Set<string>();
  const chunk = (name: string) => metadata.row_groups[group]?.columns.find((c) => c.meta_data?.path_in_schema.length === 1 && c.meta_data.path_in_schema[0] === name && c.meta_data.type === "BYTE_ARRAY")?.meta_data;
  for (const name of ["main_source", "original_source"]) if (chunk(name)) skipped.add(name);
  const nulls = chunk("system")?.statistics?.null_count;
  if (nulls !== undefined && Number(nulls) === 0) skipped.add("system");
  return skipped;
}

/** Rows of a JSON(L) file per batch. */
const ROWS_PER_BATCH = 2000;

/**
 * Decodes unit `index` of the plan into batches, in order. A bad row or an unreadable row group
 * ends the unit with an error batch (the rows before it are in it).
 */
export async function* decodeUnit(index: number, unit: TrainUnit, vocabulary: LocalVocabulary): AsyncGenerator<RowBatch> {
  if (unit.kind === "error") {
    yield new BatchBuilder(vocabulary, 0).finish(index, true, unit.error);
    return;
  }
  if (unit.kind === "parquet") {
    let builder = new BatchBuilder(vocabulary, 0);
    try {
      const { buf, metadata } = await openParquet(unit.file);
      const { parquetReadObjects } = await import("hyparquet");
      const { compressors } = await import("hyparquet-compressors");
      const { file, start, end } = unit;
      const skipped = skippableColumns(metadata, unit.group);
      const read = (columns?: string[]) =>
        parquetReadObjects({ file: buf, metadata, rowStart: start, rowEnd: end, compressors, columns, parsers: { stringFromBytes: (b: Uint8Array) => b } }).catch((e: unknown) => {
          throw new DataError({ file, row: start }, `cannot read row group at rows ${start}..${end - 1} (${(e as Error).message}); is the file truncated?`);
        });
      let projected = skipped.size > 0;
      let rows = await read(projected ? topLevelColumns(metadata).filter((c) => !skipped.has(c)) : undefined);
      const fresh = () => {
        let bytes = 0;
        for (const r of rows) for (const k of ["output", "prompt"]) bytes += (r[k] as Uint8Array | null)?.length ?? 0;
        return new BatchBuilder(vocabulary, Math.ceil(bytes * 1.1) + rows.length * 800);
      };
      builder = fresh();
      for (let i = 0; i < rows.length; i++) {
        const raw = rows[i]!;
        if (raw !== null && typeof raw === "object" && builder.addBytesRow(raw, projected ? skipped : NONE)) continue;
        if (projected) {
          // A row the byte path does not take: read the row group again with every column, so
          // that validateRow sees the whole row and names its first bad field.
          projected = false;
          rows = await read();
          builder = fresh();
          i = -1;
          continue;
        }
        builder.addRow(validateRow("train", decodeStrings(raw), { file, row: start + i }));
      }
    } catch (e) {
      yield builder.finish(index, true, serializeError(e));
      return;
    }
    yield builder.finish(index, true);
    return;
  }
  let builder = new BatchBuilder(vocabulary, 1 << 20);
  try {
    for await (const { raw, loc } of readRawRows(unit.file)) {
      builder.addRow(validateRow("train", raw, loc));
      if (builder.n === ROWS_PER_BATCH) {
        yield builder.finish(index, false);
        builder = new BatchBuilder(vocabulary, 1 << 20);
      }
    }
  } catch (e) {
    yield builder.finish(index, true, serializeError(e));
    return;
  }
  yield builder.finish(index, true);
}
