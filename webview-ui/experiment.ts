/**
 * The experiment dashboard (viewType `preflab.experiment`): one experiment file's report over all
 * its cells (src/app/experiment.ts experimentReportModel): every cell with its status, tokens
 * (input, cached, output), dollars and headline metric; the paper's tables of the cells that ran,
 * side by side (lib/report-view.ts, as the results dashboard draws them); the paired tests between
 * cells of one evaluation; the rs / export cells' counts, acceptance and output files. The host
 * re-sends the model when a cell starts or finishes. Cell names, models, headlines and every text
 * from run folders are untrusted: they go in as text (lib/dom.ts), never as HTML.
 */
import { EXPERIMENT_HOST_TYPES } from "../src/protocol/webview-schema.js";
import { ExperimentHostMessageSchema } from "../src/protocol/webview-host-schema.js";
import "@vscode-elements/elements/dist/vscode-button/index.js";
import "./styles/common.css";
import "./styles/dashboard.css";
import "./styles/experiment.css";
import type { ExperimentCellView, ExperimentDashboardModel, ExperimentHostMessage, ExperimentWebviewMessage, ExperimentWebviewState, Report } from "../src/protocol/webview.js";
import { connect, persistScroll, showStatus } from "./lib/vscode-api.js";
import { h, type Child } from "./lib/dom.js";
import { comparisonTable, generationSections, num3, rmSections, steerabilitySection, table } from "./lib/report-view.js";

const host = connect<ExperimentHostMessage, ExperimentWebviewMessage, ExperimentWebviewState>(EXPERIMENT_HOST_TYPES, ExperimentHostMessageSchema);
const saved: ExperimentWebviewState = host.getState() ?? {};

let model: ExperimentDashboardModel | null = null;
let restoreScroll: number | null = saved.scrollY ?? null;

const int = (n: number) => n.toLocaleString("en-US");
const usd = (x: number) => `$${x > 0 && x < 0.01 ? x.toFixed(4) : x.toFixed(2)}`;
const costOf = (c: ExperimentCellView) => (!c.usage ? "–" : c.usage.costUsd === null ? "price unknown" : usd(c.usage.costUsd));

// ---- Shell

const app = document.getElementById("app") ?? document.body.appendChild(h("div", { id: "app" }));
const title = h("h1", { class: "title", id: "title" }, "Preflab experiment");
const refreshBtn = h("vscode-button", { id: "refresh", secondary: true, title: "Re-read the experiment's cells" }, "Refresh");
const status = h("div", { id: "status", class: "status", role: "status", "aria-live": "polite" });
const content = h("main", { id: "content", "aria-busy": "true" }, h("p", { class: "muted" }, "Waiting for the experiment…"));
app.replaceChildren(h("nav", { class: "toolbar", "aria-label": "Experiment actions" }, title, h("span", { class: "spacer" }), refreshBtn), status, content);

refreshBtn.addEventListener("click", () => {
  setStatus("Refreshing…");
  host.post({ type: "refresh" });
});
persistScroll(host, () => model !== null);

function setStatus(text: string, error = false): void {
  showStatus(status, text, error);
}

function button(label: string, aria: string, cls: string, onClick: () => void): HTMLElement {
  const b = h("vscode-button", { secondary: true, class: cls, "aria-label": aria }, label);
  b.addEventListener("click", onClick);
  return b;
}

// ---- Cells

function cellsTable(m: ExperimentDashboardModel): HTMLElement {
  const rows: Child[][] = m.cells.map((c) => {
    const actions: Child[] = [];
    if (c.runDir && (c.kind === "rm" || c.kind === "generate" || c.kind === "judge")) actions.push(button("Open", `Open cell ${c.name}`, "open-cell", () => host.post({ type: "openCell", cell: c.name })));
    if (c.status !== "finished" && c.status !== "running" && c.status !== "settings changed") actions.push(button(c.status === "not started" ? "Run" : "Resume", `Run cell ${c.name}`, "run-cell", () => host.post({ type: "runCell", cell: c.name })));
    const model = c.judgeModel ? `${c.model} judged by ${c.judgeModel}` : c.model;
    return [
      h("span", { title: c.dir }, c.name),
      c.kind,
      model,
      h("span", { class: `badge status-${c.status.replace(/[^a-z]+/gi, "-")}` }, c.status),
      c.usage ? int(c.usage.requests) : "–",
      c.usage ? int(c.usage.inputTokens) : "–",
      c.usage ? int(c.usage.cachedInputTokens) : "–",
      c.usage ? int(c.usage.outputTokens) : "–",
      costOf(c),
      h("span", { class: "headline" }, c.headline ?? "–"),
      h("span", { class: "actions" }, actions),
    ];
  });
  const used = m.cells.filter((c) => c.usage);
  const unknown = used.filter((c) => c.usage!.costUsd === null);
  const sum = (f: (c: ExperimentCellView) => number) => int(used.reduce((a, c) => a + f(c), 0));
  const totalUsd = used.reduce((a, c) => a + (c.usage!.costUsd ?? 0), 0);
  rows.push([
    "total",
    "",
    "",
    `${m.cells.filter((c) => c.status === "finished").length}/${m.cells.length} finished`,
    sum((c) => c.usage!.requests),
    sum((c) => c.usage!.inputTokens),
    sum((c) => c.usage!.cachedInputTokens),
    sum((c) => c.usage!.outputTokens),
    `${usd(totalUsd)}${unknown.length ? ` + price unknown (${unknown.length})` : ""}`,
    "",
    "",
  ]);
  const t = table(
    "cells",
    "Cells",
    [
      { label: "cell" },
      { label: "kind" },
      { label: "model" },
      { label: "status" },
      { label: "requests", num: true },
      { label: "input tokens", num: true },
      { label: "cached tokens", num: true },
      { label: "output tokens", num: true },
      { label: "cost", num: true },
      { label: "headline" },
      { label: "" },
    ],
    rows,
    "Tokens and dollars from each cell's run.json (actual usage; cached = read from the provider's prompt cache). An export cell sends nothing.",
  );
  t.querySelector("tbody tr:last-child")?.classList.add("total-row");
  return t;
}

// ---- Paired tests between cells

function pairedSection(m: ExperimentDashboardModel, report: Report): HTMLElement | null {
  if (!m.comparisons.length) return null;
  const dirOf = (name: string) => m.cells.find((c) => c.name === name)?.dir ?? name;
  return h(
    "section",
    { id: "paired", class: "table-section", "aria-labelledby": "paired-h" },
    h("h2", { id: "paired-h" }, "Paired tests between cells (McNemar's exact test for reward-model cells, paired bootstrap for judge cells)"),
    m.comparisons.map((c) => comparisonTable(report, { runA: dirOf(c.a), runB: dirOf(c.b), result: c.result })),
  );
}

// ---- Fine-tuning data (rs, export)

function finetuneSection(m: ExperimentDashboardModel): HTMLElement | null {
  const cells = m.cells.filter((c) => c.kind === "rs" || c.kind === "export");
  if (!cells.length) return null;
  const files = (c: ExperimentCellView) =>
    h(
      "span",
      { class: "files" },
      (c.finetune?.files ?? []).map((f) => button(f, `Open ${f} of ${c.name}`, "open-file", () => host.post({ type: "openFile", cell: c.name, file: f }))),
    );
  const parts: HTMLElement[] = [];
  const rs = cells.filter((c) => c.kind === "rs");
  if (rs.length) {
    parts.push(
      table(
        "rs",
        "Rejection sampling: kept / dropped per part by reward margin",
        [{ label: "cell" }, { label: "status" }, { label: "part" }, { label: "examples", num: true }, { label: "scored", num: true }, { label: "kept", num: true }, { label: "dropped", num: true }, { label: "acceptance (%)", num: true }, { label: "threshold", num: true }, { label: "files" }],
        rs.flatMap((c): Child[][] => {
          const r = c.finetune?.rs;
          if (!r) return [[c.name, c.status, "–", "–", "–", "–", "–", "–", "–", ""]];
          return [
            ...r.byPart.map((p) => [c.name, c.status, p.part, int(p.examples), int(p.scored), int(p.kept), int(p.dropped), p.examples ? ((100 * p.kept) / p.examples).toFixed(1) : "–", num3(p.threshold), ""]),
            [c.name, c.status, "all", int(c.finetune!.counts.examples ?? 0), int(c.finetune!.counts.scored ?? 0), int(c.finetune!.counts.kept ?? 0), int(c.finetune!.counts.dropped ?? 0), c.finetune!.counts.examples ? ((100 * (c.finetune!.counts.kept ?? 0)) / c.finetune!.counts.examples).toFixed(1) : "–", `mean margin ${num3(r.meanMargin)}`, files(c)],
          ];
        }),
        "Each part keeps its own top p by margin = reward(chosen) − reward(rejected); examples without a margin (failed requests, over budget) are not kept.",
      ),
    );
  }
  const ex = cells.filter((c) => c.kind === "export");
  if (ex.length) {
    parts.push(
      table(
        "export",
        "Fine-tuning files",
        [{ label: "cell" }, { label: "status" }, { label: "format" }, { label: "examples", num: true }, { label: "written", num: true }, { label: "not kept by rs", num: true }, { label: "over budget", num: true }, { label: "kept by" }, { label: "files" }],
        ex.map((c) => {
          const e = c.finetune?.export;
          const n = c.finetune?.counts ?? {};
          return [c.name, c.status, e ? `${e.format}/${e.target}` : "–", e ? int(n.examples ?? 0) : "–", e ? int(n.written ?? 0) : "–", e ? int(n.filteredOut ?? 0) : "–", e ? int(n.overBudget ?? 0) : "–", e?.keptFrom ?? "–", files(c)];
        }),
      ),
    );
  }
  return h("section", { id: "finetune", class: "table-section", "aria-labelledby": "finetune-h" }, h("h2", { id: "finetune-h" }, "Fine-tuning data (rs, export)"), parts);
}

// ---- Render

function render(m: ExperimentDashboardModel): void {
  model = m;
  host.patchState({ file: m.file });
  title.textContent = `Experiment: ${m.name}`;
  title.setAttribute("title", m.file);
  const sections: (HTMLElement | null)[] = [h("p", { class: "muted file" }, `${m.file} → ${m.out}`), cellsTable(m)];
  if (m.report) sections.push(...rmSections(m.report), ...generationSections(m.report), ...steerabilitySection(m.report), pairedSection(m, m.report));
  else sections.push(h("p", { class: "muted", id: "no-report" }, "No evaluation cell has run yet: run the experiment (or a cell) to see the tables."));
  sections.push(finetuneSection(m));
  content.replaceChildren(...sections.filter((x): x is HTMLElement => x !== null));
  content.setAttribute("aria-busy", "false");
  setStatus("");
  if (restoreScroll !== null) {
    const y = restoreScroll;
    restoreScroll = null;
    requestAnimationFrame(() => window.scrollTo(0, y));
  }
}

host.onMessage((msg) => {
  switch (msg.type) {
    case "experiment":
      render(msg.model);
      break;
    case "loading":
      setStatus("Loading the experiment…");
      content.setAttribute("aria-busy", "true");
      break;
    case "error":
      setStatus(msg.message, true);
      content.setAttribute("aria-busy", "false");
      break;
  }
});

host.post({ type: "ready" });
