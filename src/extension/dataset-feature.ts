/**
 * Building and opening counterfactual datasets: from the sample bundled with the extension
 * (samples/train.jsonl + samples/test.jsonl), from MultiFacet files the user picks (JSONL, JSON or
 * Parquet, a file or a directory of shards), or from the paths in settings.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import type { CommandMap, Feature } from "./commands.js";
import { loadCore } from "./core.js";
import type { Services } from "./services.js";
import { childPath, segmentProblem } from "../core/util/safe-path.js";

type Source = "sample" | "files" | "settings";

export class DatasetFeature implements Feature {
  readonly name = "dataset";

  constructor(private readonly s: Services) {}

  private async pickSource(): Promise<Source | undefined> {
    const cfg = this.s.config();
    const items: (vscode.QuickPickItem & { value: Source })[] = [
      { label: "$(package) Bundled sample", description: "13 instructions, 156 synthetic users; hand-written, MultiFacet schema", value: "sample" },
      { label: "$(folder-opened) MultiFacet files…", description: "train and test: JSONL, JSON or Parquet (a file or a folder of shards)", value: "files" },
    ];
    if (cfg.data.trainPath && cfg.data.testPath) items.push({ label: "$(settings-gear) From settings", description: `${cfg.data.trainPath} + ${cfg.data.testPath}`, value: "settings" });
    return (await vscode.window.showQuickPick(items, { title: "Preflab: Build Dataset", placeHolder: "Build from…" }))?.value;
  }

  private async pickInput(what: "train" | "test"): Promise<string | undefined> {
    const uris = await vscode.window.showOpenDialog({
      title: what === "train" ? "MultiFacet collection (train): a .parquet/.jsonl/.json file or a folder of shards" : "Multifaceted-Bench (test): a .parquet/.jsonl/.json file or a folder of shards",
      canSelectFiles: true,
      canSelectFolders: true,
      canSelectMany: false,
      openLabel: what === "train" ? "Use as Train" : "Use as Test",
      filters: { "MultiFacet data": ["parquet", "jsonl", "json"] },
    });
    return uris?.[0]?.fsPath;
  }

  async build(source?: Source): Promise<string | undefined> {
    source ??= await this.pickSource();
    if (!source) return undefined;
    const cfg = this.s.config();
    let train: string | undefined;
    let test: string | undefined;
    let name: string;
    if (source === "sample") {
      train = this.s.asset("samples", "train.jsonl");
      test = this.s.asset("samples", "test.jsonl");
      name = "sample";
    } else if (source === "settings") {
      const base = this.s.baseDir();
      train = cfg.data.trainPath && path.resolve(base, cfg.data.trainPath);
      test = cfg.data.testPath && path.resolve(base, cfg.data.testPath);
      name = "multifacet";
    } else {
      train = await this.pickInput("train");
      if (!train) return undefined;
      test = await this.pickInput("test");
      if (!test) return undefined;
      const typed = await vscode.window.showInputBox({
        title: "Preflab: Build Dataset",
        prompt: `Name of the dataset folder (under ${this.s.folders().datasets})`,
        value: "multifacet",
        validateInput: (v) => (/^[A-Za-z0-9._-]+$/.test(v.trim()) ? segmentProblem(v.trim()) : "letters, digits, '.', '_' and '-' only"),
      });
      if (!typed) return undefined;
      name = typed.trim();
    }
    if (!train || !test) return undefined;
    const out = childPath(this.s.folders().datasets, name, "dataset name");
    if (source !== "sample" && existsSync(out)) {
      const ok = await vscode.window.showWarningMessage(`Preflab: ${out} exists. Replace it? (the old one is removed only once the new build is complete)`, { modal: true }, "Replace");
      if (ok !== "Replace") return undefined;
    }
    const core = await loadCore();
    const started = Date.now();
    this.s.log.info(`building dataset ${out} from ${train} + ${test}`);
    const { manifest } = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: "Preflab: building the dataset", cancellable: false }, (progress) =>
      core.buildDataset({
        train: train,
        test: test,
        out,
        historySize: cfg.data.historySize,
        historyMode: cfg.data.historyMode,
        pairs: cfg.data.pairs,
        seed: cfg.data.seed,
        force: true,
        onProgress: (e) => progress.report({ message: `${e.phase}: ${e.done}${e.total ? ` / ${e.total}` : ""}` }),
      }),
    );
    const c = manifest.counts;
    this.s.log.info(`built ${out} in ${Date.now() - started} ms: ${c.testTriples} test triples, ${c.users} synthetic users, ${c.trainPairs} train pairs`);
    await this.s.dataset.set(out);
    this.s.dataset.invalidate();
    const short = manifest.shortHistories.length ? ` ${manifest.shortHistories.length} users got a short history (see manifest.json).` : "";
    void vscode.window.showInformationMessage(`Preflab: built ${c.users} synthetic users from ${c.testTriples} counterfactual triples (${c.trainPairs} train pairs).${short}`);
    await vscode.commands.executeCommand("preflab.users.focus");
    return out;
  }

  async open(arg?: vscode.Uri | string): Promise<string | undefined> {
    let dir = typeof arg === "string" ? arg : arg?.fsPath;
    if (!dir) {
      const datasets = this.s.folders().datasets;
      const uris = await vscode.window.showOpenDialog({
        title: "Preflab: a built dataset folder (with manifest.json)",
        canSelectFiles: false,
        canSelectFolders: true,
        canSelectMany: false,
        openLabel: "Open Dataset",
        ...(existsSync(datasets) ? { defaultUri: vscode.Uri.file(datasets) } : {}),
      });
      dir = uris?.[0]?.fsPath;
    }
    if (!dir) return undefined;
    // In Restricted Mode a dataset folder that is (or sits under) a symlink out of the workspace is refused.
    await this.s.checkFolder(dir, "dataset folder");
    const core = await loadCore();
    const ds = await core.Dataset.open(dir); // throws a DataError naming the file when it is not a dataset
    await this.s.dataset.set(ds.dir);
    this.s.log.info(`opened dataset ${ds.dir} (${ds.manifest.counts.users} users)`);
    await vscode.commands.executeCommand("preflab.users.focus");
    return ds.dir;
  }

  commands(): CommandMap {
    return {
      "preflab.buildDataset": (source?: Source) => this.build(source),
      "preflab.openDataset": (arg?: vscode.Uri | string) => this.open(arg),
      "preflab.setApiKey": (provider?: string) => this.s.keys.promptAndStore(provider),
      "preflab.showLog": () => this.s.log.show(),
    };
  }
}
