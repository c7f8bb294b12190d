/** The message a finished (or cancelled) run leaves, with what to do next for its kind. */
import * as path from "node:path";
import * as vscode from "vscode";
import type { RunSummary } from "../../core/eval/runner.js";
import { loadCore } from "../core.js";
import type { RunKindChoice } from "../picks.js";
import { headlineOf, readRunInfo } from "../runs-model.js";
import type { Services } from "../services.js";
import { KIND_TITLE } from "./execute.js";

export async function announce(s: Services, kind: RunKindChoice, dir: string, summary: RunSummary): Promise<void> {
  const what = KIND_TITLE[kind];
  if (summary.status === "cancelled") {
    const pick = await vscode.window.showWarningMessage(`Preflab: ${what} cancelled; ${summary.totals.done} of ${summary.totals.items} items are saved. Resume it from the Runs view.`, "Resume");
    if (pick === "Resume") await vscode.commands.executeCommand("preflab.resumeRun", dir);
    return;
  }
  const info = await readRunInfo(dir);
  const core = await loadCore();
  const headline = info ? await headlineOf(info, core.loadRunReport).catch(() => undefined) : undefined;
  const failed = summary.totals.failed ? ` (${summary.totals.failed} item${summary.totals.failed === 1 ? "" : "s"} failed; see the log)` : "";
  const text = `Preflab: ${what} finished${headline ? `: ${headline.text}` : ""}${failed}.`;
  // What to do next depends on the kind: a report (rm, judge), judging or reading the outputs (generate), the raw answers (prompts).
  const actions: Record<RunKindChoice, string[]> = { rm: ["Open Report"], judge: ["Open Report"], generate: ["Judge…", "Show Outputs"], prompts: ["Open Results"] };
  const buttons = [...actions[kind], ...(summary.totals.failed ? ["Show Log"] : [])];
  const pick = await (summary.totals.failed ? vscode.window.showWarningMessage(text, ...buttons) : vscode.window.showInformationMessage(text, ...buttons));
  if (pick === "Open Report") await vscode.commands.executeCommand("preflab.showResults", dir);
  else if (pick === "Judge…") await vscode.commands.executeCommand("preflab.runJudge", dir);
  else if (pick === "Show Outputs") await vscode.commands.executeCommand("preflab.openTriple", { runDir: dir });
  else if (pick === "Open Results") await vscode.window.showTextDocument(vscode.Uri.file(path.join(dir, "results.jsonl")));
  else if (pick === "Show Log") s.log.show();
}
