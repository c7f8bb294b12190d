/**
 * The CLI's adapter over the run session (src/app/session.ts): Ctrl-C cancels (resumable), a
 * throttled progress line goes to stderr, and the gate allows everything the command line asked for.
 */
import type { CliIO } from "./command.js";
import type { ResolvedProviderOptions } from "./provider-options.js";
import { ALLOW_ALL } from "../app/gate.js";
import { runEvaluation, withProvider, type EvalOutcome, type EvalRequest, type SessionHooks, type SessionRunner } from "../app/session.js";
import type { Provider } from "../core/providers/types.js";
import type { Progress, RunSummary } from "../core/eval/runner.js";
import type { BatchProgress } from "../core/batch/provider.js";

/** Session hooks for one command: Ctrl-C and progress lines; `done` removes the Ctrl-C handler. */
function cliHooks(label: string, resolved: ResolvedProviderOptions, io: CliIO): { hooks: SessionHooks; done: () => void } {
  const ac = new AbortController();
  const onSigint = () => {
    io.err(`\npreflab ${label}: cancelling; in-flight requests are dropped. Rerun the same command to resume.\n`);
    ac.abort();
  };
  process.once("SIGINT", onSigint);
  const priced = resolved.config.pricing !== undefined;
  let lastPrint = 0;
  let lastText = "";
  const onProgress = (p: Progress) => {
    const now = Date.now();
    if (now - lastPrint < 1000 && p.done + p.failed < p.total) return;
    const text = formatProgress(p, priced);
    if (text === lastText) return;
    lastPrint = now;
    lastText = text;
    io.err(`[${label}] ${text}\n`);
  };
  const onBatchProgress = (b: BatchProgress) => {
    const c = b.counts;
    io.err(`[${label}] batch ${b.batchId} ${b.status}: ${c.succeeded}/${c.total} succeeded, ${c.errored} errored, ${c.unfinished} expired or cancelled, ${c.processing} processing\n`);
  };
  return { hooks: { gate: ALLOW_ALL, policy: resolved.policy, signal: ac.signal, onProgress, onBatchProgress }, done: () => process.removeListener("SIGINT", onSigint) };
}

/** Runs one evaluation through the session into `runDir`. */
export async function runEvaluationCli(label: string, request: EvalRequest, resolved: ResolvedProviderOptions, runDir: string, io: CliIO): Promise<EvalOutcome> {
  const { hooks, done } = cliHooks(label, resolved, io);
  try {
    return await runEvaluation(request, { runDir, provider: resolved, runner: resolved.runner }, hooks);
  } finally {
    done();
  }
}

/** For model-calling commands that are not one of the session's evaluations (rs): provider lifetime, Ctrl-C, progress. */
export async function runWithProvider<T>(label: string, resolved: ResolvedProviderOptions, io: CliIO, fn: (provider: Provider, runner: SessionRunner) => Promise<T>, create?: SessionHooks["createProvider"]): Promise<T> {
  const { hooks, done } = cliHooks(label, resolved, io);
  try {
    return await withProvider(resolved, resolved.runner, { ...hooks, ...(create ? { createProvider: create } : {}) }, fn);
  } finally {
    done();
  }
}

/** Exit status of an evaluation command: 130 cancelled, 1 some items failed, else 0. */
export function exitCode(s: RunSummary): number {
  if (s.status === "cancelled") return 130;
  return s.totals.failed > 0 ? 1 : 0;
}

export function formatProgress(p: Progress, priced: boolean): string {
  const parts = [`${p.done + p.failed}/${p.total} finished`, `${p.failed} failed`, `${p.cached} cached`, `${p.inFlight} in flight`];
  if (p.etaMs !== null && p.done + p.failed < p.total) parts.push(`eta ${formatDuration(p.etaMs)}`);
  parts.push(`tokens ${p.inputTokens} in / ${p.outputTokens} out`);
  if (priced) parts.push(`$${p.costUsd.toFixed(4)}`);
  return parts.join(", ");
}

function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export function formatSummary(label: string, s: RunSummary, priced: boolean): string {
  const t = s.totals;
  const lines = [
    `${label}: ${s.status}`,
    `  items      ${t.items}`,
    `  done       ${t.done} (${t.cached} from cache)`,
    `  failed     ${t.failed}`,
    `  tokens     ${t.inputTokens} in (${t.cachedInputTokens} cached, ${t.cacheWriteTokens ?? 0} written to cache) / ${t.outputTokens} out`,
    `  cost       ${priced ? `$${t.costUsd.toFixed(4)}` : "price unknown (give --price-* flags)"}`,
    `  cache      ${s.cache.enabled ? `${s.cache.hits} hits, ${s.cache.misses} misses` : "off"}`,
    `  run dir    ${s.runDir}`,
  ];
  if ((t.batchRequests ?? 0) > 0) lines.push(`  batch      ${t.batchRequests} answered by the batch API${priced ? `, saving $${(t.batchDiscountUsd ?? 0).toFixed(4)}` : ""}`);
  if (s.skipped > 0 || s.retriedFailed > 0) lines.push(`  resumed    ${s.skipped} already done, ${s.retriedFailed} failed before and tried again`);
  if (s.tornBytes > 0) lines.push(`  repaired   a torn last line (${s.tornBytes} bytes) in results.jsonl`);
  if (s.failures.length > 0) {
    lines.push(`failed items${s.failures.length > 10 ? " (first 10)" : ""}:`);
    for (const f of s.failures.slice(0, 10)) {
      lines.push(`  ${f.itemId}  ${f.kind}${f.status !== undefined ? ` (HTTP ${f.status})` : ""} after ${f.attempts} attempt${f.attempts === 1 ? "" : "s"}: ${f.message}`);
    }
  }
  if (s.status === "cancelled") lines.push("cancelled: rerun the same command to resume");
  return lines.join("\n") + "\n";
}
