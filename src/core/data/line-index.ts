/**
 * The byte-offset index of a JSONL file of a dataset (format 2): `<file>.idx`, a text file of
 * fixed-width lines sorted by id, one per line of the JSONL file:
 *
 *   <id, padded with spaces to the longest id> <byte offset, 15 digits> <byte length, 10 digits>
 *
 * A reader loads the bytes as they are and finds an id by binary search: no parsing, no map, so
 * opening one user, triple or pair costs the same whatever the dataset's size.
 */
import { readFile } from "node:fs/promises";

const OFFSET_DIGITS = 15;
const LENGTH_DIGITS = 10;

/** The index file's text for lines `ids[i]` at `offsets[i]` .. `offsets[i+1]-1` (N+1 offsets). */
export function formatLineIndex(ids: readonly string[], offsets: readonly number[]): string {
  const width = Math.max(1, ...ids.map((id) => id.length));
  const rows = ids.map((id, i) => `${id.padEnd(width)} ${String(offsets[i]!).padStart(OFFSET_DIGITS, "0")} ${String(offsets[i + 1]! - offsets[i]! - 1).padStart(LENGTH_DIGITS, "0")}\n`);
  rows.sort();
  return rows.join("");
}

export interface LineRange {
  id: string;
  offset: number;
  length: number;
}

/** Where lines are, by id. */
export interface LineLookup {
  range(id: string): LineRange | undefined;
  /** Lines whose id starts with `prefix`, in file order. */
  withPrefix(prefix: string): LineRange[];
  /** Every line, in file order. */
  all(): LineRange[];
}

/** A loaded `.idx` file. */
export class SortedLineIndex implements LineLookup {
  private readonly width: number;
  private readonly stride: number;
  readonly size: number;

  constructor(
    private readonly buf: Buffer,
    readonly file: string,
  ) {
    const nl = buf.indexOf(10);
    this.stride = nl + 1;
    this.width = nl - OFFSET_DIGITS - LENGTH_DIGITS - 2;
    this.size = buf.length === 0 ? 0 : buf.length / this.stride;
    if (buf.length && (nl < 0 || this.width < 1 || !Number.isInteger(this.size))) throw new Error(`${file}: not a Preflab line index (fixed-width lines)`);
  }

  static async load(file: string): Promise<SortedLineIndex> {
    return new SortedLineIndex(await readFile(file), file);
  }

  private entry(i: number): LineRange {
    const at = i * this.stride;
    const id = this.buf.toString("latin1", at, at + this.width).trimEnd();
    const offset = Number(this.buf.toString("latin1", at + this.width + 1, at + this.width + 1 + OFFSET_DIGITS));
    const length = Number(this.buf.toString("latin1", at + this.width + 2 + OFFSET_DIGITS, at + this.stride - 1));
    return { id, offset, length };
  }

  /** First entry whose padded id is >= `key` (compared as bytes, over the id column). */
  private lowerBound(key: string): number {
    const k = Buffer.from(key.length > this.width ? key : key.padEnd(this.width), "latin1").subarray(0, this.width);
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const at = mid * this.stride;
      // buf.compare(target, …) orders the index's bytes (source) against the key (target).
      if (this.buf.compare(k, 0, k.length, at, at + k.length) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  range(id: string): LineRange | undefined {
    if (id.length > this.width) return undefined;
    const i = this.lowerBound(id);
    if (i >= this.size) return undefined;
    const e = this.entry(i);
    return e.id === id ? e : undefined;
  }

  withPrefix(prefix: string): LineRange[] {
    // Padding with spaces sorts before every id character, so the prefix's first id is at its lower bound.
    const out: LineRange[] = [];
    const start = this.lowerBound(prefix.length < this.width ? prefix : prefix.slice(0, this.width));
    for (let i = start; i < this.size; i++) {
      const e = this.entry(i);
      if (!e.id.startsWith(prefix)) break;
      out.push(e);
    }
    return out.sort((a, b) => a.offset - b.offset);
  }

  all(): LineRange[] {
    return Array.from({ length: this.size }, (_, i) => this.entry(i)).sort((a, b) => a.offset - b.offset);
  }
}

/** An index built in memory by scanning a file (format 1 has no index files). */
export class ScannedLineIndex implements LineLookup {
  private readonly byId = new Map<string, LineRange>();
  constructor(private readonly lines: LineRange[]) {
    for (const l of lines) this.byId.set(l.id, l);
  }
  range(id: string): LineRange | undefined {
    return this.byId.get(id);
  }
  withPrefix(prefix: string): LineRange[] {
    return this.lines.filter((l) => l.id.startsWith(prefix));
  }
  all(): LineRange[] {
    return [...this.lines];
  }
}
