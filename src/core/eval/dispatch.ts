/**
 * The runner's dispatching (one round of items): a pool of workers with bounded concurrency, the
 * response cache, rate limits, one attempt per call with its own timeout, retries with backoff and
 * Retry-After, and a shared pause after a 429. Semantics are documented in runner.ts.
 */
import { ProviderError, type Provider, type ProviderResponse } from "../providers/types.js";
import { ResponseCache, sha256 } from "./cache.js";
import { RateLimiter, estimateTokens } from "./limiter.js";
import type { ResultLine } from "./runlog.js";
import type { BackoffOptions, RunItem } from "./runner.js";

type AttemptOutcome = { ok: Omit<ProviderResponse, "cached"> } | { err: ProviderError } | { aborted: true };

export interface DispatcherOptions {
  provider: Provider;
  concurrency: number;
  timeoutMs: number;
  maxRetries: number;
  backoff: BackoffOptions;
  maxRetryAfterMs: number;
  random: () => number;
  rpm?: number;
  tpm?: number;
  cacheDir?: string | false;
  cacheScope?: string;
  /** Run params (for the default maxTokens in token estimates). */
  runParams: Record<string, unknown>;
  redact: (text: string) => string;
  /** Aborted on cancel or a fatal error: nothing new is dispatched, in-flight calls are aborted. */
  stop: AbortController;
}

/** Full-jitter exponential backoff for the given attempt (1-based). */
export function backoffDelay(attempt: number, b: BackoffOptions, random: () => number = Math.random): number {
  const cap = Math.min(b.maxMs, b.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * cap);
}

export class Dispatcher {
  readonly cache: ResponseCache | undefined;
  private readonly limiter: RateLimiter;
  private pauseUntil = 0;
  inFlight = 0;

  /** Controllers of the attempts in flight: one listener on `stop` aborts them all (a listener per attempt made adding one O(in flight)). */
  private readonly live = new Set<AbortController>();

  constructor(private readonly o: DispatcherOptions) {
    this.cache = o.cacheDir ? new ResponseCache(o.cacheDir) : undefined;
    this.limiter = new RateLimiter({ rpm: o.rpm, tpm: o.tpm });
    o.stop.signal.addEventListener("abort", () => {
      for (const ac of this.live) ac.abort(o.stop.signal.reason);
    }, { once: true });
  }

  /**
   * Runs the items `next()` gives (in dispatch order; undefined when there are no more) with
   * `concurrency` workers. `record` appends a finished item's line; it is awaited before the
   * worker takes the next item. Throws the first error that is not a ProviderError (after
   * aborting the rest), including one thrown by `next()`.
   */
  async round(next: () => Promise<{ item: RunItem; hash: string } | undefined>, record: (line: ResultLine) => Promise<void>): Promise<void> {
    const { stop } = this.o;
    let fatal: { error: unknown } | undefined;
    const worker = async () => {
      while (!stop.signal.aborted) {
        let job: { item: RunItem; hash: string } | undefined;
        try {
          job = await next();
        } catch (e) {
          if (!fatal) fatal = { error: e };
          stop.abort(e);
          return;
        }
        if (!job || stop.signal.aborted) return;
        this.inFlight++;
        const slot = { busy: true };
        const done = async (line: ResultLine) => {
          if (slot.busy) {
            slot.busy = false;
            this.inFlight--;
          }
          await record(line);
        };
        try {
          await this.processItem(job.item, job.hash, done);
        } catch (e) {
          if (!fatal) fatal = { error: e };
          stop.abort(e);
        } finally {
          if (slot.busy) this.inFlight--;
        }
      }
    };
    await Promise.all(Array.from({ length: this.o.concurrency }, worker));
    if (fatal) throw fatal.error;
  }

  private async processItem(item: RunItem, hash: string, record: (line: ResultLine) => Promise<void>): Promise<void> {
    const { cache, o } = this;
    const cacheKey = o.cacheScope ? sha256(`${o.cacheScope}\n${hash}`) : hash;
    if (cache) {
      const t0 = performance.now();
      const hit = await cache.get(cacheKey);
      if (hit) {
        const line: ResultLine = { itemId: item.id, requestHash: hash, text: hit.text, usage: hit.usage, latencyMs: round(performance.now() - t0), attempts: 0, cached: true, finishedAt: new Date().toISOString() };
        if (hit.tokenProbabilities) line.tokenProbabilities = hit.tokenProbabilities;
        if (hit.finishReason) line.finishReason = hit.finishReason;
        await record(line);
        return;
      }
    }
    let attempts = 0;
    for (;;) {
      if (o.stop.signal.aborted) return;
      const wait = this.pauseUntil - Date.now();
      if (wait > 0 && !(await sleep(wait, o.stop.signal))) return;
      if (this.limiter.active) {
        try {
          await this.limiter.acquire(this.tokenEstimate(item), o.stop.signal);
        } catch {
          return; // aborted while waiting
        }
      }
      attempts++;
      const out = await this.attempt(item);
      if ("aborted" in out) return;
      if ("ok" in out) {
        const r = out.ok;
        const line: ResultLine = { itemId: item.id, requestHash: hash, text: r.text, usage: r.usage, latencyMs: round(r.latencyMs), attempts, cached: false, finishedAt: new Date().toISOString() };
        if (r.tokenProbabilities) line.tokenProbabilities = r.tokenProbabilities;
        if (r.finishReason) line.finishReason = r.finishReason;
        if (r.batch) line.batch = true;
        if (cache) {
          const entry = { text: o.redact(r.text), usage: r.usage, latencyMs: r.latencyMs, ...(r.tokenProbabilities ? { tokenProbabilities: r.tokenProbabilities } : {}), ...(r.finishReason ? { finishReason: r.finishReason } : {}) };
          await cache.put(cacheKey, entry).catch(() => undefined); // a cache write failure only costs a future hit
        }
        await record(line);
        return;
      }
      const err = out.err;
      if (!err.retryable || attempts > o.maxRetries) {
        const error: ResultLine["error"] = { kind: err.kind, message: err.message };
        if (err.status !== undefined) error.status = err.status;
        await record({ itemId: item.id, requestHash: hash, text: null, usage: { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0 }, latencyMs: 0, attempts, cached: false, error, finishedAt: new Date().toISOString() });
        return;
      }
      let delay: number;
      if (err.retryAfterMs !== undefined) {
        delay = Math.min(err.retryAfterMs, o.maxRetryAfterMs);
        if (err.kind === "rate_limit") this.pauseUntil = Math.max(this.pauseUntil, Date.now() + delay);
      } else {
        delay = backoffDelay(attempts, o.backoff, o.random);
      }
      if (!(await sleep(delay, o.stop.signal))) return;
    }
  }

  private async attempt(item: RunItem): Promise<AttemptOutcome> {
    const { provider, timeoutMs, stop } = this.o;
    const ac = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort(new DOMException(`request timed out after ${timeoutMs} ms`, "TimeoutError"));
    }, timeoutMs);
    if (stop.signal.aborted) ac.abort(stop.signal.reason);
    this.live.add(ac);
    // Race the call against its own signal, so a provider that ignores signals cannot hang the run.
    let unlisten: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      const f = () => reject(ac.signal.reason as Error);
      ac.signal.addEventListener("abort", f, { once: true });
      unlisten = () => ac.signal.removeEventListener("abort", f);
    });
    aborted.catch(() => undefined);
    try {
      const call = provider.call(item.request, { signal: ac.signal, itemId: item.id });
      call.catch(() => undefined);
      const r = await Promise.race([call, aborted]);
      if (r.error) return { err: new ProviderError(r.error.kind, r.error.message, { status: r.error.status }) };
      return { ok: r };
    } catch (e) {
      if (stop.signal.aborted) return { aborted: true };
      if (timedOut) return { err: new ProviderError("timeout", `${provider.id}: request timed out after ${timeoutMs} ms`, { cause: e }) };
      if (e instanceof ProviderError) return { err: e };
      throw e;
    } finally {
      clearTimeout(timer);
      unlisten?.();
      this.live.delete(ac);
    }
  }

  private tokenEstimate(item: RunItem): number {
    let chars = 0;
    for (const m of item.request.messages) chars += m.content.length;
    const p = this.o.runParams;
    const maxTokens = item.request.params?.maxTokens ?? (typeof p.maxTokens === "number" ? p.maxTokens : 0);
    return estimateTokens(chars) + maxTokens;
  }
}

export function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** Sleeps `ms`; false when the signal fired first. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
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
