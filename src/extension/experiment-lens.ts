/**
 * Code lenses on `*.preflab.yaml` files: "Dashboard" (the experiment dashboard), "Run experiment"
 * and "Estimate cost" on the first line,
 * "Run cell X" on each cell's override under `cells:` (else on the `matrix:` line). Gated: in
 * Restricted Mode a lens that would run a non-baseline cell says why and opens the workspace-trust
 * editor instead (the baseline cells keep a lens that runs them). The experiment is read from disk
 * through the lazy core (src/app/experiment.ts); a file that does not load shows its error.
 */
import * as vscode from "vscode";
import type { LoadedExperiment } from "../app/experiment.js";
import { loadCore } from "./core.js";
import type { ExperimentFeature } from "./experiments.js";
import type { Services } from "./services.js";

export interface LensSpec {
  line: number;
  title: string;
  command: string;
  args: unknown[];
}

const TRUST = "workbench.trust.manage";

/** Whether a cell runs in Restricted Mode (every model it uses is the baseline). */
export function baselineOnly(exp: Pick<LoadedExperiment, "cells" | "spec">, cellName: string): boolean {
  const cell = exp.cells.find((c) => c.name === cellName);
  if (!cell) return false;
  return [cell.model, cell.judgeModel].every((m) => m === undefined || exp.spec.models[m]?.provider === "baseline");
}

/** The line (0-based) of `name:` under `cells:`, else of `matrix:`, else 0. */
export function cellLine(text: string, name: string): number {
  const lines = text.split(/\r?\n/);
  const cellsAt = lines.findIndex((l) => /^cells:\s*(#.*)?$/.test(l));
  if (cellsAt >= 0) {
    const esc = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const re = new RegExp(`^\\s+["']?${esc}["']?\\s*:`);
    for (let i = cellsAt + 1; i < lines.length && !/^\S/.test(lines[i]!); i++) if (re.test(lines[i]!)) return i;
  }
  const matrixAt = lines.findIndex((l) => /^matrix:/.test(l));
  return matrixAt >= 0 ? matrixAt : 0;
}

/** The lenses for an experiment file (pure; `file` is passed to the commands). */
export function experimentLenses(exp: Pick<LoadedExperiment, "cells" | "spec">, text: string, trusted: boolean, file: unknown): LensSpec[] {
  // The dashboard only reads the experiment's folder: offered in Restricted Mode too.
  const out: LensSpec[] = [{ line: 0, title: "$(dashboard) Dashboard", command: "preflab.openExperimentDashboard", args: [file] }];
  const runnable = exp.cells.filter((c) => trusted || baselineOnly(exp, c.name)).map((c) => c.name);
  if (runnable.length === exp.cells.length) {
    out.push({ line: 0, title: "$(play) Run experiment", command: "preflab.experiment.run", args: [file] });
    out.push({ line: 0, title: "Estimate cost", command: "preflab.experiment.estimate", args: [file] });
  } else {
    out.push({ line: 0, title: "$(shield) Restricted Mode: only baseline cells run — trust the workspace to run this experiment", command: TRUST, args: [] });
    if (runnable.length) out.push({ line: 0, title: `$(play) Run the baseline cells (${runnable.length})`, command: "preflab.experiment.run", args: [file, runnable] });
  }
  for (const c of exp.cells) {
    const line = cellLine(text, c.name);
    if (runnable.includes(c.name)) out.push({ line, title: `$(play) Run cell ${c.name}`, command: "preflab.experiment.run", args: [file, c.name] });
    else out.push({ line, title: `Cell ${c.name}: disabled in Restricted Mode (trust the workspace)`, command: TRUST, args: [] });
  }
  return out;
}

export class ExperimentLensProvider implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly s: Services,
    experiments: ExperimentFeature,
  ) {
    this.disposables.push(
      this.changed,
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.changed.fire()),
      vscode.workspace.onDidSaveTextDocument((d) => {
        if (d.uri.fsPath.endsWith(".preflab.yaml")) this.changed.fire();
      }),
      experiments.onDidRun(() => this.changed.fire()),
    );
  }

  async provideCodeLenses(document: vscode.TextDocument): Promise<vscode.CodeLens[]> {
    if (document.uri.scheme !== "file") return [];
    const top = new vscode.Range(0, 0, 0, 0);
    let exp: LoadedExperiment;
    try {
      exp = await (await loadCore()).loadExperiment(document.uri.fsPath);
    } catch (e) {
      const first = (e instanceof Error ? e.message : String(e)).split("\n")[0]!;
      return [new vscode.CodeLens(top, { title: `Preflab: ${this.s.log.redact(first)}`, command: "" })];
    }
    return experimentLenses(exp, document.getText(), this.s.trusted, document.uri).map(
      (l) => new vscode.CodeLens(new vscode.Range(l.line, 0, l.line, 0), { title: l.title, command: l.command, arguments: l.args }),
    );
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
