/**
 * A scalar-reward client for a served reward model (a TRL RewardTrainer model is a sequence
 * classifier with one label; vLLM serves it in pooling mode, `vllm serve MODEL --runner pooling`).
 * It implements the Provider interface so rejection sampling runs through the batch runner
 * (retries, resume, run log); `text` of a response is the score as a decimal string.
 *
 * Endpoint paths and response shapes have changed across vLLM versions, so both are settings:
 * - `path` (default `/classify`), joined to `baseUrl` (e.g. `http://host:8000`);
 * - `scorePath`, the JSON path of the score in the response (default `data.0.probs.0`: the current
 *   vLLM classify shape `{"data": [{"index": 0, "label": ..., "probs": [p], "num_classes": 1}]}`).
 *   For the pooling endpoint use `--rm-path /pooling --rm-score-path data.0.data.0`.
 *   Dots and brackets both work: `data[0].probs[0]`.
 * - `input`: `messages` (default) sends `{"model", "messages": [...]}` so the server applies the
 *   model's chat template, exactly as the TRL reward model saw its conversational training data;
 *   `text` sends `{"model", "input": "<contents joined by blank lines>"}` for servers without chat
 *   input (no chat template is applied then).
 * The key, when there is one, comes from OPENAI_COMPATIBLE_API_KEY and is sent as a Bearer token.
 */
import { emptyUsage, ProviderError, type Provider, type ProviderCapabilities, type ProviderRequest, type ProviderResponse } from "../providers/types.js";

export const SCALAR_REWARD_ID = "scalar-reward";
export const SCALAR_DEFAULTS = { path: "/classify", scorePath: "data.0.probs.0", input: "messages" as const };

export interface ScalarRewardConfig {
  baseUrl: string;
  model: string;
  apiKey?: string;
  path?: string;
  scorePath?: string;
  input?: "messages" | "text";
}

/** Splits a JSON path (`a.0.b`, `a[0].b`, `$.a`) into keys. */
export function parseJsonPath(p: string): string[] {
  const keys = p
    .replace(/^\$\.?/, "")
    .replace(/\[(\d+)\]/g, ".$1")
    .split(".")
    .filter((k) => k !== "");
  if (keys.length === 0) throw new Error(`empty JSON path "${p}"`);
  return keys;
}

/** The value at a JSON path, or undefined. */
export function readJsonPath(value: unknown, p: string): unknown {
  let cur: unknown = value;
  for (const k of parseJsonPath(p)) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = Array.isArray(cur) ? (/^\d+$/.test(k) ? cur[Number(k)] : undefined) : (cur as Record<string, unknown>)[k];
  }
  return cur;
}

function retryAfterMs(h: Headers): number | undefined {
  const ms = h.get("retry-after-ms");
  if (ms && Number.isFinite(Number(ms))) return Number(ms);
  const ra = h.get("retry-after");
  if (!ra) return undefined;
  if (/^\d+(\.\d+)?$/.test(ra.trim())) return Number(ra) * 1000;
  const t = Date.parse(ra);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : undefined;
}

export class ScalarRewardProvider implements Provider {
  readonly id = SCALAR_REWARD_ID;
  readonly model: string;
  readonly capabilities: ProviderCapabilities = { tokenProbabilities: false, scalarReward: true };
  readonly url: string;
  readonly scorePath: string;
  readonly input: "messages" | "text";
  private readonly apiKey?: string;

  constructor(config: ScalarRewardConfig) {
    if (!config.model) throw new ProviderError("bad_request", "scalar-reward: a model is required");
    let base: URL;
    try {
      base = new URL(config.baseUrl);
    } catch {
      throw new ProviderError("bad_request", `scalar-reward: base URL "${config.baseUrl}" is not a URL`);
    }
    const p = config.path ?? SCALAR_DEFAULTS.path;
    this.url = base.toString().replace(/\/+$/, "") + (p.startsWith("/") ? p : `/${p}`);
    this.model = config.model;
    this.scorePath = config.scorePath ?? SCALAR_DEFAULTS.scorePath;
    parseJsonPath(this.scorePath);
    this.input = config.input ?? SCALAR_DEFAULTS.input;
    this.apiKey = config.apiKey;
  }

  body(request: ProviderRequest): Record<string, unknown> {
    const messages = request.messages.map((m) => ({ role: m.role, content: m.content }));
    return this.input === "messages" ? { model: this.model, messages } : { model: this.model, input: messages.map((m) => m.content).join("\n\n") };
  }

  async call(request: ProviderRequest, opts: { signal?: AbortSignal } = {}): Promise<Omit<ProviderResponse, "cached">> {
    const started = performance.now();
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json", ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}) },
        body: JSON.stringify(this.body(request)),
        signal: opts.signal,
      });
    } catch (e) {
      if (opts.signal?.aborted) throw new ProviderError("aborted", "scalar-reward: request aborted", { cause: e });
      throw new ProviderError("network", `scalar-reward: ${this.url}: ${(e as Error).message}`, { cause: e });
    }
    let text: string;
    try {
      text = await res.text();
    } catch (e) {
      if (opts.signal?.aborted) throw new ProviderError("aborted", "scalar-reward: request aborted", { cause: e });
      throw new ProviderError("network", `scalar-reward: reading the response failed: ${(e as Error).message}`, { cause: e });
    }
    if (!res.ok) {
      const msg = `scalar-reward: HTTP ${res.status} from ${this.url}: ${text.slice(0, 200)}`;
      const s = res.status;
      const kind = s === 429 ? "rate_limit" : s >= 500 ? "server" : s === 401 || s === 403 ? "auth" : s === 413 ? "input_too_long" : "bad_request";
      throw new ProviderError(kind, msg, { status: s, retryAfterMs: retryAfterMs(res.headers) });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ProviderError("malformed", `scalar-reward: the response is not JSON: ${text.slice(0, 120)}`, { status: res.status });
    }
    const score = readJsonPath(json, this.scorePath);
    if (typeof score !== "number" || !Number.isFinite(score)) {
      throw new ProviderError("malformed", `scalar-reward: no number at "${this.scorePath}" in the response: ${text.slice(0, 160)}`, { status: res.status });
    }
    const usage = emptyUsage();
    const u = (json as { usage?: { prompt_tokens?: unknown } }).usage;
    if (u && typeof u.prompt_tokens === "number") usage.inputTokens = u.prompt_tokens;
    return { text: String(score), usage, latencyMs: performance.now() - started, finishReason: "score" };
  }
}
