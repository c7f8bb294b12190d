/** JSONL writing with byte offsets (the build's output files and their index). */
import { open, type FileHandle } from "node:fs/promises";

/** Buffered append-only writer that tracks byte offsets of the lines it writes. */
export class LineWriter {
  private chunks: string[] = [];
  private pending = 0;
  offset = 0;
  private constructor(private fh: FileHandle) {}
  static async open(file: string): Promise<LineWriter> {
    return new LineWriter(await open(file, "w"));
  }
  /** Appends one line; returns [byte offset, byte length] of the line (without newline). */
  async write(line: string): Promise<[number, number]> {
    const len = Buffer.byteLength(line);
    const at = this.offset;
    this.chunks.push(line, "\n");
    this.offset += len + 1;
    this.pending += len + 1;
    if (this.pending > 4 << 20) await this.flush();
    return [at, len];
  }
  /** Hands the buffered lines to the file; the write overlaps with the caller's next work. */
  async flush(): Promise<void> {
    if (this.chunks.length === 0) return;
    const data = this.chunks.join("");
    this.chunks = [];
    this.pending = 0;
    await this.inFlight;
    this.inFlight = this.fh.write(data).then(() => undefined);
  }
  private inFlight: Promise<void> = Promise.resolve();
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.flush();
      await this.inFlight;
    } finally {
      await this.fh.close();
    }
  }
  private closed = false;
}

