/**
 * Host side of the results dashboard (viewType `preflab.dashboard`, one panel, revived after a
 * reload): the paper-style report of the chosen runs (buildReport), run comparisons
 * (compareRuns), and CSV / Markdown exports written through a save dialog.
 */
import { DashboardWebviewMessageSchema, parseWebviewMessage } from "../../protocol/webview-schema.js";
import { writeFile } from "node:fs/promises";
import * as path from "node:path";
import * as vscode from "vscode";
import { DASHBOARD_VIEW_TYPE, type DashboardHostMessage, type DashboardModel, type DashboardWebviewMessage, type DashboardWebviewState, type RunComparison } from "../../protocol/webview.js";
import { loadCore } from "../core.js";
import type { Services } from "../services.js";
import { jsonSafe, webviewHtml, webviewOptions } from "./html.js";

const RUNS_KEY = "preflab.dashboard.runs";
const PAIRS_KEY = "preflab.dashboard.compare";

export class DashboardPanel implements vscode.Disposable {
  private static current: DashboardPanel | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  private constructor(
    private readonly s: Services,
    readonly panel: vscode.WebviewPanel,
  ) {
    panel.webview.options = webviewOptions(s.context.extensionUri);
    panel.webview.html = webviewHtml(panel.webview, s.context.extensionUri, "dashboard", "Preflab: Results");
    panel.iconPath = vscode.Uri.joinPath(s.context.extensionUri, "media", "preflab.svg");
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((raw: unknown) => {
        const p = parseWebviewMessage(DashboardWebviewMessageSchema, raw);
        if (!p.ok) return this.s.log.warn(`dashboard: dropped a malformed message (${p.reason})`);
        void this.onMessage(p.message).catch((e) => this.fail(e));
      }),
    );
  }

  private get runDirs(): string[] {
    return this.s.context.workspaceState.get<string[]>(RUNS_KEY) ?? [];
  }
  private get pairs(): [string, string][] {
    return this.s.context.workspaceState.get<[string, string][]>(PAIRS_KEY) ?? [];
  }

  /** Shows the report of `runDirs` (and the comparisons of `pairs`), reusing the open panel. */
  static async show(s: Services, runDirs: string[], pairs: [string, string][] = []): Promise<DashboardPanel> {
    await s.context.workspaceState.update(RUNS_KEY, runDirs);
    await s.context.workspaceState.update(PAIRS_KEY, pairs);
    const existing = DashboardPanel.current;
    if (existing) {
      existing.panel.reveal(undefined, false);
      await existing.send();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(DASHBOARD_VIEW_TYPE, "Preflab Results", vscode.ViewColumn.Active, webviewOptions(s.context.extensionUri));
    return (DashboardPanel.current = new DashboardPanel(s, panel));
  }

  static revive(s: Services, panel: vscode.WebviewPanel, _state: DashboardWebviewState | undefined): void {
    DashboardPanel.current?.dispose();
    DashboardPanel.current = new DashboardPanel(s, panel);
  }

  private post(m: DashboardHostMessage): void {
    void this.panel.webview.postMessage(this.s.log.redactor.redactValue(jsonSafe(m)));
  }

  private fail(e: unknown): void {
    this.s.log.error("dashboard", e);
    this.post({ type: "error", message: e instanceof Error ? e.message : String(e) });
  }

  private async model(): Promise<DashboardModel> {
    const core = await loadCore();
    const dirs = this.runDirs;
    const report = await core.buildReport(dirs);
    const comparisons: RunComparison[] = [];
    for (const [a, b] of this.pairs) {
      try {
        comparisons.push({ runA: path.resolve(a), runB: path.resolve(b), result: await core.compareRuns(a, b) });
      } catch (e) {
        this.s.log.warn(`cannot compare ${a} with ${b}: ${(e as Error).message}`);
      }
    }
    return jsonSafe({ report, comparisons });
  }

  async send(): Promise<void> {
    if (this.runDirs.length === 0) {
      this.post({ type: "error", message: "No runs chosen. Use “Preflab: Show Results” or a run's “Open Report” in the Runs view." });
      return;
    }
    this.post({ type: "loading" });
    const t0 = performance.now();
    const model = await this.model();
    this.panel.title = this.runDirs.length === 1 ? `Results: ${path.basename(this.runDirs[0]!)}` : `Results: ${this.runDirs.length} runs`;
    this.post({ type: "report", model });
    this.s.log.debug(`dashboard report for ${this.runDirs.length} run(s) built in ${Math.round(performance.now() - t0)} ms`);
  }

  private async export(format: "csv" | "md"): Promise<void> {
    const core = await loadCore();
    const report = await core.buildReport(this.runDirs);
    const text = core.formatReport(report, format);
    const base = this.runDirs.length === 1 ? path.basename(this.runDirs[0]!) : "preflab-report";
    const uri = await vscode.window.showSaveDialog({
      title: `Export the report as ${format === "csv" ? "CSV" : "Markdown"}`,
      defaultUri: vscode.Uri.file(path.join(this.s.folders().runs, `${base}.${format}`)),
      filters: format === "csv" ? { CSV: ["csv"] } : { Markdown: ["md"] },
    });
    if (!uri) return;
    if (uri.scheme === "file") await writeFile(uri.fsPath, text);
    else await vscode.workspace.fs.writeFile(uri, Buffer.from(text));
    this.s.log.info(`report exported to ${uri.fsPath}`);
    this.post({ type: "exported", format, path: uri.fsPath });
  }

  private async onMessage(m: DashboardWebviewMessage): Promise<void> {
    switch (m.type) {
      case "ready":
      case "refresh":
        await this.send();
        return;
      case "export":
        await this.export(m.format);
        return;
      case "compare": {
        try {
          const core = await loadCore();
          const result = await core.compareRuns(m.runA, m.runB);
          this.post({ type: "comparison", comparison: jsonSafe({ runA: m.runA, runB: m.runB, result }) });
        } catch (e) {
          this.post({ type: "comparisonError", runA: m.runA, runB: m.runB, message: (e as Error).message });
        }
        return;
      }
      case "openRun":
        await vscode.commands.executeCommand("preflab.openTriple", { runDir: m.runDir });
        return;
      case "invalidHostMessage":
        this.s.log.warn(`dashboard: the page dropped a message that failed its schema (${m.reason})`);
        return;
    }
  }

  dispose(): void {
    if (DashboardPanel.current === this) DashboardPanel.current = undefined;
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}
