/**
 * run.json writes that never break a run. Writes are coalesced (only the latest snapshot matters)
 * and serialised; a failed write (EPERM / ENOSPC / EBUSY on rename, a full disk...) is retried with
 * backoff, and a later snapshot replaces a pending one. A write that still fails after the retries
 * is remembered (`lastError`) and never rejects into the run: results.jsonl is the source of truth,
 * and the next open of the run folder rewrites run.json from it.
 */
import { writeJsonAtomic } from "./runlog.js";

export interface StatusWriterOptions {
  /** Attempts per flush, the first included (default 5). */
  attempts?: number;
  /** First retry delay; doubled each time (default 50 ms). */
  retryMs?: number;
}

export class StatusWriter {
  private pending: unknown;
  private hasPending = false;
  private loop: Promise<void> | undefined;
  /** The error of the last write that failed after every retry; cleared by a later success. */
  lastError: Error | undefined;
  /** Writes that failed at least once (retried or given up). */
  failedWrites = 0;

  constructor(
    readonly file: string,
    private readonly opts: StatusWriterOptions = {},
  ) {}

  /** Queues `value` as the next content of the file; resolves when it (or a later value) was written or given up on. Never rejects. */
  write(value: unknown): Promise<void> {
    this.pending = value;
    this.hasPending = true;
    this.loop ??= this.drain().finally(() => {
      this.loop = undefined;
    });
    return this.loop;
  }

  private async drain(): Promise<void> {
    const attempts = this.opts.attempts ?? 5;
    const base = this.opts.retryMs ?? 50;
    while (this.hasPending) {
      const value = this.pending;
      this.hasPending = false;
      for (let i = 1; ; i++) {
        try {
          await writeJsonAtomic(this.file, value);
          this.lastError = undefined;
          break;
        } catch (e) {
          this.failedWrites++;
          // A newer snapshot supersedes this one: write that instead (same retry budget).
          if (this.hasPending) break;
          if (i >= attempts) {
            this.lastError = e instanceof Error ? e : new Error(String(e));
            break;
          }
          await new Promise((r) => setTimeout(r, base * 2 ** (i - 1)));
        }
      }
    }
  }
}
