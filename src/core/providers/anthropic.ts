/**
 * Anthropic Messages API, through the official `@anthropic-ai/sdk`.
 *
 * - The SDK never retries (`maxRetries: 0`): the runner owns retries.
 * - System messages (wherever they sit) go to `system`, in order; consecutive messages of the same
 *   role are merged into one message with one text block each.
 * - A message with `cachePrefix: true` puts `cache_control: {type: "ephemeral"}` on its block (the
 *   feedback history is the natural cached prefix); one with `cacheUntil` is split into two blocks
 *   there and the first is marked. The API allows 4 breakpoints; when a request
 *   marks more, the last 4 are kept (they cover the longest prefixes).
 * - Sampling: the SDK (1.x) speaks API version 2026-10-21, which removed `temperature`, `top_p` and
 *   `top_k` (any value, defaults included, is a 400). So the paper's temperature 0.9 cannot be
 *   applied to Claude models: a provider *configured* with a temperature or top_p is refused at
 *   construction (a clear error instead of a run that silently differs from its run.json), and
 *   request-level `temperature` / `topP` (which eval code sets for every model alike) are not
 *   sent. Anthropic has no seed either; `seed` is ignored.
 * - `max_tokens` defaults to 1024 (the API requires one) unless the request or the config sets it.
 * - No token logprobs: a `probabilities` request throws ProviderError "unsupported".
 * - Usage: `inputTokens` counts every input token (`input_tokens` + `cache_read_input_tokens` +
 *   `cache_creation_input_tokens`), `cachedInputTokens` the cache reads and `cacheWriteTokens` the
 *   cache writes, so the runner prices each part once.
 */
import Anthropic, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "@anthropic-ai/sdk";
import type { Message, MessageCreateParamsNonStreaming, MessageParam, TextBlockParam } from "@anthropic-ai/sdk/resources/messages";
import type { ProviderConfig } from "./types.js";
import { abortError, mapSdkError, shortMessage } from "./sdk-errors.js";
import { ProviderError, type Provider, type ProviderCapabilities, type ProviderRequest, type ProviderResponse } from "./types.js";

export const ANTHROPIC_DEFAULT_MAX_TOKENS = 1024;
/** The Messages API accepts at most this many cache_control breakpoints per request. */
export const MAX_CACHE_BREAKPOINTS = 4;
const SDK_TIMEOUT_MS = 10 * 60_000;

export class AnthropicProvider implements Provider {
  readonly id = "anthropic";
  readonly model: string;
  readonly capabilities: ProviderCapabilities = { tokenProbabilities: false };
  private readonly client: Anthropic;
  private readonly config: ProviderConfig;

  constructor(config: ProviderConfig) {
    this.config = config;
    if (!config.model) throw new ProviderError("bad_request", "anthropic: a model is required (--model)");
    if (!config.apiKey) throw new ProviderError("auth", "anthropic: no API key (set ANTHROPIC_API_KEY)");
    if (config.temperature !== undefined || config.topP !== undefined) {
      throw new ProviderError(
        "unsupported",
        "anthropic: the Messages API (version 2026-10-21) no longer accepts temperature or top_p; remove --temperature/--top-p for this provider",
      );
    }
    this.model = config.model;
    this.client = new Anthropic({
      apiKey: config.apiKey,
      baseURL: config.baseUrl ?? null,
      maxRetries: 0,
      // An explicit timeout also stops the SDK from refusing large non-streaming max_tokens.
      timeout: SDK_TIMEOUT_MS,
    });
  }

  /** The Messages API body for a request (exported for tests and the Message Batches exporter). */
  buildBody(request: ProviderRequest): MessageCreateParamsNonStreaming {
    const p = request.params ?? {};
    const c = this.config;
    const system: TextBlockParam[] = [];
    const messages: MessageParam[] = [];
    const marked: TextBlockParam[] = [];
    for (const m of request.messages) {
      // `cacheUntil` splits a message where its stable prefix (the feedback history) ends: the
      // first block carries the cache breakpoint, the rest (the instruction) follows uncached.
      const cut = m.cacheUntil !== undefined && m.cacheUntil > 0 && m.cacheUntil < m.content.length ? m.cacheUntil : undefined;
      const blocks: TextBlockParam[] =
        cut === undefined ? [{ type: "text", text: m.content }] : [{ type: "text", text: m.content.slice(0, cut) }, { type: "text", text: m.content.slice(cut) }];
      if (cut !== undefined) marked.push(blocks[0]!);
      else if (m.cachePrefix || m.cacheUntil === m.content.length) marked.push(blocks[0]!);
      if (m.role === "system") {
        system.push(...blocks);
        continue;
      }
      const last = messages[messages.length - 1];
      if (last && last.role === m.role && Array.isArray(last.content)) (last.content as TextBlockParam[]).push(...blocks);
      else messages.push({ role: m.role, content: blocks });
    }
    // Blocks are marked in request order; keep the last MAX_CACHE_BREAKPOINTS of them.
    for (const block of marked.slice(-MAX_CACHE_BREAKPOINTS)) block.cache_control = { type: "ephemeral" };
    const body: MessageCreateParamsNonStreaming = {
      model: this.model,
      max_tokens: p.maxTokens ?? c.maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
      messages,
    };
    if (system.length > 0) body.system = system;
    if (p.stop && p.stop.length > 0) body.stop_sequences = p.stop;
    return body;
  }

  async call(request: ProviderRequest, opts: { signal?: AbortSignal } = {}): Promise<Omit<ProviderResponse, "cached">> {
    const { signal } = opts;
    if (request.probabilities) {
      throw new ProviderError("unsupported", "anthropic: the Messages API has no token probabilities; use a text verdict");
    }
    if (signal?.aborted) throw abortError(this.id, signal);
    const body = this.buildBody(request);
    const started = performance.now();
    let message: Message;
    try {
      message = await this.client.messages.create(body, { signal });
    } catch (e) {
      throw this.mapError(e, signal);
    }
    return parseMessage(this.id, message, performance.now() - started);
  }

  private mapError(e: unknown, signal: AbortSignal | undefined): unknown {
    return mapSdkError(this.id, { APIUserAbortError, APIConnectionTimeoutError, APIConnectionError, APIError }, e, signal);
  }

}

/** Reads a Messages API body into a ProviderResponse; throws `malformed` when it is not one. */
export function parseMessage(id: string, message: unknown, latencyMs: number): Omit<ProviderResponse, "cached"> {
  if (typeof message !== "object" || message === null) {
    throw new ProviderError("malformed", `${id}: response is not a JSON object: ${shortMessage(String(message))}`);
  }
  const m = message as Partial<Message>;
  if (!Array.isArray(m.content)) throw new ProviderError("malformed", `${id}: response has no content array`);
  let text = "";
  for (const block of m.content) {
    if (block && typeof block === "object" && block.type === "text") {
      if (typeof block.text !== "string") throw new ProviderError("malformed", `${id}: a text block has no text`);
      text += block.text;
    }
  }
  const u = m.usage;
  const read = num(u?.cache_read_input_tokens);
  const write = num(u?.cache_creation_input_tokens);
  const out: Omit<ProviderResponse, "cached"> = {
    text,
    usage: { inputTokens: num(u?.input_tokens) + read + write, outputTokens: num(u?.output_tokens), cachedInputTokens: read, cacheWriteTokens: write },
    latencyMs,
  };
  if (typeof m.stop_reason === "string") out.finishReason = m.stop_reason;
  return out;
}

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}
