/**
 * The "Experiments" tree: the workspace's experiment files (`*.preflab.yaml`) → their cells, each
 * with its status (not started, running, finished, failed, cancelled, settings changed), its cost
 * so far and its headline metric. A cell's status comes from its run folder (src/app/experiment.ts
 * experimentStatus) and this window's active runs; "settings changed" when the cell recorded in
 * its cell.json differs from the file's (the run would refuse it). rs / export cells show what they
 * made (kept of examples, lines written) as their headline. Refreshes after experiment runs,
 * on this host's run progress and when an experiment file changes. Every disposable is owned.
 */
import * as path from "node:path";
import * as vscode from "vscode";
import type { CellStatus, LoadedExperiment } from "../app/experiment.js";
import type { CommandMap, Feature } from "./commands.js";
import { loadCore } from "./core.js";
import { cellViewStatus, EXPERIMENT_SUFFIX, readRecordedCell, type CellViewStatus, type ExperimentFeature } from "./experiments.js";
import { costText, headlineOf, readRunInfo, usdAmount } from "./runs-model.js";
import type { Services } from "./services.js";

export { cellViewStatus, type CellViewStatus };

export interface ExperimentFileNode {
  type: "experiment";
  /** The experiment file (commands take it as their file argument). */
  experimentFile: string;
  name: string;
  error?: string;
}

export interface CellNode {
  type: "cell";
  experimentFile: string;
  /** The cell's name (the run command takes it as `only`). */
  cell: string;
  dir: string;
  status: CellViewStatus;
  cost: string | undefined;
  headline: string | undefined;
  detail: string;
}

export type ExperimentNode = ExperimentFileNode | CellNode;

const STATUS_ICON: Record<CellViewStatus, [string, string?]> = {
  "not started": ["circle-outline"],
  running: ["sync~spin"],
  finished: ["pass", "testing.iconPassed"],
  failed: ["error", "testing.iconFailed"],
  cancelled: ["debug-pause", "notificationsWarningIcon.foreground"],
  "settings changed": ["warning", "notificationsWarningIcon.foreground"],
};

/** Dollars of a cell's requests as the Runs tree shows them; "price unknown" without a price; undefined when it sent nothing. */
export function usdText(usage: CellStatus["usage"]): string | undefined {
  if (!usage) return undefined;
  return usage.costUsd === null ? "price unknown" : usdAmount(usage.costUsd);
}

/** The cells of an experiment with status, cost and headline (for the tree and its tests). */
export async function cellNodes(exp: LoadedExperiment, statuses: readonly CellStatus[], active: ReadonlySet<string>): Promise<CellNode[]> {
  const core = await loadCore();
  return Promise.all(
    statuses.map(async (st): Promise<CellNode> => {
      const recorded = await readRecordedCell(st.dir);
      const status = cellViewStatus(st, recorded, active.has(st.dir));
      let cost: string | undefined;
      let headline: string | undefined;
      if (st.cell.kind === "rs" || st.cell.kind === "export") {
        // Fine-tuning data cells: what they made (rs.json / export.json) and, for rs, what its scoring cost.
        headline = st.finetune?.headline;
        cost = usdText(st.usage);
      } else if (st.status !== "not started") {
        const info = await readRunInfo(st.dir, active.has(st.dir)).catch(() => undefined);
        if (info) {
          cost = costText(info);
          if (status !== "running") headline = (await headlineOf(info, (d) => core.loadRunReport(d)).catch(() => undefined))?.text;
        }
      }
      const model = st.cell.judgeModel ? `${st.cell.model} judged by ${st.cell.judgeModel}` : st.cell.model;
      return { type: "cell", experimentFile: exp.file, cell: st.cell.name, dir: st.dir, status, cost, headline, detail: `${st.cell.kind} · ${model}${st.cell.batch ? " · batch" : ""}` };
    }),
  );
}

export class ExperimentsTree implements vscode.TreeDataProvider<ExperimentNode>, Feature, vscode.Disposable {
  readonly name = "experiments-tree";
  private readonly changed = new vscode.EventEmitter<ExperimentNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly s: Services,
    experiments: ExperimentFeature,
  ) {
    const watcher = vscode.workspace.createFileSystemWatcher(`**/*${EXPERIMENT_SUFFIX}`);
    watcher.onDidCreate(() => this.refreshSoon());
    watcher.onDidChange(() => this.refreshSoon());
    watcher.onDidDelete(() => this.refreshSoon());
    this.disposables.push(this.changed, watcher, experiments.onDidRun(() => this.refreshSoon()), s.active.onDidChange(() => this.refreshSoon()));
  }

  refresh(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.changed.fire(undefined);
  }

  /** At most one refresh a second (progress comes in bursts). */
  refreshSoon(): void {
    this.timer ??= setTimeout(() => this.refresh(), 1000);
  }

  async getChildren(parent?: ExperimentNode): Promise<ExperimentNode[]> {
    if (!parent) {
      const files = await vscode.workspace.findFiles(`**/*${EXPERIMENT_SUFFIX}`, "**/node_modules/**", 200);
      return files
        .map((u): ExperimentFileNode => ({ type: "experiment", experimentFile: u.fsPath, name: path.basename(u.fsPath, EXPERIMENT_SUFFIX) }))
        .sort((a, b) => a.experimentFile.localeCompare(b.experimentFile));
    }
    if (parent.type === "cell") return [];
    try {
      const core = await loadCore();
      const exp = await core.loadExperiment(parent.experimentFile);
      parent.name = exp.spec.name;
      return await cellNodes(exp, await core.experimentStatus(exp), this.s.active.dirs);
    } catch (e) {
      parent.error = (e instanceof Error ? e.message : String(e)).split("\n")[0];
      this.s.log.warn(`experiment ${parent.experimentFile}: ${parent.error}`);
      return [];
    }
  }

  getTreeItem(n: ExperimentNode): vscode.TreeItem {
    if (n.type === "experiment") {
      const item = new vscode.TreeItem(n.name, vscode.TreeItemCollapsibleState.Expanded);
      item.id = `experiment:${n.experimentFile}`;
      item.description = n.error ? `error: ${n.error}` : vscode.workspace.asRelativePath(n.experimentFile);
      item.tooltip = n.error ?? n.experimentFile;
      item.iconPath = new vscode.ThemeIcon(n.error ? "warning" : "beaker");
      item.contextValue = "preflabExperiment";
      item.command = { command: "vscode.open", title: "Open Experiment File", arguments: [vscode.Uri.file(n.experimentFile)] };
      return item;
    }
    const item = new vscode.TreeItem(n.cell, vscode.TreeItemCollapsibleState.None);
    item.id = `experiment-cell:${n.experimentFile}:${n.cell}`;
    item.description = [n.status, n.headline, n.cost].filter(Boolean).join(" · ");
    const [icon, color] = STATUS_ICON[n.status];
    item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    const tip = new vscode.MarkdownString();
    tip.appendText(`${n.cell} (${n.detail})\nstatus: ${n.status}\n`);
    if (n.status === "settings changed") tip.appendText("The file's settings for this cell differ from its run; rename the cell or delete its folder to run it again.\n");
    if (n.headline) tip.appendText(`${n.headline}\n`);
    if (n.cost) tip.appendText(`cost so far: ${n.cost}\n`);
    tip.appendText(n.dir);
    item.tooltip = tip;
    item.contextValue = `preflabExperimentCell.${n.status.replace(" ", "-")}`;
    return item;
  }

  commands(): CommandMap {
    return { "preflab.refreshExperiments": () => this.refresh() };
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const d of this.disposables) d.dispose();
  }
}
