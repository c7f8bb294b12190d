/**
 * What a run will cost, before any request: tokens counted with the model's tokenizer, the share
 * of input that is a cacheable prefix, the output tokens, and dollars at three prices: naive
 * (every token at list price), with prompt caching, and with the provider's batch API on top of
 * caching.
 *
 * Two caching models, as the providers cache (per item, in dispatch order):
 * - "marked" (Anthropic, and the default): an item's cacheable prefix is everything before its
 *   cache mark (the messages before the one with `cacheUntil`, plus that message up to
 *   `cacheUntil`; a `cachePrefix` message entirely). Prompts with the same prefix text share one
 *   cache entry (one synthetic user; with fixed histories, every user of one preference). The
 *   first prompt of an entry writes it (Anthropic bills 1.25x input), later prompts read it.
 * - "automatic" (OpenAI): no mark; OpenAI caches every prompt and a later prompt reads the longest
 *   prefix it shares with a prompt already cached on the machine its `prompt_cache_key` routes it
 *   to, in whole 128-token blocks from 1,024 tokens on. So an item reads the longest common
 *   prefix, in tokens, with any earlier item under the same key (preflab's key: the hash of the
 *   history, src/core/providers/openai.ts), rounded down to a multiple of 128: for the four rm
 *   prompts of one user that is the history and the instruction, and the history, the instruction
 *   and response A for the second pair of one order. The prefix is compared segment by segment
 *   (splitSegments: lines; with tiktoken a prompt's tokens are exactly its segments' tokens), so
 *   the common start of two different lines is not counted (at most one line's tokens, usually
 *   less than the 128-token rounding). Writes cost nothing extra. The "cacheable" figure is each
 *   item's prefix shared with any other item under its key.
 * - A prefix shorter than MIN_CACHE_TOKENS (1,024: OpenAI and Anthropic's minimum) is not cached.
 * - A price without `cachedInput` (a model without prompt caching) gains nothing from caching.
 * - Batch + caching assumes the same hits inside a batch (a best case: batch APIs promise no
 *   processing order or routing), at the batch price list's cached-input price (prices.ts).
 * Repeated texts are tokenized once (the tokenizer memoizes by segment: a user's history recurs in
 * each of its prompts).
 * Output tokens are each request's max_tokens unless a finished run of the same cell gives an
 * observed mean per request; without either, an assumed figure is used and labelled "assumed".
 * A probability verdict is one output token, except through the chat completions API with an
 * answer prefix, where the model writes its explanation first (max_tokens as for text).
 */
import { createHash } from "node:crypto";
import type { Pricing } from "../providers/registry.js";
import type { ProviderRequest } from "../providers/types.js";
import { promptCacheKey } from "../providers/openai.js";
import { batchPricing, type ResolvedPrice } from "./prices.js";
import { splitSegments, type Tokenizer } from "../templates/tokens.js";

/** Chat-formatting tokens counted per message of a cacheable prefix (OpenAI's published 3). */
export const MESSAGE_OVERHEAD_TOKENS = 3;

export const MIN_CACHE_TOKENS = 1024;
/** OpenAI caches and reports cached tokens in blocks of this many tokens (after the first 1,024). */
export const CACHE_BLOCK_TOKENS = 128;
/** Output tokens assumed per request when neither max_tokens nor an earlier run says. */
export const ASSUMED_OUTPUT_TOKENS = 512;

export type OutputSource = "max_tokens" | "observed" | "assumed" | "mixed";
export type CachingModel = "marked" | "automatic";

/** How a provider caches prompt prefixes (see the file comment). */
export function cachingModelFor(provider: string): CachingModel {
  return provider === "openai" ? "automatic" : "marked";
}

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
  /** Default: cachingModelFor(provider). */
  caching?: CachingModel;
}

interface CacheTally {
  inputTokens: number;
  prefixTokens: number;
  read: number;
  write: number;
}

const hashKey = (text: string) => (text.length <= 24 ? text : createHash("sha1").update(text).digest("base64"));

/** The "marked" model: the prefix before the cache mark, one cache entry per distinct prefix. */
function markedCaching(input: EstimateInput, minCache: number): CacheTally {
  const count = (text: string) => input.tokenizer.count(text);
  const seen = new Set<string>();
  const t: CacheTally = { inputTokens: 0, prefixTokens: 0, read: 0, write: 0 };
  for (const { request } of input.requests) {
    let total = MESSAGE_OVERHEAD_TOKENS;
    let prefix = 0;
    let prefixText = "";
    const marked = request.messages.some((m) => m.cachePrefix || m.cacheUntil !== undefined);
    let inPrefix = marked;
    for (const m of request.messages) {
      const cut = m.cacheUntil !== undefined && m.cacheUntil > 0 && m.cacheUntil < m.content.length ? m.cacheUntil : undefined;
      if (cut !== undefined) {
        const head = m.content.slice(0, cut);
        const h = count(head);
        total += h + count(m.content.slice(cut)) + MESSAGE_OVERHEAD_TOKENS;
        if (inPrefix) {
          prefix += h + MESSAGE_OVERHEAD_TOKENS;
          prefixText += `\u0000${m.role}\u0000${head}`;
          inPrefix = false;
        }
        continue;
      }
      const n = count(m.content) + MESSAGE_OVERHEAD_TOKENS;
      total += n;
      if (!inPrefix) continue;
      prefix += n;
      prefixText += `\u0000${m.role}\u0000${m.content}`;
      if (m.cachePrefix || m.cacheUntil !== undefined) inPrefix = false;
    }
    // A request without any cache mark has no cacheable prefix.
    if (!marked) prefix = 0;
    t.inputTokens += total;
    t.prefixTokens += prefix;
    if (prefix >= minCache) {
      const key = createHash("sha256").update(prefixText).digest("base64");
      if (seen.has(key)) t.read += prefix;
      else {
        seen.add(key);
        t.write += prefix;
      }
    }
  }
  return t;
}

interface TrieNode {
  children: Map<string, TrieNode> | undefined;
  /** Items whose prompt passes through this node. */
  passes: number;
}

/** The "automatic" model: the longest common prefix with earlier prompts under one cache key. */
function automaticCaching(input: EstimateInput, minCache: number): CacheTally {
  const tok = input.tokenizer;
  const roots = new Map<string, TrieNode>();
  const t: CacheTally = { inputTokens: 0, prefixTokens: 0, read: 0, write: 0 };
  const blocks = (n: number) => (n >= minCache ? Math.floor(n / CACHE_BLOCK_TOKENS) * CACHE_BLOCK_TOKENS : 0);
  // Per item: the nodes along its path and the tokens up to each (for the shared-prefix pass).
  const paths: { nodes: TrieNode[]; tokens: Uint32Array }[] = [];
  for (const { request } of input.requests) {
    const key = promptCacheKey(request) ?? "";
    let node = roots.get(key);
    if (!node) roots.set(key, (node = { children: undefined, passes: 0 }));
    node.passes++;
    const nodes: TrieNode[] = [];
    const tokens: number[] = [];
    let total = 0;
    let common = 0;
    let diverged = false;
    const step = (segKey: string, n: number) => {
      total += n;
      let next = node!.children?.get(segKey);
      if (!next) {
        diverged = true;
        next = { children: undefined, passes: 0 };
        (node!.children ??= new Map()).set(segKey, next);
      } else if (!diverged) common = total;
      next.passes++;
      node = next;
      nodes.push(next);
      tokens.push(total);
    };
    for (const m of request.messages) {
      step(`\u0000${m.role}`, MESSAGE_OVERHEAD_TOKENS);
      if (tok.segmentsAdd) for (const seg of splitSegments(m.content)) step(hashKey(seg), tok.count(seg));
      else step(hashKey(m.content), tok.count(m.content));
    }
    total += MESSAGE_OVERHEAD_TOKENS; // the reply's priming tokens, never shared
    t.inputTokens += total;
    t.read += blocks(common);
    paths.push({ nodes, tokens: Uint32Array.from(tokens) });
  }
  // Shared with any other item under its key (earlier or later): the deepest node two items pass.
  for (const p of paths) {
    let shared = 0;
    for (let i = 0; i < p.nodes.length && p.nodes[i]!.passes >= 2; i++) shared = p.tokens[i]!;
    t.prefixTokens += blocks(shared);
  }
  return t;
}

export function estimateCost(input: EstimateInput): CostEstimate {
  const minCache = input.minCacheTokens ?? MIN_CACHE_TOKENS;
  const caching = input.caching ?? cachingModelFor(input.provider);
  const tally = caching === "automatic" ? automaticCaching(input, minCache) : markedCaching(input, minCache);
  const { inputTokens, read, write } = tally;
  let outputTokens = 0;
  const sources = new Set<OutputSource>();
  const chatCompletions = input.provider === "openai" || input.provider === "openai-compatible";
  for (const { request } of input.requests) {
    let out: number;
    const oneToken = request.probabilities && !(chatCompletions && request.probabilities.answerPrefix?.trim());
    if (input.observedOutputMean !== undefined) {
      out = input.observedOutputMean;
      sources.add("observed");
    } else if (oneToken) {
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
    cacheablePrefixTokens: tally.prefixTokens,
    cacheReadTokens: read,
    cacheWriteTokens: write,
    outputTokens,
    outputSource,
    tokenizer: { name: input.tokenizer.name, exact: input.tokenizer.exact },
    price: input.price,
    dollars,
  };
}

/**
 * An estimate made from a sample of a run's requests, scaled to the whole run (`factor` = whole /
 * sample): counts and dollars multiplied, the label says so and the figure is no longer exact.
 */
export function scaleEstimate(e: CostEstimate, factor: number, note: string): CostEstimate {
  if (factor === 1) return e;
  const x = (n: number) => Math.round(n * factor);
  return {
    ...e,
    label: `${e.label} (${note})`,
    requests: x(e.requests),
    inputTokens: x(e.inputTokens),
    cacheablePrefixTokens: x(e.cacheablePrefixTokens),
    cacheReadTokens: x(e.cacheReadTokens),
    cacheWriteTokens: x(e.cacheWriteTokens),
    outputTokens: x(e.outputTokens),
    tokenizer: { ...e.tokenizer, exact: false },
    dollars: e.dollars && { naive: e.dollars.naive * factor, cached: e.dollars.cached * factor, batchCached: e.dollars.batchCached === null ? null : e.dollars.batchCached * factor },
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
