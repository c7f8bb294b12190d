/**
 * The batch runner: sends many requests through one Provider with bounded concurrency, optional
 * requests/tokens-per-minute limits, a per-request timeout, retries, a response cache, an
 * append-only run log and resume.
 *
 * Semantics (see also runlog.ts and cache.ts):
 * - Retries: a retryable ProviderError (rate_limit, server, timeout, network, malformed) is retried
 *   up to `maxRetries` times; the wait is the error's `retryAfterMs` when it has one (a 429 also
 *   pauses all dispatching until then), else exponential backoff with full jitter:
 *   random(0, min(maxMs, baseMs * 2^(attempt-1))). A non-retryable error (bad_request, auth,
 *   unsupported, input_too_long) is recorded at once. A failure is recorded as a line with
 *   `text: null`, `error: {kind, message, status}` and `attempts`; it is never turned into an answer.
 *   An error that is not a ProviderError is a bug: the run stops with status "failed" and rethrows.
 * - Timeout: each attempt gets its own signal, aborted by the caller's signal or a timer.
 * - Cancellation (the caller's signal): nothing new is dispatched, in-flight calls are aborted and
 *   NOT recorded (they are simply unfinished; a resume redoes them); status "cancelled".
 * - Cache: a hit is recorded as a line with `cached: true, attempts: 0`; errors are never cached.
 * - Resume: re-running with the same run dir reads results.jsonl (a torn last line is ignored and
 *   truncated away), skips items that already succeeded, and re-attempts items whose last line is
 *   a failure (`retryFailed`, default true; the new line supersedes the old one). A successful item
 *   is never run or written twice. The run dir must match: a different provider, model or params
 *   (or template / dataset hash or seed, when both sides have one) is refused with RunMismatchError,
 *   and so is an item whose request changed since it was recorded.
 * - Order: items sharing a `userKey` (else `request.sequenceKey`) are dispatched back to back, in
 *   order of first appearance, so prompt caches see shared prefixes.
 * - Totals: done / failed / cached count each item's last line; tokens and cost add up every line
 *   that called the API (cache hits cost nothing). Usage convention: `inputTokens` includes cached
 *   and cache-written tokens; cost = (input - cachedInput - cacheWrite) x input price + cachedInput x
 *   cachedInput price + cacheWrite x cacheWrite price + output x output price, per 1M tokens.
 * - run.json status: "running", then "finished" (every item has a line; some may be failures,
 *   see totals.failed), "cancelled", or "failed" (the run itself broke).
 * - Rounds: `openRun` opens a run folder once (lock, one read of results.jsonl into an in-memory
 *   index) and `RunSession.run(items)` adds a round of new items to it (a judge's re-ask round, a
 *   chunk of `preflab rs`); `finish()` writes the final status once, with totals over every item
 *   of every round. `runBatch` is one round.
 * - run.json writes are coalesced and retried (run-status.ts); a write that keeps failing never
 *   fails the run: results.jsonl is the source of truth and every open rewrites run.json from it
 *   (totals recounted, so a stale or missing run.json is repaired).
 */
import { setMaxListeners } from "node:events";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { Pricing } from "../providers/registry.js";
import type { Provider, ProviderRequest } from "../providers/types.js";
import { requestHash, stableStringify } from "./cache.js";
import { Dispatcher, round } from "./dispatch.js";
import { RunIndex, RunMismatchError } from "./run-index.js";
import { StatusWriter } from "./run-status.js";
import {
  LineAppender,
  RESULTS_FILE,
  lockRunDir,
  RUN_FILE,
  readResultLines,
  readRunJson,
  sanitizeMeta,
  type ResultLine,
  type RunJson,
  type RunMeta,
  type RunStatus,
  type RunTotals,
} from "./runlog.js";

export { costOf } from "./cost.js";
export { backoffDelay } from "./dispatch.js";
export { RunMismatchError } from "./run-index.js";
export { readResults, readResultLines, readRunJson, type ResultLine, type RunJson, type RunMeta, type RunStatus, type RunTotals } from "./runlog.js";

export interface RunItem {
  id: string;
  request: ProviderRequest;
  /** Items with one userKey (one synthetic user) are dispatched back to back. */
  userKey?: string;
}

export interface Progress {
  done: number;
  total: number;
  failed: number;
  cached: number;
  inFlight: number;
  /** Estimated time left, from this session's pace; null until something finished. */
  etaMs: number | null;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

export interface RunnerOptions {
  concurrency: number;
  rpm?: number;
  tpm?: number;
  /** Per attempt. */
  timeoutMs: number;
  /** Retries after the first attempt, for retryable errors. */
  maxRetries: number;
  backoff?: BackoffOptions;
  /** Response cache directory, or false to disable it. Omitted: disabled. */
  cacheDir?: string | false;
  runDir: string;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  pricing?: Pricing;
  meta: RunMeta;
  /** Re-attempt items whose last recorded line is a failure (default true). */
  retryFailed?: boolean;
  /** Strings (API keys) that must never reach disk: replaced by "[redacted]" in every line written. */
  secrets?: string[];
  /** Uniform [0, 1) source for backoff jitter (default Math.random). */
  random?: () => number;
  /** How often run.json is refreshed while running (default 2000 ms). */
  runJsonIntervalMs?: number;
  /** Longest honoured Retry-After (default 10 minutes). */
  maxRetryAfterMs?: number;
  /**
   * Keep every item's last line in memory for `RunSession.result` (default true). false keeps
   * only what resuming and the totals need, so a run of any size holds a few dozen bytes an item;
   * its results are read back from results.jsonl.
   */
  keepResults?: boolean;
}

export const RUNNER_DEFAULTS = {
  concurrency: 8,
  timeoutMs: 120_000,
  maxRetries: 5,
  backoff: { baseMs: 500, maxMs: 30_000 },
};

export interface FailureSummary {
  itemId: string;
  kind: string;
  message: string;
  status?: number;
  attempts: number;
}

export interface RunSummary {
  status: RunStatus;
  runDir: string;
  totals: RunTotals;
  cache: { enabled: boolean; hits: number; misses: number };
  /** Items already successful before this session. */
  skipped: number;
  /** Previously failed items re-attempted in this session. */
  retriedFailed: number;
  /** Lines written in this session. */
  finishedThisSession: number;
  /** Bytes of a torn last line repaired at start. */
  tornBytes: number;
  /** Items whose last line is a failure. */
  failures: FailureSummary[];
  /** Set when run.json could not be written even after retries (results.jsonl has every result; the next open rewrites run.json). */
  statusWriteError?: string;
}

/** Items grouped by userKey (else sequenceKey), groups in order of first appearance. */
export function dispatchOrder(items: RunItem[]): RunItem[] {
  const groups = new Map<string, RunItem[]>();
  const out: RunItem[][] = [];
  for (const item of items) {
    const key = item.userKey ?? item.request.sequenceKey;
    if (key === undefined) {
      out.push([item]);
      continue;
    }
    let g = groups.get(key);
    if (!g) {
      g = [];
      groups.set(key, g);
      out.push(g);
    }
    g.push(item);
  }
  return out.flat();
}


/** A run folder opened for one or more rounds of items; see the module comment. */
export class RunSession {
  private readonly index: RunIndex;
  private readonly dispatcher: Dispatcher;
  private readonly status: StatusWriter;
  private readonly stop = new AbortController();
  private readonly onCallerAbort: () => void;
  private readonly interval: NodeJS.Timeout;
  private readonly sessionStart = performance.now();
  private readonly sessionStartedAt = new Date().toISOString();
  private readonly startedAt: string;
  private state: RunStatus = "running";
  private runError: string | undefined;
  private finishedAt: string | null = null;
  private ended: RunSummary | undefined;
  private roundPending = 0;
  private roundFinished = 0;
  private counters = { skipped: 0, retriedFailed: 0, finishedThisSession: 0 };

  private constructor(
    readonly runDir: string,
    provider: Provider,
    private readonly options: RunnerOptions,
    private readonly meta: Omit<RunMeta, "cacheScope">,
    private readonly existing: RunJson | undefined,
    private readonly tornBytes: number,
    lines: ResultLine[],
    private readonly appender: LineAppender,
    private readonly unlock: () => Promise<void>,
    cacheScope: string | undefined,
    private readonly redact: (text: string) => string,
  ) {
    this.index = new RunIndex(runDir, options.pricing, meta.provider, options.keepResults === false);
    this.index.load(lines);
    this.startedAt = existing?.startedAt ?? this.sessionStartedAt;
    this.status = new StatusWriter(path.join(runDir, RUN_FILE));
    setMaxListeners(0, this.stop.signal); // one listener per in-flight attempt or backoff wait
    this.onCallerAbort = () => this.stop.abort(options.signal?.reason);
    if (options.signal?.aborted) this.stop.abort(options.signal.reason);
    else options.signal?.addEventListener("abort", this.onCallerAbort, { once: true });
    this.dispatcher = new Dispatcher({
      provider,
      concurrency: options.concurrency,
      timeoutMs: options.timeoutMs,
      maxRetries: options.maxRetries,
      backoff: options.backoff ?? RUNNER_DEFAULTS.backoff,
      maxRetryAfterMs: options.maxRetryAfterMs ?? 600_000,
      random: options.random ?? Math.random,
      rpm: options.rpm,
      tpm: options.tpm,
      cacheDir: options.cacheDir,
      cacheScope,
      runParams: meta.params ?? {},
      redact,
      stop: this.stop,
    });
    this.interval = setInterval(() => void this.writeStatus(), options.runJsonIntervalMs ?? 2000);
    this.interval.unref();
  }

  /** Opens (locks) a run folder; results.jsonl is read once here. Call `finish()` when done. */
  static async open(provider: Provider, options: RunnerOptions): Promise<RunSession> {
    validate(options);
    const secrets = (options.secrets ?? []).filter((s) => typeof s === "string" && s.length >= 8);
    const redact = (text: string): string => {
      for (const s of secrets) if (text.includes(s)) text = text.split(s).join("[redacted]");
      return text;
    };
    const runDir = options.runDir;
    const { cacheScope, ...metaRest } = options.meta;
    const meta = sanitizeMeta(metaRest);
    await mkdir(runDir, { recursive: true });
    const unlock = await lockRunDir(runDir);
    try {
      const existing = await readRunJson(runDir).catch(() => undefined); // unreadable: rewritten from results.jsonl
      if (existing) checkCompatible(existing, meta, runDir);
      const { lines, tornBytes } = await readResultLines(runDir, { repair: true });
      const appender = await LineAppender.open(path.join(runDir, RESULTS_FILE));
      const s = new RunSession(runDir, provider, options, meta, existing, tornBytes, lines, appender, unlock, cacheScope, redact);
      await s.writeStatus();
      return s;
    } catch (e) {
      await unlock();
      throw e;
    }
  }

  /** The last recorded line of an item (from memory; results.jsonl is not re-read). Not with `keepResults: false`. */
  result(itemId: string): ResultLine | undefined {
    return this.index.get(itemId);
  }

  get cancelled(): boolean {
    return this.stop.signal.aborted;
  }

  /** Current totals over the run's items (every round so far). */
  get totals(): RunTotals {
    return { ...this.index.totals, costUsd: round(this.index.totals.costUsd), batchDiscountUsd: round(this.index.totals.batchDiscountUsd) };
  }

  /**
   * Adds a round of new items (ids not yet in this run) and runs those not already done. Returns
   * false when the run was cancelled (nothing more is dispatched). An error that is not a
   * ProviderError ends the run as "failed" and is rethrown.
   */
  async run(items: RunItem[]): Promise<boolean> {
    if (this.ended) throw new Error(`${this.runDir}: the run already ended (${this.ended.status})`);
    const meta = this.meta;
    const params = meta.params ?? {};
    const hashes = new Map<string, string>();
    for (const item of items) {
      if (typeof item.id !== "string" || item.id === "") throw new Error("every item needs a non-empty string id");
      if (hashes.has(item.id) || this.index.has(item.id)) throw new Error(`duplicate item id "${item.id}"`);
      hashes.set(item.id, requestHash(meta.provider, meta.model, params, item.request));
    }
    const retryFailed = this.options.retryFailed ?? true;
    const todo: RunItem[] = [];
    for (const item of items) {
      const l = this.index.admit(item.id, hashes.get(item.id)!);
      if (l && !l.error) this.counters.skipped++;
      else if (l && !retryFailed) continue;
      else {
        if (l) this.counters.retriedFailed++;
        todo.push(item);
      }
    }
    const pending = dispatchOrder(todo);
    this.roundPending = pending.length;
    this.roundFinished = 0;
    this.emit();
    let i = 0;
    return this.dispatch(async () => {
      const item = pending[i];
      if (!item) return undefined;
      pending[i++] = undefined as unknown as RunItem; // let a finished item's request be collected
      return { item, hash: hashes.get(item.id)! };
    });
  }

  /**
   * Like `run`, for items produced on demand (e.g. a generator that renders prompts as it goes):
   * an item is pulled only when a worker is free, so memory holds about `concurrency` requests,
   * whatever the number of items. Items are dispatched in the order given (no userKey grouping:
   * give them grouped). A source that throws ends the run as "failed".
   */
  async runStream(source: AsyncIterable<RunItem> | Iterable<RunItem>): Promise<boolean> {
    if (this.ended) throw new Error(`${this.runDir}: the run already ended (${this.ended.status})`);
    const it: AsyncIterator<RunItem> | Iterator<RunItem> = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
    const meta = this.meta;
    const params = meta.params ?? {};
    const retryFailed = this.options.retryFailed ?? true;
    this.roundPending = 0;
    this.roundFinished = 0;
    const pullOne = async (): Promise<{ item: RunItem; hash: string } | undefined> => {
      for (;;) {
        const r = await it.next();
        if (r.done) return undefined;
        const item = r.value;
        if (typeof item.id !== "string" || item.id === "") throw new Error("every item needs a non-empty string id");
        if (this.index.has(item.id)) throw new Error(`duplicate item id "${item.id}"`);
        const hash = requestHash(meta.provider, meta.model, params, item.request);
        const l = this.index.admit(item.id, hash);
        if (l && !l.error) {
          this.counters.skipped++;
          continue;
        }
        if (l && !retryFailed) continue;
        if (l) this.counters.retriedFailed++;
        this.roundPending++;
        return { item, hash };
      }
    };
    // One pull at a time: the source is read in order, never concurrently.
    let chain: Promise<unknown> = Promise.resolve();
    const next = () => {
      const p = chain.then(pullOne);
      chain = p.catch(() => undefined);
      return p;
    };
    try {
      return await this.dispatch(next);
    } finally {
      await chain;
      await it.return?.();
    }
  }

  private async dispatch(next: () => Promise<{ item: RunItem; hash: string } | undefined>): Promise<boolean> {
    if (this.stop.signal.aborted) return false;
    try {
      await this.dispatcher.round(next, (line) => this.record(line));
    } catch (e) {
      this.state = "failed";
      this.runError = e instanceof Error ? e.message : String(e);
      throw e;
    }
    await this.writeStatus(); // still "running": only finish() ends the run
    return !this.stop.signal.aborted;
  }

  /**
   * Ends the run once: status "finished" (every round ran to the end), "cancelled", or "failed"
   * (a round threw, or `error` is given: the caller's own failure). Releases the lock. Idempotent.
   */
  async finish(error?: unknown): Promise<RunSummary> {
    if (this.ended) return this.ended;
    clearInterval(this.interval);
    this.options.signal?.removeEventListener("abort", this.onCallerAbort);
    try {
      await this.appender.close().catch(() => undefined);
      if (error !== undefined && this.state !== "failed") {
        this.state = "failed";
        this.runError = error instanceof Error ? error.message : String(error);
      }
      if (this.state !== "failed") {
        if (this.stop.signal.aborted) this.state = "cancelled";
        else {
          this.state = "finished";
          this.finishedAt = new Date().toISOString();
        }
      }
      await this.writeStatus();
      this.emit();
    } finally {
      await this.unlock();
    }
    const failures: FailureSummary[] = [];
    for (const l of this.index.failures()) {
      const f: FailureSummary = { itemId: l.itemId, kind: l.error!.kind, message: l.error!.message, attempts: l.attempts };
      if (l.error!.status !== undefined) f.status = l.error!.status;
      failures.push(f);
    }
    const cache = this.dispatcher.cache;
    const summary: RunSummary = {
      status: this.state,
      runDir: this.runDir,
      totals: this.totals,
      cache: { enabled: cache !== undefined, hits: cache?.hits ?? 0, misses: cache?.misses ?? 0 },
      ...this.counters,
      tornBytes: this.tornBytes,
      failures,
    };
    if (this.status.lastError) summary.statusWriteError = `${path.join(this.runDir, RUN_FILE)}: ${this.status.lastError.message}`;
    this.ended = summary;
    return summary;
  }

  private async record(raw: ResultLine): Promise<void> {
    const json = JSON.stringify(raw);
    const safe = this.redact(json);
    const line = safe === json ? raw : (JSON.parse(safe) as ResultLine);
    await this.appender.append(safe);
    this.index.record(line);
    this.counters.finishedThisSession++;
    this.roundFinished++;
    this.emit();
  }

  private runJson(): RunJson {
    const meta = this.meta;
    const j: RunJson = {
      provider: meta.provider,
      model: meta.model,
      params: meta.params,
      templateHash: meta.templateHash ?? null,
      datasetManifestHash: meta.datasetManifestHash ?? null,
      seed: meta.seed ?? null,
      startedAt: this.startedAt,
      updatedAt: new Date().toISOString(),
      finishedAt: this.finishedAt,
      status: this.state,
      pricing: this.options.pricing ?? null,
      totals: this.totals,
    };
    if (meta.baseUrl) j.baseUrl = meta.baseUrl;
    if (this.existing) j.resumedAt = this.sessionStartedAt;
    if (this.runError) j.error = this.runError;
    return j;
  }

  /** Never rejects: failures are retried, then remembered (summary.statusWriteError). */
  private writeStatus(): Promise<void> {
    return this.status.write(JSON.parse(this.redact(JSON.stringify(this.runJson()))));
  }

  private emit(): void {
    const onProgress = this.options.onProgress;
    if (!onProgress) return;
    const t = this.index.totals;
    const remaining = this.roundPending - this.roundFinished;
    const done = this.counters.finishedThisSession;
    const elapsed = performance.now() - this.sessionStart;
    const p: Progress = {
      done: t.done,
      total: t.items,
      failed: t.failed,
      cached: t.cached,
      inFlight: this.dispatcher.inFlight,
      etaMs: done > 0 ? Math.round((elapsed / done) * Math.max(0, remaining)) : null,
      inputTokens: t.inputTokens,
      outputTokens: t.outputTokens,
      costUsd: t.costUsd,
    };
    try {
      onProgress(p);
    } catch {
      // a progress listener must not break the run
    }
  }
}

/** Opens a run folder for rounds of items (see RunSession). */
export function openRun(provider: Provider, options: RunnerOptions): Promise<RunSession> {
  return RunSession.open(provider, options);
}

/** Runs `items` as one round in `options.runDir` and ends the run. */
export async function runBatch(items: RunItem[], provider: Provider, options: RunnerOptions): Promise<RunSummary> {
  validate(options);
  const ids = new Set<string>();
  for (const item of items) {
    if (typeof item.id !== "string" || item.id === "") throw new Error("every item needs a non-empty string id");
    if (ids.has(item.id)) throw new Error(`duplicate item id "${item.id}"`);
    ids.add(item.id);
  }
  const session = await RunSession.open(provider, options);
  try {
    await session.run(items);
  } catch (e) {
    await session.finish(e);
    throw e;
  }
  return session.finish();
}

function validate(options: RunnerOptions): void {
  const concurrency = options.concurrency;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`concurrency must be an integer >= 1, got ${concurrency}`);
  if (!Number.isInteger(options.maxRetries) || options.maxRetries < 0) throw new Error(`maxRetries must be an integer >= 0, got ${options.maxRetries}`);
  if (!(options.timeoutMs > 0)) throw new Error(`timeoutMs must be > 0, got ${options.timeoutMs}`);
}

function checkCompatible(existing: RunJson, meta: Omit<RunMeta, "cacheScope">, runDir: string): void {
  const diffs: string[] = [];
  if (existing.provider !== meta.provider) diffs.push(`provider "${existing.provider}" vs "${meta.provider}"`);
  if (existing.model !== meta.model) diffs.push(`model "${existing.model}" vs "${meta.model}"`);
  const a = stableStringify(existing.params ?? {});
  const b = stableStringify(meta.params ?? {});
  if (a !== b) diffs.push(`params ${a} vs ${b}`);
  const opt = (name: "templateHash" | "datasetManifestHash" | "seed") => {
    const x = existing[name];
    const y = meta[name];
    if (x !== null && x !== undefined && y !== undefined && x !== y) diffs.push(`${name} ${JSON.stringify(x)} vs ${JSON.stringify(y)}`);
  };
  opt("templateHash");
  opt("datasetManifestHash");
  opt("seed");
  if (diffs.length > 0) {
    throw new RunMismatchError(`cannot resume ${runDir}: it was made with different settings (recorded vs now: ${diffs.join("; ")}); use a new run dir or the same settings`);
  }
}
