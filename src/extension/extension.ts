/**
 * Preflab's VS Code host: activate / deactivate. Activation only wires things up (views, commands,
 * panel serializers, status bar, log); the core (data builder, evaluations, reports, providers,
 * SDKs, node-llama-cpp, hyparquet) loads lazily on the first command that needs it (core.ts), and
 * the template language client starts right after activation, off its critical path. Every
 * Disposable is owned by context.subscriptions (or by a panel's own list). Activation time is
 * measured and logged (budget: 100 ms).
 */
import { moduleStart } from "./load-start.js";
import * as vscode from "vscode";
import { FINETUNE_COMMAND_IDS, registerCommands, type CommandHandler, type CommandId, type CommandMap, type Feature, type FinetuneCommandId } from "./commands.js";
import { configuredModel } from "./config.js";
import { loadCore } from "./core.js";
import { DatasetFeature } from "./dataset-feature.js";
import { ExperimentFeature } from "./experiments.js";
import { ExperimentLensProvider } from "./experiment-lens.js";
import { ExperimentsTree } from "./experiments-tree.js";
import { ExperimentDashboardFeature } from "./panels/experiment-panel.js";
import { finetuneFeature, type FINETUNE_COMMANDS } from "./finetune.js";
import { Log } from "./log.js";
import { PanelsFeature } from "./panels/panels-feature.js";
import { RunController, UserFacingError } from "./runs/controller.js";
import { RunsTree } from "./runs-tree.js";
import { ApiKeys } from "./secrets.js";
import { Services } from "./services.js";
import { ActiveRuns, DatasetState } from "./state.js";
import { RestrictedModeError, trustRefusal } from "./trust.js";
import { runEnv } from "./runs/env.js";
import { runnerSettingsFor } from "./runs/plan.js";
import { UntrustedOriginError } from "../app/origins.js";
import { manageAllowedOrigins } from "./allowed-origins.js";
import { PAIR_SCHEME, UsersTree } from "./users-tree.js";

/** Module evaluation of the activation bundle ends here (moduleStart is the first import's). */
const moduleMs = performance.now() - moduleStart;

// The fine-tuning feature's command ids are the registry's.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const _finetuneIdsMatch: Same<(typeof FINETUNE_COMMANDS)[number], FinetuneCommandId> = true;
void _finetuneIdsMatch;

/** Shows a command's failure: a clear message, with buttons where the user can act. */
async function report(log: Log, id: CommandId, e: unknown): Promise<void> {
  if (e instanceof RestrictedModeError) {
    log.warn(`${id}: ${e.message}`);
    const pick = await vscode.window.showWarningMessage(e.message, "Manage Workspace Trust");
    if (pick) await vscode.commands.executeCommand("workbench.trust.manage");
    return;
  }
  if (e instanceof UntrustedOriginError) {
    log.warn(`${id}: ${e.message}`);
    void vscode.window.showWarningMessage(log.redact(e.message));
    return;
  }
  if (e instanceof UserFacingError) {
    log.warn(`${id}: ${e.message}`);
    const pick = await vscode.window.showErrorMessage(e.message, ...e.actions.map((a) => a.title));
    const action = e.actions.find((a) => a.title === pick);
    if (action) await vscode.commands.executeCommand(action.command, ...(action.args ?? []));
    return;
  }
  log.error(`${id} failed`, e);
  const message = log.redact(e instanceof Error ? e.message : String(e));
  const pick = await vscode.window.showErrorMessage(`Preflab: ${message}`, "Show Log");
  if (pick) log.show();
}

export function activate(context: vscode.ExtensionContext): { activationMs: number } {
  const t0 = performance.now();
  const phases: string[] = [];
  let last = t0;
  const mark = (name: string) => {
    const now = performance.now();
    phases.push(`${name} ${(now - last).toFixed(1)}`);
    last = now;
  };
  const log = new Log();
  mark("log");
  const dataset = new DatasetState(context.workspaceState);
  const active = new ActiveRuns();
  const keys = new ApiKeys(context.secrets, log);
  const s = new Services(context, log, keys, dataset, active);
  context.subscriptions.push(log, dataset, active);
  mark("state");

  const users = new UsersTree(s);
  const runs = new RunsTree(s);
  const controller = new RunController(s, runs);
  const panels = new PanelsFeature(s);
  const datasets = new DatasetFeature(s);
  const experiments = new ExperimentFeature(s);
  const lenses = new ExperimentLensProvider(s, experiments);
  const experimentsTree = new ExperimentsTree(s, experiments);
  const experimentDashboard = new ExperimentDashboardFeature(s, experiments);
  const finetune = finetuneFeature(context, {
    log,
    gate: s.gate,
    policy: s.policy,
    createOutput: (name) => log.outputChannel(name),
    workspaceRoot: () => vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === "file")?.uri.fsPath,
    getApiKey: async () => (await keys.get("openai"))?.key,
    openaiBaseUrl: () => s.config().openai.baseUrl,
  });
  const finetuneCommands: Feature = {
    name: "finetune",
    commands: (): CommandMap =>
      Object.fromEntries(
        FINETUNE_COMMAND_IDS.map((id) => {
          const run = finetune.commands[id];
          if (!run) throw new Error(`the fine-tuning feature has no handler for ${id}`);
          // The feature checks the gate itself, before each request or process (polling included).
          return [id, run];
        }),
      ),
  };
  mark("features");
  context.subscriptions.push(
    users,
    runs,
    controller,
    experiments,
    experiments.onDidRun(() => runs.refresh()),
    lenses,
    experimentsTree,
    vscode.window.createTreeView("preflab.experiments", { treeDataProvider: experimentsTree }),
    vscode.languages.registerCodeLensProvider({ scheme: "file", pattern: "**/*.preflab.yaml" }, lenses),
    vscode.window.createTreeView("preflab.users", { treeDataProvider: users, showCollapseAll: true }),
    vscode.window.createTreeView("preflab.runs", { treeDataProvider: runs, canSelectMany: true }),
    vscode.workspace.registerTextDocumentContentProvider(PAIR_SCHEME, users),
    ...panels.register(),
    ...experimentDashboard.register(),
    ...finetune.disposables,
    ...registerCommands(
      (id, handler) => vscode.commands.registerCommand(id, handler),
      [datasets, users, runs, controller, experiments, experimentsTree, experimentDashboard, panels, finetuneCommands, { name: "security", commands: () => ({ "preflab.manageAllowedOrigins": () => manageAllowedOrigins(s.policy) }) }],
      (id, handler): CommandHandler =>
        async (...args: unknown[]) => {
          try {
            return await handler(...args);
          } catch (e) {
            void report(log, id, e);
            return undefined;
          }
        },
    ),
    vscode.workspace.onDidGrantWorkspaceTrust(() => log.info("workspace trusted: cloud providers and local models are enabled")),
  );

  mark("register");
  const activateMs = performance.now() - t0;
  const activationMs = activateMs + moduleMs;
  log.info(
    `Preflab activated in ${activationMs.toFixed(1)} ms (activate() ${activateMs.toFixed(1)} ms + module evaluation ${moduleMs.toFixed(1)} ms); ` +
      `workspace ${vscode.workspace.isTrusted ? "trusted" : "restricted"}`,
  );
  log.debug(`activation phases (ms): ${phases.join(", ")}`);

  // The .ptpl language client (vscode-languageclient, the language server process) starts after
  // activation, off its critical path: at once when a template is open, else a moment later.
  const templateOpen = vscode.workspace.textDocuments.some((d) => d.languageId === "ptpl");
  const deferred = setTimeout(() => {
    const t1 = performance.now();
    loadCore()
      .then((m) => {
        const language = m.activateTemplateLanguage(context, {
            log: log.channel,
            checkFolder: (dir, what) => s.checkFolder(dir, what),
            datasetDir: () => dataset.dir,
            runsDir: () => s.folders().runs,
            gate: s.gate,
            policy: s.policy,
            runner: () => runnerSettingsFor(m, runEnv(s)),
            onRunFinished: () => runs.refresh(),
            // The default provider and model from settings, validated like any other run's.
            provider: async () => {
              const cfg = s.config();
              const refusal = trustRefusal(cfg.provider, s.trusted);
              if (refusal) {
                void vscode.window.showWarningMessage(`${refusal} Using the baseline provider for this sample run.`);
                return undefined;
              }
              const model = cfg.provider === "llamacpp" ? cfg.llamacpp.modelPath : configuredModel(cfg, cfg.provider);
              if (!model) return undefined;
              return controller.resolveProvider("rm", { provider: cfg.provider, model });
            },
          });
        context.subscriptions.push(...language.disposables);
        stopLanguage = () => language.stop();
        log.info(`template language ready in ${(performance.now() - t1).toFixed(1)} ms (deferred, after activation)`);
      })
      .catch((e) => log.error("the template language did not start", e));
  }, templateOpen ? 0 : 1500);
  context.subscriptions.push({ dispose: () => clearTimeout(deferred) });
  shutdown = async () => {
    clearTimeout(deferred);
    await Promise.allSettled([stopLanguage?.() ?? Promise.resolve(), active.stopAll(5000)]);
  };

  return { activationMs };
}

/** Set by activate: stops the language client and the runs (whose providers free loaded models). */
let shutdown: (() => Promise<void>) | undefined;
let stopLanguage: (() => Promise<void>) | undefined;

/**
 * Resolves once the template language client (and its server) stopped and every run ended: each
 * run is aborted, stays resumable (what finished is on disk), and disposes its provider, which
 * frees a loaded llama.cpp model. VS Code waits for this promise (within its own time limit).
 */
export function deactivate(): Promise<void> | undefined {
  const s = shutdown;
  shutdown = undefined;
  stopLanguage = undefined;
  return s?.();
}
