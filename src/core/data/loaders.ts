/**
 * Loaders for .jsonl (streamed line by line), .json (array, or object of records) and .parquet
 * (hyparquet, read row group by row group so a large file is never held whole as JS objects),
 * from a file, a directory of shards, or a glob.
 */
import { createReadStream } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { createHash } from "node:crypto";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { DataError, type Location } from "./schema.js";

export type Format = "jsonl" | "json" | "parquet";

const EXT: Record<string, Format> = { ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet" };

export function detectFormat(file: string): Format {
  const f = EXT[path.extname(file).toLowerCase()];
  if (!f) throw new DataError({ file }, `unsupported file type "${path.extname(file) || "(none)"}": expected .jsonl, .json or .parquet`);
  return f;
}

const GLOB_CHARS = /[*?[]/;

/** Translates a glob (`*`, `?`, `**`, `[abc]`) into a RegExp over '/'-separated paths. */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") {
      if (glob[i + 1] === "*") {
        i++;
        if (glob[i + 1] === "/") {
          i++;
          re += "(?:.*/)?";
        } else re += ".*";
      } else re += "[^/]*";
    } else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 1);
      if (end < 0) re += "\\[";
      else {
        re += `[${glob.slice(i + 1, end).replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

function isDataFile(file: string): boolean {
  return path.extname(file).toLowerCase() in EXT;
}

/**
 * Resolves an input spec to a sorted list of data files: a file; a directory (its .jsonl, .json
 * and .parquet files, e.g. shards train-00000-of-00003.parquet, in name order); or a glob.
 */
export async function resolveInputs(spec: string): Promise<string[]> {
  if (GLOB_CHARS.test(spec)) {
    const norm = spec.split(path.sep).join("/");
    const parts = norm.split("/");
    const firstGlob = parts.findIndex((p) => GLOB_CHARS.test(p));
    const base = parts.slice(0, firstGlob).join("/") || (norm.startsWith("/") ? "/" : ".");
    const re = globToRegExp(parts.slice(firstGlob).join("/"));
    let files: string[];
    try {
      files = await walk(base);
    } catch {
      throw new DataError({ file: spec }, "no files match this pattern (its directory does not exist)");
    }
    const matched = files
      .filter((f) => re.test(path.relative(base, f).split(path.sep).join("/")) && isDataFile(f))
      .sort();
    if (matched.length === 0) throw new DataError({ file: spec }, "no .jsonl, .json or .parquet files match this pattern");
    return matched;
  }
  let st;
  try {
    st = await stat(spec);
  } catch {
    throw new DataError({ file: spec }, "file or directory not found");
  }
  if (st.isDirectory()) {
    const files = (await walk(spec)).filter(isDataFile).sort();
    if (files.length === 0) throw new DataError({ file: spec }, "directory holds no .jsonl, .json or .parquet files");
    return files;
  }
  detectFormat(spec);
  return [spec];
}

export interface RawRow {
  raw: unknown;
  loc: Location;
}

async function* readJsonl(file: string): AsyncGenerator<RawRow> {
  const rl = createInterface({ input: createReadStream(file, { encoding: "utf8" }), crlfDelay: Infinity });
  let line = 0;
  let rows = 0;
  for await (let text of rl) {
    line++;
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.trim() === "") continue;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new DataError({ file, line }, `invalid JSON (${(e as Error).message})`);
    }
    rows++;
    yield { raw, loc: { file, line } };
  }
  if (rows === 0) throw new DataError({ file }, "file is empty: no rows");
}

async function* readJson(file: string): AsyncGenerator<RawRow> {
  let data: unknown;
  try {
    data = JSON.parse((await readFile(file, "utf8")).replace(/^\uFEFF/, ""));
  } catch (e) {
    if (e instanceof SyntaxError) throw new DataError({ file }, `invalid JSON (${e.message})`);
    throw e;
  }
  let records: unknown[];
  if (Array.isArray(data)) records = data;
  else if (data && typeof data === "object") {
    const values = Object.values(data);
    // {"rows": [...]} / {"data": [...]}: one array of records; otherwise an object of records.
    records = values.length === 1 && Array.isArray(values[0]) ? values[0] : values;
  } else throw new DataError({ file }, "expected an array of rows or an object of records");
  if (records.length === 0) throw new DataError({ file }, "file is empty: no rows");
  for (let row = 0; row < records.length; row++) yield { raw: records[row], loc: { file, row } };
}

/** A Parquet file's buffer and metadata; a truncated, unreadable or empty file is a DataError naming it. */
export async function openParquetFile(file: string): Promise<{ buf: import("hyparquet").AsyncBuffer; metadata: import("hyparquet").FileMetaData }> {
  const { asyncBufferFromFile, parquetMetadataAsync } = await import("hyparquet");
  const buf = await asyncBufferFromFile(file);
  let metadata;
  try {
    metadata = await parquetMetadataAsync(buf);
  } catch (e) {
    throw new DataError({ file }, `not a readable Parquet file (${(e as Error).message}); is it truncated?`);
  }
  if (Number(metadata.num_rows) === 0) throw new DataError({ file }, "file is empty: no rows");
  return { buf, metadata };
}

async function* readParquet(file: string, columns?: string[]): AsyncGenerator<RawRow> {
  const { parquetReadObjects } = await import("hyparquet");
  const { compressors } = await import("hyparquet-compressors");
  const { buf, metadata } = await openParquetFile(file);
  const groups: { start: number; end: number }[] = [];
  let start = 0;
  for (const group of metadata.row_groups) {
    groups.push({ start, end: start + Number(group.num_rows) });
    start += Number(group.num_rows);
  }
  const read = ({ start, end }: { start: number; end: number }) =>
    parquetReadObjects({ file: buf, metadata, rowStart: start, rowEnd: end, compressors, columns }).catch((e: unknown) => {
      throw new DataError({ file, row: start }, `cannot read row group at rows ${start}..${end - 1} (${(e as Error).message}); is the file truncated?`);
    });
  // One row group ahead: its file reads overlap with the caller's work on the current one.
  let next = groups.length ? read(groups[0]!) : undefined;
  for (let g = 0; g < groups.length; g++) {
    const rows = await next!;
    next = g + 1 < groups.length ? read(groups[g + 1]!) : undefined;
    next?.catch(() => undefined); // surfaced when awaited
    const { start } = groups[g]!;
    for (let i = 0; i < rows.length; i++) yield { raw: rows[i], loc: { file, row: start + i } };
  }
}

/**
 * Streams raw rows of one file. For Parquet, `columns` limits what is decoded (column
 * projection); JSON formats always parse whole rows.
 */
export function readRawRows(file: string, columns?: string[]): AsyncGenerator<RawRow> {
  const format = detectFormat(file);
  if (format === "jsonl") return readJsonl(file);
  if (format === "json") return readJson(file);
  return readParquet(file, columns);
}

/** sha256 of a file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const h = createHash("sha256");
  // 1 MB reads: a build hashes every input (a full-scale train split is ~400 MB), and at the
  // default 64 KB the per-chunk overhead costs about as much as the hashing.
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest("hex");
}
