/**
 * What every feature of the host gets: settings, log (with the one redactor), keys, shared state,
 * folders, the trust gate (every path that sends a key, calls a network API, loads a model or
 * starts a process checks it) and the key-destination policy (every URL read from a workspace file).
 */
import * as vscode from "vscode";
import type { RunGate } from "../app/gate.js";
import type { KeyDestinationPolicy } from "../app/origins.js";
import { assertInside } from "../core/util/safe-path.js";
import { extensionKeyPolicy } from "./allowed-origins.js";
import { CONFIG_SECTION, readConfig, resolveFolder, type PreflabConfig } from "./config.js";
import type { Log } from "./log.js";
import type { ApiKeys } from "./secrets.js";
import type { ActiveRuns, DatasetState } from "./state.js";
import { workspaceTrustGate } from "./trust.js";

export class Services {
  /** Workspace trust as a RunGate: Restricted Mode refuses network, keys, models and processes. */
  readonly gate: RunGate = workspaceTrustGate(() => vscode.workspace.isTrusted);
  /** Where keys may go (src/app/origins.ts); confirmed origins live in the user's globalState. */
  readonly policy: KeyDestinationPolicy;

  constructor(
    readonly context: vscode.ExtensionContext,
    readonly log: Log,
    readonly keys: ApiKeys,
    readonly dataset: DatasetState,
    readonly active: ActiveRuns,
  ) {
    this.policy = extensionKeyPolicy(this.gate, context.globalState);
  }

  config(): PreflabConfig {
    return readConfig(vscode.workspace.getConfiguration(CONFIG_SECTION));
  }

  /** Base for relative folders in settings: the first workspace folder, else the extension's storage. */
  baseDir(): string {
    const ws = vscode.workspace.workspaceFolders?.[0];
    if (ws && ws.uri.scheme === "file") return ws.uri.fsPath;
    return this.context.globalStorageUri.fsPath;
  }

  folders(): { datasets: string; runs: string; cache: string } {
    const f = this.config().folders;
    const base = this.baseDir();
    return { datasets: resolveFolder(f.datasets, base), runs: resolveFolder(f.runs, base), cache: resolveFolder(f.cache, base) };
  }

  get trusted(): boolean {
    return vscode.workspace.isTrusted;
  }

  /**
   * In Restricted Mode, refuses a dataset or run folder that is (or is under) a symlink leading
   * out of the workspace; trusted workspaces may point anywhere. Returns the folder.
   */
  async checkFolder(dir: string, what: string): Promise<string> {
    if (this.trusted) return dir;
    const ws = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === "file");
    await assertInside(ws ? ws.uri.fsPath : this.baseDir(), dir, what);
    return dir;
  }

  /** A path inside the extension (bundled sample, media, dist). */
  asset(...segments: string[]): string {
    return vscode.Uri.joinPath(this.context.extensionUri, ...segments).fsPath;
  }
}
