/**
 * The provider and runner flags shared by every command that calls a model. A `prefix` gives a
 * second model its own set (`--judge-provider`, `--judge-model`, ...):
 *
 *   const options = { input: { type: "string" }, ...providerOptionSpec(), ...providerOptionSpec("judge-") };
 *   const { values } = parse(argv, options);
 *   const gen = await resolveProviderOptions(values, {});
 *   const judge = await resolveProviderOptions(values, { prefix: "judge-" });
 *
 * API keys come only from the environment (API_KEY_ENV in registry.ts), never from a flag, and
 * never reach the run meta; they are handed to the runner as `secrets` to redact. Validation
 * (each provider's requirements, the Anthropic sampling refusal, registered model names) is the
 * run session's (src/app/provider.ts), shared with the extension.
 */
import { ALLOW_ALL } from "../app/gate.js";
import { cliAllowHint, cliOriginStore, KeyDestinationPolicy } from "../app/origins.js";
import path from "node:path";
import { UsageError, choiceOption, intOption } from "./command.js";
import { API_KEY_ENV, PROVIDER_IDS, isProviderId, type Pricing, type ProviderId } from "../core/providers/registry.js";
import { RUNNER_DEFAULTS } from "../core/eval/runner.js";
import { ProviderConfigError, resolveProviderConfig, type ProviderRequest, type ResolvedProvider } from "../app/provider.js";
import { runnerSettings, type RunnerSettings } from "../app/session.js";

type Spec = Record<string, { type: "string" | "boolean"; multiple?: boolean }>;

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
  "price-batch-cached-input",
  "model-path",
  "threads",
  "gpu",
  "context-size",
  "batch-poll-ms",
  "batch-max-enqueued-tokens",
  "endpoint-path",
  "score-path",
  "reward-input",
] as const;
const BOOLEAN_FLAGS = ["no-cache", "batch"] as const;

/** parseArgs option definitions for the provider/runner flags, each name prefixed. */
export function providerOptionSpec(prefix = ""): Spec {
  const spec: Spec = {};
  for (const f of STRING_FLAGS) spec[prefix + f] = { type: "string" };
  for (const f of BOOLEAN_FLAGS) spec[prefix + f] = { type: "boolean" };
  // One flag for every model of the command: origins named by workspace files that may get a key.
  spec["allow-origin"] = { type: "string", multiple: true };
  return spec;
}

/** Help text for the flags (for a command's `help`). */
export function providerOptionsHelp(prefix = ""): string {
  const p = `--${prefix}`;
  return [
    `Model (${prefix ? prefix.replace(/-$/, "") : "provider"}):`,
    `  ${p}provider ID          ${PROVIDER_IDS.join(" | ")}`,
    `  ${p}model M              model name (required for cloud providers), or the name of a registered`,
    `                        fine-tuned model (.preflab/models.json; brings its provider and server)`,
    `  ${p}base-url URL         API base URL (required for openai-compatible)`,
    `  ${p}temperature T        sampling temperature (openai: API default; openai-compatible: 0.9;`,
    `                        anthropic: not accepted by the API)`,
    `  ${p}max-tokens N         output token limit`,
    `  ${p}top-p P / ${p}seed N`,
    `  ${p}model-path FILE      GGUF file (llamacpp); ${p}threads N, ${p}gpu auto|cuda|vulkan|metal|false, ${p}context-size N`,
    `  ${p}endpoint-path PATH / ${p}score-path P / ${p}reward-input messages|text   scalar-reward: a served reward`,
    `                        model's endpoint (default /classify), the JSON path of its score (default`,
    `                        data.0.probs.0, vLLM's classify shape; /pooling: data.0.data.0) and input`,
    `  keys: OPENAI_API_KEY (openai), OPENAI_COMPATIBLE_API_KEY (openai-compatible and scalar-reward, optional), ANTHROPIC_API_KEY (anthropic), from the environment only`,
    `  --allow-origin ORIGIN    a key goes to a server named by a workspace file (a registered model in`,
    `                        .preflab/models.json, a job record) only when that origin is given here or`,
    `                        the URL is given with ${p}base-url; repeatable`,
    `Runner:`,
    `  ${p}concurrency N        parallel requests (default ${RUNNER_DEFAULTS.concurrency})`,
    `  ${p}max-retries N        retries for retryable faults (default ${RUNNER_DEFAULTS.maxRetries})`,
    `  ${p}timeout-ms N         per-request timeout (default ${RUNNER_DEFAULTS.timeoutMs})`,
    `  ${p}rpm N / ${p}tpm N      requests / tokens per minute limits`,
    `  ${p}cache-dir DIR        response cache (default .preflab/cache/responses); ${p}no-cache disables it`,
    `  ${p}batch                send through the provider's batch API (openai, anthropic: half price, up to 24 h);`,
    `                        batch ids live in the run folder (batch.json), so rerunning polls instead of resubmitting`,
    `  ${p}batch-poll-ms N      time between batch status polls (default 30000)`,
    `  ${p}batch-max-enqueued-tokens N  keep this run's unfinished batches under N prompt tokens (OpenAI's`,
    `                        per-model enqueued-token limit of your usage tier, or less)`,
    `  ${p}price-input / ${p}price-output / ${p}price-cached-input / ${p}price-cache-write USD per 1M tokens`,
    `  ${p}price-batch-cached-input  a cached token's price inside the batch API when it is not half of`,
    `                        price-cached-input (OpenAI before GPT-5: the batch input price)`,
    `                        (default: the dated list prices of known models; otherwise "price unknown")`,
  ].join("\n");
}

export type RunnerFlagOptions = RunnerSettings;

export interface ResolvedProviderOptions extends ResolvedProvider {
  runner: RunnerSettings;
  /** The key-destination policy for this command line (`--allow-origin`). */
  policy: KeyDestinationPolicy;
}

type Values = Record<string, string | boolean | string[] | undefined>;

/** The CLI's key-destination policy: origins from workspace files need `--allow-origin` (src/app/origins.ts). */
export function cliKeyPolicy(values: Values): KeyDestinationPolicy {
  const v = values["allow-origin"];
  try {
    return new KeyDestinationPolicy({ gate: ALLOW_ALL, store: cliOriginStore(Array.isArray(v) ? v : typeof v === "string" ? [v] : []), allowHint: cliAllowHint });
  } catch (e) {
    throw new UsageError(`--allow-origin: ${(e as Error).message}`);
  }
}

interface ResolveOpts {
  prefix?: string;
  env?: NodeJS.ProcessEnv;
  /** Relative paths resolve here; registered models are read from CWD/.preflab/models.json. */
  cwd?: string;
  defaultProvider?: ProviderId;
  /** false for `--estimate`, which sends nothing: a missing API key is not an error then. */
  needKey?: boolean;
}

/**
 * Turns parsed flags into a validated provider config (src/app/provider.ts: the same rules and
 * messages as the extension's) and runner settings. `required: false` returns undefined when
 * neither `--PREFIXprovider` nor `--PREFIXmodel` is given (an optional second model). `--model`
 * may name a registered fine-tuned model (.preflab/models.json), which brings its provider.
 */
export async function resolveProviderOptions(values: Values, opts: ResolveOpts): Promise<ResolvedProviderOptions>;
export async function resolveProviderOptions(values: Values, opts: ResolveOpts & { required: false }): Promise<ResolvedProviderOptions | undefined>;
export async function resolveProviderOptions(values: Values, opts: ResolveOpts & { required?: boolean } = {}): Promise<ResolvedProviderOptions | undefined> {
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

  const providerName = str("provider") ?? (str("model") === undefined ? opts.defaultProvider : undefined);
  if (providerName === undefined && str("model") === undefined && opts.required === false) return undefined;
  if (providerName !== undefined && !isProviderId(providerName)) throw new UsageError(`--${flag("provider")} must be one of ${PROVIDER_IDS.join(", ")}, got "${providerName}"`);

  const req: ProviderRequest = {};
  if (providerName !== undefined && isProviderId(providerName)) req.provider = providerName;
  const model = str("model");
  if (model !== undefined) req.model = model;
  const baseUrl = str("base-url");
  if (baseUrl !== undefined) req.baseUrl = baseUrl;
  const temperature = num("temperature", (n) => n >= 0 && n <= 2, "a number in [0, 2]");
  if (temperature !== undefined) req.temperature = temperature;
  const maxTokens = optInt("max-tokens", 1);
  if (maxTokens !== undefined) req.maxTokens = maxTokens;
  const topP = num("top-p", (n) => n > 0 && n <= 1, "a number in (0, 1]");
  if (topP !== undefined) req.topP = topP;
  const seed = optInt("seed", 0);
  if (seed !== undefined) req.seed = seed;
  const modelPath = str("model-path");
  if (modelPath !== undefined) req.modelPath = path.resolve(cwd, modelPath);
  const threads = optInt("threads", 1);
  if (threads !== undefined) req.threads = threads;
  const contextSize = optInt("context-size", 1);
  if (contextSize !== undefined) req.contextSize = contextSize;
  const gpu = str("gpu");
  if (gpu !== undefined) {
    const g = choiceOption(gpu, flag("gpu"), ["auto", "cuda", "vulkan", "metal", "false"] as const, "auto");
    req.gpu = g === "false" ? false : g;
  }
  const endpointPath = str("endpoint-path");
  if (endpointPath !== undefined) req.endpointPath = endpointPath;
  const scorePath = str("score-path");
  if (scorePath !== undefined) req.scorePath = scorePath;
  const rewardInput = str("reward-input");
  if (rewardInput !== undefined) req.rewardInput = choiceOption(rewardInput, flag("reward-input"), ["messages", "text"] as const, "messages");
  const pricing: Pricing = {};
  const price = (name: string, key: keyof Pricing) => {
    const v = num(name, (n) => n >= 0, "a number >= 0 (USD per 1M tokens)");
    if (v !== undefined) pricing[key] = v;
  };
  price("price-input", "input");
  price("price-output", "output");
  price("price-cached-input", "cachedInput");
  price("price-cache-write", "cacheWrite");
  price("price-batch-cached-input", "batchCachedInput");
  if (Object.keys(pricing).length > 0) req.pricing = pricing;

  const noCache = values[flag("no-cache")] === true;
  const cacheDirFlag = str("cache-dir");
  if (noCache && cacheDirFlag !== undefined) throw new UsageError(`--${flag("no-cache")} and --${flag("cache-dir")} exclude each other`);
  const runner = runnerSettings({
    concurrency: intOption(str("concurrency"), flag("concurrency"), RUNNER_DEFAULTS.concurrency, 1),
    maxRetries: intOption(str("max-retries"), flag("max-retries"), RUNNER_DEFAULTS.maxRetries, 0),
    timeoutMs: intOption(str("timeout-ms"), flag("timeout-ms"), RUNNER_DEFAULTS.timeoutMs, 1),
    cacheDir: noCache ? false : path.resolve(cwd, cacheDirFlag ?? path.join(".preflab", "cache", "responses")),
    ...(optInt("rpm", 1) !== undefined ? { rpm: optInt("rpm", 1) } : {}),
    ...(optInt("tpm", 1) !== undefined ? { tpm: optInt("tpm", 1) } : {}),
    ...(values[flag("batch")] === true ? { batch: true } : {}),
    ...(optInt("batch-poll-ms", 1) !== undefined ? { batchPollMs: optInt("batch-poll-ms", 1) } : {}),
    ...(optInt("batch-max-enqueued-tokens", 1) !== undefined ? { batchMaxEnqueuedTokens: optInt("batch-max-enqueued-tokens", 1) } : {}),
  });

  try {
    const resolved = await resolveProviderConfig(req, {
      root: cwd,
      getKey: (p) => {
        const name = API_KEY_ENV[p];
        return name ? env[name] || undefined : undefined;
      },
      name: (s) => `--${flag(CLI_FLAG[s])}`,
      ...(opts.needKey === false ? { needKey: false } : {}),
    });
    return { ...resolved, runner, policy: cliKeyPolicy(values) };
  } catch (e) {
    if (e instanceof ProviderConfigError) throw new UsageError(e.message);
    throw e;
  }
}

/** The flag for each setting a provider refusal can name. */
const CLI_FLAG = { provider: "provider", model: "model", baseUrl: "base-url", modelPath: "model-path", temperature: "temperature", topP: "top-p" } as const;
