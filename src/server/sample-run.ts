/**
 * "Run on N samples" for a template being edited: a small evaluation through the run session
 * (src/app/session.ts) into a fresh run folder that also holds the template text as run.
 * No vscode here: the extension's command (src/extension/template-language.ts) calls it with the
 * configured provider, and the unit tests call it with the baseline.
 *
 * - reward-model template: the first N synthetic users, each pair in the A/B order (2 items a user).
 * - history template: the same reward-model evaluation with the built-in reward-model template and
 *   this file as the history template.
 * - generation template: the first N users, with history.
 * In every case the template's front-matter `defaults` (temperature, maxTokens, topP) fill in the
 * sampling params the settings leave unset, as they do for every run (src/app/session.ts).
 * - judge template: not here (a judge needs a generation run: `preflab judge`).
 */
import { mkdir, writeFile } from "node:fs/promises";
import * as path from "node:path";
import type { RunGate } from "../app/gate.js";
import type { KeyDestinationPolicy } from "../app/origins.js";
import type { ResolvedProvider } from "../app/provider.js";
import { runEvaluation, runnerSettings, type EvalRequest, type RunnerSettings } from "../app/session.js";
import type { Progress, RunSummary } from "../core/eval/runner.js";
import { parseTemplate } from "../core/templates/template.js";

export interface SampleRunOptions {
  /** The template text (saved or not): written to RUN_DIR/template.ptpl and run from there. */
  text: string;
  datasetDir: string;
  /** Parent folder; the run gets its own folder inside. */
  runsDir: string;
  /** Number of synthetic users. */
  n: number;
  /** The validated provider (src/app/provider.ts resolveProviderConfig) and the keys to redact. */
  provider: ResolvedProvider;
  /** Asked before the provider is created (the extension's follows workspace trust). */
  gate: RunGate;
  /** Where keys may go (default: no origin read from a workspace file). */
  policy?: KeyDestinationPolicy;
  /** The configured runner settings (rate limits, retries, cache folder); default: runner defaults, no cache. */
  runner?: RunnerSettings;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
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
  if (t.kind === "generation" && opts.provider.config.provider === "baseline") {
    throw new SampleRunError("the baseline only picks between two responses; choose a model provider to run a generation template");
  }
  if (!Number.isInteger(opts.n) || opts.n < 1) throw new SampleRunError(`the number of samples must be a positive integer, got ${opts.n}`);

  const runDir = path.join(opts.runsDir, `template-${slug(t.name)}-${stamp(opts.now ?? new Date())}`);
  await mkdir(runDir, { recursive: true });
  const file = path.join(runDir, TEMPLATE_FILE);
  await writeFile(file, opts.text);

  // Through the run session, like every other run: the same run record (cache scope included), the
  // configured rate limits, and the template's front-matter defaults as sampling params.
  const request: EvalRequest =
    t.kind === "generation"
      ? { kind: "generate", datasetDir: opts.datasetDir, options: { template: file, limit: opts.n, history: "with" } }
      : { kind: "rm", datasetDir: opts.datasetDir, options: { ...(t.kind === "history" ? { historyTemplate: file } : { template: file }), limit: opts.n, orders: "ab" } };
  const outcome = await runEvaluation(request, { runDir, provider: opts.provider, runner: opts.runner ?? runnerSettings() }, { gate: opts.gate, ...(opts.policy ? { policy: opts.policy } : {}), signal: opts.signal, onProgress: opts.onProgress });
  if (outcome.kind === "rm") {
    const o = outcome.report.overall;
    const acc = o.n ? `accuracy ${(o.accuracy * 100).toFixed(1)}% over ${o.n} verdict(s)` : "no verdicts";
    const headline = `${t.name}: ${acc}, ${o.unparsable} unparsable, ${o.failed} failed (${outcome.summary.status})`;
    return { runDir, kind: "rm", summary: outcome.summary, headline };
  }
  const summary = outcome.summary;
  const headline = `${t.name}: ${summary.totals.done} response(s) generated, ${summary.totals.failed} failed (${summary.status})`;
  return { runDir, kind: "generate", summary, headline };
}
