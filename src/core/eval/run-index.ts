/**
 * What a run folder has done, in memory: the last line of every item (read once when the run is
 * opened, then kept up to date as lines are appended) and the run's totals. A run that grows in
 * rounds admits each round's items here; totals count the items of the run (every round so far),
 * never a mix of one round's and the run's counts.
 */
import path from "node:path";
import type { Pricing } from "../providers/registry.js";
import type { Usage } from "../providers/types.js";
import { emptyTotals, RESULTS_FILE, type ResultLine, type RunTotals } from "./runlog.js";
import { costOf } from "./cost.js";
import { batchPricing } from "../cost/prices.js";

/** Refusal to resume a run dir made with different settings or requests. */
export class RunMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RunMismatchError";
  }
}

/** What a compact index keeps of an item whose last line succeeded: whether it was a cache hit. */
type Done = Pick<ResultLine, "cached" | "error">;
const DONE: Done = Object.freeze({ cached: false });
const DONE_CACHED: Done = Object.freeze({ cached: true });
const isLine = (l: ResultLine | Done): l is ResultLine => "itemId" in l;

export class RunIndex {
  /**
   * The last recorded line per item id (items of the run, and lines of items it no longer has).
   * A compact index keeps, for an item of the run whose last line succeeded, only `Done`.
   */
  private readonly final = new Map<string, ResultLine | Done>();
  /** 1-based line in results.jsonl of each item's last line as read at open (for error messages). */
  private readonly lineNo = new Map<string, number>();
  /** Ids of the run's items, in the order they were admitted. */
  private readonly items = new Set<string>();
  readonly totals: RunTotals = emptyTotals(0);

  constructor(
    private readonly runDir: string,
    private readonly pricing: Pricing | undefined,
    /** The provider id, for its batch discount (lines with `batch: true`). */
    private readonly provider = "",
    /**
     * Keep only what resuming and the totals need (failed lines in full, for the failure list),
     * not every successful line: `get` is then unavailable (results.jsonl has the lines).
     */
    readonly compact = false,
  ) {}

  /** Loads the lines read from results.jsonl (once, at open). Usage of every line counts. */
  load(lines: ResultLine[]): void {
    lines.forEach((l, i) => {
      this.final.set(l.itemId, l);
      this.lineNo.set(l.itemId, i + 1);
      if (!l.cached) addUsage(this.totals, l, this.pricing, this.provider);
    });
  }

  has(itemId: string): boolean {
    return this.items.has(itemId);
  }

  get size(): number {
    return this.items.size;
  }

  /** What the index keeps of an item's last line: in a compact index, `Done` for a successful line of an item of the run. */
  private kept(l: ResultLine, inRun: boolean): ResultLine | Done {
    return this.compact && inRun && !l.error ? (l.cached ? DONE_CACHED : DONE) : l;
  }

  /** The last line of an item, if any (not in a compact index: read results.jsonl). */
  get(itemId: string): ResultLine | undefined {
    if (this.compact) throw new Error(`${this.runDir}: this run keeps no result lines in memory; read ${RESULTS_FILE}`);
    return this.final.get(itemId) as ResultLine | undefined;
  }

  /**
   * Adds an item to the run. Its recorded line (if any) must have been made for the same request,
   * else resuming would mix two experiments. Returns the recorded line.
   */
  admit(itemId: string, requestHash: string): ResultLine | undefined {
    if (this.items.has(itemId)) throw new Error(`item "${itemId}" is already part of this run`);
    const l = this.final.get(itemId);
    if (l && !isLine(l)) throw new Error(`item "${itemId}" is already part of this run`); // only admitted items are compacted
    if (l && l.requestHash !== requestHash) {
      throw new RunMismatchError(
        `item "${itemId}" differs from the request recorded in ${path.join(this.runDir, RESULTS_FILE)} (line ${this.lineNo.get(itemId) ?? "?"}); ` +
          `its messages or params changed, so resuming would mix two experiments: use a new run dir`,
      );
    }
    this.items.add(itemId);
    this.totals.items++;
    if (l) {
      this.count(l, 1);
      this.final.set(itemId, this.kept(l, true));
    }
    return l;
  }

  /** A line was appended to results.jsonl: it supersedes the item's previous line. */
  record(line: ResultLine): void {
    const prev = this.final.get(line.itemId);
    const inRun = this.items.has(line.itemId);
    if (prev && inRun) this.count(prev, -1);
    this.final.set(line.itemId, this.kept(line, inRun));
    if (inRun) this.count(line, 1);
    if (!line.cached) addUsage(this.totals, line, this.pricing, this.provider);
  }

  /** The run's items whose last line is a failure, in admission order. */
  *failures(): Generator<ResultLine> {
    for (const id of this.items) {
      const l = this.final.get(id);
      if (l?.error && isLine(l)) yield l;
    }
  }

  private count(l: ResultLine | Done, sign: 1 | -1): void {
    if (l.error) this.totals.failed += sign;
    else {
      this.totals.done += sign;
      if (l.cached) this.totals.cached += sign;
    }
  }
}

/** Adds a line's usage and cost; a batch-API line costs the provider's batch price, and the difference is the batch discount. */
function addUsage(t: RunTotals, line: Pick<ResultLine, "usage" | "batch">, pricing: Pricing | undefined, provider: string): void {
  const u: Usage | undefined = line.usage;
  if (!u) return;
  t.inputTokens += u.inputTokens ?? 0;
  t.outputTokens += u.outputTokens ?? 0;
  t.cachedInputTokens += u.cachedInputTokens ?? 0;
  t.cacheWriteTokens += u.cacheWriteTokens ?? 0;
  const usage = { inputTokens: u.inputTokens ?? 0, outputTokens: u.outputTokens ?? 0, cachedInputTokens: u.cachedInputTokens ?? 0, cacheWriteTokens: u.cacheWriteTokens ?? 0 };
  const full = costOf(usage, pricing);
  if (!line.batch) {
    t.costUsd += full;
    return;
  }
  const bp = pricing ? batchPricing(provider, pricing) : undefined;
  const paid = bp ? costOf(usage, bp) : full;
  t.batchRequests += 1;
  t.batchDiscountUsd += full - paid;
  t.costUsd += paid;
}
