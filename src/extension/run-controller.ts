/**
 * Batch evaluations from the command palette: reward model, generation, judge and prompt sets.
 * Each run asks what it needs with quick picks (picks.ts), checks workspace trust and keys, and
 * runs through `withProgress` (cancellable; percentage, ETA, tokens, estimated cost) in its own
 * run folder under the configured runs folder. A status-bar item shows while anything runs; a
 * finished run refreshes the Runs view and offers its report. Cancelling, or closing VS Code,
 * leaves the run resumable (the core runner resumes from results.jsonl).
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import type { Dimension } from "../core/data/schema.js";
import type { EvalJson } from "../core/eval/plan.js";
import type { RunMeta, RunnerOptions, RunSummary } from "../core/eval/runner.js";
import type { RunJson } from "../core/eval/runlog.js";
import type { ProviderConfig, ProviderId } from "../core/providers/registry.js";
import type { Provider } from "../core/providers/types.js";
import type { CommandMap, Feature } from "./commands.js";
import { providerConfigFor, type PreflabConfig, type ProviderChoice } from "./config.js";
import { loadCore } from "./core.js";
import { formatDuration, fractionDone, increment, progressMessage } from "./format.js";
import { Picks, type RunChoice, type RunKindChoice } from "./picks.js";
import { callsDir, headlineOf, listRuns, newRunName, pct, readRunInfo, type RunInfo } from "./runs-model.js";
import type { RunsTree } from "./runs-tree.js";
import { needsKey } from "./secrets.js";
import type { Services } from "./services.js";
import { RestrictedModeError, trustRefusal } from "./trust.js";
import { DIMENSION_LIST } from "./users-index.js";

const KIND_TITLE: Record<RunKindChoice, string> = {
  rm: "Reward-model evaluation",
  generate: "Generation",
  judge: "Judge",
  prompts: "Prompt set",
};

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

interface Execution {
  kind: RunKindChoice;
  dir: string;
  choice: ProviderChoice;
  providerConfig: ProviderConfig;
  /** Strings to redact from everything the runner writes. */
  secrets: string[];
  run: (provider: Provider, runner: RunnerOptions) => Promise<RunSummary>;
}

/** What ran, for run.json: never a key (mirrors the CLI's runMetaFor, so caches are shared). */
export function runMeta(config: ProviderConfig, provider: Provider, publicUrl: (u: string) => string): RunMeta {
  const params: Record<string, unknown> = {};
  if (config.temperature !== undefined) params.temperature = config.temperature;
  if (config.maxTokens !== undefined) params.maxTokens = config.maxTokens;
  if (config.topP !== undefined) params.topP = config.topP;
  if (config.seed !== undefined) params.seed = config.seed;
  const meta: RunMeta = { provider: provider.id, model: provider.model, params };
  if (config.baseUrl) meta.baseUrl = publicUrl(config.baseUrl);
  if (config.provider === "openai-compatible" && config.baseUrl) meta.cacheScope = `base-url:${config.baseUrl}`;
  if (config.provider === "llamacpp" && config.modelPath) meta.cacheScope = `model-path:${config.modelPath}`;
  return meta;
}

const MODEL_PATHS_KEY = "preflab.llamacppModelPaths";

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

  /** Checks trust and credentials; returns the provider config and the secrets to redact. */
  private async prepareProvider(choice: ProviderChoice, cfg: PreflabConfig, params: { temperature?: number; maxTokens?: number; topP?: number; seed?: number }): Promise<{ config: ProviderConfig; secrets: string[] }> {
    const refusal = trustRefusal(choice.provider, this.s.trusted);
    if (refusal) throw new RestrictedModeError(refusal);
    let apiKey: string | undefined;
    if (needsKey(choice.provider)) {
      const k = await this.s.keys.get(choice.provider);
      apiKey = k?.key;
      if (!apiKey && choice.provider !== "openai-compatible") {
        throw new UserFacingError(`Preflab: no API key for ${choice.provider}. Store one with "Preflab: Set API Key" (kept in secret storage), or set it in the environment.`, [
          { title: "Set API Key", command: "preflab.setApiKey", args: [choice.provider] },
        ]);
      }
    }
    if (choice.provider === "openai-compatible" && !cfg.openaiCompatible.baseUrl) {
      throw new UserFacingError("Preflab: set preflab.openaiCompatible.baseUrl to your server's URL (e.g. http://localhost:8000/v1) first.", [
        { title: "Open Settings", command: "workbench.action.openSettings", args: ["preflab.openaiCompatible"] },
      ]);
    }
    if (choice.provider === "llamacpp" && !existsSync(choice.model)) {
      throw new UserFacingError(`Preflab: the GGUF file ${choice.model} does not exist.`, [{ title: "Open Settings", command: "workbench.action.openSettings", args: ["preflab.llamacpp"] }]);
    }
    // The Anthropic Messages API no longer accepts temperature / top_p.
    const p = choice.provider === "anthropic" ? { ...params, temperature: undefined, topP: undefined } : params;
    const config = providerConfigFor(cfg, choice, { apiKey, params: p });
    return { config, secrets: apiKey ? [apiKey] : [] };
  }

  private runnerBase(cfg: PreflabConfig): Omit<RunnerOptions, "runDir" | "meta"> {
    const r: Omit<RunnerOptions, "runDir" | "meta"> = {
      concurrency: cfg.runner.concurrency,
      maxRetries: cfg.runner.maxRetries,
      timeoutMs: cfg.runner.timeoutMs,
      cacheDir: cfg.cacheEnabled ? this.s.folders().cache : false,
    };
    if (cfg.runner.rpm) r.rpm = cfg.runner.rpm;
    if (cfg.runner.tpm) r.tpm = cfg.runner.tpm;
    return r;
  }

  /** Runs one evaluation with progress; returns its summary, or undefined when it could not start. */
  private async execute(x: Execution): Promise<RunSummary | undefined> {
    const core = await loadCore();
    const cfg = this.s.config();
    const controller = new AbortController();
    const label = `${KIND_TITLE[x.kind]} · ${x.choice.provider}/${x.choice.provider === "llamacpp" ? path.basename(x.choice.model) : x.choice.model}`;
    this.s.active.add({ dir: x.dir, kind: x.kind, label, controller, startedAt: Date.now() });
    this.runsTree.refresh();
    const started = Date.now();
    this.s.log.info(`${x.kind} run started: ${x.dir} (${x.choice.provider}/${x.choice.model})`);
    try {
      const summary = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Preflab: ${label}`, cancellable: true },
        async (progress, token) => {
          const sub = token.onCancellationRequested(() => {
            this.s.log.info(`${x.kind} run cancelled by the user: ${x.dir}`);
            controller.abort();
          });
          try {
            progress.report({ message: x.choice.provider === "llamacpp" ? "loading the model…" : "planning…" });
            const provider = await core.createProvider(x.providerConfig);
            try {
              let last = 0;
              const priced = x.providerConfig.pricing !== undefined;
              const runner: RunnerOptions = {
                ...this.runnerBase(cfg),
                runDir: x.dir,
                signal: controller.signal,
                secrets: x.secrets,
                meta: runMeta(x.providerConfig, provider, core.publicUrl),
                onProgress: (p) => {
                  const f = fractionDone(p);
                  progress.report({ increment: increment(last, f), message: progressMessage(p, priced) });
                  last = f;
                  this.s.active.update(x.dir, p);
                },
              };
              if (x.providerConfig.pricing) runner.pricing = x.providerConfig.pricing;
              return await x.run(provider, runner);
            } finally {
              await provider.dispose?.();
            }
          } finally {
            sub.dispose();
          }
        },
      );
      const t = summary.totals;
      this.s.log.info(
        `${x.kind} run ${summary.status} in ${formatDuration(Date.now() - started)}: ${t.done} done, ${t.failed} failed of ${t.items}; ` +
          `tokens ${t.inputTokens} in / ${t.outputTokens} out; cost $${t.costUsd.toFixed(4)}; ${x.dir}`,
      );
      for (const f of summary.failures.slice(0, 5)) this.s.log.warn(`  ${f.itemId}: ${f.kind}${f.status ? ` (HTTP ${f.status})` : ""}: ${f.message}`);
      void this.announce(x, summary);
      return summary;
    } finally {
      this.s.active.remove(x.dir);
      this.runsTree.refresh();
    }
  }

  private async announce(x: Execution, summary: RunSummary): Promise<void> {
    const what = KIND_TITLE[x.kind];
    if (summary.status === "cancelled") {
      const pick = await vscode.window.showWarningMessage(`Preflab: ${what} cancelled; ${summary.totals.done} of ${summary.totals.items} items are saved. Resume it from the Runs view.`, "Resume");
      if (pick === "Resume") await vscode.commands.executeCommand("preflab.resumeRun", x.dir);
      return;
    }
    const info = await readRunInfo(x.dir);
    const core = await loadCore();
    const headline = info ? await headlineOf(info, core.loadRunReport).catch(() => undefined) : undefined;
    const failed = summary.totals.failed ? ` (${summary.totals.failed} item${summary.totals.failed === 1 ? "" : "s"} failed; see the log)` : "";
    const text = `Preflab: ${what} finished${headline ? `: ${headline.text}` : ""}${failed}.`;
    // What to do next depends on the kind: a report (rm, judge), judging or reading the outputs (generate), the raw answers (prompts).
    const actions: Record<RunKindChoice, string[]> = { rm: ["Open Report"], judge: ["Open Report"], generate: ["Judge…", "Show Outputs"], prompts: ["Open Results"] };
    const buttons = [...actions[x.kind], ...(summary.totals.failed ? ["Show Log"] : [])];
    const pick = await (summary.totals.failed ? vscode.window.showWarningMessage(text, ...buttons) : vscode.window.showInformationMessage(text, ...buttons));
    if (pick === "Open Report") await vscode.commands.executeCommand("preflab.showResults", x.dir);
    else if (pick === "Judge…") await vscode.commands.executeCommand("preflab.runJudge", x.dir);
    else if (pick === "Show Outputs") await vscode.commands.executeCommand("preflab.openTriple", { runDir: x.dir });
    else if (pick === "Open Results") await vscode.window.showTextDocument(vscode.Uri.file(path.join(x.dir, "results.jsonl")));
    else if (pick === "Show Log") this.s.log.show();
  }

  private newRunDir(kind: RunKindChoice, choice: ProviderChoice): string {
    const model = choice.provider === "llamacpp" ? path.basename(choice.model) : choice.model;
    let dir = path.join(this.s.folders().runs, newRunName(kind, choice.provider, model));
    for (let i = 2; existsSync(dir); i++) dir = path.join(this.s.folders().runs, `${newRunName(kind, choice.provider, model)}-${i}`);
    return dir;
  }

  private async rememberModelPath(dir: string, choice: ProviderChoice): Promise<void> {
    if (choice.provider !== "llamacpp") return;
    const map = this.s.context.workspaceState.get<Record<string, string>>(MODEL_PATHS_KEY) ?? {};
    map[dir] = choice.model;
    await this.s.context.workspaceState.update(MODEL_PATHS_KEY, map);
  }

  private async countUsers(dims: readonly Dimension[]): Promise<number | undefined> {
    try {
      const idx = await this.s.dataset.users();
      return idx ? dims.reduce((n, d) => n + idx.usersOf(d).length, 0) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Asks dimension, provider, model and limit (skipping what `preset` gives). */
  private async ask(kind: RunKindChoice, preset: Partial<RunChoice>, allowed?: readonly ProviderId[]): Promise<RunChoice | undefined> {
    const t = (step: number, of: number) => `Preflab: ${KIND_TITLE[kind]} (${step}/${of})`;
    const dimensions = preset.dimensions ?? (await this.picks.dimensions(kind, t(1, 4)));
    if (!dimensions) return undefined;
    const provider = preset.provider ?? (await this.picks.provider(kind, t(2, 4), allowed));
    if (!provider) return undefined;
    const refusal = trustRefusal(provider, this.s.trusted);
    if (refusal) throw new RestrictedModeError(refusal);
    const model = preset.model ?? (await this.picks.model(kind, provider, t(3, 4)));
    if (!model) return undefined;
    const limit = preset.limit !== undefined ? preset.limit : await this.picks.limit(kind, t(4, 4), await this.countUsers(dimensions));
    if (limit === undefined) return undefined;
    const choice = { dimensions, provider, model, limit };
    await this.picks.remember(kind, choice);
    return choice;
  }

  // ---- commands

  async runRewardModelEval(preset: Partial<RunChoice> = {}): Promise<RunSummary | undefined> {
    const dataset = await this.requireDataset();
    if (!dataset) return undefined;
    const choice = await this.ask("rm", preset);
    if (!choice) return undefined;
    const cfg = this.s.config();
    const { config, secrets } = await this.prepareProvider(choice, cfg, { maxTokens: cfg.generation.maxTokens, temperature: cfg.generation.temperature });
    const dir = this.newRunDir("rm", choice);
    await this.rememberModelPath(dir, choice);
    const opts = {
      dimensions: choice.dimensions,
      orders: cfg.evaluation.orders,
      verdict: cfg.evaluation.verdict,
      limit: choice.limit ?? undefined,
      maxInputTokens: cfg.evaluation.maxInputTokens,
    };
    const core = await loadCore();
    return this.execute({ kind: "rm", dir, choice, providerConfig: config, secrets, run: async (p, r) => (await core.runRm(dataset, opts, p, r)).summary });
  }

  async runGenerationEval(preset: Partial<RunChoice> = {}): Promise<RunSummary | undefined> {
    const dataset = await this.requireDataset();
    if (!dataset) return undefined;
    const choice = await this.ask("generate", preset, ["openai", "anthropic", "openai-compatible", "llamacpp"]);
    if (!choice) return undefined;
    const cfg = this.s.config();
    const sampling = { temperature: cfg.generation.temperature, maxTokens: cfg.generation.maxTokens };
    const { config, secrets } = await this.prepareProvider(choice, cfg, sampling);
    const dir = this.newRunDir("generate", choice);
    await this.rememberModelPath(dir, choice);
    const params: { temperature?: number; maxTokens?: number } = {};
    if (config.temperature !== undefined) params.temperature = config.temperature;
    if (config.maxTokens !== undefined) params.maxTokens = config.maxTokens;
    const opts = { dimensions: choice.dimensions, history: cfg.generation.history, limit: choice.limit ?? undefined, maxInputTokens: cfg.evaluation.maxInputTokens, params };
    const core = await loadCore();
    return this.execute({ kind: "generate", dir, choice, providerConfig: config, secrets, run: (p, r) => core.runGeneration(dataset, opts, p, r) });
  }

  private async pickRun(filter: (r: RunInfo) => boolean, placeHolder: string, title: string): Promise<RunInfo | undefined> {
    const runs = (await listRuns(this.s.folders().runs, this.s.active.dirs)).filter(filter);
    if (!runs.length) {
      vscode.window.showWarningMessage(`Preflab: no matching run in ${this.s.folders().runs}.`);
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
    const provider = preset.provider ?? (await this.picks.provider("judge", "Preflab: Judge (2/3)", ["openai", "anthropic", "openai-compatible", "llamacpp"]));
    if (!provider) return undefined;
    const refusal = trustRefusal(provider, this.s.trusted);
    if (refusal) throw new RestrictedModeError(refusal);
    const model = preset.model ?? (await this.picks.model("judge", provider, "Preflab: Judge (3/3)", cfg));
    if (!model) return undefined;
    const choice: RunChoice = { dimensions: [...DIMENSION_LIST], provider, model, limit: null };
    await this.picks.remember("judge", choice);
    const { config, secrets } = await this.prepareProvider(choice, cfg, { maxTokens: cfg.generation.maxTokens });
    const dir = this.newRunDir("judge", choice);
    await this.rememberModelPath(dir, choice);
    const opts = { cross: cfg.judge.cross };
    const core = await loadCore();
    return this.execute({ kind: "judge", dir, choice, providerConfig: config, secrets, run: async (p, r) => (await core.runJudge(source.dir, opts, p, r)).summary });
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
    let items;
    try {
      items = await core.readPromptFile(input);
    } catch (e) {
      if (e instanceof core.InputError) {
        for (const p of e.problems) this.s.log.error(p);
        throw new UserFacingError(`Preflab: ${e.problems[0]}${e.problems.length > 1 ? ` (and ${e.problems.length - 1} more; see the log)` : ""}. Nothing was run.`, [{ title: "Show Log", command: "preflab.showLog" }]);
      }
      throw e;
    }
    const provider = preset.provider ?? (await this.picks.provider("prompts", "Preflab: Prompt Set (1/2)", ["openai", "anthropic", "openai-compatible", "llamacpp"]));
    if (!provider) return undefined;
    const refusal = trustRefusal(provider, this.s.trusted);
    if (refusal) throw new RestrictedModeError(refusal);
    const model = preset.model ?? (await this.picks.model("prompts", provider, "Preflab: Prompt Set (2/2)"));
    if (!model) return undefined;
    const choice: RunChoice = { dimensions: [], provider, model, limit: null };
    await this.picks.remember("prompts", choice);
    const cfg = this.s.config();
    const { config, secrets } = await this.prepareProvider(choice, cfg, { temperature: cfg.generation.temperature, maxTokens: cfg.generation.maxTokens });
    const dir = this.newRunDir("prompts", choice);
    await this.rememberModelPath(dir, choice);
    const evalJson: EvalJson = { kind: "prompts", options: { input: path.resolve(input) }, items: items.length };
    await core.prepareEvalDir(dir, evalJson, items.map((i) => ({ itemId: i.id })));
    return this.execute({ kind: "prompts", dir, choice, providerConfig: config, secrets, run: (p, r) => core.runBatch(items, p, r) });
  }

  /** Resumes a run folder with the options, provider, model and params it was started with. */
  async resumeRun(arg?: RunInfo | string | vscode.Uri): Promise<RunSummary | undefined> {
    const dir = typeof arg === "string" ? arg : arg instanceof vscode.Uri ? arg.fsPath : arg?.dir;
    const info = dir ? await readRunInfo(dir, this.s.active.dirs.has(dir)) : await this.pickRun((r) => r.status === "resumable" || r.status === "failed" || (r.totals?.failed ?? 0) > 0, "Which run to resume?", "Preflab: Resume Run");
    if (!info) return undefined;
    if (info.status === "running") throw new UserFacingError(`Preflab: ${info.name} is running${this.s.active.get(info.dir) ? "" : " in another process"}.`);
    const core = await loadCore();
    const ev: EvalJson = await core.readEvalJson(info.dir);
    const rj: RunJson | undefined = await core.readRunJson(callsDir(info.dir, ev.kind));
    if (!rj) throw new UserFacingError(`Preflab: ${info.name} never started (no run.json); start a new run instead.`);
    const provider = rj.provider as ProviderId;
    let model = rj.model;
    if (provider === "llamacpp") {
      const map = this.s.context.workspaceState.get<Record<string, string>>(MODEL_PATHS_KEY) ?? {};
      const cfg = this.s.config();
      model = map[info.dir] ?? (cfg.llamacpp.modelPath && path.basename(cfg.llamacpp.modelPath) === rj.model ? cfg.llamacpp.modelPath : "");
      if (!model || !existsSync(model)) {
        const uris = await vscode.window.showOpenDialog({ title: `GGUF file for ${rj.model}`, canSelectMany: false, filters: { "GGUF models": ["gguf"] } });
        model = uris?.[0]?.fsPath ?? "";
        if (!model) return undefined;
      }
    }
    const choice: ProviderChoice = { provider, model };
    const cfg = this.s.config();
    const params = rj.params as { temperature?: number; maxTokens?: number; topP?: number; seed?: number };
    const { config, secrets } = await this.prepareProvider(choice, cfg, params);
    const tpl = (k: string) => {
      const f = ev.templates?.[k]?.file;
      return f && existsSync(f) ? f : undefined;
    };
    const o = ev.options;
    const kind = ev.kind as RunKindChoice;
    this.s.log.info(`resuming ${info.dir}`);
    let run: Execution["run"];
    if (ev.kind === "rm") {
      const opts = {
        dimensions: o.dimensions as Dimension[],
        orders: o.orders as "both" | "ab",
        verdict: o.verdict as "text" | "probability",
        keepNonContrastive: o.keepNonContrastive === true,
        limit: (o.limit as number | null) ?? undefined,
        maxInputTokens: o.maxInputTokens as number,
        template: tpl("reward-model"),
        historyTemplate: tpl("history"),
      };
      run = async (p, r) => (await core.runRm(ev.dataset!.dir, opts, p, r)).summary;
    } else if (ev.kind === "generate") {
      const opts = {
        dimensions: o.dimensions as Dimension[],
        history: o.history as "with" | "without" | "both",
        limit: (o.limit as number | null) ?? undefined,
        maxInputTokens: o.maxInputTokens as number,
        params: o.params as Record<string, number>,
        template: tpl("generation"),
        plainTemplate: tpl("generation-plain"),
        historyTemplate: tpl("history"),
      };
      run = (p, r) => core.runGeneration(ev.dataset!.dir, opts, p, r);
    } else if (ev.kind === "judge") {
      const opts = { cross: o.cross === true, maxParseRetries: o.maxParseRetries as number, parse: (o.parse as "robust" | "janus" | undefined) ?? "robust", params: (o.params as Record<string, number> | null) ?? undefined, template: tpl("judge") };
      run = async (p, r) => (await core.runJudge(ev.source!.runDir, opts, p, r)).summary;
    } else {
      const items = await core.readPromptFile(o.input as string);
      run = (p, r) => core.runBatch(items, p, r);
    }
    return this.execute({ kind, dir: info.dir, choice, providerConfig: config, secrets, run });
  }

  async cancelRun(arg?: RunInfo | string): Promise<void> {
    let dir = typeof arg === "string" ? arg : arg?.dir;
    if (!dir) {
      const runs = this.s.active.all;
      if (runs.length === 0) {
        vscode.window.showInformationMessage("Preflab: no run is going on in this window.");
        return;
      }
      const pick = runs.length === 1 ? runs[0] : (await vscode.window.showQuickPick(runs.map((r) => ({ label: r.label, description: path.basename(r.dir), r })), { title: "Preflab: Cancel Run" }))?.r;
      dir = pick?.dir;
    }
    if (!dir) return;
    const active = this.s.active.get(dir);
    if (!active) {
      vscode.window.showWarningMessage(`Preflab: ${path.basename(dir)} is not running in this window (a run started elsewhere is stopped where it runs: Ctrl-C for the CLI).`);
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
