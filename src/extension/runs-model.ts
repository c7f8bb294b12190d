/**
 * What the Runs view knows about a run directory: its kind (eval.json), provider / model, status
 * and totals (run.json; a judge run keeps them in calls/run.json), whether a live process holds
 * its lock (run.lock), and a headline metric. Pure Node, no vscode; the report code is loaded
 * lazily, only when a headline is asked for.
 */
import { assertSafeSegment } from "../core/util/safe-path.js";
import { existsSync, readdirSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import * as path from "node:path";
import type { EvalJson } from "../core/eval/plan.js";
import type { RunReport } from "../core/metrics/report.js";
import { runDirLocked, type RunJson } from "../core/eval/runlog.js";

export type RunViewStatus = "running" | "finished" | "failed" | "resumable" | "not started";

export interface RunInfo {
  dir: string;
  name: string;
  kind: EvalJson["kind"];
  provider: string | null;
  model: string | null;
  /** run.json status as written. */
  recorded: RunJson["status"] | null;
  status: RunViewStatus;
  totals: RunJson["totals"] | null;
  /** run.json `pricing`: the price the run used, null = price unknown, undefined = not recorded (older runs). */
  pricing?: RunJson["pricing"];
  items: number;
  startedAt: string | null;
  updatedAt: string | null;
  error?: string;
  /** Judge runs: the generation run judged. */
  sourceRunDir?: string;
  /** Key that changes when the run's files change (for caching the headline). */
  stamp: string;
}

/** Where a run's runner files (run.json, results.jsonl, run.lock) live. */
export function callsDir(dir: string, kind: EvalJson["kind"]): string {
  return kind === "judge" ? path.join(dir, "calls") : dir;
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as T;
  } catch {
    return undefined;
  }
}

async function mtimeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).mtimeMs;
  } catch {
    return -1;
  }
}

/** True when run.lock is held by a live run (this process's, another process's, or another host's). */
export function lockHeld(runnerDir: string): Promise<boolean> {
  return runDirLocked(runnerDir);
}

export function deriveStatus(recorded: RunJson["status"] | null, locked: boolean, activeHere: boolean): RunViewStatus {
  if (activeHere || locked) return "running";
  switch (recorded) {
    case null:
      return "not started";
    case "finished":
      return "finished";
    case "failed":
      return "failed";
    // "cancelled", or "running" with no live process (VS Code or the CLI was closed mid-run).
    default:
      return "resumable";
  }
}

export async function readRunInfo(dir: string, activeHere = false): Promise<RunInfo | undefined> {
  const ev = await readJson<EvalJson>(path.join(dir, "eval.json"));
  if (!ev || typeof ev.kind !== "string") return undefined;
  const runner = callsDir(dir, ev.kind);
  const rj = await readJson<RunJson>(path.join(runner, "run.json"));
  const locked = await lockHeld(runner);
  const stamp = (await Promise.all([path.join(runner, "run.json"), path.join(runner, "results.jsonl"), path.join(dir, "results.jsonl")].map(mtimeOf))).join(":");
  const info: RunInfo = {
    dir,
    name: path.basename(dir),
    kind: ev.kind,
    provider: rj?.provider ?? null,
    model: rj?.model ?? null,
    recorded: rj?.status ?? null,
    status: deriveStatus(rj?.status ?? null, locked, activeHere),
    totals: rj?.totals ?? null,
    ...(rj && rj.pricing !== undefined ? { pricing: rj.pricing } : {}),
    items: ev.items,
    startedAt: rj?.startedAt ?? null,
    updatedAt: rj?.updatedAt ?? null,
    stamp,
  };
  if (rj?.error) info.error = rj.error;
  if (ev.source?.runDir) info.sourceRunDir = ev.source.runDir;
  return info;
}

/** Run directories under `runsFolder` (those with an eval.json), newest first. */
export async function listRuns(runsFolder: string, active: ReadonlySet<string> = new Set()): Promise<RunInfo[]> {
  if (!existsSync(runsFolder)) return [];
  const names = readdirSync(runsFolder, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  const infos = await Promise.all(names.map((n) => readRunInfo(path.join(runsFolder, n), active.has(path.join(runsFolder, n)))));
  return infos.filter((i): i is RunInfo => i !== undefined).sort((a, b) => (b.startedAt ?? "").localeCompare(a.startedAt ?? "") || b.name.localeCompare(a.name));
}

/** A run's cost from run.json: "$1.23", "price unknown", or undefined when the run recorded no price (older runs) or has no totals. */
export function costText(info: Pick<RunInfo, "totals" | "pricing">): string | undefined {
  if (!info.totals || info.pricing === undefined) return undefined;
  if (info.pricing === null) return "price unknown";
  return usdAmount(info.totals.costUsd);
}

/** "$0.0042", "$1.25". */
export function usdAmount(usd: number): string {
  return `$${usd > 0 && usd < 0.01 ? usd.toFixed(4) : usd.toFixed(2)}`;
}

/** The cost details for a tooltip: dollars, cached and cache-write tokens, batch discount. */
export function costDetails(info: Pick<RunInfo, "totals" | "pricing">): string | undefined {
  const cost = costText(info);
  if (!cost || !info.totals) return undefined;
  const t = info.totals;
  const extra = [
    t.cachedInputTokens ? `${t.cachedInputTokens} cached input tokens` : "",
    t.cacheWriteTokens ? `${t.cacheWriteTokens} cache-write tokens` : "",
    t.batchDiscountUsd ? `batch discount $${t.batchDiscountUsd.toFixed(2)}` : "",
  ].filter(Boolean);
  return `cost: ${cost}${extra.length ? ` (${extra.join(", ")})` : ""}`;
}

export interface Headline {
  /** e.g. "accuracy 63.5%" */
  text: string;
  value: number | null;
}

export const pct = (x: number | null | undefined, digits = 1) => (x === null || x === undefined || Number.isNaN(x) ? "-" : `${(100 * x).toFixed(digits)}%`);

export type ReportLoader = (runDir: string) => Promise<RunReport>;

/**
 * The run's headline metric: RM accuracy, mean judge score with H, or how many items finished.
 * `loadReport` is the core's loadRunReport (passed in, so this module stays light).
 */
export async function headlineOf(info: RunInfo, loadReport: ReportLoader): Promise<Headline | undefined> {
  const t = info.totals;
  if (info.kind === "rm") {
    if (!t || t.done === 0) return undefined;
    const r = await loadReport(info.dir);
    const acc = r.rm?.overall.accuracy;
    if (acc === undefined || Number.isNaN(acc)) return undefined;
    return { text: `accuracy ${pct(acc)}`, value: acc };
  }
  if (info.kind === "judge") {
    if (!t || t.done === 0) return undefined;
    const r = await loadReport(info.dir);
    const dims = Object.values(r.generation?.byDimension ?? {});
    const means = dims.map((d) => d.withHistory.mean).filter((m) => Number.isFinite(m));
    if (!means.length) return undefined;
    const m = means.reduce((a, b) => a + b, 0) / means.length;
    return { text: `score with H ${m.toFixed(2)}/5`, value: m };
  }
  if (!t) return undefined;
  return { text: `${t.done}/${t.items} ${info.kind === "generate" ? "generated" : "answered"}`, value: t.items ? t.done / t.items : null };
}

/** "rm-baseline-tfidf-style-20250101-120000": a new, unique run folder name. */
export function newRunName(kind: string, provider: string, model: string, now = new Date()): string {
  const safe = (s: string) => s.replace(/\.gguf$/i, "").replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40) || "model";
  const p2 = (n: number) => String(n).padStart(2, "0");
  const stamp = `${now.getFullYear()}${p2(now.getMonth() + 1)}${p2(now.getDate())}-${p2(now.getHours())}${p2(now.getMinutes())}${p2(now.getSeconds())}`;
  return assertSafeSegment(`${kind}-${safe(provider)}-${safe(model)}-${stamp}`, "run name");
}
