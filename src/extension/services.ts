/** What every feature of the host gets: settings, log, keys, shared state, folders. */
import * as vscode from "vscode";
import { CONFIG_SECTION, readConfig, resolveFolder, type PreflabConfig } from "./config.js";
import type { Log } from "./log.js";
import type { ApiKeys } from "./secrets.js";
import type { ActiveRuns, DatasetState } from "./state.js";

export class Services {
  constructor(
    readonly context: vscode.ExtensionContext,
    readonly log: Log,
    readonly keys: ApiKeys,
    readonly dataset: DatasetState,
    readonly active: ActiveRuns,
  ) {}

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

  /** A path inside the extension (bundled sample, media, dist). */
  asset(...segments: string[]): string {
    return vscode.Uri.joinPath(this.context.extensionUri, ...segments).fsPath;
  }
}
