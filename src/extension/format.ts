/** Text for progress notifications, the status bar and tooltips. Pure. */
import type { Progress } from "../core/eval/runner.js";

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export function formatTokens(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

/** Fraction finished (0..1), counting failures as finished. */
export function fractionDone(p: Pick<Progress, "done" | "failed" | "total">): number {
  return p.total > 0 ? Math.min(1, (p.done + p.failed) / p.total) : 1;
}

/** "12/40 · ETA 5s · 1.2k in / 300 out tokens · est. $0.0123 · 1 failed" */
export function progressMessage(p: Progress, priced: boolean): string {
  const parts = [`${p.done + p.failed}/${p.total}`];
  if (p.etaMs !== null && p.done + p.failed < p.total) parts.push(`ETA ${formatDuration(p.etaMs)}`);
  parts.push(`${formatTokens(p.inputTokens)} in / ${formatTokens(p.outputTokens)} out tokens`);
  parts.push(priced ? `est. $${p.costUsd.toFixed(4)}` : "cost n/a (no price set)");
  if (p.cached) parts.push(`${p.cached} cached`);
  if (p.failed) parts.push(`${p.failed} failed`);
  return parts.join(" · ");
}

/** Percentage points to add to a withProgress bar going from `last` to `now` (both 0..1). */
export function increment(last: number, now: number): number {
  return Math.max(0, (now - last) * 100);
}
