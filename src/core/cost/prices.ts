/**
 * List prices for current public models, in US dollars per 1M tokens, and how a run finds the
 * price of its model. Prices change: the defaults are dated (PRICES_AS_OF, also in the README) and
 * every host lets the user override them (CLI `--price-*` flags, the `preflab.prices` setting, an
 * experiment file's `prices:`). A model with no price is never priced at 0 by assumption: the
 * lookup returns undefined and hosts show "price unknown".
 *
 * Conventions (the same as costOf in src/core/eval/runner.ts):
 * - `cachedInput` is the price of an input token read from the provider's prompt cache
 *   (OpenAI: half or a tenth of input depending on the model; Anthropic: 0.1x input).
 * - `cacheWrite` is the price of an input token written to the cache (Anthropic 5-minute cache:
 *   1.25x input; OpenAI charges nothing extra, so it is the input price).
 * - Provider batch APIs (OpenAI Batch, Anthropic Message Batches) halve every price. With
 *   Anthropic the discount stacks with prompt caching on every model (cache reads and writes are
 *   halved too). OpenAI's batch price list gives a cached-input price only for the GPT-5 family;
 *   for earlier models (gpt-4o, gpt-4.1, o3, o4-mini...) it lists none, so cached tokens in a
 *   batch are counted at the batch input price (`batchCachedInput`), never at a discount the
 *   price list does not state.
 */
import type { Pricing, ProviderId } from "../providers/registry.js";

/** The date the default prices below were taken from the providers' public price lists. */
export const PRICES_AS_OF = "2025-11-24";

/** An OpenAI price; `batchCaching`: the batch price list has a cached-input price (GPT-5 family). */
const oa = (input: number, cachedInput: number | undefined, output: number, batchCaching = false): Pricing =>
  cachedInput === undefined
    ? { input, output, cacheWrite: input }
    : { input, cachedInput, cacheWrite: input, output, ...(batchCaching ? {} : { batchCachedInput: round(input * BATCH_FACTOR) }) };
const BATCH_FACTOR = 0.5;
const an = (input: number, output: number): Pricing => ({ input, output, cachedInput: round(input * 0.1), cacheWrite: round(input * 1.25) });

/** Default prices by `provider/model` (a dated snapshot name falls back to its alias). */
export const DEFAULT_PRICES: Readonly<Record<string, Pricing>> = {
  "openai/gpt-4o": oa(2.5, 1.25, 10),
  // The paper's model: the May 2024 snapshot has its own (higher) price and no prompt caching.
  "openai/gpt-4o-2024-05-13": oa(5, undefined, 15),
  "openai/gpt-4o-mini": oa(0.15, 0.075, 0.6),
  "openai/gpt-4.1": oa(2, 0.5, 8),
  "openai/gpt-4.1-mini": oa(0.4, 0.1, 1.6),
  "openai/gpt-4.1-nano": oa(0.1, 0.025, 0.4),
  "openai/gpt-5": oa(1.25, 0.125, 10, true),
  "openai/gpt-5.1": oa(1.25, 0.125, 10, true),
  "openai/gpt-5-mini": oa(0.25, 0.025, 2, true),
  "openai/gpt-5-nano": oa(0.05, 0.005, 0.4, true),
  "openai/o3": oa(2, 0.5, 8),
  "openai/o4-mini": oa(1.1, 0.275, 4.4),
  "anthropic/claude-opus-4-5": an(5, 25),
  "anthropic/claude-opus-4-1": an(15, 75),
  "anthropic/claude-sonnet-4-5": an(3, 15),
  "anthropic/claude-sonnet-4-0": an(3, 15),
  "anthropic/claude-sonnet-4": an(3, 15),
  "anthropic/claude-haiku-4-5": an(1, 5),
  "anthropic/claude-3-5-haiku": an(0.8, 4),
};

/** Discount factor of each provider's batch API (price multiplier). */
export const BATCH_PRICE_FACTOR: Partial<Record<ProviderId, number>> = { openai: BATCH_FACTOR, anthropic: BATCH_FACTOR };

/** Where a run's price came from (shown beside the dollars). */
export type PriceSource = "flags" | "settings" | "default" | "free";

export interface ResolvedPrice {
  pricing: Pricing;
  source: PriceSource;
  /** The key the price was found under, e.g. "openai/gpt-4o". */
  key?: string;
}

/** Names to try for a model: itself, then without a date suffix or `-latest`. */
export function modelAliases(model: string): string[] {
  const out = [model];
  const stripped = model.replace(/-(\d{4}-\d{2}-\d{2}|\d{8}|latest)$/, "");
  if (stripped !== model) out.push(stripped);
  return out;
}

/**
 * The price of `provider/model`: explicit flags first, then user prices (by `provider/model` or
 * `model`, as the `preflab.prices` setting is keyed), then the dated defaults. Local providers
 * (baseline, llamacpp) cost nothing; an openai-compatible server has no default (its owner sets
 * one). Undefined means "price unknown".
 */
export function resolvePrice(
  provider: ProviderId | string,
  model: string | undefined,
  opts: { flags?: Pricing; prices?: Record<string, Pricing>; defaults?: Record<string, Pricing> } = {},
): ResolvedPrice | undefined {
  if (opts.flags && Object.keys(opts.flags).length > 0) return { pricing: opts.flags, source: "flags" };
  const user = opts.prices ?? {};
  for (const name of model ? modelAliases(model) : []) {
    for (const key of [`${provider}/${name}`, name]) {
      const p = user[key];
      if (p) return { pricing: p, source: "settings", key };
    }
  }
  if (provider === "baseline" || provider === "llamacpp") return { pricing: { input: 0, output: 0 }, source: "free" };
  if (!model) return undefined;
  const defaults = opts.defaults ?? DEFAULT_PRICES;
  for (const name of modelAliases(model)) {
    const key = `${provider}/${name}`;
    const p = defaults[key];
    if (p) return { pricing: p, source: "default", key };
  }
  return undefined;
}

/** The same price at the provider's batch discount (undefined when the provider has no batch API). */
export function batchPricing(provider: ProviderId | string, p: Pricing): Pricing | undefined {
  const f = BATCH_PRICE_FACTOR[provider as ProviderId];
  if (f === undefined) return undefined;
  const out = scalePricing(p, f);
  if (p.batchCachedInput !== undefined && out.cachedInput !== undefined) out.cachedInput = p.batchCachedInput;
  return out;
}

export function scalePricing(p: Pricing, f: number): Pricing {
  const out: Pricing = {};
  for (const k of ["input", "output", "cachedInput", "cacheWrite"] as const) if (p[k] !== undefined) out[k] = round(p[k] * f);
  return out;
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
