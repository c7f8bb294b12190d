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

/** Text of about `chars` characters. */
export function text(rng: Rng, chars: number): string {
  let s = "";
  while (s.length < chars) s += `${words(rng, 8 + rng.int(10))}. `;
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
}

/** Text sizes like the real MultiFacet train split: about 4.4 KB a row as JSONL. */
export const REAL_SIZES: SynthOptions = { responseChars: [1200, 3200], systemChars: [500, 1400], promptChars: [80, 700] };

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
  return { ...o, seed: o.seed ?? 1, subdimensions: o.subdimensions ?? 40, preferencesPerSub: o.preferencesPerSub ?? 12, responseChars: o.responseChars ?? [1000, 3000] };
}

const sized = (rng: Rng, range: [number, number]) => text(rng, range[0] + rng.int(range[1] - range[0] + 1));
const systemText = (rng: Rng, o: Resolved) => (o.systemChars ? `You are an assistant. ${sized(rng, o.systemChars)}` : `You are an assistant. ${words(rng, 20)}.`);
const promptText = (rng: Rng, o: Resolved, head: string) => `${head}: ${o.promptChars ? sized(rng, o.promptChars) : words(rng, 12)}?`;

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
        output: text(rng, lo + rng.int(hi - lo + 1)),
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
        reference_answer: text(rng, lo + rng.int(hi - lo + 1)),
        rubrics: DIMS.map(rubric),
      };
    }
  }
}
