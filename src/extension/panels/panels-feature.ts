/**
 * The panel commands (open a triple, show results, compare runs) and the serializers that revive
 * both panels after a reload.
 */
import * as path from "node:path";
import * as vscode from "vscode";
import { DASHBOARD_VIEW_TYPE, DIMENSION_ORDER, TRIPLE_VIEW_TYPE, type Dimension, type DashboardWebviewState, type TripleWebviewState } from "../../protocol/webview.js";
import type { CommandMap, Feature } from "../commands.js";
import { loadCore } from "../core.js";
import { listRuns, type RunInfo } from "../runs-model.js";
import type { Services } from "../services.js";
import { DashboardPanel } from "./dashboard-panel.js";
import { TriplePanel } from "./triple-panel.js";

const isDimension = (d: unknown): d is Dimension => (DIMENSION_ORDER as readonly unknown[]).includes(d);

type TripleArg = string | { tripleId?: string; dimension?: string; runDir?: string } | undefined;
type RunsArg = RunInfo | string | vscode.Uri | (RunInfo | string)[] | undefined;

const dirOf = (r: RunInfo | string | vscode.Uri): string => (typeof r === "string" ? r : r instanceof vscode.Uri ? r.fsPath : r.dir);

export class PanelsFeature implements Feature {
  readonly name = "panels";

  constructor(private readonly s: Services) {}

  register(): vscode.Disposable[] {
    return [
      vscode.window.registerWebviewPanelSerializer(TRIPLE_VIEW_TYPE, {
        deserializeWebviewPanel: async (panel, state: unknown) => TriplePanel.revive(this.s, panel, state as TripleWebviewState | undefined),
      }),
      vscode.window.registerWebviewPanelSerializer(DASHBOARD_VIEW_TYPE, {
        deserializeWebviewPanel: async (panel, state: unknown) => DashboardPanel.revive(this.s, panel, state as DashboardWebviewState | undefined),
      }),
    ];
  }

  async openTriple(arg: TripleArg): Promise<void> {
    const dir = this.s.dataset.dir;
    if (!dir) {
      const pick = await vscode.window.showWarningMessage("Preflab: no dataset is open.", "Build Bundled Sample", "Open Dataset…");
      if (pick === "Build Bundled Sample") await vscode.commands.executeCommand("preflab.buildDataset", "sample");
      else if (pick === "Open Dataset…") await vscode.commands.executeCommand("preflab.openDataset");
      if (!this.s.dataset.dir) return;
    }
    let tripleId = typeof arg === "string" ? arg : arg?.tripleId;
    if (typeof arg === "object" && arg.runDir) await TriplePanel.includeRun(this.s, arg.runDir);
    if (!tripleId && !(typeof arg === "object" && arg.runDir)) {
      const core = await loadCore();
      const { hits } = await new core.TripleViewLoader().searchTriples(this.s.dataset.dir, "", 100_000, 120);
      const pick = await vscode.window.showQuickPick(
        hits.map((h) => ({ label: h.prompt, description: h.id, id: h.id })),
        { title: "Preflab: Open Triple", placeHolder: "Search instructions or triple ids", matchOnDescription: true },
      );
      if (!pick) return;
      tripleId = pick.id;
    }
    const dimension = typeof arg === "object" && isDimension(arg.dimension) ? arg.dimension : undefined;
    await TriplePanel.show(this.s, tripleId, dimension);
  }

  private async pickRuns(title: string, filter: (r: RunInfo) => boolean, many: boolean): Promise<RunInfo[] | undefined> {
    const runs = (await listRuns(this.s.folders().runs, this.s.active.dirs)).filter(filter);
    if (runs.length === 0) {
      vscode.window.showWarningMessage(`Preflab: no runs to show in ${this.s.folders().runs}. Run an evaluation first.`);
      return undefined;
    }
    const items = runs.map((r) => ({ label: r.name, description: `${r.kind} · ${r.provider ?? "?"}/${r.model ?? "?"} · ${r.status}`, run: r }));
    if (!many) {
      const one = await vscode.window.showQuickPick(items, { title });
      return one ? [one.run] : undefined;
    }
    const picked = await vscode.window.showQuickPick(items, { title, canPickMany: true, placeHolder: "Pick one or more runs" });
    return picked?.length ? picked.map((p) => p.run) : undefined;
  }

  async showResults(arg: RunsArg): Promise<void> {
    let dirs = arg === undefined ? undefined : Array.isArray(arg) ? arg.map(dirOf) : [dirOf(arg)];
    dirs ??= (await this.pickRuns("Preflab: Show Results", (r) => r.kind !== "prompts" && r.status !== "not started", true))?.map((r) => r.dir);
    if (!dirs?.length) return;
    await DashboardPanel.show(this.s, dirs.map((d) => path.resolve(d)));
  }

  async compareRuns(a?: RunInfo | string, b?: RunInfo | string): Promise<void> {
    let dirA = a ? dirOf(a) : undefined;
    let dirB = b ? dirOf(b) : undefined;
    if (!dirA) {
      const first = await this.pickRuns("Preflab: Compare Runs (1/2): the first run", (r) => r.kind === "rm" || r.kind === "judge", false);
      dirA = first?.[0]?.dir;
      if (!dirA) return;
    }
    if (!dirB) {
      const core = await loadCore();
      const kind = (await core.readEvalJson(dirA)).kind;
      const second = await this.pickRuns(`Preflab: Compare Runs (2/2): a ${kind} run to compare with`, (r) => r.kind === kind && r.dir !== dirA, false);
      dirB = second?.[0]?.dir;
      if (!dirB) return;
    }
    await DashboardPanel.show(this.s, [dirA, dirB], [[dirA, dirB]]);
  }

  commands(): CommandMap {
    return {
      "preflab.openTriple": (arg?: TripleArg) => this.openTriple(arg),
      // From a tree's context menu: (clicked item, all selected items).
      "preflab.showResults": (arg?: RunsArg, selected?: RunInfo[]) => this.showResults(selected && selected.length > 1 ? selected : arg),
      "preflab.compareRuns": (a?: RunInfo | string, b?: RunInfo | string | RunInfo[]) =>
        Array.isArray(b) ? this.compareRuns(b.length === 2 ? b[0] : a, b.length === 2 ? b[1] : undefined) : this.compareRuns(a, b),
    };
  }
}
