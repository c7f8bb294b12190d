/** Estimating a planned run (host-neutral; the CLI's --estimate and experiment estimates call it). */
import path from "node:path";
import { estimateCost, observedOutputMean, type CostEstimate } from "../core/cost/estimate.js";
import type { ResolvedPrice } from "../core/cost/prices.js";
import { tokenizerFor, type Tokenizer } from "../core/templates/tokens.js";
import type { ProviderConfig } from "../core/providers/registry.js";
import type { ProviderRequest } from "../core/providers/types.js";

/** The model name an estimate shows for a provider config. */
export function modelLabel(config: ProviderConfig): string {
  if (config.model) return config.model;
  if (config.provider === "llamacpp" && config.modelPath) return path.basename(config.modelPath);
  return config.provider;
}

/** The max_tokens a provider sends when neither the request nor the config sets one. */
function providerDefaultMaxTokens(config: ProviderConfig): number | undefined {
  return config.maxTokens ?? (config.provider === "anthropic" ? 1024 : undefined);
}

/** Estimates one cell from its planned requests; `runDir` (when it has results) gives observed output lengths. */
export async function estimateItems(
  label: string,
  resolved: { config: ProviderConfig; price?: ResolvedPrice },
  requests: { request: ProviderRequest }[],
  runDir?: string,
  tokenizer?: Tokenizer,
): Promise<CostEstimate> {
  const config = resolved.config;
  const observed = runDir ? await observedOutputMean(runDir) : undefined;
  const max = providerDefaultMaxTokens(config);
  return estimateCost({
    label,
    provider: config.provider,
    model: modelLabel(config),
    requests,
    tokenizer: tokenizer ?? (await tokenizerFor(config)),
    price: resolved.price,
    ...(max !== undefined ? { defaultMaxTokens: max } : {}),
    ...(observed !== undefined ? { observedOutputMean: observed } : {}),
  });
}
