/**
 * Token counting for input budgets and cost estimates: one place that says how many tokens a text
 * (or a chat prompt) is for a given provider and model.
 *
 * - `llamacpp`: the model's own tokenizer through node-llama-cpp (exact). From a loaded
 *   LlamaCppProvider the chat prompt is counted exactly as it will be sent (chat template
 *   included); from a config alone the GGUF is opened vocabulary-only.
 * - `openai`: js-tiktoken with the encoding of the model name: `o200k_base` for gpt-4o, gpt-4.1,
 *   gpt-4.5, gpt-5 and the o-series, `cl100k_base` for gpt-4 and gpt-3.5 (fine-tuned names
 *   `ft:BASE:...` use their base). Chat formatting adds 3 tokens per message and 3 for the reply
 *   (OpenAI's published rule). An OpenAI model name outside these families is counted with
 *   `o200k_base` and recorded as an estimate.
 * - `anthropic`, `openai-compatible` (any server: the model behind it is unknown) and `baseline`:
 *   an estimate of one token per 4 characters plus 4 per message, recorded as an estimate
 *   (`exact: false`). Anthropic publishes no offline tokenizer.
 *
 * Encodings and vocabularies load lazily (dynamic import) and are cached per process.
 */
import { createHash } from "node:crypto";
import type { ChatMessage, Provider } from "../providers/types.js";
import { o200kAsciiPieces } from "./o200k-ascii.js";
import type { ProviderConfig, ProviderId } from "../providers/registry.js";

export interface Tokenizer {
  /** What counted: "tiktoken:o200k_base", "llama.cpp:model.gguf", "estimate:chars/4". Recorded by runs. */
  readonly name: string;
  /** False when the counts are an estimate, not the model's real tokenizer. */
  readonly exact: boolean;
  count(text: string): number;
  /** Tokens of a chat prompt, chat formatting included. */
  countMessages(messages: ChatMessage[]): number;
  /**
   * True when `count(text)` is exactly the sum of `count` over `splitSegments(text)` (tiktoken:
   * its pre-tokenizer never joins characters across a segment boundary, so BPE cannot merge across
   * one). Estimates then count a prompt by its parts and share the counts of repeated parts.
   */
  readonly segmentsAdd?: boolean;
}

/**
 * Splits a text after every newline that is followed by a character other than whitespace and
 * "/". Under the tiktoken pre-tokenizers (cl100k_base, o200k_base) no pre-token spans such a
 * point: letter and number pieces never start with a newline, punctuation pieces only take
 * trailing newlines (and "/"), and whitespace pieces stop before non-whitespace. So the tokens of
 * the text are the tokens of its segments, concatenated (checked against whole-text encoding by
 * test/unit/tokens.test.ts).
 */
export function splitSegments(text: string): string[] {
  return text.split(SEGMENT_BOUNDARY);
}
const SEGMENT_BOUNDARY = /(?<=\n)(?=[^\s/])/;

/**
 * Counts o200k_base tokens of ASCII text by its pre-tokenizer pieces (o200k-ascii.ts, much faster
 * than the Unicode regex), each distinct short piece encoded once; other text is encoded whole.
 * Exact: tiktoken encodes each piece on its own.
 */
function o200kCounter(encode: (text: string) => number[]): (text: string) => number {
  let pieces = new Map<string, number>();
  return (text: string): number => {
    const split = o200kAsciiPieces(text);
    if (!split) return encode(text).length;
    let n = 0;
    for (const p of split) {
      if (p.length > 12) {
        n += encode(p).length;
        continue;
      }
      let c = pieces.get(p);
      if (c === undefined) {
        c = encode(p).length;
        if (pieces.size >= SEGMENT_MEMO_LIMIT) pieces = new Map();
        pieces.set(p, c);
      }
      n += c;
    }
    return n;
  };
}

/** Distinct segments remembered per tokenizer before the memo starts over (bounds memory). */
const SEGMENT_MEMO_LIMIT = 200_000;

/**
 * A counter that counts each distinct segment once: prompts repeat most of their text (one user's
 * history in each of their prompts, the same responses in both orders, the template's fixed text),
 * and the budget renderer counts a prompt again for each history pair it drops. Segments are keyed
 * by a hash, so the memo never keeps prompt text alive.
 */
function memoizedSegmentCount(countWhole: (text: string) => number): (text: string) => number {
  let memo = new Map<string, number>();
  const one = (seg: string): number => {
    const key = seg.length <= 24 ? seg : createHash("sha1").update(seg).digest("base64");
    let n = memo.get(key);
    if (n === undefined) {
      n = countWhole(seg);
      if (memo.size >= SEGMENT_MEMO_LIMIT) memo = new Map();
      memo.set(key, n);
    }
    return n;
  };
  return (text: string): number => {
    let n = 0;
    for (const seg of splitSegments(text)) n += one(seg);
    return n;
  };
}

/** One token per 4 characters (plus 4 per message): the stated estimate where no tokenizer is known. */
export const ESTIMATE_TOKENIZER: Tokenizer = {
  name: "estimate:chars/4",
  exact: false,
  count: (text) => Math.ceil(text.length / 4),
  countMessages: (messages) => messages.reduce((n, m) => n + Math.ceil(m.content.length / 4) + 4, 0),
};

export type OpenAIEncoding = "o200k_base" | "cl100k_base";

/** The tiktoken encoding of an OpenAI model name; undefined when the family is not known. */
export function openAIEncodingFor(model: string): OpenAIEncoding | undefined {
  let m = model.trim().toLowerCase();
  if (m.startsWith("ft:")) m = m.slice(3).split(":")[0] ?? "";
  if (/^(gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o1|o3|o4)(\b|-|$)/.test(m)) return "o200k_base";
  if (/^(gpt-4|gpt-3\.5|gpt-35)(\b|-|$)/.test(m)) return "cl100k_base";
  return undefined;
}

const encodings = new Map<OpenAIEncoding, Promise<Tokenizer>>();

async function tiktokenTokenizer(encoding: OpenAIEncoding, exact: boolean): Promise<Tokenizer> {
  let p = encodings.get(encoding);
  if (!p) {
    p = (async () => {
      const { Tiktoken } = await import("js-tiktoken/lite");
      const ranks = encoding === "o200k_base" ? (await import("js-tiktoken/ranks/o200k_base")).default : (await import("js-tiktoken/ranks/cl100k_base")).default;
      const enc = new Tiktoken(ranks);
      // Special-token text in untrusted content is counted as plain text, as the API does.
      const encode = (text: string): number[] => enc.encode(text, [], []);
      const count = memoizedSegmentCount(encoding === "o200k_base" ? o200kCounter(encode) : (text) => encode(text).length);
      return {
        name: `tiktoken:${encoding}`,
        exact: true,
        count,
        countMessages: (messages: ChatMessage[]) => messages.reduce((n, m) => n + 3 + count(m.content), 3),
        segmentsAdd: true,
      };
    })();
    encodings.set(encoding, p);
  }
  const t = await p;
  return exact ? t : { ...t, name: `${t.name} (assumed)`, exact: false };
}

/** Something that knows its own tokenizer (a loaded local model). */
export interface HasTokenizer {
  tokenizer(): Tokenizer;
}

function hasTokenizer(p: unknown): p is HasTokenizer {
  return typeof (p as Partial<HasTokenizer>)?.tokenizer === "function";
}

const llamaVocabs = new Map<string, Promise<Tokenizer>>();

async function llamaVocabTokenizer(modelPath: string): Promise<Tokenizer> {
  const nodePath = await import("node:path");
  const full = nodePath.resolve(modelPath);
  let p = llamaVocabs.get(full);
  if (!p) {
    p = (async () => {
      const { checkGgufFile } = await import("../providers/llamacpp.js");
      await checkGgufFile(full);
      const nlc = await import("node-llama-cpp");
      const llama = await nlc.getLlama({ gpu: false, build: "never", logLevel: nlc.LlamaLogLevel.error });
      const model = await llama.loadModel({ modelPath: full, vocabOnly: true });
      const count = (text: string): number => model.tokenize(text, false).length;
      return {
        name: `llama.cpp:${nodePath.basename(full)}`,
        exact: true,
        count,
        // Without the chat wrapper at hand: content tokens plus the ~5 header tokens a Llama 3 / Mistral turn takes.
        countMessages: (messages: ChatMessage[]) => messages.reduce((n, m) => n + count(m.content) + 5, 1),
      };
    })();
    llamaVocabs.set(full, p);
    p.catch(() => llamaVocabs.delete(full));
  }
  return p;
}

export type TokenizerSpec = Pick<ProviderConfig, "provider" | "model" | "modelPath"> | { provider: ProviderId | string; model?: string; modelPath?: string };

/**
 * The tokenizer for a provider: a loaded Provider (a local model counts with its own vocabulary and
 * chat template) or a config (provider id + model name, and `modelPath` for llamacpp).
 */
export async function tokenizerFor(spec: TokenizerSpec | Provider): Promise<Tokenizer> {
  if (hasTokenizer(spec)) return spec.tokenizer();
  const provider = "id" in spec && typeof spec.id === "string" ? spec.id : (spec as TokenizerSpec).provider;
  const model = spec.model;
  if (provider === "llamacpp") {
    const modelPath = (spec as TokenizerSpec).modelPath;
    if (!modelPath) return ESTIMATE_TOKENIZER;
    return llamaVocabTokenizer(modelPath);
  }
  if (provider === "openai") {
    const enc = model ? openAIEncodingFor(model) : undefined;
    return enc ? tiktokenTokenizer(enc, true) : tiktokenTokenizer("o200k_base", false);
  }
  return ESTIMATE_TOKENIZER;
}

/** Tokens of `text` for a provider/model (see tokenizerFor). */
export async function countTokens(spec: TokenizerSpec | Provider, text: string): Promise<number> {
  return (await tokenizerFor(spec)).count(text);
}
