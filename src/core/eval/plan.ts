/**
 * What every evaluation run directory holds besides the runner's run.json and results.jsonl:
 * `eval.json` (the kind of evaluation, its options, dataset and templates) and `items.jsonl`
 * (one line of metadata per item: which user, member, order...). Both are written before the
 * first request and checked on resume, so a run dir always explains its own results.
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { z } from "zod";
import { stableStringify } from "./cache.js";
import { writeFileAtomic, writeJsonAtomic } from "../util/atomic.js";

export const EVAL_FILE = "eval.json";
export const ITEMS_FILE = "items.jsonl";

export type EvalKind = "rm" | "generate" | "judge" | "prompts";

export interface EvalJson {
  kind: EvalKind;
  /** Options that define the items; a resume must match them. */
  options: Record<string, unknown>;
  /** The dataset and its build seed (recorded as the run's seed unless a sampling seed is set). */
  dataset?: { dir: string; manifestHash: string; seed?: number };
  templates?: Record<string, { name: string; hash: string; file: string }>;
  /** For a judge run: the generation run it judges. */
  source?: { runDir: string; runHash: string };
  items: number;
  /** What counted the input budget (src/core/templates/tokens.ts); exact: false for the chars/4 estimate. */
  tokenizer?: { name: string; exact: boolean };
  /** Items left out because even without any history they exceed the input budget. */
  overBudget?: string[];
  /**
   * The protocol choices behind the numbers (judge parser, oracle, plain template, contrast filter,
   * rejection-sampling rule...): copied into run.json `params.protocol` and shown by every report.
   */
  protocol?: Record<string, unknown>;
  /** rm: test pairs whose sides state the same preference on the user's dimension (excluded or kept). */
  nonContrastive?: { policy: "exclude" | "keep"; total: number; byDimension: Partial<Record<string, number>>; pairs: string[] };
  /** The dataset manifest's own count of non-contrastive pairs, when its builder records one. */
  datasetNonContrastive?: unknown;
}

/** Provenance every evaluation adds to its run.json: template hash, dataset manifest hash and seed. */
export function evalRunMeta<M extends { seed?: number; params?: Record<string, unknown> }>(meta: M, evalJson: EvalJson): M & { templateHash: string; datasetManifestHash?: string; seed?: number } {
  const out: M & { templateHash: string; datasetManifestHash?: string; seed?: number } = { ...meta, templateHash: templatesHash(evalJson.templates) };
  // Protocol choices are recorded with the params (not part of any request: cache keys ignore them).
  if (evalJson.protocol) out.params = { ...(meta.params ?? {}), protocol: evalJson.protocol };
  if (evalJson.dataset) out.datasetManifestHash = evalJson.dataset.manifestHash;
  const seed = meta.seed ?? evalJson.dataset?.seed;
  if (seed !== undefined) out.seed = seed;
  return out;
}

/** Combined hash of the templates a run uses (recorded as the run's templateHash). */
export function templatesHash(templates: EvalJson["templates"]): string {
  const h = createHash("sha256");
  for (const [k, t] of Object.entries(templates ?? {}).sort(([a], [b]) => a.localeCompare(b))) h.update(`${k}:${t.hash}\n`);
  return h.digest("hex");
}

/**
 * Writes eval.json and items.jsonl for a new run, or checks them against an existing run dir
 * (resume): a different evaluation in the same folder is refused, never mixed.
 */
export async function prepareEvalDir<M extends { itemId: string }>(runDir: string, evalJson: EvalJson, items: M[]): Promise<void> {
  await mkdir(runDir, { recursive: true });
  const evalFile = path.join(runDir, EVAL_FILE);
  const itemsText = items.map((m) => JSON.stringify(m)).join("\n") + (items.length ? "\n" : "");
  if (existsSync(evalFile)) {
    const old = JSON.parse(await readFile(evalFile, "utf8")) as EvalJson;
    // Key-order independent (the runner's stable form): a resume that rebuilt the options in another order still matches.
    const key = (e: EvalJson) => stableStringify([e.kind, e.options, e.dataset?.manifestHash ?? null, Object.entries(e.templates ?? {}).map(([k, t]) => [k, t.hash]).sort(), e.source?.runHash ?? null]);
    if (key(old) !== key(evalJson)) {
      throw new Error(`${runDir} holds a different ${old.kind} evaluation (other options, dataset, templates or source); use another --out`);
    }
    const oldItems = existsSync(path.join(runDir, ITEMS_FILE)) ? await readFile(path.join(runDir, ITEMS_FILE), "utf8") : "";
    if (oldItems !== itemsText) throw new Error(`${runDir}: the items of this evaluation changed since the run started; use another --out`);
    return;
  }
  await writeFileAtomic(path.join(runDir, ITEMS_FILE), itemsText);
  await writeJsonAtomic(evalFile, evalJson);
}

/**
 * The shape every reader relies on (a run folder is workspace content, so it may be hostile or
 * hand-edited): what is checked here is what the views and reports read without further checks.
 * The options of each kind are validated in full where a run is resumed (src/app/resume.ts).
 */
const evalJsonShape = z.looseObject({
  kind: z.enum(["rm", "generate", "judge", "prompts"]),
  options: z.record(z.string(), z.unknown()),
  dataset: z.looseObject({ dir: z.string(), manifestHash: z.string(), seed: z.number().optional() }).optional(),
  templates: z.record(z.string(), z.looseObject({ name: z.string(), hash: z.string(), file: z.string() })).optional(),
  source: z.looseObject({ runDir: z.string(), runHash: z.string() }).optional(),
  items: z.number().int().min(0),
  tokenizer: z.looseObject({ name: z.string(), exact: z.boolean() }).optional(),
  overBudget: z.array(z.string()).optional(),
  protocol: z.record(z.string(), z.unknown()).optional(),
  nonContrastive: z
    .looseObject({ policy: z.enum(["exclude", "keep"]), total: z.number(), byDimension: z.record(z.string(), z.number()), pairs: z.array(z.string()) })
    .optional(),
});

/** Reads and checks a run folder's eval.json; the error names the file and the first bad field. */
export async function readEvalJson(runDir: string): Promise<EvalJson> {
  const file = path.join(runDir, EVAL_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, "utf8"));
  } catch {
    throw new Error(`${runDir} is not a Preflab evaluation run (no readable ${EVAL_FILE})`);
  }
  const parsed = evalJsonShape.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.length ? issue.path.join(".") : "(top level)";
    throw new Error(`${file}: field ${field}: ${issue.message}`);
  }
  return parsed.data;
}

export async function readItems<M>(runDir: string): Promise<M[]> {
  const out: M[] = [];
  const file = path.join(runDir, ITEMS_FILE);
  if (!existsSync(file)) throw new Error(`${runDir}: ${ITEMS_FILE} is missing`);
  const rl = createInterface({ input: createReadStream(file, { encoding: "utf8" }), crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) {
    n++;
    if (!line.trim()) continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new Error(`${file}:${n}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error(`${file}:${n}: expected an object per line`);
    out.push(v as M);
  }
  return out;
}
