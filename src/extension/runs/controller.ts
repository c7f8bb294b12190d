/**
 * Batch evaluations from the command palette: reward model, generation, judge and prompt sets.
 * Each run asks what it needs with quick picks (picks.ts); plan.ts turns the answers and the
 * settings into a run-session request (the same one the CLI builds from flags); execute.ts runs it
 * with progress in its own run folder under the configured runs folder; announce.ts offers what to
 * do next. A status-bar item shows while anything runs. Cancelling, or closing VS Code, leaves the
 * run resumable (resume.ts).
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import type { Dimension } from "../../core/data/schema.js";
import type { RunSummary } from "../../core/eval/runner.js";
import type { ProviderId } from "../../core/providers/registry.js";
import type { ResolvedProvider } from "../../app/provider.js";
import type { CommandMap, Feature } from "../commands.js";
import type { ProviderChoice } from "../config.js";
import { loadCore } from "../core.js";
import { fractionDone, progressMessage } from "../format.js";
import { Picks, type RunChoice, type RunKindChoice } from "../picks.js";
import { listRuns, newRunName, pct, readRunInfo, type RunInfo } from "../runs-model.js";
import type { RunsTree } from "../runs-tree.js";
import type { Services } from "../services.js";
import { RestrictedModeError, trustRefusal } from "../trust.js";
import { DIMENSION_LIST } from "../users-index.js";
import { announce } from "./announce.js";
import { runEnv } from "./env.js";
import { execute, KIND_TITLE, type Execution } from "./execute.js";
import { evalRequest, resolveChoice, settingName, type EvalTarget } from "./plan.js";
import { rememberModelPath, resumeExecution } from "./resume.js";

/** Thrown for a refusal the user can act on; `actions` become message buttons. */
export class UserFacingError extends Error {
  constructor(
    message: string,
    readonly actions: { title: string; command: string; args?: unknown[] }[] = [],
  ) {
    super(message);
    this.name = "UserFacingError";
  }
}

const CHAT_PROVIDERS: readonly ProviderId[] = ["openai", "anthropic", "openai-compatible", "llamacpp"];

export class RunController implements Feature, vscode.Disposable {
  readonly name = "runs-controller";
  private readonly status: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly picks: Picks;

  constructor(
    private readonly s: Services,
    private readonly runsTree: RunsTree,
  ) {
    this.picks = new Picks(s);
    this.status = vscode.window.createStatusBarItem("preflab.runs", vscode.StatusBarAlignment.Left, 50);
    this.status.name = "Preflab runs";
    this.status.command = "preflab.runs.focus";
    this.disposables.push(this.status, s.active.onDidChange(() => this.updateStatus()));
  }

  get pickers(): Picks {
    return this.picks;
  }

  private updateStatus(): void {
    const runs = this.s.active.all;
    if (runs.length === 0) {
      this.status.hide();
      return;
    }
    const parts = runs.map((r) => (r.progress ? `${r.kind} ${pct(fractionDone(r.progress), 0)}` : `${r.kind}…`));
    this.status.text = `$(sync~spin) Preflab: ${parts.join(", ")}`;
    this.status.tooltip = runs.map((r) => `${r.label}${r.progress ? ` — ${progressMessage(r.progress, r.progress.costUsd > 0)}` : ""}`).join("\n");
    this.status.show();
  }

  // ---- helpers

  private async requireDataset(): Promise<string | undefined> {
    const dir = this.s.dataset.dir;
    if (dir) return dir;
    const pick = await vscode.window.showWarningMessage("Preflab: no dataset is open. Build the bundled sample or open a built dataset first.", "Build Bundled Sample", "Open Dataset…");
    if (pick === "Build Bundled Sample") await vscode.commands.executeCommand("preflab.buildDataset", "sample");
    else if (pick === "Open Dataset…") await vscode.commands.executeCommand("preflab.openDataset");
    return this.s.dataset.dir;
  }

  /** The provider for a choice, validated by the session layer; its refusals become messages with a button. */
  async resolveProvider(kind: RunKindChoice, choice: ProviderChoice, params?: Parameters<typeof resolveChoice>[4]): Promise<ResolvedProvider> {
    const core = await loadCore();
    try {
      return await resolveChoice(core, runEnv(this.s), kind, choice, params);
    } catch (e) {
      if (!(e instanceof core.ProviderConfigError)) throw e;
      if (e.setting === "key") {
        throw new UserFacingError(`Preflab: ${e.message}.`, [{ title: "Set API Key", command: "preflab.setApiKey", args: [choice.provider] }]);
      }
      const setting = e.setting === "provider" || e.setting === "topP" ? undefined : settingName(choice.provider, e.setting);
      throw new UserFacingError(`Preflab: ${e.message}.`, setting ? [{ title: "Open Settings", command: "workbench.action.openSettings", args: [setting] }] : []);
    }
  }

  private newRunDir(kind: RunKindChoice, choice: ProviderChoice): string {
    const model = choice.provider === "llamacpp" ? path.basename(choice.model) : choice.model;
    let dir = path.join(this.s.folders().runs, newRunName(kind, choice.provider, model));
    for (let i = 2; existsSync(dir); i++) dir = path.join(this.s.folders().runs, `${newRunName(kind, choice.provider, model)}-${i}`);
    return dir;
  }

  private async countUsers(dims: readonly Dimension[]): Promise<number | undefined> {
    try {
      const idx = await this.s.dataset.users();
      return idx ? dims.reduce((n, d) => n + idx.usersOf(d).length, 0) : undefined;
    } catch {
      return undefined;
    }
  }

  private refuseUntrusted(provider: ProviderId): void {
    const refusal = trustRefusal(provider, this.s.trusted);
    if (refusal) throw new RestrictedModeError(refusal);
  }

  /** Asks dimension, provider, model and limit (skipping what `preset` gives). */
  private async ask(kind: RunKindChoice, preset: Partial<RunChoice>, allowed?: readonly ProviderId[]): Promise<RunChoice | undefined> {
    const t = (step: number, of: number) => `Preflab: ${KIND_TITLE[kind]} (${step}/${of})`;
    const dimensions = preset.dimensions ?? (await this.picks.dimensions(kind, t(1, 4)));
    if (!dimensions) return undefined;
    const provider = preset.provider ?? (await this.picks.provider(kind, t(2, 4), allowed));
    if (!provider) return undefined;
    this.refuseUntrusted(provider);
    const model = preset.model ?? (await this.picks.model(kind, provider, t(3, 4)));
    if (!model) return undefined;
    const limit = preset.limit !== undefined ? preset.limit : await this.picks.limit(kind, t(4, 4), await this.countUsers(dimensions));
    if (limit === undefined) return undefined;
    const choice = { dimensions, provider, model, limit };
    await this.picks.remember(kind, choice);
    return choice;
  }

  /** Resolves the provider, makes the run folder and runs `target` through the session. */
  private async start(kind: RunKindChoice, target: EvalTarget, choice: RunChoice): Promise<RunSummary> {
    const cfg = this.s.config();
    const provider = await this.resolveProvider(kind, choice);
    const dir = this.newRunDir(kind, choice);
    await rememberModelPath(this.s, dir, choice);
    return this.run({ kind, dir, request: evalRequest(target, cfg, choice), provider });
  }

  private async run(x: Execution): Promise<RunSummary> {
    const summary = await execute(this.s, this.runsTree, x);
    void announce(this.s, x.kind, x.dir, summary).catch((e: unknown) => this.s.log.error("run announcement failed", e));
    return summary;
  }

  // ---- commands

  async runRewardModelEval(preset: Partial<RunChoice> = {}): Promise<RunSummary | undefined> {
    const dataset = await this.requireDataset();
    if (!dataset) return undefined;
    const choice = await this.ask("rm", preset);
    if (!choice) return undefined;
    return this.start("rm", { kind: "rm", datasetDir: dataset }, choice);
  }

  async runGenerationEval(preset: Partial<RunChoice> = {}): Promise<RunSummary | undefined> {
    const dataset = await this.requireDataset();
    if (!dataset) return undefined;
    const choice = await this.ask("generate", preset, CHAT_PROVIDERS);
    if (!choice) return undefined;
    return this.start("generate", { kind: "generate", datasetDir: dataset }, choice);
  }

  private async pickRun(filter: (r: RunInfo) => boolean, placeHolder: string, title: string): Promise<RunInfo | undefined> {
    const runs = (await listRuns(this.s.folders().runs, this.s.active.dirs)).filter(filter);
    if (!runs.length) {
      void vscode.window.showWarningMessage(`Preflab: no matching run in ${this.s.folders().runs}.`);
      return undefined;
    }
    const pick = await vscode.window.showQuickPick(
      runs.map((r) => ({ label: r.name, description: `${r.provider ?? "?"}/${r.model ?? "?"} · ${r.status}`, run: r })),
      { title, placeHolder, ignoreFocusOut: true },
    );
    return pick?.run;
  }

  async runJudge(genRun?: RunInfo | string, preset: Partial<RunChoice> = {}): Promise<RunSummary | undefined> {
    const source =
      typeof genRun === "string" ? await readRunInfo(genRun) : (genRun ?? (await this.pickRun((r) => r.kind === "generate" && (r.totals?.done ?? 0) > 0, "Which generation run to judge?", "Preflab: Judge (1/3)")));
    if (!source) return undefined;
    if (source.kind !== "generate") throw new UserFacingError(`Preflab: ${source.name} is a ${source.kind} run; the judge scores generation runs.`);
    const cfg = this.s.config();
    const provider = preset.provider ?? (await this.picks.provider("judge", "Preflab: Judge (2/3)", CHAT_PROVIDERS));
    if (!provider) return undefined;
    this.refuseUntrusted(provider);
    const model = preset.model ?? (await this.picks.model("judge", provider, "Preflab: Judge (3/3)", cfg));
    if (!model) return undefined;
    const choice: RunChoice = { dimensions: [...DIMENSION_LIST], provider, model, limit: null };
    await this.picks.remember("judge", choice);
    return this.start("judge", { kind: "judge", sourceRunDir: source.dir }, choice);
  }

  async runPromptSet(file?: vscode.Uri | string, preset: Partial<RunChoice> = {}): Promise<RunSummary | undefined> {
    let input = typeof file === "string" ? file : file?.fsPath;
    if (!input) {
      const active = vscode.window.activeTextEditor?.document.uri;
      const uris = await vscode.window.showOpenDialog({
        title: "Preflab: prompt set (JSONL, one {id, messages} per line)",
        canSelectMany: false,
        filters: { "JSON Lines": ["jsonl"] },
        ...(active?.scheme === "file" && active.fsPath.endsWith(".jsonl") ? { defaultUri: active } : {}),
      });
      input = uris?.[0]?.fsPath;
    }
    if (!input) return undefined;
    const core = await loadCore();
    try {
      await core.readPromptFile(input);
    } catch (e) {
      if (e instanceof core.InputError) {
        for (const p of e.problems) this.s.log.error(p);
        throw new UserFacingError(`Preflab: ${e.problems[0]}${e.problems.length > 1 ? ` (and ${e.problems.length - 1} more; see the log)` : ""}. Nothing was run.`, [{ title: "Show Log", command: "preflab.showLog" }]);
      }
      throw e;
    }
    const provider = preset.provider ?? (await this.picks.provider("prompts", "Preflab: Prompt Set (1/2)", CHAT_PROVIDERS));
    if (!provider) return undefined;
    this.refuseUntrusted(provider);
    const model = preset.model ?? (await this.picks.model("prompts", provider, "Preflab: Prompt Set (2/2)"));
    if (!model) return undefined;
    const choice: RunChoice = { dimensions: [], provider, model, limit: null };
    await this.picks.remember("prompts", choice);
    return this.start("prompts", { kind: "prompts", input }, choice);
  }

  /** Resumes a run folder with the options, provider, model and params it was started with. */
  async resumeRun(arg?: RunInfo | string | vscode.Uri): Promise<RunSummary | undefined> {
    const dir = typeof arg === "string" ? arg : arg instanceof vscode.Uri ? arg.fsPath : arg?.dir;
    const info = dir ? await readRunInfo(dir, this.s.active.dirs.has(dir)) : await this.pickRun((r) => r.status === "resumable" || r.status === "failed" || (r.totals?.failed ?? 0) > 0, "Which run to resume?", "Preflab: Resume Run");
    if (!info) return undefined;
    if (info.status === "running") throw new UserFacingError(`Preflab: ${info.name} is running${this.s.active.get(info.dir) ? "" : " in another process"}.`);
    const x = await resumeExecution(this.s, info, (kind, choice, params) => this.resolveProvider(kind, choice, params), (m) => new UserFacingError(m));
    if (!x) return undefined;
    this.s.log.info(`resuming ${info.dir}`);
    return this.run(x);
  }

  async cancelRun(arg?: RunInfo | string): Promise<void> {
    let dir = typeof arg === "string" ? arg : arg?.dir;
    if (!dir) {
      const runs = this.s.active.all;
      if (runs.length === 0) {
        void vscode.window.showInformationMessage("Preflab: no run is going on in this window.");
        return;
      }
      const pick = runs.length === 1 ? runs[0] : (await vscode.window.showQuickPick(runs.map((r) => ({ label: r.label, description: path.basename(r.dir), r })), { title: "Preflab: Cancel Run" }))?.r;
      dir = pick?.dir;
    }
    if (!dir) return;
    const active = this.s.active.get(dir);
    if (!active) {
      void vscode.window.showWarningMessage(`Preflab: ${path.basename(dir)} is not running in this window (a run started elsewhere is stopped where it runs: Ctrl-C for the CLI).`);
      return;
    }
    active.controller.abort();
  }

  commands(): CommandMap {
    return {
      "preflab.runRewardModelEval": (preset?: Partial<RunChoice>) => this.runRewardModelEval(preset ?? {}),
      "preflab.runGenerationEval": (preset?: Partial<RunChoice>) => this.runGenerationEval(preset ?? {}),
      "preflab.runJudge": (run?: RunInfo | string, preset?: Partial<RunChoice>) => this.runJudge(run, preset ?? {}),
      "preflab.runPromptSet": (file?: vscode.Uri | string, preset?: Partial<RunChoice>) => this.runPromptSet(file, preset ?? {}),
      "preflab.resumeRun": (run?: RunInfo | string | vscode.Uri) => this.resumeRun(run),
      "preflab.cancelRun": (run?: RunInfo | string) => this.cancelRun(run),
      "preflab.selectModel": () => this.picks.selectModel(),
    };
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
