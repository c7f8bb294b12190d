/**
 * The two provider batch APIs behind one small interface (what BatchProvider needs):
 * - OpenAI Batch: the requests go up as a JSONL file (Files API, purpose "batch"), lines
 *   `{custom_id, method: "POST", url: "/v1/chat/completions", body}`; a batch is created on it
 *   (`completion_window: "24h"`); results come back as an output file (and an error file) of lines
 *   `{custom_id, response: {status_code, body}, error}`. <= 50,000 requests and 200 MB per batch.
 * - Anthropic Message Batches: `POST /v1/messages/batches` with `requests: [{custom_id, params}]`;
 *   `processing_status` "ended" when done; results are JSONL at the batch's absolute `results_url`,
 *   lines `{custom_id, result: {type: succeeded|errored|canceled|expired, ...}}`. <= 100,000
 *   requests and 256 MB per batch.
 * Result files are read line by line and a line that does not parse is reported as malformed (the
 * rest still count), so one bad line never loses a batch.
 */
import OpenAI, { toFile } from "openai";
import Anthropic from "@anthropic-ai/sdk";
import type { ProviderConfig } from "../providers/registry.js";
import type { ProviderRequest, ProviderResponse, ProviderErrorKind } from "../providers/types.js";
import { OpenAIProvider, parseCompletion } from "../providers/openai.js";
import { AnthropicProvider, parseMessage } from "../providers/anthropic.js";
import { ProviderError } from "../providers/types.js";
import { mapSdkError } from "../providers/sdk-errors.js";
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";
import * as AnthropicErrors from "@anthropic-ai/sdk";

export interface BatchCounts {
  total: number;
  succeeded: number;
  errored: number;
  /** Expired or cancelled before they ran. */
  unfinished: number;
  processing: number;
}

export interface BatchStatus {
  /** ended: results can be read (completed, expired or cancelled); failed: the batch never ran. */
  state: "in_progress" | "cancelling" | "ended" | "failed";
  /** The provider's own word (completed, expired, cancelled, in_progress...). */
  providerStatus: string;
  counts: BatchCounts;
  /** Why a batch failed (validation errors). */
  error?: string;
  /** It failed only because the organisation's enqueued-token limit for the model was reached. */
  limitExceeded?: boolean;
}

export type BatchResult =
  | { customId: string; ok: Omit<ProviderResponse, "cached"> }
  | { customId: string; error: { kind: ProviderErrorKind; message: string; status?: number } }
  /** Expired or cancelled before it ran. */
  | { customId: string; unfinished: string }
  /** A line that could not be read (its custom id, when that much was readable). */
  | { customId?: string; malformed: string };

/**
 * A submission recorded in the run folder before the batch is created, so a run killed between
 * the API creating the batch and the run recording its id can find that batch instead of paying
 * for the shard twice.
 */
export interface PendingSubmission {
  /** The shard's key: a hash of the run folder's token and the shard's custom ids. */
  key: string;
  customIds: string[];
  /** When the submission started (ISO time, local clock). */
  startedAt: string;
  /** OpenAI: the uploaded input file, once uploaded. */
  inputFileId?: string;
}

export interface SubmitTag {
  /** The shard's key, kept with the batch where the API keeps metadata (OpenAI). */
  key: string;
  /** Called with the uploaded input file's id before the batch is created (OpenAI). */
  onUploaded?: (fileId: string) => Promise<void>;
}

/** The batch APIs' lists cannot tell which batch (if any) a pending submission created. */
export class AmbiguousSubmissionError extends Error {}

/** Clock difference allowed between this machine and the API when matching creation times. */
export const CLOCK_SKEW_MS = 2 * 60_000;
const LIST_PAGE = 100;

export interface BatchBackend {
  readonly provider: "openai" | "anthropic";
  readonly maxRequests: number;
  readonly maxBytes: number;
  /** One serialized request entry (a JSONL line for OpenAI, a JSON object for Anthropic). */
  entry(customId: string, request: ProviderRequest): string;
  submit(entries: string[], signal?: AbortSignal, tag?: SubmitTag): Promise<string>;
  /**
   * The batch a pending submission created, found through the API's batch list; undefined when
   * it created none. `known`: batch ids the run already has (never matched). Throws
   * AmbiguousSubmissionError when the list cannot tell.
   */
  findSubmitted(p: PendingSubmission, known: ReadonlySet<string>, signal?: AbortSignal): Promise<string | undefined>;
  /** Cleans up after a pending submission that created no batch (OpenAI: deletes its uploaded input file). */
  discardPending(p: PendingSubmission): Promise<void>;
  poll(batchId: string, signal?: AbortSignal): Promise<BatchStatus>;
  results(batchId: string, signal?: AbortSignal): Promise<BatchResult[]>;
  cancel(batchId: string): Promise<void>;
}

const OPENAI_ENDPOINT = "/v1/chat/completions";
/** The OpenAI batch metadata key that carries a shard's key. */
export const SHARD_METADATA_KEY = "preflab_shard";

function statusKind(status: number): ProviderErrorKind {
  if (status === 429) return "rate_limit";
  if (status >= 500) return "server";
  if (status === 401 || status === 403) return "auth";
  return "bad_request";
}

export class OpenAIBatchBackend implements BatchBackend {
  readonly provider = "openai" as const;
  readonly maxRequests: number = 50_000;
  readonly maxBytes: number = 200 * 1024 * 1024;
  private readonly client: OpenAI;
  private readonly builder: OpenAIProvider;
  private readonly requests = new Map<string, ProviderRequest>();

  constructor(config: ProviderConfig, limits: { maxRequests?: number; maxBytes?: number } = {}) {
    this.builder = new OpenAIProvider(config, "openai");
    this.client = new OpenAI({ apiKey: config.apiKey ?? "", baseURL: config.baseUrl ?? null, maxRetries: 2, timeout: 10 * 60_000, organization: null, project: null });
    if (limits.maxRequests) this.maxRequests = limits.maxRequests;
    if (limits.maxBytes) this.maxBytes = limits.maxBytes;
  }

  entry(customId: string, request: ProviderRequest): string {
    this.requests.set(customId, request);
    return JSON.stringify({ custom_id: customId, method: "POST", url: OPENAI_ENDPOINT, body: this.builder.buildBody(request) });
  }

  async submit(entries: string[], signal?: AbortSignal, tag?: SubmitTag): Promise<string> {
    try {
      const file = await this.client.files.create({ file: await toFile(Buffer.from(entries.join("\n") + "\n"), "preflab-batch.jsonl"), purpose: "batch" }, { signal });
      await tag?.onUploaded?.(file.id);
      const metadata: Record<string, string> = { source: "preflab", ...(tag ? { [SHARD_METADATA_KEY]: tag.key } : {}) };
      const batch = await this.client.batches.create({ input_file_id: file.id, endpoint: OPENAI_ENDPOINT, completion_window: "24h", metadata }, { signal });
      return batch.id;
    } catch (e) {
      throw this.mapError(e, signal);
    }
  }

  /** The batch whose metadata carries the shard's key (batches are listed newest first). */
  async findSubmitted(p: PendingSubmission, known: ReadonlySet<string>, signal?: AbortSignal): Promise<string | undefined> {
    const since = Date.parse(p.startedAt) - CLOCK_SKEW_MS;
    try {
      for await (const b of this.client.batches.list({ limit: LIST_PAGE }, { signal })) {
        if (b.created_at * 1000 < since) return undefined;
        if (known.has(b.id)) continue;
        if (b.metadata?.[SHARD_METADATA_KEY] === p.key) return b.id;
      }
    } catch (e) {
      throw this.mapError(e, signal);
    }
    return undefined;
  }

  async discardPending(p: PendingSubmission): Promise<void> {
    if (!p.inputFileId) return;
    try {
      await this.client.files.delete(p.inputFileId);
    } catch {
      // Already gone, or not reachable now: an orphan file costs nothing but storage.
    }
  }

  async poll(batchId: string, signal?: AbortSignal): Promise<BatchStatus> {
    let b: OpenAI.Batches.Batch;
    try {
      b = await this.client.batches.retrieve(batchId, { signal });
    } catch (e) {
      throw this.mapError(e, signal);
    }
    const c = b.request_counts ?? { total: 0, completed: 0, failed: 0 };
    const terminal = b.status === "completed" || b.status === "expired" || b.status === "cancelled";
    const counts: BatchCounts = {
      total: c.total,
      succeeded: c.completed,
      errored: c.failed,
      unfinished: terminal ? Math.max(0, c.total - c.completed - c.failed) : 0,
      processing: terminal ? 0 : Math.max(0, c.total - c.completed - c.failed),
    };
    const state: BatchStatus["state"] = b.status === "failed" ? "failed" : terminal ? "ended" : b.status === "cancelling" ? "cancelling" : "in_progress";
    const out: BatchStatus = { state, providerStatus: b.status, counts };
    if (b.status === "failed") {
      const errors = b.errors?.data ?? [];
      out.error = errors.map((e) => `${e.line !== undefined && e.line !== null ? `line ${e.line}: ` : ""}${e.message ?? e.code ?? "error"}`).join("; ") || "the batch failed";
      if (errors.length > 0 && errors.every((e) => e.code === "token_limit_exceeded")) out.limitExceeded = true;
    }
    if (b.output_file_id) this.files.set(batchId, [b.output_file_id, b.error_file_id ?? undefined]);
    else if (b.error_file_id) this.files.set(batchId, [undefined, b.error_file_id]);
    return out;
  }

  private readonly files = new Map<string, [string | undefined, string | undefined]>();

  async results(batchId: string, signal?: AbortSignal): Promise<BatchResult[]> {
    if (!this.files.has(batchId)) await this.poll(batchId, signal);
    const [outFile, errFile] = this.files.get(batchId) ?? [undefined, undefined];
    const out: BatchResult[] = [];
    for (const id of [outFile, errFile]) {
      if (!id) continue;
      let text: string;
      try {
        text = await (await this.client.files.content(id, { signal })).text();
      } catch (e) {
        throw this.mapError(e, signal);
      }
      for (const line of text.split("\n")) if (line.trim()) out.push(this.readLine(line));
    }
    return out;
  }

  private readLine(line: string): BatchResult {
    let v: { custom_id?: unknown; response?: { status_code?: unknown; body?: unknown } | null; error?: { code?: unknown; message?: unknown } | null };
    try {
      v = JSON.parse(line) as typeof v;
    } catch {
      const m = /"custom_id"\s*:\s*"([a-zA-Z0-9_-]{1,64})"/.exec(line);
      return m ? { customId: m[1]!, malformed: "a result line that is not JSON" } : { malformed: "a result line that is not JSON" };
    }
    if (typeof v?.custom_id !== "string") return { malformed: "a result line without custom_id" };
    const customId = v.custom_id;
    if (v.error && (v.error.code === "batch_expired" || v.error.code === "batch_cancelled")) return { customId, unfinished: String(v.error.code) };
    const status = typeof v.response?.status_code === "number" ? v.response.status_code : undefined;
    if (v.error || status === undefined || status !== 200) {
      const body = v.response?.body as { error?: { message?: unknown } } | undefined;
      const message = String(v.error?.message ?? body?.error?.message ?? `status ${status ?? "unknown"}`);
      return { customId, error: { kind: status !== undefined ? statusKind(status) : "server", message: `openai batch: ${message}`, ...(status !== undefined ? { status } : {}) } };
    }
    const request = this.requests.get(customId) ?? { messages: [] };
    try {
      return { customId, ok: { ...parseCompletion("openai", v.response!.body, request, 0), batch: true } };
    } catch (e) {
      return { customId, malformed: (e as Error).message };
    }
  }

  async cancel(batchId: string): Promise<void> {
    try {
      await this.client.batches.cancel(batchId);
    } catch (e) {
      throw this.mapError(e, undefined);
    }
  }

  private mapError(e: unknown, signal: AbortSignal | undefined): unknown {
    return mapSdkError("openai", { APIUserAbortError, APIConnectionTimeoutError, APIConnectionError, APIError }, e, signal);
  }
}

export class AnthropicBatchBackend implements BatchBackend {
  readonly provider = "anthropic" as const;
  readonly maxRequests: number = 100_000;
  readonly maxBytes: number = 256 * 1024 * 1024;
  private readonly client: Anthropic;
  private readonly builder: AnthropicProvider;

  constructor(config: ProviderConfig, limits: { maxRequests?: number; maxBytes?: number } = {}) {
    this.builder = new AnthropicProvider(config);
    this.client = new Anthropic({ apiKey: config.apiKey ?? "", baseURL: config.baseUrl ?? null, maxRetries: 2, timeout: 10 * 60_000 });
    if (limits.maxRequests) this.maxRequests = limits.maxRequests;
    if (limits.maxBytes) this.maxBytes = limits.maxBytes;
  }

  entry(customId: string, request: ProviderRequest): string {
    if (request.probabilities) throw new ProviderError("unsupported", "anthropic: the Messages API has no token probabilities; use a text verdict");
    return JSON.stringify({ custom_id: customId, params: this.builder.buildBody(request) });
  }

  async submit(entries: string[], signal?: AbortSignal): Promise<string> {
    const requests = entries.map((e) => JSON.parse(e) as Anthropic.Messages.Batches.BatchCreateParams.Request);
    try {
      return (await this.client.messages.batches.create({ requests }, { signal })).id;
    } catch (e) {
      throw this.mapError(e, signal);
    }
  }

  /**
   * Message Batches keep no metadata, so a batch is the shard's when it was created after the
   * submission started, holds as many requests, and (once ended) its results carry only the
   * shard's custom ids. Without an ended match, one such batch still in progress is taken as the
   * shard's (its results are matched by custom id when they come; a stranger's would send the
   * items the ordinary way); two or more that cannot be told apart are refused.
   */
  async findSubmitted(p: PendingSubmission, known: ReadonlySet<string>, signal?: AbortSignal): Promise<string | undefined> {
    const since = Date.parse(p.startedAt) - CLOCK_SKEW_MS;
    const candidates: Anthropic.Messages.Batches.MessageBatch[] = [];
    try {
      for await (const b of this.client.messages.batches.list({ limit: LIST_PAGE }, { signal })) {
        if (Date.parse(b.created_at) < since) break;
        const c = b.request_counts;
        if (!known.has(b.id) && c.processing + c.succeeded + c.errored + c.canceled + c.expired === p.customIds.length) candidates.push(b);
      }
    } catch (e) {
      throw this.mapError(e, signal);
    }
    const want = new Set(p.customIds);
    const verified: string[] = [];
    const open: string[] = [];
    for (const b of candidates) {
      if (b.processing_status !== "ended") {
        open.push(b.id);
        continue;
      }
      const ids = (await this.results(b.id, signal)).map((r) => r.customId);
      if (ids.length > 0 && ids.some((id) => id !== undefined) && ids.every((id) => id === undefined || want.has(id))) verified.push(b.id);
    }
    if (verified.length === 1) return verified[0];
    if (verified.length === 0 && open.length <= 1) return open[0];
    throw new AmbiguousSubmissionError(
      `anthropic: a submission of ${p.customIds.length} requests started at ${p.startedAt} was interrupted before its batch id was recorded, and ${[...verified, ...open].join(", ")} could each be it ` +
        "(Message Batches keep no metadata to tell). Check them in the Anthropic console: cancel the ones that are not this run's, then run again.",
    );
  }

  async discardPending(): Promise<void> {
    // Message Batches upload nothing before the create.
  }

  async poll(batchId: string, signal?: AbortSignal): Promise<BatchStatus> {
    let b: Anthropic.Messages.Batches.MessageBatch;
    try {
      b = await this.client.messages.batches.retrieve(batchId, {}, { signal });
    } catch (e) {
      throw this.mapError(e, signal);
    }
    const c = b.request_counts;
    const counts: BatchCounts = {
      total: c.processing + c.succeeded + c.errored + c.canceled + c.expired,
      succeeded: c.succeeded,
      errored: c.errored,
      unfinished: c.canceled + c.expired,
      processing: c.processing,
    };
    const state: BatchStatus["state"] = b.processing_status === "ended" ? "ended" : b.processing_status === "canceling" ? "cancelling" : "in_progress";
    return { state, providerStatus: b.processing_status, counts };
  }

  async results(batchId: string, signal?: AbortSignal): Promise<BatchResult[]> {
    let text: string;
    try {
      // The raw JSONL at the batch's absolute results_url, read here line by line (the SDK's
      // decoder stops at the first bad line).
      const b = await this.client.messages.batches.retrieve(batchId, {}, { signal });
      if (!b.results_url) throw new ProviderError("malformed", `anthropic: batch ${batchId} has ended but has no results_url`);
      const res = await this.client.get<Response>(b.results_url, { headers: { Accept: "application/binary" }, __binaryResponse: true, signal });
      text = await res.text();
    } catch (e) {
      throw this.mapError(e, signal);
    }
    const out: BatchResult[] = [];
    for (const line of text.split("\n")) if (line.trim()) out.push(this.readLine(line));
    return out;
  }

  private readLine(line: string): BatchResult {
    type Line = { custom_id?: unknown; result?: { type?: unknown; message?: unknown; error?: { error?: { type?: unknown; message?: unknown } } } };
    let v: Line;
    try {
      v = JSON.parse(line) as Line;
    } catch {
      const m = /"custom_id"\s*:\s*"([a-zA-Z0-9_-]{1,64})"/.exec(line);
      return m ? { customId: m[1]!, malformed: "a result line that is not JSON" } : { malformed: "a result line that is not JSON" };
    }
    if (typeof v?.custom_id !== "string") return { malformed: "a result line without custom_id" };
    const customId = v.custom_id;
    const r = v.result;
    switch (r?.type) {
      case "succeeded":
        try {
          return { customId, ok: { ...parseMessage("anthropic", r.message, 0), batch: true } };
        } catch (e) {
          return { customId, malformed: (e as Error).message };
        }
      case "errored": {
        const type = String(r.error?.error?.type ?? "api_error");
        const kind: ProviderErrorKind = type === "invalid_request_error" ? "bad_request" : type === "rate_limit_error" ? "rate_limit" : type === "authentication_error" || type === "permission_error" ? "auth" : "server";
        return { customId, error: { kind, message: `anthropic batch: ${type}: ${String(r.error?.error?.message ?? "")}` } };
      }
      case "canceled":
      case "expired":
        return { customId, unfinished: r.type };
      default:
        return { customId, malformed: `unknown result type ${JSON.stringify(r?.type)}` };
    }
  }

  async cancel(batchId: string): Promise<void> {
    try {
      await this.client.messages.batches.cancel(batchId);
    } catch (e) {
      throw this.mapError(e, undefined);
    }
  }

  private mapError(e: unknown, signal: AbortSignal | undefined): unknown {
    const { APIUserAbortError: A, APIConnectionTimeoutError: T, APIConnectionError: C, APIError: E } = AnthropicErrors;
    return mapSdkError("anthropic", { APIUserAbortError: A, APIConnectionTimeoutError: T, APIConnectionError: C, APIError: E }, e, signal);
  }
}

/** The batch backend of a provider config, or undefined when the provider has no batch API. */
export function batchBackendFor(config: ProviderConfig, limits: { maxRequests?: number; maxBytes?: number } = {}): BatchBackend | undefined {
  if (config.provider === "openai") return new OpenAIBatchBackend(config, limits);
  if (config.provider === "anthropic") return new AnthropicBatchBackend(config, limits);
  return undefined;
}
