/** `--estimate`: what a planned run would cost, printed before (instead of) any request. */
import path from "node:path";
import type { CliIO } from "./command.js";
import type { ResolvedProviderOptions } from "./provider-options.js";
import { estimateCost, formatEstimates, observedOutputMean, type CostEstimate } from "../core/cost/estimate.js";
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
  resolved: Pick<ResolvedProviderOptions, "config" | "price">,
  requests: { request: ProviderRequest }[],
  runDir?: string,
  tokenizer?: Tokenizer,
): Promise<CostEstimate> {
  const config = resolved.config;
  const observed = runDir ? await observedOutputMean(runDir) : undefined;
  return estimateCost({
    label,
    provider: config.provider,
    model: modelLabel(config),
    requests,
    tokenizer: tokenizer ?? (await tokenizerFor(config)),
    price: resolved.price,
    ...(providerDefaultMaxTokens(config) !== undefined ? { defaultMaxTokens: providerDefaultMaxTokens(config)! } : {}),
    ...(observed !== undefined ? { observedOutputMean: observed } : {}),
  });
}

/**
 * Plans with the model's tokenizer (so the input budget drops the same history pairs as the real
 * run would), estimates, and prints. `plan` gets the tokenizer.
 */
export async function printEstimate(
  io: CliIO,
  label: string,
  resolved: Pick<ResolvedProviderOptions, "config" | "price">,
  plan: (tokenizer: Tokenizer) => Promise<{ request: ProviderRequest }[]>,
  runDir?: string,
): Promise<number> {
  const tokenizer = await tokenizerFor(resolved.config);
  const est = await estimateItems(label, resolved, await plan(tokenizer), runDir, tokenizer);
  io.out(`Estimate (nothing was sent):\n${formatEstimates([est])}`);
  return 0;
}
