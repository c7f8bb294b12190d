/**
 * A synthetic MultiFacet-shaped corpus for tests and the full-scale benchmark: rows in the real
 * schema with recurring subdimensions (Zipf-like frequencies), free-text preferences and
 * descriptions, and response texts of a chosen length. Deterministic per seed.
 */
import { Rng } from "../../src/core/util/rng.js";

const DIMS = ["style", "background_knowledge", "informativeness", "harmlessness"] as const;
const WORDS =
  "model data user answer explain clear short detail example step method result reason context simple expert novice practical theory history safety risk ethical friendly formal vivid concise thorough summary analysis guide tip source evidence chart code recipe budget health travel science music garden energy market design language".split(
    " ",
  );

function words(rng: Rng, n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(WORDS[rng.int(WORDS.length)]!);
  return out.join(" ");
}

/**
 * English-like prose: a vocabulary of common English words, the domain words above and 20,000
 * generated words (shorter ones more frequent), drawn with Zipf frequencies in capitalised
 * sentences of 6-23 words. Real text compresses about 2x under snappy; the 52-word vocabulary
 * above compresses 3-4x, which made the benchmark's Parquet shards half the size of the real
 * ones for the same rows (issue 14). With s = 1.2 the full-scale shards come out about 410 MB.
 */
const FUNCTION_WORDS =
  "the of and to a in is that for it as with was on be by this are or from at an not which have but can more their has one also its been other when will all they would there these than if into some only may such most so about over each how what many then them who should two because both while where often through between very first any like used even just those".split(
    " ",
  );
const ZIPF_S = 1.2;
const VOCABULARY_SIZE = 20_000;
let prose: { vocab: string[]; cdf: Float64Array } | undefined;
function proseVocabulary(): NonNullable<typeof prose> {
  if (prose) return prose;
  const onsets = "b c d f g h j k l m n p r s t v w st tr pr ch sh th br cl gr pl".split(" ");
  const nuclei = "a e i o u ea ou ai io y".split(" ");
  const codas = ["", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ng", "ck", "rt", "ct", "ss"];
  const rng = new Rng(7, "vocabulary");
  const known = new Set([...FUNCTION_WORDS, ...WORDS]);
  const made = new Map<string, number>();
  while (made.size < VOCABULARY_SIZE) {
    const syllables = 1 + Math.floor(Math.pow(rng.next(), 1.5) * 4);
    let w = "";
    for (let i = 0; i < syllables; i++) w += onsets[rng.int(onsets.length)]! + nuclei[rng.int(nuclei.length)]! + codas[rng.int(codas.length)]!;
    if (!known.has(w) && !made.has(w)) made.set(w, w.length + rng.next() * 6);
  }
  const vocab = [...FUNCTION_WORDS, ...WORDS, ...[...made].sort((a, b) => a[1] - b[1]).map(([w]) => w)];
  const cdf = new Float64Array(vocab.length);
  let total = 0;
  for (let i = 0; i < vocab.length; i++) cdf[i] = total += 1 / Math.pow(i + 1, ZIPF_S);
  return (prose = { vocab, cdf });
}

function proseWord(rng: Rng, v: NonNullable<typeof prose>): string {
  const x = rng.next() * v.cdf[v.cdf.length - 1]!;
  let lo = 0;
  let hi = v.cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v.cdf[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return v.vocab[lo]!;
}

/** Text of about `chars` characters; English-like prose (see above) when `english` is set. */
export function text(rng: Rng, chars: number, english = false): string {
  let s = "";
  if (english) {
    const v = proseVocabulary();
    while (s.length < chars) {
      const n = 6 + rng.int(18);
      const first = proseWord(rng, v);
      s += first[0]!.toUpperCase() + first.slice(1);
      for (let i = 1; i < n; i++) s += ` ${proseWord(rng, v)}`;
      s += rng.int(8) === 0 ? "? " : ". ";
    }
  } else {
    while (s.length < chars) s += `${words(rng, 8 + rng.int(10))}. `;
  }
  return s.slice(0, chars);
}

export interface SynthOptions {
  seed?: number;
  /** Distinct subdimensions per dimension. */
  subdimensions?: number;
  /** Distinct preference phrases per subdimension. */
  preferencesPerSub?: number;
  responseChars?: [number, number];
  /** When set, system prompts and instructions of about this many characters (the real corpus has long ones). */
  systemChars?: [number, number];
  promptChars?: [number, number];
  /** English-like prose (compresses like real text) instead of the 52-word vocabulary. */
  english?: boolean;
}

/** Text sizes like the real MultiFacet train split: about 4.4 KB a row as JSONL. */
export const REAL_SIZES: SynthOptions = { responseChars: [1200, 3200], systemChars: [500, 1400], promptChars: [80, 700], english: true };

function entry(rng: Rng, d: string, o: Resolved) {
  // Zipf-like: low indices are much more frequent.
  const s = Math.floor(o.subdimensions * Math.pow(rng.next(), 2));
  const p = rng.int(o.preferencesPerSub);
  const preference = `${WORDS[(s * 7 + p) % WORDS.length]} ${WORDS[(s * 3 + p * 5 + 1) % WORDS.length]}`;
  return {
    dimension: d,
    subdimension: `${d}-aspect-${s}`,
    preference,
    description: `The user prefers ${preference} responses, ${words(rng, 4)}.`,
  };
}

type Resolved = Required<Omit<SynthOptions, "systemChars" | "promptChars">> & Pick<SynthOptions, "systemChars" | "promptChars">;

function defaults(o: SynthOptions): Resolved {
  return { ...o, seed: o.seed ?? 1, subdimensions: o.subdimensions ?? 40, preferencesPerSub: o.preferencesPerSub ?? 12, responseChars: o.responseChars ?? [1000, 3000], english: o.english ?? false };
}

const sized = (rng: Rng, o: Resolved, range: [number, number]) => text(rng, range[0] + rng.int(range[1] - range[0] + 1), o.english);
const systemText = (rng: Rng, o: Resolved) => (o.systemChars ? `You are an assistant. ${sized(rng, o, o.systemChars)}` : `You are an assistant. ${words(rng, 20)}.`);
const promptText = (rng: Rng, o: Resolved, head: string) => `${head}: ${o.promptChars ? sized(rng, o, o.promptChars) : words(rng, 12)}?`;

/** Train rows, three per instruction, consecutive. */
export function* synthTrainRows(instructions: number, opts: SynthOptions = {}): Generator<Record<string, unknown>> {
  const o = defaults(opts);
  const rng = new Rng(o.seed, "train");
  for (let i = 0; i < instructions; i++) {
    const prompt = promptText(rng, o, `Instruction ${i}`);
    for (let j = 0; j < 3; j++) {
      const [lo, hi] = o.responseChars;
      yield {
        main_source: "synthetic",
        original_source: "synthetic-bench",
        preference_set: DIMS.map((d) => entry(rng, d, o)),
        system: systemText(rng, o),
        prompt,
        output: text(rng, lo + rng.int(hi - lo + 1), o.english),
      };
    }
  }
}

export function* synthTestRows(instructions: number, opts: SynthOptions = {}): Generator<Record<string, unknown>> {
  const o = defaults(opts);
  const rng = new Rng(o.seed, "test");
  const rubric = (d: string) => ({
    criteria: `Does the response satisfy the ${d} preference?`,
    score_descriptions: { "1": "Not at all.", "2": "Barely.", "3": "Partly.", "4": "Mostly.", "5": "Fully." },
  });
  for (let i = 0; i < instructions; i++) {
    const prompt = promptText(rng, o, `Test instruction ${i}`);
    for (let j = 0; j < 3; j++) {
      const [lo, hi] = o.responseChars;
      yield {
        source: "synthetic",
        preference_set: DIMS.map((d) => entry(rng, d, o)),
        system: systemText(rng, o),
        prompt,
        reference_answer: text(rng, lo + rng.int(hi - lo + 1), o.english),
        rubrics: DIMS.map(rubric),
      };
    }
  }
}
