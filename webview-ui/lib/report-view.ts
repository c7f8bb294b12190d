/**
 * The paper-style report tables (src/core/metrics/report.ts's Report) as DOM: Table 1 (reward-model
 * accuracy), Table 2 / 3 (judge scores without / with H), steerability, with their bar charts, and
 * a paired-test table for a run comparison. Shared by the results dashboard (dashboard.ts) and the
 * experiment dashboard (experiment.ts). Every text goes in through h() as text (lib/dom.ts).
 */
import { DIMENSION_ORDER, type ComparisonResult, type Dimension, type Report, type RunComparison, type RunProvenance } from "../../src/protocol/webview.js";
import { DIM_SHORT, h, type Child } from "./dom.js";
import { barChart } from "./chart.js";

// ---- Formatting (as src/core/metrics/report.ts prints)

export const ok = (x: number | null | undefined): x is number => x !== null && x !== undefined && Number.isFinite(x);
export const pct = (x: number | null | undefined) => (ok(x) ? (100 * x).toFixed(2) : "–");
export const num3 = (x: number | null | undefined) => (ok(x) ? x.toFixed(3) : "–");
export const pval = (x: number | null | undefined) => (ok(x) ? (x < 1e-4 ? x.toExponential(1) : x.toFixed(4)) : "–");
export const ciText = (ci: [number | null, number | null] | null | undefined, f: (x: number | null) => string) => (ci && ok(ci[0]) && ok(ci[1]) ? ` [${f(ci[0])}, ${f(ci[1])}]` : "");
export const who = (r: RunProvenance) => (r.kind === "judge" ? `${r.source?.provider ?? "?"}/${r.source?.model ?? "?"}` : `${r.provider ?? "?"}/${r.model ?? "?"}`);
export const runName = (r: RunProvenance) => `${r.label} (${who(r)})${r.protocol?.oracle === true ? " [w/ preference]" : ""}`;

// ---- Tables

export interface Col {
  label: string;
  num?: boolean;
}

export function table(id: string, caption: string, cols: Col[], rows: Child[][], note?: string): HTMLElement {
  return h(
    "section",
    { class: "table-section", id, "aria-labelledby": `${id}-h` },
    h("h2", { id: `${id}-h` }, caption),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "grid", "aria-labelledby": `${id}-h` },
        h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col", class: c.num ? "num" : null }, c.label)))),
        h("tbody", {}, rows.map((r) => h("tr", {}, r.map((cell, i) => (i === 0 ? h("th", { scope: "row" }, cell) : h("td", { class: cols[i]?.num ? "num" : null }, cell)))))),
      ),
    ),
    note ? h("p", { class: "muted note" }, note) : null,
  );
}

export function dimsOf(objs: (Partial<Record<Dimension, unknown>> | undefined)[]): Dimension[] {
  return DIMENSION_ORDER.filter((d) => objs.some((o) => o?.[d] !== undefined));
}

export function rmSections(report: Report): HTMLElement[] {
  const runs = report.perRun.filter((r) => r.rm);
  if (!runs.length) return [];
  const dims = dimsOf(runs.map((r) => r.rm!.byDimension));
  const t1 = table(
    "table1",
    "Table 1. Reward-model accuracy (%) given the feedback history, [95% CI]; random guess = 50",
    [{ label: "run" }, ...dims.map((d) => ({ label: DIM_SHORT[d] ?? d, num: true })), { label: "overall", num: true }],
    runs.map((r) => [
      runName(r.run),
      ...dims.map((d) => {
        const x = r.rm!.byDimension[d];
        return x ? `${pct(x.accuracy)}${ciText(x.ci, pct)}` : "–";
      }),
      `${pct(r.rm!.overall.accuracy)}${ciText(r.rm!.overall.ci, pct)}`,
    ]),
  );
  t1.append(
    barChart({
      title: "Reward-model accuracy by dimension (%), 95% CI",
      series: runs.map((r) => runName(r.run)),
      groups: dims.map((d) => ({
        label: DIM_SHORT[d] ?? d,
        bars: runs.map((r) => {
          const x = r.rm!.byDimension[d];
          return x ? { value: ok(x.accuracy) ? 100 * x.accuracy : null, lo: ok(x.ci[0]) ? 100 * x.ci[0] : null, hi: ok(x.ci[1]) ? 100 * x.ci[1] : null } : null;
        }),
      })),
      min: 0,
      max: 100,
      reference: { value: 50, label: "random = 50" },
      format: (x) => x.toFixed(0),
      yLabel: "accuracy %",
    }),
  );
  const details = table(
    "rm-details",
    "Reward-model details per dimension",
    [{ label: "run" }, { label: "dimension" }, { label: "n", num: true }, { label: "consistent acc. (%)", num: true }, { label: "A rate (%)", num: true }, { label: "unparsable", num: true }, { label: "failed", num: true }, { label: "missing", num: true }],
    runs.flatMap((r) =>
      dims
        .filter((d) => r.rm!.byDimension[d])
        .map((d) => {
          const x = r.rm!.byDimension[d]!;
          return [runName(r.run), d, String(x.n), pct(x.consistentAccuracy), pct(x.aRate), String(x.unparsable), String(x.failed), String(x.missing)];
        }),
    ),
    "Consistent: right in both A/B orders. A rate: share of verdicts that chose A (0.5 = no position bias).",
  );
  return [t1, details];
}

export function generationSections(report: Report): HTMLElement[] {
  const runs = report.perRun.filter((r) => r.generation);
  if (!runs.length) return [];
  const t2 = table(
    "table2",
    "Table 2. Judge score (1-5) without and with the feedback history H, relative delta",
    [{ label: "run" }, { label: "dimension" }, { label: "without H", num: true }, { label: "with H", num: true }, { label: "delta score", num: true }, { label: "p (paired)", num: true }],
    runs.flatMap((r) =>
      DIMENSION_ORDER.filter((d) => r.generation!.byDimension[d]).map((d) => {
        const x = r.generation!.byDimension[d]!;
        const delta = ok(x.delta) ? h("span", { class: x.delta > 0 ? "up" : x.delta < 0 ? "down" : "" }, `${x.delta > 0 ? "+" : ""}${(100 * x.delta).toFixed(2)}%`) : "–";
        return [runName(r.run), d, `${num3(x.withoutHistory.mean)}${ciText(x.withoutHistory.ci, num3)}`, `${num3(x.withHistory.mean)}${ciText(x.withHistory.ci, num3)}`, delta, pval(x.pValue)];
      }),
    ),
  );
  for (const r of runs) {
    const dims = dimsOf([r.generation!.byDimension]);
    t2.append(
      barChart({
        title: `${runName(r.run)}: judge score without / with H, 95% CI`,
        series: ["without H", "with H"],
        groups: dims.map((d) => {
          const x = r.generation!.byDimension[d]!;
          return {
            label: DIM_SHORT[d] ?? d,
            bars: [
              { value: x.withoutHistory.mean, lo: x.withoutHistory.ci[0], hi: x.withoutHistory.ci[1] },
              { value: x.withHistory.mean, lo: x.withHistory.ci[0], hi: x.withHistory.ci[1] },
            ],
          };
        }),
        min: 1,
        max: 5,
        format: (x) => x.toFixed(1),
        yLabel: "score",
      }),
    );
  }
  const dims = dimsOf(runs.map((r) => r.generation!.byDimension));
  const t3 = table(
    "table3",
    "Table 3. Judge score (1-5) with H, runs side by side",
    [{ label: "run" }, ...dims.map((d) => ({ label: DIM_SHORT[d] ?? d, num: true }))],
    runs.map((r) => [runName(r.run), ...dims.map((d) => num3(r.generation!.byDimension[d]?.withHistory.mean))]),
  );
  if (runs.length > 1) {
    t3.append(
      barChart({
        title: "Judge score with H by run, 95% CI",
        series: runs.map((r) => runName(r.run)),
        groups: dims.map((d) => ({
          label: DIM_SHORT[d] ?? d,
          bars: runs.map((r) => {
            const x = r.generation!.byDimension[d];
            return x ? { value: x.withHistory.mean, lo: x.withHistory.ci[0], hi: x.withHistory.ci[1] } : null;
          }),
        })),
        min: 1,
        max: 5,
        format: (x) => x.toFixed(1),
        yLabel: "score",
      }),
    );
  }
  return [t2, t3];
}

export function steerabilitySection(report: Report): HTMLElement[] {
  const runs = report.perRun.filter((r) => r.steerability);
  if (!runs.length) return [];
  const t = table(
    "steerability",
    "Counterfactual steerability: share of responses whose own user's rubric scores highest (chance = 1/3), [95% CI]",
    [{ label: "run" }, { label: "dimension" }, { label: "steerability", num: true }, { label: "margin", num: true }, { label: "instructions", num: true }],
    runs.flatMap((r) =>
      DIMENSION_ORDER.filter((d) => r.steerability!.byDimension[d]).map((d) => {
        const x = r.steerability!.byDimension[d]!;
        return [runName(r.run), d, `${num3(x.steerability)}${ciText(x.ci, num3)}`, num3(x.margin), String(x.instructions)];
      }),
    ),
    "Margin = mean diagonal minus mean off-diagonal score of the 3×3 (response × rubric) matrix.",
  );
  const dims = dimsOf(runs.map((r) => r.steerability!.byDimension));
  t.append(
    barChart({
      title: "Steerability by dimension, 95% CI",
      series: runs.map((r) => runName(r.run)),
      groups: dims.map((d) => ({
        label: DIM_SHORT[d] ?? d,
        bars: runs.map((r) => {
          const x = r.steerability!.byDimension[d];
          return x ? { value: x.steerability, lo: x.ci[0], hi: x.ci[1] } : null;
        }),
      })),
      min: 0,
      max: 1,
      reference: { value: 1 / 3, label: "chance = 1/3" },
      format: (x) => x.toFixed(2),
    }),
  );
  return [t];
}

export function comparisonTable(report: Report, c: RunComparison): HTMLElement {
  const name = (dir: string) => {
    const r = report.runs.find((x) => x.dir === dir);
    return r ? r.label : dir;
  };
  const res: ComparisonResult = c.result;
  const rows: Child[][] = [];
  const dims = DIMENSION_ORDER.filter((d) => res.byDimension[d]);
  if (res.kind === "rm") {
    const row = (label: string, x: (typeof res)["overall"]) => [label, pct(x.accuracyA), pct(x.accuracyB), String(x.b), String(x.c), String(x.n), sig(x.pValue)];
    for (const d of dims) rows.push(row(d, res.byDimension[d]!));
    rows.push(row("overall", res.overall));
    return table(
      `cmp-${cssId(c.runA)}-${cssId(c.runB)}`,
      `${name(c.runA)} vs ${name(c.runB)}: reward-model accuracy, McNemar's exact test`,
      [{ label: "dimension" }, { label: "A acc. (%)", num: true }, { label: "B acc. (%)", num: true }, { label: "A right, B wrong", num: true }, { label: "A wrong, B right", num: true }, { label: "n", num: true }, { label: "p", num: true }],
      rows,
    );
  }
  const row = (label: string, x: (typeof res)["overall"]) => [label, num3(x.meanA), num3(x.meanB), `${num3(x.meanDiff)}${ciText([x.ci.lo, x.ci.hi], num3)}`, String(x.n), sig(x.pValue)];
  for (const d of dims) rows.push(row(d, res.byDimension[d]!));
  rows.push(row("overall", res.overall));
  return table(
    `cmp-${cssId(c.runA)}-${cssId(c.runB)}`,
    `${name(c.runA)} vs ${name(c.runB)}: judge score, paired bootstrap`,
    [{ label: "dimension" }, { label: "A mean", num: true }, { label: "B mean", num: true }, { label: "B − A [95% CI]", num: true }, { label: "n", num: true }, { label: "p", num: true }],
    rows,
  );
}

export function sig(p: number): HTMLElement {
  return h("span", { class: ok(p) && p < 0.05 ? "sig" : "", title: ok(p) && p < 0.05 ? "p < 0.05" : "" }, pval(p));
}

export function cssId(dir: string): string {
  let x = 0;
  for (let i = 0; i < dir.length; i++) x = (x * 31 + dir.charCodeAt(i)) >>> 0;
  return x.toString(36);
}
