/** JSONL writing with byte offsets (the build's output files and their index). */
import { open, type FileHandle } from "node:fs/promises";
import { ByteBuffer } from "./json-bytes.js";

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


/**
 * Append-only writer of bytes (lines built in `buffer` by the caller): two buffers in turn, one
 * filling while the other is written, so no line is copied into a new string or buffer.
 */
export class ByteWriter {
  buffer = new ByteBuffer(FLUSH_AT + (1 << 20));
  private spare = new ByteBuffer(FLUSH_AT + (1 << 20));
  private written = 0;
  private inFlight: Promise<void> = Promise.resolve();
  private closed = false;
  private constructor(private fh: FileHandle) {}
  static async open(file: string): Promise<ByteWriter> {
    return new ByteWriter(await open(file, "w"));
  }
  /** Byte offset of the next byte written to `buffer`. */
  get offset(): number {
    return this.written + this.buffer.length;
  }
  /** Hands the buffer to the file once it holds FLUSH_AT bytes. */
  async flushIfFull(): Promise<void> {
    if (this.buffer.length >= FLUSH_AT) await this.flush();
  }
  private async flush(): Promise<void> {
    if (this.buffer.length === 0) return;
    await this.inFlight;
    const full = this.buffer;
    this.buffer = this.spare;
    this.spare = full;
    this.buffer.clear();
    this.written += full.length;
    this.inFlight = writeAll(this.fh, full.bytes, full.length);
    this.inFlight.catch(() => undefined); // surfaced by the next flush or close
  }
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
}

const FLUSH_AT = 4 << 20;

async function writeAll(fh: FileHandle, bytes: Uint8Array, length: number): Promise<void> {
  let at = 0;
  while (at < length) at += (await fh.write(bytes, at, length - at)).bytesWritten;
}
