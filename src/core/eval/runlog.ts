/**
 * A run directory on disk:
 *   results.jsonl  append-only, one line per finished item (success or failure), each line written
 *                  whole by one write call; the last line for an item wins when reading.
 *   run.json       what ran (provider, model, params, hashes, seed), when, its status and totals;
 *                  always replaced atomically (temp file + rename).
 * Nothing here ever holds an API key: callers pass no key in, and `sanitizeMeta` drops key-like
 * fields as a second line of defence.
 */
import { open, readFile, truncate, type FileHandle } from "node:fs/promises";
import { lockState, takeLock } from "../util/lock.js";
import os from "node:os";
import path from "node:path";
import type { ProviderErrorKind, Usage } from "../providers/types.js";

export const RESULTS_FILE = "results.jsonl";
export const RUN_FILE = "run.json";
export const LOCK_FILE = "run.lock";

/** One line of results.jsonl. `text` is null on failure: a failure is never an answer. */
export interface ResultLine {
  itemId: string;
  requestHash: string;
  text: string | null;
  tokenProbabilities?: Record<string, number>;
  finishReason?: string;
  usage: Usage;
  latencyMs: number;
  /** Calls made to the provider for this line (0 when served from the response cache). */
  attempts: number;
  /** Served from Preflab's response cache. */
  cached: boolean;
  /** Answered through the provider's batch API (priced at its batch discount). */
  batch?: boolean;
  error?: { kind: ProviderErrorKind; message: string; status?: number };
  finishedAt: string;
}

/** What ran; run.json holds it and a resume must match it. */
export interface RunMeta {
  provider: string;
  model: string;
  params: Record<string, unknown>;
  templateHash?: string;
  datasetManifestHash?: string;
  seed?: number;
  /** Where requests went (no credentials: userinfo and query are stripped). Not compared on resume. */
  baseUrl?: string;
  /** Extra text mixed into response-cache keys (e.g. an openai-compatible server's URL). Not written. */
  cacheScope?: string;
}

export type RunStatus = "running" | "finished" | "cancelled" | "failed";

export interface RunTotals {
  items: number;
  done: number;
  failed: number;
  cached: number;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  /** Input tokens written to the provider's prompt cache (Anthropic cache_creation_input_tokens). */
  cacheWriteTokens: number;
  /** Lines answered through a provider batch API, and the dollars its discount saved. */
  batchRequests: number;
  batchDiscountUsd: number;
  /** Dollars at the run's prices; 0 when the price is unknown (see RunJson.pricing). */
  costUsd: number;
}

export interface RunJson {
  provider: string;
  model: string;
  params: Record<string, unknown>;
  templateHash: string | null;
  datasetManifestHash: string | null;
  seed: number | null;
  baseUrl?: string;
  startedAt: string;
  /** When this session (the latest start or resume) began. */
  resumedAt?: string;
  updatedAt: string;
  finishedAt: string | null;
  status: RunStatus;
  /** Why a run ended as "failed", when it did not just have failed items. */
  error?: string;
  /** USD per 1M tokens the cost was computed at; null = price unknown (costUsd means nothing). */
  pricing?: import("../providers/registry.js").Pricing | null;
  totals: RunTotals;
}

export function emptyTotals(items = 0): RunTotals {
  return { items, done: 0, failed: 0, cached: 0, inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, batchRequests: 0, batchDiscountUsd: 0, costUsd: 0 };
}

/** Writes JSON to a temp file beside `file` and renames it over `file` (the core's one atomic write). */
export { writeJsonAtomic } from "../util/atomic.js";

export async function readRunJson(runDir: string): Promise<RunJson | undefined> {
  let raw: string;
  try {
    raw = await readFile(path.join(runDir, RUN_FILE), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  try {
    return JSON.parse(raw) as RunJson;
  } catch (e) {
    throw new Error(`${path.join(runDir, RUN_FILE)} is not valid JSON: ${(e as Error).message}`);
  }
}

export interface ReadLinesResult {
  lines: ResultLine[];
  /** Bytes of a torn last line that were ignored (and truncated away when `repair`). */
  tornBytes: number;
}

/**
 * Reads results.jsonl. A torn last line (no final newline, or a last line that does not parse,
 * as a crash mid-write can leave) is ignored, and with `repair` truncated away so later appends
 * start on a clean line. A bad line anywhere else is corruption and throws, naming the line.
 */
export async function readResultLines(runDir: string, opts: { repair?: boolean } = {}): Promise<ReadLinesResult> {
  const file = path.join(runDir, RESULTS_FILE);
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { lines: [], tornBytes: 0 };
    throw e;
  }
  let goodEnd = buf.lastIndexOf(0x0a) + 1; // bytes up to and including the last newline
  const lines: ResultLine[] = [];
  let start = 0;
  let lineNo = 0;
  while (start < goodEnd) {
    const nl = buf.indexOf(0x0a, start);
    const end = nl < 0 ? goodEnd : nl;
    lineNo++;
    const text = buf.toString("utf8", start, end).trim();
    const next = end + 1;
    if (text) {
      const parsed = parseLine(text);
      if (parsed) lines.push(parsed);
      else if (next >= goodEnd) {
        goodEnd = start; // the last complete line is itself torn
        break;
      } else {
        throw new Error(`${file}:${lineNo}: not a valid result line (the file is corrupt; only a torn last line is repaired)`);
      }
    }
    start = next;
  }
  const tornBytes = buf.length - goodEnd;
  if (tornBytes > 0 && opts.repair) await truncate(file, goodEnd);
  return { lines, tornBytes };
}

function parseLine(text: string): ResultLine | undefined {
  try {
    const v = JSON.parse(text) as Partial<ResultLine>;
    if (typeof v !== "object" || v === null || typeof v.itemId !== "string" || typeof v.requestHash !== "string") return undefined;
    if (v.text !== null && typeof v.text !== "string") return undefined;
    return v as ResultLine;
  } catch {
    return undefined;
  }
}

/** The results of a run: the last line per item wins (a resumed run supersedes failures). */
export async function readResults(runDir: string): Promise<Map<string, ResultLine>> {
  const { lines } = await readResultLines(runDir);
  const out = new Map<string, ResultLine>();
  for (const l of lines) out.set(l.itemId, l);
  return out;
}

/**
 * Appends whole lines to a file opened with 'a'. Lines queued while a write is in flight go out
 * together in the next single write call, so every write holds only whole lines.
 */
export class LineAppender {
  private queue: { text: string; done: () => void; fail: (e: unknown) => void }[] = [];
  private writing = false;
  private failed: unknown;

  private constructor(private readonly fh: FileHandle) {}

  static async open(file: string): Promise<LineAppender> {
    return new LineAppender(await open(file, "a"));
  }

  /** Resolves once the line is in the file. `line` must not contain a newline. */
  append(line: string): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((done, fail) => {
      this.queue.push({ text: line + "\n", done, fail });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const data = Buffer.from(batch.map((b) => b.text).join(""));
      try {
        let off = 0;
        while (off < data.length) off += (await this.fh.write(data, off, data.length - off)).bytesWritten;
        for (const b of batch) b.done();
      } catch (e) {
        this.failed = e;
        for (const b of [...batch, ...this.queue]) b.fail(e);
        this.queue = [];
      }
    }
    this.writing = false;
  }

  async close(): Promise<void> {
    while (this.writing || this.queue.length > 0) await new Promise((r) => setImmediate(r));
    await this.fh.close();
  }
}

const SECRET_KEY = /^(api[-_]?key|apikey|authorization|auth[-_]?token|access[-_]?token|secret|password)$/i;

/** A copy of `value` without key-like fields, and URLs without userinfo or query. */
export function sanitizeMeta<T>(value: T): T {
  if (Array.isArray(value)) return (value as unknown[]).map((v) => sanitizeMeta(v)) as T;
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (SECRET_KEY.test(k)) continue;
      out[k] = sanitizeMeta(v);
    }
    return out as T;
  }
  return value;
}

/** A URL without credentials or query string (for run.json). */
export function publicUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    u.search = "";
    u.hash = "";
    return u.toString();
  } catch {
    return "(invalid url)";
  }
}

/**
 * Takes the run dir's lock (`run.lock`, see src/core/util/lock.ts), so two runs (two processes, or
 * two tasks of one process) never append to one run. A lock left by a process that no longer
 * exists (e.g. one that was SIGKILLed) is taken over. Returns the release function, which removes
 * the lock only while it is still this run's.
 */
export async function lockRunDir(runDir: string): Promise<() => Promise<void>> {
  const file = path.join(runDir, LOCK_FILE);
  const lock = await takeLock(file, (holder, here) => {
    if (here) return `${runDir} is in use by another run in this process; wait for it or cancel it`;
    if (holder?.host !== undefined && holder.host !== os.hostname()) return `${runDir} is locked by process ${holder.pid} on ${String(holder.host)}; if that run is gone, delete ${file}`;
    return `${runDir} is in use by another run (process ${holder?.pid}); wait for it or cancel it`;
  });
  return () => lock.release();
}

/** Whether a run dir's lock is held by a live run (in this process or another; another host's lock counts as held). */
export async function runDirLocked(runDir: string): Promise<boolean> {
  return (await lockState(path.join(runDir, LOCK_FILE))).state === "held";
}
