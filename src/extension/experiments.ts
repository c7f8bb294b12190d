/**
 * Experiment files (`*.preflab.yaml`) from the palette, the explorer / editor context menus and
 * the code lens: "Preflab: Run Experiment" and "Preflab: Estimate Experiment Cost". Everything an
 * experiment does is src/app/experiment.ts (the CLI's `preflab run` calls the same functions);
 * this host adds:
 * - the gate: in Restricted Mode a cell whose model is not the baseline is refused before
 *   anything is estimated or sent (the standard trust message), and the session gets the
 *   workspace-trust gate too;
 * - the key-destination policy: base URLs read from the experiment file are workspace-file URLs;
 * - the cost confirmation: the estimate runs first, and when its total (naive prices for ordinary
 *   cells, batch + cached for `batch` cells) exceeds `preflab.cost.confirmAboveUsd`, a modal shows
 *   requests, tokens, dollars and the cells whose price is unknown; declining runs nothing;
 * - cancellable progress (the cell, items done), the active-runs registry (status bar, Cancel Run),
 *   and the report written to OUT/report.md and opened.
 */
import { readFile, writeFile } from "node:fs/promises";
import * as path from "node:path";
import * as vscode from "vscode";
import type { CostEstimate } from "../core/cost/estimate.js";
import type { Cell, CellStatus, LoadedExperiment, ExperimentRunResult } from "../app/experiment.js";
import type { ProviderId } from "../core/providers/registry.js";
import type { CommandMap, Feature } from "./commands.js";
import { loadCore, type CoreApi } from "./core.js";
import { RestrictedModeError, trustRefusal } from "./trust.js";
import type { Services } from "./services.js";
import { UserFacingError } from "./runs/controller.js";
import { runEnv } from "./runs/env.js";
import { runnerSettingsFor } from "./runs/plan.js";

export const EXPERIMENT_SUFFIX = ".preflab.yaml";

/** What the confirmation counts: dollars per cell at the price it will be billed, and the cells without a price. */
export interface ExperimentCost {
  requests: number;
  inputTokens: number;
  outputTokens: number;
  usd: number;
  unknown: string[];
}

/** Naive dollars for an ordinary cell, batch + cached for a batch cell (estimateExperiment already put that in `cached`). */
export function experimentCost(estimates: readonly CostEstimate[], batchCells: ReadonlySet<string>): ExperimentCost {
  const out: ExperimentCost = { requests: 0, inputTokens: 0, outputTokens: 0, usd: 0, unknown: [] };
  for (const e of estimates) {
    out.requests += e.requests;
    out.inputTokens += e.inputTokens;
    out.outputTokens += e.outputTokens;
    if (!e.dollars) out.unknown.push(e.label);
    else out.usd += batchCells.has(e.label) ? e.dollars.cached : e.dollars.naive;
  }
  return out;
}

export type CellViewStatus = "not started" | "running" | "finished" | "failed" | "cancelled" | "settings changed";

const cellKey = (c: Pick<Cell, "kind" | "options" | "batch" | "source">) => JSON.stringify({ kind: c.kind, options: c.options, batch: c.batch, source: c.source ?? null });

/** The cell a run folder's cell.json records (undefined when none). */
export async function readRecordedCell(dir: string): Promise<Cell | undefined> {
  return readFile(path.join(dir, "cell.json"), "utf8")
    .then((t) => (JSON.parse(t) as { cell?: Cell }).cell)
    .catch(() => undefined);
}

/** A cell's status for views: active here > settings changed (cell.json differs from the file) > run.json. */
export function cellViewStatus(s: Pick<CellStatus, "status" | "cell">, recorded: Pick<Cell, "kind" | "options" | "batch" | "source"> | undefined, activeHere: boolean): CellViewStatus {
  if (activeHere) return "running";
  if (recorded && cellKey(recorded) !== cellKey(s.cell)) return "settings changed";
  return s.status;
}

const fmtInt = (n: number) => n.toLocaleString("en-US");

export function confirmationText(exp: Pick<LoadedExperiment, "spec">, cost: ExperimentCost, threshold: number): { message: string; detail: string } {
  const message = `Preflab: run experiment "${exp.spec.name}" for about $${cost.usd.toFixed(2)}${cost.unknown.length ? " plus cells with price unknown" : ""}? (above your $${threshold.toFixed(2)} threshold)`;
  const detail = [
    `${fmtInt(cost.requests)} requests, ${fmtInt(cost.inputTokens)} input tokens, ${fmtInt(cost.outputTokens)} output tokens.`,
    `Estimated $${cost.usd.toFixed(2)} (naive prices; batch + cached for batch cells).`,
    ...(cost.unknown.length ? [`Price unknown: ${cost.unknown.join(", ")} (set preflab prices in the experiment file's \`prices\`).`] : []),
    `Change the threshold in the setting preflab.cost.confirmAboveUsd.`,
  ].join("\n");
  return { message, detail };
}

/** A file URI or path, or an Experiments tree node (`experimentFile`, and `cell` for a cell). */
export type FileArg = vscode.Uri | string | { experimentFile: string; cell?: string } | undefined;

export class ExperimentFeature implements Feature {
  readonly name = "experiments";
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires after a run or estimate (the Experiments view refreshes). */
  readonly onDidRun = this.changed.event;

  constructor(private readonly s: Services) {}

  /** The file from an argument (menu, code lens, test), the active editor, or a pick among the workspace's experiment files. */
  async pickFile(arg: FileArg): Promise<string | undefined> {
    if (typeof arg === "string") return arg;
    if (arg && typeof arg === "object" && "experimentFile" in arg) return arg.experimentFile;
    if (arg && typeof arg === "object" && "fsPath" in arg) return arg.fsPath;
    const active = vscode.window.activeTextEditor?.document.uri;
    if (active?.scheme === "file" && active.fsPath.endsWith(EXPERIMENT_SUFFIX)) return active.fsPath;
    const found = await vscode.workspace.findFiles(`**/*${EXPERIMENT_SUFFIX}`, "**/node_modules/**", 200);
    if (found.length === 0) {
      void vscode.window.showWarningMessage(`Preflab: no experiment file (*${EXPERIMENT_SUFFIX}) in this workspace.`);
      return undefined;
    }
    const pick = await vscode.window.showQuickPick(
      found.map((u) => ({ label: path.basename(u.fsPath), description: vscode.workspace.asRelativePath(u), uri: u })),
      { title: "Preflab: experiment file", ignoreFocusOut: true },
    );
    return pick?.uri.fsPath;
  }

  private async load(core: CoreApi, file: string): Promise<LoadedExperiment> {
    try {
      return await core.loadExperiment(file);
    } catch (e) {
      if (e instanceof core.ExperimentError) throw new UserFacingError(`Preflab: ${e.message}`);
      throw e;
    }
  }

  /** Restricted Mode: every selected cell's model (and judge model) must be the baseline. */
  private refuseUntrusted(exp: LoadedExperiment, only: readonly string[] | undefined): void {
    if (this.s.trusted) return;
    for (const cell of exp.cells) {
      if (only?.length && !only.includes(cell.name)) continue;
      for (const model of [cell.model, cell.judgeModel]) {
        if (model === undefined) continue;
        const provider: ProviderId = exp.spec.models[model]?.provider ?? "openai";
        const why = trustRefusal(provider, false);
        if (why) throw new RestrictedModeError(`${why} (experiment cell ${cell.name}, model ${model})`);
      }
    }
  }

  private getKey = async (p: ProviderId) => (await this.s.keys.get(p))?.key;

  async estimate(arg?: FileArg, only?: string[]): Promise<{ text: string; cost: ExperimentCost } | undefined> {
    const file = await this.pickFile(arg);
    if (!file) return undefined;
    const core = await loadCore();
    const exp = await this.load(core, file);
    this.refuseUntrusted(exp, only);
    await this.s.checkFolder(exp.out, "experiment folder");
    const { estimates, pending } = await this.wrap(core, () => core.estimateExperiment(exp, { getKey: this.getKey }, only));
    const cost = experimentCost(estimates, new Set(exp.cells.filter((c) => c.batch).map((c) => c.name)));
    const text =
      `Estimate for ${exp.spec.name} (${exp.file}; nothing was sent):\n${core.formatEstimates(estimates)}` +
      pending.map((p) => `  ${p.cell}: no estimate yet (${p.why})\n`).join("") +
      (cost.unknown.length ? `Price unknown: ${cost.unknown.join(", ")}\n` : "");
    this.s.log.info(text);
    if (arg === undefined || typeof arg !== "string") {
      const doc = await vscode.workspace.openTextDocument({ content: text, language: "plaintext" });
      await vscode.window.showTextDocument(doc, { preview: true });
    }
    this.changed.fire();
    return { text, cost };
  }

  private async wrap<T>(core: CoreApi, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      if (e instanceof core.ExperimentError) throw new UserFacingError(`Preflab: ${e.message}`);
      throw e;
    }
  }

  /**
   * Runs (or resumes) the experiment's cells, `only` some of them. Returns undefined when the user
   * declined (nothing was run) or picked no file.
   */
  async run(arg?: FileArg, only?: unknown): Promise<(ExperimentRunResult & { report: string }) | undefined> {
    const fromNode = arg && typeof arg === "object" && "cell" in arg && typeof arg.cell === "string" ? [arg.cell] : undefined;
    // Menus pass more than a cell list (the explorer: every selected URI; editor menus: the editor's
    // group): only strings name cells.
    const names = typeof only === "string" ? [only] : Array.isArray(only) && only.length > 0 && only.every((x) => typeof x === "string") ? only : undefined;
    const cells = names ?? fromNode;
    const file = await this.pickFile(arg);
    if (!file) return undefined;
    const core = await loadCore();
    const exp = await this.load(core, file);
    this.refuseUntrusted(exp, cells);
    await this.s.checkFolder(exp.out, "experiment folder");
    const cfg = this.s.config();

    // Cells finished with the same settings are skipped by the run: they cost nothing more.
    const selectedNames = cells ?? exp.cells.map((c) => c.name);
    const statuses = await core.experimentStatus(exp);
    const done = new Set<string>();
    for (const st of statuses) if (st.status === "finished" && cellViewStatus(st, await readRecordedCell(st.dir), false) === "finished") done.add(st.cell.name);
    const toEstimate = selectedNames.filter((n) => !done.has(n));
    const { estimates } = toEstimate.length ? await this.wrap(core, () => core.estimateExperiment(exp, { getKey: this.getKey }, toEstimate)) : { estimates: [] };
    const cost = experimentCost(estimates, new Set(exp.cells.filter((c) => c.batch).map((c) => c.name)));
    const threshold = cfg.cost.confirmAboveUsd;
    if (cost.usd > threshold) {
      const { message, detail } = confirmationText(exp, cost, threshold);
      const pick = await vscode.window.showWarningMessage(message, { modal: true, detail }, "Run");
      if (pick !== "Run") {
        this.s.log.info(`experiment ${exp.spec.name}: declined at the cost confirmation ($${cost.usd.toFixed(2)}); nothing was run`);
        return undefined;
      }
    }

    const controller = new AbortController();
    const env = runEnv(this.s);
    let result: ExperimentRunResult;
    try {
      result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Preflab: experiment ${exp.spec.name}`, cancellable: true },
        async (progress, token) => {
          const sub = token.onCancellationRequested(() => {
            this.s.log.info(`experiment ${exp.spec.name} cancelled by the user`);
            controller.abort();
          });
          try {
            return await this.wrap(core, () =>
              core.runExperiment(
                exp,
                {
                  getKey: this.getKey,
                  runner: runnerSettingsFor(core, env),
                  policy: this.s.policy,
                  hooksFor: (cell) => ({
                    gate: this.s.gate,
                    policy: this.s.policy,
                    signal: controller.signal,
                    onLoading: () => progress.report({ message: `${cell.name}: loading…` }),
                    onProgress: (p) => {
                      progress.report({ message: `${cell.name}: ${p.done + p.failed}/${p.total} items` });
                      this.s.active.update(path.join(exp.out, cell.name), p);
                    },
                  }),
                  onCell: (cell, event, detail) => {
                    const dir = path.join(exp.out, cell.name);
                    this.s.log.info(`experiment ${exp.spec.name}: ${cell.name} ${event}${detail ? ` (${detail})` : ""}`);
                    if (event === "start") {
                      this.s.active.add({ dir, kind: cell.kind, label: `Experiment ${exp.spec.name} · ${cell.name}`, controller, startedAt: Date.now() });
                      progress.report({ message: `${cell.name}: starting` });
                    } else if (event === "done") this.s.active.remove(dir);
                    this.changed.fire();
                  },
                },
                cells,
              ),
            );
          } finally {
            sub.dispose();
          }
        },
      );
    } finally {
      for (const c of exp.cells) this.s.active.remove(path.join(exp.out, c.name));
      this.changed.fire();
    }
    const report = await core.experimentReport(exp, "md");
    const reportFile = path.join(exp.out, "report.md");
    await writeFile(reportFile, report);
    this.s.log.info(`experiment ${exp.spec.name} ${result.cancelled ? "cancelled (run it again to resume)" : "done"}; report: ${reportFile}`);
    if (typeof arg !== "string") await vscode.window.showTextDocument(vscode.Uri.file(reportFile), { preview: true });
    return { ...result, report: reportFile };
  }

  commands(): CommandMap {
    return {
      "preflab.runExperiment": (file?: FileArg, only?: unknown) => this.run(file, only),
      "preflab.estimateExperiment": (file?: FileArg) => this.estimate(file),
      "preflab.experiment.run": (file?: FileArg, only?: unknown) => this.run(file, only),
      "preflab.experiment.estimate": (file?: FileArg) => this.estimate(file),
    };
  }

  dispose(): void {
    this.changed.dispose();
  }
}
