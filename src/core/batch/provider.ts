/**
 * Runs a run's requests through a provider batch API (OpenAI Batch, Anthropic Message Batches)
 * behind the ordinary Provider interface, so the runner, results.jsonl, totals, resume and reports
 * are exactly those of an ordinary run: the runner calls `call()` for every unfinished item at
 * once; calls are collected for a moment, submitted as batches (sharded at the API's request and
 * byte limits), polled, and each call resolves with its item's result (`batch: true`, priced at
 * the batch discount).
 *
 * The run folder's `batch.json` holds every submitted batch (id, its custom ids, status, counts,
 * whether a cancel was requested) and the custom id -> item id mapping; it is written (atomically)
 * right after each submission, so a run killed while polling resumes by polling the same batches
 * (nothing is submitted twice, nothing already recorded is recorded again). What is left:
 * - an item the batch API answered with a retryable error (5xx, 429, overloaded), a malformed
 *   result line, or an item missing from the results, or expired: sent again through the ordinary
 *   path (the wrapped provider, at most `concurrency` at once, within the run's rpm / tpm limits),
 *   under the run's retry rules;
 * - a non-retryable item error (400): recorded as that failure;
 * - a batch the API refused outright (OpenAI status "failed"): its items fail with the reason;
 * - cancelling the run (every waiting call aborted) cancels its unfinished remote batches; a
 *   resume reads what those batches finished and submits the rest in a new batch.
 * Submission is idempotent across a kill: before a shard is submitted, batch.json records it as
 * pending (its key: a hash of the run folder's random token and its custom ids; its custom ids;
 * the time; for OpenAI the uploaded input file). A run killed between the API creating the batch
 * and batch.json recording its id finds that batch on resume through the API's batch list
 * (BatchBackend.findSubmitted: OpenAI by the key in the batch's metadata; Anthropic by creation
 * time, request count and custom ids) and polls it instead of paying for the shard again; when
 * the list shows it was never created, the shard is submitted as usual. A submit that fails with
 * a retryable error (a timeout: the batch may exist) is looked up the same way at once.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { writeJsonAtomic } from "../eval/runlog.js";
import { estimateTokens, RateLimiter, type RateLimits } from "../eval/limiter.js";
import { ProviderError, type Provider, type ProviderCapabilities, type ProviderRequest, type ProviderResponse } from "../providers/types.js";
import { createHash, randomUUID } from "node:crypto";
import type { BatchBackend, BatchCounts, BatchResult, PendingSubmission } from "./backend.js";
import { customIdFor } from "./ids.js";

export const BATCH_FILE = "batch.json";

export interface BatchRecord {
  id: string;
  customIds: string[];
  submittedAt: string;
  /** The provider's status at the last poll. */
  status: string;
  counts?: BatchCounts;
  cancelRequested?: boolean;
  endedAt?: string;
  /** Its prompt tokens as counted for the enqueued-token limit (when one is set). */
  inputTokens?: number;
}

export interface BatchState {
  version: 1;
  provider: string;
  model: string;
  /** custom id -> Preflab item id. */
  ids: Record<string, string>;
  batches: BatchRecord[];
  /** Random, per run folder: makes shard keys unique to this run. */
  token?: string;
  /** Shards whose submission started but whose batch id is not recorded yet. */
  pending?: PendingSubmission[];
}

export interface BatchProgress {
  batchId: string;
  status: string;
  counts: BatchCounts;
  /** Batches of this run still being polled. */
  open: number;
}

export interface BatchProviderOptions {
  runDir: string;
  /** Time between polls of one batch (default 30 s). */
  pollMs?: number;
  /** How long calls are collected before a batch is submitted (default 250 ms). */
  collectMs?: number;
  /** Ordinary-path calls at once (the run's concurrency; default 8). */
  concurrency?: number;
  onProgress?: (p: BatchProgress) => void;
  /**
   * The most prompt tokens this run keeps in unfinished batches at once (the provider's
   * enqueued-token limit for the model, or less): shards are cut to fit it and a shard waits for
   * earlier batches to end. Unset: no limit is applied before submission.
   */
  maxEnqueuedTokens?: number;
  /** Prompt tokens of a request for that limit (default: characters / 4). */
  countTokens?: (request: ProviderRequest) => number;
  /** The run's requests-/tokens-per-minute limits, applied to the ordinary-path calls. */
  rateLimits?: RateLimits;
}

/** Times one shard is resubmitted after the API refused it for the enqueued-token limit. */
export const LIMIT_RESUBMITS = 5;

type Result = Omit<ProviderResponse, "cached">;

interface Waiter {
  customId: string;
  request: ProviderRequest;
  signal?: AbortSignal;
  started: number;
  resolve: (r: Result) => void;
  reject: (e: unknown) => void;
}

/** A promise and its resolver. */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function abortError(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? new DOMException("aborted", "AbortError");
}

export class BatchProvider implements Provider {
  readonly id: string;
  readonly model: string;
  readonly capabilities: ProviderCapabilities;
  private readonly waiters = new Map<string, Waiter>();
  /** Custom id -> the latest batch it was submitted in. */
  private readonly latest = new Map<string, BatchRecord>();
  private readonly fallback = new Set<string>();
  private readonly resubmit = new Set<string>();
  private readonly pollers = new Map<string, Promise<void>>();
  private readonly cancels: Promise<void>[] = [];
  private queue: string[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private ordinaryActive = 0;
  private readonly ordinaryQueue: (() => void)[] = [];
  private disposed = false;
  private saveChain: Promise<void> = Promise.resolve();
  /** Resolved (and replaced) whenever a batch stops being polled: room under the token limit. */
  private batchDone = signal();
  /** Custom id -> times its batch was refused for the enqueued-token limit. */
  private readonly limitRefusals = new Map<string, number>();
  private readonly limiter: RateLimiter;

  private constructor(
    private readonly inner: Provider,
    private readonly backend: BatchBackend,
    private readonly state: BatchState,
    private readonly opts: BatchProviderOptions,
  ) {
    this.id = inner.id;
    this.model = inner.model;
    this.capabilities = inner.capabilities;
    this.limiter = new RateLimiter(opts.rateLimits ?? {});
    for (const b of state.batches) for (const c of b.customIds) this.latest.set(c, b);
  }

  /** Wraps `inner`; reads the run folder's batch.json (a resumed run polls its batches). */
  static async create(inner: Provider, backend: BatchBackend, opts: BatchProviderOptions): Promise<BatchProvider> {
    const file = path.join(opts.runDir, BATCH_FILE);
    let state: BatchState = { version: 1, provider: inner.id, model: inner.model, ids: {}, batches: [] };
    try {
      const raw = JSON.parse(await readFile(file, "utf8")) as BatchState;
      if (raw?.version !== 1 || !Array.isArray(raw.batches) || typeof raw.ids !== "object") throw new Error(`${file}: not a Preflab batch file (version 1 with batches and ids)`);
      if (raw.provider !== inner.id || raw.model !== inner.model) {
        throw new Error(`${file}: its batches were made with ${raw.provider}/${raw.model}, this run uses ${inner.id}/${inner.model}; use a new run folder`);
      }
      state = raw;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    const bp = new BatchProvider(inner, backend, state, opts);
    await bp.resolvePending();
    return bp;
  }

  /** Pending submissions of a killed run: adopt the batch each created, or forget it when none was. */
  private async resolvePending(): Promise<void> {
    const pending = this.state.pending ?? [];
    if (pending.length === 0) return;
    for (const p of [...pending]) {
      const id = await this.backend.findSubmitted(p, new Set(this.state.batches.map((b) => b.id)));
      if (id !== undefined) this.adopt(p, id);
      else await this.backend.discardPending(p);
      this.dropPending(p);
    }
    await this.save();
  }

  private adopt(p: PendingSubmission, id: string): BatchRecord {
    const record: BatchRecord = { id, customIds: p.customIds, submittedAt: p.startedAt, status: "submitted" };
    this.state.batches.push(record);
    for (const c of p.customIds) {
      this.latest.set(c, record);
      this.resubmit.delete(c);
    }
    return record;
  }

  private dropPending(p: PendingSubmission): void {
    this.state.pending = (this.state.pending ?? []).filter((x) => x !== p);
    if (this.state.pending.length === 0) delete this.state.pending;
  }

  private shardKey(customIds: string[]): string {
    this.state.token ??= randomUUID();
    const h = createHash("sha256").update(this.state.token);
    for (const c of [...customIds].sort()) h.update(`\u0000${c}`);
    return h.digest("base64url").slice(0, 32);
  }

  /** The run folder's batch state (for progress displays and tests). */
  get batches(): readonly BatchRecord[] {
    return this.state.batches;
  }

  call(request: ProviderRequest, opts: { signal?: AbortSignal; itemId?: string } = {}): Promise<Result> {
    const { signal, itemId } = opts;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (itemId === undefined) return this.ordinary(request, signal);
    const customId = customIdFor(itemId);
    this.state.ids[customId] = itemId;
    if (this.fallback.has(customId)) return this.ordinary(request, signal);
    return new Promise<Result>((resolve, reject) => {
      const w: Waiter = { customId, request, started: performance.now(), resolve, reject, ...(signal ? { signal } : {}) };
      this.waiters.get(customId)?.reject(new ProviderError("aborted", "superseded by a new call for the same item"));
      this.waiters.set(customId, w);
      signal?.addEventListener(
        "abort",
        () => {
          if (this.waiters.get(customId) !== w) return;
          this.waiters.delete(customId);
          reject(abortError(signal));
          this.abandoned(customId);
        },
        { once: true },
      );
      const b = this.latest.get(customId);
      if (b && !this.resubmit.has(customId)) this.poll(b);
      else this.enqueue(customId);
    });
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    await this.flushing.catch(() => undefined);
    await Promise.allSettled(this.cancels);
    await this.saveChain.catch(() => undefined);
    // The wrapped provider belongs to whoever created it (the session disposes it).
  }

  // --- submission ------------------------------------------------------------------------------

  private enqueue(customId: string): void {
    this.queue.push(customId);
    if (this.queue.length >= this.backend.maxRequests) {
      this.flushNow();
      return;
    }
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = setTimeout(() => this.flushNow(), this.opts.collectMs ?? 250);
  }

  private flushNow(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const ids = [...new Set(this.queue)].filter((c) => this.waiters.has(c));
    this.queue = [];
    if (ids.length === 0) return;
    this.flushing = this.flushing.then(() => this.submit(ids)).catch(() => undefined);
  }

  private async submit(ids: string[]): Promise<void> {
    // Shards within the API's request-count and byte limits.
    // Shards within the API's request-count and byte limits, and the run's enqueued-token limit.
    const maxTokens = this.opts.maxEnqueuedTokens;
    const countTokens = this.opts.countTokens ?? ((r: ProviderRequest) => r.messages.reduce((n, m) => n + Math.ceil(m.content.length / 4), 0));
    type Shard = { ids: string[]; entries: string[]; bytes: number; tokens: number };
    const shards: Shard[] = [];
    let cur: Shard = { ids: [], entries: [], bytes: 0, tokens: 0 };
    for (const c of ids) {
      const w = this.waiters.get(c);
      if (!w) continue;
      let entry: string;
      try {
        entry = this.backend.entry(c, w.request);
      } catch (e) {
        this.settle(c, (x) => x.reject(e));
        continue;
      }
      const bytes = Buffer.byteLength(entry) + 1;
      const tokens = maxTokens !== undefined ? countTokens(w.request) : 0;
      if (maxTokens !== undefined && tokens > maxTokens) {
        this.settle(c, (x) => x.reject(new ProviderError("bad_request", `${this.backend.provider} batch: one request has ${tokens} prompt tokens, more than the enqueued-token limit of ${maxTokens}`)));
        continue;
      }
      if (cur.ids.length > 0 && (cur.ids.length >= this.backend.maxRequests || cur.bytes + bytes > this.backend.maxBytes || (maxTokens !== undefined && cur.tokens + tokens > maxTokens))) {
        shards.push(cur);
        cur = { ids: [], entries: [], bytes: 0, tokens: 0 };
      }
      cur.ids.push(c);
      cur.entries.push(entry);
      cur.bytes += bytes;
      cur.tokens += tokens;
    }
    if (cur.ids.length) shards.push(cur);
    for (const shard of shards) {
      if (maxTokens !== undefined) await this.roomFor(shard.tokens, maxTokens);
      if (this.disposed) return;
      // Recorded before the batch exists, so a kill after its creation cannot lose it.
      const pending: PendingSubmission = { key: this.shardKey(shard.ids), customIds: shard.ids, startedAt: new Date().toISOString() };
      (this.state.pending ??= []).push(pending);
      let id: string | undefined;
      try {
        await this.save();
        id = await this.backend.submit(shard.entries, undefined, {
          key: pending.key,
          onUploaded: async (fileId) => {
            pending.inputFileId = fileId;
            await this.save();
          },
        });
      } catch (e) {
        // A timeout or a dropped connection may come after the API created the batch.
        let unknown = false;
        if (e instanceof ProviderError && e.retryable) {
          try {
            id = await this.backend.findSubmitted(pending, new Set(this.state.batches.map((b) => b.id)));
          } catch {
            unknown = true; // the batch may exist: keep its input file
          }
        }
        if (id === undefined) {
          if (!unknown) await this.backend.discardPending(pending);
          this.dropPending(pending);
          await this.save().catch(() => undefined);
          for (const c of shard.ids) this.settle(c, (w) => w.reject(e));
          continue;
        }
      }
      const record = this.adopt(pending, id);
      if (maxTokens !== undefined) record.inputTokens = shard.tokens;
      this.dropPending(pending);
      await this.save();
      // Every call of the shard was aborted (Ctrl-C) while the batch was being created.
      if (this.waitingOn(record).length === 0) this.cancelIfAbandoned(record);
      else this.poll(record);
    }
  }

  /** Waits until `tokens` more fit under the limit beside this run's unfinished batches. */
  private async roomFor(tokens: number, max: number): Promise<void> {
    for (;;) {
      const open = this.state.batches.filter((b) => this.pollers.has(b.id) && !b.endedAt);
      const enqueued = open.reduce((n, b) => n + (b.inputTokens ?? 0), 0);
      if (open.length === 0 || enqueued + tokens <= max || this.disposed) return;
      await this.batchDone.promise;
    }
  }

  // --- polling and results ---------------------------------------------------------------------

  private poll(record: BatchRecord): void {
    if (this.pollers.has(record.id)) return;
    const p = this.pollLoop(record).finally(() => {
      this.pollers.delete(record.id);
      this.batchDone.resolve();
      this.batchDone = signal();
    });
    this.pollers.set(record.id, p);
  }

  private waitingOn(record: BatchRecord): string[] {
    return record.customIds.filter((c) => this.waiters.has(c) && this.latest.get(c) === record);
  }

  private async pollLoop(record: BatchRecord): Promise<void> {
    let failures = 0;
    for (let first = true; ; first = false) {
      if (!first) await new Promise((r) => setTimeout(r, this.opts.pollMs ?? 30_000));
      if (this.disposed || this.waitingOn(record).length === 0) return;
      let status;
      try {
        status = await this.backend.poll(record.id);
        failures = 0;
      } catch (e) {
        if (e instanceof ProviderError && e.retryable && ++failures <= 10) continue;
        for (const c of this.waitingOn(record)) this.settle(c, (w) => w.reject(e));
        return;
      }
      const changed = status.providerStatus !== record.status;
      record.status = status.providerStatus;
      record.counts = status.counts;
      this.opts.onProgress?.({ batchId: record.id, status: status.providerStatus, counts: status.counts, open: this.pollers.size });
      if (status.state === "failed" && status.limitExceeded) {
        // Refused for the organisation's enqueued-token limit: submitted again once another
        // batch has ended (or after a poll interval), a few times at most.
        record.endedAt = new Date().toISOString();
        await this.save();
        const again: string[] = [];
        for (const c of this.waitingOn(record)) {
          const n = (this.limitRefusals.get(c) ?? 0) + 1;
          this.limitRefusals.set(c, n);
          if (n > LIMIT_RESUBMITS) {
            const err = new ProviderError("bad_request", `${this.backend.provider} batch ${record.id}: ${status.error ?? "enqueued-token limit reached"} (refused ${n} times; set --batch-max-enqueued-tokens to the model's limit or less)`);
            this.settle(c, (w) => w.reject(err));
          } else {
            this.resubmit.add(c);
            again.push(c);
          }
        }
        if (again.length) {
          const others = [...this.pollers.keys()].some((id) => id !== record.id);
          void (others ? this.batchDone.promise : new Promise((r) => setTimeout(r, this.opts.pollMs ?? 30_000))).then(() => {
            for (const c of again) if (this.waiters.has(c) && !this.disposed) this.enqueue(c);
          });
        }
        return;
      }
      if (status.state === "failed") {
        record.endedAt = new Date().toISOString();
        await this.save();
        const err = new ProviderError("bad_request", `${this.backend.provider} batch ${record.id} failed: ${status.error ?? "no reason given"}`);
        for (const c of this.waitingOn(record)) this.settle(c, (w) => w.reject(err));
        return;
      }
      if (status.state !== "ended") {
        if (changed) await this.save();
        continue;
      }
      let results: BatchResult[];
      try {
        results = await this.backend.results(record.id);
      } catch (e) {
        if (e instanceof ProviderError && e.retryable && ++failures <= 10) continue;
        for (const c of this.waitingOn(record)) this.settle(c, (w) => w.reject(e));
        return;
      }
      record.endedAt ??= new Date().toISOString();
      await this.save();
      this.distribute(record, results);
      return;
    }
  }

  private distribute(record: BatchRecord, results: BatchResult[]): void {
    const mine = new Set(record.customIds);
    for (const r of results) {
      if (r.customId === undefined || !mine.has(r.customId) || this.latest.get(r.customId) !== record) continue;
      const c = r.customId;
      if ("ok" in r) this.settle(c, (w) => w.resolve({ ...r.ok, latencyMs: performance.now() - w.started }));
      else if ("error" in r) {
        const err = new ProviderError(r.error.kind, r.error.message, r.error.status !== undefined ? { status: r.error.status } : {});
        if (err.retryable) this.toOrdinary(c);
        else this.settle(c, (w) => w.reject(err));
      } else if ("unfinished" in r) {
        // Cancelled on request: a resume submits it again in a new batch; expired: the ordinary path.
        if (record.cancelRequested) {
          this.resubmit.add(c);
          const w = this.waiters.get(c);
          if (w) this.enqueue(c);
        } else this.toOrdinary(c);
      } else this.toOrdinary(c);
    }
    // Whatever the results did not mention (an unreadable line, a lost result) goes the ordinary way.
    for (const c of this.waitingOn(record)) if (!this.resubmit.has(c)) this.toOrdinary(c);
  }

  private toOrdinary(customId: string): void {
    this.fallback.add(customId);
    this.settle(customId, (w) => {
      this.ordinary(w.request, w.signal).then(w.resolve, w.reject);
    });
  }

  private settle(customId: string, f: (w: Waiter) => void): void {
    const w = this.waiters.get(customId);
    if (!w) return;
    this.waiters.delete(customId);
    f(w);
  }

  /** A waiting call was aborted: once no call waits on a batch any more, the remote batch is cancelled. */
  private abandoned(customId: string): void {
    const record = this.latest.get(customId);
    if (record) this.cancelIfAbandoned(record);
  }

  private cancelIfAbandoned(record: BatchRecord): void {
    if (record.endedAt || record.cancelRequested) return;
    if (this.waitingOn(record).length > 0) return;
    record.cancelRequested = true;
    this.cancels.push(
      this.backend
        .cancel(record.id)
        .catch(() => undefined)
        .then(() => this.save()),
    );
  }

  // --- the ordinary path -----------------------------------------------------------------------

  private async ordinary(request: ProviderRequest, signal: AbortSignal | undefined): Promise<Result> {
    const limit = this.opts.concurrency ?? 8;
    if (this.ordinaryActive >= limit) await new Promise<void>((r) => this.ordinaryQueue.push(r));
    this.ordinaryActive++;
    try {
      if (signal?.aborted) throw abortError(signal);
      if (this.limiter.active) {
        const chars = request.messages.reduce((n, m) => n + m.content.length, 0);
        await this.limiter.acquire(estimateTokens(chars) + (request.params?.maxTokens ?? 0), signal);
      }
      return await this.inner.call(request, signal ? { signal } : {});
    } finally {
      this.ordinaryActive--;
      this.ordinaryQueue.shift()?.();
    }
  }

  private save(): Promise<void> {
    const snapshot = JSON.parse(JSON.stringify(this.state)) as BatchState;
    this.saveChain = this.saveChain.catch(() => undefined).then(() => writeJsonAtomic(path.join(this.opts.runDir, BATCH_FILE), snapshot));
    return this.saveChain;
  }
}
