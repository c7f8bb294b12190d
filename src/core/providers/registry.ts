/**
 * Providers by id, each behind a lazy import() so nothing heavy (SDKs, node-llama-cpp) loads
 * until a run actually uses it.
 */
import { PROVIDER_IDS, type Provider, type ProviderConfig, type ProviderId } from "./types.js";

// The ids and the config type live in types.ts (the providers import them from there, not from
// this file, which imports the providers: no cycle). Re-exported for everyone else.
export { PROVIDER_IDS, type ProviderId, type Pricing, type ProviderConfig } from "./types.js";

/** Environment variable that holds each cloud provider's key. */
export const API_KEY_ENV: Partial<Record<ProviderId, string>> = {
  openai: "OPENAI_API_KEY",
  // Its own variable: a compatible server at an arbitrary URL must never receive the OpenAI key.
  "openai-compatible": "OPENAI_COMPATIBLE_API_KEY",
  anthropic: "ANTHROPIC_API_KEY",
  // A served reward model sits where a compatible server does: the same (optional) key.
  "scalar-reward": "OPENAI_COMPATIBLE_API_KEY",
};

export function isProviderId(id: string): id is ProviderId {
  return (PROVIDER_IDS as readonly string[]).includes(id);
}

type Factory = (config: ProviderConfig) => Promise<Provider>;

const factories: Record<ProviderId, Factory> = {
  baseline: async (c) => new (await import("./baseline.js")).BaselineProvider(c),
  openai: async (c) => new (await import("./openai.js")).OpenAIProvider(c, "openai"),
  "openai-compatible": async (c) => new (await import("./openai.js")).OpenAIProvider(c, "openai-compatible"),
  anthropic: async (c) => new (await import("./anthropic.js")).AnthropicProvider(c),
  llamacpp: async (c) => (await import("./llamacpp.js")).LlamaCppProvider.create(c),
  "scalar-reward": async (c) => {
    const { ScalarRewardProvider } = await import("../finetune/scalar-reward.js");
    return new ScalarRewardProvider({
      baseUrl: c.baseUrl ?? "",
      model: c.model ?? "",
      ...(c.apiKey ? { apiKey: c.apiKey } : {}),
      ...(c.endpointPath ? { path: c.endpointPath } : {}),
      ...(c.scorePath ? { scorePath: c.scorePath } : {}),
      ...(c.rewardInput ? { input: c.rewardInput } : {}),
    });
  },
};

export async function createProvider(config: ProviderConfig): Promise<Provider> {
  const factory = factories[config.provider];
  if (!factory) throw new Error(`unknown provider "${String(config.provider)}"; known: ${PROVIDER_IDS.join(", ")}`);
  return factory(config);
}
