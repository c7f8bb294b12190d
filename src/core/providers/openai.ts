/**
 * OpenAI chat completions, through the official `openai` SDK. Also serves `openai-compatible`
 * servers (vLLM, llama-server, Ollama, Together) by `baseUrl`.
 *
 * - The SDK never retries (`maxRetries: 0`): the runner (src/core/eval/runner.ts) owns retries.
 * - Temperature: `config.temperature` when set, else a request's own `params.temperature`; with
 *   neither, `openai` leaves it unset (the paper ran OpenAI models with default parameters) and
 *   `openai-compatible` sends 0.9 (the paper's temperature for non-OpenAI models).
 *   Request params override config params.
 * - Output length: `openai` sends `max_completion_tokens` (the field every current OpenAI model
 *   accepts, reasoning models included); `openai-compatible` sends `max_tokens`, which every
 *   compatible server understands.
 * - Token probabilities: `logprobs: true, top_logprobs: 20` and a few output tokens; the
 *   probability of a candidate is the sum of exp(logprob) over the top-20 alternatives at the
 *   answer position whose text equals the candidate after trimming whitespace (so "A" and " A"
 *   both count); a candidate outside the top 20 gets 0. The answer position is the first
 *   generated token (`max_completion_tokens: 1`), or, with `answerPrefix` (a reward model's
 *   verdict prefix, `[[` for the paper's B.1), the token right after the last place the model
 *   wrote the prefix: chat completions cannot prefill, so the model answers as in a text verdict
 *   (explanation first, at the usual output length) and the distribution is read where it decides
 *   the letter. When the model never writes the prefix, or a token runs across its end (the letter
 *   glued to it), every candidate gets 0 and the caller sees an unusable verdict, not a made-up one.
 * - Usage: `inputTokens` is `prompt_tokens` (cached tokens included), `cachedInputTokens` is
 *   `prompt_tokens_details.cached_tokens`.
 * - Prompt caching (`openai` only): OpenAI caches exact prompt prefixes of >= 1024 tokens and routes
 *   by `prompt_cache_key`; a request with a cache mark (`cacheUntil` / `cachePrefix`: the feedback
 *   history, which the templates put before everything that varies) is sent with
 *   `prompt_cache_key` = a hash of that prefix. Prompts of one synthetic user share it; with fixed
 *   histories (`build --history fixed`) every user of one preference shares it too.
 */
import { createHash } from "node:crypto";
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";
import type { ChatCompletion, ChatCompletionCreateParamsNonStreaming } from "openai/resources/chat/completions";
import type { ProviderConfig } from "./types.js";
import { abortError, mapSdkError, shortMessage } from "./sdk-errors.js";
import { ProviderError, type Provider, type ProviderCapabilities, type ProviderRequest, type ProviderResponse, type Usage } from "./types.js";

/** Temperature for `openai-compatible` models when nothing else sets one (the paper's 0.9). */
export const COMPATIBLE_DEFAULT_TEMPERATURE = 0.9;
const TOP_LOGPROBS = 20;
/** SDK-level timeout: a backstop only; the runner's per-request signal is the real one. */
const SDK_TIMEOUT_MS = 10 * 60_000;

export type OpenAIProviderId = "openai" | "openai-compatible";

export class OpenAIProvider implements Provider {
  readonly id: OpenAIProviderId;
  readonly model: string;
  readonly capabilities: ProviderCapabilities = { tokenProbabilities: true };
  private readonly client: OpenAI;
  private readonly config: ProviderConfig;

  constructor(config: ProviderConfig, id: OpenAIProviderId = "openai") {
    this.id = id;
    this.config = config;
    if (!config.model) throw new ProviderError("bad_request", `${id}: a model is required (--model)`);
    this.model = config.model;
    if (id === "openai" && !config.apiKey) throw new ProviderError("auth", "openai: no API key (set OPENAI_API_KEY)");
    if (id === "openai-compatible" && !config.baseUrl) throw new ProviderError("bad_request", "openai-compatible: a base URL is required (--base-url)");
    this.client = new OpenAI({
      // Compatible servers often need no key; the SDK insists on one, so send a placeholder.
      apiKey: config.apiKey || "not-needed",
      baseURL: config.baseUrl ?? null,
      maxRetries: 0,
      timeout: SDK_TIMEOUT_MS,
      organization: null,
      project: null,
    });
  }

  /** The chat completions body for a request (exported for tests and the Batch API exporter). */
  buildBody(request: ProviderRequest): ChatCompletionCreateParamsNonStreaming {
    const p = request.params ?? {};
    const c = this.config;
    const temperature = p.temperature ?? c.temperature ?? (this.id === "openai-compatible" ? COMPATIBLE_DEFAULT_TEMPERATURE : undefined);
    let maxTokens = p.maxTokens ?? c.maxTokens;
    const body: ChatCompletionCreateParamsNonStreaming = {
      model: this.model,
      messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
    };
    if (temperature !== undefined) body.temperature = temperature;
    const topP = p.topP ?? c.topP;
    if (topP !== undefined) body.top_p = topP;
    const seed = p.seed ?? c.seed;
    if (seed !== undefined) body.seed = seed;
    if (p.stop && p.stop.length > 0) body.stop = p.stop;
    if (request.probabilities) {
      body.logprobs = true;
      body.top_logprobs = TOP_LOGPROBS;
      const prefix = request.probabilities.answerPrefix?.trim() ?? "";
      // Without a prefix one token answers; with one, the model writes its answer up to the verdict.
      if (!prefix) maxTokens = 1;
    }
    if (maxTokens !== undefined) {
      if (this.id === "openai") body.max_completion_tokens = maxTokens;
      else body.max_tokens = maxTokens;
    }
    if (this.id === "openai") {
      const key = promptCacheKey(request);
      if (key) body.prompt_cache_key = key;
    }
    return body;
  }

  async call(request: ProviderRequest, opts: { signal?: AbortSignal } = {}): Promise<Omit<ProviderResponse, "cached">> {
    const { signal } = opts;
    if (signal?.aborted) throw abortError(this.id, signal);
    const body = this.buildBody(request);
    const started = performance.now();
    let completion: ChatCompletion;
    try {
      completion = (await this.client.chat.completions.create(body, { signal }));
    } catch (e) {
      throw this.mapError(e, signal);
    }
    const latencyMs = performance.now() - started;
    return parseCompletion(this.id, completion, request, latencyMs);
  }

  private mapError(e: unknown, signal: AbortSignal | undefined): unknown {
    return mapSdkError(this.id, { APIUserAbortError, APIConnectionTimeoutError, APIConnectionError, APIError }, e, signal);
  }

}

/**
 * The `prompt_cache_key` of a request: a hash of its cacheable prefix (everything up to the cache
 * mark), so identical prefixes (one user's prompts; fixed histories) land on the same cache.
 * Undefined for a request without a cache mark.
 */
export function promptCacheKey(request: ProviderRequest): string | undefined {
  if (!request.messages.some((m) => m.cachePrefix || m.cacheUntil !== undefined)) return undefined;
  const h = createHash("sha256");
  for (const m of request.messages) {
    const cut = m.cacheUntil !== undefined && m.cacheUntil < m.content.length ? m.cacheUntil : undefined;
    h.update(`\u0000${m.role}\u0000`);
    h.update(cut === undefined ? m.content : m.content.slice(0, cut));
    if (cut !== undefined || m.cachePrefix || m.cacheUntil !== undefined) break;
  }
  return `preflab-${h.digest("base64url").slice(0, 32)}`;
}

/** Reads a chat completion body into a ProviderResponse; throws `malformed` when it is not one. */
export function parseCompletion(id: string, completion: unknown, request: ProviderRequest, latencyMs: number): Omit<ProviderResponse, "cached"> {
  if (typeof completion !== "object" || completion === null) {
    throw new ProviderError("malformed", `${id}: response is not a JSON object: ${shortMessage(String(completion))}`);
  }
  const c = completion as Partial<ChatCompletion>;
  const choice = Array.isArray(c.choices) ? c.choices[0] : undefined;
  if (!choice || typeof choice !== "object" || typeof choice.message !== "object" || choice.message === null) {
    throw new ProviderError("malformed", `${id}: response has no choices[0].message`);
  }
  const content = choice.message.content;
  if (content !== null && content !== undefined && typeof content !== "string") {
    throw new ProviderError("malformed", `${id}: choices[0].message.content is not a string`);
  }
  const u = c.usage;
  const usage: Usage = {
    inputTokens: num(u?.prompt_tokens),
    outputTokens: num(u?.completion_tokens),
    cachedInputTokens: num(u?.prompt_tokens_details?.cached_tokens),
    cacheWriteTokens: 0,
  };
  const out: Omit<ProviderResponse, "cached"> = { text: content ?? "", usage, latencyMs };
  if (typeof choice.finish_reason === "string") out.finishReason = choice.finish_reason;
  if (request.probabilities) {
    out.tokenProbabilities = candidateProbabilities(id, choice.logprobs?.content, request.probabilities.candidates, request.probabilities.answerPrefix);
  }
  return out;
}

type TokenLogprob = { token: string; logprob: number; top_logprobs?: { token: string; logprob: number }[] };

/** Probability of each candidate at the answer position (see the file comment). */
export function candidateProbabilities(id: string, content: TokenLogprob[] | null | undefined, candidates: string[], answerPrefix?: string): Record<string, number> {
  if (!Array.isArray(content) || content.length === 0) {
    throw new ProviderError("malformed", `${id}: logprobs were requested but the response has no logprobs.content`);
  }
  const out: Record<string, number> = {};
  for (const cand of candidates) out[cand] = 0;
  const position = answerPosition(content, answerPrefix);
  if (position === undefined) return out;
  const entry = content[position];
  const alternatives = entry?.top_logprobs && entry.top_logprobs.length > 0 ? entry.top_logprobs : entry ? [entry] : [];
  const wanted = new Map(candidates.map((c) => [c.trim(), c]));
  for (const alt of alternatives) {
    if (typeof alt?.token !== "string" || typeof alt.logprob !== "number") continue;
    const cand = wanted.get(alt.token.trim());
    if (cand !== undefined) out[cand] = (out[cand] ?? 0) + Math.exp(alt.logprob);
  }
  for (const cand of candidates) out[cand] = Math.min(1, out[cand] ?? 0);
  return out;
}

/**
 * Index of the token right after the last `answerPrefix` in the generated text (0 without a
 * prefix); only whitespace may lie between the prefix and that token. Undefined when the prefix
 * was never written, nothing follows it, or a token straddles its end.
 */
export function answerPosition(content: TokenLogprob[], answerPrefix: string | undefined): number | undefined {
  const prefix = answerPrefix?.trim() ?? "";
  if (!prefix) return 0;
  const tokens = content.map((t) => (typeof t?.token === "string" ? t.token : ""));
  const text = tokens.join("");
  const at = text.lastIndexOf(prefix);
  if (at < 0) return undefined;
  const end = at + prefix.length;
  let start = 0;
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    if (start >= end) {
      // A whitespace-only token between the prefix and the letter: the letter comes later.
      if (/^\s+$/.test(tok)) {
        start += tok.length;
        continue;
      }
      return i;
    }
    if (start + tok.length > end) return undefined;
    start += tok.length;
  }
  return undefined;
}

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}
