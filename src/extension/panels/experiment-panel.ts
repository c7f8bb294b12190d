/**
 * Host side of the experiment dashboard (viewType `preflab.experiment`, one panel, revived after a
 * reload from the file its webview saved): "Preflab: Open Experiment Dashboard" from the palette,
 * the Experiments view (an experiment or a cell), the explorer / editor menus of a `*.preflab.yaml`
 * and its code lens. The model is src/app/experiment.ts's report over all cells
 * (experimentReportModel: the same report `preflab run` prints) with each cell's view status and
 * headline as the Experiments tree shows them (cellNodes). It is sent again (debounced) whenever a
 * cell of any experiment starts, finishes or is skipped in this window (ExperimentFeature.onDidRun).
 *
 * The webview names cells, never paths: a `runCell` / `openCell` / `openFile` message is acted on
 * only for a cell of the shown experiment, and a file only if the model listed it for that cell.
 * Everything posted goes through the log's redactor; the HTML shell is html.ts's (nonce CSP, no
 * command URIs, bundles only from dist/webview).
 */
import * as path from "node:path";
import * as vscode from "vscode";
import { ExperimentWebviewMessageSchema, parseWebviewMessage } from "../../protocol/webview-schema.js";
import { EXPERIMENT_VIEW_TYPE, type ExperimentDashboardModel, type ExperimentHostMessage, type ExperimentWebviewMessage, type ExperimentWebviewState } from "../../protocol/webview.js";
import type { LoadedExperiment } from "../../app/experiment.js";
import type { CommandMap, Feature } from "../commands.js";
import { loadCore, type CoreApi } from "../core.js";
import { EXPERIMENT_SUFFIX, type ExperimentFeature, type FileArg } from "../experiments.js";
import { cellNodes } from "../experiments-tree.js";
import type { Services } from "../services.js";
import { jsonSafe, webviewHtml, webviewOptions } from "./html.js";

/** The dashboard's model: the experiment's report over all cells, with the tree's view status and headline per cell. */
export async function experimentDashboardModel(core: Pick<CoreApi, "experimentReportModel">, exp: LoadedExperiment, active: ReadonlySet<string>): Promise<ExperimentDashboardModel> {
  const m = await core.experimentReportModel(exp);
  const nodes = await cellNodes(exp, m.cells, active);
  return jsonSafe({
    name: m.name,
    file: m.file,
    out: m.out,
    cells: m.cells.map((st, i) => ({
      name: st.cell.name,
      kind: st.cell.kind,
      model: st.cell.model,
      ...(st.cell.judgeModel ? { judgeModel: st.cell.judgeModel } : {}),
      ...(st.cell.source ? { source: st.cell.source } : {}),
      status: nodes[i]!.status,
      dir: st.dir,
      runDir: st.runDir,
      usage: st.usage,
      headline: nodes[i]!.headline ?? null,
      ...(st.finetune ? { finetune: st.finetune } : {}),
    })),
    report: m.report,
    comparisons: m.comparisons,
  });
}

export class ExperimentPanel implements vscode.Disposable {
  private static current: ExperimentPanel | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** The last model sent (what runCell / openCell / openFile are checked against). */
  private last: ExperimentDashboardModel | undefined;

  private constructor(
    private readonly s: Services,
    experiments: ExperimentFeature,
    readonly panel: vscode.WebviewPanel,
    private file: string | undefined,
  ) {
    panel.webview.options = webviewOptions(s.context.extensionUri);
    panel.webview.html = webviewHtml(panel.webview, s.context.extensionUri, "experiment", "Preflab: Experiment");
    panel.iconPath = vscode.Uri.joinPath(s.context.extensionUri, "media", "preflab.svg");
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((raw: unknown) => {
        const p = parseWebviewMessage(ExperimentWebviewMessageSchema, raw);
        if (!p.ok) return this.s.log.warn(`experiment dashboard: dropped a malformed message (${p.reason})`);
        void this.onMessage(p.message).catch((e) => this.fail(e));
      }),
      experiments.onDidRun(() => this.refreshSoon()),
    );
  }

  /** The open panel, if any (tests, commands). */
  static get open(): ExperimentPanel | undefined {
    return ExperimentPanel.current;
  }

  /** Shows the dashboard of `file`, reusing the open panel. */
  static async show(s: Services, experiments: ExperimentFeature, file: string): Promise<ExperimentPanel> {
    const existing = ExperimentPanel.current;
    if (existing) {
      existing.file = file;
      existing.panel.reveal(undefined, false);
      await existing.send();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(EXPERIMENT_VIEW_TYPE, "Preflab Experiment", vscode.ViewColumn.Active, webviewOptions(s.context.extensionUri));
    return (ExperimentPanel.current = new ExperimentPanel(s, experiments, panel, file));
  }

  /** After a reload: the file the webview saved in its state (it asks for the model when ready). */
  static revive(s: Services, experiments: ExperimentFeature, panel: vscode.WebviewPanel, state: ExperimentWebviewState | undefined): void {
    ExperimentPanel.current?.dispose();
    const file = typeof state?.file === "string" && state.file.endsWith(EXPERIMENT_SUFFIX) ? state.file : undefined;
    ExperimentPanel.current = new ExperimentPanel(s, experiments, panel, file);
  }

  private post(m: ExperimentHostMessage): void {
    void this.panel.webview.postMessage(this.s.log.redactor.redactValue(jsonSafe(m)));
  }

  private fail(e: unknown): void {
    this.s.log.error("experiment dashboard", e);
    this.post({ type: "error", message: e instanceof Error ? e.message : String(e) });
  }

  /** Re-sends the model at most every 300 ms (a run reports each cell's start and end). */
  refreshSoon(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.send().catch((e) => this.fail(e));
    }, 300);
  }

  async send(): Promise<void> {
    if (!this.file) {
      this.post({ type: "error", message: "No experiment chosen. Use “Preflab: Open Experiment Dashboard” or the Experiments view." });
      return;
    }
    this.post({ type: "loading" });
    const core = await loadCore();
    let exp: LoadedExperiment;
    try {
      exp = await core.loadExperiment(this.file);
    } catch (e) {
      this.last = undefined;
      this.post({ type: "error", message: e instanceof core.ExperimentError ? e.message : `${this.file}: ${(e as Error).message}` });
      return;
    }
    const model = await experimentDashboardModel(core, exp, this.s.active.dirs);
    this.last = model;
    this.panel.title = `Experiment: ${exp.spec.name}`;
    this.post({ type: "experiment", model });
  }

  private cell(name: string) {
    return this.last?.cells.find((c) => c.name === name);
  }

  private async onMessage(m: ExperimentWebviewMessage): Promise<void> {
    switch (m.type) {
      case "ready":
      case "refresh":
        await this.send();
        return;
      case "runCell": {
        const c = this.cell(m.cell);
        if (!c || !this.last) return this.s.log.warn(`experiment dashboard: no cell ${JSON.stringify(m.cell)} in the shown experiment`);
        await vscode.commands.executeCommand("preflab.experiment.run", this.last.file, c.name);
        return;
      }
      case "openCell": {
        const c = this.cell(m.cell);
        if (!c || (c.kind !== "rm" && c.kind !== "generate" && c.kind !== "judge") || !c.runDir) return this.s.log.warn(`experiment dashboard: cell ${JSON.stringify(m.cell)} has no run to open`);
        await vscode.commands.executeCommand("preflab.showResults", c.runDir);
        return;
      }
      case "openFile": {
        const c = this.cell(m.cell);
        if (!c?.finetune?.files.includes(m.file)) return this.s.log.warn(`experiment dashboard: ${JSON.stringify(m.file)} is not an output of cell ${JSON.stringify(m.cell)}`);
        await vscode.window.showTextDocument(vscode.Uri.file(path.join(c.dir, m.file)), { preview: true });
        return;
      }
      case "invalidHostMessage":
        this.s.log.warn(`experiment dashboard: the page dropped a message that failed its schema (${m.reason})`);
        return;
    }
  }

  dispose(): void {
    if (ExperimentPanel.current === this) ExperimentPanel.current = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}

/** "Preflab: Open Experiment Dashboard" and the serializer that revives the panel. */
export class ExperimentDashboardFeature implements Feature {
  readonly name = "experiment-dashboard";

  constructor(
    private readonly s: Services,
    private readonly experiments: ExperimentFeature,
  ) {}

  register(): vscode.Disposable[] {
    return [
      vscode.window.registerWebviewPanelSerializer(EXPERIMENT_VIEW_TYPE, {
        deserializeWebviewPanel: async (panel, state: unknown) => ExperimentPanel.revive(this.s, this.experiments, panel, state as ExperimentWebviewState | undefined),
      }),
      { dispose: () => ExperimentPanel.open?.dispose() },
    ];
  }

  async open(arg?: FileArg): Promise<ExperimentPanel | undefined> {
    const file = await this.experiments.pickFile(arg);
    if (!file) return undefined;
    return ExperimentPanel.show(this.s, this.experiments, path.resolve(file));
  }

  commands(): CommandMap {
    return { "preflab.openExperimentDashboard": (arg?: FileArg) => this.open(arg) };
  }
}
