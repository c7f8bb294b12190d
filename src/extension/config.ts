/**
 * The one typed view of Preflab's settings (package.json contributes.configuration, section
 * "preflab"). Everything reads settings through `readConfig`; nothing else calls
 * `getConfiguration("preflab")`. API keys are never settings: they live in SecretStorage
 * (secrets.ts) or the environment.
 *
 * Pure (no runtime vscode import): `readConfig` takes anything with `get(key)`, e.g.
 * `vscode.workspace.getConfiguration("preflab")`, so it is unit-tested in plain Node.
 */
import * as path from "node:path";
import { resolvePrice } from "../core/cost/prices.js";
import { PROVIDER_IDS, isProviderId, type Pricing, type ProviderId } from "../core/providers/registry.js";

export const CONFIG_SECTION = "preflab";

export interface ConfigSource {
  get<T>(key: string): T | undefined;
}

export type GpuSetting = "auto" | "cuda" | "vulkan" | "metal" | "off";

export interface PreflabConfig {
  /** Provider preselected in the quick picks. */
  provider: ProviderId;
  openai: { model: string; baseUrl: string | undefined };
  anthropic: { model: string; baseUrl: string | undefined };
  openaiCompatible: { model: string; baseUrl: string | undefined };
  llamacpp: { modelPath: string | undefined; gpu: GpuSetting; threads: number | undefined; contextSize: number | undefined };
  /** USD per 1M tokens, by "provider/model" or by "model". */
  prices: Record<string, Pricing>;
  runner: { concurrency: number; rpm: number | undefined; tpm: number | undefined; maxRetries: number; timeoutMs: number };
  generation: { temperature: number | undefined; maxTokens: number | undefined; history: "with" | "without" | "both" };
  evaluation: { orders: "both" | "ab"; verdict: "text" | "probability"; maxInputTokens: number };
  judge: { provider: ProviderId; model: string | undefined; cross: boolean };
  data: { trainPath: string | undefined; testPath: string | undefined; historySize: number; historyMode: "per-example" | "fixed"; pairs: "one" | "all"; seed: number };
  folders: { datasets: string; runs: string; cache: string };
  cacheEnabled: boolean;
  /** An experiment whose estimate exceeds this many dollars asks first (preflab.cost.confirmAboveUsd). */
  cost: { confirmAboveUsd: number };
}

export const DEFAULTS = {
  openaiModel: "gpt-4o-mini",
  anthropicModel: "claude-3-5-haiku-latest",
  concurrency: 8,
  maxRetries: 5,
  timeoutMs: 120_000,
  maxInputTokens: 12_800,
  historySize: 10,
  datasets: ".preflab/datasets",
  runs: ".preflab/runs",
  cache: ".preflab/cache/responses",
  confirmAboveUsd: 5,
} as const;

function str(src: ConfigSource, key: string): string | undefined {
  const v = src.get<unknown>(key);
  return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
}

function int(src: ConfigSource, key: string, min: number, fallback: number): number;
function int(src: ConfigSource, key: string, min: number, fallback: undefined): number | undefined;
function int(src: ConfigSource, key: string, min: number, fallback: number | undefined): number | undefined {
  const v = src.get<unknown>(key);
  return typeof v === "number" && Number.isInteger(v) && v >= min ? v : fallback;
}

function num(src: ConfigSource, key: string, lo: number, hi: number): number | undefined {
  const v = src.get<unknown>(key);
  return typeof v === "number" && Number.isFinite(v) && v >= lo && v <= hi ? v : undefined;
}

function choice<T extends string>(src: ConfigSource, key: string, options: readonly T[], fallback: T): T {
  const v = src.get<unknown>(key);
  return typeof v === "string" && (options as readonly string[]).includes(v) ? (v as T) : fallback;
}

function url(src: ConfigSource, key: string): string | undefined {
  const v = str(src, key);
  if (v === undefined) return undefined;
  try {
    new URL(v);
    return v;
  } catch {
    return undefined;
  }
}

function prices(src: ConfigSource): Record<string, Pricing> {
  const raw = src.get<unknown>("prices");
  const out: Record<string, Pricing> = {};
  if (!raw || typeof raw !== "object") return out;
  for (const [model, p] of Object.entries(raw as Record<string, unknown>)) {
    if (!p || typeof p !== "object") continue;
    const pricing: Pricing = {};
    for (const k of ["input", "output", "cachedInput", "cacheWrite", "batchCachedInput"] as const) {
      const v = (p as Record<string, unknown>)[k];
      if (typeof v === "number" && Number.isFinite(v) && v >= 0) pricing[k] = v;
    }
    if (Object.keys(pricing).length) out[model] = pricing;
  }
  return out;
}

export function readConfig(src: ConfigSource): PreflabConfig {
  const provider = str(src, "provider");
  const judgeProvider = str(src, "judge.provider");
  return {
    provider: provider && isProviderId(provider) ? provider : "baseline",
    openai: { model: str(src, "openai.model") ?? DEFAULTS.openaiModel, baseUrl: url(src, "openai.baseUrl") },
    anthropic: { model: str(src, "anthropic.model") ?? DEFAULTS.anthropicModel, baseUrl: url(src, "anthropic.baseUrl") },
    openaiCompatible: { model: str(src, "openaiCompatible.model") ?? "", baseUrl: url(src, "openaiCompatible.baseUrl") },
    llamacpp: {
      modelPath: str(src, "llamacpp.modelPath"),
      gpu: choice(src, "llamacpp.gpu", ["auto", "cuda", "vulkan", "metal", "off"] as const, "auto"),
      threads: int(src, "llamacpp.threads", 1, undefined),
      contextSize: int(src, "llamacpp.contextSize", 256, undefined),
    },
    prices: prices(src),
    runner: {
      concurrency: int(src, "runner.concurrency", 1, DEFAULTS.concurrency),
      rpm: int(src, "runner.requestsPerMinute", 1, undefined),
      tpm: int(src, "runner.tokensPerMinute", 1, undefined),
      maxRetries: int(src, "runner.maxRetries", 0, DEFAULTS.maxRetries),
      timeoutMs: int(src, "runner.timeoutMs", 1, DEFAULTS.timeoutMs),
    },
    generation: {
      temperature: num(src, "generation.temperature", 0, 2),
      maxTokens: int(src, "generation.maxTokens", 1, undefined),
      history: choice(src, "generation.history", ["with", "without", "both"] as const, "both"),
    },
    evaluation: {
      orders: choice(src, "evaluation.orders", ["both", "ab"] as const, "both"),
      verdict: choice(src, "evaluation.verdict", ["text", "probability"] as const, "text"),
      maxInputTokens: int(src, "evaluation.maxInputTokens", 1, DEFAULTS.maxInputTokens),
    },
    judge: {
      provider: judgeProvider && isProviderId(judgeProvider) && judgeProvider !== "baseline" ? judgeProvider : "openai",
      model: str(src, "judge.model"),
      cross: src.get<unknown>("judge.cross") === true,
    },
    data: {
      trainPath: str(src, "data.trainPath"),
      testPath: str(src, "data.testPath"),
      historySize: int(src, "data.historySize", 1, DEFAULTS.historySize),
      historyMode: choice(src, "data.historyMode", ["per-example", "fixed"] as const, "per-example"),
      pairs: choice(src, "data.pairs", ["one", "all"] as const, "one"),
      seed: int(src, "data.seed", 0, 0),
    },
    folders: {
      datasets: str(src, "folders.datasets") ?? DEFAULTS.datasets,
      runs: str(src, "folders.runs") ?? DEFAULTS.runs,
      cache: str(src, "folders.cache") ?? DEFAULTS.cache,
    },
    cacheEnabled: src.get<unknown>("cache.enabled") !== false,
    cost: { confirmAboveUsd: num(src, "cost.confirmAboveUsd", 0, Number.MAX_SAFE_INTEGER) ?? DEFAULTS.confirmAboveUsd },
  };
}

/** The model a provider uses by default (settings), or undefined when it has none configured. */
export function configuredModel(cfg: PreflabConfig, provider: ProviderId): string | undefined {
  switch (provider) {
    case "baseline":
      return "tfidf-style";
    case "openai":
      return cfg.openai.model;
    case "anthropic":
      return cfg.anthropic.model;
    case "openai-compatible":
      return cfg.openaiCompatible.model || undefined;
    case "llamacpp":
      return cfg.llamacpp.modelPath ? path.basename(cfg.llamacpp.modelPath) : undefined;
  }
}

/** The `preflab.prices` setting, else the dated default list prices; undefined = price unknown. */
export function priceFor(cfg: PreflabConfig, provider: ProviderId, model: string): Pricing | undefined {
  return resolvePrice(provider, model, { prices: cfg.prices })?.pricing;
}

export interface ProviderChoice {
  provider: ProviderId;
  /** The model name; for llamacpp, the GGUF path. */
  model: string;
}

/** A settings folder resolved against the workspace folder (or the extension's storage without one). */
export function resolveFolder(folder: string, base: string): string {
  return path.isAbsolute(folder) ? folder : path.resolve(base, folder);
}

export { PROVIDER_IDS };
