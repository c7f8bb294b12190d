/** `--estimate`: what a planned run would cost, printed before (instead of) any request. */
import type { CliIO } from "./command.js";
import type { ResolvedProviderOptions } from "./provider-options.js";
import { formatEstimates } from "../core/cost/estimate.js";
import { tokenizerFor, type Tokenizer } from "../core/templates/tokens.js";
import type { ProviderRequest } from "../core/providers/types.js";
import { estimateItems } from "../app/estimate.js";

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
