/**
 * Resume: a run folder's eval.json and run.json, read through schemas (no unchecked casts), back
 * into the request that made it and the model it ran with. Running that request again into the
 * same folder continues the run; the core checks that the plan matches the recorded eval.json
 * (options compared in the same key-order-independent form the runner uses for params).
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import * as path from "node:path";
import { z } from "zod";
import { DIMENSIONS } from "../core/data/schema.js";
import { CALLS_DIR } from "../core/eval/judge.js";
import { JUDGE_PARSERS } from "../core/eval/parse.js";
import { EVAL_FILE } from "../core/eval/plan.js";
import { RUN_FILE } from "../core/eval/runlog.js";
import { PROVIDER_IDS, type ProviderId } from "../core/providers/registry.js";
import type { EvalKind, EvalRequest } from "./session.js";

const dimensions = z.array(z.enum(DIMENSIONS)).min(1);
const limit = z.number().int().positive().nullable();
const sampling = z.object({
  temperature: z.number().min(0).max(2).optional(),
  maxTokens: z.number().int().positive().optional(),
  topP: z.number().gt(0).max(1).optional(),
  seed: z.number().int().optional(),
});
const templates = z.record(z.string(), z.object({ name: z.string(), hash: z.string(), file: z.string() })).optional();
const dataset = z.object({ dir: z.string().min(1), manifestHash: z.string(), seed: z.number().optional() });

/** eval.json, one shape per kind (options: what defines the items). */
export const evalFileSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("rm"),
    options: z.object({ dimensions, orders: z.enum(["both", "ab"]), verdict: z.enum(["text", "probability"]), limit, maxInputTokens: z.number().int().positive(), keepNonContrastive: z.boolean().optional(), minVerdictMass: z.number().min(0).max(1).optional(), oracle: z.boolean().optional() }),
    dataset,
    templates,
  }),
  z.object({
    kind: z.literal("generate"),
    options: z.object({ dimensions, history: z.enum(["with", "without", "both"]), limit, maxInputTokens: z.number().int().positive(), params: sampling, plainTemplate: z.enum(["bare", "b2-empty", "file"]).optional(), oracle: z.boolean().optional() }),
    dataset,
    templates,
  }),
  z.object({
    kind: z.literal("judge"),
    options: z.object({ cross: z.boolean(), maxParseRetries: z.number().int().min(0), params: sampling.nullable(), parse: z.enum(JUDGE_PARSERS).optional() }),
    templates,
    source: z.object({ runDir: z.string().min(1), runHash: z.string() }),
  }),
  z.object({ kind: z.literal("prompts"), options: z.object({ input: z.string().min(1) }) }),
]);
export type EvalFile = z.infer<typeof evalFileSchema>;

/** The part of run.json a resume needs: which model ran, with which sampling params. */
export const runFileSchema = z.object({
  provider: z.enum(PROVIDER_IDS),
  model: z.string(),
  params: sampling.default({}),
  baseUrl: z.string().optional(),
});

export interface Resumable {
  kind: EvalKind;
  request: EvalRequest;
  /** The model the run was started with (for llamacpp, the GGUF file's name: the path is not recorded). */
  recorded: { provider: ProviderId; model: string; params: z.infer<typeof sampling>; baseUrl?: string };
}

/** Where the runner's run.json of a run folder is (a judge keeps its raw calls in calls/). */
export function runnerDir(runDir: string, kind: EvalKind): string {
  return kind === "judge" ? path.join(runDir, CALLS_DIR) : runDir;
}

async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new ResumeError(`${path.dirname(file)} cannot be resumed: no readable ${what}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ResumeError(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

export class ResumeError extends Error {
  override name = "ResumeError";
}

function issuesText(file: string, error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${file}: ${i.path.length ? i.path.map(String).join(".") : "(file)"}: ${i.message}`)
    .join("; ");
}

/** A template recorded by the run, if its file is still there (else the built-in, whose hash the core checks). */
function templateFile(ev: EvalFile, key: string): string | undefined {
  const f = "templates" in ev ? ev.templates?.[key]?.file : undefined;
  return f && existsSync(f) ? f : undefined;
}

/** Reads a run folder back into the request that made it (throws ResumeError naming file and field). */
export async function readResumable(runDir: string): Promise<Resumable> {
  const evalPath = path.join(runDir, EVAL_FILE);
  const ev = evalFileSchema.safeParse(await readJson(evalPath, EVAL_FILE));
  if (!ev.success) throw new ResumeError(issuesText(evalPath, ev.error));
  const e = ev.data;
  const runPath = path.join(runnerDir(runDir, e.kind), RUN_FILE);
  if (!existsSync(runPath)) throw new ResumeError(`${runDir} never started (no ${RUN_FILE}); start a new run instead`);
  const rj = runFileSchema.safeParse(await readJson(runPath, RUN_FILE));
  if (!rj.success) throw new ResumeError(issuesText(runPath, rj.error));
  const recorded: Resumable["recorded"] = { provider: rj.data.provider, model: rj.data.model, params: rj.data.params };
  if (rj.data.baseUrl !== undefined) recorded.baseUrl = rj.data.baseUrl;
  const opt = <K extends string>(key: K, file: string | undefined): Partial<Record<K, string>> => (file ? ({ [key]: file } as Partial<Record<K, string>>) : {});
  let request: EvalRequest;
  switch (e.kind) {
    case "rm": {
      const o = e.options;
      request = {
        kind: "rm",
        datasetDir: e.dataset.dir,
        options: {
          dimensions: o.dimensions,
          orders: o.orders,
          verdict: o.verdict,
          maxInputTokens: o.maxInputTokens,
          ...(o.keepNonContrastive ? { keepNonContrastive: true } : {}),
          ...(o.minVerdictMass !== undefined ? { minVerdictMass: o.minVerdictMass } : {}),
          ...(o.oracle ? { oracle: true } : {}),
          ...(o.limit !== null ? { limit: o.limit } : {}),
          ...opt("template", templateFile(e, "reward-model")),
          ...opt("historyTemplate", templateFile(e, "history")),
        },
      };
      break;
    }
    case "generate": {
      const o = e.options;
      request = {
        kind: "generate",
        datasetDir: e.dataset.dir,
        options: {
          dimensions: o.dimensions,
          history: o.history,
          maxInputTokens: o.maxInputTokens,
          params: o.params,
          ...(o.limit !== null ? { limit: o.limit } : {}),
          ...opt("template", templateFile(e, "generation")),
          ...(o.plainTemplate === "b2-empty" ? { plainTemplate: "b2-empty" } : o.plainTemplate === "file" || o.plainTemplate === undefined ? opt("plainTemplate", templateFile(e, "generation-plain")) : {}),
          ...(o.oracle ? { oracle: true } : {}),
          ...opt("historyTemplate", templateFile(e, "history")),
        },
      };
      break;
    }
    case "judge": {
      const o = e.options;
      request = {
        kind: "judge",
        sourceRunDir: e.source.runDir,
        options: { cross: o.cross, maxParseRetries: o.maxParseRetries, ...(o.params ? { params: o.params } : {}), ...(o.parse ? { parse: o.parse } : {}), ...opt("template", templateFile(e, "judge")) },
      };
      break;
    }
    case "prompts":
      request = { kind: "prompts", input: e.options.input };
      break;
  }
  return { kind: e.kind, request, recorded };
}
