/**
 * Reports over evaluation run directories, shaped like the paper's tables: Table 1 (reward-model
 * accuracy by dimension), Table 2 (generation with / without history and relative delta), Table 3
 * (several generation runs side by side) and the counterfactual steerability table. Every report
 * names its runs and their provenance.
 */
import * as path from "node:path";
import { DIMENSIONS, type Dimension } from "../data/schema.js";
import { ORACLE_LABEL } from "../eval/oracle.js";
import { readEvalJson, readItems, type EvalJson } from "../eval/plan.js";
import { readResults, readRunJson, type RunJson } from "../eval/runner.js";
import { scoreRm, scoringOptions, withNonContrastive, type RmItem, type RmReport, type VerdictMode } from "../eval/rm.js";
import { judgeReport, type GenerationReport, type SteerabilityReport } from "../eval/judge.js";

export interface RunProvenance {
  dir: string;
  kind: EvalJson["kind"];
  label: string;
  provider: string | null;
  model: string | null;
  params: Record<string, unknown>;
  seed: number | null;
  datasetManifestHash: string | null;
  templateHash: string | null;
  templates: EvalJson["templates"];
  status: RunJson["status"] | "not started";
  items: number;
  /** What counted the input budget (null for runs recorded before tokenizers were recorded). */
  tokenizer: { name: string; exact: boolean } | null;
  /** For a judge run: the judge model and the generation run it judged. */
  source?: { runDir: string; provider: string | null; model: string | null };
  /** Protocol choices (eval.json `protocol`; a judge run adds its generation run's): oracle, plain template, parser... */
  protocol: Record<string, unknown>;
}

export interface RunReport {
  run: RunProvenance;
  rm?: RmReport;
  generation?: GenerationReport;
  steerability?: SteerabilityReport;
}

export interface Report {
  runs: RunProvenance[];
  /** The first reward-model run's results (the shape scripts read for one run). */
  rm?: RmReport;
  generation?: GenerationReport;
  steerability?: SteerabilityReport;
  /** Every run's results, in the order given. */
  perRun: RunReport[];
}

export async function runCallsDir(runDir: string, kind: EvalJson["kind"]): Promise<string> {
  return kind === "judge" ? path.join(runDir, "calls") : runDir;
}

export async function loadRunReport(runDir: string, opts: { seed?: number } = {}): Promise<RunReport> {
  const ev = await readEvalJson(runDir);
  const callsDir = await runCallsDir(runDir, ev.kind);
  const rj = await readRunJson(callsDir);
  const run: RunProvenance = {
    dir: path.resolve(runDir),
    kind: ev.kind,
    label: path.basename(path.resolve(runDir)),
    provider: rj?.provider ?? null,
    model: rj?.model ?? null,
    params: rj?.params ?? {},
    seed: rj?.seed ?? null,
    datasetManifestHash: ev.dataset?.manifestHash ?? rj?.datasetManifestHash ?? null,
    templateHash: rj?.templateHash ?? null,
    templates: ev.templates,
    status: rj?.status ?? "not started",
    items: ev.items,
    tokenizer: ev.tokenizer ?? null,
    protocol: { ...(ev.protocol ?? {}) },
  };
  if (ev.kind === "judge" && ev.source) {
    const gen = await readEvalJson(ev.source.runDir).catch(() => undefined);
    run.protocol = { ...(gen?.protocol ?? {}), ...run.protocol };
  }
  const out: RunReport = { run };
  if (ev.kind === "rm") {
    const items = await readItems<RmItem>(runDir);
    out.rm = withNonContrastive(
      scoreRm(items, await readResults(callsDir), ev.options.verdict as VerdictMode, opts.seed ?? 0, scoringOptions(ev.options)),
      ev.nonContrastive,
    );
  } else if (ev.kind === "judge") {
    const { generation, steerability, source } = await judgeReport(runDir, opts.seed ?? 0);
    out.generation = generation;
    if (steerability) out.steerability = steerability;
    run.source = source;
  }
  return out;
}

export async function buildReport(runDirs: string[], opts: { seed?: number } = {}): Promise<Report> {
  const perRun = await Promise.all(runDirs.map((d) => loadRunReport(d, opts)));
  const report: Report = { runs: perRun.map((r) => r.run), perRun };
  const rm = perRun.find((r) => r.rm)?.rm;
  const gen = perRun.find((r) => r.generation)?.generation;
  const st = perRun.find((r) => r.steerability)?.steerability;
  if (rm) report.rm = rm;
  if (gen) report.generation = gen;
  if (st) report.steerability = st;
  return report;
}

// ---- Formatting

const pct = (x: number | null | undefined) => (x === null || x === undefined || Number.isNaN(x) ? "-" : (100 * x).toFixed(2));
const num3 = (x: number | null | undefined) => (x === null || x === undefined || Number.isNaN(x) ? "-" : x.toFixed(3));
const DIM_LABEL: Record<Dimension, string> = { style: "Style", background_knowledge: "Knowledge", informativeness: "Informative", harmlessness: "Harmless" };

function runName(r: RunProvenance): string {
  const who = r.kind === "judge" ? `${r.source?.provider ?? "?"}/${r.source?.model ?? "?"}` : `${r.provider ?? "?"}/${r.model ?? "?"}`;
  const tags = [r.protocol.rmScoring === "scalar" ? "scalar RM: r(chosen) > r(rejected)" : null, r.protocol.oracle === true ? ORACLE_LABEL : null, r.protocol.plainTemplate === "b2-empty" ? "without H = B.2, empty history" : null].filter(Boolean);
  return `${r.label} (${who})${tags.length ? ` [${tags.join("; ")}]` : ""}`;
}

interface Table {
  title: string;
  headers: string[];
  rows: string[][];
  note?: string;
}

function tables(report: Report): Table[] {
  const out: Table[] = [];
  const rmRuns = report.perRun.filter((r) => r.rm);
  if (rmRuns.length) {
    const dims = DIMENSIONS.filter((d) => rmRuns.some((r) => r.rm!.byDimension[d]));
    out.push({
      title: "Table 1. Reward-model accuracy (%) given the feedback history, [95% CI]; random guess = 50",
      headers: ["run", ...dims.map((d) => DIM_LABEL[d])],
      rows: rmRuns.map((r) => [
        runName(r.run),
        ...dims.map((d) => {
          const x = r.rm!.byDimension[d];
          return x ? `${pct(x.accuracy)} [${pct(x.ci[0])}, ${pct(x.ci[1])}]` : "-";
        }),
      ]),
    });
    out.push({
      title: "Reward-model details per dimension",
      headers: ["run", "dimension", "n", "consistent acc. (%)", "A rate (%)", "unparsable", "failed", "missing", "truncated H", "non-contrastive pairs", "verdict mass"],
      rows: rmRuns.flatMap((r) =>
        dims
          .filter((d) => r.rm!.byDimension[d])
          .map((d) => {
            const x = r.rm!.byDimension[d]!;
            const nc = r.rm!.nonContrastive;
            return [
              runName(r.run),
              d,
              String(x.n),
              pct(x.consistentAccuracy),
              pct(x.aRate),
              String(x.unparsable),
              String(x.failed),
              String(x.missing),
              String(x.truncated ?? 0),
              nc ? `${x.nonContrastive ?? 0} ${nc.policy === "keep" ? "kept" : "excluded"}` : "-",
              num3(x.meanVerdictMass),
            ];
          }),
      ),
    });
  }
  const genRuns = report.perRun.filter((r) => r.generation);
  if (genRuns.length) {
    out.push({
      title: "Table 2. Judge score (1-5) without and with the feedback history H, relative delta",
      headers: ["run", "dimension", "without H", "with H", "delta score", "p (paired)", "truncated H"],
      rows: genRuns.flatMap((r) =>
        Object.entries(r.generation!.byDimension).map(([d, x]) => [
          runName(r.run),
          d,
          `${num3(x.withoutHistory.mean)} [${num3(x.withoutHistory.ci[0])}, ${num3(x.withoutHistory.ci[1])}]`,
          `${num3(x.withHistory.mean)} [${num3(x.withHistory.ci[0])}, ${num3(x.withHistory.ci[1])}]`,
          x.delta === null ? "-" : `${(100 * x.delta).toFixed(2)}%`,
          x.pValue === null ? "-" : x.pValue.toFixed(4),
          x.truncated === undefined ? "-" : String(x.truncated),
        ]),
      ),
    });
    const dims = DIMENSIONS.filter((d) => genRuns.some((r) => r.generation!.byDimension[d]));
    out.push({
      title: "Table 3. Judge score (1-5) with H, runs side by side",
      headers: ["run", ...dims.map((d) => DIM_LABEL[d])],
      rows: genRuns.map((r) => [runName(r.run), ...dims.map((d) => num3(r.generation!.byDimension[d]?.withHistory.mean))]),
    });
  }
  const stRuns = report.perRun.filter((r) => r.steerability);
  if (stRuns.length) {
    out.push({
      title: "Counterfactual steerability: share of responses whose own user's rubric scores highest (chance = 1/3), [95% CI]; margin = mean diagonal - off-diagonal score",
      headers: ["run", "dimension", "steerability", "margin", "instructions"],
      rows: stRuns.flatMap((r) =>
        Object.entries(r.steerability!.byDimension).map(([d, x]) => [runName(r.run), d, `${num3(x.steerability)} [${num3(x.ci[0])}, ${num3(x.ci[1])}]`, num3(x.margin), String(x.instructions)]),
      ),
    });
  }
  return out;
}

function provenanceLines(report: Report): string[] {
  return report.runs.map((r) => {
    const parts = [
      `${r.label}: ${r.kind}`,
      `status ${r.status}`,
      `provider ${r.provider ?? "-"}`,
      `model ${r.model ?? "-"}`,
      `params ${JSON.stringify(r.params)}`,
      `seed ${r.seed ?? "-"}`,
      `dataset ${r.datasetManifestHash?.slice(0, 12) ?? "-"}`,
      `templates ${r.templateHash?.slice(0, 12) ?? "-"}`,
      `tokens ${r.tokenizer ? `${r.tokenizer.name}${r.tokenizer.exact ? "" : " (estimate)"}` : "-"}`,
    ];
    if (r.source) parts.push(`judged run ${r.source.runDir}`);
    return parts.join(", ");
  });
}

function md(t: Table): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  return [`**${t.title}**`, "", `| ${t.headers.map(esc).join(" | ")} |`, `| ${t.headers.map(() => "---").join(" | ")} |`, ...t.rows.map((r) => `| ${r.map(esc).join(" | ")} |`)].join("\n");
}

function csvCell(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function formatReport(report: Report, format: "md" | "csv" | "json" | "text"): string {
  if (format === "json") {
    const { perRun, ...rest } = report;
    return JSON.stringify({ ...rest, perRun }, (_k, v: unknown) => (typeof v === "number" && Number.isNaN(v) ? null : v), 2) + "\n";
  }
  const ts = tables(report);
  if (format === "csv") {
    return ts.map((t) => [csvCell(t.title), t.headers.map(csvCell).join(","), ...t.rows.map((r) => r.map(csvCell).join(","))].join("\n")).join("\n\n") + "\n";
  }
  if (format === "md") {
    return [...ts.map(md), "**Runs**", "", ...provenanceLines(report).map((l) => `- ${l}`)].join("\n\n") + "\n";
  }
  const text = ts.map((t) => {
    const widths = t.headers.map((h, i) => Math.max(h.length, ...t.rows.map((r) => (r[i] ?? "").length)));
    const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
    return [t.title, line(t.headers), widths.map((w) => "-".repeat(w)).join("  "), ...t.rows.map(line)].join("\n");
  });
  return [...text, "Runs:", ...provenanceLines(report).map((l) => `  ${l}`)].join("\n\n") + "\n";
}
