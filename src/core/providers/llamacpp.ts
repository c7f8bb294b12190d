/**
 * Local GGUF models (Llama, Mistral, anything llama.cpp runs) through node-llama-cpp 3.21.1.
 *
 * - node-llama-cpp is ESM only and carries native binaries: it is loaded with `await import()` inside
 *   `create()`, never at module top level, so activation and the CJS bundle stay light.
 * - The model is loaded once per provider instance, with one context holding a small pool of
 *   sequences (`sequences`, default 2). Each `request.sequenceKey` (one synthetic user) is pinned to
 *   a sequence; when more users than sequences arrive, the least recently used sequence is handed
 *   over. Before evaluating a prompt the sequence's KV cache is compared token by token with the new
 *   prompt: the common prefix (the user's feedback history) is kept and only the rest is evaluated.
 *   `usage.cachedInputTokens` reports the reused prefix. Requests on one sequence are serialised.
 * - Prompts are formatted with the chat wrapper the model declares (`resolveChatWrapper`: the
 *   GGUF's Jinja `tokenizer.chat_template` mapped to node-llama-cpp's Llama 3 / Mistral / ChatML
 *   wrappers when equivalent). A trailing assistant message (and `probabilities.answerPrefix`) is a
 *   prefill: the model continues it.
 * - `request.probabilities`: the prompt (+ prefill) is evaluated and the next-token distribution is
 *   read at the next position without generating (`controlledEvaluate(..., {generateNext:
 *   {probabilities: true}})`, no sampler options: the raw softmax). A candidate's probability is
 *   the sum of the probabilities of its distinct first tokens, written with and without a leading
 *   space ("A" and " A"); a first token shared by two candidates counts for neither. `text` is the
 *   most probable candidate (the first one listed on a tie), `outputTokens` is 0.
 * - Sampling: temperature (default 0.9, the paper's setting for open models), topP, maxTokens
 *   (default 1024, capped by the room left in the context), seed = params.seed ?? config.seed, plus
 *   `request.sample` so repeated samples of one prompt differ (no seed: node-llama-cpp uses the time).
 *   `params.stop` strings cut the text; the chat wrapper's end-of-turn tokens stop generation.
 * - Threads: default min(available cores, 4), or `threads` from the config. The trap: llama.cpp's
 *   threads meet at a barrier after every operation, so one thread without a free core stalls all
 *   of them. More threads than free cores makes evaluation orders of magnitude slower: on a 2-core
 *   VM, generating with the 8-layer benchmark model took ~8 ms/token with 1 thread, 6-75 ms with 2
 *   (depending on what else ran) and ~870 ms with 4 (node-llama-cpp's default follows the core count
 *   it detects, which can exceed what a container or CI runner actually grants). Set `threads` to the
 *   cores this process really has; on a small shared machine, 1.
 * - `gpu`: "auto" | "cuda" | "vulkan" | "metal" | false, always with `build: "never"`: only the
 *   prebuilt binaries are used; nothing is downloaded or compiled at run time.
 */
import { open, stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { basename, resolve } from "node:path";
import type {
  ChatHistoryItem,
  Llama,
  LlamaContext,
  LlamaContextSequence,
  LlamaModel,
  Token,
  ChatWrapper,
} from "node-llama-cpp" with { "resolution-mode": "import" };
import type { Tokenizer } from "../templates/tokens.js";
import type { ProviderConfig } from "./types.js";
import {
  ProviderError,
  type Provider,
  type ProviderCapabilities,
  type ProviderRequest,
  type ProviderResponse,
  type Usage,
} from "./types.js";

/** llama.cpp-only settings on top of the shared ProviderConfig. */
export interface LlamaCppConfig extends ProviderConfig {
  /** Sequences (synthetic users kept warm at once) in the context; default 2. Each costs contextSize KV cells. */
  sequences?: number;
  /** Tokens evaluated per batch (and per abort check while reading a prompt); default 512. */
  batchSize?: number;
  /**
   * Flash attention; default: node-llama-cpp's choice ("auto", on where supported). On the CPU it
   * speeds up long prompts (~30% on the 8-layer benchmark model) but makes batches of fewer than 64
   * tokens slower (up to ~10x on tiny models); set false for workloads of many short suffixes on CPU.
   */
  flashAttention?: boolean;
}

export const LLAMACPP_DEFAULTS = {
  temperature: 0.9,
  maxTokens: 1024,
  sequences: 2,
  batchSize: 512,
  /** Upper bound on the default context size (the paper's inputs reach 12,800 tokens). */
  maxDefaultContextSize: 16384,
  maxDefaultThreads: 4,
} as const;

/** Default thread count: min(available cores, 4). See the module comment for the trap. */
export function defaultThreads(): number {
  return Math.max(1, Math.min(availableParallelism(), LLAMACPP_DEFAULTS.maxDefaultThreads));
}

interface Slot {
  seq: LlamaContextSequence;
  key: string | undefined;
  lastUsed: number;
  /** Tail of the per-sequence queue: requests on one sequence run one at a time. */
  tail: Promise<void>;
}

/** Checks that `path` exists and starts with the GGUF magic; throws a ProviderError naming the file. */
export async function checkGgufFile(path: string | undefined): Promise<string> {
  if (!path) throw new ProviderError("bad_request", "llamacpp: no model file given (set modelPath to a .gguf file)");
  const full = resolve(path);
  let size: number;
  try {
    const s = await stat(full);
    if (!s.isFile()) throw new ProviderError("bad_request", `llamacpp: model path ${full} is not a file`);
    size = s.size;
  } catch (err) {
    if (err instanceof ProviderError) throw err;
    throw new ProviderError("bad_request", `llamacpp: model file not found: ${full}`, { cause: err });
  }
  const head = Buffer.alloc(8);
  const fh = await open(full, "r");
  try {
    await fh.read(head, 0, 8, 0);
  } finally {
    await fh.close();
  }
  if (size < 8 || head.toString("latin1", 0, 4) !== "GGUF") {
    const seen = JSON.stringify(head.subarray(0, Math.min(4, size)).toString("latin1"));
    throw new ProviderError("bad_request", `llamacpp: ${full} is not a GGUF file (first bytes ${seen}, expected "GGUF")`);
  }
  const version = head.readUInt32LE(4);
  if (version < 2 || version > 3) {
    throw new ProviderError("bad_request", `llamacpp: ${full} is GGUF version ${version}; llama.cpp reads versions 2 and 3`);
  }
  return full;
}

function abortedError(): ProviderError {
  return new ProviderError("aborted", "llamacpp: request aborted");
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class LlamaCppProvider implements Provider {
  readonly id = "llamacpp";
  readonly model: string;
  readonly capabilities: ProviderCapabilities = { tokenProbabilities: true };

  private readonly slots: Slot[];
  private clock = 0;
  private disposed = false;
  private readonly stopTokens: Set<Token>;
  private readonly stopStrings: string[];
  private readonly candidateTokenCache = new Map<string, Token[]>();

  private constructor(
    private readonly config: LlamaCppConfig,
    readonly modelPath: string,
    private readonly llama: Llama,
    private readonly llamaModel: LlamaModel,
    private readonly context: LlamaContext,
    private readonly chatWrapper: ChatWrapper,
    readonly threads: number,
    private readonly batchSize: number,
  ) {
    this.model = config.model ?? basename(modelPath);
    this.slots = [];
    for (let i = 0; i < context.totalSequences; i++) {
      this.slots.push({ seq: context.getSequence(), key: undefined, lastUsed: 0, tail: Promise.resolve() });
    }
    // Stop triggers the chat wrapper declares (end-of-turn tokens and their text forms). EOG tokens
    // (EOS/EOT) stop generation inside node-llama-cpp already.
    const { stopGenerationTriggers } = chatWrapper.generateContextState({ chatHistory: [{ type: "user", text: "x" }, { type: "model", response: [] }] });
    this.stopTokens = new Set();
    this.stopStrings = [];
    for (const trigger of stopGenerationTriggers) {
      const hasSpecial = trigger.values.some((v) => typeof v !== "string");
      if (hasSpecial) {
        const toks = trigger.tokenize(llamaModel.tokenizer);
        if (toks.length === 1) this.stopTokens.add(toks[0]!);
      } else {
        const s = trigger.toString();
        if (s) this.stopStrings.push(s);
      }
    }
  }

  /** Loads the model once; throws ProviderError (bad_request / unsupported) naming the file on any fault. */
  static async create(config: LlamaCppConfig): Promise<LlamaCppProvider> {
    const modelPath = await checkGgufFile(config.modelPath);
    const threads = config.threads ?? defaultThreads();
    if (!Number.isInteger(threads) || threads < 1) throw new ProviderError("bad_request", `llamacpp: threads must be a positive integer, got ${threads}`);
    const batchSize = config.batchSize ?? LLAMACPP_DEFAULTS.batchSize;
    const sequences = config.sequences ?? LLAMACPP_DEFAULTS.sequences;
    const nlc = await import("node-llama-cpp");
    const gpu = config.gpu ?? "auto";
    let llama: Llama;
    try {
      llama = await nlc.getLlama({ gpu, build: "never", maxThreads: threads, logLevel: nlc.LlamaLogLevel.error });
    } catch (err) {
      throw new ProviderError(
        "unsupported",
        `llamacpp: no usable llama.cpp binary for gpu=${JSON.stringify(gpu)} (prebuilt binaries only, nothing is built): ${message(err)}`,
        { cause: err },
      );
    }
    let model: LlamaModel | undefined;
    try {
      model = await llama.loadModel({ modelPath, gpuLayers: gpu === false ? 0 : "auto" });
      const trainContext = model.trainContextSize;
      const contextSize =
        config.contextSize ?? { min: Math.min(512, trainContext), max: Math.min(trainContext, LLAMACPP_DEFAULTS.maxDefaultContextSize) };
      const context = await model.createContext({
        contextSize,
        sequences,
        threads,
        ...(config.flashAttention === undefined ? {} : { flashAttention: config.flashAttention }),
        batchSize: typeof contextSize === "number" ? Math.min(batchSize, contextSize) : batchSize,
      });
      const chatWrapper = nlc.resolveChatWrapper(model);
      return new LlamaCppProvider(config, modelPath, llama, model, context, chatWrapper, threads, batchSize);
    } catch (err) {
      await model?.dispose().catch(() => undefined);
      await llama.dispose().catch(() => undefined);
      if (err instanceof ProviderError) throw err;
      throw new ProviderError("bad_request", `llamacpp: cannot load ${modelPath}: ${message(err)}`, { cause: err });
    }
  }

  /** Name of the chat wrapper in use ("Llama 3", "Mistral", "ChatML", "Jinja", ...). */
  get chatWrapperName(): string {
    return this.chatWrapper.wrapperName;
  }
  /** Layers offloaded to the GPU (0 on CPU). */
  get gpuLayers(): number {
    return this.llamaModel.gpuLayers;
  }
  /** The GPU backend in use, or false. */
  get gpu(): string | false {
    return this.llama.gpu;
  }
  /** Tokens per sequence. */
  get contextSize(): number {
    return this.context.contextSize;
  }
  get sequences(): number {
    return this.slots.length;
  }

  /**
   * The model's tokenizer for input budgets (src/core/templates/tokens.ts): a chat prompt is
   * counted exactly as `call` would send it, chat template included.
   */
  tokenizer(): Tokenizer {
    return {
      name: `llama.cpp:${basename(this.modelPath)}`,
      exact: true,
      count: (text) => this.llamaModel.tokenize(text, false).length,
      countMessages: (messages) => this.promptTokens({ messages }).length,
    };
  }

  /** Chat-formatted prompt tokens for a request (exposed for tests and benchmarks). */
  promptTokens(request: ProviderRequest): Token[] {
    const history = this.chatHistory(request);
    try {
      const { contextText } = this.chatWrapper.generateContextState({ chatHistory: history });
      return contextText.tokenize(this.llamaModel.tokenizer);
    } catch (err) {
      throw new ProviderError(
        "bad_request",
        `llamacpp: cannot format the messages with the ${this.chatWrapper.wrapperName} chat template of ${this.modelPath}: ${message(err)}`,
        { cause: err },
      );
    }
  }

  async call(request: ProviderRequest, opts: { signal?: AbortSignal } = {}): Promise<Omit<ProviderResponse, "cached">> {
    const started = performance.now();
    const signal = opts.signal;
    if (this.disposed) throw new ProviderError("bad_request", `llamacpp: provider for ${this.modelPath} was disposed`);
    if (signal?.aborted) throw abortedError();
    const tokens = this.promptTokens(request);
    const ctx = this.context.contextSize;
    const wantsProbs = request.probabilities !== undefined;
    if (tokens.length + (wantsProbs ? 0 : 1) > ctx) {
      throw new ProviderError(
        "input_too_long",
        `llamacpp: prompt is ${tokens.length} tokens, longer than the context size (${ctx} tokens) of ${this.modelPath}`,
      );
    }
    if (wantsProbs && request.probabilities!.candidates.length === 0) {
      throw new ProviderError("bad_request", "llamacpp: probabilities.candidates is empty");
    }

    const slot = this.pickSlot(request.sequenceKey ?? "");
    return this.withSlot(slot, signal, async () => {
      if (this.disposed) throw new ProviderError("bad_request", `llamacpp: provider for ${this.modelPath} was disposed`);
      const seq = slot.seq;
      try {
        const cached = await this.reusePrefix(seq, tokens);
        // Read the uncached part of the prompt batch by batch so an abort is honoured in between;
        // whatever was read stays in the cache for the next try.
        let pos = cached;
        while (tokens.length - pos > this.batchSize + 1) {
          if (signal?.aborted) throw abortedError();
          await seq.evaluateWithoutGeneratingNewTokens(tokens.slice(pos, pos + this.batchSize));
          pos += this.batchSize;
        }
        if (signal?.aborted) throw abortedError();
        const rest = tokens.slice(pos);
        const usage: Usage = { inputTokens: tokens.length, outputTokens: 0, cachedInputTokens: cached, cacheWriteTokens: 0 };
        if (wantsProbs) {
          const probs = await this.nextTokenProbabilities(seq, rest, request.probabilities!.candidates);
          let best = request.probabilities!.candidates[0]!;
          for (const c of request.probabilities!.candidates) if (probs[c]! > probs[best]!) best = c;
          return { text: best, usage, latencyMs: performance.now() - started, finishReason: "probabilities", tokenProbabilities: probs };
        }
        const { text, outputTokens, finishReason } = await this.generate(seq, rest, tokens.length, request, signal);
        usage.outputTokens = outputTokens;
        return { text, usage, latencyMs: performance.now() - started, finishReason };
      } catch (err) {
        if (err instanceof ProviderError) throw err;
        if (signal?.aborted) throw abortedError();
        throw new ProviderError("server", `llamacpp: evaluation failed on ${this.modelPath}: ${message(err)}`, { cause: err });
      }
    });
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.allSettled(this.slots.map((s) => s.tail));
    await this.context.dispose();
    await this.llamaModel.dispose();
    await this.llama.dispose();
  }

  // -------------------------------------------------------------------------------------------

  private chatHistory(request: ProviderRequest): ChatHistoryItem[] {
    if (request.messages.length === 0) throw new ProviderError("bad_request", "llamacpp: request has no messages");
    const messages = request.messages.slice();
    let prefill = "";
    if (messages[messages.length - 1]!.role === "assistant") prefill = messages.pop()!.content;
    prefill += request.probabilities?.answerPrefix ?? "";
    const history: ChatHistoryItem[] = messages.map((m): ChatHistoryItem => {
      if (m.role === "system") return { type: "system", text: m.content };
      if (m.role === "user") return { type: "user", text: m.content };
      return { type: "model", response: [m.content] };
    });
    history.push({ type: "model", response: prefill ? [prefill] : [] });
    return history;
  }

  /** Least-recently-used sequence, or the one already holding this key. */
  private pickSlot(key: string): Slot {
    let slot = this.slots.find((s) => s.key === key);
    if (!slot) {
      slot = this.slots.find((s) => s.key === undefined) ?? this.slots.reduce((a, b) => (b.lastUsed < a.lastUsed ? b : a));
      slot.key = key;
    }
    slot.lastUsed = ++this.clock;
    return slot;
  }

  private async withSlot<T>(slot: Slot, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    const prev = slot.tail;
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    slot.tail = prev.then(() => mine);
    try {
      if (signal) {
        await new Promise<void>((resolveWait, rejectWait) => {
          const onAbort = (): void => rejectWait(abortedError());
          signal.addEventListener("abort", onAbort, { once: true });
          // The queue's tail never rejects (each link is a plain resolve), so nothing is lost here.
          void prev.then(() => {
            signal.removeEventListener("abort", onAbort);
            resolveWait();
          });
        });
      } else {
        await prev;
      }
    } catch (err) {
      void prev.then(release); // hand the slot on once the previous call is done (never rejects)
      throw err;
    }
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /**
   * Keeps the longest prefix of the sequence's KV cache that matches `tokens` (at most all but the
   * last token, which must be evaluated again to get its logits) and erases the rest. Returns the
   * number of tokens kept.
   */
  private async reusePrefix(seq: LlamaContextSequence, tokens: Token[]): Promise<number> {
    const common = Math.min(seq.compareContextTokens(tokens).firstDifferentIndex, tokens.length - 1);
    if (seq.nextTokenIndex > common) await seq.eraseContextTokenRanges([{ start: common, end: seq.nextTokenIndex }]);
    // Erasing may drop the whole cache (llama.cpp cannot always remove cells): trust what is left.
    const kept = seq.nextTokenIndex;
    const state = seq.contextTokens;
    for (let i = 0; i < kept; i++) {
      if (state[i] !== tokens[i]) {
        await seq.clearHistory();
        return 0;
      }
    }
    return kept;
  }

  private candidateTokens(candidate: string): Token[] {
    let toks = this.candidateTokenCache.get(candidate);
    if (!toks) {
      const set = new Set<Token>();
      for (const variant of [candidate, " " + candidate]) {
        const t = this.llamaModel.tokenize(variant, false, "trimLeadingSpace")[0];
        if (t !== undefined) set.add(t);
      }
      toks = [...set];
      this.candidateTokenCache.set(candidate, toks);
    }
    return toks;
  }

  private async nextTokenProbabilities(seq: LlamaContextSequence, rest: Token[], candidates: string[]): Promise<Record<string, number>> {
    const last = rest[rest.length - 1]!;
    const out = await seq.controlledEvaluate([...rest.slice(0, -1), [last, { generateNext: { probabilities: true } }]]);
    const dist = out[out.length - 1]?.next.probabilities;
    if (!dist) throw new ProviderError("server", `llamacpp: no next-token probabilities from ${this.modelPath}`);
    const owners = new Map<Token, number>();
    const perCandidate = candidates.map((c) => this.candidateTokens(c));
    for (const toks of perCandidate) for (const t of toks) owners.set(t, (owners.get(t) ?? 0) + 1);
    const probs: Record<string, number> = {};
    candidates.forEach((c, i) => {
      let p = 0;
      for (const t of perCandidate[i]!) if (owners.get(t) === 1) p += dist.get(t) ?? 0;
      probs[c] = p;
    });
    return probs;
  }

  private async generate(
    seq: LlamaContextSequence,
    rest: Token[],
    promptLength: number,
    request: ProviderRequest,
    signal: AbortSignal | undefined,
  ): Promise<{ text: string; outputTokens: number; finishReason: string }> {
    const p = request.params ?? {};
    const room = this.context.contextSize - promptLength;
    const wanted = p.maxTokens ?? this.config.maxTokens ?? LLAMACPP_DEFAULTS.maxTokens;
    const maxTokens = Math.max(0, Math.min(wanted, room));
    const baseSeed = p.seed ?? this.config.seed;
    const seed = baseSeed === undefined ? undefined : baseSeed + (request.sample ?? 0);
    const stopStrings = [...this.stopStrings, ...(p.stop ?? [])].filter((s) => s.length > 0);
    const generated: Token[] = [];
    let finishReason = "stop";
    let text = "";
    if (maxTokens === 0) return { text: "", outputTokens: 0, finishReason: "length" };
    const iterator = seq.evaluate(rest, {
      temperature: p.temperature ?? this.config.temperature ?? LLAMACPP_DEFAULTS.temperature,
      topP: p.topP ?? this.config.topP,
      seed,
    });
    for await (const token of iterator) {
      if (signal?.aborted) throw abortedError();
      if (this.stopTokens.has(token)) break;
      generated.push(token);
      if (stopStrings.length > 0) {
        text = this.llamaModel.detokenize(generated);
        const cut = firstStop(text, stopStrings);
        if (cut >= 0) {
          text = text.slice(0, cut);
          return { text, outputTokens: generated.length, finishReason: "stop" };
        }
      }
      if (generated.length >= maxTokens) {
        finishReason = "length";
        break;
      }
    }
    return { text: this.llamaModel.detokenize(generated), outputTokens: generated.length, finishReason };
  }
}

function firstStop(text: string, stops: string[]): number {
  let best = -1;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best;
}
