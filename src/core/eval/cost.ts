import type { Pricing } from "../providers/registry.js";
import type { Usage } from "../providers/types.js";

/** Cost in USD of one call's usage (inputTokens include cached and cache-written tokens). */
export function costOf(usage: Usage, pricing: Pricing | undefined): number {
  if (!pricing) return 0;
  const inP = pricing.input ?? 0;
  const cached = usage.cachedInputTokens;
  const write = usage.cacheWriteTokens;
  const plain = Math.max(0, usage.inputTokens - cached - write);
  return (plain * inP + cached * (pricing.cachedInput ?? inP) + write * (pricing.cacheWrite ?? inP) + usage.outputTokens * (pricing.output ?? 0)) / 1e6;
}
