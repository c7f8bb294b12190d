/**
 * The provider and runner flags shared by every command that calls a model. A `prefix` gives a
 * second model its own set (`--judge-provider`, `--judge-model`, ...):
 *
 *   const options = { input: { type: "string" }, ...providerOptionSpec(), ...providerOptionSpec("judge-") };
 *   const { values } = parse(argv, options);
 *   const gen = resolveProviderOptions(values);
 *   const judge = resolveProviderOptions(values, { prefix: "judge-" });
 *
 * API keys come only from the environment (API_KEY_ENV in registry.ts), never from a flag, and
 * never reach the run meta; they are handed to the runner as `secrets` to redact.
 */
import path from "node:path";
import { UsageError, choiceOption, intOption } from "./command.js";
import { API_KEY_ENV, PROVIDER_IDS, isProviderId, type Pricing, type ProviderConfig, type ProviderId } from "../core/providers/registry.js";
import type { Provider } from "../core/providers/types.js";
import { RUNNER_DEFAULTS, type BackoffOptions, type RunMeta } from "../core/eval/runner.js";
import { publicUrl } from "../core/eval/runlog.js";

type Spec = Record<string, { type: "string" | "boolean" }>;

const STRING_FLAGS = [
  "provider",
  "model",
  "base-url",
  "temperature",
  "max-tokens",
  "top-p",
  "seed",
  "concurrency",
  "max-retries",
  "timeout-ms",
  "rpm",
  "tpm",
  "cache-dir",
  "price-input",
  "price-output",
  "price-cached-input",
  "price-cache-write",
  "model-path",
  "threads",
  "gpu",
  "context-size",
] as const;
const BOOLEAN_FLAGS = ["no-cache"] as const;

/** parseArgs option definitions for the provider/runner flags, each name prefixed. */
export function providerOptionSpec(prefix = ""): Spec {
  const spec: Spec = {};
  for (const f of STRING_FLAGS) spec[prefix + f] = { type: "string" };
  for (const f of BOOLEAN_FLAGS) spec[prefix + f] = { type: "boolean" };
  return spec;
}

/** Help text for the flags (for a command's `help`). */
export function providerOptionsHelp(prefix = ""): string {
  const p = `--${prefix}`;
  return [
    `Model (${prefix ? prefix.replace(/-$/, "") : "provider"}):`,
    `  ${p}provider ID          ${PROVIDER_IDS.join(" | ")}`,
    `  ${p}model M              model name (required for cloud providers)`,
    `  ${p}base-url URL         API base URL (required for openai-compatible)`,
    `  ${p}temperature T        sampling temperature (openai: API default; openai-compatible: 0.9;`,
    `                        anthropic: not accepted by the API)`,
    `  ${p}max-tokens N         output token limit`,
    `  ${p}top-p P / ${p}seed N`,
    `  ${p}model-path FILE      GGUF file (llamacpp); ${p}threads N, ${p}gpu auto|cuda|vulkan|metal|false, ${p}context-size N`,
    `  keys: OPENAI_API_KEY (openai), OPENAI_COMPATIBLE_API_KEY (openai-compatible, optional), ANTHROPIC_API_KEY (anthropic), from the environment only`,
    `Runner:`,
    `  ${p}concurrency N        parallel requests (default ${RUNNER_DEFAULTS.concurrency})`,
    `  ${p}max-retries N        retries for retryable faults (default ${RUNNER_DEFAULTS.maxRetries})`,
    `  ${p}timeout-ms N         per-request timeout (default ${RUNNER_DEFAULTS.timeoutMs})`,
    `  ${p}rpm N / ${p}tpm N      requests / tokens per minute limits`,
    `  ${p}cache-dir DIR        response cache (default .preflab/cache/responses); ${p}no-cache disables it`,
    `  ${p}price-input / ${p}price-output / ${p}price-cached-input / ${p}price-cache-write USD per 1M tokens (for cost)`,
  ].join("\n");
}

export interface RunnerFlagOptions {
  concurrency: number;
  maxRetries: number;
  timeoutMs: number;
  backoff: BackoffOptions;
  rpm?: number;
  tpm?: number;
  cacheDir: string | false;
}

export interface ResolvedProviderOptions {
  config: ProviderConfig;
  runner: RunnerFlagOptions;
  /** Strings to redact from anything written (the API key, when there is one). */
  secrets: string[];
  /** Environment variable the key came from (for messages), if the provider takes one. */
  keyEnv?: string;
}

type Values = Record<string, string | boolean | undefined>;

/**
 * Turns parsed flags into a ProviderConfig and runner options. `required: false` returns
 * undefined when `--PREFIXprovider` is absent (an optional second model).
 */
export function resolveProviderOptions(values: Values, opts: { prefix?: string; env?: NodeJS.ProcessEnv; cwd?: string; defaultProvider?: ProviderId }): ResolvedProviderOptions;
export function resolveProviderOptions(values: Values, opts: { prefix?: string; env?: NodeJS.ProcessEnv; cwd?: string; defaultProvider?: ProviderId; required: false }): ResolvedProviderOptions | undefined;
export function resolveProviderOptions(
  values: Values,
  opts: { prefix?: string; env?: NodeJS.ProcessEnv; cwd?: string; defaultProvider?: ProviderId; required?: boolean } = {},
): ResolvedProviderOptions | undefined {
  const prefix = opts.prefix ?? "";
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const str = (name: string): string | undefined => {
    const v = values[prefix + name];
    return typeof v === "string" ? v : undefined;
  };
  const flag = (name: string) => `${prefix}${name}`;
  const num = (name: string, check: (n: number) => boolean, what: string): number | undefined => {
    const v = str(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n) || !check(n)) throw new UsageError(`--${flag(name)} must be ${what}, got "${v}"`);
    return n;
  };
  const optInt = (name: string, min: number) => (str(name) === undefined ? undefined : intOption(str(name), flag(name), 0, min));

  const providerName = str("provider") ?? opts.defaultProvider;
  if (providerName === undefined) {
    if (opts.required === false) return undefined;
    throw new UsageError(`--${flag("provider")} is required (${PROVIDER_IDS.join(", ")})`);
  }
  if (!isProviderId(providerName)) throw new UsageError(`--${flag("provider")} must be one of ${PROVIDER_IDS.join(", ")}, got "${providerName}"`);
  const provider: ProviderId = providerName;

  const config: ProviderConfig = { provider };
  const model = str("model");
  if (model !== undefined) config.model = model;
  const baseUrl = str("base-url");
  if (baseUrl !== undefined) {
    try {
      new URL(baseUrl);
    } catch {
      throw new UsageError(`--${flag("base-url")} must be a URL, got "${baseUrl}"`);
    }
    config.baseUrl = baseUrl;
  }
  const temperature = num("temperature", (n) => n >= 0 && n <= 2, "a number in [0, 2]");
  if (temperature !== undefined) config.temperature = temperature;
  const maxTokens = optInt("max-tokens", 1);
  if (maxTokens !== undefined) config.maxTokens = maxTokens;
  const topP = num("top-p", (n) => n > 0 && n <= 1, "a number in (0, 1]");
  if (topP !== undefined) config.topP = topP;
  const seed = optInt("seed", 0);
  if (seed !== undefined) config.seed = seed;
  const modelPath = str("model-path");
  if (modelPath !== undefined) config.modelPath = path.resolve(cwd, modelPath);
  const threads = optInt("threads", 1);
  if (threads !== undefined) config.threads = threads;
  const contextSize = optInt("context-size", 1);
  if (contextSize !== undefined) config.contextSize = contextSize;
  const gpu = str("gpu");
  if (gpu !== undefined) {
    const g = choiceOption(gpu, flag("gpu"), ["auto", "cuda", "vulkan", "metal", "false"] as const, "auto");
    config.gpu = g === "false" ? false : g;
  }
  const pricing: Pricing = {};
  const price = (name: string, key: keyof Pricing) => {
    const v = num(name, (n) => n >= 0, "a number >= 0 (USD per 1M tokens)");
    if (v !== undefined) pricing[key] = v;
  };
  price("price-input", "input");
  price("price-output", "output");
  price("price-cached-input", "cachedInput");
  price("price-cache-write", "cacheWrite");
  if (Object.keys(pricing).length > 0) config.pricing = pricing;

  // Per-provider requirements, checked here so a bad command line fails before anything runs.
  const cloud = provider === "openai" || provider === "anthropic" || provider === "openai-compatible";
  if (cloud && !config.model) throw new UsageError(`--${flag("model")} is required for provider ${provider}`);
  if (provider === "openai-compatible" && !config.baseUrl) throw new UsageError(`--${flag("base-url")} is required for provider openai-compatible`);
  if (provider === "llamacpp" && !config.modelPath) throw new UsageError(`--${flag("model-path")} is required for provider llamacpp`);
  if (provider === "anthropic" && (config.temperature !== undefined || config.topP !== undefined)) {
    throw new UsageError(`the Anthropic Messages API no longer accepts temperature or top_p; drop --${flag("temperature")} / --${flag("top-p")}`);
  }
  const keyEnv = API_KEY_ENV[provider];
  const secrets: string[] = [];
  if (keyEnv) {
    const key = env[keyEnv];
    if (key) {
      config.apiKey = key;
      secrets.push(key);
    } else if (provider !== "openai-compatible") {
      throw new UsageError(`provider ${provider} needs an API key: set ${keyEnv} in the environment`);
    }
  }

  const noCache = values[flag("no-cache")] === true;
  const cacheDirFlag = str("cache-dir");
  if (noCache && cacheDirFlag !== undefined) throw new UsageError(`--${flag("no-cache")} and --${flag("cache-dir")} exclude each other`);
  const runner: RunnerFlagOptions = {
    concurrency: intOption(str("concurrency"), flag("concurrency"), RUNNER_DEFAULTS.concurrency, 1),
    maxRetries: intOption(str("max-retries"), flag("max-retries"), RUNNER_DEFAULTS.maxRetries, 0),
    timeoutMs: intOption(str("timeout-ms"), flag("timeout-ms"), RUNNER_DEFAULTS.timeoutMs, 1),
    backoff: { ...RUNNER_DEFAULTS.backoff },
    cacheDir: noCache ? false : path.resolve(cwd, cacheDirFlag ?? path.join(".preflab", "cache", "responses")),
  };
  const rpm = optInt("rpm", 1);
  if (rpm !== undefined) runner.rpm = rpm;
  const tpm = optInt("tpm", 1);
  if (tpm !== undefined) runner.tpm = tpm;
  return { config, runner, secrets, ...(keyEnv ? { keyEnv } : {}) };
}

/** The run meta for a provider built from `config`: what ran, never a key. */
export function runMetaFor(config: ProviderConfig, provider: Provider, extra: Partial<Pick<RunMeta, "templateHash" | "datasetManifestHash" | "seed">> = {}): RunMeta {
  const params: Record<string, unknown> = {};
  if (config.temperature !== undefined) params.temperature = config.temperature;
  if (config.maxTokens !== undefined) params.maxTokens = config.maxTokens;
  if (config.topP !== undefined) params.topP = config.topP;
  if (config.seed !== undefined) params.seed = config.seed;
  const meta: RunMeta = { provider: provider.id, model: provider.model, params, ...extra };
  if (config.baseUrl) meta.baseUrl = publicUrl(config.baseUrl);
  // Two compatible servers (or two GGUF files) can share a model name: keep their caches apart.
  if (config.provider === "openai-compatible" && config.baseUrl) meta.cacheScope = `base-url:${config.baseUrl}`;
  if (config.provider === "llamacpp" && config.modelPath) meta.cacheScope = `model-path:${config.modelPath}`;
  return meta;
}
