/** The example-selection flags `preflab export` and `preflab rs` share (which pairs, parts, dimensions). */
import { DIMENSIONS } from "../../core/data/schema.js";
import { parseSplit } from "../../core/finetune/examples.js";
import { choiceOption, dimensionsOption, intOption, numberOption, UsageError } from "../command.js";

export type Values = Record<string, string | boolean | string[] | undefined>;
export const str = (v: Values, k: string): string | undefined => (typeof v[k] === "string" ? (v[k]) : undefined);

export function splitOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseSplit(value);
  } catch (e) {
    throw new UsageError(`--split: ${(e as Error).message}`);
  }
}

export function fraction(value: string | undefined, name: string, fallback: number): number {
  const n = numberOption(value, name, fallback);
  if (!(n > 0 && n <= 1)) throw new UsageError(`--${name} must be a fraction in (0, 1], got "${value}"`);
  return n;
}

export const exampleSpec = {
  split: { type: "string" },
  part: { type: "string" },
  seed: { type: "string" },
  dimensions: { type: "string" },
  "per-pair": { type: "string" },
  "history-size": { type: "string" },
  "max-input-tokens": { type: "string" },
  template: { type: "string" },
  "history-template": { type: "string" },
  out: { type: "string" },
  json: { type: "boolean" },
} as const;

export const EXAMPLE_HELP = `Examples (one per train pair, or per pair and dimension; input = feedback history + instruction):
  --split F                  fraction of train instructions in part a, the rest is part b
                             (default 1/3, as in the paper: SFT and the reward model on a, DPO on b);
                             "0.25" or "1/3"; seeded, by instruction
  --seed N                   seed for the split, the dimension per pair and history tie-breaks
                             (default: the dataset's seed)
  --dimensions d1,d2         dimensions a pair may teach (default all four: ${DIMENSIONS.join(", ")})
  --per-pair one|all         one (seeded) dimension the pair expresses (default), or one example per
                             expressed dimension
  --history-size N           pairs per history (default: the dataset's, T=10)
  --max-input-tokens N       prompt budget; the oldest history pairs are dropped to fit, as in the
                             evaluations; an example over it without any history is left out (default 12800)
  --template FILE            generation template (.ptpl) for the prompt; default the paper's B.2
  --history-template FILE    history template; default the paper's B.3
Histories are retrieved from the dataset's train pairs with the builder's rule (same subdimension,
ranked by preference-text similarity), never from the example's own instruction.`;

export function exampleOptions(values: Values) {
  return {
    split: splitOption(str(values, "split")),
    seed: str(values, "seed") === undefined ? undefined : intOption(str(values, "seed"), "seed", 0, 0),
    dimensions: dimensionsOption(str(values, "dimensions")),
    perPair: str(values, "per-pair") === undefined ? undefined : choiceOption(str(values, "per-pair"), "per-pair", ["one", "all"] as const, "one"),
    historySize: str(values, "history-size") === undefined ? undefined : intOption(str(values, "history-size"), "history-size", 10, 1),
    maxInputTokens: intOption(str(values, "max-input-tokens"), "max-input-tokens", 12_800, 1),
    template: str(values, "template"),
    historyTemplate: str(values, "history-template"),
  };
}

