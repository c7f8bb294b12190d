/**
 * Fine-tuning in the editor: the "Fine-tuning Jobs" tree view (`preflab.finetuneJobs`: each job
 * with its status and model; refreshed by polling the backends while jobs are active, and when
 * a job record changes on disk, e.g. from the CLI) and the commands
 *
 *   preflab.finetuneLaunch   pick a backend, the training data (an export folder or a JSONL), the
 *                            base model and the backend's settings; launch
 *   preflab.finetuneStatus   refresh one job (from its tree item) or all jobs
 *   preflab.finetuneCancel   cancel an active job (asks first)
 *   preflab.finetuneLogs     stream a job's logs / events into the "Preflab Fine-tuning" output
 *                            channel (following an active job until it ends or is cancelled)
 *   preflab.finetuneRefresh  re-read the job records (view title button)
 *
 * Everything else is src/core/finetune (the same functions as `preflab finetune`), loaded lazily on
 * first use from the core bundle (see loadFinetuneFromCoreBundle), so activation stays cheap.
 * OpenAI keys come from `getApiKey` (SecretStorage) or OPENAI_API_KEY; they are never written.
 *
 * Every request and process passes the host's RunGate first (Restricted Mode: the view shows the
 * records on disk and says why nothing is refreshed; no polling, no ssh/sky, no key sent), and a
 * base URL read from a job record goes through the key-destination policy (src/app/origins.ts):
 * background polling never asks and skips an unconfirmed origin; a command asks once.
 */
import * as path from "node:path";
import * as vscode from "vscode";
import type { RunGate } from "../app/gate.js";
import { originOf, type KeyDestinationPolicy } from "../app/origins.js";
import type * as FinetuneApi from "../core/finetune/index.js";
import { loadCore } from "./core.js";
import { childPath } from "../core/util/safe-path.js";
import type { JobMethod, JobRecord, JobStatus } from "../core/finetune/jobs.js";

function sameOrigin(a: string, b: string): boolean {
  try {
    return originOf(a) === originOf(b);
  } catch {
    return false;
  }
}

export type FinetuneModule = typeof FinetuneApi;

/**
 * The default loader: src/core/finetune from the lazily loaded core bundle (core.ts), which must
 * re-export it as `finetune` (core-api.ts: `export * as finetune from "../core/finetune/index.js";`).
 * A static import here would put the core (and the openai SDK) into the activation bundle.
 */
async function loadFinetuneFromCoreBundle(): Promise<FinetuneModule> {
  const core = (await loadCore()) as unknown as { finetune?: FinetuneModule };
  if (!core.finetune) throw new Error('the core bundle has no fine-tuning module: add `export * as finetune from "../core/finetune/index.js";` to src/extension/core-api.ts');
  return core.finetune;
}

export interface FinetuneLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string, err?: unknown): void;
  show?(): void;
}

export interface FinetuneFeatureOptions {
  log: FinetuneLog;
  /** Checked before any request, key or process (the extension: workspace trust). */
  gate: RunGate;
  /** Where the key may go; base URLs in job records are workspace files. */
  policy: KeyDestinationPolicy;
  /** Creates the fine-tuning output channel (the extension: one that redacts keys). */
  createOutput?: (name: string) => vscode.OutputChannel;
  workspaceRoot: () => string | undefined;
  /** Loads src/core/finetune (default: a dynamic import). */
  loadFinetune?: () => Promise<FinetuneModule>;
  /** The OpenAI key (SecretStorage first); default OPENAI_API_KEY. */
  getApiKey?: () => Promise<string | undefined>;
  /** OpenAI API base URL for launches (e.g. from a setting); default the OpenAI API. */
  openaiBaseUrl?: () => string | undefined;
  /** How often active jobs are polled (default 15 s). */
  pollMs?: number;
}

export const FINETUNE_VIEW_ID = "preflab.finetuneJobs";
export const FINETUNE_COMMANDS = ["preflab.finetuneLaunch", "preflab.finetuneStatus", "preflab.finetuneCancel", "preflab.finetuneLogs", "preflab.finetuneRefresh"] as const;

const TERMINAL: ReadonlySet<JobStatus> = new Set(["succeeded", "failed", "cancelled"]);
const active = (j: JobRecord) => !TERMINAL.has(j.status);

const STATUS_ICON: Record<JobStatus, [string, string?]> = {
  submitted: ["cloud-upload"],
  queued: ["clock"],
  running: ["sync~spin", "charts.blue"],
  succeeded: ["pass", "testing.iconPassed"],
  failed: ["error", "testing.iconFailed"],
  cancelled: ["circle-slash"],
  unknown: ["question"],
};

type Node = { kind: "job"; job: JobRecord } | { kind: "detail"; job: JobRecord; label: string; value: string };

export class FinetuneJobsTree implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  jobs: JobRecord[] = [];
  private loaded = false;

  constructor(private readonly feature: FinetuneFeature) {}

  refresh(jobs?: JobRecord[]): void {
    if (jobs) {
      this.jobs = jobs;
      this.loaded = true;
    } else this.loaded = false;
    this.changed.fire(undefined);
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind === "detail") {
      const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
      item.description = node.value;
      item.tooltip = `${node.label}: ${node.value}`;
      item.contextValue = "preflab.finetuneDetail";
      return item;
    }
    const j = node.job;
    const item = new vscode.TreeItem(j.name, vscode.TreeItemCollapsibleState.Collapsed);
    item.id = j.id;
    item.description = `${j.status}${j.remoteStatus && j.remoteStatus.toLowerCase() !== j.status ? ` (${j.remoteStatus})` : ""} · ${j.registeredModel ?? j.baseModel}`;
    const [icon, color] = STATUS_ICON[j.status] ?? STATUS_ICON.unknown;
    item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    item.contextValue = active(j) ? "preflab.finetuneJob.active" : "preflab.finetuneJob.done";
    const md = new vscode.MarkdownString(undefined, true);
    md.isTrusted = false;
    md.appendText(`${j.name}\n`);
    md.appendMarkdown(`\n**${j.method}** on \`${j.baseModel.replace(/`/g, "")}\` via ${j.backend}  \n`);
    md.appendText(`status: ${j.status}${j.remoteStatus ? ` (${j.remoteStatus})` : ""}\njob: ${j.id}${j.remoteId ? `, remote ${j.remoteId}` : ""}\n`);
    if (j.error) md.appendText(`error: ${j.error}\n`);
    item.tooltip = md;
    return item;
  }

  async getChildren(node?: Node): Promise<Node[]> {
    if (!node) {
      this.feature.showRestriction();
      if (!this.loaded) {
        this.jobs = await this.feature.readJobs();
        this.loaded = true;
        this.feature.schedulePolling(this.jobs);
      }
      return this.jobs.map((job) => ({ kind: "job", job }));
    }
    if (node.kind === "detail") return [];
    const j = node.job;
    const details: [string, string | undefined][] = [
      ["status", `${j.status}${j.remoteStatus ? ` (${j.remoteStatus})` : ""}`],
      ["model", j.registeredModel ? `${j.registeredModel} (registered)` : j.artifact],
      ["base model", j.baseModel],
      ["backend", `${j.backend}${j.remoteId ? ` #${j.remoteId}` : ""}`],
      ["method", j.method],
      ["data", j.trainFile],
      ["error", j.error],
      ["created", j.createdAt],
    ];
    return details.filter((d): d is [string, string] => d[1] !== undefined && d[1] !== "").map(([label, value]) => ({ kind: "detail", job: j, label, value }));
  }

  dispose(): void {
    this.changed.dispose();
  }
}

/** The job an invocation is about: a tree node, a job id, or none (then the user picks). */
function jobRef(arg: unknown): string | undefined {
  if (typeof arg === "string") return arg;
  if (arg && typeof arg === "object" && "job" in arg) return (arg as { job: JobRecord }).job.id;
  return undefined;
}

export class FinetuneFeature implements vscode.Disposable {
  readonly tree: FinetuneJobsTree;
  readonly output: vscode.OutputChannel;
  private timer: ReturnType<typeof setInterval> | undefined;
  private polling = false;
  private disposed = false;
  private api: Promise<FinetuneModule> | undefined;
  /** The tree view (its message says why nothing is refreshed in Restricted Mode). */
  view: Pick<vscode.TreeView<unknown>, "message"> | undefined;

  constructor(private readonly opts: FinetuneFeatureOptions) {
    this.tree = new FinetuneJobsTree(this);
    this.output = (opts.createOutput ?? ((n: string) => vscode.window.createOutputChannel(n)))("Preflab Fine-tuning");
  }

  showRestriction(): void {
    if (!this.view) return;
    const why = this.restriction();
    this.view.message = why ? "Restricted Mode: these are the job records on disk. Their status is not refreshed (that would call cloud APIs with your key, or run ssh/sky). Trust the workspace to refresh them." : undefined;
  }

  /** Why the backends are not contacted right now (Restricted Mode), or undefined when they may be. */
  restriction(): string | undefined {
    try {
      this.opts.gate.check("network", "Refreshing fine-tuning jobs");
      this.opts.gate.check("process", "Refreshing fine-tuning jobs");
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  }

  /**
   * Checks the gate and the key-destination policy for one job before a request or process.
   * `ask: false` (background polling) never prompts: it throws for an unconfirmed origin.
   */
  private async authorizeJob(root: string, job: JobRecord, what: string, ask: boolean): Promise<void> {
    const file = childPath(path.join(root, ".preflab", "finetune", "jobs"), `${job.id}.json`, "job id");
    if (job.backend === "slurm") return this.opts.policy.authorizeSsh({ host: job.slurm?.host ?? "", file, what }, ask);
    if (job.backend !== "openai") {
      this.opts.gate.check("process", `${what} (sky)`);
      return;
    }
    const url = job.openai?.baseUrl;
    const setting = this.opts.openaiBaseUrl?.();
    const fromSetting = url !== undefined && setting !== undefined && sameOrigin(url, setting);
    const req = { key: "openai" as const, url, source: fromSetting ? ("user-setting" as const) : ("workspace-file" as const), file, what };
    if (ask) return this.opts.policy.authorize(req);
    this.opts.gate.check("network", what);
    this.opts.gate.check("key", what);
    const d = this.opts.policy.decide(req);
    if (!d.allowed) throw new Error(`${d.reason}; run "Preflab: Fine-tuning Status" on it to confirm`);
  }

  core(): Promise<FinetuneModule> {
    return (this.api ??= (this.opts.loadFinetune ?? loadFinetuneFromCoreBundle)());
  }

  root(): string {
    const r = this.opts.workspaceRoot();
    if (!r) throw new Error("open a folder first: fine-tuning jobs are kept in its .preflab folder");
    return r;
  }

  async readJobs(): Promise<JobRecord[]> {
    const r = this.opts.workspaceRoot();
    if (!r) return [];
    return (await this.core()).listJobs(r);
  }

  private async apiKey(): Promise<string | undefined> {
    return (await this.opts.getApiKey?.()) ?? process.env.OPENAI_API_KEY;
  }

  /** Polls while some job is active; stops by itself when none is. Never in Restricted Mode. */
  schedulePolling(jobs: JobRecord[]): void {
    const any = !this.disposed && jobs.some(active) && this.restriction() === undefined;
    if (any && !this.timer) {
      this.timer = setInterval(() => void this.poll(), this.opts.pollMs ?? 15_000);
    } else if (!any && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** Refreshes every active job from its backend, then the view. */
  async poll(ask = false): Promise<JobRecord[]> {
    if (this.polling) return this.tree.jobs;
    this.polling = true;
    try {
      const root = this.opts.workspaceRoot();
      if (!root) return [];
      const api = await this.core();
      const jobs = await api.listJobs(root);
      const restricted = this.restriction();
      if (restricted) {
        if (ask) this.opts.gate.check("network", "Refreshing fine-tuning jobs");
        this.tree.refresh(jobs);
        this.schedulePolling(jobs);
        return jobs;
      }
      const apiKey = await this.apiKey();
      const out: JobRecord[] = [];
      for (const j of jobs) {
        if (!active(j) && !(j.status === "succeeded" && !j.registeredModel)) {
          out.push(j);
          continue;
        }
        // A command asks (and a refusal ends it); background polling skips what it may not ask about.
        if (ask) await this.authorizeJob(root, j, `the status of fine-tuning job "${j.name}"`, true);
        try {
          const before = j.status;
          if (!ask) await this.authorizeJob(root, j, `the status of fine-tuning job "${j.name}"`, false);
          const r = await api.refreshJob(root, j, { apiKey });
          if (r.status !== before) {
            this.opts.log.info(`fine-tuning job ${r.id} (${r.name}): ${before} -> ${r.status}`);
            if (r.status === "succeeded") void vscode.window.showInformationMessage(`Preflab: fine-tuning job "${r.name}" succeeded${r.registeredModel ? `; model "${r.registeredModel}" registered` : ""}.`);
            else if (r.status === "failed") void vscode.window.showWarningMessage(`Preflab: fine-tuning job "${r.name}" failed${r.error ? `: ${r.error}` : ""}.`);
          }
          out.push(r);
        } catch (e) {
          this.opts.log.warn(`fine-tuning job ${j.id}: status check failed: ${(e as Error).message}`);
          out.push(j);
        }
      }
      this.tree.refresh(out);
      this.schedulePolling(out);
      return out;
    } finally {
      this.polling = false;
    }
  }

  private async pickJob(arg: unknown, filter: (j: JobRecord) => boolean, placeHolder: string): Promise<string | undefined> {
    const ref = jobRef(arg);
    if (ref) return ref;
    const jobs = (await this.readJobs()).filter(filter);
    if (jobs.length === 0) {
      void vscode.window.showInformationMessage("Preflab: no fine-tuning jobs to choose from.");
      return undefined;
    }
    const pick = await vscode.window.showQuickPick(
      jobs.map((j) => ({ label: j.name, description: `${j.status} · ${j.backend} · ${j.method}`, detail: j.id, id: j.id })),
      { placeHolder, title: "Preflab: Fine-tuning Jobs" },
    );
    return pick?.id;
  }

  // ---------------------------------------------------------------- commands

  async launch(): Promise<JobRecord | undefined> {
    this.opts.gate.check("network", "Launching a fine-tuning job");
    this.opts.gate.check("process", "Launching a fine-tuning job");
    const root = this.root();
    const api = await this.core();
    const backendPick = await vscode.window.showQuickPick(
      [
        { label: "OpenAI fine-tuning", description: "hosted models (SFT, DPO)", backend: "openai" as const },
        { label: "SkyPilot", description: "TRL on a cloud / Kubernetes GPU cluster (sky launch)", backend: "skypilot" as const },
        { label: "Slurm", description: "TRL on a Slurm cluster over ssh (sbatch)", backend: "slurm" as const },
      ],
      { title: "Preflab: Launch Fine-tuning (1/4)", placeHolder: "Where to train?" },
    );
    if (!backendPick) return undefined;
    const backend = backendPick.backend;
    const picked = await vscode.window.showOpenDialog({
      title: "Training data: a `preflab export` folder or a training JSONL",
      canSelectFiles: true,
      canSelectFolders: true,
      canSelectMany: false,
      defaultUri: vscode.Uri.file(root),
      openLabel: "Use for training",
    });
    if (!picked?.[0]) return undefined;
    const train = picked[0].fsPath;
    let method: JobMethod | undefined;
    const isFolder = ((await vscode.workspace.fs.stat(picked[0])).type & vscode.FileType.Directory) !== 0;
    if (!isFolder) {
      const m = await vscode.window.showQuickPick(
        (backend === "openai" ? ["sft", "dpo"] : ["sft", "dpo", "rm"]).map((x) => ({ label: x, method: x as JobMethod })),
        { title: "Preflab: Launch Fine-tuning (2/4)", placeHolder: "Which method does this file train?" },
      );
      if (!m) return undefined;
      method = m.method;
    }
    let model: string | undefined;
    if (backend === "openai") {
      model = await vscode.window.showInputBox({ title: "Preflab: Launch Fine-tuning (3/4)", prompt: "Base model to fine-tune", value: "gpt-4o-mini-2024-07-18", ignoreFocusOut: true });
    } else {
      const presets = Object.entries(api.OPEN_WEIGHT_PRESETS).map(([k, v]) => ({ label: k, description: v, model: v }));
      const p = await vscode.window.showQuickPick([...presets, { label: "Other Hugging Face model...", description: "", model: "" }], { title: "Preflab: Launch Fine-tuning (3/4)", placeHolder: "Base model" });
      if (!p) return undefined;
      model = p.model || (await vscode.window.showInputBox({ prompt: "Hugging Face model id", placeHolder: "org/model", ignoreFocusOut: true }));
    }
    if (!model) return undefined;
    const name = await vscode.window.showInputBox({ title: "Preflab: Launch Fine-tuning (4/4)", prompt: "Job name (optional)", ignoreFocusOut: true });
    if (name === undefined) return undefined;
    const launchOpts: Parameters<FinetuneModule["launchJob"]>[0] = { root, backend, model, train, ...(method ? { method } : {}), ...(name ? { name } : {}), onOutput: (t) => this.output.append(t) };
    if (backend === "openai") {
      const key = await this.apiKey();
      if (!key) throw new Error("no OpenAI API key: run \"Preflab: Set API Key\" or set OPENAI_API_KEY");
      launchOpts.apiKey = key;
      const baseUrl = this.opts.openaiBaseUrl?.();
      await this.opts.policy.authorize({ key: "openai", url: baseUrl, source: baseUrl ? "user-setting" : "official", what: "launching a fine-tuning job" });
      if (baseUrl) launchOpts.baseUrl = baseUrl;
    } else if (backend === "skypilot") {
      const accelerators = await vscode.window.showInputBox({ prompt: "GPUs (SkyPilot accelerators)", value: "A100:4", ignoreFocusOut: true });
      if (!accelerators) return undefined;
      launchOpts.skypilot = { accelerators };
    } else {
      const host = await vscode.window.showInputBox({ prompt: "Slurm login host (ssh destination)", placeHolder: "user@login.cluster", ignoreFocusOut: true });
      if (!host) return undefined;
      // The user typed this host: remember it, so polling the job they launch needs no question.
      await this.opts.policy.allowSsh(host);
      launchOpts.slurm = { host };
    }
    const job = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Preflab: launching ${backend} fine-tuning...` }, () => api.launchJob(launchOpts));
    this.opts.log.info(`fine-tuning job ${job.id} (${job.name}) launched on ${backend}: ${job.status}${job.remoteId ? `, remote id ${job.remoteId}` : ""}`);
    void vscode.window.showInformationMessage(`Preflab: fine-tuning job "${job.name}" launched (${job.status}).`);
    await this.poll(true);
    return job;
  }

  async status(arg?: unknown): Promise<JobRecord[] | JobRecord | undefined> {
    const ref = jobRef(arg);
    if (!ref) return this.poll(true);
    const api = await this.core();
    const root = this.root();
    const record = await api.loadJob(root, ref);
    await this.authorizeJob(root, record, `the status of fine-tuning job "${record.name}"`, true);
    const job = await api.refreshJob(root, record, { apiKey: await this.apiKey() });
    this.tree.refresh(await this.readJobs());
    this.schedulePolling(this.tree.jobs);
    return job;
  }

  async cancel(arg?: unknown): Promise<JobRecord | undefined> {
    const id = await this.pickJob(arg, active, "Which job to cancel?");
    if (!id) return undefined;
    const api = await this.core();
    const job = await api.loadJob(this.root(), id);
    await this.authorizeJob(this.root(), job, `cancelling fine-tuning job "${job.name}"`, true);
    const ok = await vscode.window.showWarningMessage(`Cancel fine-tuning job "${job.name}" (${job.backend})?`, { modal: true }, "Cancel Job");
    if (ok !== "Cancel Job") return undefined;
    const done = await api.cancelJob(this.root(), id, { apiKey: await this.apiKey() });
    this.opts.log.info(`fine-tuning job ${done.id} cancelled`);
    this.tree.refresh(await this.readJobs());
    return done;
  }

  async logs(arg?: unknown): Promise<void> {
    const id = await this.pickJob(arg, () => true, "Whose logs?");
    if (!id) return;
    const api = await this.core();
    const root = this.root();
    const job = await api.loadJob(root, id);
    await this.authorizeJob(root, job, `the logs of fine-tuning job "${job.name}"`, true);
    const follow = active(job);
    this.output.show(true);
    this.output.appendLine(`---- ${job.name} (${job.id}, ${job.backend})${follow ? ": following until it ends" : ""}`);
    const apiKey = await this.apiKey();
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Preflab: ${follow ? "following" : "fetching"} logs of "${job.name}"`, cancellable: true },
      async (_progress, token) => {
        const ac = new AbortController();
        const sub = token.onCancellationRequested(() => ac.abort());
        try {
          await api.jobLogs(root, id, { follow, signal: ac.signal, apiKey, onLine: (l) => this.output.appendLine(l) });
        } finally {
          sub.dispose();
        }
      },
    );
    this.output.appendLine(`---- end of logs of ${job.name}`);
  }

  commands(): Record<string, (...args: unknown[]) => unknown> {
    return {
      "preflab.finetuneLaunch": () => this.launch(),
      "preflab.finetuneStatus": (arg?: unknown) => this.status(arg),
      "preflab.finetuneCancel": (arg?: unknown) => this.cancel(arg),
      "preflab.finetuneLogs": (arg?: unknown) => this.logs(arg),
      "preflab.finetuneRefresh": () => this.tree.refresh(),
    };
  }

  /** Re-reads the records when one changes on disk (CLI, another window). */
  watch(): vscode.Disposable | undefined {
    const r = this.opts.workspaceRoot();
    if (!r) return undefined;
    const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(r), ".preflab/finetune/jobs/*.json"));
    const again = () => this.tree.refresh();
    w.onDidCreate(again);
    w.onDidChange(again);
    w.onDidDelete(again);
    return w;
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.tree.dispose();
    this.output.dispose();
  }
}

/** Wires the feature: the tree view, a file watcher, and the commands (registered by the caller). */
export function finetuneFeature(
  _context: vscode.ExtensionContext,
  opts: FinetuneFeatureOptions,
): { disposables: vscode.Disposable[]; commands: Record<string, (...args: unknown[]) => unknown>; feature: FinetuneFeature } {
  const feature = new FinetuneFeature(opts);
  const view = vscode.window.createTreeView(FINETUNE_VIEW_ID, { treeDataProvider: feature.tree, showCollapseAll: true });
  feature.view = view;
  const disposables: vscode.Disposable[] = [feature, view];
  const watcher = feature.watch();
  if (watcher) disposables.push(watcher);
  // The caller owns the disposables: context.subscriptions.push(...disposables).
  return { disposables, commands: feature.commands(), feature };
}
