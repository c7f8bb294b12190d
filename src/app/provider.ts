/**
 * From what a host asked for (flags, settings, quick picks) to a validated ProviderConfig: the one
 * place that knows each provider's requirements, where keys come in, what a registered fine-tuned
 * model name means, and what a run records about its model. Every host calls
 * `resolveProviderConfig`; its errors name the setting the way the host names it (`--model`,
 * `preflab.openaiCompatible.baseUrl`), so the rule and the message are the same everywhere.
 */
import { existsSync } from "node:fs";
import { API_KEY_ENV, PROVIDER_IDS, isProviderId, type Pricing, type ProviderConfig, type ProviderId } from "../core/providers/registry.js";
import type { Provider } from "../core/providers/types.js";
import type { RunMeta } from "../core/eval/runlog.js";
import { publicUrl } from "../core/eval/runlog.js";
import type { RunGate } from "./gate.js";
import { findRegisteredModel, modelsFile } from "./models.js";
import { keyNameFor, type DestinationRequest } from "./origins.js";
import { resolvePrice, type ResolvedPrice } from "../core/cost/prices.js";

/** What a host asks for: a ProviderConfig whose provider may be left out when `model` names a registered model. */
export type ProviderRequest = Omit<ProviderConfig, "provider" | "apiKey"> & { provider?: ProviderId };

/** The settings a refusal can point at. */
export type ProviderSetting = "provider" | "model" | "baseUrl" | "modelPath" | "temperature" | "topP" | "key";

/** The same refusal in every host; `setting` says which setting to change (hosts add buttons for it). */
export class ProviderConfigError extends Error {
  override name = "ProviderConfigError";
  constructor(
    message: string,
    readonly setting: ProviderSetting,
    readonly provider?: ProviderId,
  ) {
    super(message);
  }
}

export interface ProviderContext {
  /** Workspace root holding .preflab/models.json: a registered model can be chosen by its name. */
  root?: string;
  /** The API key for a provider, from wherever the host keeps keys (env, SecretStorage). */
  getKey?: (provider: ProviderId) => string | undefined | Promise<string | undefined>;
  /** How the host names a setting in messages (default: the field name). */
  name?: (setting: Exclude<ProviderSetting, "key">) => string;
  /** Where the host tells the user to put a key (default: the environment variable). */
  keyHint?: (provider: ProviderId, env: string) => string;
  /** Pricing for the resolved model when the request has none (the extension's price table). */
  priceFor?: (provider: ProviderId, model: string) => Pricing | undefined;
  /** False for an estimate, which sends nothing: a missing key is not an error then. */
  needKey?: boolean;
}

export interface ResolvedProvider {
  config: ProviderConfig;
  /** Strings to redact from everything written (the API key, when there is one). */
  secrets: string[];
  /**
   * The registered model the request named, if it named one. Its base URL (if any) was read from
   * `file`, a workspace file: a key-destination check treats it as such (src/app/origins.ts).
   */
  registered?: { name: string; kind: string; file: string; baseUrl?: string };
  /** The price and where it came from (request, host's table, dated defaults); undefined = price unknown. */
  price?: ResolvedPrice;
}

export const CLOUD_PROVIDERS: readonly ProviderId[] = ["openai", "anthropic", "openai-compatible", "scalar-reward"];

/** The one Anthropic refusal: the Messages API no longer takes temperature / top_p. */
export function anthropicSamplingRefusal(names: string[]): string {
  return `the Anthropic Messages API no longer accepts temperature or top_p; remove ${names.join(" / ")}`;
}

/** The model name a run records and shows: the GGUF file's name for llamacpp. */
export function displayModel(config: ProviderConfig): string {
  if (config.provider === "llamacpp") return (config.modelPath ?? "").split(/[\\/]/).pop() ?? "";
  if (config.provider === "baseline") return config.model ?? "tfidf-style";
  return config.model ?? "";
}

/**
 * Validates a request and completes it: a registered model's provider, model and base URL; the key
 * (from `getKey`); pricing. Throws ProviderConfigError naming the setting to change.
 */
export async function resolveProviderConfig(req: ProviderRequest, ctx: ProviderContext = {}): Promise<ResolvedProvider> {
  const name = ctx.name ?? ((s: string) => s);
  let registered: ResolvedProvider["registered"];
  let provider = req.provider;
  const config: Omit<ProviderConfig, "provider"> = {};
  for (const [k, v] of Object.entries(req)) if (k !== "provider" && v !== undefined) (config as Record<string, unknown>)[k] = v;

  // A registered fine-tuned model, chosen by its name: it brings its provider, model and server.
  if (req.model !== undefined && ctx.root !== undefined && (provider === undefined || provider === "openai" || provider === "openai-compatible" || provider === "scalar-reward")) {
    const m = await findRegisteredModel(ctx.root, req.model);
    if (m && (provider === undefined || provider === m.provider)) {
      if (!isProviderId(m.provider)) {
        throw new ProviderConfigError(`"${m.name}" is a registered ${String(m.kind)} model served as ${String(m.provider)}; evaluations take generation models (use it with \`preflab rs --rm-provider ${String(m.provider)}\`)`, "model", provider);
      }
      provider = m.provider;
      config.model = m.model;
      // The model is served where the registry says, whatever the default server in settings is.
      if (m.baseUrl) config.baseUrl = m.baseUrl;
      registered = { name: m.name, kind: m.kind, file: modelsFile(ctx.root), ...(m.baseUrl ? { baseUrl: m.baseUrl } : {}) };
    }
  }
  if (provider === undefined) throw new ProviderConfigError(`${name("provider")} is required (${PROVIDER_IDS.join(", ")}), unless ${name("model")} names a registered model`, "provider");
  const out: ProviderConfig = { provider, ...config };

  if (CLOUD_PROVIDERS.includes(provider) && !out.model) throw new ProviderConfigError(`${name("model")} is required for provider ${provider}`, "model", provider);
  if (provider !== "scalar-reward" && (out.endpointPath !== undefined || out.scorePath !== undefined || out.rewardInput !== undefined)) {
    throw new ProviderConfigError(`the endpoint path, score path and reward input apply to provider scalar-reward only, not ${provider}`, "provider", provider);
  }
  if (provider === "scalar-reward" && !out.baseUrl) throw new ProviderConfigError(`${name("baseUrl")} is required for provider scalar-reward (the reward model server, e.g. http://localhost:8000)`, "baseUrl", provider);
  if (provider === "openai-compatible" && !out.baseUrl) throw new ProviderConfigError(`${name("baseUrl")} is required for provider openai-compatible (your server's URL, e.g. http://localhost:8000/v1)`, "baseUrl", provider);
  if (out.baseUrl !== undefined) {
    try {
      new URL(out.baseUrl);
    } catch {
      throw new ProviderConfigError(`${name("baseUrl")} must be a URL, got "${out.baseUrl}"`, "baseUrl", provider);
    }
  }
  if (provider === "llamacpp") {
    if (!out.modelPath) throw new ProviderConfigError(`${name("modelPath")} is required for provider llamacpp`, "modelPath", provider);
    if (!existsSync(out.modelPath)) throw new ProviderConfigError(`the GGUF file ${out.modelPath} does not exist (${name("modelPath")})`, "modelPath", provider);
  }
  if (provider === "anthropic" && (out.temperature !== undefined || out.topP !== undefined)) {
    const given = [out.temperature !== undefined ? name("temperature") : undefined, out.topP !== undefined ? name("topP") : undefined].filter((s): s is string => s !== undefined);
    throw new ProviderConfigError(anthropicSamplingRefusal(given), out.temperature !== undefined ? "temperature" : "topP", provider);
  }

  const secrets: string[] = [];
  const env = API_KEY_ENV[provider];
  if (env) {
    const key = await ctx.getKey?.(provider);
    if (key) {
      out.apiKey = key;
      secrets.push(key);
    } else if (provider !== "openai-compatible" && provider !== "scalar-reward" && ctx.needKey !== false) {
      throw new ProviderConfigError(`provider ${provider} needs an API key: ${ctx.keyHint ? ctx.keyHint(provider, env) : `set ${env} in the environment`}`, "key", provider);
    }
  }
  // Price: the request's own, else the host's table, else the dated defaults (src/core/cost/prices.ts).
  let price: ResolvedPrice | undefined;
  if (out.pricing) price = { pricing: out.pricing, source: "flags" };
  else {
    const hostPrice = ctx.priceFor?.(provider, displayModel(out));
    price = hostPrice ? { pricing: hostPrice, source: "settings" } : resolvePrice(provider, displayModel(out));
    if (price) out.pricing = price.pricing;
  }
  return { config: out, secrets, ...(registered ? { registered } : {}), ...(price ? { price } : {}) };
}

/** What the gate is asked before a provider is created: nothing for the baseline, "model" for local models, "network" (+ "key") for servers. */
export function checkProviderGate(gate: RunGate, config: ProviderConfig): void {
  if (config.provider === "baseline") return;
  if (config.provider === "llamacpp") {
    gate.check("model", `load the local model ${config.modelPath ?? ""}`);
    return;
  }
  gate.check("network", `send requests to the ${config.provider} API${config.baseUrl ? ` at ${publicUrl(config.baseUrl)}` : ""}`);
  if (config.apiKey) gate.check("key", `send the ${config.provider} API key`);
}

/** The key-destination question for a resolved provider (src/app/origins.ts): whose key goes to which URL, and where the URL came from. */
export function destinationOf(resolved: Pick<ResolvedProvider, "config" | "registered">): DestinationRequest {
  const c = resolved.config;
  // A registered model's URL was read from .preflab/models.json, a workspace file.
  const fromFile = resolved.registered?.baseUrl !== undefined && resolved.registered.baseUrl === c.baseUrl;
  return {
    key: c.apiKey ? keyNameFor(c.provider) : "none",
    url: c.baseUrl,
    source: fromFile ? "workspace-file" : c.baseUrl ? "user-setting" : "official",
    ...(fromFile ? { file: resolved.registered!.file } : {}),
    what: `requests to the ${c.provider} API`,
  };
}

/** The run meta for a provider built from `config`: what ran, never a key. */
export function runMetaFor(config: ProviderConfig, provider: Provider): RunMeta {
  const params: Record<string, unknown> = {};
  if (config.temperature !== undefined) params.temperature = config.temperature;
  if (config.maxTokens !== undefined) params.maxTokens = config.maxTokens;
  if (config.topP !== undefined) params.topP = config.topP;
  if (config.seed !== undefined) params.seed = config.seed;
  const meta: RunMeta = { provider: provider.id, model: provider.model, params };
  if (config.baseUrl) meta.baseUrl = publicUrl(config.baseUrl);
  // Two compatible servers (or two GGUF files) can share a model name: keep their caches apart.
  if (config.provider === "openai-compatible" && config.baseUrl) meta.cacheScope = `base-url:${config.baseUrl}`;
  if (config.provider === "llamacpp" && config.modelPath) meta.cacheScope = `model-path:${config.modelPath}`;
  return meta;
}
