/**
 * The experiment file (`*.preflab.yaml`): one file that declares a whole experiment. The zod
 * schema below is the single definition: files are validated with it (errors name the file, the
 * line and the field) and `experimentJsonSchema()` emits the JSON Schema the YAML extension uses
 * for validation and completion (package.json `yamlValidation`, file schemas/).
 *
 *   name: paper
 *   dataset: { build: { train: data/train, test: data/test } }   # or { dir: datasets/multifacet }
 *   models:
 *     gpt4o: { provider: openai, model: gpt-4o-2024-05-13 }
 *     tiny:  { provider: llamacpp, modelPath: models/tiny.gguf, threads: 2 }
 *   evaluations:
 *     rm:    { kind: rm }
 *     gen:   { kind: generate }
 *     judge: { kind: judge, of: gen, judge: gpt4o }
 *     rs:    { kind: rs, keep: 0.6 }                          # rejection sampling (preflab rs)
 *     sft:   { kind: export, format: sft, target: trl, keepFrom: rs }   # training data (preflab export)
 *   matrix:
 *     - { models: [gpt4o, tiny], evaluations: [rm], options: { oracle: [false, true] } }
 *   cells:                               # per-cell overrides, by cell name
 *     rm-tiny: { verdict: probability, limit: 1 }
 *
 * Cells: every (model, evaluation, combination of matrix options) of every matrix entry, named
 * `EVALUATION-MODEL` plus `-KEY=VALUE` for each option that varies (e.g. `rm-gpt4o-oracle=true`).
 * An rs cell scores the train data with its model as the reward model; an export cell sends
 * nothing (its model's tokenizer counts the input budget) and, with `keepFrom`, exports what the
 * rs cell of the same model and options kept.
 * Paths are relative to the experiment file.
 */
import { z } from "zod";
import { DIMENSIONS } from "../data/schema.js";
import { PROVIDER_IDS } from "../providers/registry.js";

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "a name of letters, digits, '_', '.', '-' (at most 64)");
const pricing = z.strictObject({ input: z.number().min(0).optional(), output: z.number().min(0).optional(), cachedInput: z.number().min(0).optional(), cacheWrite: z.number().min(0).optional(), batchCachedInput: z.number().min(0).optional().describe("Price of a cached input token inside a batch (default: the batch input price for OpenAI models whose batch API has no cached-input discount).") });

export const modelSchema = z
  .strictObject({
    provider: z.enum(PROVIDER_IDS).optional().describe("Provider id; may be left out when `model` names a registered fine-tuned model (.preflab/models.json)."),
    model: z.string().min(1).optional().describe("Model name (cloud providers), or a registered model's name."),
    baseUrl: z.url().optional().describe("API base URL (openai-compatible, or a proxy). A URL read from this file receives an API key only after you confirm its origin."),
    modelPath: z.string().min(1).optional().describe("GGUF file (llamacpp), relative to the experiment file."),
    temperature: z.number().min(0).max(2).optional(),
    maxTokens: z.int().min(1).optional(),
    topP: z.number().gt(0).max(1).optional(),
    seed: z.int().min(0).optional(),
    threads: z.int().min(1).optional(),
    contextSize: z.int().min(1).optional(),
    gpu: z.union([z.enum(["auto", "cuda", "vulkan", "metal"]), z.literal(false)]).optional(),
    batch: z.boolean().optional().describe("Run this model's cells through the provider's batch API (openai, anthropic)."),
    batchMaxEnqueuedTokens: z.int().min(1).optional().describe("With `batch`: keep this model's unfinished batches under this many prompt tokens (OpenAI's per-model enqueued-token limit)."),
  })
  .refine((m) => m.provider !== undefined || m.model !== undefined, { message: "a model needs `provider` (or `model` naming a registered model)" });

const dimensions = z.array(z.enum(DIMENSIONS)).min(1);

/** Options an evaluation (and a matrix axis, and a cell override) may set. */
export const evalOptionsSchema = z.strictObject({
  dimensions: dimensions.optional(),
  limit: z.int().min(1).optional().describe("Only the first N synthetic users."),
  template: z.string().optional().describe("Template file (.ptpl), relative to the experiment file; default: the paper's."),
  historyTemplate: z.string().optional(),
  maxInputTokens: z.int().min(1).optional(),
  oracle: z.boolean().optional().describe("The 'with preference' upper bound (the prompt states the user's preference)."),
  // rm
  orders: z.enum(["both", "ab"]).optional(),
  verdict: z.enum(["text", "probability"]).optional(),
  minVerdictMass: z.number().min(0).max(1).optional(),
  keepNonContrastive: z.boolean().optional(),
  // generate
  history: z.enum(["with", "without", "both"]).optional(),
  plainTemplate: z.string().optional(),
  // judge
  cross: z.boolean().optional(),
  maxParseRetries: z.int().min(0).optional(),
  parse: z.enum(["robust", "janus"]).optional(),
  batch: z.boolean().optional(),
  // export and rs: which train examples (as `preflab export` / `preflab rs`)
  split: z.number().min(0).max(1).optional().describe("Fraction of train instructions in part a (default 1/3, the paper's)."),
  part: z.enum(["a", "b", "all"]).optional().describe("export: default a for sft and rm, b for dpo; rs: default all."),
  seed: z.int().min(0).optional().describe("Seed for the split and the dimension per pair (default: the dataset's)."),
  perPair: z.enum(["one", "all"]).optional(),
  historySize: z.int().min(1).optional(),
  // export
  format: z.enum(["sft", "dpo", "rm"]).optional().describe("export: what to export."),
  target: z.enum(["openai", "trl"]).optional().describe("export: line format (rm is trl only)."),
  // rs
  keep: z.number().gt(0).max(1).optional().describe("rs: fraction kept per part (default 0.6, the paper's p)."),
  rule: z.enum(["signed", "absolute"]).optional().describe("rs: keep the top p by signed margin (default) or drop the smallest |margin|."),
  rmTemplate: z.string().optional().describe("rs: reward-model template (probability mode), relative to the experiment file."),
});
export type EvalOptions = z.infer<typeof evalOptionsSchema>;

export const evaluationSchema = z.discriminatedUnion("kind", [
  evalOptionsSchema.extend({ kind: z.literal("rm") }),
  evalOptionsSchema.extend({ kind: z.literal("generate") }),
  evalOptionsSchema.extend({
    kind: z.literal("judge"),
    of: name.describe("The generate evaluation whose outputs are judged (the cell of the same model)."),
    judge: name.describe("The judge model (a name under `models`)."),
  }),
  evalOptionsSchema.extend({ kind: z.literal("rs").describe("Rejection sampling of the train data (`preflab rs`) with the cell's model as the reward model.") }),
  evalOptionsSchema.extend({
    kind: z.literal("export").describe("Fine-tuning data (`preflab export`); the cell's model's tokenizer counts the input budget; nothing is sent."),
    format: z.enum(["sft", "dpo", "rm"]),
    target: z.enum(["openai", "trl"]),
    keepFrom: name.optional().describe("An rs evaluation: export only what its cell of the same model and options kept."),
  }),
]);
export type Evaluation = z.infer<typeof evaluationSchema>;

const axisValue = z.union([z.string(), z.number(), z.boolean()]);

export const experimentSchema = z.strictObject({
  name: name,
  description: z.string().optional(),
  out: z.string().optional().describe("Folder of the experiment's runs (default: a folder named after the experiment beside the file)."),
  dataset: z.union([
    z.strictObject({ dir: z.string().min(1).describe("A built dataset folder (preflab build).") }),
    z.strictObject({
      build: z.strictObject({
        train: z.string().min(1),
        test: z.string().min(1),
        history: z.enum(["per-example", "fixed"]).optional(),
        historySize: z.int().min(1).optional(),
        seed: z.int().optional(),
      }),
      dir: z.string().optional().describe("Where to build it (default: OUT/dataset)."),
    }),
  ]),
  prices: z.record(z.string(), pricing).optional().describe("USD per 1M tokens by `provider/model` or `model`, over the dated defaults."),
  models: z.record(name, modelSchema),
  evaluations: z.record(name, evaluationSchema),
  matrix: z
    .array(
      z.strictObject({
        models: z.array(name).min(1),
        evaluations: z.array(name).min(1),
        options: z.record(z.string(), z.array(axisValue).min(1)).optional().describe("Axes: every combination becomes a cell, e.g. { verdict: [text, probability] }."),
        batch: z.boolean().optional(),
      }),
    )
    .min(1),
  cells: z.record(z.string(), evalOptionsSchema).optional().describe("Per-cell overrides, by cell name."),
});
export type Experiment = z.infer<typeof experimentSchema>;

/** The JSON Schema of experiment files (draft 2020-12), for the YAML extension. */
export function experimentJsonSchema(): Record<string, unknown> {
  const s = z.toJSONSchema(experimentSchema, { target: "draft-2020-12", unrepresentable: "any", io: "input" }) as Record<string, unknown>;
  return { ...s, title: "Preflab experiment (*.preflab.yaml)", $id: "https://preflab.dev/schemas/preflab-experiment.schema.json" };
}
