/**
 * Runs one evaluation through the run session with VS Code's progress UI: a cancellable
 * notification (percentage, ETA, tokens, estimated cost), the active-runs registry behind the
 * status bar and the Runs view, and a log line when it ends. The gate follows workspace trust.
 */
import * as path from "node:path";
import * as vscode from "vscode";
import type { EvalRequest } from "../../app/session.js";
import type { ResolvedProvider } from "../../app/provider.js";
import type { RunSummary } from "../../core/eval/runner.js";
import { loadCore } from "../core.js";
import { formatDuration, fractionDone, increment, progressMessage } from "../format.js";
import type { RunKindChoice } from "../picks.js";
import type { RunsTree } from "../runs-tree.js";
import type { Services } from "../services.js";
import { runEnv } from "./env.js";
import { runnerSettingsFor } from "./plan.js";

export const KIND_TITLE: Record<RunKindChoice, string> = {
  rm: "Reward-model evaluation",
  generate: "Generation",
  judge: "Judge",
  prompts: "Prompt set",
};

export interface Execution {
  kind: RunKindChoice;
  dir: string;
  request: EvalRequest;
  provider: ResolvedProvider;
}

/** A short "provider/model" for labels (the GGUF file's name for llamacpp). */
export function modelLabel(p: ResolvedProvider): string {
  const c = p.config;
  const model = c.provider === "llamacpp" ? path.basename(c.modelPath ?? "") : (c.model ?? "tfidf-style");
  return `${c.provider}/${p.registered ? `${p.registered.name} (${model})` : model}`;
}

export async function execute(s: Services, runsTree: RunsTree, x: Execution): Promise<RunSummary> {
  const core = await loadCore();
  // Restricted Mode: a run or dataset folder that is a symlink out of the workspace is refused.
  await s.checkFolder(x.dir, "run folder");
  if ("datasetDir" in x.request) await s.checkFolder(x.request.datasetDir, "dataset folder");
  if ("sourceRunDir" in x.request) await s.checkFolder(x.request.sourceRunDir, "run folder");
  const controller = new AbortController();
  const label = `${KIND_TITLE[x.kind]} · ${modelLabel(x.provider)}`;
  s.active.add({ dir: x.dir, kind: x.kind, label, controller, startedAt: Date.now() });
  runsTree.refresh();
  const started = Date.now();
  s.log.info(`${x.kind} run started: ${x.dir} (${modelLabel(x.provider)})`);
  try {
    const outcome = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Preflab: ${label}`, cancellable: true }, async (progress, token) => {
      const sub = token.onCancellationRequested(() => {
        s.log.info(`${x.kind} run cancelled by the user: ${x.dir}`);
        controller.abort();
      });
      try {
        let last = 0;
        const priced = x.provider.config.pricing !== undefined;
        return await core.runEvaluation(
          x.request,
          { runDir: x.dir, provider: x.provider, runner: runnerSettingsFor(core, runEnv(s)) },
          {
            gate: s.gate,
            // A registered model's server (read from .preflab/models.json) gets a key only once confirmed.
            policy: s.policy,
            signal: controller.signal,
            onLoading: (c) => progress.report({ message: c.provider === "llamacpp" ? "loading the model…" : "planning…" }),
            onProgress: (p) => {
              const f = fractionDone(p);
              progress.report({ increment: increment(last, f), message: progressMessage(p, priced) });
              last = f;
              s.active.update(x.dir, p);
            },
          },
        );
      } finally {
        sub.dispose();
      }
    });
    const summary = outcome.summary;
    const t = summary.totals;
    s.log.info(
      `${x.kind} run ${summary.status} in ${formatDuration(Date.now() - started)}: ${t.done} done, ${t.failed} failed of ${t.items}; ` +
        `tokens ${t.inputTokens} in / ${t.outputTokens} out; cost $${t.costUsd.toFixed(4)}; ${x.dir}`,
    );
    for (const f of summary.failures.slice(0, 5)) s.log.warn(`  ${f.itemId}: ${f.kind}${f.status ? ` (HTTP ${f.status})` : ""}: ${f.message}`);
    return summary;
  } finally {
    s.active.remove(x.dir);
    runsTree.refresh();
  }
}
