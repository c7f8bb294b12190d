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
 */
import { setMaxListeners } from "node:events";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { Pricing } from "../providers/registry.js";
import { ProviderError, type Provider, type ProviderRequest, type ProviderResponse, type Usage } from "../providers/types.js";
import { ResponseCache, requestHash, sha256, stableStringify } from "./cache.js";
import { RateLimiter, estimateTokens } from "./limiter.js";
import {
  LineAppender,
  RESULTS_FILE,
  lockRunDir,
  RUN_FILE,
  emptyTotals,
  readResultLines,
  readRunJson,
  sanitizeMeta,
  writeJsonAtomic,
  type ResultLine,
  type RunJson,
  type RunMeta,
  type RunStatus,
  type RunTotals,
} from "./runlog.js";

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
}

export const RUNNER_DEFAULTS = {
  concurrency: 8,
  timeoutMs: 120_000,
  maxRetries: 5,
  backoff: { baseMs: 500, maxMs: 30_000 } as BackoffOptions,
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
}

/** Refusal to resume a run dir made with different settings or requests. */
export class RunMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RunMismatchError";
  }
}

/** Cost in USD of one call's usage (inputTokens include cached and cache-written tokens). */
export function costOf(usage: Usage, pricing: Pricing | undefined): number {
  if (!pricing) return 0;
  const inP = pricing.input ?? 0;
  const cached = usage.cachedInputTokens;
  const write = usage.cacheWriteTokens;
  const plain = Math.max(0, usage.inputTokens - cached - write);
  return (plain * inP + cached * (pricing.cachedInput ?? inP) + write * (pricing.cacheWrite ?? inP) + usage.outputTokens * (pricing.output ?? 0)) / 1e6;
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

/** Full-jitter exponential backoff for the given attempt (1-based). */
export function backoffDelay(attempt: number, b: BackoffOptions, random: () => number = Math.random): number {
  const cap = Math.min(b.maxMs, b.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * cap);
}

type AttemptOutcome = { ok: Omit<ProviderResponse, "cached"> } | { err: ProviderError } | { aborted: true };

export async function runBatch(items: RunItem[], provider: Provider, options: RunnerOptions): Promise<RunSummary> {
  const concurrency = options.concurrency;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`concurrency must be an integer >= 1, got ${concurrency}`);
  if (!Number.isInteger(options.maxRetries) || options.maxRetries < 0) throw new Error(`maxRetries must be an integer >= 0, got ${options.maxRetries}`);
  if (!(options.timeoutMs > 0)) throw new Error(`timeoutMs must be > 0, got ${options.timeoutMs}`);
  const secrets = (options.secrets ?? []).filter((s) => typeof s === "string" && s.length >= 8);
  const runDir = options.runDir;

  const byId = new Map<string, RunItem>();
  for (const item of items) {
    if (typeof item.id !== "string" || item.id === "") throw new Error("every item needs a non-empty string id");
    if (byId.has(item.id)) throw new Error(`duplicate item id "${item.id}"`);
    byId.set(item.id, item);
  }

  const { cacheScope, ...metaRest } = options.meta;
  const meta = sanitizeMeta(metaRest);

  await mkdir(runDir, { recursive: true });
  const unlock = await lockRunDir(runDir);
  try {
    return await runLocked(items, provider, options, runDir, meta, cacheScope, secrets);
  } finally {
    await unlock();
  }
}

async function runLocked(
  items: RunItem[],
  provider: Provider,
  options: RunnerOptions,
  runDir: string,
  meta: Omit<RunMeta, "cacheScope">,
  cacheScope: string | undefined,
  secrets: string[],
): Promise<RunSummary> {
  const concurrency = options.concurrency;
  const backoff = options.backoff ?? RUNNER_DEFAULTS.backoff;
  const random = options.random ?? Math.random;
  const retryFailed = options.retryFailed ?? true;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 600_000;
  const redact = (text: string): string => {
    for (const s of secrets) if (text.includes(s)) text = text.split(s).join("[redacted]");
    return text;
  };
  const runParams = meta.params ?? {};
  const existing = await readRunJson(runDir);
  if (existing) checkCompatible(existing, meta, runDir);
  const { lines, tornBytes } = await readResultLines(runDir, { repair: true });

  // Hashes, and what is already recorded.
  const hashes = new Map<string, string>();
  for (const item of items) hashes.set(item.id, requestHash(meta.provider, meta.model, runParams, item.request));
  const final = new Map<string, ResultLine>();
  const lineNo = new Map<string, number>();
  const totals = emptyTotals(items.length);
  lines.forEach((l, i) => {
    final.set(l.itemId, l);
    lineNo.set(l.itemId, i + 1);
    if (!l.cached) addUsage(totals, l.usage, options.pricing);
  });
  for (const [id, l] of final) {
    const h = hashes.get(id);
    if (h === undefined) continue; // recorded for an item this input no longer has: kept, not counted
    if (l.requestHash !== h) {
      throw new RunMismatchError(
        `item "${id}" differs from the request recorded in ${path.join(runDir, RESULTS_FILE)} (line ${lineNo.get(id)}); ` +
          `its messages or params changed, so resuming would mix two experiments: use a new run dir`,
      );
    }
    if (l.error) totals.failed++;
    else {
      totals.done++;
      if (l.cached) totals.cached++;
    }
  }
  let skipped = 0;
  let retriedFailed = 0;
  const todo: RunItem[] = [];
  for (const item of items) {
    const l = final.get(item.id);
    if (l && !l.error) skipped++;
    else if (l && !retryFailed) continue;
    else {
      if (l) retriedFailed++;
      todo.push(item);
    }
  }
  const pending = dispatchOrder(todo);

  const cache = options.cacheDir ? new ResponseCache(options.cacheDir) : undefined;
  const limiter = new RateLimiter({ rpm: options.rpm, tpm: options.tpm });
  const startedAt = existing?.startedAt ?? new Date().toISOString();
  const sessionStart = performance.now();
  const sessionStartedAt = new Date().toISOString();
  let status: RunStatus = "running";
  let runError: string | undefined;
  let finishedAt: string | null = null;

  const runJson = (): RunJson => {
    const j: RunJson = {
      provider: meta.provider,
      model: meta.model,
      params: meta.params,
      templateHash: meta.templateHash ?? null,
      datasetManifestHash: meta.datasetManifestHash ?? null,
      seed: meta.seed ?? null,
      startedAt,
      updatedAt: new Date().toISOString(),
      finishedAt,
      status,
      totals: { ...totals, costUsd: round(totals.costUsd) },
    };
    if (meta.baseUrl) j.baseUrl = meta.baseUrl;
    if (existing) j.resumedAt = sessionStartedAt;
    if (runError) j.error = runError;
    return j;
  };
  let runJsonChain: Promise<void> = Promise.resolve();
  const writeRunJson = (): Promise<void> => {
    const snapshot = redact(JSON.stringify(runJson()));
    runJsonChain = runJsonChain.then(() => writeJsonAtomic(path.join(runDir, RUN_FILE), JSON.parse(snapshot)));
    return runJsonChain;
  };
  await writeRunJson();

  const appender = await LineAppender.open(path.join(runDir, RESULTS_FILE));
  const interval = setInterval(() => void writeRunJson().catch(() => undefined), options.runJsonIntervalMs ?? 2000);
  interval.unref();

  const stop = new AbortController();
  setMaxListeners(0, stop.signal); // one listener per in-flight attempt or backoff wait
  const onCallerAbort = () => stop.abort(options.signal?.reason);
  if (options.signal?.aborted) stop.abort(options.signal.reason);
  else options.signal?.addEventListener("abort", onCallerAbort, { once: true });

  let inFlight = 0;
  let finishedThisSession = 0;
  let pauseUntil = 0;
  let fatal: { error: unknown } | undefined;

  const emit = () => {
    if (!options.onProgress) return;
    const remaining = pending.length - finishedThisSession;
    const elapsed = performance.now() - sessionStart;
    const p: Progress = {
      done: totals.done,
      total: totals.items,
      failed: totals.failed,
      cached: totals.cached,
      inFlight,
      etaMs: finishedThisSession > 0 ? Math.round((elapsed / finishedThisSession) * Math.max(0, remaining)) : null,
      inputTokens: totals.inputTokens,
      outputTokens: totals.outputTokens,
      costUsd: totals.costUsd,
    };
    try {
      options.onProgress(p);
    } catch {
      // a progress listener must not break the run
    }
  };

  const record = async (raw: ResultLine, slot: { busy: boolean }): Promise<void> => {
    const json = JSON.stringify(raw);
    const safe = redact(json);
    const line = safe === json ? raw : (JSON.parse(safe) as ResultLine);
    await appender.append(safe);
    const prev = final.get(line.itemId);
    if (prev) {
      if (prev.error) totals.failed--;
      else {
        totals.done--;
        if (prev.cached) totals.cached--;
      }
    }
    final.set(line.itemId, line);
    if (line.error) totals.failed++;
    else {
      totals.done++;
      if (line.cached) totals.cached++;
    }
    if (!line.cached) addUsage(totals, line.usage, options.pricing);
    finishedThisSession++;
    if (slot.busy) {
      slot.busy = false;
      inFlight--;
    }
    emit();
  };

  const attempt = async (item: RunItem): Promise<AttemptOutcome> => {
    const ac = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort(new DOMException(`request timed out after ${options.timeoutMs} ms`, "TimeoutError"));
    }, options.timeoutMs);
    const onStop = () => ac.abort(stop.signal.reason);
    stop.signal.addEventListener("abort", onStop, { once: true });
    // Race the call against its own signal, so a provider that ignores signals cannot hang the run.
    let unlisten: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      const f = () => reject(ac.signal.reason);
      ac.signal.addEventListener("abort", f, { once: true });
      unlisten = () => ac.signal.removeEventListener("abort", f);
    });
    try {
      const call = provider.call(item.request, { signal: ac.signal });
      call.catch(() => undefined);
      const r = await Promise.race([call, aborted]);
      if (r.error) return { err: new ProviderError(r.error.kind, r.error.message, { status: r.error.status }) };
      return { ok: r };
    } catch (e) {
      if (stop.signal.aborted) return { aborted: true };
      if (timedOut) return { err: new ProviderError("timeout", `${provider.id}: request timed out after ${options.timeoutMs} ms`, { cause: e }) };
      if (e instanceof ProviderError) return { err: e };
      throw e;
    } finally {
      clearTimeout(timer);
      unlisten?.();
      stop.signal.removeEventListener("abort", onStop);
    }
  };

  const tokenEstimate = (item: RunItem): number => {
    let chars = 0;
    for (const m of item.request.messages) chars += m.content.length;
    const maxTokens = item.request.params?.maxTokens ?? (typeof runParams.maxTokens === "number" ? runParams.maxTokens : 0);
    return estimateTokens(chars) + maxTokens;
  };

  const processItem = async (item: RunItem, slot: { busy: boolean }): Promise<void> => {
    const hash = hashes.get(item.id)!;
    const cacheKey = cacheScope ? sha256(`${cacheScope}\n${hash}`) : hash;
    if (cache) {
      const t0 = performance.now();
      const hit = await cache.get(cacheKey);
      if (hit) {
        const line: ResultLine = { itemId: item.id, requestHash: hash, text: hit.text, usage: hit.usage, latencyMs: round(performance.now() - t0), attempts: 0, cached: true, finishedAt: new Date().toISOString() };
        if (hit.tokenProbabilities) line.tokenProbabilities = hit.tokenProbabilities;
        if (hit.finishReason) line.finishReason = hit.finishReason;
        await record(line, slot);
        return;
      }
    }
    let attempts = 0;
    for (;;) {
      if (stop.signal.aborted) return;
      const wait = pauseUntil - Date.now();
      if (wait > 0 && !(await sleep(wait, stop.signal))) return;
      if (limiter.active) {
        try {
          await limiter.acquire(tokenEstimate(item), stop.signal);
        } catch {
          return; // aborted while waiting
        }
      }
      attempts++;
      const out = await attempt(item);
      if ("aborted" in out) return;
      if ("ok" in out) {
        const r = out.ok;
        const line: ResultLine = { itemId: item.id, requestHash: hash, text: r.text, usage: r.usage, latencyMs: round(r.latencyMs), attempts, cached: false, finishedAt: new Date().toISOString() };
        if (r.tokenProbabilities) line.tokenProbabilities = r.tokenProbabilities;
        if (r.finishReason) line.finishReason = r.finishReason;
        if (cache) {
          const entry = { text: redact(r.text), usage: r.usage, latencyMs: r.latencyMs, ...(r.tokenProbabilities ? { tokenProbabilities: r.tokenProbabilities } : {}), ...(r.finishReason ? { finishReason: r.finishReason } : {}) };
          await cache.put(cacheKey, entry).catch(() => undefined); // a cache write failure only costs a future hit
        }
        await record(line, slot);
        return;
      }
      const err = out.err;
      if (!err.retryable || attempts > options.maxRetries) {
        const error: ResultLine["error"] = { kind: err.kind, message: err.message };
        if (err.status !== undefined) error.status = err.status;
        await record({ itemId: item.id, requestHash: hash, text: null, usage: { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0 }, latencyMs: 0, attempts, cached: false, error, finishedAt: new Date().toISOString() }, slot);
        return;
      }
      let delay: number;
      if (err.retryAfterMs !== undefined) {
        delay = Math.min(err.retryAfterMs, maxRetryAfterMs);
        if (err.kind === "rate_limit") pauseUntil = Math.max(pauseUntil, Date.now() + delay);
      } else {
        delay = backoffDelay(attempts, backoff, random);
      }
      if (!(await sleep(delay, stop.signal))) return;
    }
  };

  let next = 0;
  const worker = async () => {
    while (!stop.signal.aborted) {
      const item = pending[next++];
      if (!item) return;
      inFlight++;
      const slot = { busy: true };
      try {
        await processItem(item, slot);
      } catch (e) {
        if (!fatal) fatal = { error: e };
        stop.abort(e);
      } finally {
        if (slot.busy) inFlight--;
      }
    }
  };

  emit();
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, pending.length) }, worker));
  } finally {
    clearInterval(interval);
    options.signal?.removeEventListener("abort", onCallerAbort);
    await appender.close().catch(() => undefined);
  }

  if (fatal) {
    status = "failed";
    runError = fatal.error instanceof Error ? fatal.error.message : String(fatal.error);
  } else if (options.signal?.aborted || stop.signal.aborted) {
    status = "cancelled";
  } else {
    status = "finished";
    finishedAt = new Date().toISOString();
  }
  await writeRunJson();
  emit();
  if (fatal) throw fatal.error;

  const failures: FailureSummary[] = [];
  for (const item of items) {
    const l = final.get(item.id);
    if (l?.error) {
      const f: FailureSummary = { itemId: item.id, kind: l.error.kind, message: l.error.message, attempts: l.attempts };
      if (l.error.status !== undefined) f.status = l.error.status;
      failures.push(f);
    }
  }
  return {
    status,
    runDir,
    totals: { ...totals, costUsd: round(totals.costUsd) },
    cache: { enabled: cache !== undefined, hits: cache?.hits ?? 0, misses: cache?.misses ?? 0 },
    skipped,
    retriedFailed,
    finishedThisSession,
    tornBytes,
    failures,
  };
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

function addUsage(t: RunTotals, u: Usage | undefined, pricing: Pricing | undefined): void {
  if (!u) return;
  t.inputTokens += u.inputTokens ?? 0;
  t.outputTokens += u.outputTokens ?? 0;
  t.cachedInputTokens += u.cachedInputTokens ?? 0;
  t.costUsd += costOf({ inputTokens: u.inputTokens ?? 0, outputTokens: u.outputTokens ?? 0, cachedInputTokens: u.cachedInputTokens ?? 0, cacheWriteTokens: u.cacheWriteTokens ?? 0 }, pricing);
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** Sleeps `ms`; false when the signal fired first. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(t);
      resolve(false);
    };
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
