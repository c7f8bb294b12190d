/**
 * Providers by id, each behind a lazy import() so nothing heavy (SDKs, node-llama-cpp) loads
 * until a run actually uses it.
 */
import type { Provider } from "./types.js";

export const PROVIDER_IDS = ["baseline", "openai", "openai-compatible", "anthropic", "llamacpp"] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

/** Price in US dollars per 1M tokens. */
export interface Pricing {
  input?: number;
  output?: number;
  cachedInput?: number;
  cacheWrite?: number;
}

/** One typed configuration for every provider; each provider reads the fields that apply to it. */
export interface ProviderConfig {
  provider: ProviderId;
  model?: string;
  baseUrl?: string;
  /** Only ever from an env var or VS Code SecretStorage; never written anywhere. */
  apiKey?: string;
  temperature?: number;
  maxTokens?: number;
  topP?: number;
  seed?: number;
  pricing?: Pricing;
  /** llama.cpp */
  modelPath?: string;
  gpu?: "auto" | "cuda" | "vulkan" | "metal" | false;
  threads?: number;
  contextSize?: number;
}

/** Environment variable that holds each cloud provider's key. */
export const API_KEY_ENV: Partial<Record<ProviderId, string>> = {
  openai: "OPENAI_API_KEY",
  // Its own variable: a compatible server at an arbitrary URL must never receive the OpenAI key.
  "openai-compatible": "OPENAI_COMPATIBLE_API_KEY",
  anthropic: "ANTHROPIC_API_KEY",
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
};

export async function createProvider(config: ProviderConfig): Promise<Provider> {
  const factory = factories[config.provider];
  if (!factory) throw new Error(`unknown provider "${String(config.provider)}"; known: ${PROVIDER_IDS.join(", ")}`);
  return factory(config);
}
