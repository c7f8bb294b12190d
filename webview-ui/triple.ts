/**
 * The counterfactual triple panel (viewType `preflab.triple`): the instruction on top, one column
 * per member with the member's preference on the selected dimension, the user's feedback history
 * (expandable), the golden response and each run's output for that user. Messages follow
 * src/protocol/webview.ts; UI state survives reloads through getState/setState.
 */
import { TRIPLE_HOST_TYPES } from "../src/protocol/webview-schema.js";
import { TripleHostMessageSchema } from "../src/protocol/webview-host-schema.js";
import "@vscode-elements/elements/dist/vscode-button/index.js";
import "@vscode-elements/elements/dist/vscode-collapsible/index.js";
import "@vscode-elements/elements/dist/vscode-tab-header/index.js";
import "@vscode-elements/elements/dist/vscode-tab-panel/index.js";
import "@vscode-elements/elements/dist/vscode-tabs/index.js";
import "@vscode-elements/elements/dist/vscode-textfield/index.js";
import "./styles/common.css";
import "./styles/triple.css";
import type { VscodeTabs } from "@vscode-elements/elements/dist/vscode-tabs/vscode-tabs.js";
import {
  DIMENSION_ORDER,
  type Dimension,
  type GenerationOutput,
  type HistoryEntryView,
  type JudgeScoreView,
  type RmVerdictView,
  type RunOutputsView,
  type TripleHostMessage,
  type TripleSearchHit,
  type TripleViewModel,
  type TripleWebviewMessage,
  type TripleWebviewState,
  type UserView,
} from "../src/protocol/webview.js";
import { connect, persistScroll, showStatus } from "./lib/vscode-api.js";
import { clear, DIM_LABEL, h, type Child } from "./lib/dom.js";
import { renderMarkdown, routeLinks } from "./lib/markdown.js";

const host = connect<TripleHostMessage, TripleWebviewMessage, TripleWebviewState>(TRIPLE_HOST_TYPES, TripleHostMessageSchema);
const saved: TripleWebviewState = host.getState() ?? {};

let model: TripleViewModel | null = null;
let dimension: Dimension = saved.dimension ?? "style";
const openHistories = new Set<number>(saved.openHistories ?? []);
/** Scroll to restore once, when the saved triple is rendered again after a reload. */
let pendingScroll: { tripleId: string; y: number } | null = saved.tripleId && saved.scrollY ? { tripleId: saved.tripleId, y: saved.scrollY } : null;

const memberName = (j: number) => `Member ${j + 1}`;

// ---- Static shell

const app = document.getElementById("app") ?? document.body.appendChild(h("div", { id: "app" }));
const prevBtn = h("vscode-button", { id: "prev", secondary: true, "aria-label": "Previous triple", title: "Previous triple (Alt+Left)", disabled: true }, "◀ Previous");
const nextBtn = h("vscode-button", { id: "next", secondary: true, "aria-label": "Next triple", title: "Next triple (Alt+Right)", disabled: true }, "Next ▶");
const position = h("span", { id: "position", class: "position", "aria-live": "polite" });
const searchField = h("vscode-textfield", { id: "search", placeholder: "Search instruction text or triple id", "aria-label": "Search triples by instruction text or id" });
const searchBtn = h("vscode-button", { id: "search-go", secondary: true, "aria-label": "Search" }, "Search");
const hits = h("ul", { id: "hits", class: "hits", role: "listbox", "aria-label": "Matching triples", hidden: true });
const runsBtn = h("vscode-button", { id: "choose-runs", secondary: true, title: "Choose which runs' outputs to show" }, "Runs…");
const status = h("div", { id: "status", class: "status", role: "status", "aria-live": "polite" });
const content = h("main", { id: "content", "aria-busy": "true" });
app.replaceChildren(
  h("nav", { class: "toolbar", "aria-label": "Triple navigation" }, prevBtn, nextBtn, position, h("span", { class: "spacer" }), h("div", { class: "search" }, searchField, searchBtn, hits), runsBtn),
  status,
  content,
);
searchField.value = saved.query ?? "";
routeLinks(content, (href) => host.post({ type: "openLink", href }));

// ---- Navigation and search

function currentIndex(): number {
  return model ? model.tripleIds.indexOf(model.triple.id) : -1;
}

function navigate(direction: "prev" | "next"): void {
  if (!model) return;
  const i = currentIndex() + (direction === "prev" ? -1 : 1);
  const id = model.tripleIds[i];
  if (id === undefined) return;
  setStatus(`Loading ${id}…`);
  host.post({ type: "navigate", direction, tripleId: id });
}

function openTriple(id: string): void {
  closeHits();
  setStatus(`Loading ${id}…`);
  host.post({ type: "navigate", direction: "id", tripleId: id });
}

function search(): void {
  const q = searchField.value.trim();
  host.patchState({ query: q });
  if (!q) return closeHits();
  if (model?.tripleIds.includes(q)) return openTriple(q);
  host.post({ type: "search", query: q });
}

function closeHits(): void {
  hits.hidden = true;
  clear(hits);
}

function showHits(query: string, list: TripleSearchHit[], total: number): void {
  clear(hits);
  if (list.length === 0) hits.append(h("li", { class: "muted", role: "presentation" }, `No triple matches “${query}”.`));
  for (const hit of list) {
    const li = h("li", { role: "option", tabindex: "-1", "data-id": hit.id }, h("span", { class: "mono" }, hit.id), " ", h("span", { class: "hit-prompt" }, hit.prompt));
    li.addEventListener("click", () => openTriple(hit.id));
    hits.append(li);
  }
  if (total > list.length) hits.append(h("li", { class: "muted", role: "presentation" }, `${total - list.length} more; refine the search.`));
  hits.hidden = false;
  hits.querySelector<HTMLElement>("[role=option]")?.focus();
}

hits.addEventListener("keydown", (ev) => {
  const opts = Array.from(hits.querySelectorAll<HTMLElement>("[role=option]"));
  const i = opts.indexOf(document.activeElement as HTMLElement);
  if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
    ev.preventDefault();
    opts[Math.max(0, Math.min(opts.length - 1, i + (ev.key === "ArrowDown" ? 1 : -1)))]?.focus();
  } else if (ev.key === "Enter" && i >= 0) {
    ev.preventDefault();
    openTriple(opts[i]!.dataset.id!);
  } else if (ev.key === "Escape") {
    closeHits();
    searchField.focus();
  }
  ev.stopPropagation();
});

prevBtn.addEventListener("click", () => navigate("prev"));
nextBtn.addEventListener("click", () => navigate("next"));
searchBtn.addEventListener("click", search);
runsBtn.addEventListener("click", () => host.post({ type: "chooseRuns" }));
searchField.addEventListener("keydown", (ev) => {
  if (ev.key === "Enter") {
    ev.preventDefault();
    search();
  } else if (ev.key === "Escape") closeHits();
  ev.stopPropagation();
});

/** Arrow keys step through triples unless focus is in a control that uses them. */
document.addEventListener("keydown", (ev) => {
  if (ev.key !== "ArrowLeft" && ev.key !== "ArrowRight") return;
  const t = ev.target as HTMLElement | null;
  const inControl = t?.closest?.("vscode-textfield, vscode-tabs, vscode-tab-header, input, textarea, select, [role=listbox], pre, .md table");
  if (inControl && !ev.altKey) return;
  if (ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
  ev.preventDefault();
  navigate(ev.key === "ArrowLeft" ? "prev" : "next");
});

persistScroll(host, () => model !== null);

function setStatus(text: string, error = false): void {
  showStatus(status, text, error);
}

// ---- Rendering

let tabs: VscodeTabs | null = null;
let columns: HTMLElement | null = null;

function render(m: TripleViewModel): void {
  const restoring = pendingScroll?.tripleId === m.triple.id ? pendingScroll.y : null;
  const sameTriple = model?.triple.id === m.triple.id;
  pendingScroll = null;
  model = m;
  const dims = DIMENSION_ORDER;
  if (!dims.includes(dimension)) dimension = "style";
  const i = currentIndex();
  prevBtn.disabled = i <= 0;
  nextBtn.disabled = i < 0 || i >= m.tripleIds.length - 1;
  position.textContent = `Triple ${i + 1} of ${m.tripleIds.length}`;
  setStatus("");
  closeHits();

  const instruction = h("section", { class: "instruction", "aria-labelledby": "instruction-h" }, h("h2", { id: "instruction-h" }, "Instruction ", h("span", { class: "mono muted triple-id" }, m.triple.id)));
  instruction.append(renderMarkdown(h("div", { class: "prompt" }), m.triple.prompt));

  tabs = h("vscode-tabs", { id: "dimensions", "aria-label": "Dimension" });
  const panels: HTMLElement[] = [];
  for (const d of dims) {
    const n = (m.users[d] ?? []).filter(Boolean).length;
    tabs.append(h("vscode-tab-header", { slot: "header", "data-dimension": d }, DIM_LABEL[d] ?? d, n ? null : h("span", { class: "muted" }, " (no users)")));
    const panel = h("vscode-tab-panel", { "data-dimension": d });
    panels.push(panel);
    tabs.append(panel);
  }
  tabs.selectedIndex = dims.indexOf(dimension);
  tabs.addEventListener("vsc-tabs-select", (ev) => {
    const d = dims[(ev as CustomEvent<{ selectedIndex: number }>).detail.selectedIndex];
    if (!d || d === dimension) return;
    dimension = d;
    host.patchState({ dimension });
    host.post({ type: "selectDimension", dimension });
    placeColumns(panels);
  });
  content.replaceChildren(instruction, tabs, runsSummary(m));
  placeColumns(panels);
  content.setAttribute("aria-busy", "false");
  host.patchState({ tripleId: m.triple.id, dimension });
  if (restoring !== null) requestAnimationFrame(() => window.scrollTo(0, restoring));
  else if (!sameTriple) window.scrollTo(0, 0);
}

function runsSummary(m: TripleViewModel): HTMLElement {
  if (m.runs.length === 0) return h("p", { class: "muted runs-summary" }, "No runs shown. Use “Runs…” to add reward-model, generation or judge runs.");
  return h(
    "p",
    { class: "runs-summary" },
    "Runs: ",
    m.runs.map((r, k) => [k ? ", " : "", h("span", { class: "run-chip" }, r.run.label), h("span", { class: "muted" }, ` (${runWho(r)})`)]),
  );
}

function runWho(r: RunOutputsView): string {
  const who = (p: string | null, mo: string | null) => `${p ?? "?"}/${mo ?? "?"}`;
  if (r.run.kind === "judge") return `judge ${who(r.run.provider, r.run.model)} of ${r.run.source ? who(r.run.source.provider, r.run.source.model) : "?"}`;
  return `${r.run.kind} · ${who(r.run.provider, r.run.model)}`;
}

function placeColumns(panels: HTMLElement[]): void {
  if (!model) return;
  const m = model;
  columns = h("div", { class: "columns", role: "list", "aria-label": `Members on ${DIM_LABEL[dimension]}` });
  for (let j = 0; j < m.triple.members.length; j++) columns.append(renderColumn(m, j));
  for (const p of panels) p.replaceChildren();
  panels[DIMENSION_ORDER.indexOf(dimension)]?.append(columns);
}

function renderColumn(m: TripleViewModel, j: number): HTMLElement {
  const member = m.triple.members[j]!;
  const user: UserView | null = m.users[dimension]?.[j] ?? null;
  const pref = user?.preference ?? member.preference_set.find((e) => e.dimension === dimension) ?? null;
  const col = h("section", { class: "column", role: "listitem", "aria-label": `${memberName(j)}${pref ? `: ${pref.subdimension}` : ""}`, "data-member": j });
  col.append(h("h3", { class: "member-h" }, memberName(j), pref ? h("span", { class: "badge subdim" }, pref.subdimension) : null));
  if (pref) {
    col.append(h("p", { class: "preference" }, pref.preference));
    if (pref.description) col.append(h("details", { class: "pref-desc" }, h("summary", {}, "Description"), h("p", {}, pref.description)));
  } else col.append(h("p", { class: "muted" }, "No preference on this dimension."));
  col.append(user ? historyBlock(user, j) : h("p", { class: "muted no-user" }, "No synthetic user for this member on this dimension."));

  col.append(h("h4", {}, "Golden response"));
  col.append(renderMarkdown(h("div", { class: "golden" }), member.response));

  for (const r of m.runs) col.append(runBlock(r, user));
  return col;
}

function historyBlock(user: UserView, j: number): HTMLElement {
  const c = h("vscode-collapsible", { class: "history", heading: `Feedback history (${user.history.length} pairs)`, "data-user": user.id });
  let filled = false;
  const fill = () => {
    if (filled) return;
    filled = true;
    const list = h("ol", { class: "history-list" });
    user.history.forEach((e, k) => list.append(historyEntry(e, k)));
    c.append(list);
  };
  if (openHistories.has(j)) {
    c.open = true;
    fill();
  }
  c.addEventListener("vsc-collapsible-toggle", (ev) => {
    const open = (ev as CustomEvent<{ open: boolean }>).detail.open;
    if (open) {
      fill();
      openHistories.add(j);
    } else openHistories.delete(j);
    host.patchState({ openHistories: [...openHistories].sort() });
  });
  return c;
}

function historyEntry(e: HistoryEntryView, k: number): HTMLElement {
  const d = h(
    "details",
    { class: "history-entry" },
    h("summary", {}, h("span", { class: "badge", title: "Similarity of this pair's preference to the user's" }, e.score.toFixed(2)), ` #${k + 1} · ${e.preference.subdimension}: ${e.preference.preference}`),
  );
  let filled = false;
  d.addEventListener("toggle", () => {
    if (!d.open || filled) return;
    filled = true;
    d.append(
      h("div", { class: "h-prompt" }, h("strong", {}, "Instruction: "), e.prompt),
      h("div", { class: "h-side liked" }, h("h5", {}, "Liked"), renderMarkdown(h("div"), e.chosen)),
      h("div", { class: "h-side not-liked" }, h("h5", {}, "Not liked"), renderMarkdown(h("div"), e.rejected)),
    );
  });
  return d;
}

function runBlock(r: RunOutputsView, user: UserView | null): HTMLElement {
  const open = h("vscode-button", { secondary: true, class: "open-run", title: `Open ${r.run.dir}`, "aria-label": `Open run ${r.run.label}` }, "Open");
  open.addEventListener("click", () => host.post({ type: "openRun", runDir: r.run.dir }));
  const el = h(
    "article",
    { class: `run run-${r.run.kind}`, "data-run": r.run.dir, "aria-label": `Run ${r.run.label}` },
    h("header", { class: "run-h" }, h("h4", {}, r.run.label), h("span", { class: "muted" }, runWho(r)), open),
  );
  if (r.error) {
    el.append(h("p", { class: "status error" }, r.error));
    return el;
  }
  const out = user ? r.users[user.id] : undefined;
  const withoutH = r.withoutHistory;
  if (!out && !withoutH) {
    el.append(h("p", { class: "muted" }, user ? "No output for this user in this run." : "—"));
    return el;
  }
  if (out?.withHistory) el.append(generation("With history", out.withHistory, "gen-with"));
  if (out?.rm?.length) el.append(rmTable(out.rm));
  if (out?.judge?.length) el.append(judgeList(out.judge, user!.member));
  if (withoutH) el.append(lazyGeneration("Without history (same for every member)", withoutH));
  return el;
}

function generation(label: string, g: GenerationOutput, cls: string): HTMLElement {
  const body: Child = g.text === null ? h("p", { class: "status error" }, g.error ?? "no output") : renderMarkdown(h("div", { class: "gen-text" }), g.text);
  return h("div", { class: `gen ${cls}` }, h("h5", {}, label), body, g.text !== null && g.error ? h("p", { class: "muted" }, g.error) : null);
}

function lazyGeneration(label: string, g: GenerationOutput): HTMLElement {
  const d = h("details", { class: "gen gen-without" }, h("summary", {}, label));
  let filled = false;
  d.addEventListener("toggle", () => {
    if (!d.open || filled) return;
    filled = true;
    d.append(g.text === null ? h("p", { class: "status error" }, g.error ?? "no output") : renderMarkdown(h("div", { class: "gen-text" }), g.text));
  });
  return d;
}

function mark(ok: boolean | null): HTMLElement {
  if (ok === null) return h("span", { class: "badge" }, "n/a");
  return h("span", { class: `badge ${ok ? "good" : "bad"}`, "aria-label": ok ? "correct" : "wrong" }, ok ? "✓ right" : "✗ wrong");
}

function rmTable(vs: RmVerdictView[]): HTMLElement {
  const right = vs.filter((v) => v.correct).length;
  const parsed = vs.filter((v) => v.correct !== null).length;
  const table = h(
    "table",
    { class: "grid rm-verdicts" },
    h("caption", {}, `Reward model: ${right}/${parsed} right`),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "vs"), h("th", { scope: "col", title: "Where the user's preferred response was shown" }, "user's at"), h("th", { scope: "col" }, "verdict"), h("th", { scope: "col" }, "result"))),
  );
  const tbody = h("tbody");
  for (const v of vs) {
    const raw = v.raw ?? v.error ?? "";
    const verdictCell = h("td", {}, v.verdict ?? h("span", { class: "muted" }, v.status));
    if (raw) verdictCell.append(h("details", { class: "raw" }, h("summary", {}, "raw"), h("pre", { class: "mono" }, raw)));
    tbody.append(
      h(
        "tr",
        { "data-item": v.itemId, "data-order": v.order },
        h("td", {}, memberName(v.rejectedMember)),
        h("td", { title: `Order ${v.order === "ab" ? "A/B" : "B/A"}: the user's response was shown as ${v.chosen}` }, v.chosen),
        verdictCell,
        h("td", {}, mark(v.correct), v.pA !== undefined ? h("span", { class: "muted" }, ` P(A)=${v.pA.toFixed(2)}`) : null),
      ),
    );
  }
  table.append(tbody);
  return table;
}

function judgeList(js: JudgeScoreView[], ownMember: number): HTMLElement {
  const list = h("ul", { class: "judge-scores" });
  for (const s of js) {
    const whose = s.rubricMember === ownMember ? "own rubric" : `${memberName(s.rubricMember)}'s rubric`;
    const label = `${s.withHistory ? "With H" : "Without H"}, ${whose}`;
    list.append(
      h(
        "li",
        { "data-item": s.itemId, class: s.withHistory ? "with-h" : "without-h" },
        h("span", { class: "badge score", "aria-label": `${label}: ${s.score === null ? "no score" : `${s.score} of 5`}` }, s.score === null ? "–" : `${s.score}/5`),
        " ",
        h("span", { class: "judge-label" }, label),
        s.feedback ? h("p", { class: "feedback" }, s.feedback) : null,
        s.error ? h("p", { class: "status error" }, s.error) : null,
      ),
    );
  }
  return h("div", { class: "judge" }, h("h5", {}, "Judge scores"), list);
}

// ---- Host messages

host.onMessage((msg) => {
  switch (msg.type) {
    case "triple":
      if (msg.dimension) dimension = msg.dimension;
      render(msg.model);
      break;
    case "loading":
      setStatus(`Loading ${msg.tripleId}…`);
      content.setAttribute("aria-busy", "true");
      break;
    case "searchResults":
      showHits(msg.query, msg.hits, msg.total);
      break;
    case "error":
      setStatus(msg.message, true);
      content.setAttribute("aria-busy", "false");
      break;
  }
});

const ready: TripleWebviewMessage = saved.tripleId ? { type: "ready", tripleId: saved.tripleId } : { type: "ready" };
host.post(ready);
