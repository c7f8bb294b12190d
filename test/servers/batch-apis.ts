/**
 * Wire-format stand-ins for the two batch APIs, installed on a FakeApiServer (fake-apis.ts) so the
 * official SDKs run their production code paths against them:
 *
 *   const api = await FakeApiServer.start({ chat, messages });
 *   const batches = installBatchApis(api, { itemsPerPoll: 5 });
 *
 * OpenAI (Files + Batches): POST /v1/files (purpose "batch", already in fake-apis.ts), GET
 * /v1/files/:id/content, DELETE /v1/files/:id, POST /v1/batches (with `metadata`, returned as given), GET /v1/batches
 * (newest first, `limit` default 20 / max 100, cursor `after`, `has_more`), GET /v1/batches/:id,
 * POST /v1/batches/:id/cancel.
 * Input lines are checked as the service checks them (JSON, unique custom_id, method POST, url =
 * the batch's endpoint, <= 50,000 lines, <= 200 MB); a bad file fails the batch with per-line
 * errors. Results: an output file of `{id, custom_id, response: {status_code: 200, request_id,
 * body}, error: null}` lines and an error file for failed, expired (`batch_expired`) and
 * cancelled (`batch_cancelled`) requests.
 *
 * Anthropic (Message Batches): POST /v1/messages/batches, GET /v1/messages/batches (newest first,
 * `limit` default 20 / max 1000, cursors `after_id` / `before_id`, `has_more`, `first_id`,
 * `last_id`), GET /v1/messages/batches/:id, POST
 * /v1/messages/batches/:id/cancel, GET /v1/messages/batches/:id/results (JSONL at the batch's
 * absolute `results_url`). custom_id must match ^[a-zA-Z0-9_-]{1,64}$ and be unique; <= 100,000
 * requests / 256 MB.
 *
 * Answers come from the server's `chat` / `messages` responders, the same scripted answers as the
 * ordinary endpoints. Behaviour knobs (`BatchApiOptions`, changeable on the returned object):
 * - `itemsPerPoll`: requests processed per GET of the batch (slow completion; default all);
 * - `itemFault(customId)`: per-request failure: an HTTP status (an errored result), "malformed"
 *   (a result line that is not JSON) or "drop" (no result line at all);
 * - `expireAfterPolls`: the batch expires after that many polls, unprocessed requests expired;
 * - cancel: the next GET ends the batch, unprocessed requests cancelled;
 * - `enqueuedTokenLimit` (OpenAI): the organisation's enqueued-token limit for the model: a batch
 *   whose prompt tokens (characters / 4 of each request's messages) would take the unfinished
 *   batches' total over it fails at validation with `token_limit_exceeded`, as the service does;
 *   `maxEnqueuedTokens` records the most ever enqueued at once.
 */
import type { ChatBody, FakeApiServer, MessagesBody, RecordedRequest, RouteContext } from "./fake-apis.js";
import { chatCompletion, estimateTokens, sendError, sendJson } from "./fake-apis.js";

export interface BatchApiOptions {
  enqueuedTokenLimit?: number;
  itemsPerPoll?: number;
  itemFault?: (customId: string) => number | "malformed" | "drop" | undefined;
  expireAfterPolls?: number;
}

interface FakeBatch {
  dialect: "openai" | "anthropic";
  id: string;
  /** custom_id and request body, in input order. */
  requests: { customId: string; body: Record<string, unknown> }[];
  processed: number;
  polls: number;
  status: string;
  createdAt: number;
  lines: string[];
  errorLines: string[];
  counts: { succeeded: number; errored: number; expired: number; canceled: number };
  cancelRequested: boolean;
  inputFileId?: string;
  outputFileId?: string;
  errorFileId?: string;
  errors?: { code: string; message: string; line: number | null }[];
  metadata?: Record<string, string>;
}

export class BatchApis implements BatchApiOptions {
  enqueuedTokenLimit?: number;
  maxEnqueuedTokens = 0;
  itemsPerPoll?: number;
  itemFault?: BatchApiOptions["itemFault"];
  expireAfterPolls?: number;
  readonly batches = new Map<string, FakeBatch>();
  /** Batch creations, cancels and result downloads (for tests that count them). */
  readonly log: { op: "create" | "cancel" | "results" | "list"; id: string; requests?: number }[] = [];
  private seq = 0;

  constructor(
    private readonly api: FakeApiServer,
    opts: BatchApiOptions,
  ) {
    Object.assign(this, opts);
  }

  private nextId(prefix: string): string {
    return `${prefix}${(++this.seq).toString(36).padStart(6, "0")}${Math.random().toString(36).slice(2, 10)}`;
  }

  /** Processes up to itemsPerPoll requests (or all), or expires / cancels, on each GET. */
  async advance(b: FakeBatch): Promise<void> {
    if (b.status !== "in_progress" && b.status !== "validating" && b.status !== "cancelling" && b.status !== "canceling") return;
    b.polls++;
    if (b.status === "validating") b.status = "in_progress";
    const ended = (status: string, why: "expired" | "cancelled") => {
      for (const r of b.requests.slice(b.processed)) this.unfinished(b, r.customId, why);
      b.processed = b.requests.length;
      b.status = status;
    };
    if (b.cancelRequested) return ended(b.dialect === "openai" ? "cancelled" : "ended", "cancelled");
    if (this.expireAfterPolls !== undefined && b.polls > this.expireAfterPolls) return ended(b.dialect === "openai" ? "expired" : "ended", "expired");
    const n = Math.min(b.requests.length - b.processed, this.itemsPerPoll ?? b.requests.length);
    for (const r of b.requests.slice(b.processed, b.processed + n)) await this.answer(b, r);
    b.processed += n;
    if (b.processed >= b.requests.length) b.status = b.dialect === "openai" ? "completed" : "ended";
  }

  private unfinished(b: FakeBatch, customId: string, why: "expired" | "cancelled"): void {
    if (b.dialect === "openai") {
      b.errorLines.push(JSON.stringify({ id: this.nextId("batch_req_"), custom_id: customId, response: null, error: { code: why === "expired" ? "batch_expired" : "batch_cancelled", message: `This request was ${why}.` } }));
    } else {
      b.lines.push(JSON.stringify({ custom_id: customId, result: { type: why === "expired" ? "expired" : "canceled" } }));
    }
    if (why === "expired") b.counts.expired++;
    else b.counts.canceled++;
  }

  private async answer(b: FakeBatch, r: { customId: string; body: Record<string, unknown> }): Promise<void> {
    const fault = this.itemFault?.(r.customId);
    if (fault === "drop") return;
    if (fault === "malformed") {
      b.lines.push(`{"custom_id": "${r.customId}", "result": {"type": "succ`);
      return;
    }
    const recorded: RecordedRequest = { method: "POST", path: b.dialect === "openai" ? "/v1/chat/completions" : "/v1/messages", query: new URLSearchParams(), headers: {}, rawBody: JSON.stringify(r.body), body: r.body, receivedAt: Date.now() };
    if (b.dialect === "openai") {
      if (typeof fault === "number") {
        b.counts.errored++;
        b.errorLines.push(JSON.stringify({ id: this.nextId("batch_req_"), custom_id: r.customId, response: { status_code: fault, request_id: "req_x", body: { error: { message: `fake failure ${fault}`, type: "server_error" } } }, error: null }));
        return;
      }
      const body = r.body as ChatBody;
      const reply = await this.api.chat(body, recorded);
      const prompt = (body.messages ?? []).map((m) => `<|${m.role}|>${typeof m.content === "string" ? m.content : JSON.stringify(m.content)}`).join("\n");
      const promptTokens = reply.promptTokens ?? estimateTokens(prompt.length);
      const limit = body.max_completion_tokens ?? body.max_tokens;
      const completion = reply.completionTokens ?? Math.max(1, estimateTokens((reply.text ?? "").length));
      let rr = reply;
      if (body.logprobs && !reply.logprobs) rr = { ...reply, logprobs: [{ token: "A", logprob: Math.log(0.7), top: [{ token: "A", logprob: Math.log(0.7) }, { token: "B", logprob: Math.log(0.3) }] }] };
      const out = chatCompletion(String(body.model), rr, promptTokens, limit !== undefined ? Math.min(limit, completion) : completion, 0, body.top_logprobs ?? 0);
      b.counts.succeeded++;
      b.lines.push(JSON.stringify({ id: this.nextId("batch_req_"), custom_id: r.customId, response: { status_code: 200, request_id: this.nextId("req_"), body: out }, error: null }));
      return;
    }
    if (typeof fault === "number") {
      b.counts.errored++;
      b.lines.push(JSON.stringify({ custom_id: r.customId, result: { type: "errored", error: { type: "error", error: { type: fault === 400 ? "invalid_request_error" : fault === 529 ? "overloaded_error" : "api_error", message: `fake failure ${fault}` } } } }));
      return;
    }
    const body = r.body as MessagesBody;
    const reply = await this.api.messages(body, recorded);
    const text = reply.text ?? "";
    const input = estimateTokens(JSON.stringify(body.messages ?? []).length + JSON.stringify(body.system ?? "").length);
    b.counts.succeeded++;
    b.lines.push(
      JSON.stringify({
        custom_id: r.customId,
        result: {
          type: "succeeded",
          message: {
            id: this.nextId("msg_"),
            type: "message",
            role: "assistant",
            model: body.model,
            content: [{ type: "text", text }],
            stop_reason: reply.stopReason ?? "end_turn",
            stop_sequence: null,
            usage: { input_tokens: input, output_tokens: Math.min(Number(body.max_tokens), reply.outputTokens ?? Math.max(1, estimateTokens(text.length))), cache_creation_input_tokens: 0, cache_read_input_tokens: 0, service_tier: "batch" },
          },
        },
      }),
    );
  }

  // --- OpenAI ------------------------------------------------------------------------------------

  openaiObject(b: FakeBatch): unknown {
    const t = Math.floor(b.createdAt / 1000);
    const done = ["completed", "expired", "cancelled", "failed"].includes(b.status);
    if (done && b.status !== "failed" && !b.outputFileId) {
      if (b.lines.length) b.outputFileId = this.storeFile(b.lines.join("\n") + "\n", "batch_output");
      if (b.errorLines.length) b.errorFileId = this.storeFile(b.errorLines.join("\n") + "\n", "batch_output");
    }
    return {
      id: b.id,
      object: "batch",
      endpoint: "/v1/chat/completions",
      errors: b.errors ? { object: "list", data: b.errors.map((e) => ({ ...e, param: null })) } : null,
      input_file_id: b.inputFileId,
      completion_window: "24h",
      status: b.status,
      output_file_id: b.outputFileId ?? null,
      error_file_id: b.errorFileId ?? null,
      created_at: t,
      in_progress_at: b.status === "validating" ? null : t,
      expires_at: t + 86_400,
      finalizing_at: done ? t : null,
      completed_at: b.status === "completed" ? t : null,
      failed_at: b.status === "failed" ? t : null,
      expired_at: b.status === "expired" ? t : null,
      cancelling_at: b.cancelRequested ? t : null,
      cancelled_at: b.status === "cancelled" ? t : null,
      request_counts: { total: b.requests.length, completed: b.counts.succeeded, failed: b.counts.errored + (done ? b.counts.expired + b.counts.canceled : 0) },
      metadata: b.metadata ?? null,
    };
  }

  private storeFile(content: string, purpose: string): string {
    const id = this.nextId("file-");
    this.api.fineTuning.files.set(id, {
      object: { object: "file", id, purpose, filename: `${id}.jsonl`, bytes: Buffer.byteLength(content), created_at: Math.floor(Date.now() / 1000), expires_at: null, status: "processed", status_details: null },
      content,
    });
    return id;
  }

  createOpenAI(ctx: RouteContext): void {
    const body = ctx.recorded.body as { input_file_id?: unknown; endpoint?: unknown; completion_window?: unknown; metadata?: unknown } | undefined;
    if (!body || typeof body.input_file_id !== "string") return sendError(ctx.res, "openai", 400, "Missing required parameter: 'input_file_id'.");
    if (body.endpoint !== "/v1/chat/completions" && body.endpoint !== "/v1/embeddings" && body.endpoint !== "/v1/responses") return sendError(ctx.res, "openai", 400, `Invalid endpoint: ${String(body.endpoint)}`);
    if (body.completion_window !== "24h") return sendError(ctx.res, "openai", 400, "completion_window must be '24h'");
    const file = this.api.fineTuning.files.get(body.input_file_id);
    if (!file) return sendError(ctx.res, "openai", 404, `No such File object: ${body.input_file_id}`);
    if (file.object.purpose !== "batch") return sendError(ctx.res, "openai", 400, `File ${body.input_file_id} has purpose '${file.object.purpose}', expected 'batch'`);
    const metadata = body.metadata ?? undefined;
    if (metadata !== undefined && metadata !== null) {
      const entries = typeof metadata === "object" && !Array.isArray(metadata) ? Object.entries(metadata) : undefined;
      if (!entries || entries.length > 16 || entries.some(([k, v]) => k.length > 64 || typeof v !== "string" || v.length > 512)) return sendError(ctx.res, "openai", 400, "Invalid 'metadata': at most 16 string pairs, keys <= 64 and values <= 512 characters.");
    }
    const b: FakeBatch = { dialect: "openai", id: this.nextId("batch_"), requests: [], processed: 0, polls: 0, status: "validating", createdAt: Date.now(), lines: [], errorLines: [], counts: { succeeded: 0, errored: 0, expired: 0, canceled: 0 }, cancelRequested: false, inputFileId: body.input_file_id, ...(metadata ? { metadata: metadata as Record<string, string> } : {}) };
    const errors: NonNullable<FakeBatch["errors"]> = [];
    const lines = file.content.split("\n").filter((l) => l.trim());
    const seen = new Set<string>();
    if (lines.length > 50_000) errors.push({ code: "too_many_requests", message: `The batch input file has ${lines.length} requests; at most 50,000 are allowed.`, line: null });
    if (Buffer.byteLength(file.content) > 200 * 1024 * 1024) errors.push({ code: "file_too_large", message: "The batch input file is larger than 200 MB.", line: null });
    lines.forEach((l, i) => {
      let v: { custom_id?: unknown; method?: unknown; url?: unknown; body?: unknown };
      try {
        v = JSON.parse(l) as typeof v;
      } catch {
        errors.push({ code: "invalid_json_line", message: "This line is not parseable as valid JSON.", line: i + 1 });
        return;
      }
      if (typeof v.custom_id !== "string") errors.push({ code: "missing_required_parameter", message: "custom_id is required", line: i + 1 });
      else if (seen.has(v.custom_id)) errors.push({ code: "duplicate_custom_id", message: `The custom_id for this request is a duplicate of another request: ${v.custom_id}`, line: i + 1 });
      else seen.add(v.custom_id);
      if (v.method !== "POST") errors.push({ code: "invalid_method", message: "method must be POST", line: i + 1 });
      if (v.url !== body.endpoint) errors.push({ code: "mismatched_endpoint", message: `url ${String(v.url)} does not match the batch endpoint`, line: i + 1 });
      if (typeof v.body !== "object" || v.body === null || typeof (v.body as { model?: unknown }).model !== "string") errors.push({ code: "invalid_request", message: "body.model is required", line: i + 1 });
      else b.requests.push({ customId: String(v.custom_id), body: v.body as Record<string, unknown> });
    });
    if (!errors.length && this.enqueuedTokenLimit !== undefined) {
      const open = [...this.batches.values()].filter((x) => x.dialect === "openai" && ["validating", "in_progress", "finalizing", "cancelling"].includes(x.status));
      const enqueued = open.reduce((n, x) => n + enqueuedTokens(x), 0);
      const mine = enqueuedTokens(b);
      if (enqueued + mine > this.enqueuedTokenLimit) {
        const model = String(b.requests[0]?.body.model ?? "the model");
        errors.push({ code: "token_limit_exceeded", message: `Enqueued token limit reached for ${model} in organization org-fake. Limit: ${this.enqueuedTokenLimit.toLocaleString("en-US")} enqueued tokens. Please try again once some in_progress batches have been completed.`, line: null });
      } else this.maxEnqueuedTokens = Math.max(this.maxEnqueuedTokens, enqueued + mine);
    }
    if (errors.length) {
      b.status = "failed";
      b.errors = errors.slice(0, 10);
    }
    this.batches.set(b.id, b);
    this.log.push({ op: "create", id: b.id, requests: b.requests.length });
    sendJson(ctx.res, 200, this.openaiObject(b));
  }

  /** One page of a dialect's batches, newest first, as the list endpoints return them. */
  page(dialect: "openai" | "anthropic", query: URLSearchParams, maxLimit: number): { data: FakeBatch[]; hasMore: boolean } | string {
    const raw = query.get("limit");
    const limit = raw === null ? 20 : Number(raw);
    if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit) return `limit must be an integer between 1 and ${maxLimit}`;
    // Newest first; the creation sequence breaks ties of one millisecond.
    const all = [...this.batches.values()].filter((b) => b.dialect === dialect).reverse();
    const after = query.get(dialect === "openai" ? "after" : "after_id");
    const before = dialect === "anthropic" ? query.get("before_id") : null;
    let from = 0;
    let to = all.length;
    if (after) {
      const i = all.findIndex((b) => b.id === after);
      if (i < 0) return `no batch ${after}`;
      from = i + 1;
    }
    if (before) {
      const i = all.findIndex((b) => b.id === before);
      if (i < 0) return `no batch ${before}`;
      to = i;
      from = Math.max(0, to - limit);
    }
    const data = all.slice(from, Math.min(to, from + limit));
    return { data, hasMore: before ? from > 0 : from + data.length < all.length };
  }

  // --- Anthropic ---------------------------------------------------------------------------------

  anthropicObject(b: FakeBatch): unknown {
    const ended = b.status === "ended";
    const t = new Date(b.createdAt).toISOString();
    return {
      id: b.id,
      type: "message_batch",
      processing_status: b.status === "canceling" ? "canceling" : ended ? "ended" : "in_progress",
      request_counts: { processing: b.requests.length - b.processed, succeeded: b.counts.succeeded, errored: b.counts.errored, canceled: b.counts.canceled, expired: b.counts.expired },
      ended_at: ended ? t : null,
      created_at: t,
      expires_at: new Date(b.createdAt + 86_400_000).toISOString(),
      archived_at: null,
      cancel_initiated_at: b.cancelRequested ? t : null,
      results_url: ended ? `${this.api.url}/v1/messages/batches/${b.id}/results` : null,
    };
  }

  createAnthropic(ctx: RouteContext): void {
    const h = ctx.recorded.headers;
    if (!h["x-api-key"] && !h.authorization) return sendError(ctx.res, "anthropic", 401, "x-api-key header is required");
    const body = ctx.recorded.body as { requests?: unknown } | undefined;
    if (!body || !Array.isArray(body.requests) || body.requests.length === 0) return sendError(ctx.res, "anthropic", 400, "requests: at least one request is required");
    if (body.requests.length > 100_000) return sendError(ctx.res, "anthropic", 400, "requests: at most 100,000 requests are allowed");
    if (Buffer.byteLength(ctx.recorded.rawBody) > 256 * 1024 * 1024) return sendError(ctx.res, "anthropic", 413, "request_too_large");
    const seen = new Set<string>();
    const requests: FakeBatch["requests"] = [];
    for (const [i, r] of (body.requests as { custom_id?: unknown; params?: Record<string, unknown> }[]).entries()) {
      if (typeof r.custom_id !== "string" || !/^[a-zA-Z0-9_-]{1,64}$/.test(r.custom_id)) return sendError(ctx.res, "anthropic", 400, `requests.${i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`);
      if (seen.has(r.custom_id)) return sendError(ctx.res, "anthropic", 400, `requests: custom_id ${r.custom_id} is not unique`);
      seen.add(r.custom_id);
      const p = r.params;
      if (!p || typeof p.model !== "string") return sendError(ctx.res, "anthropic", 400, `requests.${i}.params.model: Field required`);
      if (typeof p.max_tokens !== "number") return sendError(ctx.res, "anthropic", 400, `requests.${i}.params.max_tokens: Field required`);
      for (const k of ["temperature", "top_p", "top_k"]) if (k in p) return sendError(ctx.res, "anthropic", 400, `requests.${i}.params.${k}: Extra inputs are not permitted`);
      requests.push({ customId: r.custom_id, body: p });
    }
    const b: FakeBatch = { dialect: "anthropic", id: this.nextId("msgbatch_"), requests, processed: 0, polls: 0, status: "in_progress", createdAt: Date.now(), lines: [], errorLines: [], counts: { succeeded: 0, errored: 0, expired: 0, canceled: 0 }, cancelRequested: false };
    this.batches.set(b.id, b);
    this.log.push({ op: "create", id: b.id, requests: requests.length });
    sendJson(ctx.res, 200, this.anthropicObject(b));
  }
}

/** Prompt tokens of a batch as the enqueued-token limit counts them (characters / 4 per request). */
function enqueuedTokens(b: FakeBatch): number {
  return b.requests.reduce((n, r) => n + estimateTokens(((r.body as ChatBody).messages ?? []).reduce((c, m) => c + (typeof m.content === "string" ? m.content.length : JSON.stringify(m.content).length), 0)), 0);
}

/** Installs both batch APIs on `api`; the returned object holds the batches and the knobs. */
export function installBatchApis(api: FakeApiServer, opts: BatchApiOptions = {}): BatchApis {
  const s = new BatchApis(api, opts);
  const auth = (ctx: RouteContext): boolean => {
    if (ctx.recorded.headers.authorization?.startsWith("Bearer ") || ctx.recorded.headers["x-api-key"]) return true;
    sendError(ctx.res, "openai", 401, "You didn't provide an API key.");
    return false;
  };
  const find = (ctx: RouteContext, dialect: "openai" | "anthropic"): FakeBatch | undefined => {
    const b = s.batches.get(ctx.params.id!);
    if (!b || b.dialect !== dialect) sendError(ctx.res, dialect, 404, `No batch found with id '${ctx.params.id}'`);
    return b && b.dialect === dialect ? b : undefined;
  };
  const nf = { faultable: false } as const;
  api.route("GET", "/v1/files/:id/content", (ctx) => {
    if (!auth(ctx)) return;
    const f = api.fineTuning.files.get(ctx.params.id!);
    if (!f) return sendError(ctx.res, "openai", 404, `No such File object: ${ctx.params.id}`);
    ctx.res.writeHead(200, { "content-type": "application/octet-stream", "content-length": Buffer.byteLength(f.content) });
    ctx.res.end(f.content);
    s.log.push({ op: "results", id: ctx.params.id! });
  }, nf);
  api.route("DELETE", "/v1/files/:id", (ctx) => {
    if (!auth(ctx)) return;
    if (!api.fineTuning.files.delete(ctx.params.id!)) return sendError(ctx.res, "openai", 404, `No such File object: ${ctx.params.id}`);
    sendJson(ctx.res, 200, { id: ctx.params.id, object: "file", deleted: true });
  }, nf);
  api.route("POST", "/v1/batches", (ctx) => {
    if (auth(ctx)) s.createOpenAI(ctx);
  }, nf);
  api.route("GET", "/v1/batches", (ctx) => {
    if (!auth(ctx)) return;
    const p = s.page("openai", ctx.recorded.query, 100);
    if (typeof p === "string") return sendError(ctx.res, "openai", 400, p);
    s.log.push({ op: "list", id: "" });
    sendJson(ctx.res, 200, { object: "list", data: p.data.map((b) => s.openaiObject(b)), first_id: p.data[0]?.id ?? null, last_id: p.data.at(-1)?.id ?? null, has_more: p.hasMore });
  }, nf);
  api.route("GET", "/v1/batches/:id", async (ctx) => {
    if (!auth(ctx)) return;
    const b = find(ctx, "openai");
    if (!b) return;
    await s.advance(b);
    sendJson(ctx.res, 200, s.openaiObject(b));
  }, nf);
  api.route("POST", "/v1/batches/:id/cancel", (ctx) => {
    if (!auth(ctx)) return;
    const b = find(ctx, "openai");
    if (!b) return;
    if (["completed", "failed", "expired", "cancelled"].includes(b.status)) return sendError(ctx.res, "openai", 400, `Cannot cancel a batch with status '${b.status}'.`);
    b.cancelRequested = true;
    b.status = "cancelling";
    s.log.push({ op: "cancel", id: b.id });
    sendJson(ctx.res, 200, s.openaiObject(b));
  }, nf);
  api.route("POST", "/v1/messages/batches", (ctx) => s.createAnthropic(ctx), { dialect: "anthropic", faultable: false });
  api.route("GET", "/v1/messages/batches", (ctx) => {
    const p = s.page("anthropic", ctx.recorded.query, 1000);
    if (typeof p === "string") return sendError(ctx.res, "anthropic", 400, p);
    s.log.push({ op: "list", id: "" });
    sendJson(ctx.res, 200, { data: p.data.map((b) => s.anthropicObject(b)), has_more: p.hasMore, first_id: p.data[0]?.id ?? null, last_id: p.data.at(-1)?.id ?? null });
  }, { dialect: "anthropic", faultable: false });
  api.route("GET", "/v1/messages/batches/:id", async (ctx) => {
    const b = find(ctx, "anthropic");
    if (!b) return;
    await s.advance(b);
    sendJson(ctx.res, 200, s.anthropicObject(b));
  }, { dialect: "anthropic", faultable: false });
  api.route("POST", "/v1/messages/batches/:id/cancel", (ctx) => {
    const b = find(ctx, "anthropic");
    if (!b) return;
    if (b.status === "ended") return sendError(ctx.res, "anthropic", 400, "Batch has already ended");
    b.cancelRequested = true;
    b.status = "canceling";
    s.log.push({ op: "cancel", id: b.id });
    sendJson(ctx.res, 200, s.anthropicObject(b));
  }, { dialect: "anthropic", faultable: false });
  api.route("GET", "/v1/messages/batches/:id/results", (ctx) => {
    const b = find(ctx, "anthropic");
    if (!b) return;
    if (b.status !== "ended") return sendError(ctx.res, "anthropic", 400, "Batch is still processing");
    const text = b.lines.join("\n") + "\n";
    ctx.res.writeHead(200, { "content-type": "application/binary", "content-length": Buffer.byteLength(text) });
    ctx.res.end(text);
    s.log.push({ op: "results", id: b.id });
  }, { dialect: "anthropic", faultable: false });
  return s;
}
