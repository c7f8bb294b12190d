/**
 * The one small interface every model provider implements (docs/ARCHITECTURE.md, rule 6).
 * Providers never retry on their own: the runner (src/core/eval) owns retries, so a provider
 * reports faults as a ProviderError that says whether and when a retry makes sense.
 */

/** Every provider id a run can name (the registry, registry.ts, creates each). */
export const PROVIDER_IDS = ["baseline", "openai", "openai-compatible", "anthropic", "llamacpp", "scalar-reward"] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

/** Price in US dollars per 1M tokens. */
export interface Pricing {
  input?: number;
  output?: number;
  cachedInput?: number;
  cacheWrite?: number;
  /**
   * Price of a cached input token inside the provider's batch API, where the batch price list says
   * otherwise than "the batch discount on `cachedInput`" (OpenAI lists no batch cached-input price
   * for models before GPT-5: cached tokens of a batch cost the batch input price).
   */
  batchCachedInput?: number;
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
  /**
   * scalar-reward (a served reward model: src/core/finetune/scalar-reward.ts): the endpoint path
   * joined to baseUrl (default /classify), the JSON path of the score in the response (default the
   * current vLLM classify shape) and whether chat messages or plain text are sent.
   */
  endpointPath?: string;
  scorePath?: string;
  rewardInput?: "messages" | "text";
}

export type Role = "system" | "user" | "assistant";

export interface ChatMessage {
  role: Role;
  content: string;
  /**
   * Marks the end of a stable prefix (e.g. the feedback history) that a provider may cache:
   * Anthropic puts `cache_control: {type: "ephemeral"}` on it; OpenAI caches exact prefixes
   * automatically; llama.cpp keeps it in the KV cache of the user's sequence.
   */
  cachePrefix?: boolean;
  /**
   * The cached prefix ends inside this message, at this character offset of `content` (e.g. right
   * after the feedback history, before the instruction). Anthropic splits the content into two
   * blocks there and marks the first; providers that cache exact prefixes ignore it.
   */
  cacheUntil?: number;
}

export interface GenerationParams {
  temperature?: number;
  maxTokens?: number;
  topP?: number;
  seed?: number;
  stop?: string[];
}

/** A structured pairwise task, for providers that do not read text (the `baseline`). */
export interface PairwiseTask {
  kind: "pairwise";
  history: { prompt: string; chosen: string; rejected: string }[];
  instruction: string;
  responseA: string;
  responseB: string;
}

export interface ProviderRequest {
  messages: ChatMessage[];
  params?: GenerationParams;
  /**
   * Ask for the next-token probabilities of these candidate strings (e.g. ["A", "B"]) at the
   * first generated position after the prompt, optionally after a forced answer prefix.
   */
  probabilities?: { candidates: string[]; answerPrefix?: string };
  /** Requests sharing a key share a prefix (one synthetic user): llama.cpp keeps one sequence per key. */
  sequenceKey?: string;
  /** Structured form of the same request, for non-LLM providers. */
  task?: PairwiseTask;
  /** Sample index: repeated sampling of the same prompt is not collapsed by the cache. */
  sample?: number;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  /** Input tokens read from a prompt cache (OpenAI cached_tokens, Anthropic cache_read_input_tokens). */
  cachedInputTokens: number;
  /** Input tokens written to a prompt cache (Anthropic cache_creation_input_tokens). */
  cacheWriteTokens: number;
}

export interface ProviderResponse {
  text: string;
  usage: Usage;
  /** True when served from Preflab's own response cache (set by the runner). */
  cached: boolean;
  latencyMs: number;
  finishReason?: string;
  /** Answered through the provider's batch API (priced at its batch discount). */
  batch?: boolean;
  /** Probability of each requested candidate (renormalised over the candidates is up to the caller). */
  tokenProbabilities?: Record<string, number>;
  error?: { kind: ProviderErrorKind; message: string; status?: number };
}

export type ProviderErrorKind =
  | "rate_limit" // 429
  | "server" // 5xx
  | "timeout"
  | "network"
  | "malformed" // a body that is not what the wire format promises
  | "bad_request" // 4xx other than 429: do not retry
  | "auth"
  | "aborted"
  | "unsupported"
  | "input_too_long";

const RETRYABLE: ReadonlySet<ProviderErrorKind> = new Set(["rate_limit", "server", "timeout", "network", "malformed"]);

export class ProviderError extends Error {
  readonly kind: ProviderErrorKind;
  readonly status?: number;
  readonly retryAfterMs?: number;
  constructor(kind: ProviderErrorKind, message: string, opts: { status?: number; retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "ProviderError";
    this.kind = kind;
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
  }
  get retryable(): boolean {
    return RETRYABLE.has(this.kind);
  }
}

export interface ProviderCapabilities {
  /** Can answer `probabilities` requests. */
  tokenProbabilities: boolean;
  /** Reads only `task`, not text (the baseline). */
  structuredOnly?: boolean;
  /** Answers with a scalar reward for the conversation (its `text` is the number): a served reward model. */
  scalarReward?: boolean;
}

export interface Provider {
  readonly id: string;
  readonly model: string;
  readonly capabilities: ProviderCapabilities;
  /**
   * Throws ProviderError on any fault; never returns a made-up answer. `itemId` is the run item the
   * call is for (the batch-API provider maps it to the batch's request id).
   */
  call(request: ProviderRequest, opts: { signal?: AbortSignal; itemId?: string }): Promise<Omit<ProviderResponse, "cached">>;
  dispose?(): Promise<void>;
}

export function emptyUsage(): Usage {
  return { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0 };
}
