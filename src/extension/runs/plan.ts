/**
 * The extension's side of a run, without VS Code: what the settings and the quick picks mean as a
 * run-session request (src/app/session.ts). The controller (controller.ts) asks, this module turns
 * the answers into the same request the CLI builds from flags, and the session runs it. Pure
 * (type-only vscode-free imports), so a unit test drives exactly this path and compares the run
 * folder with the CLI's.
 */
import * as path from "node:path";
import type { EvalRequest, RunnerSettings } from "../../app/session.js";
import type { ProviderContext, ProviderRequest, ProviderSetting, ResolvedProvider } from "../../app/provider.js";
import type { ProviderId } from "../../core/providers/registry.js";
import { priceFor, type PreflabConfig, type ProviderChoice } from "../config.js";
import type { RunChoice, RunKindChoice } from "../picks.js";

/** What the extension passes to the session layer (the core bundle's exports, or src/app in tests). */
export interface AppApi {
  resolveProviderConfig(req: ProviderRequest, ctx: ProviderContext): Promise<ResolvedProvider>;
  runnerSettings(over?: Partial<RunnerSettings>): RunnerSettings;
}

/** Where a run's settings come from in this window. */
export interface RunEnv {
  cfg: PreflabConfig;
  /** The workspace folder (registered models live in ROOT/.preflab/models.json). */
  root: string;
  /** The resolved response-cache folder. */
  cacheDir: string;
  /** A provider's key: SecretStorage, then the environment. */
  getKey: (provider: ProviderId) => Promise<string | undefined>;
}

type SamplingParams = { temperature?: number; maxTokens?: number; topP?: number; seed?: number };

/** The setting a refusal points at, per provider (for messages and "Open Settings" buttons). */
export function settingName(provider: ProviderId | undefined, setting: Exclude<ProviderSetting, "key">): string {
  const section = provider === "openai-compatible" ? "openaiCompatible" : provider ?? "provider";
  switch (setting) {
    case "provider":
      return "preflab.provider";
    case "model":
      return `preflab.${section}.model`;
    case "baseUrl":
      return `preflab.${section}.baseUrl`;
    case "modelPath":
      return "preflab.llamacpp.modelPath";
    case "temperature":
      return "preflab.generation.temperature";
    case "topP":
      return "top_p";
  }
}

/** How the session layer reaches this window's settings, keys and prices. */
export function providerContext(env: RunEnv, provider: ProviderId | undefined): ProviderContext {
  return {
    root: env.root,
    getKey: env.getKey,
    name: (s) => settingName(provider, s),
    keyHint: (_p, variable) => `store one with "Preflab: Set API Key" (kept in secret storage), or set ${variable} in the environment`,
    priceFor: (p, model) => priceFor(env.cfg, p, model),
  };
}

/** The request for a quick-pick choice: the choice, the settings of its provider, the sampling params. */
export function providerRequest(cfg: PreflabConfig, choice: ProviderChoice, params: SamplingParams): ProviderRequest {
  const r: ProviderRequest = { provider: choice.provider };
  if (choice.provider === "llamacpp") {
    r.modelPath = choice.model;
    r.gpu = cfg.llamacpp.gpu === "off" ? false : cfg.llamacpp.gpu;
    if (cfg.llamacpp.threads !== undefined) r.threads = cfg.llamacpp.threads;
    if (cfg.llamacpp.contextSize !== undefined) r.contextSize = cfg.llamacpp.contextSize;
  } else if (choice.provider !== "baseline") {
    // A cloud or compatible server: the model, and the base URL of its settings section.
    // (scalar-reward has no settings section: its model is a registered name that brings its server.)
    const section = { openai: cfg.openai, anthropic: cfg.anthropic, "openai-compatible": cfg.openaiCompatible, "scalar-reward": undefined }[choice.provider];
    r.model = choice.model;
    if (section?.baseUrl) r.baseUrl = section.baseUrl;
  }
  for (const k of ["temperature", "maxTokens", "topP", "seed"] as const) if (params[k] !== undefined) r[k] = params[k];
  return r;
}

/** Sampling params from settings for a kind of run (the judge has its template's; prompt lines may set their own). */
export function samplingFor(kind: RunKindChoice, cfg: PreflabConfig): SamplingParams {
  const p: SamplingParams = {};
  if (kind !== "judge" && cfg.generation.temperature !== undefined) p.temperature = cfg.generation.temperature;
  if (cfg.generation.maxTokens !== undefined) p.maxTokens = cfg.generation.maxTokens;
  return p;
}

/** Runner settings from preflab.runner.* and the cache setting (the same fields as the CLI's flags). */
export function runnerSettingsFor(app: AppApi, env: RunEnv): RunnerSettings {
  const r = env.cfg.runner;
  return app.runnerSettings({
    concurrency: r.concurrency,
    maxRetries: r.maxRetries,
    timeoutMs: r.timeoutMs,
    cacheDir: env.cfg.cacheEnabled ? env.cacheDir : false,
    ...(r.rpm !== undefined ? { rpm: r.rpm } : {}),
    ...(r.tpm !== undefined ? { tpm: r.tpm } : {}),
  });
}

/** What an evaluation is, from the picks and the settings. */
export type EvalTarget = { kind: "rm" | "generate"; datasetDir: string } | { kind: "judge"; sourceRunDir: string } | { kind: "prompts"; input: string };

export function evalRequest(target: EvalTarget, cfg: PreflabConfig, choice: Pick<RunChoice, "dimensions" | "limit">): EvalRequest {
  const limit = choice.limit ?? undefined;
  switch (target.kind) {
    case "rm":
      return {
        kind: "rm",
        datasetDir: target.datasetDir,
        options: { dimensions: choice.dimensions, orders: cfg.evaluation.orders, verdict: cfg.evaluation.verdict, maxInputTokens: cfg.evaluation.maxInputTokens, ...(limit !== undefined ? { limit } : {}) },
      };
    case "generate":
      return {
        kind: "generate",
        datasetDir: target.datasetDir,
        options: { dimensions: choice.dimensions, history: cfg.generation.history, maxInputTokens: cfg.evaluation.maxInputTokens, ...(limit !== undefined ? { limit } : {}) },
      };
    case "judge":
      return { kind: "judge", sourceRunDir: target.sourceRunDir, options: { cross: cfg.judge.cross } };
    case "prompts":
      return { kind: "prompts", input: path.resolve(target.input) };
  }
}

/** The provider for a choice: settings + params, validated by the session layer (same rules as the CLI). */
export async function resolveChoice(app: AppApi, env: RunEnv, kind: RunKindChoice, choice: ProviderChoice, params: SamplingParams = samplingFor(kind, env.cfg)): Promise<ResolvedProvider> {
  return app.resolveProviderConfig(providerRequest(env.cfg, choice, params), providerContext(env, choice.provider));
}
