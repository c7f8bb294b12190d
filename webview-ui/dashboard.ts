/**
 * The results dashboard (viewType `preflab.dashboard`): the paper-style tables of a Report
 * (src/core/metrics/report.ts) with their confidence intervals, bar charts with error bars,
 * run comparison (McNemar for reward-model runs, paired bootstrap for judge runs; the host
 * computes) and export to CSV / Markdown (the host writes the file). The tables themselves are
 * lib/report-view.ts (shared with the experiment dashboard).
 */
import { DASHBOARD_HOST_TYPES } from "../src/protocol/webview-schema.js";
import { DashboardHostMessageSchema } from "../src/protocol/webview-host-schema.js";
import "@vscode-elements/elements/dist/vscode-button/index.js";
import "@vscode-elements/elements/dist/vscode-option/index.js";
import "@vscode-elements/elements/dist/vscode-single-select/index.js";
import "./styles/common.css";
import "./styles/dashboard.css";
import type { VscodeSingleSelect } from "@vscode-elements/elements/dist/vscode-single-select/vscode-single-select.js";
import { type DashboardHostMessage, type DashboardModel, type DashboardWebviewMessage, type DashboardWebviewState, type Report, type RunComparison, type RunProvenance } from "../src/protocol/webview.js";
import { connect, persistScroll, showStatus } from "./lib/vscode-api.js";
import { h } from "./lib/dom.js";
import { comparisonTable, generationSections, rmSections, steerabilitySection, table, who } from "./lib/report-view.js";

const host = connect<DashboardHostMessage, DashboardWebviewMessage, DashboardWebviewState>(DASHBOARD_HOST_TYPES, DashboardHostMessageSchema);
const saved: DashboardWebviewState = host.getState() ?? {};

let model: DashboardModel | null = null;
let comparisons: RunComparison[] = [];
let restoreScroll: number | null = saved.scrollY ?? null;

// ---- Shell

const app = document.getElementById("app") ?? document.body.appendChild(h("div", { id: "app" }));
const refreshBtn = h("vscode-button", { id: "refresh", secondary: true, title: "Re-read the runs" }, "Refresh");
const csvBtn = h("vscode-button", { id: "export-csv", secondary: true, "aria-label": "Export tables as CSV" }, "Export CSV");
const mdBtn = h("vscode-button", { id: "export-md", secondary: true, "aria-label": "Export tables as Markdown" }, "Export Markdown");
const status = h("div", { id: "status", class: "status", role: "status", "aria-live": "polite" });
const content = h("main", { id: "content", "aria-busy": "true" }, h("p", { class: "muted" }, "Waiting for results…"));
app.replaceChildren(h("nav", { class: "toolbar", "aria-label": "Dashboard actions" }, h("h1", { class: "title" }, "Preflab results"), h("span", { class: "spacer" }), refreshBtn, csvBtn, mdBtn), status, content);

refreshBtn.addEventListener("click", () => {
  setStatus("Refreshing…");
  host.post({ type: "refresh" });
});
csvBtn.addEventListener("click", () => host.post({ type: "export", format: "csv" }));
mdBtn.addEventListener("click", () => host.post({ type: "export", format: "md" }));

persistScroll(host, () => model !== null);

function setStatus(text: string, error = false): void {
  showStatus(status, text, error);
}

function runsTable(report: Report): HTMLElement {
  const rows = report.runs.map((r) => {
    const open = h("vscode-button", { secondary: true, class: "open-run", "aria-label": `Open run ${r.label}` }, "Open");
    open.addEventListener("click", () => host.post({ type: "openRun", runDir: r.dir }));
    return [
      h("span", { title: r.dir }, r.label),
      r.kind,
      who(r),
      h("span", { class: `badge status-${r.status.replace(/\s+/g, "-")}` }, r.status),
      String(r.items),
      r.seed === null ? "–" : String(r.seed),
      h("span", { class: "mono", title: r.datasetManifestHash ?? "" }, r.datasetManifestHash?.slice(0, 12) ?? "–"),
      h("span", { class: "mono", title: r.templateHash ?? "" }, r.templateHash?.slice(0, 12) ?? "–"),
      open,
    ];
  });
  return table(
    "runs",
    "Runs",
    [{ label: "run" }, { label: "kind" }, { label: "provider/model" }, { label: "status" }, { label: "items", num: true }, { label: "seed", num: true }, { label: "dataset" }, { label: "templates" }, { label: "" }],
    rows,
  );
}

// ---- Comparison

const comparable = (r: RunProvenance) => r.kind === "rm" || r.kind === "judge";

function select(id: string, label: string, runs: RunProvenance[], value: string | undefined): VscodeSingleSelect {
  const sel = h("vscode-single-select", { id, "aria-label": label });
  for (const r of runs) sel.append(h("vscode-option", { value: r.dir, selected: r.dir === value, description: `${r.kind} · ${who(r)}` }, `${r.label} (${r.kind})`));
  return sel;
}

function comparisonSection(report: Report): HTMLElement {
  const runs = report.runs.filter(comparable);
  const section = h("section", { id: "compare", class: "table-section", "aria-labelledby": "compare-h" }, h("h2", { id: "compare-h" }, "Compare two runs"));
  if (runs.length < 2) {
    section.append(h("p", { class: "muted" }, "Open two reward-model runs or two judge runs on the same dataset to compare them (McNemar's exact test / paired bootstrap)."));
    return section;
  }
  const a0 = runs.find((r) => r.dir === saved.compareA)?.dir ?? runs[0]!.dir;
  const b0 = runs.find((r) => r.dir === saved.compareB && r.dir !== a0)?.dir ?? runs.find((r) => r.dir !== a0 && r.kind === runs.find((x) => x.dir === a0)!.kind)?.dir ?? runs[1]!.dir;
  const selA = select("compare-a", "Run A", runs, a0);
  const selB = select("compare-b", "Run B", runs, b0);
  const go = h("vscode-button", { id: "compare-go" }, "Compare");
  const msg = h("span", { class: "status compare-msg", role: "status" });
  go.addEventListener("click", () => {
    const A = runs.find((r) => r.dir === selA.value);
    const B = runs.find((r) => r.dir === selB.value);
    if (!A || !B) return;
    if (A.dir === B.dir) {
      msg.textContent = "Pick two different runs.";
      msg.classList.add("error");
      return;
    }
    if (A.kind !== B.kind) {
      msg.textContent = `Cannot compare a ${A.kind} run with a ${B.kind} run.`;
      msg.classList.add("error");
      return;
    }
    msg.textContent = "Comparing…";
    msg.classList.remove("error");
    host.patchState({ compareA: A.dir, compareB: B.dir });
    host.post({ type: "compare", runA: A.dir, runB: B.dir });
  });
  section.append(
    h("div", { class: "compare-form" }, h("label", { for: "compare-a" }, "A"), selA, h("label", { for: "compare-b" }, "B"), selB, go, msg),
    h("div", { id: "comparisons" }, comparisons.map((c) => comparisonTable(report, c))),
  );
  return section;
}

// ---- Render

function render(m: DashboardModel): void {
  model = m;
  comparisons = m.comparisons ? [...m.comparisons] : comparisons;
  const r = m.report;
  const sections: HTMLElement[] = [];
  if (r.runs.length === 0) sections.push(h("p", { class: "muted" }, "No runs in this report. Run an evaluation, then open its results."));
  else sections.push(runsTable(r), ...rmSections(r), ...generationSections(r), ...steerabilitySection(r), comparisonSection(r));
  content.replaceChildren(...sections);
  content.setAttribute("aria-busy", "false");
  setStatus("");
  if (restoreScroll !== null) {
    const y = restoreScroll;
    restoreScroll = null;
    requestAnimationFrame(() => window.scrollTo(0, y));
  }
}

function addComparison(c: RunComparison): void {
  comparisons = [c, ...comparisons.filter((x) => !(x.runA === c.runA && x.runB === c.runB))];
  if (!model) return;
  const holder = document.getElementById("comparisons");
  holder?.replaceChildren(...comparisons.map((x) => comparisonTable(model!.report, x)));
  const msg = document.querySelector(".compare-msg");
  if (msg) {
    msg.textContent = "";
    msg.classList.remove("error");
  }
}

host.onMessage((msg) => {
  switch (msg.type) {
    case "report":
      render(msg.model);
      break;
    case "loading":
      setStatus("Loading results…");
      content.setAttribute("aria-busy", "true");
      break;
    case "comparison":
      addComparison(msg.comparison);
      break;
    case "comparisonError": {
      const el = document.querySelector(".compare-msg");
      if (el) {
        el.textContent = msg.message;
        el.classList.add("error");
      } else setStatus(msg.message, true);
      break;
    }
    case "exported":
      setStatus(`Exported ${msg.format === "csv" ? "CSV" : "Markdown"} to ${msg.path}`);
      break;
    case "error":
      setStatus(msg.message, true);
      content.setAttribute("aria-busy", "false");
      break;
  }
});

host.post({ type: "ready" });
