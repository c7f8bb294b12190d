/**
 * Host side of the counterfactual-triple panel (viewType `preflab.triple`, one panel at a time,
 * revived after a reload). Data comes from the core's TripleViewLoader (loadTripleView); messages
 * are typed by src/protocol/webview.ts. The panel shows the outputs of the runs made on the open
 * dataset (the newest few by default; "Runs…" in the panel picks others).
 */
import { parseWebviewMessage, TripleWebviewMessageSchema } from "../../protocol/webview-schema.js";
import { openUntrustedLink } from "./links.js";
import { readFile } from "node:fs/promises";
import * as path from "node:path";
import * as vscode from "vscode";
import { TRIPLE_VIEW_TYPE, type Dimension, type TripleHostMessage, type TripleWebviewMessage, type TripleWebviewState } from "../../protocol/webview.js";
import type { TripleViewLoader } from "../../core/views/triple-view.js";
import { loadCore } from "../core.js";
import { listRuns } from "../runs-model.js";
import type { Services } from "../services.js";
import { jsonSafe, webviewHtml, webviewOptions } from "./html.js";

const RUNS_KEY = "preflab.triplePanel.runs";
const DEFAULT_RUNS = 6;

export class TriplePanel implements vscode.Disposable {
  private static current: TriplePanel | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private tripleId: string | undefined;
  private loader: TripleViewLoader | undefined;
  private seq = 0;

  private constructor(
    private readonly s: Services,
    readonly panel: vscode.WebviewPanel,
    tripleId: string | undefined,
  ) {
    this.tripleId = tripleId;
    panel.webview.options = webviewOptions(s.context.extensionUri);
    panel.webview.html = webviewHtml(panel.webview, s.context.extensionUri, "triple", "Preflab: Counterfactual Triple");
    panel.iconPath = vscode.Uri.joinPath(s.context.extensionUri, "media", "preflab.svg");
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((raw: unknown) => {
        const p = parseWebviewMessage(TripleWebviewMessageSchema, raw);
        if (!p.ok) return this.s.log.warn(`triple panel: dropped a malformed message (${p.reason})`);
        void this.onMessage(p.message).catch((e) => this.fail(e));
      }),
      // A run ended (finished, cancelled or failed): show its outputs.
      s.active.onDidChange((run) => {
        if (!run && this.panel.visible) void this.load(undefined).catch((e) => this.fail(e));
      }),
      s.dataset.onDidChange(() => {
        this.tripleId = undefined;
        void this.load(undefined).catch((e) => this.fail(e));
      }),
    );
  }

  /** Opens (or reveals) the panel on a triple of the open dataset. */
  static async show(s: Services, tripleId?: string, dimension?: Dimension): Promise<TriplePanel> {
    const existing = TriplePanel.current;
    if (existing) {
      existing.pendingDimension = dimension;
      existing.panel.reveal(undefined, false);
      await existing.load(tripleId); // the same triple again when none is named (the runs shown may have changed)
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(TRIPLE_VIEW_TYPE, "Counterfactual Triple", vscode.ViewColumn.Active, webviewOptions(s.context.extensionUri));
    const created = new TriplePanel(s, panel, tripleId);
    created.pendingDimension = dimension;
    return (TriplePanel.current = created);
  }

  /** The dimension to show with the next triple sent (from a tree click), once. */
  private pendingDimension: Dimension | undefined;

  /** Registered with registerWebviewPanelSerializer: a panel restored after a reload. */
  static revive(s: Services, panel: vscode.WebviewPanel, state: TripleWebviewState | undefined): void {
    TriplePanel.current?.dispose();
    TriplePanel.current = new TriplePanel(s, panel, state?.tripleId);
  }

  private post(m: TripleHostMessage): void {
    void this.panel.webview.postMessage(this.s.log.redactor.redactValue(jsonSafe(m)));
  }

  private fail(e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    this.s.log.error("triple panel", e);
    this.post({ type: "error", message });
  }

  private async runDirs(datasetDir: string): Promise<string[]> {
    const chosen = this.s.context.workspaceState.get<Record<string, string[]>>(RUNS_KEY)?.[datasetDir];
    if (chosen) return chosen;
    return (await this.runsOf(datasetDir)).slice(0, DEFAULT_RUNS).map((r) => r.dir);
  }

  /** Runs made on this dataset (same manifest hash), newest first. */
  private async runsOf(datasetDir: string) {
    const manifestHash = (await (await loadCore()).Dataset.open(datasetDir)).manifestHash;
    const runs = await listRuns(this.s.folders().runs, this.s.active.dirs);
    const same = await Promise.all(
      runs.map(async (r) => {
        try {
          const ev = JSON.parse(await readFile(path.join(r.dir, "eval.json"), "utf8")) as { dataset?: { manifestHash?: string } };
          return ev.dataset?.manifestHash === manifestHash;
        } catch {
          return false;
        }
      }),
    );
    return runs.filter((_r, i) => same[i] && runs[i]!.kind !== "prompts");
  }

  async load(tripleId: string | undefined): Promise<void> {
    const t0 = performance.now();
    const dir = this.s.dataset.dir;
    if (!dir) {
      this.post({ type: "error", message: "No dataset is open. Build the bundled sample or open a dataset from the Synthetic Users view." });
      return;
    }
    const core = await loadCore();
    this.loader ??= new core.TripleViewLoader();
    const id = tripleId ?? this.tripleId ?? (await this.loader.listTripleIds(dir))[0];
    if (!id) {
      this.post({ type: "error", message: `${dir} has no test triples.` });
      return;
    }
    const seq = ++this.seq;
    this.tripleId = id;
    this.post({ type: "loading", tripleId: id });
    const model = await this.loader.load(dir, id, await this.runDirs(dir));
    if (seq !== this.seq) return; // a newer request won
    this.panel.title = `Triple ${id}`;
    const dimension = this.pendingDimension;
    this.pendingDimension = undefined;
    this.post(dimension ? { type: "triple", model, dimension } : { type: "triple", model });
    // The extension's own part of opening a triple (from the request to the data posted), as the e2e scale test reads it.
    this.s.log.info(`triple ${id} loaded in ${Math.round(performance.now() - t0)} ms with ${model.runs.length} run(s)`);
  }

  /** Puts `runDir` first among the runs shown for the open dataset. */
  static async includeRun(s: Services, runDir: string): Promise<void> {
    const dir = s.dataset.dir;
    if (!dir) return;
    const all = s.context.workspaceState.get<Record<string, string[]>>(RUNS_KEY) ?? {};
    const current = all[dir] ?? [];
    all[dir] = [runDir, ...current.filter((d) => d !== runDir)];
    await s.context.workspaceState.update(RUNS_KEY, all);
  }

  private async chooseRuns(): Promise<void> {
    const dir = this.s.dataset.dir;
    if (!dir) return;
    const runs = await this.runsOf(dir);
    const current = new Set(await this.runDirs(dir));
    const picks = await vscode.window.showQuickPick(
      runs.map((r) => ({ label: r.name, description: `${r.kind} · ${r.provider ?? "?"}/${r.model ?? "?"} · ${r.status}`, picked: current.has(r.dir), dir: r.dir })),
      { canPickMany: true, title: "Preflab: runs to show beside the triple", placeHolder: runs.length ? "Pick runs" : "No runs on this dataset yet" },
    );
    if (!picks) return;
    const all = this.s.context.workspaceState.get<Record<string, string[]>>(RUNS_KEY) ?? {};
    all[dir] = picks.map((p) => p.dir);
    await this.s.context.workspaceState.update(RUNS_KEY, all);
    await this.load(this.tripleId);
  }

  private async onMessage(m: TripleWebviewMessage): Promise<void> {
    switch (m.type) {
      case "ready":
        await this.load(this.tripleId ?? m.tripleId);
        return;
      case "navigate":
        await this.load(m.tripleId);
        return;
      case "search": {
        const dir = this.s.dataset.dir;
        if (!dir) return;
        const core = await loadCore();
        this.loader ??= new core.TripleViewLoader();
        const t0 = performance.now();
        const { hits, total } = await this.loader.searchTriples(dir, m.query);
        this.post({ type: "searchResults", query: m.query, hits, total });
        this.s.log.info(`triple search: ${total} hits in ${Math.round(performance.now() - t0)} ms`);
        return;
      }
      case "selectDimension":
        return;
      case "openRun":
        await vscode.commands.executeCommand("preflab.showResults", m.runDir);
        return;
      case "chooseRuns":
        await this.chooseRuns();
        return;
      case "openLink":
        // Only web links, and only after the user saw the full URL and confirmed.
        await openUntrustedLink(m.href, this.s.log);
        return;
      case "invalidHostMessage":
        this.s.log.warn(`triple panel: the page dropped a message that failed its schema (${m.reason})`);
        return;
    }
  }

  dispose(): void {
    if (TriplePanel.current === this) TriplePanel.current = undefined;
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}
