/**
 * The "Runs" tree: every evaluation run folder under the configured runs folder, with its kind,
 * provider / model, status (running with progress, finished, failed, resumable) and headline
 * metric. Context menu (package.json menus view/item/context): open report, resume, cancel,
 * reveal folder. Refreshes on file changes in the runs folder and on this host's run progress,
 * at most once a second.
 */
import * as vscode from "vscode";
import type { CommandMap, Feature } from "./commands.js";
import { loadCore } from "./core.js";
import { fractionDone } from "./format.js";
import { costDetails, costText, headlineOf, listRuns, pct, type Headline, type RunInfo } from "./runs-model.js";
import type { Services } from "./services.js";

const KIND_LABEL: Record<string, string> = { rm: "reward model", generate: "generation", judge: "judge", prompts: "prompt set" };
const STATUS_ICON: Record<RunInfo["status"], [string, string?]> = {
  running: ["sync~spin"],
  finished: ["pass", "testing.iconPassed"],
  failed: ["error", "testing.iconFailed"],
  resumable: ["debug-pause", "notificationsWarningIcon.foreground"],
  "not started": ["circle-outline"],
};

/** "Nov 27 14:05" in the local time zone. */
function shortTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return `${d.toLocaleString("en-US", { month: "short", day: "numeric" })} ${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

export class RunsTree implements vscode.TreeDataProvider<RunInfo>, Feature, vscode.Disposable {
  readonly name = "runs";
  private readonly changed = new vscode.EventEmitter<RunInfo | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly headlines = new Map<string, { stamp: string; headline: Headline | undefined }>();
  private readonly disposables: vscode.Disposable[] = [];
  private watcher: vscode.FileSystemWatcher | undefined;
  private watchedFolder: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastFire = 0;
  private runs: RunInfo[] = [];

  constructor(private readonly s: Services) {
    this.disposables.push(
      this.changed,
      s.active.onDidChange(() => this.refreshSoon()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration("preflab.folders.runs")) this.refresh();
      }),
    );
  }

  /** The runs listed at the last refresh. */
  get current(): readonly RunInfo[] {
    return this.runs;
  }

  refresh(): void {
    this.lastFire = Date.now();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.changed.fire(undefined);
  }

  /** Throttled refresh (progress events and file changes come in bursts). */
  refreshSoon(): void {
    if (this.timer) return;
    const wait = Math.max(0, 1000 - (Date.now() - this.lastFire));
    this.timer = setTimeout(() => this.refresh(), wait);
  }

  private watch(folder: string): void {
    if (this.watchedFolder === folder) return;
    this.watcher?.dispose();
    this.watchedFolder = folder;
    this.watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(folder), "**/{run.json,eval.json,run.lock}"));
    this.watcher.onDidCreate(() => this.refreshSoon());
    this.watcher.onDidChange(() => this.refreshSoon());
    this.watcher.onDidDelete(() => this.refreshSoon());
  }

  async getChildren(parent?: RunInfo): Promise<RunInfo[]> {
    if (parent) return [];
    const folder = this.s.folders().runs;
    this.watch(folder);
    try {
      this.runs = await listRuns(folder, this.s.active.dirs);
    } catch (e) {
      this.s.log.error(`cannot list runs in ${folder}`, e);
      this.runs = [];
    }
    // Headlines of finished runs only (a running run shows its progress instead; scoring it on every refresh would be wasted).
    await Promise.all(this.runs.filter((r) => r.status !== "running").map((r) => this.headline(r)));
    return this.runs;
  }

  private async headline(r: RunInfo): Promise<Headline | undefined> {
    const hit = this.headlines.get(r.dir);
    if (hit && hit.stamp === r.stamp) return hit.headline;
    let h: Headline | undefined;
    try {
      h = await headlineOf(r, async (d) => (await loadCore()).loadRunReport(d));
    } catch (e) {
      this.s.log.debug(`no headline for ${r.dir}: ${(e as Error).message}`);
    }
    this.headlines.set(r.dir, { stamp: r.stamp, headline: h });
    return h;
  }

  getTreeItem(r: RunInfo): vscode.TreeItem {
    const active = this.s.active.get(r.dir);
    const headline = this.headlines.get(r.dir)?.headline;
    const who = `${r.provider ?? "?"}/${r.model ?? "?"}`;
    const kind = KIND_LABEL[r.kind] ?? r.kind;
    const item = new vscode.TreeItem(`${kind[0]!.toUpperCase()}${kind.slice(1)} · ${who}`, vscode.TreeItemCollapsibleState.None);
    item.id = `run:${r.dir}`;
    let status: string = r.status;
    if (r.status === "running" && active?.progress) status = `running ${pct(fractionDone(active.progress), 0)}`;
    else if (r.status === "running" && r.totals && r.totals.items) status = `running ${r.totals.done + r.totals.failed}/${r.totals.items}`;
    const parts = [status];
    if (headline && r.status !== "running") parts.push(headline.text);
    const cost = costText(r);
    // Free runs (baseline, llama.cpp) show no $0.00; a price-unknown run says so.
    if (cost && (r.pricing === null || (r.totals?.costUsd ?? 0) > 0)) parts.push(cost);
    if (r.startedAt) parts.push(shortTime(r.startedAt));
    item.description = parts.join(" · ");
    const [icon, color] = STATUS_ICON[r.status];
    item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    const tip = new vscode.MarkdownString();
    tip.appendText(`${r.name}\n`);
    tip.appendText(`${KIND_LABEL[r.kind] ?? r.kind} run with ${who}\nstatus: ${r.status}${r.recorded && r.recorded !== r.status ? ` (run.json: ${r.recorded})` : ""}\n`);
    if (r.totals) tip.appendText(`items: ${r.totals.done} done, ${r.totals.failed} failed of ${r.totals.items}; tokens ${r.totals.inputTokens} in / ${r.totals.outputTokens} out\n`);
    if (headline) tip.appendText(`${headline.text}\n`);
    const costLine = costDetails(r);
    if (costLine) tip.appendText(`${costLine}\n`);
    if (r.error) tip.appendText(`error: ${r.error}\n`);
    tip.appendText(r.dir);
    item.tooltip = tip;
    item.contextValue = `preflabRun.${r.status.replace(" ", "-")}${r.kind === "generate" ? ".generate" : ""}`;
    item.command = { command: "preflab.showResults", title: "Open Report", arguments: [r] };
    return item;
  }

  commands(): CommandMap {
    return {
      "preflab.refreshRuns": () => this.refresh(),
      "preflab.revealRunFolder": async (arg?: RunInfo | vscode.Uri | string) => {
        const dir = typeof arg === "string" ? arg : arg instanceof vscode.Uri ? arg.fsPath : arg?.dir;
        if (!dir) return;
        await vscode.commands.executeCommand("revealFileInOS", vscode.Uri.file(dir)).then(undefined, async () => {
          await vscode.commands.executeCommand("revealInExplorer", vscode.Uri.file(dir));
        });
      },
    };
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.watcher?.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
