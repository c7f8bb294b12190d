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
import { isAscii } from "node:buffer";
import { createHash } from "node:crypto";
import { normText } from "./contrast.js";
import { ByteBuffer } from "./json-bytes.js";
import { detectFormat, openParquetFile, readRawRows } from "./loaders.js";
import { DataError, DIMENSIONS, validateRow, type Location, type TrainRow } from "./schema.js";
import { Grow } from "../util/grow.js";
import { TermCounts, tokenize } from "../util/text.js";
import type { SchemaTree } from "hyparquet";

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

/** The index in DIMENSIONS of a dimension's name given as bytes, or -1 (compared here: a native compare costs more per call). */
function dimensionOf(bytes: Uint8Array): number {
  for (let d = 0; d < DIMENSION_BYTES.length; d++) {
    const name = DIMENSION_BYTES[d]!;
    if (name.length !== bytes.length) continue;
    let k = 0;
    while (k < name.length && name[k] === bytes[k]) k++;
    if (k === name.length) return d;
  }
  return -1;
}
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
  entry(out: Grow<Int32Array>, subdimension: string, preference: string, description: string): void {
    out.push(this.normalised(this.rawSub, this.subIds, this.subdimensions, subdimension));
    out.push(this.normalised(this.rawPref, this.prefIds, this.preferences, preference));
    const tokens = tokenize(`${preference} ${description}`);
    const tc = LocalVocabulary.scratch.reset();
    for (const t of tokens) tc.add(LocalVocabulary.intern(this.termIds, this.terms, t));
    tc.appendTo(out);
  }

  /**
   * `entry` for texts given as UTF-8 bytes (the Parquet path), the same ids: the subdimension and
   * preference are looked up by their bytes (decoded only the first time), and the tokens of
   * `preference + " " + description` are scanned, lower-cased and looked up in a byte-keyed table,
   * so only a token never seen before becomes a string. False (nothing appended) when
   * preference or description is not ASCII: the caller decodes them and calls `entry`.
   */
  entryBytes(out: Grow<Int32Array>, subdimension: Uint8Array, preference: Uint8Array, description: Uint8Array): boolean {
    if (!isAscii(preference) || !isAscii(description)) return false;
    out.push(this.rawIdOf(this.rawSubBytes, this.rawSub, this.subIds, this.subdimensions, subdimension));
    // A preference recurs on many rows: its id and its tokens are kept by its bytes.
    const h = fnv(preference, preference.length);
    let raw = this.rawPrefBytes.get(preference, preference.length, h);
    if (raw === MISSING) {
      raw = this.rawPrefBytes.set(preference, preference.length, h, this.prefNorm.length);
      this.prefNorm.push(this.normalised(this.rawPref, this.prefIds, this.preferences, decoder.decode(preference)));
      const tokens = this.tokens;
      tokens.length = 0;
      this.scan(preference, tokens);
      this.prefTokens.push(tokens.data.slice(0, tokens.length));
    }
    out.push(this.prefNorm[raw]!);
    const counter = LocalVocabulary.scratch.reset();
    const prefTokens = this.prefTokens[raw]!;
    for (let i = 0; i < prefTokens.length; i++) counter.add(prefTokens[i]!);
    const tokens = this.tokens;
    tokens.length = 0;
    this.scan(description, tokens);
    const ids = tokens.data;
    for (let i = 0; i < tokens.length; i++) counter.add(ids[i]!);
    counter.appendTo(out);
    return true;
  }

  private readonly rawSubBytes = new TokenTable();
  /** Raw preferences by their bytes: an index into prefNorm (its normalised id) and prefTokens (its term ids, in order). */
  private readonly rawPrefBytes = new TokenTable();
  private readonly prefNorm: number[] = [];
  private readonly prefTokens: Int32Array[] = [];
  private readonly tokens = new Grow(new Int32Array(256));

  /** The local id of a subdimension by its raw bytes, through `normalised` the first time. */
  private rawIdOf(table: TokenTable, raw: Map<string, number>, map: Map<string, number>, fresh: string[], bytes: Uint8Array): number {
    const h = fnv(bytes, bytes.length);
    const id = table.get(bytes, bytes.length, h);
    return id !== MISSING ? id : table.set(bytes, bytes.length, h, this.normalised(raw, map, fresh, decoder.decode(bytes)));
  }

  private readonly table = new TokenTable();
  private static word = new Uint8Array(256);

  /** Appends to `tokens` the local id of each token of two or more characters in `src` (ASCII) that is not a stop word. */
  private scan(src: Uint8Array, tokens: Grow<Int32Array>): void {
    const end = src.length;
    if (LocalVocabulary.word.length < end) LocalVocabulary.word = new Uint8Array(end * 2);
    const word = LocalVocabulary.word;
    let n = 0;
    let h = FNV_OFFSET;
    for (let i = 0; i < end; i++) {
      const c = WORD_BYTE[src[i]!]!;
      if (c !== 0) {
        word[n++] = c;
        h = Math.imul(h ^ c, FNV_PRIME);
        continue;
      }
      if (n > 1) this.token(word, n, h >>> 0, tokens);
      n = 0;
      h = FNV_OFFSET;
    }
    if (n > 1) this.token(word, n, h >>> 0, tokens);
  }

  /** Appends to `tokens` the local id of the token word[0..n) (hash h), unless it is a stop word. */
  private token(word: Uint8Array, n: number, h: number, tokens: Grow<Int32Array>): void {
    let tid = this.table.get(word, n, h);
    if (tid === MISSING) {
      const text = Buffer.from(word.buffer, word.byteOffset, n).toString("latin1");
      tid = this.table.set(word, n, h, tokenize(text).length === 0 ? -1 : LocalVocabulary.intern(this.termIds, this.terms, text));
    }
    if (tid >= 0) tokens.push(tid); // < 0: a stop word
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

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** FNV-1a of bytes[0..n), unsigned (what `scan` computes as it goes). */
function fnv(bytes: Uint8Array, n: number): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < n; i++) h = Math.imul(h ^ bytes[i]!, FNV_PRIME);
  return h >>> 0;
}

/** Per byte: the lower-cased byte of an ASCII letter or digit (a word byte to `tokenize`), else 0. */
const WORD_BYTE = Uint8Array.from({ length: 256 }, (_, b) => (b >= 0x41 && b <= 0x5a ? b + 0x20 : (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) ? b : 0));

/** What TokenTable.get returns for a key it does not hold. */
const MISSING = -2;

/**
 * Ids by byte strings (tokens, raw texts): open addressing, each slot's hash, key (where in a byte
 * arena, how long) and id in typed arrays, so a probe reads no JS object.
 */
class TokenTable {
  private hashes = new Uint32Array(1 << 12);
  private starts = new Int32Array(1 << 12);
  private lengths = new Int32Array(1 << 12); // the key's length + 1; 0: an empty slot
  private ids = new Int32Array(1 << 12);
  private size = 0;
  private arena = new Uint8Array(1 << 16);
  private used = 0;

  /** The id of key[0..n) (hash h, unsigned), or MISSING. */
  get(key: Uint8Array, n: number, h: number): number {
    const mask = this.hashes.length - 1;
    const { hashes, lengths, arena } = this;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const len = lengths[i]!;
      if (len === 0) return MISSING;
      if (hashes[i] !== h || len !== n + 1) continue;
      const at = this.starts[i]!;
      let k = 0;
      while (k < n && arena[at + k] === key[k]) k++;
      if (k === n) return this.ids[i]!;
    }
  }

  /** Adds key[0..n) (hash h, not held yet) with `id`; returns `id`. */
  set(key: Uint8Array, n: number, h: number, id: number): number {
    if (this.used + n > this.arena.length) {
      const a = new Uint8Array(Math.max(this.arena.length * 2, this.used + n));
      a.set(this.arena);
      this.arena = a;
    }
    this.arena.set(key.subarray(0, n), this.used);
    if (++this.size * 2 > this.hashes.length) this.grow();
    this.place(h, this.used, n + 1, id);
    this.used += n;
    return id;
  }
  private place(h: number, start: number, len: number, id: number): void {
    const mask = this.hashes.length - 1;
    let i = h & mask;
    while (this.lengths[i]! !== 0) i = (i + 1) & mask;
    this.hashes[i] = h;
    this.starts[i] = start;
    this.lengths[i] = len;
    this.ids[i] = id;
  }
  private grow(): void {
    const { hashes, starts, lengths, ids } = this;
    const n = hashes.length * 2;
    this.hashes = new Uint32Array(n);
    this.starts = new Int32Array(n);
    this.lengths = new Int32Array(n);
    this.ids = new Int32Array(n);
    for (let i = 0; i < hashes.length; i++) if (lengths[i]! !== 0) this.place(hashes[i]!, starts[i]!, lengths[i]!, ids[i]!);
  }
}

/** Builds one batch's rows. */
class BatchBuilder {
  tids: string[] = [];
  docs = new Grow(new Int32Array(1 << 16));
  docAt: number[] = [];
  ends: number[] = [];
  bytes: ByteBuffer;
  private lastPrompt?: Uint8Array;
  private lastTid = "";
  private readonly texts: Uint8Array[] = new Array<Uint8Array>(12);
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
   * Adds a Parquet row whose strings are bytes (`f`, filled by a RowSource); false when it needs
   * the string path. `skipped`: columns not decoded, whose values the metadata vouches for
   * (skippableColumns).
   */
  addBytesRow(f: RowFields, skipped: Set<string>): boolean {
    const { prompt, output, entries } = f;
    if (!skipped.has("main_source") && !(f.main_source === null || f.main_source instanceof Uint8Array)) return false;
    if (!skipped.has("original_source") && !(f.original_source === null || f.original_source instanceof Uint8Array)) return false;
    if (!skipped.has("system") && !(f.system instanceof Uint8Array)) return false;
    if (!(prompt instanceof Uint8Array) || prompt.length === 0 || !(output instanceof Uint8Array)) return false;
    const b = this.bytes;
    const rowStart = b.length;
    // Each dimension's subdimension, preference and description, by dimension (DIMENSIONS order).
    const texts = this.texts;
    b.push(K.memberOpen);
    let seen = 0;
    for (let i = 0; i < 4; i++) {
      const dimension = entries[4 * i];
      const subdimension = entries[4 * i + 1];
      const preference = entries[4 * i + 2];
      const description = entries[4 * i + 3];
      if (!(dimension instanceof Uint8Array) || !(subdimension instanceof Uint8Array) || !(preference instanceof Uint8Array) || !(description instanceof Uint8Array)) return this.undo(rowStart);
      const d = dimensionOf(dimension);
      if (d < 0 || seen & (1 << d)) return this.undo(rowStart);
      seen |= 1 << d;
      if (i > 0) b.push(K.comma);
      b.push(K.dimension);
      b.push(DIMENSION_BYTES[d]!);
      b.push(K.subdimension);
      if (!b.jsonString(subdimension)) return this.undo(rowStart);
      b.push(K.preference);
      if (!b.jsonString(preference)) return this.undo(rowStart);
      b.push(K.description);
      if (!b.jsonString(description)) return this.undo(rowStart);
      b.push(K.entryClose);
      texts[3 * d] = subdimension;
      texts[3 * d + 1] = preference;
      texts[3 * d + 2] = description;
    }
    b.push(K.response);
    if (!b.jsonString(output)) return this.undo(rowStart);
    b.push(K.memberClose);
    const memberEnd = b.length;
    if (!b.jsonString(prompt)) return this.undo(rowStart);
    this.ends.push(memberEnd, b.length);
    this.tids.push(this.tidOfBytes(prompt));
    this.docAt.push(this.docs.length);
    for (let d = 0; d < 4; d++) {
      const sub = texts[3 * d]!;
      const pref = texts[3 * d + 1]!;
      const desc = texts[3 * d + 2]!;
      if (!this.vocabulary.entryBytes(this.docs, sub, pref, desc)) this.vocabulary.entry(this.docs, decoder.decode(sub), decoder.decode(pref), decoder.decode(desc));
    }
    return true;
  }

  /** Drops what a row that turned out not to take the byte path wrote from `rowStart`; false. */
  private undo(rowStart: number): false {
    this.bytes.length = rowStart;
    return false;
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
      docs: this.docs.data.subarray(0, this.docs.length),
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

/**
 * One row's fields as the byte path reads them (a RowSource fills it): `entries` holds each of
 * the four preference entries' dimension, subdimension, preference and description, in order.
 */
export interface RowFields {
  main_source: unknown;
  original_source: unknown;
  system: unknown;
  prompt: unknown;
  output: unknown;
  entries: unknown[];
}

/** A row group's decoded rows, for the byte path. */
interface RowSource {
  readonly n: number;
  /** Fills `f` with row i's fields; false when the row is not four preference entries of four values (the string path's to judge). */
  fill(i: number, f: RowFields): boolean;
  /** The bytes of row i's prompt and response (sizing the batches' buffers). */
  textBytes(i: number): number;
}

const byteLength = (v: unknown) => (v instanceof Uint8Array ? v.length : 0);

/** Rows as hyparquet assembles them (objects, preference_set an array of entry objects). */
class ObjectRows implements RowSource {
  constructor(private readonly rows: Record<string, unknown>[]) {}
  get n(): number {
    return this.rows.length;
  }
  fill(i: number, f: RowFields): boolean {
    const raw = this.rows[i];
    if (raw === null || typeof raw !== "object") return false;
    const set = raw.preference_set;
    if (!Array.isArray(set) || set.length !== 4) return false;
    for (let k = 0; k < 4; k++) {
      const e = set[k] as Record<string, unknown> | null;
      if (e === null || typeof e !== "object") return false;
      f.entries[4 * k] = e.dimension;
      f.entries[4 * k + 1] = e.subdimension;
      f.entries[4 * k + 2] = e.preference;
      f.entries[4 * k + 3] = e.description;
    }
    f.main_source = raw.main_source;
    f.original_source = raw.original_source;
    f.system = raw.system;
    f.prompt = raw.prompt;
    f.output = raw.output;
    return true;
  }
  row(i: number): Record<string, unknown> {
    return this.rows[i]!;
  }
  textBytes(i: number): number {
    const r = this.rows[i];
    return r ? byteLength(r.prompt) + byteLength(r.output) : 0;
  }
}

/** preference_set's leaves, in RowFields.entries order. */
const PREFERENCE_LEAVES = ["dimension", "subdimension", "preference", "description"] as const;

/**
 * Whether the file's preference_set is the shape pyarrow writes for MultiFacet: an optional list
 * (`list`, `element`) of optional structs of exactly the four optional string fields. Then its leaf columns are read
 * as hyparquet lists them before assembling structs (LeafRows), which skips building an object per
 * entry; any other shape is read as objects.
 */
export function leafShape(tree: SchemaTree): boolean {
  const set = tree.children.find((c) => c.element.name === "preference_set");
  const list = set?.children.length === 1 ? set.children[0] : undefined;
  const element = list?.children.length === 1 ? list.children[0] : undefined;
  if (set?.element.repetition_type !== "OPTIONAL" || list?.element.name !== "list" || list.element.repetition_type !== "REPEATED") return false;
  if (element?.element.name !== "element" || element.element.repetition_type !== "OPTIONAL") return false;
  const leaves = element.children;
  return leaves.length === 4 && PREFERENCE_LEAVES.every((name) => leaves.some((l) => l.element.name === name && l.element.repetition_type === "OPTIONAL" && l.element.type === "BYTE_ARRAY" && l.children.length === 0));
}

/**
 * Rows from their leaf columns as hyparquet's onPage hands them over (before struct assembly).
 * For a preference_set of leafShape, a row's value of each leaf is `[[[v], [v], [v], [v]]]`
 * when the list holds four non-null structs with a non-null value: any other value (a null
 * list, struct or field, another length) is not the byte path's, and the row is read as an
 * object instead.
 */
class LeafRows implements RowSource {
  private readonly leaves: unknown[][];
  private readonly flat: Record<"main_source" | "original_source" | "system" | "prompt" | "output", unknown[]>;
  /** `columns`: each leaf's values by row (of the row group), by its path joined with dots. */
  constructor(
    readonly n: number,
    columns: Map<string, unknown[]>,
  ) {
    const column = (name: string) => columns.get(name) ?? [];
    this.leaves = PREFERENCE_LEAVES.map((l) => column(`preference_set.list.element.${l}`));
    this.flat = { main_source: column("main_source"), original_source: column("original_source"), system: column("system"), prompt: column("prompt"), output: column("output") };
  }
  fill(i: number, f: RowFields): boolean {
    for (let l = 0; l < 4; l++) {
      const row = this.leaves[l]![i];
      if (!Array.isArray(row) || row.length !== 1) return false;
      const list: unknown = row[0];
      if (!Array.isArray(list) || list.length !== 4) return false;
      for (let k = 0; k < 4; k++) {
        const cell: unknown = list[k];
        if (!Array.isArray(cell) || cell.length !== 1) return false;
        f.entries[4 * k + l] = cell[0];
      }
    }
    const { flat } = this;
    f.main_source = flat.main_source[i];
    f.original_source = flat.original_source[i];
    f.system = flat.system[i];
    f.prompt = flat.prompt[i];
    f.output = flat.output[i];
    return true;
  }
  textBytes(i: number): number {
    return byteLength(this.flat.prompt[i]) + byteLength(this.flat.output[i]);
  }
}

/** Rows of a Parquet row group per batch (the main thread frees a batch once its triples are written). */
const PARQUET_ROWS_PER_BATCH = 2500;

/**
 * Decodes a Parquet row group into batches: by the byte path, its leaf columns read without
 * struct assembly where the schema allows (LeafRows), else rows as objects; the columns the
 * metadata vouches for are not read. From the first row the byte path does not take, the row
 * group is read again with every column, as objects, so that validateRow sees the whole row and
 * names its first bad field.
 */
async function* decodeRowGroup(index: number, unit: Extract<TrainUnit, { kind: "parquet" }>, vocabulary: LocalVocabulary): AsyncGenerator<RowBatch> {
  let builder = new BatchBuilder(vocabulary, 0);
  try {
    const { buf, metadata } = await openParquet(unit.file);
    const { parquetRead, parquetReadObjects, parquetSchema } = await import("hyparquet");
    const { compressors } = await import("hyparquet-compressors");
    const { file, start, end } = unit;
    const parsers = { stringFromBytes: (b: Uint8Array) => b };
    const unreadable = (e: unknown) => new DataError({ file, row: start }, `cannot read row group at rows ${start}..${end - 1} (${(e as Error).message}); is the file truncated?`);
    const objects = (columns?: string[]) =>
      parquetReadObjects({ file: buf, metadata, rowStart: start, rowEnd: end, compressors, columns, parsers }).then(
        (rows) => new ObjectRows(rows),
        (e: unknown) => {
          throw unreadable(e);
        },
      );
    const leaves = async (columns: string[] | undefined) => {
      const read = new Map<string, unknown[]>();
      await parquetRead({
        file: buf,
        metadata,
        rowStart: start,
        rowEnd: end,
        compressors,
        columns,
        parsers,
        onPage: ({ pathInSchema, columnData, rowStart }) => {
          const key = pathInSchema.join(".");
          let values = read.get(key);
          if (!values) read.set(key, (values = new Array<unknown>(end - start)));
          for (let k = Math.max(0, start - rowStart); k < columnData.length && rowStart + k < end; k++) values[rowStart + k - start] = columnData[k];
        },
      }).catch((e: unknown) => {
        throw unreadable(e);
      });
      return new LeafRows(end - start, read);
    };
    const skipped = skippableColumns(metadata, unit.group);
    const projection = skipped.size > 0 ? topLevelColumns(metadata).filter((c) => !skipped.has(c)) : undefined;
    let rows: RowSource = leafShape(parquetSchema(metadata)) ? await leaves(projection) : await objects(projection);
    let vouched = skipped;
    const fields: RowFields = { main_source: null, original_source: null, system: null, prompt: null, output: null, entries: new Array<unknown>(16) };
    const fresh = (from: number) => {
      let bytes = 0;
      const to = Math.min(rows.n, from + PARQUET_ROWS_PER_BATCH);
      for (let i = from; i < to; i++) bytes += rows.textBytes(i);
      return new BatchBuilder(vocabulary, Math.ceil(bytes * 1.1) + (to - from) * 800);
    };
    builder = fresh(0);
    for (let i = 0; i < rows.n; i++) {
      if (builder.n === PARQUET_ROWS_PER_BATCH) {
        yield builder.finish(index, false);
        builder = fresh(i);
      }
      if (rows.fill(i, fields) && builder.addBytesRow(fields, vouched)) continue;
      if (rows instanceof LeafRows || vouched.size > 0) {
        // A row the byte path does not take as read so far: the rest as objects of every column
        // (this row again first).
        rows = await objects(undefined);
        vouched = NONE;
        i--;
        continue;
      }
      builder.addRow(validateRow("train", decodeStrings((rows as ObjectRows).row(i)), { file, row: start + i }));
    }
  } catch (e) {
    yield builder.finish(index, true, serializeError(e));
    return;
  }
  yield builder.finish(index, true);
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
    yield* decodeRowGroup(index, unit, vocabulary);
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
