/**
 * Requests-per-minute and tokens-per-minute limits as two token buckets, refilled continuously,
 * each holding at most one second's worth (so a run paces itself instead of bursting a minute's
 * quota at once). A request costing more tokens than a bucket holds goes once the bucket is full
 * and leaves it in debt. Waiters are served in arrival order; waiting is abortable.
 */

export interface RateLimits {
  rpm?: number;
  tpm?: number;
}

class Bucket {
  level: number;
  readonly capacity: number;
  private readonly perMs: number;
  private last: number;

  constructor(perMinute: number, now: number) {
    this.perMs = perMinute / 60_000;
    this.capacity = Math.max(1, perMinute / 60);
    this.level = this.capacity;
    this.last = now;
  }

  refill(now: number): void {
    this.level = Math.min(this.capacity, this.level + (now - this.last) * this.perMs);
    this.last = now;
  }

  /** Milliseconds until `cost` may be taken (cost is capped at capacity: big requests go into debt). */
  waitFor(cost: number): number {
    const need = Math.min(cost, this.capacity);
    return this.level >= need ? 0 : Math.ceil((need - this.level) / this.perMs);
  }
}

interface Waiter {
  tokens: number;
  resolve: () => void;
  reject: (e: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export class RateLimiter {
  private readonly requests?: Bucket;
  private readonly tokens?: Bucket;
  private readonly waiters: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(limits: RateLimits, private readonly now: () => number = Date.now) {
    const t = now();
    if (limits.rpm !== undefined && limits.rpm > 0) this.requests = new Bucket(limits.rpm, t);
    if (limits.tpm !== undefined && limits.tpm > 0) this.tokens = new Bucket(limits.tpm, t);
  }

  get active(): boolean {
    return this.requests !== undefined || this.tokens !== undefined;
  }

  /** Waits until one request of `tokens` estimated tokens may start. */
  acquire(tokens: number, signal?: AbortSignal): Promise<void> {
    if (!this.active) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { tokens, resolve, reject, signal };
      if (signal) {
        w.onAbort = () => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal.reason);
          this.pump();
        };
        signal.addEventListener("abort", w.onAbort, { once: true });
      }
      this.waiters.push(w);
      this.pump();
    });
  }

  private pump(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const now = this.now();
    this.requests?.refill(now);
    this.tokens?.refill(now);
    while (this.waiters.length > 0) {
      const w = this.waiters[0]!;
      const wait = Math.max(this.requests?.waitFor(1) ?? 0, this.tokens?.waitFor(w.tokens) ?? 0);
      if (wait > 0) {
        this.timer = setTimeout(() => this.pump(), wait);
        return;
      }
      if (this.requests) this.requests.level -= 1;
      if (this.tokens) this.tokens.level -= w.tokens;
      this.waiters.shift();
      if (w.signal && w.onAbort) w.signal.removeEventListener("abort", w.onAbort);
      w.resolve();
    }
  }
}

/** Rough token count of a text of `chars` characters (~4 characters a token). */
export function estimateTokens(chars: number): number {
  return Math.ceil(chars / 4);
}
