/**
 * Stand-ins for the OpenAI and Anthropic HTTP APIs (docs/ARCHITECTURE.md, "Testing"): node:http servers on
 * 127.0.0.1 that speak the real wire formats, so the official SDK clients run their production
 * code paths against them.
 *
 *   const api = await FakeApiServer.start({ chat: (body) => ({ text: "hi" }) });
 *   new OpenAIProvider({ provider: "openai", model: "gpt-x", apiKey: "k", baseUrl: api.openaiBaseUrl });
 *   new AnthropicProvider({ provider: "anthropic", model: "claude-x", apiKey: "k", baseUrl: api.anthropicBaseUrl });
 *
 * - Routing is a table (`api.route(method, "/v1/things/:id", handler)`): later work adds the Batch
 *   API, Files and fine-tuning endpoints the same way.
 * - Every request is recorded (`api.requests`) unless `record: false`.
 * - Replies come from pluggable responders (`chat`, `messages`); the defaults echo the prompt.
 * - Faults: `api.faults` is a queue (each request to a fault-able route takes the next one) and
 *   `api.faultFn` a function consulted first; see `Fault`.
 * - OpenAI automatic prefix caching is simulated: a prompt sharing a >= 1024-token prefix (tokens ~
 *   chars/4) with an earlier prompt reports `usage.prompt_tokens_details.cached_tokens` (in
 *   128-token steps). Anthropic prompt caching honours `cache_control` breakpoints (<= 4).
 * - `instant: true` answers chat completions with one precomputed body (and vLLM's POST /classify
 *   with a score derived from the input) and records nothing, for
 *   benchmarks.
 * - Files and fine-tuning (OpenAI): POST /v1/files (multipart, purpose `fine-tune` etc.), GET
 *   /v1/files/:id, POST /v1/fine_tuning/jobs, GET /v1/fine_tuning/jobs(/:id(/events)), POST
 *   /v1/fine_tuning/jobs/:id/cancel, with the real object shapes. A job starts in the first status
 *   of `api.fineTuning.progress` and moves one step per GET of the job (default validating_files ->
 *   running -> succeeded, with `fine_tuned_model` set on success); a training file whose lines do
 *   not fit the job's method fails validation, as the real service does.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  rawBody: string;
  /** Parsed JSON body (undefined when not JSON). */
  body: unknown;
  receivedAt: number;
}

export type Fault =
  /** Any status with an error body in the route's dialect (and extra headers). */
  | { kind: "status"; status: number; message?: string; headers?: Record<string, string> }
  /** 429; `retryAfter` is the raw Retry-After value (seconds or an HTTP date). */
  | { kind: "rate_limit"; retryAfter?: string; retryAfterMs?: number }
  /** Never answers (until the client gives up or the server closes). */
  | { kind: "hang" }
  /** Sends 200 headers, then nothing. */
  | { kind: "hang_body" }
  /** Sends 200 headers and part of the JSON body, then destroys the socket. */
  | { kind: "cut" }
  /** 200 with a body that is not JSON. */
  | { kind: "malformed" }
  /** 200 with valid JSON that lacks `choices` / `content`. */
  | { kind: "empty_json" }
  /** Destroys the socket without answering. */
  | { kind: "reset" }
  /** Answers normally after a delay. */
  | { kind: "delay"; ms: number };

export type FaultFn = (req: RecordedRequest) => Fault | undefined;

/** What a chat responder returns; every field is optional. */
export interface ChatReply {
  text?: string;
  /** One entry per generated token; `top` are its top_logprobs alternatives. */
  logprobs?: { token: string; logprob: number; top?: { token: string; logprob: number }[] }[];
  finishReason?: string;
  promptTokens?: number;
  completionTokens?: number;
}
export type ChatResponder = (body: ChatBody, req: RecordedRequest) => ChatReply | Promise<ChatReply>;

export interface MessagesReply {
  text?: string;
  stopReason?: string;
  outputTokens?: number;
}
export type MessagesResponder = (body: MessagesBody, req: RecordedRequest) => MessagesReply | Promise<MessagesReply>;

export interface ChatBody {
  model?: string;
  messages?: { role: string; content: unknown }[];
  logprobs?: boolean;
  top_logprobs?: number;
  max_tokens?: number;
  max_completion_tokens?: number;
  temperature?: number;
  [k: string]: unknown;
}

export interface MessagesBody {
  model?: string;
  max_tokens?: number;
  system?: string | { type: string; text: string; cache_control?: unknown }[];
  messages?: { role: string; content: string | { type: string; text?: string; cache_control?: unknown }[] }[];
  [k: string]: unknown;
}

export interface RouteContext {
  server: FakeApiServer;
  req: http.IncomingMessage;
  res: http.ServerResponse;
  recorded: RecordedRequest;
  params: Record<string, string>;
}
export type RouteHandler = (ctx: RouteContext) => void | Promise<void>;
export type ErrorDialect = "openai" | "anthropic";

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: RouteHandler;
  dialect: ErrorDialect;
  /** Whether queued faults apply to this route. */
  faultable: boolean;
}

export interface FakeApiOptions {
  chat?: ChatResponder;
  messages?: MessagesResponder;
  faults?: Fault[];
  faultFn?: FaultFn;
  /** Latency added to every answer (ms), or a function of the request. */
  latencyMs?: number | ((req: RecordedRequest) => number);
  instant?: boolean;
  record?: boolean;
  /** Minimum prompt tokens for prompt caching (OpenAI and Anthropic both use 1024). */
  minCacheTokens?: number;
}

export const estimateTokens = (chars: number): number => Math.ceil(chars / 4);

export class FakeApiServer {
  readonly requests: RecordedRequest[] = [];
  faults: Fault[];
  faultFn: FaultFn | undefined;
  chat: ChatResponder;
  messages: MessagesResponder;
  latencyMs: number | ((req: RecordedRequest) => number);
  instant: boolean;
  record: boolean;
  minCacheTokens: number;
  /** Prompts seen by /v1/chat/completions, for prefix caching. */
  private readonly chatPrompts: string[] = [];
  /** Anthropic cache: prefix text -> tokens. */
  private readonly anthropicCache = new Map<string, number>();
  private readonly routes: Route[] = [];
  private readonly sockets = new Set<import("node:net").Socket>();
  private readonly server: http.Server;
  private instantBody: Buffer | undefined;
  port = 0;

  private constructor(opts: FakeApiOptions) {
    this.faults = opts.faults ?? [];
    this.faultFn = opts.faultFn;
    this.chat = opts.chat ?? defaultChat;
    this.messages = opts.messages ?? defaultMessages;
    this.latencyMs = opts.latencyMs ?? 0;
    this.instant = opts.instant ?? false;
    this.record = opts.record ?? !this.instant;
    this.minCacheTokens = opts.minCacheTokens ?? 1024;
    this.server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => void this.dispatch(req, res));
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    this.route("POST", "/v1/chat/completions", (ctx) => this.handleChat(ctx), { dialect: "openai" });
    this.route("POST", "/v1/messages", (ctx) => this.handleMessages(ctx), { dialect: "anthropic" });
    this.installFineTuning();
  }

  static async start(opts: FakeApiOptions = {}): Promise<FakeApiServer> {
    const s = new FakeApiServer(opts);
    await new Promise<void>((resolve, reject) => {
      s.server.once("error", reject);
      s.server.listen(0, "127.0.0.1", () => resolve());
    });
    s.port = (s.server.address() as AddressInfo).port;
    return s;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  /** baseURL for the OpenAI SDK (it appends /chat/completions). */
  get openaiBaseUrl(): string {
    return `${this.url}/v1`;
  }
  /** baseURL for the Anthropic SDK (it appends /v1/messages). */
  get anthropicBaseUrl(): string {
    return this.url;
  }

  /** Adds a route; `path` may hold `:name` segments, read back from `ctx.params`. */
  route(method: string, path: string, handler: RouteHandler, opts: { dialect?: ErrorDialect; faultable?: boolean } = {}): void {
    const keys: string[] = [];
    const re = path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/:([A-Za-z_]\w*)/g, (_m, k: string) => {
      keys.push(k);
      return "([^/]+)";
    });
    this.routes.push({ method: method.toUpperCase(), pattern: new RegExp(`^${re}$`), keys, handler, dialect: opts.dialect ?? "openai", faultable: opts.faultable ?? true });
  }

  /** Requests to one path (e.g. "/v1/chat/completions"). */
  requestsTo(path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // --- dispatch -------------------------------------------------------------------------------

  private async dispatch(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const rawBody = Buffer.concat(chunks).toString("utf8");
    const q = req.url?.indexOf("?") ?? -1;
    const path = q >= 0 ? req.url!.slice(0, q) : (req.url ?? "/");
    if (this.instant && path === "/v1/chat/completions" && this.faults.length === 0 && !this.faultFn) {
      this.instantBody ??= Buffer.from(JSON.stringify(chatCompletion("gpt-instant", { text: "ok" }, 10, 1, 0)));
      res.writeHead(200, { "content-type": "application/json", "content-length": this.instantBody.length });
      res.end(this.instantBody);
      return;
    }
    if (this.instant && path === "/classify" && this.faults.length === 0 && !this.faultFn) {
      // vLLM's classify shape, a score that varies with the input (so margins spread), nothing recorded.
      let h = 0;
      for (let i = 0; i < rawBody.length; i += 7) h = (h * 31 + rawBody.charCodeAt(i)) | 0;
      const out = Buffer.from(JSON.stringify({ id: "classify-instant", object: "list", created: 0, model: "rm-instant", data: [{ index: 0, label: "LABEL_0", probs: [((h >>> 0) % 10_000) / 10_000], num_classes: 1 }], usage: { prompt_tokens: rawBody.length >> 2, total_tokens: rawBody.length >> 2 } }));
      res.writeHead(200, { "content-type": "application/json", "content-length": out.length });
      res.end(out);
      return;
    }
    let body: unknown;
    try {
      body = rawBody ? JSON.parse(rawBody) : undefined;
    } catch {
      body = undefined;
    }
    const recorded: RecordedRequest = {
      method: req.method ?? "GET",
      path,
      query: new URLSearchParams(q >= 0 ? req.url!.slice(q + 1) : ""),
      headers: req.headers,
      rawBody,
      body,
      receivedAt: Date.now(),
    };
    if (this.record) this.requests.push(recorded);
    for (const r of this.routes) {
      if (r.method !== recorded.method) continue;
      const m = r.pattern.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      r.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1] ?? "")));
      if (r.faultable) {
        const fault = this.faultFn?.(recorded) ?? this.faults.shift();
        if (fault && (await this.applyFault(fault, r.dialect, res))) return;
      }
      const latency = typeof this.latencyMs === "function" ? this.latencyMs(recorded) : this.latencyMs;
      if (latency > 0) await sleep(latency);
      try {
        await r.handler({ server: this, req, res, recorded, params });
      } catch (e) {
        if (!res.headersSent) sendError(res, r.dialect, 500, `fake server handler failed: ${(e as Error).message}`);
      }
      return;
    }
    sendError(res, "openai", 404, `no route for ${recorded.method} ${path}`);
  }

  /** Applies a fault; true when the response is taken care of. */
  private async applyFault(fault: Fault, dialect: ErrorDialect, res: http.ServerResponse): Promise<boolean> {
    switch (fault.kind) {
      case "status":
        sendError(res, dialect, fault.status, fault.message ?? `injected ${fault.status}`, fault.headers);
        return true;
      case "rate_limit": {
        const headers: Record<string, string> = {};
        if (fault.retryAfter !== undefined) headers["retry-after"] = fault.retryAfter;
        if (fault.retryAfterMs !== undefined) headers["retry-after-ms"] = String(fault.retryAfterMs);
        sendError(res, dialect, 429, "Rate limit reached (injected)", headers);
        return true;
      }
      case "hang":
        return true; // the socket stays open until the client aborts or close()
      case "hang_body":
        res.writeHead(200, { "content-type": "application/json" });
        res.flushHeaders();
        return true;
      case "cut": {
        const full = JSON.stringify(chatCompletion("cut", { text: "this body is cut short" }, 10, 5, 0));
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(full) });
        res.write(full.slice(0, Math.floor(full.length / 2)));
        await sleep(10);
        res.socket?.destroy();
        return true;
      }
      case "malformed":
        res.writeHead(200, { "content-type": "application/json" });
        res.end('{"id": "chatcmpl-broken", "choices": [{"message": {"content": "unterminated');
        return true;
      case "empty_json":
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ id: "x", object: "chat.completion", type: "message" }));
        return true;
      case "reset":
        res.socket?.destroy();
        return true;
      case "delay":
        await sleep(fault.ms);
        return false;
    }
  }

  // --- OpenAI files and fine-tuning -------------------------------------------------------------

  /** Uploaded files and fine-tuning jobs; `progress` is the status sequence a job walks through, one step per GET. */
  readonly fineTuning: {
    files: Map<string, { object: FakeFileObject; content: string }>;
    jobs: Map<string, FakeFineTuningJob>;
    progress: FineTuningStatus[];
  } = { files: new Map(), jobs: new Map(), progress: ["validating_files", "running", "succeeded"] };
  private ftSeq = 0;

  private installFineTuning(): void {
    const auth = (ctx: RouteContext): boolean => {
      if (ctx.recorded.headers.authorization?.startsWith("Bearer ")) return true;
      sendError(ctx.res, "openai", 401, "You didn't provide an API key.");
      return false;
    };
    this.route("POST", "/v1/files", (ctx) => {
      if (!auth(ctx)) return;
      const parts = parseMultipart(ctx.recorded);
      if (!parts) return sendError(ctx.res, "openai", 400, "Expected a multipart/form-data body");
      const purpose = parts.find((p) => p.name === "purpose")?.data;
      const file = parts.find((p) => p.name === "file");
      if (!file || file.filename === undefined) return sendError(ctx.res, "openai", 400, "'file' is a required property");
      if (!purpose || !["assistants", "batch", "fine-tune", "vision", "user_data", "evals"].includes(purpose)) {
        return sendError(ctx.res, "openai", 400, `'${purpose ?? ""}' is not one of ['assistants', 'batch', 'fine-tune', 'vision', 'user_data', 'evals'] - 'purpose'`);
      }
      if (purpose === "fine-tune") {
        const lines = file.data.split("\n").filter((l) => l.trim());
        if (lines.length === 0) return sendError(ctx.res, "openai", 400, "Invalid file format for Fine-Tuning API. Must be .jsonl");
        for (const [i, l] of lines.entries()) {
          try {
            JSON.parse(l);
          } catch {
            return sendError(ctx.res, "openai", 400, `Invalid file format for Fine-Tuning API. Must be .jsonl (line ${i + 1} is not JSON)`);
          }
        }
      }
      const id = `file-${(++this.ftSeq).toString(36).padStart(6, "0")}${Math.random().toString(36).slice(2, 12)}`;
      const object: FakeFileObject = {
        object: "file",
        id,
        purpose,
        filename: file.filename,
        bytes: Buffer.byteLength(file.data),
        created_at: Math.floor(Date.now() / 1000),
        expires_at: null,
        status: "processed",
        status_details: null,
      };
      this.fineTuning.files.set(id, { object, content: file.data });
      sendJson(ctx.res, 200, object);
    });
    this.route("GET", "/v1/files/:id", (ctx) => {
      if (!auth(ctx)) return;
      const f = this.fineTuning.files.get(ctx.params.id!);
      if (!f) return sendError(ctx.res, "openai", 404, `No such File object: ${ctx.params.id}`);
      sendJson(ctx.res, 200, f.object);
    });
    this.route("POST", "/v1/fine_tuning/jobs", (ctx) => {
      if (!auth(ctx)) return;
      const body = ctx.recorded.body as Record<string, unknown> | undefined;
      if (!body || typeof body !== "object") return sendError(ctx.res, "openai", 400, "We could not parse the JSON body of your request.");
      if (typeof body.model !== "string") return sendError(ctx.res, "openai", 400, "Missing required parameter: 'model'.");
      if (typeof body.training_file !== "string") return sendError(ctx.res, "openai", 400, "Missing required parameter: 'training_file'.");
      const train = this.fineTuning.files.get(body.training_file);
      if (!train) return sendError(ctx.res, "openai", 400, `invalid training_file: ${body.training_file}`);
      if (train.object.purpose !== "fine-tune") return sendError(ctx.res, "openai", 400, `File ${body.training_file} has purpose '${train.object.purpose}', expected 'fine-tune'`);
      if (body.validation_file != null && (typeof body.validation_file !== "string" || !this.fineTuning.files.has(body.validation_file))) {
        return sendError(ctx.res, "openai", 400, `invalid validation_file: ${String(body.validation_file)}`);
      }
      const method = (body.method ?? { type: "supervised", supervised: {} }) as { type?: string; [k: string]: unknown };
      if (!["supervised", "dpo", "reinforcement"].includes(method.type ?? "")) return sendError(ctx.res, "openai", 400, `Invalid method type: '${String(method.type)}'`);
      const hp = ((method[method.type!] as { hyperparameters?: Record<string, unknown> } | undefined)?.hyperparameters ?? {});
      if (method.type !== "dpo" && hp.beta !== undefined) return sendError(ctx.res, "openai", 400, "beta is only supported for the dpo method");
      if (body.suffix !== undefined && (typeof body.suffix !== "string" || body.suffix.length > 64)) return sendError(ctx.res, "openai", 400, "suffix must be a string of at most 64 characters");
      const id = `ftjob-${(++this.ftSeq).toString(36).padStart(6, "0")}${Math.random().toString(36).slice(2, 14)}`;
      const now = Math.floor(Date.now() / 1000);
      const job: FakeFineTuningJob = {
        object: "fine_tuning.job",
        id,
        model: body.model,
        created_at: now,
        finished_at: null,
        fine_tuned_model: null,
        organization_id: "org-fake",
        result_files: [],
        status: this.fineTuning.progress[0] ?? "validating_files",
        validation_file: (body.validation_file as string | undefined) ?? null,
        training_file: body.training_file,
        hyperparameters: { n_epochs: hp.n_epochs ?? "auto", batch_size: hp.batch_size ?? "auto", learning_rate_multiplier: hp.learning_rate_multiplier ?? "auto" },
        trained_tokens: null,
        error: null,
        user_provided_suffix: (body.suffix) ?? null,
        seed: typeof body.seed === "number" ? body.seed : 42,
        estimated_finish: null,
        integrations: [],
        metadata: (body.metadata as Record<string, string> | undefined) ?? null,
        method: { type: method.type as FakeFineTuningJob["method"]["type"], [method.type!]: { hyperparameters: { ...hp } } },
        polls: 0,
        events: [],
      };
      this.ftEvent(job, "info", `Created fine-tuning job: ${id}`);
      this.ftEvent(job, "info", `Validating training file: ${body.training_file}`);
      this.fineTuning.jobs.set(id, job);
      sendJson(ctx.res, 200, publicJob(job));
    });
    this.route("GET", "/v1/fine_tuning/jobs", (ctx) => {
      if (!auth(ctx)) return;
      const all = [...this.fineTuning.jobs.values()].reverse();
      sendJson(ctx.res, 200, page(all.map(publicJob), ctx.recorded.query));
    });
    this.route("GET", "/v1/fine_tuning/jobs/:id", (ctx) => {
      if (!auth(ctx)) return;
      const job = this.fineTuning.jobs.get(ctx.params.id!);
      if (!job) return sendError(ctx.res, "openai", 404, `Could not find fine-tune: ${ctx.params.id}`);
      this.ftAdvance(job);
      sendJson(ctx.res, 200, publicJob(job));
    });
    this.route("GET", "/v1/fine_tuning/jobs/:id/events", (ctx) => {
      if (!auth(ctx)) return;
      const job = this.fineTuning.jobs.get(ctx.params.id!);
      if (!job) return sendError(ctx.res, "openai", 404, `Could not find fine-tune: ${ctx.params.id}`);
      sendJson(ctx.res, 200, page([...job.events].reverse(), ctx.recorded.query));
    });
    this.route("POST", "/v1/fine_tuning/jobs/:id/cancel", (ctx) => {
      if (!auth(ctx)) return;
      const job = this.fineTuning.jobs.get(ctx.params.id!);
      if (!job) return sendError(ctx.res, "openai", 404, `Could not find fine-tune: ${ctx.params.id}`);
      if (["succeeded", "failed", "cancelled"].includes(job.status)) return sendError(ctx.res, "openai", 400, `Job has already completed: ${job.id}`);
      job.status = "cancelled";
      job.finished_at = Math.floor(Date.now() / 1000);
      this.ftEvent(job, "info", "Fine-tuning job cancelled");
      sendJson(ctx.res, 200, publicJob(job));
    });
  }

  private ftEvent(job: FakeFineTuningJob, level: "info" | "warn" | "error", message: string, data?: unknown): void {
    job.events.push({
      object: "fine_tuning.job.event",
      id: `ftevent-${(++this.ftSeq).toString(36).padStart(6, "0")}`,
      created_at: Math.floor(Date.now() / 1000),
      level,
      message,
      data: data ?? {},
      type: data ? "metrics" : "message",
    });
  }

  /** One step along `fineTuning.progress` per GET of a job that has not ended. */
  private ftAdvance(job: FakeFineTuningJob): void {
    if (["succeeded", "failed", "cancelled"].includes(job.status)) return;
    job.polls++;
    const next = this.fineTuning.progress[Math.min(job.polls, this.fineTuning.progress.length - 1)] ?? job.status;
    if (next === job.status) return;
    if (job.status === "validating_files") {
      const bad = validateTrainingFile(this.fineTuning.files.get(job.training_file)!.content, job.method.type);
      if (bad) {
        job.status = "failed";
        job.finished_at = Math.floor(Date.now() / 1000);
        job.error = { code: "invalid_training_file", message: bad, param: "training_file" };
        this.ftEvent(job, "error", `Training file validation failed: ${bad}`);
        return;
      }
      this.ftEvent(job, "info", "Files validated, moving job to queued state");
    }
    job.status = next;
    const auto = (v: unknown, d: number) => (v === "auto" ? d : v);
    if (next === "running") {
      job.hyperparameters = { n_epochs: auto(job.hyperparameters.n_epochs, 3), batch_size: auto(job.hyperparameters.batch_size, 1), learning_rate_multiplier: auto(job.hyperparameters.learning_rate_multiplier, 1.8) };
      this.ftEvent(job, "info", "Fine-tuning job started");
      this.ftEvent(job, "info", "Step 1/2: training loss=0.6931", { step: 1, train_loss: 0.6931, total_steps: 2 });
      this.ftEvent(job, "info", "Step 2/2: training loss=0.4055", { step: 2, train_loss: 0.4055, total_steps: 2 });
    } else if (next === "succeeded") {
      job.fine_tuned_model = `ft:${job.model}:fake-org:${job.user_provided_suffix ?? ""}:${job.id.slice(-8)}`;
      job.finished_at = Math.floor(Date.now() / 1000);
      job.trained_tokens = Math.max(1, estimateTokens(this.fineTuning.files.get(job.training_file)!.content.length));
      job.result_files = [`file-result${job.id.slice(-8)}`];
      this.ftEvent(job, "info", `New fine-tuned model created: ${job.fine_tuned_model}`);
      this.ftEvent(job, "info", "The job has successfully completed");
    } else if (next === "failed") {
      job.finished_at = Math.floor(Date.now() / 1000);
      job.error = { code: "server_error", message: "The job failed due to an internal error.", param: null };
      this.ftEvent(job, "error", "The job failed due to an internal error.");
    }
  }

  // --- OpenAI chat completions ------------------------------------------------------------------

  private async handleChat({ res, recorded }: RouteContext): Promise<void> {
    const body = recorded.body as ChatBody | undefined;
    if (!body || typeof body !== "object") return sendError(res, "openai", 400, "We could not parse the JSON body of your request.");
    if (!recorded.headers.authorization?.startsWith("Bearer ")) return sendError(res, "openai", 401, "You didn't provide an API key.");
    if (typeof body.model !== "string") return sendError(res, "openai", 400, "you must provide a model parameter");
    if (!Array.isArray(body.messages) || body.messages.length === 0) return sendError(res, "openai", 400, "'messages' must be a non-empty array");
    if (body.top_logprobs !== undefined && (body.top_logprobs < 0 || body.top_logprobs > 20)) {
      return sendError(res, "openai", 400, "top_logprobs must be between 0 and 20");
    }
    const prompt = body.messages.map((m) => `<|${m.role}|>${typeof m.content === "string" ? m.content : JSON.stringify(m.content)}`).join("\n");
    const reply = await this.chat(body, recorded);
    const promptTokens = reply.promptTokens ?? estimateTokens(prompt.length);
    const cached = this.instant ? 0 : this.chatPrefixCache(prompt, promptTokens);
    let r = reply;
    if (body.logprobs && !reply.logprobs) {
      r = { ...reply, logprobs: [{ token: "A", logprob: Math.log(0.7), top: [{ token: "A", logprob: Math.log(0.7) }, { token: "B", logprob: Math.log(0.3) }] }] };
    }
    const limit = body.max_completion_tokens ?? body.max_tokens;
    const completionTokens = reply.completionTokens ?? Math.max(1, estimateTokens((r.text ?? "").length));
    sendJson(res, 200, chatCompletion(body.model, r, promptTokens, limit !== undefined ? Math.min(limit, completionTokens) : completionTokens, cached, body.top_logprobs ?? 0));
  }

  /** Tokens of the longest prefix shared with an earlier prompt, in 128-token steps from 1024. */
  private chatPrefixCache(prompt: string, promptTokens: number): number {
    let best = 0;
    for (const p of this.chatPrompts) {
      const n = Math.min(p.length, prompt.length);
      if (n <= best) continue;
      let i = 0;
      while (i < n && p.charCodeAt(i) === prompt.charCodeAt(i)) i++;
      if (i > best) best = i;
    }
    this.chatPrompts.push(prompt);
    if (this.chatPrompts.length > 500) this.chatPrompts.shift();
    const tokens = Math.floor(best / 4);
    if (tokens < this.minCacheTokens) return 0;
    return Math.min(promptTokens, this.minCacheTokens + Math.floor((tokens - this.minCacheTokens) / 128) * 128);
  }

  // --- Anthropic messages ---------------------------------------------------------------------

  private async handleMessages({ res, recorded }: RouteContext): Promise<void> {
    const body = recorded.body as MessagesBody | undefined;
    const h = recorded.headers;
    if (!body || typeof body !== "object") return sendError(res, "anthropic", 400, "invalid JSON body");
    if (!h["x-api-key"] && !h.authorization) return sendError(res, "anthropic", 401, "x-api-key header is required");
    if (!h["anthropic-version"]) return sendError(res, "anthropic", 400, "anthropic-version: header is required");
    if (typeof body.model !== "string") return sendError(res, "anthropic", 400, "model: Field required");
    if (typeof body.max_tokens !== "number") return sendError(res, "anthropic", 400, "max_tokens: Field required");
    if (!Array.isArray(body.messages) || body.messages.length === 0) return sendError(res, "anthropic", 400, "messages: at least one message is required");
    if (h["anthropic-version"] !== "2023-06-01") {
      for (const k of ["temperature", "top_p", "top_k"]) {
        if (k in body) return sendError(res, "anthropic", 400, `${k}: Extra inputs are not permitted`);
      }
    }
    // Blocks in cache order: system, then messages.
    const blocks: { text: string; cache: boolean }[] = [];
    const sys = body.system;
    if (typeof sys === "string") blocks.push({ text: `<system>${sys}`, cache: false });
    else if (Array.isArray(sys)) for (const b of sys) blocks.push({ text: `<system>${b.text}`, cache: b.cache_control != null });
    for (const m of body.messages) {
      if (typeof m.content === "string") blocks.push({ text: `<${m.role}>${m.content}`, cache: false });
      else for (const b of m.content) blocks.push({ text: `<${m.role}>${b.text ?? ""}`, cache: b.cache_control != null });
    }
    const breakpoints = blocks.flatMap((b, i) => (b.cache ? [i] : []));
    if (breakpoints.length > 4) return sendError(res, "anthropic", 400, `A maximum of 4 blocks with cache_control may be provided. Found ${breakpoints.length}.`);
    const prefixes = breakpoints.map((i) => blocks.slice(0, i + 1).map((b) => b.text).join("\n"));
    const total = estimateTokens(blocks.map((b) => b.text).join("\n").length);
    let read = 0;
    for (let i = prefixes.length - 1; i >= 0; i--) {
      const hit = this.anthropicCache.get(prefixes[i]!);
      if (hit !== undefined) {
        read = hit;
        break;
      }
    }
    let write = 0;
    for (const p of prefixes) {
      const t = estimateTokens(p.length);
      if (t >= this.minCacheTokens && !this.anthropicCache.has(p)) {
        this.anthropicCache.set(p, t);
        write = Math.max(write, t - read);
      }
    }
    const reply = await this.messages(body, recorded);
    const text = reply.text ?? "";
    const outputTokens = Math.min(body.max_tokens, reply.outputTokens ?? Math.max(1, estimateTokens(text.length)));
    sendJson(res, 200, {
      id: `msg_${Math.random().toString(36).slice(2, 14)}`,
      type: "message",
      role: "assistant",
      model: body.model,
      content: [{ type: "text", text }],
      stop_reason: reply.stopReason ?? "end_turn",
      stop_sequence: null,
      usage: {
        input_tokens: Math.max(0, total - read - write),
        output_tokens: outputTokens,
        cache_creation_input_tokens: write,
        cache_read_input_tokens: read,
        cache_creation: { ephemeral_5m_input_tokens: write, ephemeral_1h_input_tokens: 0 },
        service_tier: "standard",
      },
    });
  }
}

// --- files and fine-tuning: shapes and helpers ------------------------------------------------------

export type FineTuningStatus = "validating_files" | "queued" | "running" | "succeeded" | "failed" | "cancelled";

export interface FakeFileObject {
  object: "file";
  id: string;
  purpose: string;
  filename: string;
  bytes: number;
  created_at: number;
  expires_at: number | null;
  status: "uploaded" | "processed" | "error";
  status_details: string | null;
}

export interface FakeFineTuningEvent {
  object: "fine_tuning.job.event";
  id: string;
  created_at: number;
  level: "info" | "warn" | "error";
  message: string;
  data: unknown;
  type: "message" | "metrics";
}

export interface FakeFineTuningJob {
  object: "fine_tuning.job";
  id: string;
  model: string;
  created_at: number;
  finished_at: number | null;
  fine_tuned_model: string | null;
  organization_id: string;
  result_files: string[];
  status: FineTuningStatus;
  validation_file: string | null;
  training_file: string;
  hyperparameters: Record<string, unknown>;
  trained_tokens: number | null;
  error: { code: string; message: string; param: string | null } | null;
  user_provided_suffix: string | null;
  seed: number;
  estimated_finish: number | null;
  integrations: unknown[];
  metadata: Record<string, string> | null;
  method: { type: "supervised" | "dpo" | "reinforcement"; [k: string]: unknown };
  /** Not on the wire: GETs so far, and the job's events (oldest first). */
  polls: number;
  events: FakeFineTuningEvent[];
}

function publicJob(job: FakeFineTuningJob): Omit<FakeFineTuningJob, "polls" | "events"> {
  const { polls: _p, events: _e, ...rest } = job;
  return rest;
}

/** A cursor page as the API lists it: `after` is the id of the last item of the previous page. */
function page<T extends { id: string }>(items: T[], query: URLSearchParams): { object: "list"; data: T[]; has_more: boolean } {
  const limit = Math.max(1, Math.min(100, Number(query.get("limit") ?? 20) || 20));
  const after = query.get("after");
  const start = after ? items.findIndex((i) => i.id === after) + 1 : 0;
  return { object: "list", data: items.slice(start, start + limit), has_more: start + limit < items.length };
}

/** The first problem with a fine-tuning file for a method (chat lines for supervised, preference lines for dpo), or null. */
export function validateTrainingFile(content: string, method: string): string | null {
  const lines = content.split("\n").filter((l) => l.trim());
  for (const [i, l] of lines.entries()) {
    const o = JSON.parse(l) as Record<string, unknown>;
    const msgs = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((m) => m && typeof m === "object" && typeof (m as { role?: unknown }).role === "string" && typeof (m as { content?: unknown }).content === "string");
    if (method === "dpo") {
      const input = o.input as { messages?: unknown } | undefined;
      if (!input || !msgs(input.messages) || !msgs(o.preferred_output) || !msgs(o.non_preferred_output)) return `line ${i + 1}: a DPO example needs input.messages, preferred_output and non_preferred_output`;
    } else if (method === "supervised") {
      if (!msgs(o.messages)) return `line ${i + 1}: a supervised example needs a non-empty 'messages' array`;
      const last = (o.messages as { role: string }[]).at(-1)!;
      if (last.role !== "assistant") return `line ${i + 1}: the last message must be from the assistant`;
    }
  }
  return null;
}

/** The parts of a multipart/form-data body (text content; enough for JSONL uploads). */
export function parseMultipart(req: RecordedRequest): { name: string; filename?: string; contentType?: string; data: string }[] | null {
  const ct = String(req.headers["content-type"] ?? "");
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(ct);
  if (!/^multipart\/form-data/i.test(ct) || !m) return null;
  const boundary = `--${m[1] ?? m[2]}`;
  const parts: { name: string; filename?: string; contentType?: string; data: string }[] = [];
  for (const chunk of req.rawBody.split(boundary).slice(1)) {
    if (chunk.startsWith("--")) break;
    const body = chunk.replace(/^\r\n/, "");
    const split = body.indexOf("\r\n\r\n");
    if (split < 0) continue;
    const head = body.slice(0, split);
    const data = body.slice(split + 4).replace(/\r\n$/, "");
    const name = /name="([^"]*)"/i.exec(head)?.[1];
    if (name === undefined) continue;
    const filename = /filename="([^"]*)"/i.exec(head)?.[1];
    const contentType = /content-type:\s*([^\r\n]+)/i.exec(head)?.[1];
    parts.push({ name, data, ...(filename !== undefined ? { filename } : {}), ...(contentType ? { contentType } : {}) });
  }
  return parts;
}

// --- wire helpers -------------------------------------------------------------------------------

/** A chat.completion object as the API returns it. */
export function chatCompletion(model: string, r: ChatReply, promptTokens: number, completionTokens: number, cachedTokens: number, topN = 20): unknown {
  const logprobs = r.logprobs
    ? {
        content: r.logprobs.map((t) => ({
          token: t.token,
          logprob: t.logprob,
          bytes: [...Buffer.from(t.token)],
          top_logprobs: (t.top ?? [{ token: t.token, logprob: t.logprob }]).slice(0, topN).map((a) => ({ token: a.token, logprob: a.logprob, bytes: [...Buffer.from(a.token)] })),
        })),
        refusal: null,
      }
    : null;
  return {
    id: `chatcmpl-${Math.random().toString(36).slice(2, 14)}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message: { role: "assistant", content: r.text ?? "", refusal: null, annotations: [] }, logprobs, finish_reason: r.finishReason ?? "stop" }],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: cachedTokens, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    },
    service_tier: "default",
    system_fingerprint: "fp_fake",
  };
}

const ANTHROPIC_ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  529: "overloaded_error",
};

export function sendError(res: http.ServerResponse, dialect: ErrorDialect, status: number, message: string, headers: Record<string, string> = {}): void {
  const body =
    dialect === "anthropic"
      ? { type: "error", error: { type: ANTHROPIC_ERROR_TYPES[status] ?? "api_error", message }, request_id: "req_fake" }
      : { error: { message, type: status === 429 ? "requests" : status >= 500 ? "server_error" : "invalid_request_error", param: null, code: status === 429 ? "rate_limit_exceeded" : null } };
  sendJson(res, status, body, headers);
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { "content-type": "application/json", "content-length": data.length, ...headers });
  res.end(data);
}

function defaultChat(body: ChatBody): ChatReply {
  const last = body.messages?.[body.messages.length - 1];
  const content = typeof last?.content === "string" ? last.content : "";
  return { text: `echo: ${content.slice(0, 60)}` };
}

function defaultMessages(body: MessagesBody): MessagesReply {
  const last = body.messages?.[body.messages.length - 1];
  const content = typeof last?.content === "string" ? last.content : (last?.content.map((b) => b.text ?? "").join("") ?? "");
  return { text: `echo: ${content.slice(0, 60)}` };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
