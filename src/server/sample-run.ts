/**
 * "Run on N samples" for a template being edited: a small evaluation through the core runners
 * (rm.ts / generation.ts) into a fresh run folder that also holds the template text as run.
 * No vscode here: the extension's command (src/extension/template-language.ts) calls it with the
 * configured provider, and the unit tests call it with the baseline.
 *
 * - reward-model template: the first N synthetic users, each pair in the A/B order (2 items a user).
 * - history template: the same reward-model evaluation with the built-in reward-model template and
 *   this file as the history template.
 * - generation template: the first N users, with history; the template's `defaults` (temperature,
 *   maxTokens, topP) are the sampling parameters.
 * - judge template: not here (a judge needs a generation run: `preflab judge`).
 */
import { mkdir, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { runGeneration } from "../core/eval/generation.js";
import { runRm } from "../core/eval/rm.js";
import { RUNNER_DEFAULTS, type Progress, type RunSummary } from "../core/eval/runner.js";
import { createProvider, type ProviderConfig } from "../core/providers/registry.js";
import type { GenerationParams } from "../core/providers/types.js";
import { parseTemplate } from "../core/templates/template.js";

export interface SampleRunOptions {
  /** The template text (saved or not): written to RUN_DIR/template.ptpl and run from there. */
  text: string;
  datasetDir: string;
  /** Parent folder; the run gets its own folder inside. */
  runsDir: string;
  /** Number of synthetic users. */
  n: number;
  provider: ProviderConfig;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /** Strings to redact from what the run writes (API keys). */
  secrets?: string[];
  /** Response cache folder, or false (default). */
  cacheDir?: string | false;
  /** For the folder name (default: now). */
  now?: Date;
}

export interface SampleRunResult {
  runDir: string;
  kind: "rm" | "generate";
  summary: RunSummary;
  /** One line for a notification. */
  headline: string;
}

export const TEMPLATE_FILE = "template.ptpl";

/** A user-facing refusal (bad template, judge template, baseline with generation). */
export class SampleRunError extends Error {
  override name = "SampleRunError";
}

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 40) || "template";
const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z").replace("T", "-");

export async function runTemplateSample(opts: SampleRunOptions): Promise<SampleRunResult> {
  const parsed = parseTemplate(opts.text, TEMPLATE_FILE);
  const error = parsed.diagnostics.find((d) => d.severity === "error");
  if (!parsed.template || error) throw new SampleRunError(`fix the template first: line ${(error?.start.line ?? 0) + 1}: ${error?.message ?? "invalid template"}`);
  const t = parsed.template;
  if (t.kind === "judge") throw new SampleRunError("a judge template grades a generation run: run a generation, then `preflab judge GEN_RUN --template FILE`");
  if (t.kind === "generation" && opts.provider.provider === "baseline") {
    throw new SampleRunError("the baseline only picks between two responses; choose a model provider to run a generation template");
  }
  if (!Number.isInteger(opts.n) || opts.n < 1) throw new SampleRunError(`the number of samples must be a positive integer, got ${opts.n}`);

  const runDir = path.join(opts.runsDir, `template-${slug(t.name)}-${stamp(opts.now ?? new Date())}`);
  await mkdir(runDir, { recursive: true });
  const file = path.join(runDir, TEMPLATE_FILE);
  await writeFile(file, opts.text);

  const provider = await createProvider(opts.provider);
  try {
    const params: Record<string, unknown> = {};
    for (const k of ["temperature", "maxTokens", "topP", "seed"] as const) if (opts.provider[k] !== undefined) params[k] = opts.provider[k];
    const runner = {
      ...RUNNER_DEFAULTS,
      runDir,
      cacheDir: opts.cacheDir ?? false,
      signal: opts.signal,
      onProgress: opts.onProgress,
      secrets: opts.secrets,
      ...(opts.provider.pricing ? { pricing: opts.provider.pricing } : {}),
      meta: { provider: provider.id, model: provider.model, params },
    };
    if (t.kind === "generation") {
      const gen: GenerationParams = {};
      if (t.defaults?.temperature !== undefined) gen.temperature = t.defaults.temperature;
      if (t.defaults?.maxTokens !== undefined) gen.maxTokens = t.defaults.maxTokens;
      if (t.defaults?.topP !== undefined) gen.topP = t.defaults.topP;
      const summary = await runGeneration(opts.datasetDir, { template: file, limit: opts.n, history: "with", params: gen }, provider, runner);
      const headline = `${t.name}: ${summary.totals.done} response(s) generated, ${summary.totals.failed} failed (${summary.status})`;
      return { runDir, kind: "generate", summary, headline };
    }
    const rmOpts = t.kind === "history" ? { historyTemplate: file } : { template: file };
    const { summary, report } = await runRm(opts.datasetDir, { ...rmOpts, limit: opts.n, orders: "ab" }, provider, runner);
    const o = report.overall;
    const acc = o.n ? `accuracy ${(o.accuracy * 100).toFixed(1)}% over ${o.n} verdict(s)` : "no verdicts";
    const headline = `${t.name}: ${acc}, ${o.unparsable} unparsable, ${o.failed} failed (${summary.status})`;
    return { runDir, kind: "rm", summary, headline };
  } finally {
    await provider.dispose?.();
  }
}
