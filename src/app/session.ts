/**
 * The run session: the one path every host takes to run an evaluation.
 *
 *   validated provider config (provider.ts) -> gate -> template defaults -> provider
 *   -> run record (RunMeta) -> runner options -> progress & cancellation -> provider disposed
 *
 * `runEvaluation(request, target, hooks)` is a plain function call: the CLI (src/cli/batch.ts),
 * the extension (src/extension/runs/) and the language server's sample run
 * (src/server/sample-run.ts) call it, and so can anything else that runs cells of an experiment.
 * A run folder made by any host is the same folder: same eval.json, same run.json, same cache keys.
 */
import { runGeneration, type GenerateOptions } from "../core/eval/generation.js";
import { runJudge, type JudgeOptions, type JudgeResultLine } from "../core/eval/judge.js";
import { prepareEvalDir, type EvalJson } from "../core/eval/plan.js";
import { runRm, type RmOptions, type RmReport } from "../core/eval/rm.js";
import { RUNNER_DEFAULTS, runBatch, type BackoffOptions, type Progress, type RunnerOptions, type RunSummary } from "../core/eval/runner.js";
import { createProvider, type ProviderConfig } from "../core/providers/registry.js";
import type { GenerationParams, Provider } from "../core/providers/types.js";
import { builtinTemplateDir, loadTemplate } from "../core/templates/template.js";
import type { RunGate } from "./gate.js";
import { readPromptFile } from "./prompts.js";
import { checkProviderGate, destinationOf, runMetaFor, type ResolvedProvider } from "./provider.js";
import { KeyDestinationPolicy, MemoryOriginStore } from "./origins.js";
import * as path from "node:path";
import { withBatchMode } from "./batch.js";
import type { BatchProgress } from "../core/batch/provider.js";

/** How requests are sent: the same settings from CLI flags or extension settings. */
export interface RunnerSettings {
  concurrency: number;
  maxRetries: number;
  timeoutMs: number;
  backoff?: BackoffOptions;
  /** Requests / tokens per minute limits. */
  rpm?: number;
  tpm?: number;
  /** Response cache folder, or false. */
  cacheDir: string | false;
  /** Send the requests through the provider's batch API (src/app/batch.ts). */
  batch?: boolean;
  /** Time between polls of a batch (default 30 s). */
  batchPollMs?: number;
  /** The most prompt tokens of the run in unfinished batches (src/app/batch.ts). */
  batchMaxEnqueuedTokens?: number;
}

/** RUNNER_DEFAULTS with the given overrides (cache off unless a folder is given). */
export function runnerSettings(over: Partial<RunnerSettings> = {}): RunnerSettings {
  const r: RunnerSettings = {
    concurrency: over.concurrency ?? RUNNER_DEFAULTS.concurrency,
    maxRetries: over.maxRetries ?? RUNNER_DEFAULTS.maxRetries,
    timeoutMs: over.timeoutMs ?? RUNNER_DEFAULTS.timeoutMs,
    backoff: { ...RUNNER_DEFAULTS.backoff, ...over.backoff },
    cacheDir: over.cacheDir ?? false,
  };
  if (over.rpm !== undefined) r.rpm = over.rpm;
  if (over.tpm !== undefined) r.tpm = over.tpm;
  if (over.batch) r.batch = true;
  if (over.batchPollMs !== undefined) r.batchPollMs = over.batchPollMs;
  if (over.batchMaxEnqueuedTokens !== undefined) r.batchMaxEnqueuedTokens = over.batchMaxEnqueuedTokens;
  return r;
}

export interface SessionHooks {
  /** Asked before the provider is created (network / key / model). */
  gate: RunGate;
  /**
   * Where keys may go (src/app/origins.ts). Default: no origin named by a workspace file is
   * allowed (a host that can ask, or was told `--allow-origin`, passes its own).
   */
  policy?: KeyDestinationPolicy;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /** Told when the provider is being created (a local model can take a while to load). */
  onLoading?: (config: ProviderConfig) => void;
  /** Creates the provider (default: the registry's createProvider). */
  createProvider?: (config: ProviderConfig) => Promise<Provider>;
  /** Batch mode: the batch's own counts at each poll. */
  onBatchProgress?: (p: BatchProgress) => void;
}

/** Runner options for a provider built from `resolved`, less the run folder. */
export type SessionRunner = Omit<RunnerOptions, "runDir">;

/**
 * Creates the provider for `resolved` (after the gate), hands `fn` runner options wired to the
 * hooks (run meta, cancel, progress, pricing, secrets to redact), and disposes the provider.
 */
export async function withProvider<T>(resolved: ResolvedProvider, runner: RunnerSettings, hooks: SessionHooks, fn: (provider: Provider, options: SessionRunner) => Promise<T>): Promise<T> {
  checkProviderGate(hooks.gate, resolved.config);
  if (resolved.config.provider !== "baseline" && resolved.config.provider !== "llamacpp") {
    await (hooks.policy ?? new KeyDestinationPolicy({ gate: hooks.gate, store: new MemoryOriginStore() })).authorize(destinationOf(resolved));
  }
  hooks.onLoading?.(resolved.config);
  const provider = await (hooks.createProvider ?? createProvider)(resolved.config);
  try {
    const options: SessionRunner = {
      concurrency: runner.concurrency,
      maxRetries: runner.maxRetries,
      timeoutMs: runner.timeoutMs,
      cacheDir: runner.cacheDir,
      meta: runMetaFor(resolved.config, provider),
      secrets: resolved.secrets,
    };
    if (runner.backoff) options.backoff = runner.backoff;
    if (runner.rpm !== undefined) options.rpm = runner.rpm;
    if (runner.tpm !== undefined) options.tpm = runner.tpm;
    if (hooks.signal) options.signal = hooks.signal;
    if (hooks.onProgress) options.onProgress = hooks.onProgress;
    if (resolved.config.pricing) options.pricing = resolved.config.pricing;
    return await fn(provider, options);
  } finally {
    await provider.dispose?.();
  }
}

/** What to run. Sampling params for generate / judge come from the provider config unless given. */
export type EvalRequest =
  | { kind: "rm"; datasetDir: string; options: RmOptions }
  | { kind: "generate"; datasetDir: string; options: GenerateOptions }
  | { kind: "judge"; sourceRunDir: string; options: JudgeOptions }
  | { kind: "prompts"; input: string };

export type EvalKind = EvalRequest["kind"];

export type EvalOutcome =
  | { kind: "rm"; runDir: string; summary: RunSummary; report: RmReport }
  | { kind: "generate"; runDir: string; summary: RunSummary }
  | { kind: "judge"; runDir: string; summary: RunSummary; judged: JudgeResultLine[] }
  | { kind: "prompts"; runDir: string; summary: RunSummary };

export interface RunTarget {
  runDir: string;
  provider: ResolvedProvider;
  runner: RunnerSettings;
}

type Sampling = Pick<GenerationParams, "temperature" | "maxTokens" | "topP" | "seed">;
const SAMPLING_KEYS = ["temperature", "maxTokens", "topP", "seed"] as const;

function samplingOf(config: ProviderConfig, keys: readonly (keyof Sampling)[] = SAMPLING_KEYS): Sampling {
  const out: Sampling = {};
  for (const k of keys) if (config[k] !== undefined) out[k] = config[k];
  return out;
}

/** The file of the evaluation's main template (the one whose front matter holds model defaults). */
function mainTemplate(request: EvalRequest): string | undefined {
  return request.kind === "prompts" ? undefined : request.options.template;
}

/**
 * Front-matter `defaults` (temperature, maxTokens, topP) of the evaluation's template (a user's
 * file) fill in what the host's settings leave unset, in every host. Anthropic takes neither
 * temperature nor top_p, so a template's defaults for them do not apply there. The built-ins'
 * defaults are the core's business (e.g. the judge's Janus parameters, judge.ts).
 */
export function withTemplateDefaults(request: EvalRequest, config: ProviderConfig): ProviderConfig {
  const file = mainTemplate(request);
  // A built-in named by its path (a resumed run's eval.json records it) counts as the built-in
  // itself, so a resume records the same params as the run it continues.
  if (!file || path.resolve(path.dirname(file)) === path.resolve(builtinTemplateDir())) return config;
  const d = loadTemplate(file).defaults;
  if (!d) return config;
  const out = { ...config };
  for (const k of ["temperature", "maxTokens", "topP"] as const) {
    if (out[k] !== undefined || d[k] === undefined) continue;
    if (config.provider === "anthropic" && k !== "maxTokens") continue;
    out[k] = d[k];
  }
  return out;
}

/** Runs one evaluation into `target.runDir`; resumable (rerun the same request to resume). */
export async function runEvaluation(request: EvalRequest, target: RunTarget, hooks: SessionHooks): Promise<EvalOutcome> {
  const runDir = path.resolve(target.runDir);
  const config = withTemplateDefaults(request, target.provider.config);
  const resolved: ResolvedProvider = { ...target.provider, config };
  // Read the input before anything starts, so a bad file writes nothing.
  const prompts = request.kind === "prompts" ? await readPromptFile(request.input) : undefined;
  return withProvider(resolved, target.runner, hooks, (plain, plainOptions) =>
    withBatchMode(plain, config, plainOptions, runDir, target.runner, hooks.onBatchProgress, async (provider, options) => {
    const runner: RunnerOptions = { ...options, runDir };
    switch (request.kind) {
      case "rm": {
        const { summary, report } = await runRm(request.datasetDir, request.options, provider, runner);
        return { kind: "rm", runDir, summary, report };
      }
      case "generate": {
        const opts: GenerateOptions = { ...request.options, params: request.options.params ?? samplingOf(config) };
        return { kind: "generate", runDir, summary: await runGeneration(request.datasetDir, opts, provider, runner) };
      }
      case "judge": {
        const params = request.options.params ?? samplingOf(config, ["temperature", "maxTokens", "topP"]);
        const opts: JudgeOptions = { ...request.options, params: Object.keys(params).length ? params : undefined };
        const { summary, judged } = await runJudge(request.sourceRunDir, opts, provider, runner);
        return { kind: "judge", runDir, summary, judged };
      }
      case "prompts": {
        const items = prompts!;
        const evalJson: EvalJson = { kind: "prompts", options: { input: path.resolve(request.input) }, items: items.length };
        await prepareEvalDir(runDir, evalJson, items.map((i) => ({ itemId: i.id })));
        return { kind: "prompts", runDir, summary: await runBatch(items, provider, runner) };
      }
    }
    }),
  );
}
