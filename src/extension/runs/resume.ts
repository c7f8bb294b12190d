/**
 * Resuming a run folder from the extension: the session layer reads eval.json and run.json through
 * schemas (src/app/resume.ts) into the request that made the run; this module finds what run.json
 * does not hold (a GGUF file's path: remembered per run folder, else the setting, else asked).
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import type { ResolvedProvider } from "../../app/provider.js";
import type { ProviderChoice } from "../config.js";
import { loadCore } from "../core.js";
import type { RunKindChoice } from "../picks.js";
import type { RunInfo } from "../runs-model.js";
import type { Services } from "../services.js";
import type { Execution } from "./execute.js";

const MODEL_PATHS_KEY = "preflab.llamacppModelPaths";

/** Remembers the GGUF file a llamacpp run used (run.json records only its name). */
export async function rememberModelPath(s: Services, dir: string, choice: ProviderChoice): Promise<void> {
  if (choice.provider !== "llamacpp") return;
  const map = s.context.workspaceState.get<Record<string, string>>(MODEL_PATHS_KEY) ?? {};
  map[dir] = choice.model;
  await s.context.workspaceState.update(MODEL_PATHS_KEY, map);
}

type Resolve = (kind: RunKindChoice, choice: ProviderChoice, params: { temperature?: number; maxTokens?: number; topP?: number; seed?: number }) => Promise<ResolvedProvider>;

/** The execution that continues `info`, or undefined when the user dismissed a question. */
export async function resumeExecution(s: Services, info: RunInfo, resolve: Resolve, refuse: (message: string) => Error): Promise<Execution | undefined> {
  const core = await loadCore();
  let r;
  try {
    r = await core.readResumable(info.dir);
  } catch (e) {
    if (e instanceof core.ResumeError) throw refuse(`Preflab: ${e.message}`);
    throw e;
  }
  let model = r.recorded.model;
  if (r.recorded.provider === "llamacpp") {
    const map = s.context.workspaceState.get<Record<string, string>>(MODEL_PATHS_KEY) ?? {};
    const configured = s.config().llamacpp.modelPath;
    model = map[info.dir] ?? (configured && path.basename(configured) === r.recorded.model ? configured : "");
    if (!model || !existsSync(model)) {
      const uris = await vscode.window.showOpenDialog({ title: `GGUF file for ${r.recorded.model}`, canSelectMany: false, filters: { "GGUF models": ["gguf"] } });
      model = uris?.[0]?.fsPath ?? "";
      if (!model) return undefined;
    }
  }
  const provider = await resolve(r.kind, { provider: r.recorded.provider, model }, r.recorded.params);
  return { kind: r.kind, dir: info.dir, request: r.request, provider };
}
