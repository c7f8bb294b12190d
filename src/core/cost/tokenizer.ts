/**
 * Token counts for cost estimates, with the model's own tokenizer where one is public:
 * OpenAI models through js-tiktoken (o200k_base for the GPT-4o / 4.1 / 5 / o-series families,
 * cl100k_base for older ones). Anthropic publishes no tokenizer (only a counting endpoint, which
 * would be a request), and other providers run arbitrary models, so those counts are an
 * approximation (characters / 3.5) and are labelled as such (`exact: false`).
 */
import { Tiktoken } from "js-tiktoken/lite";
import cl100k from "js-tiktoken/ranks/cl100k_base";
import o200k from "js-tiktoken/ranks/o200k_base";

export interface ModelTokenizer {
  /** e.g. "o200k_base", or "approx (chars/3.5)". */
  readonly name: string;
  /** True when this is the model's real tokenizer. */
  readonly exact: boolean;
  count(text: string): number;
}

/** Tokens of chat formatting per message (role markers), added to each message's content. */
export const MESSAGE_OVERHEAD_TOKENS = 4;

const APPROX_CHARS_PER_TOKEN = 3.5;

export const approxTokenizer: ModelTokenizer = {
  name: `approx (chars/${APPROX_CHARS_PER_TOKEN})`,
  exact: false,
  count: (text) => Math.ceil(text.length / APPROX_CHARS_PER_TOKEN),
};

const encodings = new Map<string, ModelTokenizer>();

function tiktoken(name: "o200k_base" | "cl100k_base"): ModelTokenizer {
  let t = encodings.get(name);
  if (!t) {
    const enc = new Tiktoken(name === "o200k_base" ? o200k : cl100k);
    // Special-token text in untrusted data is counted as plain text, never as a special token.
    t = { name, exact: true, count: (text: string) => enc.encode(text, [], []).length };
    encodings.set(name, t);
  }
  return t;
}

/** The OpenAI encoding of a model name, or undefined for a name it does not know. */
export function openaiEncodingOf(model: string): "o200k_base" | "cl100k_base" | undefined {
  const m = model.replace(/^ft:/, "");
  if (/^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o1|o3|o4|chatgpt-4o|gpt-oss)/.test(m)) return "o200k_base";
  if (/^(gpt-4|gpt-3\.5)/.test(m)) return "cl100k_base";
  return undefined;
}

/** The tokenizer to count a provider/model's prompts with. */
export function tokenizerFor(provider: string, model: string | undefined): ModelTokenizer {
  if (provider === "openai" && model) {
    const enc = openaiEncodingOf(model);
    if (enc) return tiktoken(enc);
  }
  return approxTokenizer;
}
