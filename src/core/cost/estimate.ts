/**
 * What a run will cost, before any request: tokens counted with the model's tokenizer, the share
 * of input that is a cacheable prefix (the feedback history), the output tokens, and dollars at
 * three prices: naive (every token at list price), with prompt caching, and with the provider's
 * batch API on top of caching.
 *
 * Caching model (per item, in dispatch order):
 * - An item's cacheable prefix is everything before its cache mark (the messages before the one
 *   with `cacheUntil`, plus that message up to `cacheUntil`; a `cachePrefix` message entirely).
 * - Prompts with the same prefix text share one cache entry (one synthetic user; with fixed
 *   histories, every user of one preference). The first prompt of an entry writes it (Anthropic
 *   bills 1.25x input; OpenAI bills input), later prompts read it (`cachedInput`).
 * - A prefix shorter than MIN_CACHE_TOKENS (1,024: OpenAI and Anthropic's minimum) is not cached.
 * - A price without `cachedInput` (a model without prompt caching) gains nothing from caching.
 * Output tokens are each request's max_tokens unless a finished run of the same cell gives an
 * observed mean per request; without either, an assumed figure is used and labelled "assumed".
 */
import { createHash } from "node:crypto";
import type { Pricing } from "../providers/registry.js";
import type { ProviderRequest } from "../providers/types.js";
import { batchPricing, type ResolvedPrice } from "./prices.js";
import type { Tokenizer } from "../templates/tokens.js";

/** Chat-formatting tokens counted per message of a cacheable prefix (OpenAI's published 3). */
export const MESSAGE_OVERHEAD_TOKENS = 3;

export const MIN_CACHE_TOKENS = 1024;
/** Output tokens assumed per request when neither max_tokens nor an earlier run says. */
export const ASSUMED_OUTPUT_TOKENS = 512;

export type OutputSource = "max_tokens" | "observed" | "assumed" | "mixed";

export interface Dollars {
  naive: number;
  cached: number;
  /** null when the provider has no batch API. */
  batchCached: number | null;
}

export interface CostEstimate {
  label: string;
  provider: string;
  model: string;
  requests: number;
  inputTokens: number;
  /** Input tokens inside a cacheable prefix (counted once per request). */
  cacheablePrefixTokens: number;
  /** Of those, tokens read from the cache / written to it under the caching model above. */
  cacheReadTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  outputSource: OutputSource;
  tokenizer: { name: string; exact: boolean };
  price: ResolvedPrice | undefined;
  /** undefined = price unknown. */
  dollars: Dollars | undefined;
}

export interface EstimateInput {
  label: string;
  provider: string;
  model: string;
  requests: { request: ProviderRequest }[];
  tokenizer: Tokenizer;
  price: ResolvedPrice | undefined;
  /** max_tokens of requests that set none themselves (the run's --max-tokens). */
  defaultMaxTokens?: number;
  /** Mean output tokens per request observed in an earlier run of the same cell. */
  observedOutputMean?: number;
  /** Probability requests generate about this many tokens (the provider decides; 1 for OpenAI). */
  probabilityOutputTokens?: number;
  minCacheTokens?: number;
}

export function estimateCost(input: EstimateInput): CostEstimate {
  const count = (text: string) => input.tokenizer.count(text);
  const minCache = input.minCacheTokens ?? MIN_CACHE_TOKENS;
  const seen = new Set<string>();
  let inputTokens = 0;
  let prefixTokens = 0;
  let read = 0;
  let write = 0;
  let outputTokens = 0;
  const sources = new Set<OutputSource>();
  // Texts before a cache mark recur (one user's history in each of its prompts): each distinct
  // one is tokenized once. A message is counted as its prefix plus the rest (split where the
  // history ends, before a newline), plus the chat overhead per message and for the reply.
  const memo = new Map<string, number>();
  const countOnce = (text: string): number => {
    const key = createHash("sha1").update(text).digest("base64");
    let n = memo.get(key);
    if (n === undefined) {
      n = count(text);
      memo.set(key, n);
    }
    return n;
  };
  for (const { request } of input.requests) {
    let total = MESSAGE_OVERHEAD_TOKENS;
    let prefix = 0;
    let prefixText = "";
    let inPrefix = request.messages.some((m) => m.cachePrefix || m.cacheUntil !== undefined);
    for (const m of request.messages) {
      const cut = m.cacheUntil !== undefined && m.cacheUntil > 0 && m.cacheUntil < m.content.length ? m.cacheUntil : undefined;
      if (cut !== undefined) {
        const head = m.content.slice(0, cut);
        const h = countOnce(head);
        total += h + count(m.content.slice(cut)) + MESSAGE_OVERHEAD_TOKENS;
        if (inPrefix) {
          prefix += h + MESSAGE_OVERHEAD_TOKENS;
          prefixText += `\u0000${m.role}\u0000${head}`;
          inPrefix = false;
        }
        continue;
      }
      const n = (inPrefix ? countOnce(m.content) : count(m.content)) + MESSAGE_OVERHEAD_TOKENS;
      total += n;
      if (!inPrefix) continue;
      prefix += n;
      prefixText += `\u0000${m.role}\u0000${m.content}`;
      if (m.cachePrefix || m.cacheUntil !== undefined) inPrefix = false;
    }
    // A request without any cache mark has no cacheable prefix.
    if (!request.messages.some((m) => m.cachePrefix || m.cacheUntil !== undefined)) prefix = 0;
    inputTokens += total;
    prefixTokens += prefix;
    if (prefix >= minCache) {
      const key = createHash("sha256").update(prefixText).digest("base64");
      if (seen.has(key)) read += prefix;
      else {
        seen.add(key);
        write += prefix;
      }
    }
    let out: number;
    if (input.observedOutputMean !== undefined) {
      out = input.observedOutputMean;
      sources.add("observed");
    } else if (request.probabilities) {
      out = input.probabilityOutputTokens ?? 1;
      sources.add("max_tokens");
    } else if (request.params?.maxTokens !== undefined || input.defaultMaxTokens !== undefined) {
      out = (request.params?.maxTokens ?? input.defaultMaxTokens)!;
      sources.add("max_tokens");
    } else {
      out = ASSUMED_OUTPUT_TOKENS;
      sources.add("assumed");
    }
    outputTokens += out;
  }
  outputTokens = Math.round(outputTokens);
  const outputSource: OutputSource = sources.size === 1 ? [...sources][0]! : sources.size === 0 ? "max_tokens" : sources.has("assumed") ? "assumed" : "mixed";
  let dollars: Dollars | undefined;
  if (input.price) {
    const p = input.price.pricing;
    const cost = (pr: Pricing, withCache: boolean) => {
      const inP = pr.input ?? 0;
      const outP = pr.output ?? 0;
      if (!withCache || pr.cachedInput === undefined) return (inputTokens * inP + outputTokens * outP) / 1e6;
      const plain = inputTokens - read - write;
      return (plain * inP + read * pr.cachedInput + write * (pr.cacheWrite ?? inP) + outputTokens * outP) / 1e6;
    };
    const bp = batchPricing(input.provider, p);
    dollars = { naive: cost(p, false), cached: cost(p, true), batchCached: bp ? cost(bp, true) : null };
  }
  return {
    label: input.label,
    provider: input.provider,
    model: input.model,
    requests: input.requests.length,
    inputTokens,
    cacheablePrefixTokens: prefixTokens,
    cacheReadTokens: read,
    cacheWriteTokens: write,
    outputTokens,
    outputSource,
    tokenizer: { name: input.tokenizer.name, exact: input.tokenizer.exact },
    price: input.price,
    dollars,
  };
}

/** Sums estimates (dollars only when every part is priced). */
export function totalEstimate(parts: CostEstimate[], label = "total"): CostEstimate {
  const priced = parts.every((p) => p.dollars);
  const sum = (f: (c: CostEstimate) => number) => parts.reduce((n, c) => n + f(c), 0);
  const batchAll = parts.every((p) => p.dollars?.batchCached !== null && p.dollars?.batchCached !== undefined);
  return {
    label,
    provider: [...new Set(parts.map((p) => p.provider))].join("+"),
    model: [...new Set(parts.map((p) => p.model))].join("+"),
    requests: sum((c) => c.requests),
    inputTokens: sum((c) => c.inputTokens),
    cacheablePrefixTokens: sum((c) => c.cacheablePrefixTokens),
    cacheReadTokens: sum((c) => c.cacheReadTokens),
    cacheWriteTokens: sum((c) => c.cacheWriteTokens),
    outputTokens: sum((c) => c.outputTokens),
    outputSource: new Set(parts.map((p) => p.outputSource)).size === 1 ? (parts[0]?.outputSource ?? "max_tokens") : "mixed",
    tokenizer: { name: [...new Set(parts.map((p) => p.tokenizer.name))].join("+"), exact: parts.every((p) => p.tokenizer.exact) },
    price: undefined,
    dollars: priced
      ? {
          naive: sum((c) => c.dollars!.naive),
          cached: sum((c) => c.dollars!.cached),
          // Cells without a batch API count at their cached price.
          batchCached: batchAll || parts.some((p) => p.dollars?.batchCached != null) ? sum((c) => c.dollars!.batchCached ?? c.dollars!.cached) : null,
        }
      : undefined,
  };
}

const usd = (x: number) => (x >= 100 ? `$${x.toFixed(0)}` : x >= 1 ? `$${x.toFixed(2)}` : `$${x.toFixed(4)}`);
const int = (x: number) => x.toLocaleString("en-US");
const pct = (a: number, b: number) => (b > 0 ? `${((100 * a) / b).toFixed(1)}%` : "-");

/** A text table: one row per estimate, then the total when there are several. */
export function formatEstimates(parts: CostEstimate[]): string {
  const rows = parts.length > 1 ? [...parts, totalEstimate(parts)] : parts;
  const header = ["cell", "model", "requests", "input tok", "cacheable", "output tok", "naive", "cached", "batch+cached"];
  const table = rows.map((c) => [
    c.label,
    c.label === "total" && parts.length > 1 ? "" : `${c.provider}/${c.model}`,
    int(c.requests),
    int(c.inputTokens) + (c.tokenizer.exact ? "" : "~"),
    pct(c.cacheablePrefixTokens, c.inputTokens),
    int(c.outputTokens) + (c.outputSource === "assumed" ? " (assumed)" : c.outputSource === "observed" ? " (observed)" : ""),
    c.dollars ? usd(c.dollars.naive) : "price unknown",
    c.dollars ? usd(c.dollars.cached) : "",
    c.dollars ? (c.dollars.batchCached === null ? "no batch API" : `${usd(c.dollars.batchCached)} (${pct(c.dollars.batchCached, c.dollars.naive)})`) : "",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((v, i) => (i >= 2 ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join("  ").trimEnd();
  const out = [line(header), ...table.map(line)];
  const notes: string[] = [];
  if (rows.some((c) => !c.tokenizer.exact)) notes.push("~ approximate token count (no public tokenizer for this model)");
  if (rows.some((c) => c.outputSource === "assumed")) notes.push(`assumed: no max_tokens set, ${ASSUMED_OUTPUT_TOKENS} output tokens per request assumed (set --max-tokens)`);
  const sources = [...new Set(parts.flatMap((p) => (p.price ? [`${p.provider}/${p.model}: ${p.price.source}${p.price.key ? ` (${p.price.key})` : ""}`] : [])))];
  if (sources.length) notes.push(`prices: ${sources.join("; ")}`);
  return out.join("\n") + "\n" + notes.map((n) => `  ${n}\n`).join("");
}

/**
 * Mean output tokens per request of the lines in a run's results.jsonl that called the API and
 * succeeded (undefined when there are none), for estimates of a cell that already ran.
 */
export async function observedOutputMean(runDir: string): Promise<number | undefined> {
  const { readResultLines } = await import("../eval/runlog.js");
  let lines;
  try {
    ({ lines } = await readResultLines(runDir));
  } catch {
    return undefined;
  }
  const ok = lines.filter((l) => !l.error && !l.cached && l.usage);
  if (ok.length === 0) return undefined;
  return ok.reduce((n, l) => n + (l.usage.outputTokens ?? 0), 0) / ok.length;
}
