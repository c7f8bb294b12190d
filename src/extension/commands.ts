/**
 * The one command registry (docs/ARCHITECTURE.md, rule 3). Command ids are a typed union; each
 * feature returns a map of the commands it implements, and activation registers them all here, in
 * one place. Every id in `PALETTE_COMMANDS` appears in the palette under the "Preflab" category
 * (package.json contributes.commands); `INTERNAL_COMMANDS` back tree items and context menus and
 * are hidden from the palette. A unit test checks package.json against these lists.
 *
 * No runtime `vscode` import here: the registrar is passed in, so the registry is testable in
 * plain Node.
 */
import type { Disposable } from "vscode";

export const PALETTE_COMMANDS = [
  "preflab.buildDataset",
  "preflab.openDataset",
  "preflab.openTriple",
  "preflab.runRewardModelEval",
  "preflab.runGenerationEval",
  "preflab.runJudge",
  "preflab.runPromptSet",
  "preflab.resumeRun",
  "preflab.cancelRun",
  "preflab.showResults",
  "preflab.compareRuns",
  "preflab.setApiKey",
  "preflab.selectModel",
  "preflab.showLog",
  "preflab.manageAllowedOrigins",
  "preflab.runExperiment",
  "preflab.estimateExperiment",
  "preflab.openExperimentDashboard",
] as const;

/** Fine-tuning (src/extension/finetune.ts returns their handlers; extension.ts checks the ids match). */
export const FINETUNE_COMMAND_IDS = ["preflab.finetuneLaunch", "preflab.finetuneStatus", "preflab.finetuneCancel", "preflab.finetuneLogs", "preflab.finetuneRefresh"] as const;

/** Commands behind tree items, view titles and context menus (not in the palette). */
export const INTERNAL_COMMANDS = [
  "preflab.openPair",
  "preflab.revealRunFolder",
  "preflab.refreshRuns",
  "preflab.refreshUsers",
  // On a *.preflab.yaml file URI (explorer / editor context menus, code lens), optionally a cell name.
  "preflab.experiment.run",
  "preflab.experiment.estimate",
  "preflab.refreshExperiments",
] as const;

export type PaletteCommandId = (typeof PALETTE_COMMANDS)[number];
export type InternalCommandId = (typeof INTERNAL_COMMANDS)[number];
export type FinetuneCommandId = (typeof FINETUNE_COMMAND_IDS)[number];
export type CommandId = PaletteCommandId | FinetuneCommandId | InternalCommandId;

export const ALL_COMMANDS: readonly CommandId[] = [...PALETTE_COMMANDS, ...FINETUNE_COMMAND_IDS, ...INTERNAL_COMMANDS];

// VS Code passes a command whatever arguments its caller gave (menus, links, other extensions).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CommandHandler = (...args: any[]) => unknown;

/** What a feature contributes: some of the commands, by id. */
export type CommandMap = Partial<Record<CommandId, CommandHandler>>;

export interface Feature {
  readonly name: string;
  commands(): CommandMap;
}

export type Registrar = (id: CommandId, handler: CommandHandler) => Disposable;

/**
 * Registers every feature's commands. Throws when two features claim one id, or when a command of
 * the registry has no handler (a contributed command that would do nothing). `wrap` runs around
 * every handler (error reporting, logging).
 */
export function registerCommands(
  register: Registrar,
  features: readonly Feature[],
  wrap: (id: CommandId, handler: CommandHandler) => CommandHandler = (_id, h) => h,
): Disposable[] {
  const owners = new Map<CommandId, string>();
  const handlers = new Map<CommandId, CommandHandler>();
  for (const f of features) {
    for (const [id, handler] of Object.entries(f.commands()) as [CommandId, CommandHandler | undefined][]) {
      if (!handler) continue;
      if (!(ALL_COMMANDS as readonly string[]).includes(id)) throw new Error(`feature ${f.name} registers unknown command ${id}`);
      const owner = owners.get(id);
      if (owner) throw new Error(`command ${id} is registered by both ${owner} and ${f.name}`);
      owners.set(id, f.name);
      handlers.set(id, handler);
    }
  }
  const missing = ALL_COMMANDS.filter((id) => !handlers.has(id));
  if (missing.length) throw new Error(`commands without a handler: ${missing.join(", ")}`);
  return [...handlers].map(([id, h]) => register(id, wrap(id, h)));
}
